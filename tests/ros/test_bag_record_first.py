"""The recorder started before its publishers: nothing lost, QoS adapted, nothing silent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rclpy
from bag_ros_helpers import RecorderProbe, stop_recorder
from event_camera_msgs.msg import EventPacket
from ros_helpers import spin_until

from neuro_nodes.bag.event_packets import read_event_packets
from neuro_nodes.ros.qos import EVENTS_QOS

pytestmark = pytest.mark.ros
NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "bag"]
TOPIC = "/event_camera/events"


def test_recorder_started_first_gets_every_packet(shared_data: Path, tmp_path: Path) -> None:
    """Issue 9 defect 2: record (``--topics``) first, then play a real 2 s bag."""
    source = shared_data / "event_camera_codecs_libcaer_rollover"  # 201 packets, ~2 s
    out = tmp_path / "recorded"
    recorder = subprocess.Popen([*NEURO, "record", "--topics", TOPIC, "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = RecorderProbe("record_first_probe")
    try:
        assert probe.wait_for_recorder(), "recorder did not come up"
        player = subprocess.run([*NEURO, "play", str(source), "--wait-for-subscribers", "1"],
                                capture_output=True, text=True, timeout=120)
        assert player.returncode == 0, player.stdout + player.stderr
        assert probe.wait_recorded(201), f"recorder has {probe.recorded} of 201"
    finally:
        probe.close()
        output = stop_recorder(recorder)
    assert recorder.returncode == 0, output
    original = [p.events.tobytes() for p in read_event_packets(source)]
    assert len(original) == 201
    assert [p.events.tobytes() for p in read_event_packets(out)] == original


def test_recorder_waits_for_a_publisher_before_choosing_qos(tmp_path: Path) -> None:
    """Issue 9 bad input 2: a subscriber makes the topic visible before any publisher; the
    best-effort publisher that comes later must still be recorded (not RELIABLE forever)."""
    out = tmp_path / "race"
    probe = RecorderProbe("qos_race_probe")
    got: list[int] = []
    probe.node.create_subscription(EventPacket, "/events", lambda m: got.append(m.seq),
                                   EVENTS_QOS)  # best effort, like event_renderer
    recorder = subprocess.Popen([*NEURO, "record", "/events", "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert probe.wait_for_recorder(), "recorder did not come up"
        # the recorder has seen /events (subscriber only) for a while: the race of the issue
        spin_until(probe.node, lambda: False, 1.0)
        pub = probe.node.create_publisher(EventPacket, "/events", EVENTS_QOS)  # best effort
        assert spin_until(probe.node, lambda: pub.get_subscription_count() >= 2, 30.0), \
            "the recorder never matched the best-effort publisher"
        for seq in range(50):
            pub.publish(EventPacket(encoding="evt3", width=640, height=480, seq=seq))
            rclpy.spin_once(probe.node, timeout_sec=0.005)
        assert probe.wait_recorded(50), f"recorded {probe.recorded} of 50"
    finally:
        probe.close()
        output = stop_recorder(recorder)
    assert recorder.returncode == 0, output
    assert [p.seq for p in read_event_packets(out)] == list(range(50))


def test_recording_nothing_is_reported_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    probe = RecorderProbe("empty_probe")
    probe.node.create_subscription(EventPacket, "/only_subscribed", lambda _m: None,
                                   EVENTS_QOS)
    recorder = subprocess.Popen([*NEURO, "record", "/only_subscribed", "/never_there",
                                 "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert probe.wait_for_recorder(), "recorder did not come up"
    finally:
        probe.close()
        output = stop_recorder(recorder)
    assert recorder.returncode == 0, output
    assert "warning: /only_subscribed: 0 messages recorded (no publisher appeared" in output
    assert "warning: /never_there: 0 messages recorded (the topic never appeared)" in output


def test_play_fails_when_subscribers_do_not_come(shared_data: Path) -> None:
    player = subprocess.run([*NEURO, "play", str(shared_data / "event_camera_py_test_events_2"),
                             "--wait-for-subscribers", "1", "--wait-timeout", "0.5"],
                            capture_output=True, text=True, timeout=60)
    assert player.returncode == 1
    assert ("neuro bag play: waited 0.5 s for 1 subscriber(s) per topic: "
            f"{TOPIC} has 0") in player.stderr


def test_full_speed_play_into_a_reliable_subscriber_loses_nothing(tmp_path: Path) -> None:
    """Issue 9 defect 3 (play): ``--rate 0`` with a shallow reliable history used to
    overwrite packets a reliable subscriber had not acknowledged yet."""
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    from neuro_nodes.bag.writer import BagWriter

    bag, n = tmp_path / "burst", 3000
    with BagWriter(bag) as writer:
        handle = writer.add_topic("/burst", "std_msgs/msg/String")
        for i in range(n):
            writer.write(handle, 1_000_000_000 + i * 1000,
                         serialize_message(String(data=f"{i:06d}" + "x" * 1000)))
    overrides = tmp_path / "qos.yaml"
    overrides.write_text("/burst: {reliability: reliable, history: keep_last, depth: 10}\n")
    rclpy.init()
    node = rclpy.create_node("burst_probe")
    got: list[int] = []
    node.create_subscription(String, "/burst", lambda m: got.append(int(m.data[:6])),
                             QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1,
                                        reliability=ReliabilityPolicy.RELIABLE))
    player = subprocess.Popen([*NEURO, "play", str(bag), "--rate", "0", "--wait-for-subscribers",
                               "1", "--qos-profile-overrides-path", str(overrides)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(node, lambda: len(got) >= n or player.poll() is not None, 120.0)
        spin_until(node, lambda: len(got) >= n, 10.0)  # what was acknowledged is queued here
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        output = player.communicate(timeout=60)[0]
    assert player.returncode == 0, output
    assert got == list(range(n))
