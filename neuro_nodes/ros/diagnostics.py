"""Publish a node's :class:`~neuro_nodes.core.health.Health` on ``/diagnostics``."""

from __future__ import annotations

from collections.abc import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile

from neuro_nodes.core.health import Health, HealthSnapshot

DIAGNOSTICS_TOPIC = "/diagnostics"


def to_status(name: str, hardware_id: str, snap: HealthSnapshot,
              conditions: Mapping[str, str] | None = None) -> DiagnosticStatus:
    """``conditions``: what is wrong right now (key -> reason), e.g. a model served from an
    older file; unlike counted errors they WARN only while they last."""
    conditions = dict(conditions or {})
    values = [KeyValue(key=k, value=str(v)) for k, v in sorted(snap.counts.items())]
    values += [KeyValue(key=f"{k}_hz", value=f"{v:.2f}") for k, v in sorted(snap.rates_hz.items())]
    values += [KeyValue(key=f"error:{k}", value=str(v)) for k, v in sorted(snap.errors.items())]
    values += [KeyValue(key=f"latency_{k}_ms", value=f"{v:.3f}")
               for k, v in snap.latency_ms.items()]
    values += [KeyValue(key=f"warn:{k}", value=v) for k, v in sorted(conditions.items())]
    notes = [f"{k}: {v}" for k, v in sorted(conditions.items())]
    if snap.errors:
        notes.append(f"{sum(snap.errors.values())} errors; last {snap.last_error}")
    level = DiagnosticStatus.WARN if notes else DiagnosticStatus.OK
    message = "; ".join(notes) or "ok"
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                            values=values)


class DiagnosticsPublisher:
    """Publishes the node's health at ``period_s`` (1 Hz like diagnostic_updater)."""

    def __init__(self, node: Node, health: Health, period_s: float = 1.0,
                 conditions: Mapping[str, str] | None = None) -> None:
        self._node = node
        self._health = health
        self._conditions = conditions if conditions is not None else {}
        self._pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, QoSProfile(depth=10))
        self._timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        now = self._node.get_clock().now()
        snap = self._health.snapshot(now.nanoseconds * 1e-9)
        name = self._node.get_fully_qualified_name()
        msg = DiagnosticArray()
        msg.header.stamp = now.to_msg()
        msg.status = [to_status(f"{name.lstrip('/')}: health", name, snap,
                                dict(self._conditions))]
        self._pub.publish(msg)
