"""egomotion and optical_flow nodes, their window cutting, and the sim's true camera twist."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.windows import fixed_count_windows
from neuro_nodes.ros.event_window import (
    EventWindowParams,
    WindowCutter,
    camera_from_info,
    estimator_factory,
    fallback_camera,
)

BIN = Path(sys.executable).parent


def stream(n: int, seed: int = 0, width: int = 64, height: int = 48) -> EventArray:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.integers(1, 2000, n))  # ns
    return EventArray(t=t, x=rng.integers(0, width, n), y=rng.integers(0, height, n),
                      p=rng.integers(0, 2, n), width=width, height=height)


# -- pure: window cutting, intrinsics, the method registry ---------------------------------
def test_count_windows_from_any_chunking_are_the_fixed_count_windows() -> None:
    from neuro_nodes.perception.types import PinholeCamera

    events = stream(10_000)
    cam = PinholeCamera.from_fovy(64, 48, 60.0)
    expected = list(fixed_count_windows(events, cam, 1234))
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(events), 40))
    cutter = WindowCutter(1234)
    got = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(events)], strict=True):
        got += cutter.push(events[a:b])
    assert len(got) == len(expected) == 10_000 // 1234
    for (ev, t0, t1), w in zip(got, expected, strict=True):
        assert ev.equals(w.events) and (t0, t1) == (w.t0_s, w.t1_s)


def test_time_slices_cover_the_stream_on_a_grid_and_skip_gaps() -> None:
    ev = stream(5000)
    gap = EventArray(t=ev.t[-1] + 5_000_000 + np.arange(3000) * 1000, x=np.zeros(3000, int),
                     y=np.zeros(3000, int), p=np.ones(3000, int), width=64, height=48)
    cutter = WindowCutter(1, window_s=0.001)
    slices = cutter.push(ev[:2000]) + cutter.push(ev[2000:]) + cutter.push(gap)
    starts = np.array([t0 for _, t0, _ in slices])
    assert all(abs((t1 - t0) - 0.001) < 1e-12 for _, t0, t1 in slices)
    k = np.round((starts - ev.t[0] * 1e-9) / 0.001)  # on the grid from the first event
    np.testing.assert_allclose(starts, ev.t[0] * 1e-9 + k * 0.001, atol=1e-12)
    for events, t0, t1 in slices:
        assert len(events) and t0 <= events.t[0] * 1e-9 and events.t[-1] * 1e-9 < t1
    # every event before the last complete slice's end is in exactly one slice
    n = sum(len(e) for e, _, _ in slices)
    assert n == int(np.sum(np.r_[ev.t, gap.t] * 1e-9 < slices[-1][2]))
    assert np.diff(k).max() >= 5  # the 5 ms pause gives no (empty) slices


def test_camera_info_without_k_falls_back_to_fovy_or_focal_parameters() -> None:
    from sensor_msgs.msg import CameraInfo

    assert camera_from_info(CameraInfo(width=346, height=260)) is None
    info = CameraInfo(width=346, height=260, k=[200.0, 0, 170, 0, 201.0, 130, 0, 0, 1])
    cam = camera_from_info(info)
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width) == (200.0, 201.0, 170.0, 130.0, 346)
    f = fallback_camera(EventWindowParams(fovy=90.0), 346, 260)
    assert f.fy == pytest.approx(130.0) and f.cx == 172.5
    f = fallback_camera(EventWindowParams(fx=300.0), 346, 260)
    assert (f.fx, f.fy, f.cx, f.cy) == (300.0, 300.0, 172.5, 129.5)


def test_imu_rotation_must_be_a_rotation() -> None:
    from neuro_nodes.core.params import validated

    with pytest.raises(ValueError, match="imu_rotation"):
        validated(EventWindowParams(imu_rotation=(1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0)))


def test_an_unregistered_method_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"method 'no_such_method'.*registered"):
        estimator_factory("no_such_method")


# -- the simulation's true camera twist ---------------------------------------------------
def test_camera_twist_of_the_rig_is_its_trajectory_in_optical_axes() -> None:
    from sim.frames import LINK_TO_OPTICAL
    from sim.ground_truth.poses import odometry
    from sim.ros.bridge import OPTICAL, camera_twist, frame_in
    from sim.runner import scene_rig
    from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene, camera_rig_trajectory
    from sim.spatial import quat_to_mat
    from sim.world import SimWorld

    params = CameraRigParams(backdrop="wall", motion="mixed", linear_speed=0.7,
                             angular_speed=0.9)
    world = SimWorld(camera_rig_scene(params))
    rig = scene_rig("camera_rig", params)
    mount = frame_in(rig.static, rig.base_frame, OPTICAL)
    traj = camera_rig_trajectory(params)
    r_lo = LINK_TO_OPTICAL.rotation
    for t in (0.1, 0.37, 1.3):
        world.step_until(t)
        tw = camera_twist(odometry(world, rig.base_body), mount)
        lin, ang = traj.twist(world.time)
        r_wo = quat_to_mat(traj.pose(world.time)[1]) @ r_lo  # optical axes in the world
        np.testing.assert_allclose(tw.angular, r_wo.T @ ang, atol=1e-9)
        np.testing.assert_allclose(tw.linear, r_wo.T @ lin, atol=1e-9)
        assert np.linalg.norm(ang) > 0.1 and np.linalg.norm(lin) > 0.1


def test_camera_twist_of_the_robot_is_mujocos_camera_velocity() -> None:
    from sim.ground_truth.poses import camera_state, odometry
    from sim.ros.bridge import OPTICAL, camera_twist, frame_in
    from sim.runner import scene_rig
    from sim.scenes import make_scene
    from sim.scenes.mobile_robot import cmd_vel_to_ctrl
    from sim.world import SimWorld

    spec = make_scene("mobile_robot")
    world = SimWorld(spec)
    rig = scene_rig("mobile_robot", spec.params)
    mount = frame_in(rig.static, rig.base_frame, OPTICAL)
    world.set_ctrl(cmd_vel_to_ctrl(0.4, 0.8, spec.params))
    world.step_until(1.5)
    tw = camera_twist(odometry(world, rig.base_body), mount)
    truth = camera_state(world, "camera").twist_optical
    np.testing.assert_allclose(tw.angular, truth.angular, atol=1e-9)
    np.testing.assert_allclose(tw.linear, truth.linear, atol=1e-9)
    assert abs(tw.angular[1]) > 0.3  # turning about world z = about optical -y
