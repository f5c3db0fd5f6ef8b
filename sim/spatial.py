"""Rigid-body math for the simulator: quaternions, poses and twists (numpy, world frame).

Conventions (the ones MuJoCo uses, converted to ROS only at the edges):

* Quaternions are ``(w, x, y, z)``, unit norm; :attr:`Pose.quaternion_xyzw` gives ROS order.
* ``Pose(position, quaternion)`` maps child-frame coordinates to parent (world) coordinates:
  ``p_parent = R p_child + position``.
* ``Twist(linear, angular)``: linear velocity of the frame's origin and angular velocity, both
  expressed in the world frame unless a function says otherwise (``Twist.in_body``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


def quat_normalize(q: Array) -> Array:
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_mul(a: Array, b: Array) -> Array:
    """Hamilton product ``a * b`` (rotation ``b`` first, then ``a``)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def quat_conj(q: Array) -> Array:
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_from_axis_angle(axis: Array, angle: float | Array) -> Array:
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    half = 0.5 * np.asarray(angle, dtype=np.float64)
    return np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * axis], axis=-1)


def quat_from_rotvec(v: Array) -> Array:
    """Exponential map: rotation vector (axis * angle) -> quaternion."""
    v = np.asarray(v, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle, with its limit 1/2 at angle -> 0
    k = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-300), 0.5 - angle**2 / 48)
    return np.concatenate([np.cos(half), k * v], axis=-1)


def quat_to_rotvec(q: Array) -> Array:
    """Logarithm map: quaternion -> rotation vector (shortest rotation, angle <= pi)."""
    q = quat_normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    vn = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(vn, q[..., :1])
    k = np.where(vn > 1e-12, angle / np.maximum(vn, 1e-300), 2.0)
    return k * q[..., 1:]


def quat_to_mat(q: Array) -> Array:
    w, x, y, z = np.moveaxis(quat_normalize(q), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


def mat_to_quat(m: Array) -> Array:
    """Rotation matrix (3x3) -> unit quaternion with w >= 0 (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = quat_normalize(np.array(q))
    return -q if q[0] < 0 else q


def quat_rotate(q: Array, v: Array) -> Array:
    return np.asarray(v, dtype=np.float64) @ quat_to_mat(q).T


def skew(v: Array) -> Array:
    x, y, z = v
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


@dataclass(frozen=True)
class Pose:
    """A rigid transform parent <- child: ``position`` (3,) and ``quaternion`` (w, x, y, z)."""

    position: Array
    quaternion: Array

    @staticmethod
    def identity() -> Pose:
        return Pose(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))

    @staticmethod
    def from_matrix(rotation: Array, position: Array) -> Pose:
        return Pose(np.asarray(position, dtype=np.float64).copy(), mat_to_quat(rotation))

    @property
    def rotation(self) -> Array:
        return quat_to_mat(self.quaternion)

    @property
    def matrix(self) -> Array:
        """The 4x4 homogeneous transform."""
        t = np.eye(4)
        t[:3, :3] = self.rotation
        t[:3, 3] = self.position
        return t

    @property
    def quaternion_xyzw(self) -> Array:
        """The quaternion in ROS (geometry_msgs) order."""
        w, x, y, z = self.quaternion
        return np.array([x, y, z, w])

    def compose(self, other: Pose) -> Pose:
        """``self * other``: the pose of ``other``'s child in ``self``'s parent frame."""
        return Pose(self.position + quat_rotate(self.quaternion, other.position),
                    quat_normalize(quat_mul(self.quaternion, other.quaternion)))

    def inverse(self) -> Pose:
        qi = quat_conj(self.quaternion)
        return Pose(-quat_rotate(qi, self.position), qi)

    def apply(self, points: Array) -> Array:
        """Child-frame points (..., 3) to parent-frame points."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.position


@dataclass(frozen=True)
class Twist:
    """Velocity of a frame: ``linear`` (of its origin) and ``angular``, in the world frame."""

    linear: Array
    angular: Array

    @staticmethod
    def zero() -> Twist:
        return Twist(np.zeros(3), np.zeros(3))

    def at(self, origin: Array, point: Array) -> Twist:
        """The same rigid motion, described at ``point`` instead of ``origin``."""
        offset = np.asarray(point, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
        return Twist(self.linear + np.cross(self.angular, offset), self.angular.copy())

    def in_body(self, pose: Pose) -> Twist:
        """Both vectors expressed in the axes of ``pose`` (ROS Odometry twist convention)."""
        rt = pose.rotation.T
        return Twist(rt @ self.linear, rt @ self.angular)

    def point_velocity(self, origin: Array, points: Array) -> Array:
        """World velocity (N, 3) of world points (N, 3) moving with this rigid motion."""
        return self.linear + np.cross(self.angular, np.asarray(points) - np.asarray(origin))


__all__ = [
    "Pose",
    "Twist",
    "mat_to_quat",
    "quat_conj",
    "quat_from_axis_angle",
    "quat_from_rotvec",
    "quat_mul",
    "quat_normalize",
    "quat_rotate",
    "quat_to_mat",
    "quat_to_rotvec",
    "skew",
]
