"""Mobile robot (REP-103 motion) and swimmer (travelling wave propulsion)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.frames import LINK_TO_OPTICAL
from sim.ground_truth.poses import camera_state, odometry
from sim.scenes.mobile_robot import (
    MobileRobotParams,
    cmd_vel_to_ctrl,
    mobile_robot_scene,
    static_transforms,
)
from sim.scenes.swimmer import SwimmerParams, swimmer_scene, travelling_wave
from sim.sensors.joints import JointStateReader
from sim.spatial import quat_to_mat
from sim.world import SimWorld


def _yaw(world: SimWorld) -> float:
    r = world.body_pose("base_link").rotation
    return float(np.arctan2(r[1, 0], r[0, 0]))


def _drive(v: float, w: float, seconds: float = 1.5, start=(0.0, 0.0, 0.0)) -> SimWorld:
    params = MobileRobotParams(start=start)
    world = SimWorld(mobile_robot_scene(params))
    world.set_ctrl(cmd_vel_to_ctrl(v, w, params))
    world.step_until(seconds)
    return world


def test_forward_moves_along_base_x() -> None:
    world = _drive(0.3, 0.0, start=(0.0, 0.0, np.pi / 2))  # facing +y
    p = world.body_pose("base_link").position
    assert p[1] > 0.35 and abs(p[0]) < 0.02
    odom = odometry(world)
    assert odom.twist.linear[0] == pytest.approx(0.3, abs=0.02)  # base_link axes
    assert abs(odom.twist.linear[1]) < 0.01


def test_positive_yaw_rate_turns_counter_clockwise() -> None:
    world = _drive(0.0, 1.0)
    assert 1.2 < _yaw(world) < 1.6
    assert np.linalg.norm(world.body_pose("base_link").position[:2]) < 0.05
    assert odometry(world).twist.angular[2] == pytest.approx(1.0, abs=0.05)
    world = _drive(0.2, -0.8)
    assert _yaw(world) < -0.9 and world.body_pose("base_link").position[1] < -0.05


def test_cmd_vel_mapping_keeps_the_turn_radius_when_saturated() -> None:
    p = MobileRobotParams()
    left, right = cmd_vel_to_ctrl(100.0, 50.0, p)
    assert max(abs(left), abs(right)) == pytest.approx(p.max_wheel_speed)
    v = (left + right) / 2 * p.wheel_radius
    w = (right - left) / p.wheel_separation * p.wheel_radius
    assert v / w == pytest.approx(2.0)


def test_camera_frames_follow_rep103_and_optical_convention() -> None:
    world = SimWorld(mobile_robot_scene(MobileRobotParams(start=(1.0, 0.5, 0.3))))
    base = world.body_pose("base_link")
    link_tf, optical_tf = static_transforms()
    assert (link_tf.parent, link_tf.child, optical_tf.child) == (
        "base_link", "camera_link", "camera_optical_frame")
    np.testing.assert_allclose(optical_tf.pose.quaternion_xyzw, [-0.5, 0.5, -0.5, 0.5])
    expected = base.compose(link_tf.pose).compose(LINK_TO_OPTICAL)
    cam = world.camera_pose("camera")
    np.testing.assert_allclose(cam.position, expected.position, atol=1e-9)
    np.testing.assert_allclose(cam.rotation, expected.rotation, atol=1e-9)
    # optical z looks along base x, optical y points down
    np.testing.assert_allclose(cam.rotation[:, 2], base.rotation[:, 0], atol=1e-6)
    np.testing.assert_allclose(cam.rotation[:, 1], [0, 0, -1], atol=1e-2)
    state = camera_state(world, "camera")
    assert state.t_ns == 0


def test_joint_states_report_wheel_speeds() -> None:
    world = _drive(0.3, 0.0, seconds=0.8)
    js = JointStateReader(world.model, ["wheel_left", "wheel_right"]).read(world.data)
    np.testing.assert_allclose(js.velocity, 0.3 / 0.06, rtol=0.03)
    assert js.t_ns == world.time_ns


def test_swimmer_travelling_wave_moves_the_head() -> None:
    params = SwimmerParams(n_links=6)
    world = SimWorld(swimmer_scene(params))
    start = world.body_pose("head").position.copy()
    steps = round(0.02 / world.timestep)  # 50 Hz control
    while world.time < 4.0:
        world.set_ctrl(travelling_wave(world.time, params.n_links - 1, frequency=0.5))
        world.step(steps)
    moved = world.body_pose("head").position - start
    assert np.linalg.norm(moved[:2]) > 0.1
    # head first: the nose (-y of the head) leads
    heading = -quat_to_mat(world.body_pose("head").quaternion)[:, 1]
    assert np.dot(moved[:2], heading[:2]) > 0
    js = JointStateReader(world.model).read(world.data)
    assert "joint_1" in js.names and np.isfinite(js.position).all()
