"""The mapper node over DDS: depth images + TF of a known wall in, distances out.

A camera 1 m above the floor looks along map +y (its base is turned 90 degrees) at a wall
at y = 2 m, so every pixel's z-depth is 2 m. The node must answer ``~/query_distance``
with the distance to that wall (in the map frame and through TF in the base's frame), count
bad input on /diagnostics and live on, cap its update rate, and save/load its map.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
W, H, FOVY = 64, 48, 58.0
WALL_Y = 2.0
BASE_XYZ = (0.0, 0.0, 1.0)
OPTICAL_IN_BASE = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)  # z forward = base x


def start(*params: str) -> subprocess.Popen:
    args = [str(BIN / "neuro-mapper"), "--ros-args"]
    for p in params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    alive = proc.poll() is None
    proc.terminate()
    out = proc.communicate(timeout=30)[0]
    assert alive, out
    assert proc.returncode == 0 and "Traceback" not in out, out
    return out


@pytest.fixture
def probe():
    import rclpy

    rclpy.init()
    node = rclpy.create_node("mapper_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()


def transform(parent: str, child: str, xyz, q_xyzw, t_s: float):
    from geometry_msgs.msg import TransformStamped

    tf = TransformStamped(child_frame_id=child)
    tf.header.frame_id = parent
    tf.header.stamp.sec, tf.header.stamp.nanosec = int(t_s), round((t_s % 1) * 1e9)
    tf.transform.translation.x, tf.transform.translation.y, tf.transform.translation.z = xyz
    r = tf.transform.rotation
    r.x, r.y, r.z, r.w = q_xyzw
    return tf


def depth_msg(t_s: float, *, frame: str = "camera_optical_frame", encoding: str = "32FC1",
              data: bytes | None = None):
    from sensor_msgs.msg import Image

    depth = np.full((H, W), WALL_Y, np.float32)
    msg = Image(height=H, width=W, encoding=encoding, step=4 * W,
                data=depth.tobytes() if data is None else data)
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t_s), round((t_s % 1) * 1e9)
    return msg


class Scene:
    """The probe's publishers: TF (static mount, the base's pose), camera info, depth."""

    def __init__(self, node) -> None:
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        from neuro_nodes.ros.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

        self.node = node
        self.tf = node.create_publisher(TFMessage, "/tf", RELIABLE_QOS)
        self.tf_static = node.create_publisher(TFMessage, "/tf_static", LATCHED_QOS)
        self.info = node.create_publisher(CameraInfo, "/depth/camera_info", LATCHED_QOS)
        self.depth = node.create_publisher(Image, "/depth/image", SENSOR_QOS)

    def ready(self) -> None:
        from ros_helpers import spin_until
        from sensor_msgs.msg import CameraInfo
        from tf2_msgs.msg import TFMessage

        pubs = (self.tf, self.tf_static, self.info, self.depth)
        assert spin_until(self.node, lambda: all(p.get_subscription_count() >= 1
                                                 for p in pubs), 60.0)
        yaw = math.pi / 2
        q_base = (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        self.tf_static.publish(TFMessage(transforms=[transform(
            "base_link", "camera_optical_frame", OPTICAL_IN_BASE[:3], OPTICAL_IN_BASE[3:],
            0.0)]))
        self.tf.publish(TFMessage(transforms=[transform("map", "base_link", BASE_XYZ, q_base,
                                                        float(t)) for t in range(0, 60)]))
        f = 0.5 * H / math.tan(math.radians(FOVY) / 2)
        self.info.publish(CameraInfo(width=W, height=H, k=[f, 0.0, (W - 1) / 2, 0.0, f,
                                                           (H - 1) / 2, 0.0, 0.0, 1.0]))
        time.sleep(0.5)  # the latched samples and the TF reach the node before the images

    def scans(self, t0: float, n: int, period_s: float, **kw) -> None:
        for k in range(n):
            self.depth.publish(depth_msg(t0 + k * 0.1, **kw))
            time.sleep(period_s)


def call(node, client, request, timeout: float = 30.0):
    from ros_helpers import spin_until

    assert client.wait_for_service(timeout_sec=30.0), client.srv_name
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f"{client.srv_name} did not answer"
    return future.result()


def query(node, client, points, frame: str = ""):
    from geometry_msgs.msg import Point
    from neuro_interfaces.srv import QueryDistance

    req = QueryDistance.Request(frame_id=frame,
                                points=[Point(x=x, y=y, z=z) for x, y, z in points])
    res = call(node, client, req)
    grads = np.array([[g.x, g.y, g.z] for g in res.gradients]).reshape(-1, 3)
    return res, np.array(res.distances), grads, np.array(res.observed)


def diagnostics_of(node, name: str, into: list) -> None:
    from diagnostic_msgs.msg import DiagnosticArray

    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: into.extend(
        {kv.key: kv.value for kv in s.values} for s in m.status
        if s.hardware_id.endswith(name)), 10)


# points in front of the camera (map +y from the base at (0, 0, 1)), distance to the wall
FREE = np.array([[0.0, 1.0, 1.0], [0.1, 1.5, 1.05], [-0.1, 1.8, 0.95], [0.0, 1.2, 1.1]])
TRUE_DISTANCE = WALL_Y - FREE[:, 1]


def test_mapper_maps_a_wall_answers_queries_counts_bad_input_and_saves(probe,
                                                                       tmp_path) -> None:
    from neuro_interfaces.srv import QueryDistance
    from ros_helpers import spin_until
    from std_srvs.srv import Trigger

    saved = tmp_path / "maps" / "wall.npz"
    proc = start("method:=tsdf", "update_rate_hz:=2.0", f"save_map:={saved}",
                 "slice_period_s:=0.0", "points_period_s:=0.0", "mesh_period_s:=0.0")
    diags: list[dict[str, str]] = []
    diagnostics_of(probe, "mapper", diags)
    q_client = probe.create_client(QueryDistance, "/mapper/query_distance")
    save = probe.create_client(Trigger, "/mapper/save_map")
    try:
        scene = Scene(probe)
        scene.ready()
        scene.scans(1.0, 10, 0.05)  # 20 Hz into a 2 Hz mapper: most are dropped
        scene.depth.publish(depth_msg(2.0, encoding="rgb8"))  # bad: encoding
        scene.depth.publish(depth_msg(2.1, data=b"\x00" * 100))  # bad: too short
        scene.depth.publish(depth_msg(2.2, frame="nowhere"))  # bad: no TF for its frame
        time.sleep(0.6)
        scene.scans(3.0, 4, 0.6)  # then at the mapper's pace: all integrated
        assert spin_until(probe, lambda: diags and int(diags[-1].get("integrated", 0)) >= 5
                          and "error:missing_tf" in diags[-1], 60.0), diags[-1:]
        last = diags[-1]
        res, dist, grad, obs = query(probe, q_client, FREE)
        assert res.success, res.message
        # ... through TF: the same points in base_link (turned 90 deg: map +y = base +x)
        base_pts = np.c_[FREE[:, 1], -FREE[:, 0], FREE[:, 2] - 1.0]
        res_b, dist_b, grad_b, _ = query(probe, q_client, base_pts, "base_link")
        bad_frame = query(probe, q_client, FREE, "no_such_frame")[0]
        saved_res = call(probe, save, Trigger.Request())
    finally:
        out = stop(proc)
    # bad input was counted by reason and the node lived on (it answered afterwards)
    assert int(last.get("error:bad_image", 0)) == 2, (last, out)
    assert int(last["error:missing_tf"]) == 1, last
    n_scans = int(last["scans"])
    assert 15 <= n_scans <= 17, last  # 17 sent, best effort (the sensor-data QoS)
    dropped, integrated = int(last.get("scans_dropped", 0)), int(last["integrated"])
    assert integrated + dropped + 2 + 1 == n_scans, last  # every scan received is accounted
    # the first burst (0.5 s at 20 Hz) allows at most 2 integrations at 2 Hz
    assert 5 <= integrated <= 4 + 3 and dropped >= n_scans - 3 - 7, last
    assert "latency_p50_ms" in last
    # distances to the wall within a voxel (5 cm) and gradients pointing away from it
    assert obs.all(), obs
    np.testing.assert_allclose(dist, TRUE_DISTANCE, atol=0.05)
    assert (grad[:, 1] < -0.8).all(), grad
    # the base-frame query: same distances, gradients rotated into the base's axes
    assert res_b.success, res_b.message
    np.testing.assert_allclose(dist_b, dist, atol=1e-5)
    np.testing.assert_allclose(grad_b, np.c_[grad[:, 1], -grad[:, 0], grad[:, 2]], atol=1e-5)
    assert not bad_frame.success and "no_such_frame" in bad_frame.message
    assert len(bad_frame.distances) == 0
    # saved: the map and its mesh next to it
    assert saved_res.success, saved_res.message
    assert saved.is_file() and saved.with_suffix(".ply").is_file(), saved_res.message

    # a new node started from the saved map answers the same without any scan
    proc = start("method:=tsdf", f"load_map:={saved}", "mesh_period_s:=0.0",
                 "points_period_s:=0.0", "slice_period_s:=0.0")
    try:
        res2, dist2, _, obs2 = query(probe, q_client, FREE)
        reset = probe.create_client(Trigger, "/mapper/reset")
        assert call(probe, reset, Trigger.Request()).success
        _, _, _, obs3 = query(probe, q_client, FREE)
    finally:
        stop(proc)
    assert res2.success and obs2.all()
    np.testing.assert_allclose(dist2, dist, atol=1e-4)
    assert not obs3.any()  # reset forgot the map


def test_a_load_map_of_another_method_or_a_broken_file_stops_start_up(tmp_path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    proc = subprocess.run([str(BIN / "neuro-mapper"), "--ros-args", "-p",
                           f"load_map:={broken}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not a neuro_nodes map file" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
