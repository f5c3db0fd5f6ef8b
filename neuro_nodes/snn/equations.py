"""The neuron equations, written once.

Each function is one forward-Euler update (or one coefficient of it) in plain arithmetic:
``+ − · /`` and a comparison, no library call and no float literal.  So the very same
function runs on torch tensors, called by the step functions of this package
(:func:`~neuro_nodes.snn.li.li_step`, :func:`~neuro_nodes.snn.lif.lif_step`, ...), and on
float32 scalars inside the compiled neuron loops of the accelerator runtime
(:mod:`neuro_nodes.accel.fused` compiles these functions with numba).  Change an equation
here and both paths change together.

Why no float literals: numba types a Python float literal as float64, which would promote the
compiled float32 arithmetic and round differently from torch's float32 (the runtime checks
both paths bit for bit and falls back to the step function if they ever differ).
The operation order is part of the definition: float32 results depend on it.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")  # a torch Tensor, or a float32 scalar inside compiled code


def rate(dt: T, tau: T) -> T:
    """The Euler factor ``dt/τ`` of a time constant ``τ`` (s)."""
    return dt / tau


def gain(dt: T, r: T) -> T:
    """The per-step input gain ``dt·R`` of a non-leaky integrator."""
    return dt * r


def leaky_integrate(v: T, x: T, dt_tau: T, r: T, v_leak: T) -> T:
    """``τ·dv/dt = (v_leak − v) + R·x``: ``v' = v + dt/τ·((v_leak − v) + R·x)``."""
    return v + dt_tau * ((v_leak - v) + r * x)


def synaptic_current(i: T, x: T, dt_tau_syn: T, w_in: T) -> T:
    """``τ_syn·di/dt = −i + w_in·x``: ``i' = i + dt/τ_syn·(w_in·x − i)``."""
    return i + dt_tau_syn * (w_in * x - i)


def integrate(v: T, x: T, dt_r: T) -> T:
    """``dv/dt = R·x``: ``v' = v + dt·R·x`` (``dt_r`` from :func:`gain`)."""
    return v + dt_r * x


def shifted(v: T, v_th: T) -> T:
    """The membrane relative to the threshold, ``v − θ``: the argument of the spike."""
    return v - v_th


def heaviside(u: T) -> T:
    """The spike condition, strict: ``u > 0`` (``v = θ`` does not spike)."""
    return u > 0


#: the functions that the compiled loops use, in dependency order
__all__ = ["gain", "heaviside", "integrate", "leaky_integrate", "rate", "shifted",
           "synaptic_current"]
