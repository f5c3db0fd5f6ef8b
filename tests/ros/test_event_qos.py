"""Event packets are published reliably (recordable without loss), best effort on request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bag_ros_helpers import RecorderProbe, stop_recorder
from event_camera_msgs.msg import EventPacket
from rclpy.qos import ReliabilityPolicy
from ros_helpers import spin_until

from neuro_nodes.bag.event_packets import read_event_packets
from neuro_nodes.ros.qos import EVENTS_QOS

pytestmark = pytest.mark.ros
NEURO = [sys.executable, "-m", "neuro_nodes.cli.main", "bag"]
CAMERA = str(Path(sys.executable).parent / "neuro-event-camera")


def _offered_reliability(bag: Path) -> list[str]:
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    (topic,) = info["topics_with_message_count"]
    offers = topic["topic_metadata"]["offered_qos_profiles"]
    offers = yaml.safe_load(offers) if isinstance(offers, str) else offers
    return [o["reliability"] for o in offers]


def test_event_camera_is_recorded_reliably_and_best_effort_subscribers_match(
        shared_data: Path, tmp_path: Path) -> None:
    """Issue 9 defect 3: the recorder subscribes reliably to the camera (best effort lost
    packets on one host); a best-effort subscriber such as the renderer still matches."""
    source = shared_data / "event_camera_codecs_libcaer_rollover"  # 201 packets
    out = tmp_path / "live"
    recorder = subprocess.Popen([*NEURO, "record", "--topics", "/events", "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = RecorderProbe("event_qos_probe")
    seen: list[int] = []
    probe.node.create_subscription(EventPacket, "/events", lambda m: seen.append(m.seq),
                                   EVENTS_QOS)  # best effort, like event_renderer
    camera = None
    try:
        assert probe.wait_for_recorder(), "recorder did not come up"
        camera = subprocess.Popen([CAMERA, "--ros-args", "-p", f"path:={source}",
                                   "-p", "wait_for_subscribers:=2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert probe.wait_recorded(201, 60.0), f"recorded {probe.recorded} of 201"
        assert spin_until(probe.node, lambda: len(seen) > 0, 10.0), "best effort: no packet"
    finally:
        probe.close()
        if camera is not None:
            camera.terminate()
            camera.communicate(timeout=30)
        output = stop_recorder(recorder)
    assert recorder.returncode == 0, output
    assert _offered_reliability(out) == ["reliable"]
    original = [p.events.tobytes() for p in read_event_packets(source)]
    assert [p.events.tobytes() for p in read_event_packets(out)] == original


def test_best_effort_stays_available_as_a_qos_override(shared_data: Path) -> None:
    source = shared_data / "event_camera_py_test_events_2"
    camera = subprocess.Popen([CAMERA, "--ros-args", "-p", f"path:={source}", "-p", "loop:=true",
                               "-p", "qos_overrides./events.publisher.reliability:=best_effort"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = RecorderProbe("event_qos_override_probe")
    seen: list[int] = []
    probe.node.create_subscription(EventPacket, "/events", lambda m: seen.append(m.seq),
                                   EVENTS_QOS)
    try:
        assert spin_until(probe.node, lambda: len(seen) >= 5, 60.0), "no packets"
        offers = probe.node.get_publishers_info_by_topic("/events")
    finally:
        probe.close()
        camera.terminate()
        output = camera.communicate(timeout=30)[0]
    assert [o.qos_profile.reliability for o in offers] == [ReliabilityPolicy.BEST_EFFORT], output
