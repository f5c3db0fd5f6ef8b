"""Gymnasium environments of :mod:`sim.gym`: API conformance, seeding, and the tasks' sense."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim.gym
from sim.gym.camera_rig import TwistMotion
from sim.scenes.swimmer import travelling_wave
from sim.spatial import quat_to_mat

#: (id, fast options) of every registered environment variant worth checking
VARIANTS = [
    ("neuro/Swimmer-v0", {}),
    ("neuro/Swimmer-v0", {"n_links": 3, "forward_direction": "nose"}),
    ("neuro/EventCameraRig-v0", {}),
    ("neuro/EventCameraRig-v0", {"obs_type": "rgb+events", "gt_flow": True,
                                 "width": 32, "height": 24}),
    ("neuro/EventCameraRig-v0", {"control": "scripted", "obs_type": "rgb"}),
    ("neuro/MobileRobot-v0", {}),
    ("neuro/MobileRobot-v0", {"obs_type": "state+depth+events", "width": 32, "height": 24}),
]


def _ids(variant: tuple[str, dict]) -> str:
    env_id, kw = variant
    return env_id.split("/")[1] + "".join(f"-{k}={v}" for k, v in kw.items())


def _equal(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _equal(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def test_ids_are_registered_with_time_limits() -> None:
    for env_id, (entry, steps) in sim.gym.ENVS.items():
        spec = gym.spec(env_id)
        assert spec.entry_point == entry and spec.max_episode_steps == steps
        assert entry.startswith("sim.gym.")
    env = gym.make("neuro/Swimmer-v0")
    assert env.spec.max_episode_steps == 1000 and env.unwrapped.spec.id == "neuro/Swimmer-v0"
    env.close()


@pytest.mark.parametrize("variant", VARIANTS, ids=[_ids(v) for v in VARIANTS])
def test_env_checker_passes(variant: tuple[str, dict]) -> None:
    env_id, kw = variant
    env = gym.make(env_id, render_mode="rgb_array", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite Box bounds, unnormalised cmd_vel ranges
        check_env(env.unwrapped)
    frame = env.unwrapped.render()  # after check_env's resets and steps
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8 and frame.std() > 0
    env.close()
    env.close()  # idempotent
    assert env.unwrapped._renderer is None


@pytest.mark.parametrize("variant", VARIANTS[::2], ids=[_ids(v) for v in VARIANTS[::2]])
def test_same_seed_same_episode(variant: tuple[str, dict]) -> None:
    env_id, kw = variant
    runs = []
    for _ in range(2):
        env = gym.make(env_id, **kw)
        obs, info = env.reset(seed=7)
        env.action_space.seed(7)
        trace = [obs]
        for _ in range(4):
            obs, reward, *_ = env.step(env.action_space.sample())
            trace += [obs, reward]
        runs.append(trace)
        env.close()
    assert all(_equal(a, b) for a, b in zip(*runs, strict=True))


def test_different_seeds_differ() -> None:
    for env_id in ("neuro/Swimmer-v0", "neuro/MobileRobot-v0"):
        env = gym.make(env_id)
        a, _ = env.reset(seed=1)
        b, _ = env.reset(seed=2)
        assert not np.array_equal(a, b)
        env.close()


def test_swimmer_spaces_follow_n_links() -> None:
    for n in (3, 12):
        env = gym.make("neuro/Swimmer-v0", n_links=n,
                       exclude_current_positions_from_observation=False)
        assert env.action_space.shape == (n - 1,)
        assert env.observation_space.shape == (2 * n + 5,)
        assert env.unwrapped.dt == pytest.approx(0.04)
        env.close()


def test_swimmer_travelling_wave_swims_and_zero_action_does_not() -> None:
    env = gym.make("neuro/Swimmer-v0")
    returns = {}
    for name in ("wave", "zero"):
        env.reset(seed=0)
        total = 0.0
        for k in range(100):
            t = k * env.unwrapped.dt
            a = travelling_wave(t, 5, frequency=0.5) if name == "wave" else np.zeros(5)
            _, reward, terminated, truncated, info = env.step(a.astype(np.float32))
            total += reward
            assert not (terminated or truncated)
        returns[name] = total
    env.close()
    assert returns["wave"] > 2.0  # ~ 0.17 m in 4 s at dt = 0.04 s
    assert abs(returns["zero"]) < 0.05


def _towards_goal(state: np.ndarray) -> np.ndarray:
    bearing = math.atan2(state[14], state[13])  # goal in base_link axes
    return np.array([0.5 * max(0.0, math.cos(bearing)), np.clip(2.0 * bearing, -1.5, 1.5)],
                    np.float32)


def test_mobile_robot_driving_to_the_goal_pays_and_terminates() -> None:
    env = gym.make("neuro/MobileRobot-v0")
    state, info = env.reset(seed=0)
    d0 = info["distance_to_goal"]
    np.testing.assert_allclose(np.linalg.norm(state[13:15]), d0, rtol=1e-6)
    total, steps = 0.0, 0
    for steps in range(1, 200):  # noqa: B007 - steps is used after the loop
        state, reward, terminated, truncated, info = env.step(_towards_goal(state))
        total += reward
        if terminated or truncated:
            break
    assert terminated and info["is_success"] and not truncated
    assert total > 10.0 * (d0 - 0.3) and info["reward_goal"] == 10.0
    assert steps < 100

    state, info = env.reset(seed=0)  # the opposite command loses reward
    away = sum(env.step(-_towards_goal(state))[1] for _ in range(10))
    assert away < 0


def test_mobile_robot_reports_collisions() -> None:
    env = gym.make("neuro/MobileRobot-v0", terminate_on_collision=True)
    env.reset(seed=0)
    for _ in range(300):
        _, reward, terminated, _, info = env.step(np.array([0.5, 0.0], np.float32))
        if terminated:
            break
    assert info["collision"] and not info["is_success"]
    assert reward < 0
    env.close()


@pytest.mark.parametrize("env_id", ["neuro/EventCameraRig-v0", "neuro/MobileRobot-v0"])
def test_events_observation_while_moving(env_id: str) -> None:
    env = gym.make(env_id, obs_type="events", event_preset="ideal", num_bins=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 48, 64) and obs.dtype == np.float32 and not obs.any()
    still = np.zeros(env.action_space.shape, np.float32)
    for _ in range(4):  # the robot settles on its wheels first
        obs, *_ = env.step(still)
    assert not obs.any()  # ideal sensor, nothing moves: no events
    move = np.zeros(env.action_space.shape, np.float32)
    move[1 if env_id.endswith("MobileRobot-v0") else 4] = 1.0  # turn
    counts = []
    for _ in range(3):
        obs, *_ = env.step(move)
        assert obs in env.observation_space
        counts.append(np.abs(obs).sum())
    assert min(counts) > 50
    assert np.abs(obs).sum(axis=(1, 2)).min() > 0  # every time bin holds events
    env.close()


def test_rig_twist_command_is_the_ground_truth_twist() -> None:
    env = gym.make("neuro/EventCameraRig-v0", obs_type="rgb", reset_noise_scale=0.0)
    _, info0 = env.reset(seed=0)
    action = np.array([0.3, -0.1, 0.2, 0.0, 0.0, 0.0], np.float32)  # optical frame
    _, _, _, _, info = env.step(action)
    np.testing.assert_allclose(info["camera_twist"], action, atol=1e-6)
    pose0, pose1 = info0["camera_pose"], info["camera_pose"]  # optical frame, wxyz
    expected = pose0[:3] + quat_to_mat(pose0[3:]) @ action[:3] * env.unwrapped.dt
    np.testing.assert_allclose(pose1[:3], expected, atol=1e-9)
    action = np.array([0.2, 0.0, 0.0, 0.3, -0.5, 0.4], np.float32)
    _, _, _, _, info = env.step(action)
    np.testing.assert_allclose(info["camera_twist"], action, atol=1e-6)
    env.close()


def test_twist_motion_matches_finite_differences() -> None:
    motion = TwistMotion(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))
    motion.command(0.0, np.array([0.4, -0.2, 0.1]), np.array([0.5, -1.0, 2.0]))
    t, h = 0.3, 1e-6
    (p0, _), (p1, _) = motion.pose(t - h), motion.pose(t + h)
    lin, ang = motion.twist(t)
    np.testing.assert_allclose((p1 - p0) / (2 * h), lin, atol=1e-6)
    motion.command(t, np.zeros(3), np.zeros(3))  # the pose is continuous across commands
    np.testing.assert_allclose(motion.pose(t + 1.0)[0], motion.pose(t)[0], atol=1e-12)
    assert np.linalg.norm(ang) == pytest.approx(math.sqrt(0.25 + 1 + 4))


def test_rig_centering_reward_and_flow() -> None:
    env = gym.make("neuro/EventCameraRig-v0", obs_type="rgb", gt_flow=True, width=32,
                   height=24, reset_noise_scale=0.0)
    _, info = env.reset(seed=0)
    u = info["target_pixel"][0]
    # turn towards the target: positive rotation about optical y (down) turns right
    turn = np.array([0, 0, 0, 0, -1.0 if u < 15.5 else 1.0, 0], np.float32)
    angles = [info["target_angle"]]
    for _ in range(10):
        _, reward, _, _, info = env.step(turn)
        angles.append(info["target_angle"])
    assert angles[-1] < angles[0]
    assert reward == pytest.approx(math.cos(angles[-1]) - 0.01, abs=1e-6)
    assert info["flow"].shape == (24, 32, 2) and info["flow"].dtype == np.float32
    assert np.isfinite(info["flow"]).all() and np.abs(info["flow"]).mean() > 1.0
    env.close()


def test_invalid_options_raise() -> None:
    with pytest.raises(ValueError, match="obs_type"):
        gym.make("neuro/MobileRobot-v0", obs_type="state+lidar")
    with pytest.raises(ValueError, match="control"):
        gym.make("neuro/EventCameraRig-v0", control="joystick")
    with pytest.raises(ValueError):
        gym.make("neuro/Swimmer-v0", n_links=2)
