"""Base class of every neuro_nodes node, and the ``main()`` all of them share.

A node declares its parameters dataclass as ROS parameters (with ranges,
choices and read-only flags), keeps the validated values in ``self.params``,
refuses a bad remote change with its reason while it keeps running, and
publishes its :class:`Health` on ``/diagnostics``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from neuro_nodes.core.health import Health
from neuro_nodes.ros.dds import apply_loopback_defaults
from neuro_nodes.ros.diagnostics import DiagnosticsPublisher
from neuro_nodes.ros.parameters import check_update, declare_parameters
from neuro_nodes.ros.startup_signals import STOP_SIGNALS, unblock_stop_signals

P = TypeVar("P")
_SIGNAL_POLL_S = 0.1  # how soon a signal is noticed while the executor waits


class NeuroNode(Node, Generic[P]):
    """``Node`` + parameters dataclass + health on /diagnostics.

    Subclasses set ``params_type`` and may override :meth:`on_params_changed`.
    ``node_kwargs`` go to ``rclpy.node.Node`` (``cli_args``, ``context``, ...), so the
    launch runner can create the node in-process with its ``--ros-args``.
    """

    params_type: type[P]

    def __init__(self, name: str, **node_kwargs: Any) -> None:
        super().__init__(name, **node_kwargs)
        self.params: P = declare_parameters(self, self.params_type)
        self.health = Health()
        # What is wrong right now (key -> reason); /diagnostics WARNs while it is non-empty.
        self.conditions: dict[str, str] = {}
        self._diagnostics = DiagnosticsPublisher(self, self.health, conditions=self.conditions)
        self._pending: P | None = None
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._commit_parameters)

    def _validate_parameters(self, parameters: list[Parameter]):
        self._pending, result = check_update(self.params, parameters)
        if not result.successful:
            self.get_logger().warning(f"parameter change refused: {result.reason}")
        return result

    def _commit_parameters(self, parameters: list[Parameter]) -> None:
        if self._pending is None or self._pending is self.params:
            return
        old, self.params, self._pending = self.params, self._pending, None
        self.on_params_changed(old, self.params)

    def on_params_changed(self, old: P, new: P) -> None:
        """Called after a remote parameter change was accepted."""

    def stamp_latency(self, started_s: float) -> None:
        """Record processing latency since ``started_s`` (``time.perf_counter()``)."""
        self.health.latency(time.perf_counter() - started_s)


def run_node(node_class: type[Node], args: Sequence[str] | None = None, *,
             duration: float | None = None,
             done: Callable[[Node], bool] | None = None) -> int:
    """Init, spin until SIGINT/SIGTERM, shut down: the body of every node's ``main()``.

    Signals only set a flag: the node is destroyed (its threads joined) before the context
    shuts down, so a signal arriving at any moment, start-up included, stops it cleanly.
    Node executables stop quietly from their first moments (:mod:`.startup_signals`); these
    handlers take over before anything else, then a signal held back meanwhile is delivered.
    Returns the exit code: 0 after a signal, 1 with a one-line reason when the node could
    not start (bad parameter, missing device or file). ``duration`` (s) or ``done(node)``
    also end the run (command-line tools use them).
    """
    name = getattr(node_class, "node_name", node_class.__name__)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    unblock_stop_signals()
    try:
        apply_loopback_defaults()
        rclpy.init(args=list(sys.argv if args is None else args),
                   signal_handler_options=SignalHandlerOptions.NO)
    except Exception as err:  # malformed --ros-args
        print(f"[{name}] error: {err}", file=sys.stderr)
        _restore(previous)
        return 1
    executor = SingleThreadedExecutor()
    node = None
    try:
        if stop.is_set():  # interrupted while starting: nothing to build
            return 0
        try:
            node = node_class()
        except Exception as err:  # bad parameter, missing file or device: say why, exit 1
            print(f"[{name}] error: {err}", file=sys.stderr)
            return 1
        executor.add_node(node)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop.is_set():
            executor.spin_once(timeout_sec=_SIGNAL_POLL_S)
            if (deadline is not None and time.monotonic() >= deadline) or (
                    done is not None and done(node)):
                break
    finally:
        if node is not None:
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
        _restore(previous)
    return 0


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
