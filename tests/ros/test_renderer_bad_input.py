"""event_renderer counts bad packets on /diagnostics and keeps rendering."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from event_camera_msgs.msg import EventPacket
from ros_helpers import spin_until
from sensor_msgs.msg import Image

from neuro_nodes.events.codecs import make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.ros.qos import EVENTS_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-event-renderer"


def good_payload(encoder, t0_us: int) -> bytes:
    n = 500
    rng = np.random.default_rng(t0_us)
    ev = EventArray(t=(t0_us + np.arange(n)) * 1000, x=rng.integers(0, 64, n).astype(np.uint16),
                    y=rng.integers(0, 48, n).astype(np.uint16),
                    p=rng.integers(0, 2, n).astype(np.uint8), width=64, height=48)
    return encoder.encode(ev)


def test_garbage_packets_are_counted_and_rendering_continues() -> None:
    proc = subprocess.Popen([str(SCRIPT), "--ros-args", "-p", "fps:=20.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("bad_input_probe")
    pub = node.create_publisher(EventPacket, "/events", EVENTS_QOS)
    images: list[Image] = []
    diags: list[dict[str, str]] = []
    node.create_subscription(Image, "/event_image", images.append, SENSOR_QOS)

    def on_diag(msg: DiagnosticArray) -> None:
        diags.extend({kv.key: kv.value for kv in s.values} for s in msg.status
                     if s.hardware_id.endswith("event_renderer"))

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    encoder = make_encoder("evt3", 64, 48)
    rng = np.random.default_rng(0)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pub.get_subscription_count() == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        bad = [
            EventPacket(encoding="nonsense", width=64, height=48, events=b"\x01\x02"),
            EventPacket(encoding="evt3", width=0, height=0, events=b"\x00" * 8),
            EventPacket(encoding="libcaer", width=64, height=48,
                        events=rng.integers(0, 256, 999, dtype=np.uint8).tobytes()),
            EventPacket(encoding="evt2", width=64, height=48,  # coordinates beyond 64x48
                        events=np.full(64, 0x1FFFFFFF, "<u4").tobytes()),
        ]
        for i in range(40):
            pub.publish(bad[i % len(bad)])
            pub.publish(EventPacket(encoding="evt3", width=64, height=48,
                                    events=good_payload(encoder, i * 1000)))
            rclpy.spin_once(node, timeout_sec=0.05)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                int(d.get("error:undecodable_packet", 0)) >= 5 for d in diags):
            rclpy.spin_once(node, timeout_sec=0.05)
        before = len(images)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(images) < before + 5:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    alive = proc.poll() is None
    proc.terminate()
    output = proc.communicate(timeout=15)[0]
    assert alive, output
    last = diags[-1] if diags else {}
    assert int(last.get("error:undecodable_packet", 0)) >= 5, (last, output)
    assert int(last.get("error:corrupt_events", 0)) >= 1, last
    assert int(last.get("events", 0)) > 0, last
    assert len(images) >= before + 5 and images[-1].width == 64


def test_oversized_frame_is_refused_counted_and_the_next_good_packet_renders() -> None:
    """A header of 65536x65536 (passes the codecs' size check) would need a 12 GiB frame."""
    proc = subprocess.Popen([str(SCRIPT), "--ros-args", "-p", "fps:=20.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("huge_frame_probe")
    pub = node.create_publisher(EventPacket, "/events", EVENTS_QOS)
    images: list[Image] = []
    diags: list[dict[str, str]] = []
    node.create_subscription(Image, "/event_image", images.append, SENSOR_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: diags.extend(
        {kv.key: kv.value for kv in s.values} for s in msg.status
        if s.hardware_id.endswith("event_renderer")), 10)
    encoder, huge_encoder = make_encoder("evt3", 64, 48), make_encoder("evt3", 64, 48)
    big = make_encoder("evt3", 640, 480).encode(EventArray(
        t=np.arange(100) * 1000, x=np.full(100, 600, np.uint16), y=np.full(100, 400, np.uint16),
        p=np.ones(100, np.uint8), width=640, height=480))
    try:
        assert spin_until(node, lambda: pub.get_subscription_count() > 0, 30.0)
        for i in range(20):
            pub.publish(EventPacket(encoding="evt3", width=65536, height=65536,
                                    events=good_payload(huge_encoder, i * 1000)))
            # a real geometry change, then back: events of 640x480 must not land in 64x48
            pub.publish(EventPacket(encoding="evt3", width=640, height=480, events=big))
            pub.publish(EventPacket(encoding="evt3", width=64, height=48,
                                    events=good_payload(encoder, i * 1000)))
            rclpy.spin_once(node, timeout_sec=0.05)
        assert spin_until(node, lambda: diags and int(
            diags[-1].get("error:frame_too_large", 0)) >= 5, 15.0), diags[-1:]
        before = len(images)
        assert spin_until(node, lambda: len(images) >= before + 3, 10.0)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    alive = proc.poll() is None
    proc.terminate()
    output = proc.communicate(timeout=15)[0]
    assert alive, output
    assert "Traceback" not in output, output
    assert images[-1].width == 64 and images[-1].height == 48
    assert {(m.width, m.height) for m in images} <= {(64, 48), (640, 480)}
    assert int(diags[-1]["events"]) > 0


def test_max_frame_pixels_is_a_documented_parameter() -> None:
    from neuro_nodes.ros.event_renderer import EventRendererParams

    assert EventRendererParams().max_frame_pixels >= 1280 * 960  # every event sensor sold
    proc = subprocess.run([str(SCRIPT), "--ros-args", "-p", "max_frame_pixels:=0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "max_frame_pixels" in proc.stderr, proc.stderr
