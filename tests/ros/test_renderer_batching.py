"""event_renderer decodes the packets queued since its last frame in one ``decode_many`` call,
straight from the messages' buffers, and renders what packet-by-packet decoding gave."""

from __future__ import annotations

import array
import time
from collections.abc import Callable

import numpy as np
import pytest
import rclpy
import rclpy.executors
from event_camera_msgs.msg import EventPacket
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

import neuro_nodes.ros.event_renderer as renderer
from neuro_nodes.events.codecs import make_decoder, make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.render import render_polarity
from neuro_nodes.ros.qos import SENSOR_QOS

pytestmark = pytest.mark.ros
W, H = 64, 48


def spin_until(executor, predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        if predicate():
            return True
    return False


def packets(n: int) -> list[EventPacket]:
    """``n`` 1 ms evt3 packets of one stream, as a subscriber receives them (deserialised:
    ``events`` is an ``array.array('B')``)."""
    rng = np.random.default_rng(1)
    encoder = make_encoder("evt3", W, H)
    out = []
    for i in range(n):
        k = 300
        ev = EventArray((i * 1000 + np.sort(rng.integers(0, 1000, k))) * 1000,
                        rng.integers(0, W, k), rng.integers(0, H, k), rng.integers(0, 2, k),
                        W, H)
        msg = EventPacket(encoding="evt3", width=W, height=H, seq=i, time_base=i * 1_000_000,
                          events=encoder.encode(ev))
        out.append(deserialize_message(serialize_message(msg), EventPacket))
    return out


def test_queued_packets_are_decoded_in_one_call_per_frame(ros_domain_id, monkeypatch):
    calls: list[tuple[str, list[type]]] = []

    def counting_decoder(encoding: str, width: int, height: int):
        base = type(make_decoder(encoding, width, height))

        class Counting(base):  # the real decoder; only its calls are recorded
            def decode(self, payload, time_base=0):
                calls.append(("decode", [type(payload)]))
                return super().decode(payload, time_base)

            def decode_many(self, payloads, time_bases=None):
                calls.append(("decode_many", [type(p) for p in payloads]))
                return super().decode_many(payloads, time_bases)

        return Counting(width, height)

    monkeypatch.setattr(renderer, "make_decoder", counting_decoder)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = renderer.EventRendererNode(context=context, parameter_overrides=[
        Parameter("fps", value=1.0)])  # the test drives the frames
    probe = rclpy.create_node("renderer_probe", context=context)
    images: list[Image] = []
    probe.create_subscription(Image, "/event_image", images.append, SENSOR_QOS)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(probe)  # (only the probe spins: the test drives the renderer)
    try:
        # best-effort images: publish once the probe is matched
        assert spin_until(executor, lambda: node.count_subscribers("/event_image") > 0, 30.0)
        msgs = packets(40)
        assert isinstance(msgs[0].events, array.array)
        for msg in msgs:  # 40 ms of 1 ms packets arrive between two frames
            node._on_packet(msg)
        assert calls == []  # queued, not decoded yet
        node._on_frame()
        assert calls == [("decode_many", [array.array] * 40)]  # one call, no copies
        assert spin_until(executor, lambda: images, 20.0)
    finally:
        executor.shutdown()
        probe.destroy_node()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    # what one decode per packet gives, rendered the same way
    dec = make_decoder("evt3", W, H)
    ev = EventArray.concatenate([dec.decode(bytes(m.events)).events for m in msgs])
    expected = render_polarity(ev.x, ev.y, ev.p, W, H, node.params)
    img = images[-1]
    got = np.frombuffer(bytes(img.data), np.uint8).reshape(H, W, 3)
    assert (img.width, img.height) == (W, H)
    np.testing.assert_array_equal(got, expected)
    assert int(node.health.counts["events"]) == len(ev) == 40 * 300


def test_a_failing_packet_in_a_batch_loses_only_itself(ros_domain_id, monkeypatch):
    """A decoder bug (an exception) hit by one queued packet: that packet is counted as
    decoder_failure and lost, the other packets of the frame are rendered."""
    marker = bytes.fromhex("1abc1abc1abc1abc")  # reserved EVT 3.0 words: our trigger

    def buggy_decoder(encoding: str, width: int, height: int):
        base = type(make_decoder(encoding, width, height))

        class Buggy(base):
            def _decode(self, data, time_base):
                if marker in data.tobytes():
                    raise IndexError("simulated decoder bug")
                return super()._decode(data, time_base)

        return Buggy(width, height)

    monkeypatch.setattr(renderer, "make_decoder", buggy_decoder)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = renderer.EventRendererNode(context=context, parameter_overrides=[
        Parameter("fps", value=1.0)])
    try:
        msgs = packets(10)
        msgs[4].events = array.array("B", marker + bytes(msgs[4].events))
        for msg in msgs:
            node._on_packet(msg)
        node._on_frame()
        assert node.health.errors["decoder_failure"] == 1
        assert node.health.counts["events"] == 9 * 300
        assert node.health.counts["images"] == 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
