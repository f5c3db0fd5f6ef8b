"""``neuro/MobileRobot-v0``: the differential-drive robot of :mod:`sim.scenes.mobile_robot`
driving to a goal in the room."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from sim.ground_truth.poses import odometry
from sim.ground_truth.sdf import SCENE_CLASSES, SceneSDF
from sim.gym.base import SimEnv, add_marker_sphere, parse_obs_type
from sim.gym.observers import DepthObserver, EventVoxelObserver, RgbObserver, split_steps
from sim.scenes import make_scene
from sim.scenes.mobile_robot import BASE, CAMERA, DEPTH_CAMERA, cmd_vel_to_ctrl
from sim.sensors.imu import ImuNoiseParams, SimImu
from sim.world import SimWorld

OBS_PARTS = ("state", "rgb", "depth", "events")
STATE_SIZE = 15
#: Heights (m) at which a goal must keep ``goal_clearance`` from walls and objects.
_CLEARANCE_HEIGHTS = (0.05, 0.15, 0.3)


@dataclass
class ReachGoalTask:
    """Reward and termination of reaching a goal position (see :class:`MobileRobotEnv`)."""

    progress_weight: float
    goal_reward: float
    collision_penalty: float
    time_penalty: float
    goal_tolerance: float
    terminate_on_collision: bool
    goal_min_distance: float
    goal_max_distance: float
    goal_clearance: float

    def sample_goal(self, rng: np.random.Generator, origin: np.ndarray,
                    sdf: SceneSDF) -> np.ndarray:
        """A goal ``goal_min..max_distance`` from ``origin`` with ``goal_clearance`` from
        walls and objects (the clearest of 64 draws if none has it)."""
        r = rng.uniform(self.goal_min_distance, self.goal_max_distance, 64)
        a = rng.uniform(-math.pi, math.pi, 64)
        xy = origin[None, :2] + np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
        pts = np.concatenate([np.column_stack([xy, np.full(len(xy), z)])
                              for z in _CLEARANCE_HEIGHTS])
        clearance = sdf.distance_and_gradient(pts)[0].reshape(len(_CLEARANCE_HEIGHTS),
                                                              -1).min(axis=0)
        ok = np.flatnonzero(clearance >= self.goal_clearance)
        return xy[ok[0] if ok.size else int(np.argmax(clearance))].copy()

    def reset(self, position: np.ndarray, goal: np.ndarray) -> float:
        self.goal = np.asarray(goal, np.float64).copy()
        self._distance = float(np.linalg.norm(self.goal - position[:2]))
        return self._distance

    def evaluate(self, position: np.ndarray,
                 n_collisions: int) -> tuple[float, bool, dict[str, Any]]:
        distance = float(np.linalg.norm(self.goal - position[:2]))
        reached = distance < self.goal_tolerance
        collided = n_collisions > 0
        reward_progress = self.progress_weight * (self._distance - distance)
        reward_collision = -self.collision_penalty if collided else 0.0
        reward_goal = self.goal_reward if reached else 0.0
        reward = reward_progress + reward_collision + reward_goal - self.time_penalty
        self._distance = distance
        terminated = reached or (self.terminate_on_collision and collided)
        info = {"distance_to_goal": distance, "goal": self.goal.copy(), "is_success": reached,
                "collision": collided, "n_collisions": int(n_collisions),
                "reward_progress": reward_progress, "reward_collision": reward_collision,
                "reward_goal": reward_goal}
        return reward, terminated, info


class MobileRobotEnv(SimEnv):
    """Differential-drive robot: ``cmd_vel`` in, state/images/events out, reach the goal.

    **Action**: ``Box([-V, -W], [V, W])`` float32, ``(v, w)``: forward speed (m/s) and yaw
    rate (rad/s, counter-clockwise), held for the control step and mapped to the wheel
    velocity actuators by :func:`sim.scenes.mobile_robot.cmd_vel_to_ctrl`.

    **Observation** (``obs_type``: one part, or several joined by ``+`` giving a ``Dict``):

    * ``"state"``: ``Box(-inf, inf, (15,))`` float64: ``x, y`` (m, odom = world),
      ``cos yaw, sin yaw``, ``v_x, v_y`` (m/s, base_link axes), ``yaw rate`` (rad/s),
      IMU specific force (3, m/s^2) and angular velocity (3, rad/s) in base_link axes (with
      the EuRoC noise model when ``imu_noise``), and the goal in base_link axes (2, m).
    * ``"rgb"``: ``uint8`` (H, W, 3) of the robot's ``camera``.
    * ``"depth"``: ``float32`` (H, W) z-depth (m) of ``depth_camera``, clipped to
      ``max_depth``.
    * ``"events"``: ``float32`` (num_bins, H, W) voxel grid of the ``camera``'s events over
      the step (:class:`sim.gym.observers.EventVoxelObserver`).

    Only ``"state"`` carries the goal: combine it with the image parts for goal reaching.

    **Task** (:class:`ReachGoalTask`): per step ``r = progress_weight (d_prev - d) -
    time_penalty - collision_penalty [collision] + goal_reward [d < goal_tolerance]``, ``d``
    the planar distance of ``base_link`` to the goal; a collision is a contact of any robot
    geom with anything but the floor at the end of the step. Terminated when the goal is
    reached (or on a collision with ``terminate_on_collision``); ``gymnasium.make``
    truncates at 500 steps (25 s). Info: ``distance_to_goal``, ``goal`` (2,), ``is_success``,
    ``collision``, ``n_collisions``, ``reward_progress``, ``reward_collision``,
    ``reward_goal``.

    **Reset** (from the environment's generator): the robot at the scene's start position
    plus ``U(-p, p)`` per axis (``p = start_position_noise``) with yaw ``U(-y, y)``
    (``y = start_yaw_noise``); the goal ``U(goal_min_distance, goal_max_distance)`` away in a
    uniform direction, at least ``goal_clearance`` from walls and objects (scene SDF at
    0.05, 0.15 and 0.3 m height); IMU noise and event emulator re-seeded.

    ============================ ========= ===================================================
    argument                     default   meaning
    ============================ ========= ===================================================
    obs_type                     "state"   parts ``state``, ``rgb``, ``depth``, ``events``
                                           joined by ``+``
    width, height                64, 48    camera resolution (px) of image parts
    num_bins                     5         voxel grid time bins
    event_preset                 "clean"   emulator preset
    event_frames_per_step        2         frames rendered per step for the emulator
    max_depth                    10.0      depth clip (m)
    imu_noise                    True      EuRoC IMU noise in the state
    frame_skip                   25        physics steps (0.002 s) per action: dt 0.05 s
    max_linear_speed             0.5       V (m/s)
    max_angular_speed            1.5       W (rad/s)
    progress_weight              10.0      reward per metre of progress to the goal
    goal_reward                  10.0      reward on reaching the goal
    collision_penalty            1.0       reward subtracted per step in collision
    time_penalty                 0.01      reward subtracted every step
    goal_tolerance               0.3       goal radius (m)
    goal_min_distance            1.0       least start-goal distance (m)
    goal_max_distance            2.5       largest start-goal distance (m)
    goal_clearance               0.45      least goal distance to walls and objects (m)
    start_position_noise         0.2       start x/y noise half width (m)
    start_yaw_noise              pi        start yaw noise half width (rad)
    terminate_on_collision       False     end the episode on a collision
    scene_params                 None      :class:`MobileRobotParams` overrides
    render_mode                  None      None or ``"rgb_array"``
    render_width, render_height  320, 240  ``rgb_array`` size (px): camera tracking the robot
    ============================ ========= ===================================================
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, obs_type: str = "state", width: int = 64, height: int = 48,
                 num_bins: int = 5, event_preset: str = "clean",
                 event_frames_per_step: int = 2, max_depth: float = 10.0,
                 imu_noise: bool = True, frame_skip: int = 25,
                 max_linear_speed: float = 0.5, max_angular_speed: float = 1.5,
                 progress_weight: float = 10.0, goal_reward: float = 10.0,
                 collision_penalty: float = 1.0, time_penalty: float = 0.01,
                 goal_tolerance: float = 0.3, goal_min_distance: float = 1.0,
                 goal_max_distance: float = 2.5, goal_clearance: float = 0.45,
                 start_position_noise: float = 0.2, start_yaw_noise: float = math.pi,
                 terminate_on_collision: bool = False,
                 scene_params: dict[str, Any] | None = None, render_mode: str | None = None,
                 render_width: int = 320, render_height: int = 240) -> None:
        self.obs_parts = parse_obs_type(obs_type, OBS_PARTS)
        self.obs_type = obs_type
        scene = make_scene("mobile_robot", **(scene_params or {}))
        self.params = scene.params
        self._init_physics(scene, frame_skip, render_mode=render_mode,
                           render_width=render_width, render_height=render_height,
                           track_body=BASE, track_distance=2.5, track_elevation=-35.0,
                           track_azimuth=-135.0)
        self.width, self.height = int(width), int(height)
        self._grow_offscreen(self.width, self.height)
        self.max_linear_speed = float(max_linear_speed)
        self.max_angular_speed = float(max_angular_speed)
        self.start_position_noise = float(start_position_noise)
        self.start_yaw_noise = float(start_yaw_noise)
        self._frames_per_step = int(event_frames_per_step)
        self.task = ReachGoalTask(
            float(progress_weight), float(goal_reward), float(collision_penalty),
            float(time_penalty), float(goal_tolerance), bool(terminate_on_collision),
            float(goal_min_distance), float(goal_max_distance), float(goal_clearance))

        m = self.model
        self._base = self.world.body_id(BASE)
        free = self.world._id(mujoco.mjtObj.mjOBJ_JOINT, "base_free")
        self._free_q, self._free_v = int(m.jnt_qposadr[free]), int(m.jnt_dofadr[free])
        self._robot_geom = np.asarray(m.body_rootid[m.geom_bodyid] == self._base)
        self._floor = self.world._id(mujoco.mjtObj.mjOBJ_GEOM, "floor")
        obstacle_classes = [c for c in SCENE_CLASSES if c not in ("floor", "ceiling")]
        self.sdf = SceneSDF(m, self.data, SceneSDF.default_geoms(m, obstacle_classes))
        self.imu = SimImu(m, noise=ImuNoiseParams() if imu_noise else None)

        self.events: EventVoxelObserver | None = None
        self.rgb: RgbObserver | None = None
        self.depth: DepthObserver | None = None
        parts: dict[str, spaces.Space] = {
            "state": spaces.Box(-np.inf, np.inf, (STATE_SIZE,), np.float64)}
        if "events" in self.obs_parts:
            self.events = self._own(EventVoxelObserver(
                m, CAMERA, self.width, self.height, num_bins=num_bins, preset=event_preset,
                frames_per_step=event_frames_per_step))
            parts["events"] = self.events.space
        if "rgb" in self.obs_parts:
            if self.events is None:
                self.rgb = self._own(RgbObserver(m, CAMERA, self.width, self.height))
            parts["rgb"] = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        if "depth" in self.obs_parts:
            self.depth = self._own(DepthObserver(m, DEPTH_CAMERA, self.width, self.height,
                                                 max_depth))
            parts["depth"] = self.depth.space
        if len(self.obs_parts) == 1:
            self.observation_space = parts[self.obs_parts[0]]
        else:
            self.observation_space = spaces.Dict({k: parts[k] for k in self.obs_parts})
        high = np.array([self.max_linear_speed, self.max_angular_speed], np.float32)
        self.action_space = spaces.Box(-high, high, dtype=np.float32)

    # ------------------------------------------------------------------ physics helpers
    def _collisions(self) -> int:
        """Contacts of robot geoms with anything but the floor."""
        n = 0
        for c in self.data.contact[:self.data.ncon]:
            g1, g2 = int(c.geom1), int(c.geom2)
            r1, r2 = self._robot_geom[g1], self._robot_geom[g2]
            if r1 != r2 and (g2 if r1 else g1) != self._floor:
                n += 1
        return n

    def _state(self) -> np.ndarray:
        odom = odometry(self.world, BASE)
        r = odom.pose.rotation
        pos = odom.pose.position
        goal_base = r[:2, :2].T @ (self.task.goal - pos[:2])
        imu = self.imu.read(self.data)
        return np.concatenate([
            pos[:2], r[:2, 0] / max(float(np.linalg.norm(r[:2, 0])), 1e-12),
            odom.twist.linear[:2], odom.twist.angular[2:], imu.linear_acceleration,
            imu.angular_velocity, goal_base]).astype(np.float64)

    def _observation(self, events: np.ndarray | None) -> Any:
        out: dict[str, np.ndarray] = {}
        if "state" in self.obs_parts:
            out["state"] = self._state()
        if self.events is not None:
            assert events is not None
            out["events"] = events
        if "rgb" in self.obs_parts:
            if self.events is not None:
                frame = self.events.last_frame
                assert frame is not None
                out["rgb"] = frame.copy()
            else:
                assert self.rgb is not None
                out["rgb"] = self.rgb.observe(self.data)
        if self.depth is not None:
            out["depth"] = self.depth.observe(self.data)
        return out[self.obs_parts[0]] if len(self.obs_parts) == 1 else out

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        w: SimWorld = self.world
        w.reset()
        d = self.data
        x0, y0, _ = self.params.start
        pn, yn = self.start_position_noise, self.start_yaw_noise
        x, y = np.array([x0, y0]) + (rng.uniform(-pn, pn, 2) if pn > 0 else 0.0)
        yaw = float(rng.uniform(-yn, yn)) if yn > 0 else float(self.params.start[2])
        q = self._free_q
        d.qpos[q:q + 2] = x, y
        d.qpos[q + 3:q + 7] = math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)
        mujoco.mj_forward(self.model, d)
        goal = self.task.sample_goal(rng, np.array([x, y]), self.sdf)
        distance = self.task.reset(np.array([x, y]), goal)
        self.imu.reset(int(rng.integers(2**32)))
        events = None
        if self.events is not None:
            events = self.events.reset(d, int(rng.integers(2**32)))
        info = {"distance_to_goal": distance, "goal": goal.copy(), "is_success": False}
        return self._observation(events), info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, np.float64).reshape(2), self.action_space.low,
                    self.action_space.high)
        self.world.set_ctrl(cmd_vel_to_ctrl(float(a[0]), float(a[1]), self.params))
        for n in split_steps(self.frame_skip, self._frames_per_step if self.events else 1):
            self.world.step(n)
            if self.events is not None:
                self.events.capture(self.data)
        events = self.events.observe() if self.events is not None else None
        reward, terminated, info = self.task.evaluate(
            self.data.xpos[self._base], self._collisions())
        return self._observation(events), reward, terminated, False, info

    def _render_markers(self, scene: Any) -> None:
        goal = getattr(self.task, "goal", None)
        if goal is not None:
            add_marker_sphere(scene, np.array([goal[0], goal[1], 0.1]),
                              self.task.goal_tolerance / 2, (0.1, 0.9, 0.2, 0.6))


__all__ = ["MobileRobotEnv", "ReachGoalTask"]
