"""fusion over DDS: events and clouds in -> fused answers; the event stream stops -> answers go
on from the cloud head, labelled so, and /diagnostics says events are stale; it resumes ->
fused again; bad clouds and packets are counted while the node goes on; a missing model stops
the start-up naming the file.

The model is a tiny untrained network whose heads each prefer their own class
(``fusion_models``), so an answer's predicted class says which head gave it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fusion_models import CLASSES, HEAD_CLASS, tiny_fusion_model

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-fusion"
FRAME = "test_optical"
WIDTH, HEIGHT = 128, 96  # the camera; the model's grid is 64 x 48


def cloud_msg(points: np.ndarray, *, fields=("x", "y", "z"), dtype: str = "<f4"):
    from sensor_msgs.msg import PointCloud2, PointField

    dt = np.dtype(dtype)
    kind = PointField.FLOAT32 if dt == np.float32 else PointField.FLOAT64
    pts = np.ascontiguousarray(points[:, :len(fields)], dt)
    msg = PointCloud2(height=1, width=len(pts), is_bigendian=False,
                      point_step=dt.itemsize * len(fields), data=pts.tobytes(),
                      fields=[PointField(name=f, offset=dt.itemsize * i, datatype=kind,
                                         count=1) for i, f in enumerate(fields)])
    msg.row_step = msg.point_step * msg.width
    msg.header.frame_id = FRAME
    return msg


class Sensors:
    """Publishes 20 ms event packets (50 Hz, sensor time = time since start) and a cloud at
    10 Hz while the probe spins; ``events`` / ``cloud`` switch each stream on and off."""

    def __init__(self, node) -> None:  # noqa: ANN001 - rclpy Node
        from event_camera_msgs.msg import EventPacket
        from sensor_msgs.msg import PointCloud2

        from neuro_nodes.events.codecs import make_encoder
        from neuro_nodes.ros.qos import EVENTS_PUB_QOS, SENSOR_QOS

        self.node = node
        self.events_pub = node.create_publisher(EventPacket, "/events", EVENTS_PUB_QOS)
        self.cloud_pub = node.create_publisher(PointCloud2, "/points", SENSOR_QOS)
        self.encoder = make_encoder("evt3", WIDTH, HEIGHT)
        self.rng = np.random.default_rng(0)
        self.cloud = (self.rng.normal(0, 0.15, (400, 3)) + [0, 0, 1.5]).astype(np.float32)
        self.events, self.clouds = True, True
        self.t0 = time.monotonic()
        self.next_packet = self.next_cloud = 0.0
        self.sensor_ns = 0
        self.seq = 0

    def _packet(self):  # noqa: ANN202 - EventPacket
        from event_camera_msgs.msg import EventPacket

        from neuro_nodes.events.event_array import EventArray

        end = round((time.monotonic() - self.t0) * 1e9)
        n = 300
        ev = EventArray(t=np.sort(self.rng.integers(max(self.sensor_ns, end - 20_000_000),
                                                    end + 1, n)),
                        x=self.rng.integers(0, WIDTH, n), y=self.rng.integers(0, HEIGHT, n),
                        p=self.rng.integers(0, 2, n), width=WIDTH, height=HEIGHT)
        self.sensor_ns = end + 1
        self.seq += 1
        msg = EventPacket(encoding="evt3", width=WIDTH, height=HEIGHT, seq=self.seq,
                          events=self.encoder.encode(ev))
        msg.header.frame_id = FRAME
        return msg

    def run_until(self, predicate: Callable[[], object], timeout: float) -> bool:
        import rclpy

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= self.next_packet:
                self.next_packet = now + 0.02
                if self.events:
                    self.events_pub.publish(self._packet())
            if now >= self.next_cloud:
                self.next_cloud = now + 0.1
                if self.clouds:
                    self.cloud_pub.publish(cloud_msg(self.cloud))
            rclpy.spin_once(self.node, timeout_sec=0.005)
            if predicate():
                return True
        return False


@pytest.fixture
def probe():
    import rclpy

    rclpy.init()
    node = rclpy.create_node("fusion_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def stop(proc: subprocess.Popen) -> str:
    alive = proc.poll() is None
    proc.terminate()
    out = proc.communicate(timeout=30)[0]
    assert alive, out
    assert proc.returncode == 0 and "Traceback" not in out, out
    return out


def test_fusion_answers_through_a_dead_event_sensor_and_counts_bad_input(probe,
                                                                        tmp_path) -> None:
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from event_camera_msgs.msg import EventPacket
    from neuro_interfaces.msg import ClassProbabilities

    from neuro_nodes.ros.qos import RELIABLE_QOS

    model = tiny_fusion_model(tmp_path)
    proc = subprocess.Popen([str(SCRIPT), "--ros-args", "-p", f"model:={model}",
                             "-p", "threads:=1", "-p", "stale_after_s:=0.5",
                             "-p", "rate_hz:=10.0", "-p", "max_points:=256"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got: dict[str, list[tuple[float, ClassProbabilities]]] = {"fused": [], "events": [],
                                                              "cloud": []}
    for key, topic in (("fused", "/class_probabilities"),
                       ("events", "/events/class_probabilities"),
                       ("cloud", "/cloud/class_probabilities")):
        probe.create_subscription(ClassProbabilities, topic, lambda m, k=key: got[k].append(
            (time.monotonic(), m)), RELIABLE_QOS)
    diags: list[tuple[float, dict[str, DiagnosticStatus]]] = []
    probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diags.append((
        time.monotonic(), {s.name: s for s in m.status if s.hardware_id == "/fusion"})), 10)

    def status(name: str, since: float = 0.0) -> DiagnosticStatus | None:
        found = [d[f"fusion: {name}"] for t, d in diags if t >= since and f"fusion: {name}"
                 in d]
        return found[-1] if found else None

    def values(s: DiagnosticStatus) -> dict[str, str]:
        return {kv.key: kv.value for kv in s.values}

    def answers(key: str, since: float) -> list[ClassProbabilities]:
        return [m for t, m in got[key] if t >= since]

    sensors = Sensors(probe)
    sensors.events = sensors.clouds = False
    try:
        assert sensors.run_until(lambda: sensors.cloud_pub.get_subscription_count() >= 1
                                 and sensors.events_pub.get_subscription_count() >= 1
                                 and status("health") and status("events"), 60.0), (
            "node did not start")
        assert not got["fused"]  # nothing live: no answer
        missing = status("events")
        assert missing.level == DiagnosticStatus.WARN and values(missing)["state"] == "missing"
        # 1. both streams: fused answers, and each modality's own head beside them
        sensors.events = sensors.clouds = True
        t1 = time.monotonic()
        assert sensors.run_until(lambda: len(answers("fused", t1)) >= 5
                                 and status("events", t1) and values(status(
                                     "events", t1))["state"] == "live", 30.0), got["fused"][-3:]
        fused = answers("fused", t1)[-1]
        assert fused.source == "fused (events+cloud)" and fused.predicted == HEAD_CLASS["fused"]
        assert list(fused.class_names) == list(CLASSES) and fused.header.frame_id == FRAME
        assert sum(fused.probabilities) == pytest.approx(1.0, abs=1e-4)
        ev, cl = answers("events", t1)[-1], answers("cloud", t1)[-1]
        assert ev.predicted == HEAD_CLASS["events"] and cl.predicted == HEAD_CLASS["cloud"]
        for m, key in ((ev, "events"), (cl, "cloud")):  # the head's top probability
            assert m.source == f"{key} head (confidence {max(m.probabilities):.2f})"
        assert status("health", t1).level == DiagnosticStatus.OK, status("health", t1)

        # 2. the event camera dies: answers go on from the cloud head, saying why
        sensors.events = False
        t2 = time.monotonic()
        assert sensors.run_until(lambda: any(m.source.startswith("cloud only") for m in
                                             answers("fused", t2))
                                 and status("events", t2 + 1.0)
                                 and values(status("events", t2 + 1.0))["state"] == "stale",
                                 30.0), [m.source for m in answers("fused", t2)]
        t_cloud = time.monotonic()
        assert sensors.run_until(lambda: len(answers("fused", t_cloud)) >= 3
                                 and len(answers("cloud", t_cloud)) >= 3, 10.0)
        only = answers("fused", t_cloud)
        assert all(m.predicted == HEAD_CLASS["cloud"] for m in only)
        ages = [float(re.fullmatch(r"cloud only: events stale (\d+\.\d) s", m.source).group(1))
                for m in only]
        assert ages[0] >= 0.5 and ages == sorted(ages), [m.source for m in only]
        assert not answers("events", t_cloud)  # no event head while events are stale
        health, stale = status("health", t2 + 1.0), status("events", t2 + 1.0)
        assert health.level == DiagnosticStatus.WARN and "events: stale" in health.message
        assert values(health)["warn:events"].startswith("stale ")
        assert stale.level == DiagnosticStatus.WARN and float(values(stale)["age_s"]) >= 0.5
        assert status("cloud", t2 + 1.0).level == DiagnosticStatus.OK

        # 3. it comes back: fused again, the warning gone
        sensors.events = True
        t3 = time.monotonic()
        assert sensors.run_until(lambda: any(m.source == "fused (events+cloud)" for m in
                                             answers("fused", t3))
                                 and status("health", t3 + 0.5)
                                 and status("health", t3 + 0.5).level == DiagnosticStatus.OK,
                                 30.0), [m.source for m in answers("fused", t3)]

        # 4. malformed clouds and packets: counted, and the node answers on
        bad_clouds = (cloud_msg(sensors.cloud, fields=("x", "y")),  # no z
                      cloud_msg(sensors.cloud, dtype="<f8"),  # FLOAT64
                      cloud_msg(np.full((30, 3), np.nan, np.float32)))  # no finite point
        for bad in bad_clouds:
            sensors.cloud_pub.publish(bad)
            sensors.run_until(lambda: False, 0.05)
        sensors.events_pub.publish(EventPacket(encoding="nonsense", width=WIDTH,
                                               height=HEIGHT, events=b"\x01\x02"))
        t4 = time.monotonic()
        assert sensors.run_until(lambda: status("health", t4) and int(values(status(
            "health", t4)).get("error:bad_cloud", 0)) >= 2 and status("cloud", t4) and int(
            values(status("cloud", t4))["bad_messages"]) >= 3 and len(answers("fused", t4)) >= 3,
            30.0), status("health", t4)
        last, cloud_diag = values(status("health", t4)), values(status("cloud", t4))
    finally:
        out = stop(proc)
    assert int(last["error:bad_cloud"]) == 2 and int(last["error:no_usable_points"]) == 1, last
    assert int(last["error:undecodable_packet"]) == 1 and int(last["events_bad"]) == 1, last
    assert int(last["cloud_bad"]) == 3 and int(cloud_diag["bad_messages"]) == 3, cloud_diag
    # the two statuses are separate publications while clouds keep arriving: a message apart
    assert int(last["cloud_messages"]) > 10
    assert abs(int(cloud_diag["messages"]) - int(last["cloud_messages"])) <= 2
    assert int(last["answers_fused"]) >= 5 and int(last["answers_cloud"]) >= 3, last
    assert "bad_cloud" in out  # logged (throttled)


def test_a_missing_model_stops_the_start_up_naming_the_file(tmp_path) -> None:
    missing = tmp_path / "nope.json"
    proc = subprocess.run([str(SCRIPT), "--ros-args", "-p", f"model:={missing}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"fusion model {missing}: no such file" in proc.stderr, proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = subprocess.run([str(SCRIPT), "--ros-args", "-p", f"model:={bad}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not valid JSON" in proc.stderr, proc.stderr
