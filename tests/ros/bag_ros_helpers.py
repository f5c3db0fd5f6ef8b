"""Shared by the bag ROS tests: a probe that waits on the recorder instead of sleeping."""

from __future__ import annotations

import signal
import subprocess

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from ros_helpers import spin_until


class RecorderProbe:
    """A node that sees the recorder in the graph and reads its message count (diagnostics)."""

    def __init__(self, name: str) -> None:
        rclpy.init()
        self.node = rclpy.create_node(name)
        self.recorded = -1
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == "/recorder":
                values = {kv.key: kv.value for kv in status.values}
                self.recorded = int(values.get("messages", 0))

    def wait_for_recorder(self) -> bool:
        return spin_until(self.node, lambda: "recorder" in self.node.get_node_names()
                          and self.recorded >= 0, 60.0)

    def wait_recorded(self, n: int, timeout: float = 30.0) -> bool:
        return spin_until(self.node, lambda: self.recorded >= n, timeout)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()


def stop_recorder(recorder: subprocess.Popen) -> str:
    """SIGINT (the recorder closes its bag and prints its summary); its output."""
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
    return recorder.communicate(timeout=60)[0]
