"""Runs a :class:`SimRunner` on its own thread, paced to a real-time factor.

MuJoCo's GL contexts belong to the thread that made them, so this thread creates, steps
and closes the runner; other threads hand it work with :meth:`SimThread.call` (reset,
stepping while paused, SDF queries). Outputs go to ``publish`` as they fall due; event
payloads go to it from the runner's emulation thread, in order, so this thread renders the
next frames meanwhile (``publish`` must be thread-safe). ROS-free: the sim bridge node
wraps it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sim.runner import Output, SimRunner

CHUNK_NS = 20_000_000  # sim time per pacing step; emulation overlaps renders within it


class SimThread:
    """``rtf()`` is read every chunk (0 = as fast as possible); ``end_ns()`` > 0 pauses
    the simulation there and sets :attr:`finished`."""

    def __init__(self, make_runner: Callable[[], SimRunner], publish: Callable[[Output], None],
                 *, rtf: Callable[[], float], end_ns: Callable[[], int],
                 on_error: Callable[[Exception], None], paused: bool = False) -> None:
        self._make_runner, self._publish = make_runner, publish
        self._rtf, self._end_ns, self._on_error = rtf, end_ns, on_error
        self.lock = threading.Lock()  # guards MjData between this thread and command writers
        self.paused = threading.Event()
        if paused:
            self.paused.set()
        self.finished = threading.Event()
        self.runner: SimRunner | None = None
        self._requests: queue.Queue[tuple[Callable[[], Any], list, threading.Event]] = (
            queue.Queue())
        self._ready = threading.Event()
        self._startup_error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="simulation")
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def call(self, work: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``work()`` on the simulation thread and return its result (or raise)."""
        result: list = []
        done = threading.Event()
        self._requests.put((work, result, done))
        if not done.wait(timeout) or not result:
            raise TimeoutError("the simulation thread did not answer")
        if isinstance(result[0], Exception):
            raise result[0]
        return result[0]

    def step(self, n_steps: int) -> int:
        """Advance ``n_steps`` physics steps (publishing what falls due); the new sim time."""
        def work() -> int:
            dt_ns = round(self.runner.world.timestep * 1e9)
            for out in self.runner.advance(self.runner.time_ns + n_steps * dt_ns):
                self._publish(out)
            self.runner.flush()  # the step's events are out when the caller hears back
            return self.runner.time_ns
        return self.call(work)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.runner = self._make_runner()
            self.runner.set_event_sink(self._publish)
        except Exception as err:
            self._startup_error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        except Exception as err:  # reported; services and diagnostics keep answering
            self._on_error(err)
        finally:
            self.runner.close()

    def _serve_requests(self) -> None:
        while True:
            try:
                work, result, done = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                result.append(work())
            except Exception as err:  # handed back to the caller
                result.append(err)
            done.set()

    def _loop(self) -> None:
        origin: tuple[float, int] | None = None
        while not self._stop.is_set():
            self._serve_requests()
            if self.paused.is_set():
                origin = None
                self._stop.wait(0.01)
                continue
            until = self.runner.time_ns + CHUNK_NS
            end_ns = self._end_ns()
            if end_ns:
                if self.runner.time_ns >= end_ns:
                    self.runner.flush()  # all of it published before anyone hears finished
                    self.paused.set()
                    self.finished.set()
                    continue
                until = min(until, end_ns)
            with self.lock:
                outs = self.runner.advance(until)
            for out in outs:
                self._publish(out)
            rtf = self._rtf()
            if rtf > 0:
                now = time.monotonic()
                if origin is None:
                    origin = (now, self.runner.time_ns)
                due = origin[0] + (self.runner.time_ns - origin[1]) * 1e-9 / rtf
                if due > now:
                    self._stop.wait(due - now)
                elif now - due > 1.0:  # far behind: don't try to catch up in a burst
                    origin = None
