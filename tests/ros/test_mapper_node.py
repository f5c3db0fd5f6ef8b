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
    from tf2_msgs.msg import TFMessage

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
        scene.tf.publish(TFMessage(transforms=[transform(  # bad: a NaN pose
            "map", "base_link", (np.nan, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0), 70.0)]))
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
    assert int(last.get("error:bad_tf", 0)) == 1, last
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


def test_odometry_pose_and_point_clouds_map_the_same_wall(probe) -> None:
    """``pose_source odometry`` (base pose + the fixed mount) and ``input points``."""
    from nav_msgs.msg import Odometry
    from neuro_interfaces.srv import QueryDistance
    from ros_helpers import spin_until
    from sensor_msgs.msg import PointCloud2, PointField

    from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

    mount = ",".join(str(v) for v in OPTICAL_IN_BASE)
    proc = start("method:=tsdf", "input:=points", "pose_source:=odometry",
                 f"sensor_mount:=[{mount}]", "slice_period_s:=0.0", "points_period_s:=0.0",
                 "mesh_period_s:=0.0")
    odom_pub = probe.create_publisher(Odometry, "/odom", RELIABLE_QOS)
    cloud_pub = probe.create_publisher(PointCloud2, "/depth/points", SENSOR_QOS)
    q_client = probe.create_client(QueryDistance, "/mapper/query_distance")
    diags: list[dict[str, str]] = []
    diagnostics_of(probe, "mapper", diags)
    # the wall at z = 2 m in the optical frame, inside a 58 x 75 deg view
    u, v = np.meshgrid(np.linspace(-1.1, 1.1, 80), np.linspace(-0.8, 0.8, 60))
    pts = np.stack([u.ravel(), v.ravel(), np.full(u.size, WALL_Y)], 1).astype(np.float32)
    pts = np.vstack([pts, [[np.nan, 0.0, 1.0]]]).astype(np.float32)  # a NaN point: dropped
    try:
        assert spin_until(probe, lambda: odom_pub.get_subscription_count() >= 1
                          and cloud_pub.get_subscription_count() >= 1, 60.0)
        yaw = math.pi / 2
        for k in range(40):
            o = Odometry()
            o.header.frame_id = "map"
            o.header.stamp.sec, o.header.stamp.nanosec = divmod(k * 100_000_000, 10**9)
            o.pose.pose.position.x, o.pose.pose.position.y, o.pose.pose.position.z = BASE_XYZ
            o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(
                yaw / 2)
            odom_pub.publish(o)
            time.sleep(0.01)  # paced: the reliable depth-10 queues keep every sample
        time.sleep(0.5)
        fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate("xyz")]
        for k in range(4):
            msg = PointCloud2(height=1, width=len(pts), fields=fields, point_step=12,
                              row_step=12 * len(pts), data=pts.tobytes())
            msg.header.frame_id = "camera_optical_frame"
            msg.header.stamp.sec, msg.header.stamp.nanosec = 3, k * 200_000_000
            cloud_pub.publish(msg)
            time.sleep(0.3)
        assert spin_until(probe, lambda: diags and int(diags[-1].get("integrated", 0)) >= 3,
                          60.0), diags[-1:]
        res, dist, grad, obs = query(probe, q_client, FREE)
    finally:
        stop(proc)
    assert res.success and obs.all(), (res.message, obs)
    np.testing.assert_allclose(dist, TRUE_DISTANCE, atol=0.06)
    assert (grad[:, 1] < -0.8).all(), grad


# -- the message conversions, without DDS --------------------------------------------------
def test_depth_images_read_in_metres_with_row_padding_and_both_encodings() -> None:
    from sensor_msgs.msg import Image

    from neuro_nodes.ros.map_convert import depth_image

    d = np.arange(12, dtype=np.float32).reshape(3, 4)
    padded = np.zeros((3, 24), np.uint8)  # step 24 > 16 bytes of data per row
    padded[:, :16] = d.view(np.uint8).reshape(3, 16)
    got = depth_image(Image(height=3, width=4, encoding="32FC1", step=24,
                            data=padded.tobytes()))
    np.testing.assert_array_equal(got, d)
    mm = np.array([[0, 1500], [2000, 65535]], ">u2")
    got = depth_image(Image(height=2, width=2, encoding="16UC1", step=4, is_bigendian=True,
                            data=mm.tobytes()))
    np.testing.assert_allclose(got, [[0.0, 1.5], [2.0, 65.535]], rtol=1e-6)
    with pytest.raises(ValueError, match="encoding 'rgb8'"):
        depth_image(Image(height=2, width=2, encoding="rgb8", step=6, data=b"\x00" * 12))
    with pytest.raises(ValueError, match="do not hold it"):
        depth_image(Image(height=2, width=2, encoding="32FC1", step=8, data=b"\x00" * 12))


def test_clouds_read_by_field_offsets_and_drop_non_finite_points() -> None:
    from sensor_msgs.msg import PointCloud2, PointField

    from neuro_nodes.ros.map_convert import cloud_points

    rec = np.zeros(3, dtype=[("i", "<f4"), ("z", "<f4"), ("x", "<f4"), ("y", "<f4")])
    rec["x"], rec["y"], rec["z"] = [1, 2, np.nan], [3, 4, 5], [6, 7, 8]
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate(("i", "z", "x", "y"))]
    msg = PointCloud2(height=1, width=3, fields=fields, point_step=16, row_step=48,
                      data=rec.tobytes())
    np.testing.assert_array_equal(cloud_points(msg), [[1, 3, 6], [2, 4, 7]])
    msg.fields = fields[:2]
    with pytest.raises(ValueError, match="no field x, y"):
        cloud_points(msg)
    msg.fields, msg.data = fields, rec.tobytes()[:20]
    with pytest.raises(ValueError, match="do not hold it"):
        cloud_points(msg)


def test_mesh_marker_and_occupancy_grid_layout() -> None:
    from builtin_interfaces.msg import Time
    from visualization_msgs.msg import Marker

    from neuro_nodes.mapping.types import TriangleMesh
    from neuro_nodes.ros.map_convert import mesh_marker, occupancy_grid

    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    mesh = TriangleMesh(v, np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]], np.int32))
    m = mesh_marker(mesh, "map", Time(sec=3), max_triangles=2)
    assert m.type == Marker.TRIANGLE_LIST and len(m.points) == 6  # capped: 2 triangles
    assert [(p.x, p.y, p.z) for p in m.points[:3]] == [(0, 0, 0), (1, 0, 0), (0, 1, 0)]
    assert m.header.frame_id == "map" and m.header.stamp.sec == 3 and m.color.a == 1.0
    empty = mesh_marker(TriangleMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)),
                        "map", Time(), max_triangles=10)
    assert len(empty.points) == 0
    values = np.array([[0, 100, -1], [50, 0, 0]], np.int8)  # rows along y
    g = occupancy_grid(values, (-1.0, -2.0), 0.5, 0.3, "map", Time(sec=1))
    assert (g.info.width, g.info.height, g.info.resolution) == (3, 2, 0.5)
    assert (g.info.origin.position.x, g.info.origin.position.y,
            g.info.origin.position.z) == (-1.0, -2.0, 0.3)
    assert list(g.data) == [0, 100, -1, 50, 0, 0]
