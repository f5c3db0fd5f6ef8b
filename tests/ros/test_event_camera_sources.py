"""event_camera's sim and event-file sources publish decodable packets and camera info."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from event_camera_msgs.msg import EventPacket
from sensor_msgs.msg import CameraInfo

from neuro_nodes.events.codecs import make_decoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.files import write_events
from neuro_nodes.ros.qos import EVENTS_QOS, LATCHED_QOS

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-event-camera"


def collect(params: list[str], want_packets: int = 20, timeout: float = 30.0):
    cmd = [str(SCRIPT), "--ros-args"] + [a for p in params for a in ("-p", p)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("source_probe")
    packets: list[EventPacket] = []
    infos: list[CameraInfo] = []
    node.create_subscription(EventPacket, "/events", packets.append, EVENTS_QOS)
    node.create_subscription(CameraInfo, "/camera_info", infos.append, LATCHED_QOS)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (len(packets) < want_packets or not infos):
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
    assert len(packets) >= want_packets and infos, output
    return packets, infos[0], output


def test_sim_source_emulates_a_moving_texture() -> None:
    packets, info, _ = collect(["source:=sim", "sim_width:=160", "sim_height:=120",
                                "sim_preset:=ideal", "rate:=1.0"])
    assert (info.width, info.height) == (160, 120)
    decoder = make_decoder("evt3", 160, 120)
    assert {p.encoding for p in packets} == {"evt3"}
    events = EventArray.concatenate([decoder.decode(bytes(p.events)).events for p in packets])
    assert len(events) > 1000 and events.on_count > 0 and events.off_count > 0


def test_event_file_source_replays_every_event(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    t = np.sort(rng.integers(0, 100_000, n)) * 1000  # 0.1 s of sensor time, µs resolution
    events = EventArray(t=t, x=rng.integers(0, 64, n).astype(np.uint16),
                        y=rng.integers(0, 48, n).astype(np.uint16),
                        p=rng.integers(0, 2, n).astype(np.uint8), width=64, height=48)
    write_events(tmp_path / "e.h5", [events], 64, 48)
    packets, info, output = collect([f"path:={tmp_path / 'e.h5'}", "rate:=0.5",
                                     "wait_for_subscribers:=1"],
                                    want_packets=100)
    assert (info.width, info.height) == (64, 48)
    decoder = make_decoder("evt3", 64, 48)
    got = EventArray.concatenate([decoder.decode(bytes(p.events)).events for p in packets])
    assert len(got) == n, output
    assert np.array_equal(np.sort(got.t), events.t)
