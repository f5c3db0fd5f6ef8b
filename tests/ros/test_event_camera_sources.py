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


def _run_to_end(params: list[str], timeout: float = 60.0, until=None):
    """Start the node, receive /events, /imu, /diagnostics reliably until it exits by itself."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Imu

    cmd = [str(SCRIPT), "--ros-args"] + [a for p in params for a in ("-p", p)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("end_probe")
    lossless = QoSProfile(depth=100_000, reliability=ReliabilityPolicy.RELIABLE)
    got: dict[str, list] = {"events": [], "imu": [], "diag": []}
    node.create_subscription(EventPacket, "/events", got["events"].append, lossless)
    node.create_subscription(Imu, "/imu", got["imu"].append, lossless)
    node.create_subscription(DiagnosticArray, "/diagnostics", got["diag"].append, lossless)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
            if until is not None and until(got):
                break
        for _ in range(10):  # what arrived before the exit
            rclpy.spin_once(node, timeout_sec=0.05)
        running = proc.poll() is None
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if proc.poll() is None:
            proc.terminate()
        output = proc.communicate(timeout=15)[0]
    return (None if running else proc.returncode), got, output


def _ended(diagnostics) -> bool:
    return any(kv.key == "end_of_stream" and kv.value == "1"
               for msg in diagnostics for st in msg.status for kv in st.values)


def test_aedat4_file_publishes_imu_in_si_units_triggers_and_exits_at_end(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "events"))
    from aedat4_helpers import N_EVENTS, N_IMU, write_dv_aedat4

    from neuro_nodes.events.imu import STANDARD_GRAVITY
    from neuro_nodes.events.trigger_array import TriggerArray

    truth = write_dv_aedat4(tmp_path / "davis.aedat4")
    rc, got, output = _run_to_end([f"path:={tmp_path / 'davis.aedat4'}", "rate:=1.0",
                                   "wait_for_subscribers:=1"])
    assert rc == 0, output  # loop false, at_end exit: a clean exit by itself
    assert "end of stream" in output and _ended(got["diag"]), output
    imu = got["imu"]
    assert len(imu) == N_IMU, output
    gyro = np.array([[m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z]
                     for m in imu])
    accel = np.array([[m.linear_acceleration.x, m.linear_acceleration.y,
                       m.linear_acceleration.z] for m in imu])
    np.testing.assert_allclose(gyro, np.deg2rad(truth["gyro"]), atol=1e-5)  # deg/s -> rad/s
    np.testing.assert_allclose(accel, truth["accel"] * STANDARD_GRAVITY, atol=1e-4)  # g
    assert all(m.orientation_covariance[0] == -1.0 for m in imu)
    stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in imu])
    assert np.all(np.diff(stamps) > 0)  # distinct, in order (1 kHz at rate 1)
    decoder = make_decoder("evt3", 346, 260)
    results = [decoder.decode(bytes(p.events)) for p in got["events"]]
    assert sum(len(r.events) for r in results) == N_EVENTS
    triggers = TriggerArray.concatenate([r.triggers for r in results])
    assert np.array_equal(triggers.value, truth["trig_value"])


def test_raw_without_geometry_gets_its_camera_size(shared_data: Path) -> None:
    packets, info, _ = collect([f"path:={shared_data / 'prophesee_gen3_evt2/recording.raw'}",
                                "rate:=0.2"], want_packets=5)
    assert (info.width, info.height) == (640, 480)
    assert {(p.width, p.height) for p in packets} == {(640, 480)}


def test_end_of_stream_is_reported_and_at_end_idle_stays_up(shared_data: Path) -> None:
    bag = shared_data / "event_camera_codecs_mono_cd"  # 2 packets
    rc, got, output = _run_to_end([f"path:={bag}", "wait_for_subscribers:=1", "at_end:=idle"],
                                  timeout=30.0, until=lambda g: _ended(g["diag"]))
    assert _ended(got["diag"]) and len(got["events"]) == 2, output
    assert rc is None, output  # still running when the end was reported
    rc, got, output = _run_to_end([f"path:={bag}", "wait_for_subscribers:=1"], timeout=30.0)
    assert rc == 0 and _ended(got["diag"]) and len(got["events"]) == 2, output


def test_file_size_the_events_contradict_grows_and_loses_nothing(tmp_path: Path) -> None:
    from neuro_nodes.events.codecs import make_encoder

    rng = np.random.default_rng(8)
    n = 5000
    x, y = rng.integers(0, 346, n), rng.integers(0, 260, n)
    x[0], y[0] = 345, 259
    events = EventArray(t=np.sort(rng.integers(0, 200_000, n)) * 1000, x=x, y=y,
                        p=rng.integers(0, 2, n), width=346, height=260)
    path = tmp_path / "small.raw"
    path.write_bytes(b"% evt 3.0\n% format EVT3;height=10;width=10\n% end\n"
                     + make_encoder("evt3", 346, 260).encode(events))
    rc, got, output = _run_to_end([f"path:={path}", "wait_for_subscribers:=1"])
    assert rc == 0, output
    assert "outside the 10x10" in output
    assert {(p.width, p.height) for p in got["events"]} == {(346, 260)}
    decoder = make_decoder("evt3", 346, 260)
    assert sum(len(decoder.decode(bytes(p.events)).events) for p in got["events"]) == n


@pytest.mark.parametrize(("params", "expected"), [
    (["width:=640"], "give both, or neither"),
    (["width:=4000", "height:=3000"], "width out of range"),
])
def test_bad_size_parameters_are_refused_at_start(tmp_path: Path, params: list[str],
                                                  expected: str) -> None:
    write_events(tmp_path / "e.h5", [EventArray.empty(64, 48)], 64, 48)
    args = [f"path:={tmp_path / 'e.h5'}", *params]
    cmd = [str(SCRIPT), "--ros-args"] + [a for p in args for a in ("-p", p)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
