"""The demo's image accounting: what was received, what was lost before discovery and in
transit (pure: stamps and counts, no ROS running)."""

from __future__ import annotations

import struct

import numpy as np

from neuro_nodes.cli.demo import account_images, cdr_header_stamp_ns

PERIOD = 50_000_000  # 20 fps


def stamps(indices: list[int], jitter: int = 0) -> list[int]:
    # the timer fires late by up to `jitter` ns, never early, and does not drift
    return [10**12 + i * PERIOD + (i * 7919) % (jitter + 1) for i in indices]


def test_all_received() -> None:
    got = stamps(list(range(40)))
    acc = account_images(got, rendered=40, rendered_at_ns=got[-1])
    assert (acc.received, acc.before_first, acc.in_transit, acc.dropped) == (40, 0, 0, 0)
    assert acc.summary() == "40 of 40 images received (none dropped)"


def test_discovery_and_transit_losses_are_told_apart() -> None:
    sent = list(range(100))
    lost = {50, 51, 77}
    got = stamps([i for i in sent if i >= 30 and i not in lost], jitter=20_000_000)
    acc = account_images(got, rendered=100, rendered_at_ns=stamps([99], jitter=20_000_000)[0])
    assert (acc.received, acc.before_first, acc.in_transit) == (67, 30, 3)
    assert acc.summary() == ("67 of 100 images received (33 dropped: 30 published before "
                             "the monitor discovered the renderer, 3 lost in transit)")


def test_most_images_lost_in_transit() -> None:
    # the UDP-fragment losses this accounting was written for: about 70 % gone at random
    rng = np.random.default_rng(7)
    kept = [20] + [i for i in range(21, 200) if rng.random() < 0.3]
    got = stamps(kept, jitter=PERIOD // 5)
    report = stamps([199])[0] + PERIOD // 4  # diagnostics fire between two frames
    acc = account_images(got, rendered=200, rendered_at_ns=report)
    assert (acc.received, acc.before_first, acc.in_transit) == (len(kept), 20, 180 - len(kept))


def test_images_after_the_last_report_are_not_compared() -> None:
    got = stamps(list(range(30)))
    acc = account_images(got, rendered=20, rendered_at_ns=got[19])
    assert (acc.received, acc.dropped) == (20, 0)


def test_nothing_received() -> None:
    acc = account_images([], rendered=12, rendered_at_ns=10**12)
    assert (acc.received, acc.before_first, acc.in_transit) == (0, 12, 0)


def test_header_stamp_read_from_serialized_image() -> None:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image

    msg = Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(12))
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_123, 456_789_012
    assert cdr_header_stamp_ns(serialize_message(msg)) == 1_700_000_123_456_789_012
    big_endian = b"\x00\x00\x00\x00" + struct.pack(">iI", 5, 6)
    assert cdr_header_stamp_ns(big_endian) == 5_000_000_006
