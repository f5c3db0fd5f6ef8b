"""Publisher process of ``neuro bench bag``: evt3 packets at a fixed rate, then its count.

``python -m benchmarks.bag_publisher PAYLOADS N RATE_HZ SUBSCRIBERS default|best_effort|reliable``
(``default``: the project's event publisher QoS, ``EVENTS_PUB_QOS``, as event_camera uses it)
"""

from __future__ import annotations

import sys
import time

from neuro_nodes.ros.dds import apply_loopback_defaults

TOPIC = "/bench/events"
SEPARATOR = b"\0SPLIT\0"


def main() -> None:
    apply_loopback_defaults()
    import rclpy
    from event_camera_msgs.msg import EventPacket
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from neuro_nodes.ros.qos import EVENTS_PUB_QOS

    path, n_packets, rate_hz, subscribers, reliability = sys.argv[1:6]
    qos = EVENTS_PUB_QOS if reliability == "default" else QoSProfile(
        depth=EVENTS_PUB_QOS.depth, reliability=ReliabilityPolicy.RELIABLE
        if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT)
    with open(path, "rb") as f:
        payloads = f.read().split(SEPARATOR)
    rclpy.init()
    node = rclpy.create_node("bench_publisher")
    pub = node.create_publisher(EventPacket, TOPIC, qos)
    while pub.get_subscription_count() < int(subscribers):
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)
    msgs = [EventPacket(encoding="evt3", width=640, height=480, events=p) for p in payloads]
    t0 = time.perf_counter()
    for i in range(int(n_packets)):
        wait = t0 + i / float(rate_hz) - time.perf_counter()
        if wait > 0:
            time.sleep(wait)  # not a busy loop: the recorder needs the other core
        msg = msgs[i % len(msgs)]
        msg.seq = i
        pub.publish(msg)
    print(n_packets, time.perf_counter() - t0, flush=True)
    time.sleep(1.0)  # let the last packets be delivered before the participant goes


if __name__ == "__main__":
    main()
