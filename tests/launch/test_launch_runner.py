"""The multi-process runner: output, exit codes, required nodes, signals, duration."""

from __future__ import annotations

import io
import queue
import signal
import threading
import time

from neuro_nodes.launch import load_launch_file, run
from neuro_nodes.launch.runner import Runner


def launch(ament, body: str, name: str = "r.launch.yaml", **overrides: str):
    return load_launch_file(ament.write(name, "launch:\n" + body), overrides)


def run_captured(desc, **kwargs) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = Runner(desc, stdout=out, stderr=err, **kwargs).run()
    desc.cleanup()
    return code, out.getvalue(), err.getvalue(), time.monotonic() - started


def test_output_is_prefixed_and_all_zero_exits_give_zero(ament, tmp_path) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: echo_args, name: talker, output: screen, args: hi}
        - node: {pkg: fake_pkg, exec: quick, output: screen}
        - node: {pkg: fake_pkg, exec: quick, name: quiet}
    """)
    code, out, err, _ = run_captured(desc)
    assert code == 0
    lines = out.splitlines()
    assert '[talker] ["hi", "--ros-args", "-r", "__node:=talker"]' in lines
    assert "[quick] quick run" in lines
    assert "[talker] to stderr" in err.splitlines()
    assert "process started with pid" in err and "process has finished cleanly" in err
    # output: log (the default) keeps stdout off the screen, in the node's log file
    assert "[quiet]" not in out
    (log,) = (tmp_path / "ros_log").glob("neuro_launch-*/quiet.log")
    assert log.read_text() == "quick run\n"


def test_a_failing_node_makes_the_exit_code_one(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: fail3, output: screen}
        - node: {pkg: fake_pkg, exec: quick, output: screen}
    """)
    code, out, err, _ = run_captured(desc)
    assert code == 1
    assert "[fail3] failing" in out
    assert "process has died [pid" in err and "exit code 3" in err


def test_required_node_death_stops_the_others(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: sleeper, name: s1, output: screen}
        - node: {pkg: fake_pkg, exec: fail3, output: screen, on_exit: shutdown}
        - node: {pkg: fake_pkg, exec: sleeper, name: s2, output: screen}
    """)
    code, out, err, elapsed = run_captured(desc, grace_s=3.0)
    assert code == 1
    assert "[s1] got SIGINT" in out and "[s2] got SIGINT" in out
    assert "required node 'fail3' exited with code 3" in err
    assert elapsed < 3.0


def test_required_node_clean_exit_stops_the_others_with_zero(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: sleeper, output: screen}
        - node: {pkg: fake_pkg, exec: quick, on_exit: shutdown}
    """)
    code, out, _, _ = run_captured(desc)
    assert code == 0 and "[sleeper] got SIGINT" in out


def test_duration_stops_cleanly_and_escalates_to_sigterm(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: sleeper, output: screen}
        - node: {pkg: fake_pkg, exec: deaf, output: screen}
    """)
    code, out, err, elapsed = run_captured(desc, duration=0.5, grace_s=0.3)
    assert code == 0, err
    assert "[sleeper] got SIGINT" in out
    assert "stopping all nodes: duration of 0.5 s elapsed" in err
    assert "[deaf]: sending signal 'SIGTERM'" in err and "SIGKILL" not in err
    assert 0.5 <= elapsed < 3.0


def test_a_node_that_needs_sigkill_is_not_a_clean_stop(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: immortal, output: screen, sigterm_timeout: 0.2,
                 sigkill_timeout: 0.2}
    """)
    code, _, err, elapsed = run_captured(desc, duration=0.3)
    assert code == 1
    assert "sending signal 'SIGKILL'" in err and elapsed < 3.0


def test_respawn(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: quick, output: screen, respawn: 'true',
                 respawn_max_retries: 2, respawn_delay: 0.1}
    """)
    code, out, err, _ = run_captured(desc)
    assert code == 0
    assert out.count("[quick] quick run") == 3
    assert "respawning (restart 2)" in err


def test_run_api_deletes_parameter_files(ament) -> None:
    desc = launch(ament, """
        - node: {pkg: fake_pkg, exec: quick, param: [{name: a, value: 1}]}
    """)
    params = desc.nodes[0].cmd[-1]
    assert params.endswith(".yaml")
    assert run(desc) == 0
    assert desc.temp_dir is not None and not desc.temp_dir.exists()


def _reader(stream) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, wanted: set[str], timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while wanted - set(seen):
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        assert line is not None, f"output ended before {wanted - set(seen)}: {seen}"
        seen.append(line)
    return seen


def test_sigint_to_the_cli_stops_everything(ament, cli) -> None:
    path = ament.write("s.launch.yaml", """
        launch:
        - arg: {name: second, default: s2}
        - node: {pkg: fake_pkg, exec: sleeper, name: s1, output: screen}
        - node: {pkg: fake_pkg, exec: sleeper, name: $(var second), output: screen}
    """)
    proc = cli.start(str(path), "second:=other", "--grace", "2")
    try:
        lines = _reader(proc.stdout)
        _wait_for(lines, {"[s1] ready", "[other] ready"}, timeout=10.0)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10.0)
        err = proc.stderr.read()
        rest = []
        while (line := lines.get(timeout=5.0)) is not None:
            rest.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err  # interrupted: 128 + SIGINT, every node stopped cleanly
    assert {"[s1] got SIGINT", "[other] got SIGINT"} <= set(rest)
    assert "stopping all nodes: interrupted" in err


def test_cli_duration_print_show_args_and_errors(ament, cli) -> None:
    path = ament.write("c.launch.yaml", """
        launch:
        - arg: {name: who, description: the node name}
        - arg: {name: rate, default: '1.0'}
        - node: {pkg: fake_pkg, exec: sleeper, name: $(var who), output: screen,
                 on_exit: shutdown}
    """)
    done = cli.run(str(path), "who:=w", "--duration", "0.3")
    assert done.returncode == 0, done.stderr
    assert "[w] ready" in done.stdout and "[w] got SIGINT" in done.stdout

    printed = cli.run(str(path), "who:=w", "--print")
    exe = ament.prefix / "lib" / "fake_pkg" / "sleeper"
    assert printed.stdout == f"[w] (required) {exe} --ros-args -r __node:=w\n"

    shown = cli.run(str(path), "--show-args")
    assert "'who':\n        the node name\n        (required)" in shown.stdout
    assert "(default: '1.0')" in shown.stdout

    missing = cli.run(str(path))
    assert missing.returncode == 2
    assert "required launch argument 'who' (the node name) was not provided" in missing.stderr
    unknown = cli.run(str(path), "who:=w", "rat:=2")
    assert unknown.returncode == 2
    assert "unknown launch argument(s) rat (declared arguments: rate, who)" in unknown.stderr
