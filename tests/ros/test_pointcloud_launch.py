"""launch/pointcloud.launch.yaml: it parses, and the robot's depth cloud is segmented into
labels, objects and energy reports on the sim clock (tiny untrained models, biased so that
every point in the voxel box is a chair: ``pointcloud_models``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from launch_helpers import node_params
from pointcloud_models import SEG_CLASS, SEG_CLASSES, tiny_models

from neuro_nodes.launch import LaunchError, load_launch_file
from neuro_nodes.paths import REPO_ROOT

pytestmark = pytest.mark.ros
BIN = Path(sys.executable).parent
LAUNCH = REPO_ROOT / "launch" / "pointcloud.launch.yaml"




def test_launch_file_parses_and_wires_the_depth_cloud_to_the_node() -> None:
    desc = load_launch_file(LAUNCH, {"seg_model": "/m/seg.json", "classify_clusters": "false",
                                     "width": "80"})
    try:
        nodes = {n.name: n for n in desc.nodes}
        assert set(nodes) == {"sim_bridge", "path_driver", "pointcloud_snn"}
        snn, bridge = node_params(nodes["pointcloud_snn"]), node_params(nodes["sim_bridge"])
        assert snn["seg_model"] == "/m/seg.json" and snn["cls_model"] == ""
        assert snn["classify_clusters"] is False and snn["use_sim_time"] is True
        assert bridge["scene"] == "mobile_robot" and bridge["width"] == 80
        assert bridge["depth"] > 0 and bridge["events"] == 0.0
        cmd = nodes["pointcloud_snn"].cmd
        for remap in ("points:=/depth/points", "labels:=/points/labels",
                      "detections:=/objects"):
            assert remap in cmd, cmd
        assert nodes["pointcloud_snn"].required and nodes["sim_bridge"].required
    finally:
        desc.cleanup()
    with pytest.raises(LaunchError, match="classify_clusters"):
        load_launch_file(LAUNCH, {"classify_clusters": "maybe"})


def test_launch_runs_the_robot_and_the_snn_labels_its_depth_cloud(tmp_path) -> None:
    import rclpy
    from neuro_interfaces.msg import Detection3DArray, EnergyReport
    from ros_helpers import spin_until
    from sensor_msgs.msg import PointCloud2

    from neuro_nodes.ros.qos import RELIABLE_QOS

    seg, cls = tiny_models(tmp_path)
    proc = subprocess.Popen([str(BIN / "neuro"), "launch", str(LAUNCH), f"seg_model:={seg}",
                             f"cls_model:={cls}", "width:=80", "height:=60",
                             "max_points:=3000", "--duration", "80"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    probe = rclpy.create_node("pointcloud_launch_probe")
    labels: list[PointCloud2] = []
    objects: list[Detection3DArray] = []
    energy: list[EnergyReport] = []
    probe.create_subscription(PointCloud2, "/points/labels", labels.append, RELIABLE_QOS)
    probe.create_subscription(Detection3DArray, "/objects", objects.append, RELIABLE_QOS)
    probe.create_subscription(EnergyReport, "/objects/energy", energy.append, RELIABLE_QOS)
    try:
        ok = spin_until(probe, lambda: len(labels) >= 2 and len(objects) >= 2
                        and len(energy) >= 2, 70.0)
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()
        proc.send_signal(2)  # Ctrl-C: the launch stops its nodes
        out = proc.communicate(timeout=30)[0]
    assert ok, (len(labels), len(objects), len(energy), out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    cloud = labels[-1]
    assert cloud.header.frame_id == "camera_optical_frame"
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "label"]
    assert cloud.width == 3000  # 80 x 60 depth pixels, subsampled to max_points
    label = np.frombuffer(bytes(cloud.data), np.int32).reshape(-1, 4)[:, 3]
    assert set(np.unique(label)) <= {-1, SEG_CLASS} and (label == SEG_CLASS).sum() > 1000
    arr = objects[-1]
    assert arr.header.frame_id == "camera_optical_frame" and arr.detections
    assert {d.class_name for d in arr.detections} == {SEG_CLASSES[SEG_CLASS]}
    assert all(d.num_points >= 30 for d in arr.detections)
    assert 0.0 < arr.header.stamp.sec + arr.header.stamp.nanosec * 1e-9 < 100.0  # sim time
    seg_reports = [r for r in energy if r.model == "seg_tiny"]
    assert seg_reports and all(r.energy_j > 0 and r.synaptic_ops > 0 for r in seg_reports)
