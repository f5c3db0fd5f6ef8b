"""Leaky integrate-and-fire (LIF) neuron.

Continuous time (the NIR ``LIF`` primitive)::

    τ_mem · dv/dt = (v_leak − v) + R·I,    z = H(v − θ),    v ← v_reset when z = 1

Discrete time, forward Euler with step ``dt`` seconds, the input ``x`` held constant
over the step::

    v' = v + dt/τ_mem · ((v_leak − v) + R·x)
       = β·v + (1 − β)·v_leak + (dt·R/τ_mem)·x          with β = 1 − dt/τ_mem
    z  = H(v' − θ)                                      (strict: v' = θ does not spike)
    v  = v_reset        where z = 1   (reset="zero")
    v  = v' − z·θ                     (reset="subtract"; no NIR equivalent)

The reset uses a detached ``z`` (no gradient through the reset, as snnTorch).  With
snnTorch's mapping τ_mem = dt/(1 − β), R = τ_mem/dt, v_leak = 0 the update is snnTorch's
``v = β·v + x``.  The state starts at rest, ``v = v_leak``.

SLTT (Meng et al. 2023, ``sltt=True``): the membrane's temporal path is detached,
``v' = v.detach() + dt/τ·(...)`` i.e. ``v ← v.detach()·β + input``, so the graph of step
``t`` does not reach step ``t−1`` and backpropagating every step needs memory independent
of the number of steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import torch
from torch import Tensor

from neuro_nodes.core.params import param

from . import equations as eq
from .base import NeuronCell, Tensorish, initial, require_positive
from .li import li_step
from .surrogate import SURROGATES, spike

RESETS = ("zero", "subtract")


@dataclasses.dataclass(frozen=True, eq=False)
class LIFParameters:
    tau_mem: Tensorish = param(1e-2, "membrane time constant τ_mem (s), > 0", min=0.0)
    r: Tensorish = param(1.0, "membrane resistance R (input gain; NIR r)")
    v_leak: Tensorish = param(0.0, "leak (resting) potential v_leak")
    v_th: Tensorish = param(1.0, "firing threshold θ: spike when v > θ")
    v_reset: Tensorish = param(0.0, "potential after a spike (reset='zero')")
    reset: str = param("zero", "reset mechanism after a spike", choices=RESETS)
    surrogate: str = param("atan", "surrogate gradient of the spike", choices=tuple(SURROGATES))
    surrogate_alpha: float = param(0.0, "surrogate sharpness; 0 = its default", min=0.0)
    sltt: bool = param(False, "SLTT: detach the membrane's temporal path")

    def validate(self) -> None:
        require_positive(self, "tau_mem")


class LIFState(NamedTuple):
    v: Tensor


def fire_and_reset(v: Tensor, p: Any) -> tuple[Tensor, Tensor]:
    """Spike ``z = H(v − θ)`` and the reset membrane, for any params with
    ``v_th, v_reset, reset, surrogate, surrogate_alpha``."""
    z = spike(eq.shifted(v, p.v_th), p.surrogate, p.surrogate_alpha)
    zd = z.detach()
    if p.reset == "subtract":
        return z, v - zd * p.v_th
    return z, torch.where(zd > 0, initial(v, p.v_reset), v)


def lif_step(
    x: Tensor, state: LIFState | None, p: LIFParameters, dt: float
) -> tuple[Tensor, LIFState]:
    """One forward-Euler step of length ``dt`` (s): returns spikes ``z`` and the new state.

    The membrane integrates as :func:`~neuro_nodes.snn.li.li_step`, then fires and resets."""
    v, _ = li_step(x, state, p, dt)
    z, v = fire_and_reset(v, p)
    return z, LIFState(v)


class LIFCell(NeuronCell[LIFParameters, LIFState]):
    """LIF neuron module: ``forward(x, state) -> (z, state)``, see :func:`lif_step`."""

    step_fn = lif_step

    def __init__(self, p: LIFParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else LIFParameters(), dt)
