"""Pure pursuit along waypoints: a planar pose (x, y, yaw) in, a (v, omega) command out.

The follower keeps the segment it is on (it only moves forward along the path, so a loop
whose ends meet is not short-cut), projects the robot's position onto the path and aims at
the point ``lookahead_m`` further along it. With that point at angle ``alpha`` in the
robot's frame (x forward, y left, REP-103) and ``ell`` its distance from the robot (about
``L`` on the path), pure pursuit steers on the arc through it:

.. math::

    \\kappa = \\frac{2 \\sin\\alpha}{\\ell}, \\qquad \\omega = v\\,\\kappa, \\qquad
    |\\omega| \\le \\omega_{max}

When the point is behind the robot (``|alpha| > turn_in_place_rad``) it turns on the spot
at ``max_omega``. With ``loop`` false the path ends at its last waypoint: the speed ramps
down as ``v = min(speed, slowdown_gain * d_goal)`` and the command is zero (``done``) once
the robot is within ``goal_tolerance_m`` of it.

================== ======= ==========================================================
parameter          default meaning
================== ======= ==========================================================
speed              0.25    cruise speed v (m/s)
lookahead_m        0.4     lookahead distance L along the path (m)
max_omega          1.2     yaw-rate limit (rad/s)
turn_in_place_rad  1.57    |alpha| above which the robot turns on the spot (rad)
loop               True    after the last waypoint, go on to the first
goal_tolerance_m   0.1     (loop false) distance to the last waypoint that ends the path
slowdown_gain      1.0     (loop false) v <= slowdown_gain * distance to the goal (1/s)
================== ======= ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated


@dataclass(frozen=True)
class PathFollowerParams:
    """Pure-pursuit gains (table in the module docstring)."""

    speed: float = param(0.25, "Cruise speed (m/s)", min=0.0, max=5.0)
    lookahead_m: float = param(0.4, "Lookahead distance along the path (m)", min=0.05,
                               max=10.0)
    max_omega: float = param(1.2, "Yaw-rate limit (rad/s)", min=0.01, max=10.0)
    turn_in_place_rad: float = param(1.57, "Heading error above which the robot turns on "
                                     "the spot (rad)", min=0.1, max=math.pi)
    loop: bool = param(True, "After the last waypoint go on to the first")
    goal_tolerance_m: float = param(0.1, "Distance to the last waypoint that ends a path "
                                    "(loop false) (m)", min=0.001, max=10.0)
    slowdown_gain: float = param(1.0, "Near the end (loop false): v <= gain * distance "
                                 "to the goal (1/s)", min=0.01, max=100.0)


@dataclass(frozen=True)
class Command:
    v: float  # m/s, forward
    omega: float  # rad/s, counter-clockwise
    done: bool  # the path ended (loop false)
    target: tuple[float, float]  # the lookahead point steered at (map frame)


def as_waypoints(values: np.ndarray | list | tuple) -> np.ndarray:
    """(N, 2) waypoints from an (N, 2) array or a flat [x0, y0, x1, y1, ...] list."""
    w = np.asarray(values, float)
    if w.ndim == 1:
        if w.size % 2:
            raise ValueError(f"waypoints: a flat list needs x, y pairs, got {w.size} numbers")
        w = w.reshape(-1, 2)
    if w.ndim != 2 or w.shape[1] != 2 or len(w) < 2:
        raise ValueError(f"waypoints: need at least 2 (x, y) points, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("waypoints must be finite")
    if np.any(np.linalg.norm(np.diff(w, axis=0), axis=1) < 1e-9):
        raise ValueError("waypoints: two consecutive points are the same")
    return w


def circle_waypoints(radius_m: float, n: int = 12, centre: tuple[float, float] = (0.0, 0.0)
                     ) -> np.ndarray:
    """``n`` points counter-clockwise on a circle, starting at angle 0."""
    a = np.arange(n) * 2 * np.pi / n
    return np.stack([centre[0] + radius_m * np.cos(a), centre[1] + radius_m * np.sin(a)], 1)


class PathFollower:
    """Pure pursuit on a fixed polyline (see the module docstring)."""

    def __init__(self, waypoints: np.ndarray | list | tuple,
                 params: PathFollowerParams | None = None) -> None:
        self.params = validated(params or PathFollowerParams())
        w = as_waypoints(waypoints)
        if self.params.loop and np.linalg.norm(w[-1] - w[0]) > 1e-9:
            w = np.vstack([w, w[:1]])  # close the loop
        self.waypoints = w
        self.segment = 0
        self.done = False

    def reset(self) -> None:
        self.segment, self.done = 0, False

    @property
    def _n_segments(self) -> int:
        return len(self.waypoints) - 1

    def _project(self, i: int, p: np.ndarray) -> tuple[float, float]:
        """(parameter in [0, 1], distance) of ``p`` projected on segment ``i``."""
        a, b = self.waypoints[i], self.waypoints[i + 1]
        ab = b - a
        s = float(np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0))
        return s, float(np.linalg.norm(a + s * ab - p))

    def _advance(self, p: np.ndarray) -> float:
        """Move ``segment`` forward while the next one is at least as close; the parameter."""
        s, d = self._project(self.segment, p)
        for _ in range(self._n_segments):
            nxt = self.segment + 1
            if nxt >= self._n_segments:
                if not self.params.loop:
                    break
                nxt = 0
            s2, d2 = self._project(nxt, p)
            if s < 1.0 and d2 >= d - 1e-9:  # ties (equidistant sides) stay
                break
            self.segment, s, d = nxt, s2, d2
        return s

    def _point_ahead(self, s: float, distance: float) -> np.ndarray:
        i, w = self.segment, self.waypoints
        left = distance + s * float(np.linalg.norm(w[i + 1] - w[i]))
        for _ in range(2 * self._n_segments + 1):
            length = float(np.linalg.norm(w[i + 1] - w[i]))
            if left <= length:
                return w[i] + (w[i + 1] - w[i]) * (left / length)
            left -= length
            i += 1
            if i >= self._n_segments:
                if not self.params.loop:
                    return w[-1].copy()
                i = 0
        return w[i + 1].copy()

    def step(self, x: float, y: float, yaw: float) -> Command:
        """The command at pose (``x``, ``y``, ``yaw``) in the waypoints' frame."""
        if not all(math.isfinite(v) for v in (x, y, yaw)):
            raise ValueError(f"pose must be finite, got ({x}, {y}, {yaw})")
        p, prm = np.array([x, y], float), self.params
        goal = self.waypoints[-1]
        if self.done:
            return Command(0.0, 0.0, True, (float(goal[0]), float(goal[1])))
        s = self._advance(p)
        target = self._point_ahead(s, prm.lookahead_m)
        speed = prm.speed
        if not prm.loop:
            d_goal = float(np.linalg.norm(goal - p))
            on_last = self.segment == self._n_segments - 1
            if on_last and d_goal < prm.goal_tolerance_m:
                self.done = True
                return Command(0.0, 0.0, True, (float(goal[0]), float(goal[1])))
            if on_last:
                speed = min(speed, prm.slowdown_gain * d_goal)
        dx, dy = target - p
        c, sn = math.cos(yaw), math.sin(yaw)
        fx, fy = c * dx + sn * dy, -sn * dx + c * dy  # target in the robot frame
        alpha = math.atan2(fy, fx)
        tgt = (float(target[0]), float(target[1]))
        if abs(alpha) > prm.turn_in_place_rad:
            return Command(0.0, math.copysign(prm.max_omega, alpha), False, tgt)
        dist = max(math.hypot(fx, fy), 1e-6)
        omega = speed * 2.0 * math.sin(alpha) / dist
        return Command(speed, float(np.clip(omega, -prm.max_omega, prm.max_omega)), False, tgt)


__all__ = ["Command", "PathFollower", "PathFollowerParams", "as_waypoints",
           "circle_waypoints"]
