"""Observation layer of the gymnasium environments: camera images and event voxel grids.

* :class:`RgbObserver`: ``uint8`` (H, W, 3) image of a model camera.
* :class:`DepthObserver`: ``float32`` (H, W) z-depth in metres, clipped to ``[0, max_depth]``
  (sky and anything farther read ``max_depth``).
* :class:`EventVoxelObserver`: a :class:`sim.sensors.event_camera.SimEventCamera` fed with
  ``frames_per_step`` frames rendered at evenly spaced instants of each control step; the
  events of the step (times interpolated between frames by the emulator) become the voxel
  grid of :func:`neuro_nodes.events.representations.voxel_grid`, ``float32`` (num_bins, H, W),
  over the window ``[start, end]`` of the step (signed polarity). The first observation
  after a reset is all zeros (no events before the first frame). The emulator is re-seeded
  at every reset from the environment's generator, so noise differs between episodes but
  not between runs with the same seed. Events are not packetized (the observer calls the
  camera's renderer and emulator directly); :attr:`EventVoxelObserver.last_events` keeps the
  step's :class:`~neuro_nodes.events.event_array.EventArray`.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
from gymnasium import spaces

from neuro_nodes.events.emulator import EventEmulator
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.representations import voxel_grid
from sim.sensors.camera import CameraSensor
from sim.sensors.event_camera import EventCameraParams, SimEventCamera


def split_steps(total: int, parts: int) -> list[int]:
    """``total`` physics steps cut into ``parts`` nearly equal positive chunks."""
    parts = max(1, min(int(parts), int(total)))
    edges = np.round(np.linspace(0, total, parts + 1)).astype(int)
    return [int(n) for n in np.diff(edges)]


class RgbObserver:
    """RGB image of a camera."""

    def __init__(self, model: mujoco.MjModel, camera: str, width: int, height: int) -> None:
        self.sensor = CameraSensor(model, camera, width, height)
        self.space = spaces.Box(0, 255, (int(height), int(width), 3), np.uint8)

    def observe(self, data: mujoco.MjData) -> np.ndarray:
        return self.sensor.rgb(data).copy()

    def close(self) -> None:
        self.sensor.close()


class DepthObserver:
    """Depth image of a camera, clipped to ``max_depth``."""

    def __init__(self, model: mujoco.MjModel, camera: str, width: int, height: int,
                 max_depth: float) -> None:
        self.sensor = CameraSensor(model, camera, width, height)
        self.max_depth = float(max_depth)
        self.space = spaces.Box(0.0, self.max_depth, (int(height), int(width)), np.float32)

    def observe(self, data: mujoco.MjData) -> np.ndarray:
        depth = self.sensor.depth(data)
        return np.clip(np.nan_to_num(depth, posinf=self.max_depth), 0.0,
                       self.max_depth).astype(np.float32)

    def close(self) -> None:
        self.sensor.close()


class EventVoxelObserver:
    """Event voxel grid of one control step (see the module docstring)."""

    def __init__(self, model: mujoco.MjModel, camera: str, width: int, height: int, *,
                 num_bins: int = 5, preset: str = "clean", frames_per_step: int = 2) -> None:
        if int(num_bins) < 1 or int(frames_per_step) < 1:
            raise ValueError("num_bins and frames_per_step must be at least 1")
        self.camera = SimEventCamera(model, EventCameraParams(
            camera=camera, width=int(width), height=int(height), preset=preset))
        self._emulator_params = self.camera.emulator.params
        self.num_bins = int(num_bins)
        self.frames_per_step = int(frames_per_step)
        self.width, self.height = int(width), int(height)
        self.space = spaces.Box(-np.inf, np.inf, (self.num_bins, self.height, self.width),
                                np.float32)
        self._chunks: list[EventArray] = []
        self._t0_ns = 0
        self.last_events = EventArray.empty(self.width, self.height)

    @property
    def last_frame(self) -> np.ndarray | None:
        """The RGB frame rendered last (the end of the step)."""
        return self.camera.last_frame

    def reset(self, data: mujoco.MjData, seed: int) -> np.ndarray:
        """Fresh emulator (seeded), first frame fed; returns the (zero) first grid."""
        cam = self.camera
        cam.emulator = EventEmulator(self.width, self.height,
                                     dataclasses.replace(self._emulator_params, seed=int(seed)))
        self._chunks = []
        frame = cam.sensor.rgb(data)
        self._t0_ns = round(data.time * 1e9)
        cam.emulator.feed(frame, self._t0_ns)
        cam.last_frame = frame
        self.last_events = EventArray.empty(self.width, self.height)
        cam.last_events = self.last_events
        return np.zeros(self.space.shape, np.float32)

    def capture(self, data: mujoco.MjData) -> None:
        """Render and feed one frame at the current state (call during the step)."""
        cam = self.camera
        frame = cam.sensor.rgb(data)
        self._chunks.append(cam.emulator.feed(frame, round(data.time * 1e9)))
        cam.last_frame = frame

    def observe(self) -> np.ndarray:
        """Voxel grid of the events captured since the previous observation."""
        t1 = self.camera.emulator.t_ns
        t1 = self._t0_ns if t1 is None else int(t1)
        events = EventArray.concatenate(self._chunks, self.width, self.height)
        grid = voxel_grid(events, self.num_bins, self._t0_ns, max(t1, self._t0_ns))
        self.last_events = self.camera.last_events = events
        self._chunks = []
        self._t0_ns = t1
        return np.asarray(grid, np.float32)

    def close(self) -> None:
        self.camera.close()


__all__ = ["DepthObserver", "EventVoxelObserver", "RgbObserver", "split_steps"]
