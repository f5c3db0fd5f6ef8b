"""Shared machinery of the gymnasium environments: the physics layer and rendering.

dm_control-style separation, used by every environment of :mod:`sim.gym`:

* **physics**: a :class:`sim.world.SimWorld` built from a :mod:`sim.scenes` scene, advanced
  ``frame_skip`` physics steps per control step (:class:`SimEnv`);
* **task**: reward, termination and the per-episode random draws (a ``*Task`` class in each
  environment module);
* **observation**: sensors turned into arrays and spaces (:mod:`sim.gym.observers`).

Rendering (``render_mode="rgb_array"``) uses one lazily created ``mujoco.Renderer`` at
``render_width`` x ``render_height``: a named model camera, or a free camera tracking a body.
MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when rendering is first used;
:mod:`sim.gym` sets it to ``egl`` (headless) unless the caller already set it.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import mujoco
import numpy as np

from sim.scenes.spec import SceneSpec
from sim.world import SimWorld


def parse_obs_type(obs_type: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``"a+b"`` -> ``("a", "b")``, each part one of ``allowed``, no repeats."""
    parts = tuple(p.strip() for p in str(obs_type).split("+"))
    bad = [p for p in parts if p not in allowed]
    if bad or not parts or len(set(parts)) != len(parts):
        raise ValueError(f"obs_type {obs_type!r}: expected one or more of {allowed} joined "
                         "by '+', without repeats")
    return parts


class SimEnv(gymnasium.Env):
    """A gymnasium environment stepping a :class:`SimWorld` ``frame_skip`` times per action.

    Subclasses build the scene, call :meth:`_init_physics`, and implement ``reset``/``step``;
    objects with a ``close()`` registered by :meth:`_own` are closed with the environment.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def _init_physics(self, scene: SceneSpec, frame_skip: int, *, render_mode: str | None,
                      render_width: int, render_height: int,
                      render_camera: str | None = None, track_body: str | None = None,
                      track_distance: float = 2.0, track_elevation: float = -30.0,
                      track_azimuth: float = 90.0) -> None:
        if int(frame_skip) < 1:
            raise ValueError(f"frame_skip must be at least 1, got {frame_skip}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of "
                             f"{self.metadata['render_modes']}")
        self.world = SimWorld(scene)
        self.model, self.data = self.world.model, self.world.data
        self.frame_skip = int(frame_skip)
        self.render_mode = render_mode
        self.render_width, self.render_height = int(render_width), int(render_height)
        self.metadata = {**type(self).metadata, "render_fps": int(round(1.0 / self.dt))}
        self._render_camera = render_camera
        self._track = (track_body, track_distance, track_elevation, track_azimuth)
        self._renderer: mujoco.Renderer | None = None
        self._owned: list[Any] = []
        self._closed = False

    @property
    def dt(self) -> float:
        """Control period (s): ``frame_skip`` physics timesteps."""
        return self.world.timestep * self.frame_skip

    def _own(self, obj: Any) -> Any:
        """Close ``obj`` (a sensor/renderer holder) when the environment closes."""
        self._owned.append(obj)
        return obj

    def _grow_offscreen(self, width: int, height: int) -> None:
        """Let renderers of up to ``width`` x ``height`` be created for this model."""
        g = self.model.vis.global_
        g.offwidth = max(int(g.offwidth), int(width))
        g.offheight = max(int(g.offheight), int(height))

    # ------------------------------------------------------------------ rendering
    def _render_markers(self, scene: mujoco.MjvScene) -> None:
        """Hook: add decor geoms (goals, targets) to the render scene (not to sensors)."""

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; returning None")
            return None
        if self._renderer is None:
            self._grow_offscreen(self.render_width, self.render_height)
            self._renderer = mujoco.Renderer(self.model, self.render_height, self.render_width)
        if self._render_camera is not None:
            self._renderer.update_scene(self.data, camera=self._render_camera)
        else:
            body, distance, elevation, azimuth = self._track
            cam = mujoco.MjvCamera()
            if body is None:
                mujoco.mjv_defaultFreeCamera(self.model, cam)
            else:
                cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
                cam.trackbodyid = self.world.body_id(body)
                cam.distance, cam.elevation, cam.azimuth = distance, elevation, azimuth
            self._renderer.update_scene(self.data, camera=cam)
        self._render_markers(self._renderer.scene)
        return self._renderer.render().copy()

    def close(self) -> None:
        """Free the renderers (idempotent)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        for obj in reversed(self._owned):
            obj.close()
        self._owned.clear()


def add_marker_sphere(scene: mujoco.MjvScene, pos: np.ndarray, radius: float,
                      rgba: tuple[float, float, float, float]) -> None:
    """Append a decor sphere to a render scene (skipped when the scene is full)."""
    if scene.ngeom >= scene.maxgeom:
        return
    mujoco.mjv_initGeom(scene.geoms[scene.ngeom], int(mujoco.mjtGeom.mjGEOM_SPHERE),
                        np.array([radius, 0.0, 0.0]), np.asarray(pos, np.float64),
                        np.eye(3).reshape(-1), np.asarray(rgba, np.float32))
    scene.ngeom += 1


__all__ = ["SimEnv", "add_marker_sphere", "parse_obs_type"]
