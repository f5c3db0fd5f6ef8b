"""sim_bridge: sensors, TF and ground truth over DDS; cmd_vel; pause/step/reset; SDF query."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from event_camera_msgs.msg import EventPacket
from geometry_msgs.msg import Point, Twist
from nav_msgs.msg import Odometry
from neuro_interfaces.srv import QueryDistance, StepSimulation
from ros_helpers import spin_until
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, PointCloud2
from std_srvs.srv import SetBool, Trigger
from tf2_msgs.msg import TFMessage

from neuro_nodes.events.codecs import make_decoder
from neuro_nodes.ros.qos import EVENTS_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-sim-bridge"


def call(node, srv_type, name: str, request, timeout: float = 20.0):
    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), name
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f"{name} did not answer"
    return future.result()


@pytest.fixture
def bridge():
    proc = subprocess.Popen([str(SCRIPT), "--ros-args", "-p", "scene:=mobile_robot",
                             "-p", "width:=96", "-p", "height:=72", "-p", "ground_truth:=5.0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("sim_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()
    proc.terminate()
    output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output


def test_bridge_publishes_drives_and_answers(bridge) -> None:
    node = bridge
    got: dict[str, list] = {k: [] for k in ("clock", "events", "image", "imu", "odom", "tf",
                                           "static", "flow", "points", "gt_points", "depth_info",
                                           "info")}
    subs = [(Clock, "/clock", "clock", RELIABLE_QOS), (EventPacket, "/events", "events",
            EVENTS_QOS), (Image, "/camera/image_raw", "image", SENSOR_QOS),
            (Imu, "/imu", "imu", SENSOR_QOS), (Odometry, "/ground_truth/odom", "odom",
            RELIABLE_QOS), (TFMessage, "/tf", "tf", RELIABLE_QOS),
            (TFMessage, "/tf_static", "static", LATCHED_QOS),
            (Image, "/ground_truth/flow", "flow", SENSOR_QOS),
            (PointCloud2, "/depth/points", "points", SENSOR_QOS),
            (PointCloud2, "/ground_truth/points", "gt_points", SENSOR_QOS),
            (CameraInfo, "/depth/camera_info", "depth_info", LATCHED_QOS),
            (CameraInfo, "/camera/camera_info", "info", LATCHED_QOS)]
    for msg_type, topic, key, qos in subs:
        node.create_subscription(msg_type, topic, got[key].append, qos)
    cmd = node.create_publisher(Twist, "/cmd_vel", 10)
    assert spin_until(node, lambda: all(got.values()), 60.0), {k: len(v) for k, v in
                                                                got.items()}
    # TF tree as REP-105 says, sensor frames, sim time
    static = {(t.header.frame_id, t.child_frame_id) for t in got["static"][0].transforms}
    assert {("map", "odom"), ("base_link", "camera_link"),
            ("camera_link", "camera_optical_frame")} <= static
    assert got["tf"][-1].transforms[0].child_frame_id == "base_link"
    assert got["image"][-1].width == 96 and got["image"][-1].encoding == "rgb8"
    assert got["flow"][-1].encoding == "32FC2"
    # the depth camera's own intrinsics (58 deg vertical field of view, not the RGB's 60)
    fy_depth, fy_rgb = got["depth_info"][-1].k[4], got["info"][-1].k[4]
    assert np.isclose(fy_depth, 0.5 * 72 / np.tan(np.radians(29.0)), rtol=1e-6)
    assert fy_depth > fy_rgb
    assert "class" in [f.name for f in got["gt_points"][-1].fields]
    assert got["clock"][-1].clock.sec * 10**9 + got["clock"][-1].clock.nanosec > 0
    assert {p.encoding for p in got["events"]} == {"evt3"}

    # /cmd_vel drives the robot forward (x, REP-103)
    x0 = got["odom"][-1].pose.pose.position.x
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and got["odom"][-1].pose.pose.position.x < x0 + 0.1:
        msg = Twist()
        msg.linear.x = 0.4
        cmd.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.05)
    assert got["odom"][-1].pose.pose.position.x > x0 + 0.1
    assert got["odom"][-1].twist.twist.linear.x > 0.1
    decoder = make_decoder("evt3", 96, 72)
    events = sum(len(decoder.decode(bytes(p.events)).events) for p in got["events"])
    assert events > 0

    # pause, step exactly, reset
    assert call(node, SetBool, "/sim_bridge/pause", SetBool.Request(data=True)).success
    spin_until(node, lambda: False, 0.3)
    t0 = got["clock"][-1].clock
    res = call(node, StepSimulation, "/sim_bridge/step", StepSimulation.Request(steps=50))
    assert res.success
    stepped = (res.sim_time.sec - t0.sec) * 10**9 + res.sim_time.nanosec - t0.nanosec
    assert abs(stepped - 50 * 2_000_000) <= 2_000_000
    assert call(node, Trigger, "/sim_bridge/reset", Trigger.Request()).success
    res = call(node, StepSimulation, "/sim_bridge/step", StepSimulation.Request(steps=10))
    assert res.sim_time.sec == 0 and res.sim_time.nanosec == 20_000_000

    # exact signed distance of the scene: 0.5 m above the floor, inside a wall
    req = QueryDistance.Request(points=[Point(x=0.0, y=0.0, z=0.5), Point(x=0.0, y=0.0,
                                                                          z=-0.2)])
    res = call(node, QueryDistance, "/ground_truth/query_distance", req)
    assert res.success and len(res.distances) == 2
    assert 0.0 < res.distances[0] <= 0.5 + 1e-6
    assert res.distances[1] < 0.0
    assert np.isclose(np.linalg.norm([res.gradients[0].x, res.gradients[0].y,
                                      res.gradients[0].z]), 1.0, atol=1e-3)
