"""Shared by the cross-process ROS tests: wait on the graph instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

import rclpy


def spin_until(node, predicate: Callable[[], object], timeout: float) -> bool:
    """Spin ``node`` until ``predicate()`` is true (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if predicate():
            return True
    return False
