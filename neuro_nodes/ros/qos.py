"""QoS conventions of the project's topics."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSPolicyKind,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.qos_overriding_options import QoSOverridingOptions

# Sensor streams: best effort, keep last. Subscribers use it too, so they match any publisher.
SENSOR_QOS: QoSProfile = qos_profile_sensor_data

# Event packets, subscriber side: best effort with a deep queue, so that it matches any
# publisher (a best-effort driver such as metavision_driver, or our reliable one).
EVENTS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
)

# Event packets, publisher side: reliable, so that a reliable subscriber (``neuro bag
# record`` subscribes reliably when every publisher is) gets every packet: on one host
# best effort lost up to 9 % of packets at 60 M events/s whenever the recorder was
# descheduled (``neuro bench bag``). KEEP_LAST means a slow subscriber never blocks the
# camera, and best-effort subscribers (EVENTS_QOS) still match. For lossy links, set
# ``qos_overrides.<topic>.publisher.reliability:=best_effort`` (EVENTS_PUB_OVERRIDES).
EVENTS_PUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1000,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
)

# Pass as ``qos_overriding_options`` with EVENTS_PUB_QOS: the ROS 2 standard read-only
# parameters ``qos_overrides./ns/events.publisher.{reliability,depth,history}``.
EVENTS_PUB_OVERRIDES = QoSOverridingOptions(
    [QoSPolicyKind.RELIABILITY, QoSPolicyKind.DEPTH, QoSPolicyKind.HISTORY])

# Results consumers must not miss (detections, maps, energy reports).
RELIABLE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
)

# Latched data (camera info, static maps): late joiners get the last sample.
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
