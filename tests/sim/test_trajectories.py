"""Scripted trajectories: the analytic twist is the derivative of the pose."""

from __future__ import annotations

import numpy as np
import pytest

from sim.scenes.camera_rig import CameraRigParams, camera_rig_trajectory
from sim.spatial import quat_conj, quat_mul, quat_to_mat, quat_to_rotvec
from sim.trajectories import CircleTrajectory, Trajectory


def _finite_difference(traj: Trajectory, t: float, h: float = 1e-5):
    p0, q0 = traj.pose(t - h)
    p1, q1 = traj.pose(t + h)
    lin = (p1 - p0) / (2 * h)
    ang = quat_to_rotvec(quat_mul(q1, quat_conj(q0))) / (2 * h)  # world-frame rate
    return lin, ang


@pytest.mark.parametrize("motion", ["pure_rotation", "pure_translation", "mixed"])
def test_camera_rig_twist_matches_finite_differences(motion: str) -> None:
    traj = camera_rig_trajectory(CameraRigParams(motion=motion, linear_speed=0.8,
                                                 angular_speed=1.2))
    for t in np.linspace(0.0, 5.0, 11):
        lin, ang = traj.twist(t)
        lin_fd, ang_fd = _finite_difference(traj, t)
        np.testing.assert_allclose(lin, lin_fd, atol=1e-6)
        np.testing.assert_allclose(ang, ang_fd, atol=1e-6)
        if motion == "pure_rotation":
            assert np.allclose(lin, 0)
        if motion == "pure_translation":
            assert np.allclose(ang, 0)


def test_camera_rig_speed_is_the_peak_per_axis() -> None:
    traj = camera_rig_trajectory(CameraRigParams(motion="pure_translation", linear_speed=0.5))
    r0 = quat_to_mat(np.asarray(traj.q0))  # amplitudes are along the base pose's axes
    local = [r0.T @ traj.twist(t)[0] for t in np.linspace(0, 20, 4001)]
    peak = np.max(np.abs(local), axis=0)
    assert peak.max() == pytest.approx(0.5, rel=1e-2)


def test_circle_twist_matches_finite_differences() -> None:
    traj = CircleTrajectory(center=(0.5, -0.2, 0.1), radius=1.3, rate=0.7, spin=-1.1, phase=0.4)
    for t in (0.0, 0.9, 3.3):
        lin, ang = traj.twist(t)
        lin_fd, ang_fd = _finite_difference(traj, t)
        np.testing.assert_allclose(lin, lin_fd, atol=1e-6)
        np.testing.assert_allclose(ang, ang_fd, atol=1e-6)


def test_world_reports_the_trajectory_for_the_mocap_rig() -> None:
    from sim.scenes.camera_rig import camera_rig_scene
    from sim.world import SimWorld

    params = CameraRigParams(motion="mixed", backdrop="wall")
    world = SimWorld(camera_rig_scene(params))
    world.step_until(0.37)
    traj = camera_rig_trajectory(params)
    pos, quat = traj.pose(world.time)
    pose = world.body_pose("camera_rig")
    np.testing.assert_allclose(pose.position, pos, atol=1e-9)
    assert abs(abs(np.dot(pose.quaternion, quat)) - 1) < 1e-9
    lin, ang = traj.twist(world.time)
    tw = world.camera_twist("camera")  # camera at the rig origin
    np.testing.assert_allclose(tw.linear, lin, atol=1e-9)
    np.testing.assert_allclose(tw.angular, ang, atol=1e-9)
