"""Integrator (I): a membrane that only integrates; its output is ``v``.

Continuous time (the NIR ``I`` primitive)::

    dv/dt = R·I

Discrete time, forward Euler with step ``dt`` seconds::

    v' = v + dt·R·x,    output v'

State starts at ``v = 0``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import Tensor

from neuro_nodes.core.params import param

from . import equations as eq
from .base import NeuronCell, Tensorish


@dataclasses.dataclass(frozen=True, eq=False)
class IParameters:
    r: Tensorish = param(1.0, "input gain R (per second): v += dt·R·x")
    sltt: bool = param(False, "SLTT: detach the temporal path")


class IState(NamedTuple):
    v: Tensor


def i_step(x: Tensor, state: IState | None, p: IParameters, dt: float) -> tuple[Tensor, IState]:
    """One forward-Euler step of length ``dt`` (s): returns ``v'`` and the new state."""
    v = torch.zeros_like(x) if state is None else state.v
    if p.sltt:
        v = v.detach()
    v = eq.integrate(v, x, eq.gain(dt, p.r))
    return v, IState(v)


class ICell(NeuronCell[IParameters, IState]):
    """Integrator module, see :func:`i_step`."""

    step_fn = i_step

    def __init__(self, p: IParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else IParameters(), dt)
