"""SimWorld: time, reset, twists of ordinary and mocap bodies, frame data."""

from __future__ import annotations

import numpy as np
import pytest

from sim.frames import LINK_TO_OPTICAL, MUJOCO_CAMERA_TO_OPTICAL
from sim.scenes import make_scene
from sim.spatial import Pose, Twist, quat_conj, quat_mul, quat_to_rotvec
from sim.world import SimWorld


def test_fixed_timestep_and_reset_are_deterministic() -> None:
    world = SimWorld(make_scene("swimmer"), init_qpos_noise=0.2, seed=5)
    q0 = world.data.qpos.copy()
    world.step(100)
    assert world.time_ns == round(100 * world.timestep * 1e9)
    world.reset(seed=5)
    assert world.time == 0 and np.array_equal(world.data.qpos, q0)
    world.reset(seed=6)
    assert not np.array_equal(world.data.qpos, q0)


def test_body_twist_matches_pose_differences() -> None:
    world = SimWorld(make_scene("mobile_robot"))
    world.set_ctrl([3.0, 6.0])
    world.step_until(0.5)
    p0 = world.body_pose("wheel_left")
    tw = world.body_twist("wheel_left")
    world.step(1)
    p1 = world.body_pose("wheel_left")
    dt = world.timestep
    np.testing.assert_allclose((p1.position - p0.position) / dt, tw.linear, atol=2e-3)
    rate = quat_to_rotvec(quat_mul(p1.quaternion, quat_conj(p0.quaternion))) / dt
    np.testing.assert_allclose(rate, tw.angular, atol=2e-2)


def test_mocap_camera_twist_is_the_trajectory() -> None:
    world = SimWorld(make_scene("camera_rig", motion="mixed"))
    world.step_until(0.25)
    c0 = world.camera_pose("camera")
    tw = world.camera_twist("camera")
    world.step(1)
    c1 = world.camera_pose("camera")
    np.testing.assert_allclose((c1.position - c0.position) / world.timestep, tw.linear,
                               atol=2e-3)


def test_spatial_helpers() -> None:
    pose = Pose(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.5, 0.5]))
    ident = pose.compose(pose.inverse())
    np.testing.assert_allclose(ident.position, 0, atol=1e-12)
    np.testing.assert_allclose(ident.rotation, np.eye(3), atol=1e-12)
    tw = Twist(np.array([1.0, 0, 0]), np.array([0, 0, 1.0]))
    assert tw.at(np.zeros(3), np.array([0.0, 1.0, 0.0])).linear == pytest.approx([0, 0, 0])


def test_optical_frame_conventions_agree() -> None:
    from sim.frames import MUJOCO_CAMERA_XYAXES

    x, y = np.array(MUJOCO_CAMERA_XYAXES[:3]), np.array(MUJOCO_CAMERA_XYAXES[3:])
    r_cam_in_link = np.stack([x, y, np.cross(x, y)], axis=1)
    np.testing.assert_allclose(r_cam_in_link @ MUJOCO_CAMERA_TO_OPTICAL,
                               LINK_TO_OPTICAL.rotation, atol=1e-12)
