"""The contract every egomotion / optical-flow estimator follows.

Conventions (shared by the estimators, the nodes, the simulation's ground truth and
``neuro eval``):

- Camera frame: REP-103 optical frame (``camera_optical_frame``): x right, y down, z forward.
- ``omega``: the camera's angular velocity in that frame (rad/s). ``velocity``: the camera's
  linear velocity in that frame. Monocular events fix it only up to scale, so estimators
  return a unit vector (or zeros when unobservable, e.g. pure rotation) and say so with
  ``velocity_is_direction=True``.
- Flow: pixels per second, shape ``(2, H, W)`` (``[0]`` = u along x, ``[1]`` = v along y),
  the instantaneous image velocity at ``t_ref_s``; NaN where the estimator has no estimate.
- Times: seconds (float64), on the sensor clock of the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from neuro_nodes.events.event_array import EventArray


@dataclass(frozen=True)
class PinholeCamera:
    """Pinhole intrinsics (pixels) of an undistorted event camera."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @classmethod
    def from_fovy(cls, width: int, height: int, fovy_deg: float) -> PinholeCamera:
        """Square pixels, principal point at the image centre (MuJoCo's camera model)."""
        f = 0.5 * height / np.tan(np.deg2rad(fovy_deg) / 2.0)
        return cls(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


@dataclass(frozen=True)
class ImuSamples:
    """Gyroscope samples in the camera optical frame (rad/s), times in seconds."""

    t_s: np.ndarray  # (N,)
    gyro: np.ndarray  # (N, 3)


@dataclass(frozen=True)
class EventWindow:
    """A slice of events to estimate motion from, with the camera and optional IMU.

    ``t0_s``/``t1_s`` bound the window; ``t_ref_s`` is the time the estimate refers to
    (the window's middle unless a caller chooses otherwise).
    """

    events: EventArray
    camera: PinholeCamera
    t0_s: float
    t1_s: float
    imu: ImuSamples | None = None

    @property
    def t_ref_s(self) -> float:
        return 0.5 * (self.t0_s + self.t1_s)

    @property
    def t_s(self) -> np.ndarray:
        return self.events.t.astype(np.float64) * 1e-9


@dataclass(frozen=True)
class MotionEstimate:
    """What an estimator knows about one window."""

    t_ref_s: float
    omega: np.ndarray | None = None  # (3,) rad/s, or None if the method does not estimate it
    velocity: np.ndarray | None = None  # (3,) see velocity_is_direction
    velocity_is_direction: bool = True
    flow: np.ndarray | None = None  # (2, H, W) px/s, NaN where unknown
    compute_s: float = 0.0  # wall time spent on this window
    omega_covariance: np.ndarray | None = None  # (3, 3), (rad/s)^2
    info: dict[str, float] = field(default_factory=dict)  # e.g. contrast gain, iterations


class MotionEstimator(Protocol):
    """An estimator processes windows in time order; state (warm starts) lives inside it."""

    name: str

    def reset(self) -> None:
        """Forget warm starts (a jump in time, a new sequence)."""

    def process(self, window: EventWindow) -> MotionEstimate:
        """Estimate motion for ``window``; must not look at anything but its argument."""
