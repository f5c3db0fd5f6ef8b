"""Ctrl-C at any moment of a node's start-up stops it quietly (issue 9, bad input 13).

Every node executable of nodes.txt is started and sent SIGINT after several delays in
0..0.6 s: the ROS wheels' re-execution of the interpreter, imports of numpy/rclpy/torch,
rclpy.init, node construction, spinning. Expected: no traceback and status 0 (run_node's
code for a signal-stopped node).

Delays count from the moment the venv's first start-up code ran (the hook of
neuro_nodes/ros/startup_signals.py: seen in /proc as SIGTERM caught or SIGINT blocked), at
the latest 0.3 s after the start. Before it, only CPython's own first milliseconds run (a
few ms here, more under load), which no code of a venv can reach; a signal there is
Python's default behaviour, and timing it from outside would make this test flaky. Without
the hook the 0.3 s cap sends the signals into the imports, where they printed tracebacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nir
import pytest
import torch

from neuro_nodes.ros.startup_signals import node_executables
from neuro_nodes.snn import LIFCell, SpikingSequential, export_nir

pytestmark = pytest.mark.ros
BIN = Path(sys.executable).parent
DELAYS = (0.0, 0.1, 0.2, 0.4, 0.6)
READY_CAP_S = 0.3


def hook_ran(pid: int) -> bool:
    """SIGTERM has a handler (Python sets none by default) or SIGINT is blocked."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # already gone
        return True
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    caught, blocked = int(fields["SigCgt"], 16), int(fields["SigBlk"], 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1 or blocked >> (signal.SIGINT - 1) & 1)


def node_args(exe: str, data: Path, tmp: Path, i: int) -> list[str]:
    """Parameters with which each node would run (so a late signal meets a running node)."""
    params = {
        "event_camera": [f"path:={data / 'event_camera_py_test_events_2'}", "loop:=true"],
        "player": [f"path:={data / 'event_camera_py_test_events_2'}", "loop:=true"],
        "recorder": [f"output:={tmp / f'bag{i}'}", "topics:=[/nothing]"],
        "accelerator": [f"model_dir:={tmp}"],
    }.get(exe, [])
    return ["--ros-args", *[a for p in params for a in ("-p", p)]] if params else []


def test_sigint_at_any_moment_of_start_up_exits_quietly(shared_data: Path,
                                                        tmp_path: Path) -> None:
    torch.manual_seed(0)
    nir.write(tmp_path / "m.nir", export_nir(SpikingSequential(torch.nn.Linear(2, 2),
                                                               LIFCell()), 1e-3, (2,)))
    shell_env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    results = []
    for n, delay in enumerate(DELAYS):  # one batch per delay: every node at once
        # as from a shell (the wheels' bootstrapper re-executes) and as from a venv process
        env = shell_env if n % 2 == 0 else dict(os.environ)
        batch = []
        for i, exe in enumerate(sorted(node_executables())):
            cmd = [str(BIN / f"neuro-{exe.replace('_', '-')}"),
                   *node_args(exe, shared_data, tmp_path, n * 10 + i)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
            batch.append([exe, proc, time.monotonic() + READY_CAP_S, None])
        pending = list(batch)  # [exe, proc, ready cap, when the signal is due]
        while pending:
            now = time.monotonic()
            for b in list(pending):
                if b[3] is None and (now >= b[2] or hook_ran(b[1].pid)):
                    b[3] = now + delay
                if b[3] is not None and now >= b[3]:
                    b[1].send_signal(signal.SIGINT)
                    pending.remove(b)
            time.sleep(0.001)
        for exe, proc, _, _ in batch:
            try:
                out, err = proc.communicate(timeout=30)
                rc: int | str = proc.returncode
            except subprocess.TimeoutExpired:  # did not stop: a failure, not a hung test
                proc.kill()
                out, err = proc.communicate()
                rc = "still running 30 s after SIGINT"
            results.append((exe, delay, rc, out + err))
    for exe, delay, rc, output in results:
        assert "Traceback" not in output, (exe, delay, output)
        assert rc == 0, (exe, delay, rc, output)


def test_the_venv_hook_is_installed_and_current() -> None:
    import sysconfig

    from neuro_nodes.ros.startup_signals import PTH_NAME, pth_line

    installed = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    assert installed.read_text() == pth_line(node_executables()) + "\n", (
        "stale start-up hook: run 'python -m neuro_nodes.workspace --write'")


_SHOW = ("import signal; print(signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None),"
         " sorted(signal.pthread_sigmask(signal.SIG_BLOCK, set())))\n")


@pytest.mark.parametrize("from_shell", [True, False])
def test_only_node_executables_get_the_early_handler(tmp_path: Path, from_shell: bool) -> None:
    """A script named like a node gets the quiet handler, unblocked once the interpreter is
    final (after the wheels' re-execution from a shell); any other script is untouched."""
    env = dict(os.environ)
    if from_shell:
        env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    (tmp_path / "bin").mkdir()
    for name in ("neuro-player", "my-player"):
        script = tmp_path / "bin" / name
        script.write_text(f"#!{sys.executable}\n{_SHOW}")
        script.chmod(0o755)
    node = subprocess.run([str(tmp_path / "bin" / "neuro-player")], capture_output=True,
                          text=True, env=env, timeout=60)
    other = subprocess.run([str(tmp_path / "bin" / "my-player")], capture_output=True,
                           text=True, env=env, timeout=60)
    assert node.stdout.strip() == "True []", node.stderr
    assert other.stdout.strip() == "False []", other.stderr
