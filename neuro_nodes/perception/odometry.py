"""Dead reckoning from camera twists: pose and its covariance, pure numpy.

The odometry frame is the camera optical frame at the first twist (x right, y down,
z forward): the pose ``(R, p)`` maps camera coordinates to that frame. Each step integrates a
twist given in the *current* camera axes over ``dt``: ``R <- R Exp(omega dt)`` (exact for a
constant omega over the step) and ``p <- p + R v dt`` (``v`` in m/s; an estimator that knows
only the direction gives ``direction * assumed speed``, zero when the speed is unknown).

Covariance: the error state is ``(dp, dtheta)`` in odometry-frame axes, with
``R_true = Exp(dtheta) R`` — ROS ``Odometry.pose.covariance`` order (x, y, z, rot x, rot y,
rot z). A twist error ``(dv, domega)`` with covariance ``Q`` (6x6, linear then angular,
camera axes; independent from step to step) propagates as
``P <- F P F^T + G Q G^T`` with ``F = [[I, -[R v dt]x], [0, I]]`` and ``G = dt diag(R, R)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def skew(v: np.ndarray) -> np.ndarray:
    x, y, z = (float(c) for c in v)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def so3_exp(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation vector (axis * angle, rad) -> 3x3 rotation matrix."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = float(np.linalg.norm(rotvec))
    k = skew(rotvec)
    if angle < 1e-8:  # second-order series: exact to float precision here
        return np.eye(3) + k + 0.5 * k @ k
    return (np.eye(3) + np.sin(angle) / angle * k
            + (1 - np.cos(angle)) / angle**2 * k @ k)


def rotation_to_quaternion_xyzw(r: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion (x, y, z, w) with w >= 0 (ROS order)."""
    m = np.asarray(r, dtype=np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q) / np.linalg.norm(q)
    return -q if q[3] < 0 else q


@dataclass
class TwistIntegrator:
    """Integrates camera twists into the camera's pose in the odometry frame."""

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((6, 6)))
    t_s: float | None = None  # time of the last step

    def reset(self) -> None:
        self.rotation, self.position = np.eye(3), np.zeros(3)
        self.covariance, self.t_s = np.zeros((6, 6)), None

    def step(self, dt: float, omega: np.ndarray, velocity: np.ndarray,
             twist_covariance: np.ndarray) -> None:
        """Integrate one twist held for ``dt`` s (camera axes; covariance 6x6 lin, ang)."""
        if not (np.isfinite(dt) and dt >= 0):
            raise ValueError(f"dt: must be finite and >= 0, got {dt}")
        omega = np.asarray(omega, dtype=np.float64).reshape(3)
        velocity = np.asarray(velocity, dtype=np.float64).reshape(3)
        q = np.asarray(twist_covariance, dtype=np.float64)
        if q.shape != (6, 6):
            raise ValueError(f"twist_covariance: expected shape (6, 6), got {q.shape}")
        if not (np.isfinite(omega).all() and np.isfinite(velocity).all()
                and np.isfinite(q).all()):
            raise ValueError("twist: omega, velocity and covariance must be finite")
        r = self.rotation
        step = r @ velocity * dt
        f = np.eye(6)
        f[:3, 3:] = -skew(step)
        g = np.zeros((6, 6))
        g[:3, :3] = g[3:, 3:] = r * dt
        self.covariance = f @ self.covariance @ f.T + g @ q @ g.T
        self.position = self.position + step
        self.rotation = r @ so3_exp(omega * dt)
        # re-orthonormalise: thousands of steps would otherwise drift off SO(3)
        u, _, vt = np.linalg.svd(self.rotation)
        self.rotation = u @ vt

    def advance(self, t_s: float, omega: np.ndarray, velocity: np.ndarray,
                twist_covariance: np.ndarray) -> None:
        """Step to time ``t_s`` with the twist measured there (the first call only sets the
        start time; a time going backwards is a ValueError)."""
        if self.t_s is None:
            self.t_s = float(t_s)
            return
        dt = float(t_s) - self.t_s
        if dt < 0:
            raise ValueError(f"t_s: {t_s} is before the previous step at {self.t_s}")
        self.step(dt, omega, velocity, twist_covariance)
        self.t_s = float(t_s)

    @property
    def quaternion_xyzw(self) -> np.ndarray:
        return rotation_to_quaternion_xyzw(self.rotation)


__all__ = ["TwistIntegrator", "rotation_to_quaternion_xyzw", "skew", "so3_exp"]
