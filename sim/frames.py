"""Frame conventions (REP-103/REP-105) and the static transforms the TF tree needs.

Tree: ``map -> odom -> base_link -> camera_link -> camera_optical_frame``.

* ``map``/``odom``: the MuJoCo world frame (z up). In simulation odometry is perfect, so
  ``map -> odom`` is the identity (:data:`MAP_TO_ODOM`).
* ``base_link``, ``camera_link``: REP-103 body frames, x forward, y left, z up.
* ``camera_optical_frame``: z forward, x right, y down (:data:`LINK_TO_OPTICAL`).
* A MuJoCo ``<camera>`` looks along its -z with y up and x right; mounted in a
  ``camera_link`` it uses ``xyaxes`` :data:`MUJOCO_CAMERA_XYAXES`, and its frame relates to the
  optical frame by ``R_optical = R_mujoco_camera diag(1, -1, -1)``
  (:data:`MUJOCO_CAMERA_TO_OPTICAL`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.spatial import Pose, mat_to_quat

#: ``xyaxes`` of a MuJoCo camera inside a REP-103 ``camera_link`` (looks along link +x).
MUJOCO_CAMERA_XYAXES: tuple[float, ...] = (0.0, -1.0, 0.0, 0.0, 0.0, 1.0)

#: Rotation MuJoCo camera frame -> optical frame (flip y and z).
MUJOCO_CAMERA_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])

#: Columns: the optical axes (x right, y down, z forward) in ``camera_link`` coordinates.
_R_LINK_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

#: ``camera_link -> camera_optical_frame`` (quaternion xyzw = (-0.5, 0.5, -0.5, 0.5)).
LINK_TO_OPTICAL = Pose(np.zeros(3), mat_to_quat(_R_LINK_OPTICAL))

MAP_TO_ODOM = Pose.identity()


@dataclass(frozen=True)
class StaticTransform:
    """One edge of the TF tree: the pose of ``child`` in ``parent``."""

    parent: str
    child: str
    pose: Pose


def camera_static_transforms(camera_link_in_base: Pose, *, base: str = "base_link",
                             link: str = "camera_link",
                             optical: str = "camera_optical_frame") -> list[StaticTransform]:
    """``base -> camera_link`` and ``camera_link -> camera_optical_frame``."""
    return [StaticTransform(base, link, camera_link_in_base),
            StaticTransform(link, optical, LINK_TO_OPTICAL)]


def frame_in(static: list[StaticTransform] | tuple[StaticTransform, ...], base: str,
             frame: str) -> Pose | None:
    """The pose of ``frame`` in ``base`` through static edges (None without a chain)."""
    pose, at, edges = Pose.identity(), base, {e.parent: e for e in static}
    for _ in range(len(static)):
        if at == frame:
            return pose
        edge = edges.get(at)
        if edge is None:
            return None
        pose, at = pose.compose(edge.pose), edge.child
    return pose if at == frame else None


__all__ = [
    "frame_in",
    "LINK_TO_OPTICAL",
    "MAP_TO_ODOM",
    "MUJOCO_CAMERA_TO_OPTICAL",
    "MUJOCO_CAMERA_XYAXES",
    "StaticTransform",
    "camera_static_transforms",
]
