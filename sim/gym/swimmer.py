"""``neuro/Swimmer-v0``: the N-link planar swimmer of :mod:`sim.scenes.swimmer` swimming forward.

Like gymnasium's ``Swimmer-v5`` (reward = forward velocity - ``ctrl_cost_weight |a|^2``,
control period 0.04 s, 1000-step episodes), on the dm_control-style swimmer (fluid drag from
MuJoCo's inertia-box model, links of 0.1 m, N = 3..12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from sim.gym.base import SimEnv
from sim.scenes import make_scene
from sim.scenes.swimmer import HEAD
from sim.world import SimWorld

FORWARD_DIRECTIONS = ("x", "nose")


@dataclass
class SwimTask:
    """Reward of one control step: forward velocity of the head site minus control cost."""

    forward_reward_weight: float
    ctrl_cost_weight: float
    forward_direction: str

    def begin_step(self, world: SimWorld) -> None:
        self._p0 = world.data.site_xpos[world.site_id(HEAD)][:2].copy()
        self._nose0 = nose_direction(world)

    def reward(self, world: SimWorld, action: np.ndarray,
               dt: float) -> tuple[float, dict[str, Any]]:
        p1 = world.data.site_xpos[world.site_id(HEAD)][:2]
        vel = (p1 - self._p0) / dt
        axis = np.array([1.0, 0.0]) if self.forward_direction == "x" else self._nose0
        forward = float(vel @ axis)
        reward_forward = self.forward_reward_weight * forward
        reward_ctrl = -self.ctrl_cost_weight * float(np.sum(np.square(action)))
        info = {"x_position": float(p1[0]), "y_position": float(p1[1]),
                "distance_from_origin": float(np.linalg.norm(p1)),
                "x_velocity": float(vel[0]), "y_velocity": float(vel[1]),
                "forward_velocity": forward, "reward_forward": reward_forward,
                "reward_ctrl": reward_ctrl}
        return reward_forward + reward_ctrl, info


def nose_direction(world: SimWorld) -> np.ndarray:
    """Unit planar direction of the head's nose (its body -y axis) in the world."""
    r = world.data.xmat[world.body_id(HEAD)].reshape(3, 3)
    nose = -r[:2, 1]
    return nose / max(float(np.linalg.norm(nose)), 1e-12)


