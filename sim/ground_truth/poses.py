"""Ground-truth poses and twists in the ROS shapes: odometry of a base, state of a camera.

``odometry(world, "base_link")`` is ``nav_msgs/Odometry`` content: the pose of
``base_link`` in ``odom`` (= world; perfect odometry) and the twist in the ``base_link``
axes (REP-105: ``child_frame_id`` frame). ``camera_state`` gives a camera's optical-frame
pose and its world-frame twist, and the same twist in optical axes (what egomotion
estimates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.spatial import Pose, Twist
from sim.world import SimWorld


@dataclass(frozen=True)
class Odometry:
    t_ns: int
    frame_id: str
    child_frame_id: str
    pose: Pose  # child in frame_id
    twist: Twist  # in child_frame_id axes


@dataclass(frozen=True)
class CameraState:
    t_ns: int
    pose: Pose  # optical frame in world
    twist_world: Twist  # at the optical centre, world axes
    twist_optical: Twist  # same, optical axes


def odometry(world: SimWorld, body: str = "base_link", *, frame_id: str = "odom") -> Odometry:
    pose = world.body_pose(body)
    return Odometry(world.time_ns, frame_id, body, pose, world.body_twist(body).in_body(pose))


def camera_state(world: SimWorld, camera: str) -> CameraState:
    pose = world.camera_pose(camera)
    tw = world.camera_twist(camera)
    return CameraState(world.time_ns, pose, tw, tw.in_body(pose))


def camera_twist(odom: Odometry, camera_in_base: Pose) -> Twist:
    """The twist of a camera rigidly mounted on the odometry's body, in the camera's axes:
    linear velocity of its origin and angular velocity (``odom.twist`` is in body axes)."""
    r = camera_in_base.rotation
    v, w = odom.twist.linear, odom.twist.angular
    return Twist(r.T @ (v + np.cross(w, camera_in_base.position)), r.T @ w)


__all__ = ["CameraState", "Odometry", "camera_state", "camera_twist", "odometry"]
