"""launch/mapping.launch.yaml: it parses with both methods, and the robot maps the room."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from launch_helpers import node_params

from neuro_nodes.launch import LaunchError, load_launch_file
from neuro_nodes.paths import REPO_ROOT

BIN = Path(sys.executable).parent
LAUNCH = REPO_ROOT / "launch" / "mapping.launch.yaml"




@pytest.mark.parametrize("method", ["neural", "tsdf"])
def test_launch_file_parses_with_each_method(method: str) -> None:
    desc = load_launch_file(LAUNCH, {"method": method, "n_moving": "2"})
    try:
        nodes = {n.name: n for n in desc.nodes}
        assert set(nodes) == {"sim_bridge", "path_driver", "map"}
        mapper, bridge = node_params(nodes["map"]), node_params(nodes["sim_bridge"])
        assert mapper["method"] == method and mapper["use_sim_time"] is True
        assert node_params(nodes["path_driver"])["use_sim_time"] is True
        assert bridge["scene"] == "mobile_robot" and bridge["scene_params"] == "{n_moving: 2}"
        assert "odom:=/ground_truth/odom" in nodes["path_driver"].cmd
        assert nodes["map"].required and nodes["sim_bridge"].required
    finally:
        desc.cleanup()
    with pytest.raises(LaunchError, match="method"):
        load_launch_file(LAUNCH, {"method": "octomap"})


def test_launch_runs_the_robot_and_the_mapper_publishes_a_slice() -> None:
    """``neuro launch launch/mapping.launch.yaml``: the robot drives its loop and the
    TSDF mapper publishes an ESDF slice with free and occupied cells, on the sim clock."""
    import rclpy
    from nav_msgs.msg import OccupancyGrid, Odometry
    from ros_helpers import spin_until

    from neuro_nodes.ros.qos import LATCHED_QOS, RELIABLE_QOS

    proc = subprocess.Popen([str(BIN / "neuro"), "launch", str(LAUNCH), "method:=tsdf",
                             "--duration", "90"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    probe = rclpy.create_node("mapping_launch_probe")
    slices: list[OccupancyGrid] = []
    odom: list[Odometry] = []
    probe.create_subscription(OccupancyGrid, "/map/esdf_slice", slices.append, LATCHED_QOS)
    probe.create_subscription(Odometry, "/ground_truth/odom", odom.append, RELIABLE_QOS)
    try:
        ok = spin_until(probe, lambda: len(slices) >= 2 and len(odom) > 100, 80.0)
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()
        proc.send_signal(2)  # Ctrl-C: the launch stops its nodes
        out = proc.communicate(timeout=30)[0]
    assert ok, (len(slices), len(odom), out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    g = slices[-1]
    assert g.header.frame_id == "map" and g.info.resolution == pytest.approx(0.05)
    data = np.array(g.data)
    assert (data == 0).sum() > 100 and (data == 100).sum() > 10, np.unique(data,
                                                                          return_counts=True)
    assert 0.0 < g.header.stamp.sec + g.header.stamp.nanosec * 1e-9 < 100.0  # sim time
    # the path driver moves the robot (it starts at the origin)
    p = odom[-1].pose.pose.position
    assert np.hypot(p.x, p.y) > 0.2, (p.x, p.y)
