"""Leaky integrator (LI): a LIF membrane that never spikes; its output is ``v``.

Continuous time (the NIR ``LI`` primitive)::

    τ · dv/dt = (v_leak − v) + R·I

Discrete time, forward Euler with step ``dt`` seconds::

    v' = v + dt/τ · ((v_leak − v) + R·x),    output v'

State starts at ``v = v_leak``.  ``sltt=True`` detaches the temporal path.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from torch import Tensor

from neuro_nodes.core.params import param

from . import equations as eq
from .base import NeuronCell, Tensorish, initial, require_positive


@dataclasses.dataclass(frozen=True, eq=False)
class LIParameters:
    tau_mem: Tensorish = param(1e-2, "membrane time constant τ (s), > 0", min=0.0)
    r: Tensorish = param(1.0, "membrane resistance R (input gain)")
    v_leak: Tensorish = param(0.0, "leak (resting) potential v_leak")
    sltt: bool = param(False, "SLTT: detach the membrane's temporal path")

    def validate(self) -> None:
        require_positive(self, "tau_mem")


class LIState(NamedTuple):
    v: Tensor


def li_step(
    x: Tensor, state: LIState | None, p: LIParameters, dt: float
) -> tuple[Tensor, LIState]:
    """One forward-Euler step of length ``dt`` (s): returns ``v'`` and the new state."""
    v = initial(x, p.v_leak) if state is None else state.v
    if p.sltt:
        v = v.detach()
    v = eq.leaky_integrate(v, x, eq.rate(dt, p.tau_mem), p.r, p.v_leak)
    return v, LIState(v)


class LICell(NeuronCell[LIParameters, LIState]):
    """Leaky-integrator module, see :func:`li_step`."""

    step_fn = li_step

    def __init__(self, p: LIParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else LIParameters(), dt)
