"""Run a :class:`LaunchDescription`: one subprocess per node, as ``ros2 launch`` does.

* every node runs in its own process group; its stdout/stderr lines are printed as they
  come, prefixed with ``[<label>]`` (coloured per node on a terminal). ``output: log``
  shows only stderr on screen (as ``launch`` does); ``log`` and ``both`` also write the
  node's lines to ``<ROS_LOG_DIR or ~/.ros/log>/neuro_launch-<time>-<pid>/<label>.log``;
* SIGINT/SIGTERM to the runner (or the end of ``duration``) stops everything: SIGINT
  to every node's group, SIGTERM after ``grace_s`` (``sigterm_timeout``), SIGKILL after
  ``grace_s`` more (``sigkill_timeout``); a second signal escalates at once;
* a node with ``on_exit: shutdown`` (required) that exits stops all the others;
  ``respawn: 'true'`` restarts a node that exits (after ``respawn_delay``);
* exit code: 0 when every node exited 0 on its own, or stopped cleanly at the end of
  ``duration``; 128 + the signal number (130 for Ctrl-C) when the launch was interrupted
  and every node stopped cleanly; 1 otherwise (a node failed, a required node died with a
  non-zero status, or a node needed SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from neuro_nodes.launch.frontend import LaunchDescription, NodeSpec

_COLOURS = (32, 34, 35, 36, 33, 92, 94, 95, 96, 93)
_CLEAN_STOP = {0, -signal.SIGINT, -signal.SIGTERM, 128 + signal.SIGINT, 128 + signal.SIGTERM}
_POLL_S = 0.05


def _ros_log_dir() -> Path:
    if os.environ.get("ROS_LOG_DIR"):
        return Path(os.environ["ROS_LOG_DIR"]).expanduser()
    home = os.environ.get("ROS_HOME") or os.path.join("~", ".ros")
    return Path(home).expanduser() / "log"


@dataclass
class _Proc:
    spec: NodeSpec
    colour: str
    popen: subprocess.Popen | None = None
    readers: list[threading.Thread] = field(default_factory=list)
    running: bool = False
    restarts: int = 0
    respawn_at: float | None = None
    stop_stage: int = 0  # 0 none, 1 SIGINT sent, 2 SIGTERM sent, 3 SIGKILL sent
    stop_started: float = 0.0
    log: IO[str] | None = None


class Runner:
    def __init__(self, description: LaunchDescription, *, duration: float | None = None,
                 grace_s: float = 5.0, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> None:
        self.description = description
        self.duration = duration
        self.grace_s = grace_s
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.signals = 0
        self.first_signal = 0
        self.shutting_down = False
        self.shutdown_reason = ""
        self.failed = False
        self.log_dir: Path | None = None
        colour_ok = not os.environ.get("NO_COLOR")
        self.procs = [
            _Proc(spec, self._colour_code(i) if colour_ok else "")
            for i, spec in enumerate(description.nodes)
        ]

    @staticmethod
    def _colour_code(i: int) -> str:
        return f"\033[{_COLOURS[i % len(_COLOURS)]}m"

    # ------------------------------------------------------------------ output
    def say(self, level: str, who: str, message: str) -> None:
        with self.lock:
            self.stderr.write(f"[{level}] [{who}]: {message}\n")
            self.stderr.flush()

    def _prefix(self, proc: _Proc, stream: IO[str]) -> str:
        label = f"[{proc.spec.label}]"
        tty = False
        with contextlib.suppress(AttributeError, ValueError):
            tty = stream.isatty()
        if proc.colour and tty:
            return f"{proc.colour}{label}\033[0m "
        return label + " "

    def _pump(self, proc: _Proc, pipe: IO[bytes], stream: IO[str], show: bool) -> None:
        prefix = self._prefix(proc, stream)
        try:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self.lock:
                    if show:
                        stream.write(prefix + line + "\n")
                        stream.flush()
                    if proc.log is not None:
                        proc.log.write(line + "\n")
                        proc.log.flush()
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _open_log(self, proc: _Proc) -> None:
        if proc.spec.output not in ("log", "both") or proc.log is not None:
            return
        if self.log_dir is None:
            stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
            self.log_dir = _ros_log_dir() / f"neuro_launch-{stamp}-{os.getpid()}"
            try:
                self.log_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                self.say("WARNING", "launch", f"cannot create log directory: {err}")
                return
            self.say("INFO", "launch", f"log files in {self.log_dir}")
        with contextlib.suppress(OSError):
            proc.log = open(self.log_dir / f"{proc.spec.label}.log", "a", encoding="utf-8")  # noqa: SIM115

    # ------------------------------------------------------------------ processes
    def start(self, proc: _Proc) -> bool:
        spec = proc.spec
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(spec.env)
        self._open_log(proc)
        try:
            # start_new_session: own process group (pgid = pid), so that a terminal's
            # Ctrl-C reaches only the runner, which forwards it.
            popen = subprocess.Popen(
                spec.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, cwd=spec.cwd, start_new_session=True,
                preexec_fn=_terminate_with_parent,
            )
        except OSError as err:
            self.say("ERROR", spec.label, f"cannot start {spec.cmd[0]}: {err}")
            self.failed = True
            return False
        proc.popen = popen
        proc.running = True
        proc.stop_stage = 0
        show_stdout = spec.output in ("screen", "both")
        proc.readers = [
            threading.Thread(target=self._pump, args=(proc, popen.stdout, self.stdout, show_stdout),
                             daemon=True),
            threading.Thread(target=self._pump, args=(proc, popen.stderr, self.stderr, True),
                             daemon=True),
        ]
        for t in proc.readers:
            t.start()
        self.say("INFO", spec.label, f"process started with pid [{popen.pid}]")
        return True

    def _signal(self, proc: _Proc, sig: int) -> None:
        if proc.popen is None or not proc.running:
            return
        try:
            os.killpg(proc.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(sig)

    def begin_shutdown(self, reason: str) -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        self.shutdown_reason = reason
        self.say("INFO", "launch", f"stopping all nodes: {reason}")
        now = time.monotonic()
        for proc in self.procs:
            proc.respawn_at = None
            if proc.running:
                self.say("INFO", proc.spec.label, "sending signal 'SIGINT' to process")
                self._signal(proc, signal.SIGINT)
                proc.stop_stage = 1
                proc.stop_started = now

    def _escalate(self, now: float, force: bool = False) -> None:
        for proc in self.procs:
            if not proc.running or proc.stop_stage == 0:
                continue
            term_after = proc.spec.sigterm_timeout
            term_after = self.grace_s if term_after is None else term_after
            kill_after = proc.spec.sigkill_timeout
            kill_after = self.grace_s if kill_after is None else kill_after
            elapsed = now - proc.stop_started
            if proc.stop_stage == 1 and (force or elapsed >= term_after):
                self.say("WARNING", proc.spec.label, "sending signal 'SIGTERM' to process")
                self._signal(proc, signal.SIGTERM)
                proc.stop_stage = 2
                proc.stop_started = now
            elif proc.stop_stage == 2 and (force or elapsed >= kill_after):
                self.say("ERROR", proc.spec.label, "sending signal 'SIGKILL' to process")
                self._signal(proc, signal.SIGKILL)
                proc.stop_stage = 3
                proc.stop_started = now

    def _reap(self, proc: _Proc, rc: int) -> None:
        proc.running = False
        for t in proc.readers:
            t.join(timeout=1.0)
        spec = proc.spec
        pid = proc.popen.pid if proc.popen else "?"
        if rc == 0:
            self.say("INFO", spec.label, f"process has finished cleanly [pid {pid}]")
        else:
            self.say("ERROR", spec.label,
                     f"process has died [pid {pid}, exit code {rc}, cmd '{' '.join(spec.cmd)}']")
        if self.shutting_down and proc.stop_stage > 0:
            if proc.stop_stage >= 3 or rc not in _CLEAN_STOP:
                self.failed = True
            return
        # the node exited on its own
        if spec.required:
            if rc != 0:
                self.failed = True
            self.begin_shutdown(f"required node '{spec.label}' exited with code {rc}")
            return
        if self.shutting_down:  # exited before we signalled it
            if rc not in _CLEAN_STOP:
                self.failed = True
            return
        if spec.respawn and (spec.respawn_max_retries < 0
                             or proc.restarts < spec.respawn_max_retries):
            proc.respawn_at = time.monotonic() + spec.respawn_delay
            return
        if rc != 0:
            self.failed = True

    # ------------------------------------------------------------------ main loop
    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1
        self.first_signal = self.first_signal or signum
        self.wake.set()

    def run(self) -> int:
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            return self._run()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            for proc in self.procs:
                if proc.log is not None:
                    proc.log.close()

    def _run(self) -> int:
        if not self.procs:
            self.say("WARNING", "launch", "the launch file starts no node")
            return 0
        for proc in self.procs:
            if not self.start(proc) and proc.spec.required:
                self.begin_shutdown(f"required node '{proc.spec.label}' could not start")
                break
        started = time.monotonic()
        seen_signals = 0
        while True:
            now = time.monotonic()
            if self.signals > seen_signals:
                if not self.shutting_down:
                    self.begin_shutdown("interrupted")
                else:
                    self.say("WARNING", "launch", "interrupted again: escalating")
                    self._escalate(now, force=True)
                seen_signals = self.signals
            if (self.duration is not None and not self.shutting_down
                    and now - started >= self.duration):
                self.begin_shutdown(f"duration of {self.duration:g} s elapsed")
            for proc in self.procs:
                if proc.running and proc.popen is not None:
                    rc = proc.popen.poll()
                    if rc is not None:
                        self._reap(proc, rc)
            now = time.monotonic()
            for proc in self.procs:
                if proc.respawn_at is not None and now >= proc.respawn_at:
                    proc.respawn_at = None
                    proc.restarts += 1
                    self.say("INFO", proc.spec.label, f"respawning (restart {proc.restarts})")
                    self.start(proc)
            if self.shutting_down:
                self._escalate(now)
            if not any(p.running or p.respawn_at is not None for p in self.procs):
                break
            self.wake.wait(_POLL_S)
            self.wake.clear()
        code = 1 if self.failed else 128 + self.first_signal if self.first_signal else 0
        if self.shutting_down:
            self.say("INFO", "launch",
                     f"all nodes stopped ({self.shutdown_reason}); exit code {code}")
        return code


def run_processes(description: LaunchDescription, *, duration: float | None = None,
                  grace_s: float = 5.0) -> int:
    """Run every node as a subprocess until they exit or the launch is stopped."""
    return Runner(description, duration=duration, grace_s=grace_s).run()


def _terminate_with_parent() -> None:
    """In the child: get SIGTERM if the runner dies (even by SIGKILL), so no node is orphaned.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG

