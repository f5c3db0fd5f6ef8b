"""``neuro/EventCameraRig-v0``: a free-flying (event) camera that keeps a target centred.

The camera is the mocap rig of :mod:`sim.scenes.camera_rig`. In ``control="twist"`` mode
the action is a twist command that :class:`TwistMotion` integrates into the mocap pose at
every physics step (SimWorld moves mocap bodies only along trajectories, so the commanded
motion is itself a trajectory object, with the exact pose and twist of a constant body
twist between commands); in ``control="scripted"`` mode the rig follows the scene's
sinusoidal trajectory and the action is empty.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from sim.frames import LINK_TO_OPTICAL
from sim.ground_truth.flow import FlowGroundTruth
from sim.ground_truth.poses import camera_state
from sim.gym.base import SimEnv, add_marker_sphere, parse_obs_type
from sim.gym.observers import EventVoxelObserver, RgbObserver, split_steps
from sim.scenes import make_scene
from sim.scenes.camera_rig import CAMERA, RIG_BODY
from sim.scenes.classes import parse_object_body
from sim.spatial import quat_from_axis_angle, quat_from_rotvec, quat_mul, quat_to_mat, skew
from sim.trajectories import look_at_quaternion
from sim.world import SimWorld

OBS_PARTS = ("rgb", "events")
CONTROLS = ("twist", "scripted")

#: Optical-frame vectors -> camera_link (rig body) vectors.
_R_LINK_OPTICAL = LINK_TO_OPTICAL.rotation


def _se3_left_jacobian(phi: np.ndarray) -> np.ndarray:
    """``V(phi) = sum_k K^k / (k + 1)!`` with ``K = skew(phi)``: the translation integral of a
    constant body twist, ``p(tau) = p0 + R0 V(w tau) v tau``."""
    k = skew(phi)
    th = float(np.linalg.norm(phi))
    if th < 1e-6:
        return np.eye(3) + k / 2 + k @ k / 6
    return (np.eye(3) + (1 - math.cos(th)) / th**2 * k
            + (th - math.sin(th)) / th**3 * (k @ k))


class TwistMotion:
    """A mocap trajectory driven by commands: between two commands the body moves with a
    constant body-frame twist ``(v, w)``, so ``R(t) = R0 Exp(w tau)``,
    ``p(t) = p0 + R0 V(w tau) v tau`` (``tau = t - t0``) and the world twist is
    ``(R(t) v, R(t) w)``: exact ground truth for :class:`sim.world.SimWorld`."""

    def __init__(self, position: np.ndarray, quaternion: np.ndarray) -> None:
        self.reset(position, quaternion)

    def reset(self, position: np.ndarray, quaternion: np.ndarray) -> None:
        self._t0 = 0.0
        self._p0 = np.asarray(position, np.float64).copy()
        self._q0 = np.asarray(quaternion, np.float64).copy()
        self._v = np.zeros(3)
        self._w = np.zeros(3)

    def command(self, t: float, linear: np.ndarray, angular: np.ndarray) -> None:
        """From time ``t`` on, move with body-frame (rig axes) ``linear``/``angular``."""
        self._p0, self._q0 = self.pose(t)
        self._t0 = float(t)
        self._v = np.asarray(linear, np.float64).copy()
        self._w = np.asarray(angular, np.float64).copy()

    def pose(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        tau = float(t) - self._t0
        phi = self._w * tau
        r0 = quat_to_mat(self._q0)
        p = self._p0 + r0 @ (_se3_left_jacobian(phi) @ (self._v * tau))
        q = quat_mul(self._q0, quat_from_rotvec(phi))
        return p, q / np.linalg.norm(q)

    def twist(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        r = quat_to_mat(self.pose(t)[1])
        return r @ self._v, r @ self._w


@dataclasses.dataclass
class CenterTargetTask:
    """Reward: keep the target point on the optical axis, cheaply, inside the workspace."""

    centering_weight: float
    ctrl_cost_weight: float
    out_of_bounds_penalty: float
    workspace_centre: np.ndarray
    workspace_half_extents: np.ndarray
    intrinsics: tuple[float, float, float, float]
    size: tuple[int, int]

    def target_view(self, world: SimWorld,
                    target: np.ndarray) -> tuple[float, np.ndarray, bool]:
        """Angle (rad) between the optical axis and the target, its pixel (NaN when behind
        the camera) and whether it is inside the image."""
        pose = world.camera_pose(CAMERA)
        x, y, z = pose.rotation.T @ (target - pose.position)
        angle = math.atan2(math.hypot(x, y), z)
        fx, fy, cx, cy = self.intrinsics
        if z <= 1e-9:
            return angle, np.full(2, np.nan), False
        u, v = fx * x / z + cx, fy * y / z + cy
        w, h = self.size
        return angle, np.array([u, v]), bool(-0.5 <= u <= w - 0.5 and -0.5 <= v <= h - 0.5)

    def evaluate(self, world: SimWorld, target: np.ndarray,
                 action_normalised: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        angle, pixel, visible = self.target_view(world, target)
        reward_centering = self.centering_weight * math.cos(angle)
        reward_ctrl = -self.ctrl_cost_weight * float(np.sum(np.square(action_normalised)))
        pos = world.body_pose(RIG_BODY).position
        out = bool(np.any(np.abs(pos - self.workspace_centre) > self.workspace_half_extents))
        reward = reward_centering + reward_ctrl - (self.out_of_bounds_penalty if out else 0.0)
        info = {"target_position": target.copy(), "target_angle": angle,
                "target_pixel": pixel, "target_visible": visible,
                "reward_centering": reward_centering, "reward_ctrl": reward_ctrl,
                "out_of_bounds": out}
        return reward, out, info


class EventCameraRigEnv(SimEnv):
    """Free-flying camera: twist commands in, RGB and/or event voxel grids out.

    **Action** (``control="twist"``): ``Box([-V, -V, -V, -W, -W, -W], [V, V, V, W, W, W])``
    float32, the camera twist in its *optical frame* (x right, y down, z forward): linear
    velocity of the optical centre (m/s, bound ``V = max_linear_speed``) then angular
    velocity (rad/s, bound ``W = max_angular_speed``), held for the control step and
    integrated exactly into the mocap pose (:class:`TwistMotion`). ``control="scripted"``:
    ``Box(0, 0, (0,))`` (no action); the rig follows the scene's ``motion`` trajectory.

    **Observation** (``obs_type``): ``"rgb"``: ``uint8`` (H, W, 3); ``"events"``:
    ``float32`` (num_bins, H, W) voxel grid of the step's events
    (:class:`sim.gym.observers.EventVoxelObserver`); ``"rgb+events"``: ``Dict`` of both
    (the RGB image is the event camera's last frame, at the end of the step).

    **Task** (:class:`CenterTargetTask`): keep the target centred. Per step
    ``r = centering_weight cos(theta) - ctrl_cost_weight (|v/V|^2 + |w/W|^2)``, ``theta``
    the angle between the optical axis and the ray to the target point, at the end of the
    step; leaving the workspace box (``workspace_half_extents`` about the start position)
    terminates with ``-out_of_bounds_penalty``. The target point is the centre of mass of
    body ``target``; ``None`` picks the room object nearest (in angle) to the base view
    direction ``start -> look_at``, or the ``look_at`` point itself when there are no
    objects (``backdrop="wall"``).

    **Info**: ``camera_twist`` (6,) ground-truth twist in the optical frame (linear at the
    optical centre, angular), ``camera_twist_world`` (6,) in world axes, ``camera_pose`` (7,)
    optical-frame position and quaternion ``wxyz`` in the world, ``target_position``,
    ``target_angle``, ``target_pixel`` (u, v), ``target_visible``, ``reward_centering``,
    ``reward_ctrl``, ``out_of_bounds``; with ``gt_flow`` also ``flow``: ``float32`` (H, W, 2)
    ground-truth optical flow (px/s, :func:`sim.ground_truth.flow.optical_flow`, ``dt =
    gt_flow_dt``) at the end of the step.

    **Reset**: time 0; twist mode starts at ``start`` looking at ``look_at`` turned by
    ``U(-s, s)`` in yaw (about world z) and pitch (about the camera's y), ``s =
    reset_noise_scale`` rad; scripted mode starts on the trajectory (no noise). The event
    emulator is re-seeded from the environment's generator.

    ============================ ============= ==============================================
    argument                     default       meaning
    ============================ ============= ==============================================
    control                      "twist"       ``"twist"`` or ``"scripted"``
    obs_type                     "events"      ``"rgb"``, ``"events"`` or ``"rgb+events"``
    width, height                64, 48        camera resolution (px)
    num_bins                     5             voxel grid time bins
    event_preset                 "clean"       emulator preset (``ideal``, ``clean``,
                                               ``noisy``)
    event_frames_per_step        2             frames rendered per step for the emulator
    frame_skip                   10            physics steps (0.002 s) per action: dt 0.02 s
    max_linear_speed             0.5           V (m/s)
    max_angular_speed            1.0           W (rad/s)
    centering_weight             1.0           weight of cos(theta)
    ctrl_cost_weight             0.01          weight of the normalised twist squared
    out_of_bounds_penalty        1.0           reward subtracted when leaving the workspace
    workspace_half_extents       (2, 2, 1)     half extents of the workspace box (m)
    reset_noise_scale            0.2           start yaw/pitch noise (rad, twist mode)
    target                       None          body whose centre of mass is the target
    motion                       "mixed"       scripted trajectory kind (scene ``motion``)
    gt_flow                      False         add ground-truth flow to the info
    gt_flow_dt                   0.0           flow horizon (s; 0 = instantaneous)
    scene_params                 None          other :class:`CameraRigParams` overrides
    render_mode                  None          None or ``"rgb_array"``
    render_width, render_height  320, 240      ``rgb_array`` size (px): the rig's camera
    ============================ ============= ==============================================
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, control: str = "twist", obs_type: str = "events", width: int = 64,
                 height: int = 48, num_bins: int = 5, event_preset: str = "clean",
                 event_frames_per_step: int = 2, frame_skip: int = 10,
                 max_linear_speed: float = 0.5, max_angular_speed: float = 1.0,
                 centering_weight: float = 1.0, ctrl_cost_weight: float = 0.01,
                 out_of_bounds_penalty: float = 1.0,
                 workspace_half_extents: tuple[float, float, float] = (2.0, 2.0, 1.0),
                 reset_noise_scale: float = 0.2, target: str | None = None,
                 motion: str = "mixed", gt_flow: bool = False, gt_flow_dt: float = 0.0,
                 scene_params: dict[str, Any] | None = None, render_mode: str | None = None,
                 render_width: int = 320, render_height: int = 240) -> None:
        if control not in CONTROLS:
            raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
        self.control = control
        self.obs_parts = parse_obs_type(obs_type, OBS_PARTS)
        self.obs_type = obs_type
        scene = make_scene("camera_rig", **{**(scene_params or {}), "motion": motion})
        p = scene.params
        q_base = look_at_quaternion(np.asarray(p.start, float), np.asarray(p.look_at, float))
        self._start = (np.asarray(p.start, float), q_base)
        self.motion: TwistMotion | None = None
        if control == "twist":
            self.motion = TwistMotion(*self._start)
            scene = dataclasses.replace(scene, mocap={**scene.mocap, RIG_BODY: self.motion})
        self._init_physics(scene, frame_skip, render_mode=render_mode,
                           render_width=render_width, render_height=render_height,
                           render_camera=CAMERA)
        self.width, self.height = int(width), int(height)
        self.max_linear_speed = float(max_linear_speed)
        self.max_angular_speed = float(max_angular_speed)
        self.reset_noise_scale = float(reset_noise_scale)
        self._frames_per_step = int(event_frames_per_step)
        self._grow_offscreen(self.width, self.height)

        self.events: EventVoxelObserver | None = None
        self.rgb: RgbObserver | None = None
        if "events" in self.obs_parts:
            self.events = self._own(EventVoxelObserver(
                self.model, CAMERA, self.width, self.height, num_bins=num_bins,
                preset=event_preset, frames_per_step=event_frames_per_step))
            sensor = self.events.camera.sensor
        else:
            self.rgb = self._own(RgbObserver(self.model, CAMERA, self.width, self.height))
            sensor = self.rgb.sensor
        self.flow = FlowGroundTruth(self.world, CAMERA, sensor=sensor) if gt_flow else None
        self.gt_flow_dt = float(gt_flow_dt)

        self._target_body = self.world.body_id(target) if target else self._auto_target()
        self.task = CenterTargetTask(
            float(centering_weight), float(ctrl_cost_weight), float(out_of_bounds_penalty),
            np.asarray(p.start, float), np.asarray(workspace_half_extents, float),
            sensor.intrinsics, (self.width, self.height))

        parts = {"rgb": spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)}
        if self.events is not None:
            parts["events"] = self.events.space
        if len(self.obs_parts) == 1:
            self.observation_space = parts[self.obs_parts[0]]
        else:
            self.observation_space = spaces.Dict({k: parts[k] for k in self.obs_parts})
        if control == "twist":
            high = np.array([self.max_linear_speed] * 3 + [self.max_angular_speed] * 3,
                            np.float32)
            self.action_space = spaces.Box(-high, high, dtype=np.float32)
        else:
            self.action_space = spaces.Box(0.0, 0.0, (0,), np.float32)

    # ------------------------------------------------------------------ target
    def _auto_target(self) -> int | None:
        start, q = self._start
        fwd = quat_to_mat(q)[:, 0]  # camera_link x: the view direction
        best, best_angle = None, math.inf
        for b, name in enumerate(self.world.body_names):
            if parse_object_body(name) is None:
                continue
            ray = self.data.subtree_com[b] - start
            angle = math.acos(np.clip(ray @ fwd / np.linalg.norm(ray), -1.0, 1.0))
            if angle < best_angle:
                best, best_angle = b, angle
        return best

    def target_position(self) -> np.ndarray:
        if self._target_body is None:
            return np.asarray(self.world.spec.params.look_at, float).copy()
        return self.data.subtree_com[self._target_body].copy()

    # ------------------------------------------------------------------ observation
    def _observation(self) -> np.ndarray | dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.events is not None:
            out["events"] = self.events.observe()
            if "rgb" in self.obs_parts:
                frame = self.events.last_frame
                assert frame is not None
                out["rgb"] = frame.copy()
        else:
            assert self.rgb is not None
            out["rgb"] = self.rgb.observe(self.data)
        return out[self.obs_parts[0]] if len(self.obs_parts) == 1 else out

    def _info(self) -> dict[str, Any]:
        state = camera_state(self.world, CAMERA)
        info: dict[str, Any] = {
            "camera_twist": np.concatenate([state.twist_optical.linear,
                                            state.twist_optical.angular]),
            "camera_twist_world": np.concatenate([state.twist_world.linear,
                                                  state.twist_world.angular]),
            "camera_pose": np.concatenate([state.pose.position, state.pose.quaternion]),
        }
        if self.flow is not None:
            info["flow"] = self.flow.compute(dt=self.gt_flow_dt).flow
        return info

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        rng = self.np_random
        if self.motion is not None:
            start, q = self._start
            s = self.reset_noise_scale
            yaw, pitch = rng.uniform(-s, s, 2) if s > 0 else (0.0, 0.0)
            q = quat_mul(quat_from_axis_angle([0.0, 0.0, 1.0], yaw),
                         quat_mul(q, quat_from_axis_angle([0.0, 1.0, 0.0], pitch)))
            self.motion.reset(start, q / np.linalg.norm(q))
        self.world.reset()
        emu_seed = int(rng.integers(2**32))
        if self.events is not None:
            first = self.events.reset(self.data, emu_seed)
            obs: Any = first
            if "rgb" in self.obs_parts:
                frame = self.events.last_frame
                assert frame is not None
                obs = {"rgb": frame.copy(), "events": first}
        else:
            assert self.rgb is not None
            obs = self.rgb.observe(self.data)
        info = self._info()
        _, _, view = self.task.evaluate(self.world, self.target_position(), np.zeros(6))
        info.update({k: view[k] for k in ("target_position", "target_angle", "target_pixel",
                                          "target_visible")})
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a_norm = np.zeros(6)
        if self.motion is not None:
            a = np.clip(np.asarray(action, np.float64).reshape(6), self.action_space.low,
                        self.action_space.high)
            a_norm = a / np.array([self.max_linear_speed] * 3 + [self.max_angular_speed] * 3)
            self.motion.command(self.world.time, _R_LINK_OPTICAL @ a[:3],
                                _R_LINK_OPTICAL @ a[3:])
        chunks = split_steps(self.frame_skip, self._frames_per_step if self.events else 1)
        for n in chunks:
            self.world.step(n)
            if self.events is not None:
                self.events.capture(self.data)
        obs = self._observation()
        reward, terminated, task_info = self.task.evaluate(self.world, self.target_position(),
                                                           a_norm)
        info = self._info()
        info.update(task_info)
        return obs, reward, terminated, False, info

    def _render_markers(self, scene: Any) -> None:
        add_marker_sphere(scene, self.target_position(), 0.05, (0.1, 0.9, 0.2, 0.6))

    def close(self) -> None:
        self.flow = None
        super().close()


__all__ = ["CenterTargetTask", "EventCameraRigEnv", "TwistMotion"]
