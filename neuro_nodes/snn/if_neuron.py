"""Integrate-and-fire (IF) neuron: no leak.

Continuous time (the NIR ``IF`` primitive)::

    dv/dt = R·I,    z = H(v − θ),    v ← v_reset when z = 1

Discrete time, forward Euler with step ``dt`` seconds::

    v' = v + dt·R·x,    z = H(v' − θ),    reset as :mod:`.lif`

So ``R = 1/dt`` adds the input once per step (``v' = v + x``).  State starts at
``v = 0``.  ``sltt=True`` detaches the membrane's temporal path.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import Tensor

from neuro_nodes.core.params import param

from . import equations as eq
from .base import NeuronCell, Tensorish
from .lif import RESETS, fire_and_reset
from .surrogate import SURROGATES


@dataclasses.dataclass(frozen=True, eq=False)
class IFParameters:
    r: Tensorish = param(1.0, "input gain R (per second): v += dt·R·x")
    v_th: Tensorish = param(1.0, "firing threshold θ: spike when v > θ")
    v_reset: Tensorish = param(0.0, "potential after a spike (reset='zero')")
    reset: str = param("zero", "reset mechanism after a spike", choices=RESETS)
    surrogate: str = param("atan", "surrogate gradient of the spike", choices=tuple(SURROGATES))
    surrogate_alpha: float = param(0.0, "surrogate sharpness; 0 = its default", min=0.0)
    sltt: bool = param(False, "SLTT: detach the membrane's temporal path")


class IFState(NamedTuple):
    v: Tensor


def if_step(
    x: Tensor, state: IFState | None, p: IFParameters, dt: float
) -> tuple[Tensor, IFState]:
    """One forward-Euler step of length ``dt`` (s): spikes ``z`` and the new state."""
    v = torch.zeros_like(x) if state is None else state.v
    if p.sltt:
        v = v.detach()
    v = eq.integrate(v, x, eq.gain(dt, p.r))
    z, v = fire_and_reset(v, p)
    return z, IFState(v)


class IFCell(NeuronCell[IFParameters, IFState]):
    """IF neuron module, see :func:`if_step`."""

    step_fn = if_step

    def __init__(self, p: IFParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else IFParameters(), dt)
