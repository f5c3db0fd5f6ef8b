"""pointcloud_snn over DDS: a cloud of two boxes in, labels, two detections, their class
probabilities, markers and energy reports out; bad clouds counted on /diagnostics while the
node goes on; a missing model stops the start-up with its path.

The models are tiny untrained networks biased to one class (``pointcloud_models``): every
point is a chair, every cluster a lamp, so the detections are exactly the boxes' clusters.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pointcloud_models import CLS_CLASS, CLS_CLASSES, SEG_CLASS, SEG_CLASSES, tiny_models

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-pointcloud-snn"
FRAME = "test_optical"
# two boxes in front of the camera (optical frame: y down, z forward), 0.9 m apart
BOXES = (((-0.5, 0.2, 1.5), (0.3, 0.4, 0.3)), ((0.6, 0.0, 2.0), (0.4, 0.3, 0.3)))


def solid(rng: np.random.Generator, n: int, center, size) -> np.ndarray:
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5)
                        for z in (-0.5, 0.5)])
    return np.r_[corners, rng.uniform(-0.5, 0.5, (n - 8, 3))] * size + center


def two_boxes(n_per_box: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[tuple(solid(rng, n_per_box, c, s) for c, s in BOXES)].astype(np.float32)


def cloud(points: np.ndarray, *, fields=("x", "y", "z"), dtype: str = "<f4",
          point_step: int | None = None, n: int | None = None):
    """An unorganised cloud; the keywords make it malformed."""
    from sensor_msgs.msg import PointCloud2, PointField

    dt = np.dtype(dtype)
    kind = PointField.FLOAT32 if dt == np.float32 else PointField.FLOAT64
    pts = np.ascontiguousarray(points[:, :len(fields)], dt)
    msg = PointCloud2(height=1, width=len(pts) if n is None else n, is_bigendian=False,
                      point_step=point_step or dt.itemsize * len(fields), is_dense=False,
                      data=pts.tobytes(),
                      fields=[PointField(name=f, offset=dt.itemsize * i, datatype=kind,
                                         count=1) for i, f in enumerate(fields)])
    msg.row_step = msg.point_step * msg.width
    msg.header.frame_id = FRAME
    return msg


def read_labels(msg) -> tuple[np.ndarray, np.ndarray]:
    from sensor_msgs.msg import PointField

    f = {p.name: p for p in msg.fields}
    assert f["label"].datatype == PointField.INT32 and f["x"].datatype == PointField.FLOAT32
    dt = np.dtype({"names": ["x", "y", "z", "label"], "formats": ["<f4"] * 3 + ["<i4"],
                   "offsets": [f[n].offset for n in ("x", "y", "z", "label")],
                   "itemsize": msg.point_step})
    rec = np.frombuffer(bytes(msg.data), dt, count=msg.width * msg.height)
    return np.c_[rec["x"], rec["y"], rec["z"]], rec["label"].copy()


@pytest.fixture
def probe():
    import rclpy

    rclpy.init()
    node = rclpy.create_node("pointcloud_snn_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def set_param(node, name: str, value) -> tuple[bool, str]:
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    from ros_helpers import spin_until

    client = node.create_client(SetParameters, "/pointcloud_snn/set_parameters")
    assert client.wait_for_service(timeout_sec=30.0)
    future = client.call_async(SetParameters.Request(
        parameters=[Parameter(name, value=value).to_parameter_msg()]))
    assert spin_until(node, future.done, 30.0)
    result = future.result().results[0]
    return result.successful, result.reason


def stop(proc: subprocess.Popen) -> str:
    alive = proc.poll() is None
    proc.terminate()
    out = proc.communicate(timeout=30)[0]
    assert alive, out
    assert proc.returncode == 0 and "Traceback" not in out, out
    return out


def test_node_labels_detects_classifies_reports_energy_and_survives_bad_clouds(
        probe, tmp_path) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from neuro_interfaces.msg import ClassProbabilities, Detection3DArray, EnergyReport
    from ros_helpers import spin_until
    from sensor_msgs.msg import PointCloud2
    from visualization_msgs.msg import Marker, MarkerArray

    from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

    seg, cls = tiny_models(tmp_path)
    proc = subprocess.Popen(
        [str(SCRIPT), "--ros-args", "-p", f"seg_model:={seg}", "-p", f"cls_model:={cls}",
         "-p", "threads:=1", "-p", "max_points:=2500", "-p", "min_cluster_points:=50"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got: dict[str, list] = {k: [] for k in ("labels", "det", "probs", "markers", "energy")}
    diags: list[dict[str, str]] = []
    for key, typ, topic in (("labels", PointCloud2, "/labels"),
                            ("det", Detection3DArray, "/detections"),
                            ("probs", ClassProbabilities, "/class_probabilities"),
                            ("markers", MarkerArray, "/markers"),
                            ("energy", EnergyReport, "/energy")):
        probe.create_subscription(typ, topic, got[key].append, RELIABLE_QOS)
    probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diags.extend(
        {kv.key: kv.value for kv in s.values} for s in m.status
        if s.hardware_id.endswith("pointcloud_snn")), 10)
    pub = probe.create_publisher(PointCloud2, "/points", SENSOR_QOS)
    outside = np.c_[np.zeros((100, 2)), np.full(100, 5.0)]  # beyond the box's z = 3 m
    good = np.r_[two_boxes(1200), outside, np.full((20, 3), np.nan)].astype(np.float32)
    try:
        assert spin_until(probe, lambda: pub.get_subscription_count() >= 1
                          and len(got["det"]) == 0 and diags, 60.0), "node did not start"
        pub.publish(cloud(good))
        assert spin_until(probe, lambda: got["det"] and len(got["energy"]) >= 2
                          and len(got["probs"]) >= 2 and got["markers"], 60.0), got
        first = {k: list(v) for k, v in got.items()}
        # bad clouds, each checked on arrival: counted by reason
        for bad in (cloud(good, fields=("x", "y")),  # no z
                    cloud(good, dtype="<f8"),  # FLOAT64
                    cloud(good, point_step=24),  # too short for its point_step
                    cloud(good[:0]),  # no points
                    cloud(np.full((50, 3), np.nan, np.float32))):  # all NaN
            pub.publish(bad)
            time.sleep(0.05)
        time.sleep(0.3)
        pub.publish(cloud(np.c_[np.zeros((50, 2)), np.full(50, 9.0)]))  # nothing in the box
        assert spin_until(probe, lambda: len(got["det"]) >= 2, 30.0), "no output after bad"
        # a remote change of the profile: the next report is priced on Loihi
        assert set_param(probe, "energy_profile", "loihi") == (True, "")
        assert set_param(probe, "min_cluster_points", 0)[0] is False  # out of range
        # the node goes on: a bigger cloud (subsampled to max_points) is detected again
        pub.publish(cloud(two_boxes(2000, seed=1)))
        assert spin_until(probe, lambda: len(got["det"]) >= 3 and len(got["energy"]) >= 4
                          and diags and int(diags[-1].get("inferences", 0)) >= 2, 60.0), (
            got["det"], diags[-1:])
        last = diags[-1]
    finally:
        out = stop(proc)

    # labels: every finite point, -1 beyond the voxel box, the model's class inside
    lab_msg = first["labels"][0]
    assert lab_msg.header.frame_id == FRAME
    xyz, labels = read_labels(lab_msg)
    assert len(labels) == 2400 + 100 == lab_msg.width  # the 20 NaN points are dropped
    np.testing.assert_array_equal(xyz, good[:2500])
    assert (labels[2400:] == -1).all() and (labels[:2400] == SEG_CLASS).all()
    # detections: the two boxes
    arr = first["det"][0]
    assert arr.header.frame_id == FRAME and len(arr.detections) == 2
    for d, (center, size) in zip(sorted(arr.detections, key=lambda d: d.center.position.x),
                                 BOXES, strict=True):
        assert d.class_name == SEG_CLASSES[SEG_CLASS] and d.class_id == SEG_CLASS
        assert d.num_points == 1200 and 0.99 < d.score <= 1.0
        c = d.center.position
        np.testing.assert_allclose((c.x, c.y, c.z), center, atol=1e-3)
        np.testing.assert_allclose(np.sort([d.size.x, d.size.z]), np.sort([size[0], size[2]]),
                                   atol=1e-3)
        assert d.size.y == pytest.approx(size[1], abs=1e-3)
    # class probabilities: one per detection, from the classifier, naming it
    probs = first["probs"][:2]
    assert [p.predicted for p in probs] == [CLS_CLASS, CLS_CLASS]
    assert list(probs[0].class_names) == list(CLS_CLASSES)
    assert sum(probs[0].probabilities) == pytest.approx(1.0, abs=1e-4)
    assert {p.source for p in probs} == {"cls_tiny: detections[0] (chair)",
                                         "cls_tiny: detections[1] (chair)"}
    # markers: DELETEALL first, then a box and a label per detection
    m = first["markers"][0].markers
    assert m[0].action == Marker.DELETEALL
    assert sorted(x.type for x in m[1:]) == [Marker.CUBE] * 2 + [Marker.TEXT_VIEW_FACING] * 2
    # energy: one report per model, priced on cmos45nm (0.9 pJ per SOP, 4.6 pJ per MAC)
    reports = {r.model: r for r in first["energy"][:2]}
    assert set(reports) == {"seg_tiny", "cls_tiny"}
    assert reports["seg_tiny"].inferences == 1 and reports["cls_tiny"].inferences == 2
    for r in reports.values():
        assert r.profile == "cmos45nm" and r.synaptic_ops > 0 and r.energy_j > 0
        assert r.energy_j == pytest.approx(0.9e-12 * r.synaptic_ops + 4.6e-12 * r.macs)
        assert r.dense_energy_j > 0 and r.layers
        assert sum(x.synaptic_ops for x in r.layers) == r.synaptic_ops
    # nothing in the box: counted, and the boxes of the last cloud are cleared
    assert len(got["det"][1].detections) == 0
    assert [x.action for x in got["markers"][1].markers] == [Marker.DELETEALL]
    # the second good cloud: max_points of its 4000 points, the same two objects
    assert got["labels"][-1].width == 2500
    assert len(got["det"][-1].detections) == 2
    assert sum(d.num_points for d in got["det"][-1].detections) == 2500
    loihi = {r.model: r for r in got["energy"][2:]}
    assert set(loihi) == {"seg_tiny", "cls_tiny"}
    for r in loihi.values():  # 23.6 pJ per SOP on Loihi
        assert r.profile == "loihi" and r.inferences in (1, 2)
        assert r.energy_j == pytest.approx(23.6e-12 * r.synaptic_ops + 4.6e-12 * r.macs)
    # bad clouds were counted by reason, on /diagnostics
    assert int(last.get("error:bad_cloud", 0)) == 3, last
    assert int(last.get("error:empty_cloud", 0)) == 1, last
    assert int(last.get("error:no_finite_points", 0)) == 1, last
    assert int(last.get("error:nothing_in_box", 0)) == 1, last
    assert int(last["clouds"]) == 8 and int(last["inferences"]) == 2, last
    assert "bad_cloud" in out  # logged


def test_a_missing_model_stops_the_start_up_with_its_path(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "seg.json"
    res = subprocess.run([str(SCRIPT), "--ros-args", "-p", f"seg_model:={missing}",
                          "-p", "classify_clusters:=false"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{missing}: no such file" in res.stderr, res.stderr


def test_models_are_checked_for_their_task(tmp_path) -> None:
    from neuro_nodes.perception import pointcloud_model as pcm
    from neuro_nodes.ros.pointcloud_snn import load_model

    seg, cls = tiny_models(tmp_path, bias=False)
    assert load_model(str(seg), "segmentation", "").class_names == SEG_CLASSES
    with pytest.raises(ValueError, match="a classification model where a segmentation"):
        load_model(str(cls), "segmentation", "")
    # "": the shipped model; while it is not trained yet the error says how to get it
    shipped = pcm.default_model_path("classification")
    if shipped.is_file():
        assert load_model("", "classification", "").task == "classification"
    else:
        with pytest.raises(ValueError, match="neuro train pointcloud"):
            load_model("", "classification", "")
