"""Gymnasium environments on the simulator's scenes; importing this package registers them.

====================== ============================================== ===================
id                     entry point                                    max_episode_steps
====================== ============================================== ===================
neuro/Swimmer-v0       ``sim.gym.swimmer:SwimmerEnv``                 1000
neuro/EventCameraRig-v0 ``sim.gym.camera_rig:EventCameraRigEnv``      500
neuro/MobileRobot-v0   ``sim.gym.mobile_robot:MobileRobotEnv``        500
====================== ============================================== ===================

Usage::

    import gymnasium as gym
    import sim.gym  # noqa: F401  (registers the ids)

    env = gym.make("neuro/Swimmer-v0", n_links=8, render_mode="rgb_array")

Each class documents its coefficients (all constructor arguments, in one table), spaces,
reward and info. Layout after dm_control: physics (:class:`sim.world.SimWorld` on a
:mod:`sim.scenes` scene, :class:`sim.gym.base.SimEnv`), task (``*Task`` classes: reward,
termination, per-episode draws) and observation (:mod:`sim.gym.observers`) are separate.
Every random draw comes from the environment's ``np_random``: the same seed gives the same
episode.

Rendering (``render_mode="rgb_array"`` and the camera observations) is headless: MuJoCo
reads ``MUJOCO_GL`` when its rendering is first used, and this package sets it to ``egl``
*unless the caller has already set it* (``MUJOCO_GL=osmesa`` for software rendering, or
``glfw`` with a display). Set it before importing anything that imports ``mujoco``'s
rendering if another backend is wanted. ``env.close()`` frees the renderers.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from gymnasium.envs.registration import register, registry  # noqa: E402

#: id -> (entry point, max_episode_steps)
ENVS: dict[str, tuple[str, int]] = {
    "neuro/Swimmer-v0": ("sim.gym.swimmer:SwimmerEnv", 1000),
    "neuro/EventCameraRig-v0": ("sim.gym.camera_rig:EventCameraRigEnv", 500),
    "neuro/MobileRobot-v0": ("sim.gym.mobile_robot:MobileRobotEnv", 500),
}

for _env_id, (_entry, _steps) in ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry, max_episode_steps=_steps)

from sim.gym.camera_rig import EventCameraRigEnv  # noqa: E402
from sim.gym.mobile_robot import MobileRobotEnv  # noqa: E402
from sim.gym.swimmer import SwimmerEnv  # noqa: E402

__all__ = ["ENVS", "EventCameraRigEnv", "MobileRobotEnv", "SwimmerEnv"]
