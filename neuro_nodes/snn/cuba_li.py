"""Current-based leaky integrator (CuBa-LI): a CuBa-LIF that never spikes; output ``v``.

Continuous time (the NIR ``CubaLI`` primitive)::

    τ_syn · di/dt = −i + w_in·S
    τ_mem · dv/dt = (v_leak − v) + R·i

Discrete time, forward Euler with step ``dt`` seconds, new current first (as
:mod:`.cuba_lif`)::

    i' = i + dt/τ_syn · (−i + w_in·x)
    v' = v + dt/τ_mem · ((v_leak − v) + R·i'),    output v'

State starts at ``i = 0, v = v_leak``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import Tensor

from neuro_nodes.core.params import param

from . import equations as eq
from .base import NeuronCell, Tensorish, initial, require_positive


@dataclasses.dataclass(frozen=True, eq=False)
class CubaLIParameters:
    tau_syn: Tensorish = param(5e-3, "synaptic time constant τ_syn (s), > 0", min=0.0)
    tau_mem: Tensorish = param(1e-2, "membrane time constant τ_mem (s), > 0", min=0.0)
    r: Tensorish = param(1.0, "membrane resistance R (gain of i onto v)")
    w_in: Tensorish = param(1.0, "input weight w_in onto the synaptic current")
    v_leak: Tensorish = param(0.0, "leak (resting) potential v_leak")
    sltt: bool = param(False, "SLTT: detach the temporal path of i and v")

    def validate(self) -> None:
        require_positive(self, "tau_syn", "tau_mem")


class CubaLIState(NamedTuple):
    i: Tensor
    v: Tensor


def cuba_li_step(
    x: Tensor, state: CubaLIState | None, p: CubaLIParameters, dt: float
) -> tuple[Tensor, CubaLIState]:
    """One forward-Euler step of length ``dt`` (s): returns ``v'`` and the new state."""
    if state is None:
        i, v = torch.zeros_like(x), initial(x, p.v_leak)
    else:
        i, v = state
    if p.sltt:
        i, v = i.detach(), v.detach()
    i = eq.synaptic_current(i, x, eq.rate(dt, p.tau_syn), p.w_in)
    v = eq.leaky_integrate(v, i, eq.rate(dt, p.tau_mem), p.r, p.v_leak)
    return v, CubaLIState(i, v)


class CubaLICell(NeuronCell[CubaLIParameters, CubaLIState]):
    """CuBa leaky-integrator module, see :func:`cuba_li_step`."""

    step_fn = cuba_li_step

    def __init__(self, p: CubaLIParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else CubaLIParameters(), dt)
