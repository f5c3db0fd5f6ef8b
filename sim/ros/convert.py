"""Simulator outputs (numpy, poses) -> ROS messages, stamped with sim time."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, TransformStamped, Vector3
from nav_msgs.msg import Odometry as OdometryMsg
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState, PointCloud2, PointField

from sim.frames import StaticTransform
from sim.ground_truth.poses import Odometry
from sim.sensors.imu import ImuSample
from sim.sensors.joints import JointStates
from sim.spatial import Pose


def stamp(t_ns: int) -> Time:
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def quat(q_wxyz: np.ndarray) -> Quaternion:
    w, x, y, z = (float(v) for v in q_wxyz)
    return Quaternion(x=x, y=y, z=z, w=w)


def vec(v: np.ndarray) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def image(t_ns: int, frame_id: str, array: np.ndarray, encoding: str) -> Image:
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, step=array.strides[0],
                data=array.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp(t_ns), frame_id
    return msg


def camera_info(t_ns: int, frame_id: str, width: int, height: int,
                intrinsics: tuple[float, float, float, float]) -> CameraInfo:
    fx, fy, cx, cy = intrinsics
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                     d=[0.0] * 5, k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                     r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                     p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])
    msg.header.stamp, msg.header.frame_id = stamp(t_ns), frame_id
    return msg


def point_cloud(t_ns: int, frame_id: str, points: np.ndarray,
                extra: dict[str, np.ndarray] | None = None) -> PointCloud2:
    """xyz float32 (+ extra int32 fields, e.g. class/instance labels), unorganised."""
    extra = extra or {}
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, n in enumerate("xyz")]
    dtype = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    for i, name in enumerate(extra):
        fields.append(PointField(name=name, offset=12 + 4 * i, datatype=PointField.INT32,
                                 count=1))
        dtype.append((name, "<i4"))
    packed = np.empty(len(points), dtype=dtype)
    packed["x"], packed["y"], packed["z"] = points[:, 0], points[:, 1], points[:, 2]
    for name, values in extra.items():
        packed[name] = values
    msg = PointCloud2(height=1, width=len(points), fields=fields, is_bigendian=False,
                      point_step=packed.itemsize, row_step=packed.itemsize * len(points),
                      is_dense=True, data=packed.tobytes())
    msg.header.stamp, msg.header.frame_id = stamp(t_ns), frame_id
    return msg


def imu(sample: ImuSample, frame_id: str) -> Imu:
    msg = Imu(orientation=quat(sample.orientation),
              angular_velocity=vec(sample.angular_velocity),
              linear_acceleration=vec(sample.linear_acceleration))
    msg.header.stamp, msg.header.frame_id = stamp(sample.t_ns), frame_id
    return msg


def joint_state(states: JointStates) -> JointState:
    msg = JointState(name=list(states.names), position=states.position.tolist(),
                     velocity=states.velocity.tolist(), effort=states.effort.tolist())
    msg.header.stamp = stamp(states.t_ns)
    return msg


def odometry(odom: Odometry, child_frame: str) -> OdometryMsg:
    msg = OdometryMsg(child_frame_id=child_frame)
    msg.header.stamp, msg.header.frame_id = stamp(odom.t_ns), odom.frame_id
    p = odom.pose.position
    msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = map(float, p)
    msg.pose.pose.orientation = quat(odom.pose.quaternion)
    msg.twist.twist.linear, msg.twist.twist.angular = vec(odom.twist.linear), vec(
        odom.twist.angular)
    return msg


def transform(t_ns: int, parent: str, child: str, pose: Pose) -> TransformStamped:
    msg = TransformStamped(child_frame_id=child)
    msg.header.stamp, msg.header.frame_id = stamp(t_ns), parent
    msg.transform.translation = vec(pose.position)
    msg.transform.rotation = quat(pose.quaternion)
    return msg


def static_transform(t_ns: int, edge: StaticTransform) -> TransformStamped:
    return transform(t_ns, edge.parent, edge.child, edge.pose)
