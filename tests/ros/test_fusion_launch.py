"""launch/fusion.launch.yaml: it parses and wires the robot's events and depth cloud to the
fusion node, and the running robot's two sensors give fused answers on the sim clock (a tiny
untrained model whose heads each prefer their own class: ``fusion_models``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fusion_models import CLASSES, HEAD_CLASS, tiny_fusion_model
from launch_helpers import node_params

from neuro_nodes.launch import load_launch_file
from neuro_nodes.paths import REPO_ROOT

pytestmark = pytest.mark.ros
BIN = Path(sys.executable).parent
LAUNCH = REPO_ROOT / "launch" / "fusion.launch.yaml"




def test_launch_file_parses_and_wires_events_and_the_depth_cloud_to_the_node() -> None:
    desc = load_launch_file(LAUNCH, {"model": "/m/fusion.json", "stale_after_s": "1.5",
                                     "width": "160", "height": "120"})
    try:
        nodes = {n.name: n for n in desc.nodes}
        assert set(nodes) == {"sim_bridge", "path_driver", "fusion"}
        fusion, bridge = node_params(nodes["fusion"]), node_params(nodes["sim_bridge"])
        assert fusion["model"] == "/m/fusion.json" and fusion["stale_after_s"] == 1.5
        assert fusion["use_sim_time"] is True and fusion["max_points"] == 512
        assert bridge["scene"] == "mobile_robot" and bridge["width"] == 160
        assert bridge["depth"] > 0 and bridge.get("events", 100.0) > 0
        # the event camera sees what the depth camera sees, as in the training set
        scene = yaml.safe_load(bridge["scene_params"])
        from sim.scenes.mobile_robot import MobileRobotParams

        assert scene["camera_fovy"] == MobileRobotParams().depth_fovy
        cmd = nodes["fusion"].cmd
        for remap in ("events:=/events", "points:=/depth/points",
                      "class_probabilities:=/fusion/prediction",
                      "events/class_probabilities:=/fusion/events/prediction",
                      "cloud/class_probabilities:=/fusion/cloud/prediction"):
            assert remap in cmd, cmd
        assert nodes["fusion"].required and nodes["sim_bridge"].required
    finally:
        desc.cleanup()


def test_launch_runs_the_robot_and_fuses_its_events_and_depth_cloud(tmp_path) -> None:
    import rclpy
    from neuro_interfaces.msg import ClassProbabilities
    from ros_helpers import spin_until

    from neuro_nodes.ros.qos import RELIABLE_QOS

    model = tiny_fusion_model(tmp_path)
    proc = subprocess.Popen([str(BIN / "neuro"), "launch", str(LAUNCH), f"model:={model}",
                             "width:=64", "height:=48", "--duration", "80"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    probe = rclpy.create_node("fusion_launch_probe")
    got: dict[str, list[ClassProbabilities]] = {"fused": [], "events": [], "cloud": []}
    for key, topic in (("fused", "/fusion/prediction"), ("events", "/fusion/events/prediction"),
                       ("cloud", "/fusion/cloud/prediction")):
        probe.create_subscription(ClassProbabilities, topic, got[key].append, RELIABLE_QOS)

    def fused() -> list[ClassProbabilities]:
        return [m for m in got["fused"] if m.source == "fused (events+cloud)"]

    try:
        ok = spin_until(probe, lambda: len(fused()) >= 3 and got["events"] and got["cloud"],
                        70.0)
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()
        proc.send_signal(2)  # Ctrl-C: the launch stops its nodes
        out = proc.communicate(timeout=30)[0]
    assert ok, ([m.source for m in got["fused"][-5:]], out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    answer = fused()[-1]
    assert answer.predicted == HEAD_CLASS["fused"] and list(answer.class_names) == list(CLASSES)
    assert answer.header.frame_id == "camera_optical_frame"
    assert 0.0 < answer.header.stamp.sec + answer.header.stamp.nanosec * 1e-9 < 100.0  # sim
    assert got["events"][-1].predicted == HEAD_CLASS["events"]
    assert got["cloud"][-1].predicted == HEAD_CLASS["cloud"]