class SwimmerEnv(SimEnv):
    """N-link swimmer; action = joint torques, reward = forward speed - control cost.

    Action: ``Box(-1, 1, (n_links - 1,))``, the controls of ``motor_1..motor_{N-1}`` (torque
    ``gear * a``). Observation: ``Box(-inf, inf, (2 N + 3,))`` float64 (``+2`` with positions):

    ============================ ============================================================
    entries                      meaning
    ============================ ============================================================
    ``[x, y]``                   head position (m), only when
                                 ``exclude_current_positions_from_observation`` is False
    ``q_1..q_{N-1}``             joint angles (rad)
    ``qd_1..qd_{N-1}``           joint angular velocities (rad/s)
    ``cos psi, sin psi``         heading: angle psi of the nose direction from world +x
    ``v_fwd, v_left``            head velocity in the head frame: along the nose, to its left
                                 (m/s; the ``head_vel`` velocimeter)
    ``psi_dot``                  head yaw rate (rad/s)
    ============================ ============================================================

    Reward: ``forward_reward_weight * v - ctrl_cost_weight * |a|^2`` where ``v`` is the head
    site's displacement over the control step divided by ``dt``, along world +x
    (``forward_direction="x"``, as ``Swimmer-v5``; the swimmer starts facing +x) or along the
    nose direction at the start of the step (``"nose"``, heading-invariant as in
    dm_control/NCAP). Never terminates; ``gymnasium.make`` truncates at 1000 steps. The info
    dict holds ``x_position``, ``y_position``, ``distance_from_origin``, ``x_velocity``,
    ``y_velocity``, ``forward_velocity``, ``reward_forward``, ``reward_ctrl``.

    Reset: the scene's straight pose, turned to face +x (``rootz = pi/2``), then every
    joint position (root slides and hinges included) gets ``U(-s, s)`` with
    ``s = reset_noise_scale`` from the environment's generator; velocities start at zero.

    ============================================ ======= ======================================
    argument                                     default meaning
    ============================================ ======= ======================================
    n_links                                      6       links N, head included (3..12)
    frame_skip                                   20      physics steps (0.002 s) per action:
                                                         dt = 0.04 s
    forward_reward_weight                        1.0     weight of the forward velocity
    ctrl_cost_weight                             1e-4    weight of ``|a|^2``
    forward_direction                            "x"     ``"x"`` or ``"nose"`` (see above)
    reset_noise_scale                            0.1     half width of the joint position noise
    exclude_current_positions_from_observation   True    leave the head x, y out
    scene_params                                 None    other :class:`SwimmerParams` overrides
    render_mode                                  None    None or ``"rgb_array"``
    render_width, render_height                  320,240 ``rgb_array`` size (px)
    ============================================ ======= ======================================

    ``render()`` shows the scene's ``tracking`` camera (follows the centre of mass).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, n_links: int = 6, frame_skip: int = 20,
                 forward_reward_weight: float = 1.0, ctrl_cost_weight: float = 1e-4,
                 forward_direction: str = "x", reset_noise_scale: float = 0.1,
                 exclude_current_positions_from_observation: bool = True,
                 scene_params: dict[str, Any] | None = None, render_mode: str | None = None,
                 render_width: int = 320, render_height: int = 240) -> None:
        if forward_direction not in FORWARD_DIRECTIONS:
            raise ValueError(f"forward_direction must be one of {FORWARD_DIRECTIONS}")
        scene = make_scene("swimmer", **{**(scene_params or {}), "n_links": int(n_links)})
        self._init_physics(scene, frame_skip, render_mode=render_mode,
                           render_width=render_width, render_height=render_height,
                           render_camera="tracking")
        self.n_links = int(n_links)
        self.reset_noise_scale = float(reset_noise_scale)
        self.exclude_positions = bool(exclude_current_positions_from_observation)
        self.task = SwimTask(float(forward_reward_weight), float(ctrl_cost_weight),
                             forward_direction)
        m = self.model
        joints = [self.world._id(mujoco.mjtObj.mjOBJ_JOINT, f"joint_{i}")
                  for i in range(1, self.n_links)]
        self._q = np.array([m.jnt_qposadr[j] for j in joints])
        self._qd = np.array([m.jnt_dofadr[j] for j in joints])
        rootz = self.world._id(mujoco.mjtObj.mjOBJ_JOINT, "rootz")
        self._rootz_q, self._rootz_v = int(m.jnt_qposadr[rootz]), int(m.jnt_dofadr[rootz])
        sensor = self.world._id(mujoco.mjtObj.mjOBJ_SENSOR, "head_vel")
        self._vel = int(m.sensor_adr[sensor])
        self._head_site = self.world.site_id(HEAD)
        n_obs = 2 * self.n_links + 3 + (0 if self.exclude_positions else 2)
        self.observation_space = spaces.Box(-np.inf, np.inf, (n_obs,), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (self.n_links - 1,), np.float32)

    def _observation(self) -> np.ndarray:
        d = self.data
        nose = nose_direction(self.world)
        v = d.sensordata[self._vel:self._vel + 3]
        parts = [d.qpos[self._q], d.qvel[self._qd], nose,
                 np.array([-v[1], v[0], d.qvel[self._rootz_v]])]
        if not self.exclude_positions:
            parts.insert(0, d.site_xpos[self._head_site][:2])
        return np.concatenate(parts).astype(np.float64)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.world.reset()
        d = self.data
        d.qpos[self._rootz_q] = math.pi / 2  # nose (-y of the head) along world +x
        s = self.reset_noise_scale
        if s > 0:
            d.qpos[:] += self.np_random.uniform(-s, s, self.model.nq)
        mujoco.mj_forward(self.model, d)
        p = d.site_xpos[self._head_site]
        info = {"x_position": float(p[0]), "y_position": float(p[1]),
                "distance_from_origin": float(np.linalg.norm(p[:2]))}
        return self._observation(), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        self.task.begin_step(self.world)
        self.world.set_ctrl(a)
        self.world.step(self.frame_skip)
        reward, info = self.task.reward(self.world, a, self.dt)
        return self._observation(), reward, False, False, info


__all__ = ["SwimTask", "SwimmerEnv", "nose_direction"]
