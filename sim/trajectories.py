"""Scripted rigid-body trajectories with analytic twists (for mocap bodies: exact ground truth).

A trajectory is a pure function of time: ``pose(t) -> (position (3,), quaternion wxyz (4,))``
and ``twist(t) -> (linear (3,), angular (3,))``, the world-frame velocity of the frame's
origin and its world-frame angular velocity, the exact time derivatives of ``pose``.

:class:`SinusoidTrajectory` (camera rig): about a base pose ``(p0, R0)``

* position ``p(t) = p0 + R0 (a_i sin(2 pi f_i t + phi_i))_i`` (per body axis x, y, z),
* orientation ``R(t) = R0 Rz(yaw(t)) Ry(pitch(t)) Rx(roll(t))`` with each angle
  ``b_j sin(2 pi g_j t + psi_j)``,
* angular velocity ``w = R0 (yaw' z + Rz(yaw) (pitch' y + Ry(pitch) roll' x))``.

Amplitudes are set from a peak speed: ``a_i = v / (2 pi f_i)``, so each axis peaks at ``v``
m/s (``w`` rad/s for the angles).

:class:`CircleTrajectory` (moving objects): a horizontal circle of radius ``r`` about
``center`` at angular rate ``Omega``, spinning about world z at ``spin`` rad/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from sim.spatial import mat_to_quat, quat_to_mat

Array = np.ndarray

#: Motion kinds of the camera rig.
MOTION_KINDS = ("pure_rotation", "pure_translation", "mixed", "static")


class Trajectory(Protocol):
    def pose(self, t: float) -> tuple[Array, Array]: ...

    def twist(self, t: float) -> tuple[Array, Array]: ...


def _qmul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """Hamilton product of two (w, x, y, z) tuples (plain floats: fast for one pose)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def _rz(a: float) -> Array:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _ry(a: float) -> Array:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True)
class SinusoidTrajectory:
    """Sum-of-sines 6-DoF motion about a base pose (see the module docstring).

    ``freqs_lin``/``freqs_ang`` are per axis (Hz), ``phases_*`` in radians, ``amp_lin`` in m
    (per body axis), ``amp_ang`` in rad (yaw, pitch, roll).
    """

    p0: tuple[float, float, float]
    q0: tuple[float, float, float, float]
    amp_lin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    freqs_lin: tuple[float, float, float] = (0.31, 0.43, 0.53)
    phases_lin: tuple[float, float, float] = (0.0, 0.7, 1.9)
    amp_ang: tuple[float, float, float] = (0.0, 0.0, 0.0)
    freqs_ang: tuple[float, float, float] = (0.37, 0.47, 0.59)
    phases_ang: tuple[float, float, float] = (0.0, 1.1, 2.3)

    @staticmethod
    def from_speed(p0: Array, q0: Array, kind: str, linear_speed: float,
                   angular_speed: float) -> SinusoidTrajectory:
        """A trajectory of one of :data:`MOTION_KINDS`, each axis peaking at the speeds."""
        if kind not in MOTION_KINDS:
            raise ValueError(f"unknown motion {kind!r}; expected one of {MOTION_KINDS}")
        base = SinusoidTrajectory(tuple(map(float, p0)), tuple(map(float, q0)))
        lin = kind in ("pure_translation", "mixed")
        ang = kind in ("pure_rotation", "mixed")
        amp_lin = tuple(linear_speed / (2 * math.pi * f) if lin else 0.0
                        for f in base.freqs_lin)
        amp_ang = tuple(angular_speed / (2 * math.pi * f) if ang else 0.0
                        for f in base.freqs_ang)
        return SinusoidTrajectory(base.p0, base.q0, amp_lin=amp_lin, amp_ang=amp_ang)

    @cached_property
    def _r0(self) -> Array:
        return quat_to_mat(np.asarray(self.q0))

    def _angles(self, t: float) -> tuple[list[float], list[float]]:
        """(yaw, pitch, roll) and their rates at ``t`` (plain floats: called every step)."""
        ang, rate = [], []
        for a, f, ph in zip(self.amp_ang, self.freqs_ang, self.phases_ang, strict=True):
            w = 2 * math.pi * f
            ang.append(a * math.sin(w * t + ph))
            rate.append(a * w * math.cos(w * t + ph))
        return ang, rate

    def pose(self, t: float) -> tuple[Array, Array]:
        offset = np.array([a * math.sin(2 * math.pi * f * t + ph) for a, f, ph in
                           zip(self.amp_lin, self.freqs_lin, self.phases_lin, strict=True)])
        (yaw, pitch, roll), _ = self._angles(t)
        cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
        cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
        cr, sr = math.cos(roll / 2), math.sin(roll / 2)
        q_zyx = (cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
                 cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy)  # Rz Ry Rx
        q = np.array(_qmul(self.q0, q_zyx))
        return np.asarray(self.p0) + self._r0 @ offset, q / math.sqrt(float(q @ q))

    def twist(self, t: float) -> tuple[Array, Array]:
        vel = np.array([a * 2 * math.pi * f * math.cos(2 * math.pi * f * t + ph)
                        for a, f, ph in zip(self.amp_lin, self.freqs_lin, self.phases_lin,
                                            strict=True)])
        (yaw, pitch, _), (dyaw, dpitch, droll) = self._angles(t)
        omega_local = (np.array([0.0, 0.0, dyaw])
                       + _rz(yaw) @ (np.array([0.0, dpitch, 0.0])
                                     + _ry(pitch) @ np.array([droll, 0.0, 0.0])))
        return self._r0 @ vel, self._r0 @ omega_local


@dataclass(frozen=True)
class CircleTrajectory:
    """Horizontal circle about ``center`` (radius m, rate rad/s) with a spin about world z."""

    center: tuple[float, float, float]
    radius: float
    rate: float
    spin: float = 0.0
    phase: float = 0.0
    yaw0: float = 0.0

    def pose(self, t: float) -> tuple[Array, Array]:
        a = self.phase + self.rate * t
        pos = np.asarray(self.center) + self.radius * np.array([math.cos(a), math.sin(a), 0.0])
        half = 0.5 * (self.yaw0 + self.spin * t)
        return pos, np.array([math.cos(half), 0.0, 0.0, math.sin(half)])

    def twist(self, t: float) -> tuple[Array, Array]:
        a = self.phase + self.rate * t
        v = self.radius * self.rate * np.array([-math.sin(a), math.cos(a), 0.0])
        return v, np.array([0.0, 0.0, self.spin])


def look_at_quaternion(position: Array, target: Array) -> Array:
    """Quaternion of a REP-103 ``camera_link`` (x forward, z up) at ``position`` facing
    ``target`` with no roll."""
    fwd = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    fwd /= np.linalg.norm(fwd)
    left = np.cross([0.0, 0.0, 1.0], fwd)
    if np.linalg.norm(left) < 1e-9:
        left = np.array([0.0, 1.0, 0.0])
    left /= np.linalg.norm(left)
    up = np.cross(fwd, left)
    return mat_to_quat(np.stack([fwd, left, up], axis=1))


__all__ = [
    "MOTION_KINDS",
    "CircleTrajectory",
    "SinusoidTrajectory",
    "Trajectory",
    "look_at_quaternion",
]
