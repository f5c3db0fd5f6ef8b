"""Current-based leaky integrate-and-fire (CuBa-LIF) neuron.

Continuous time (the NIR ``CubaLIF`` primitive)::

    τ_syn · di/dt = −i + w_in·S
    τ_mem · dv/dt = (v_leak − v) + R·i,    z = H(v − θ),    v ← v_reset when z = 1

Discrete time, forward Euler with step ``dt`` seconds; the synaptic current is updated
first and the membrane integrates the *new* current (as snnTorch's ``Synaptic``)::

    i' = i + dt/τ_syn · (−i + w_in·x)          = α·i + (dt·w_in/τ_syn)·x,  α = 1 − dt/τ_syn
    v' = v + dt/τ_mem · ((v_leak − v) + R·i')  = β·v + ... + (dt·R/τ_mem)·i'
    z  = H(v' − θ);  reset as :mod:`.lif`

With snnTorch's mapping (τ_syn = dt/(1 − α), w_in = τ_syn/dt, τ_mem = dt/(1 − β),
R = τ_mem/dt, v_leak = 0) this is ``i = α·i + x; v = β·v + i``.  State starts at
``i = 0, v = v_leak``.  ``sltt=True`` detaches both state variables' temporal paths.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from torch import Tensor

from neuro_nodes.core.params import param

from .base import NeuronCell, Tensorish, require_positive
from .cuba_li import cuba_li_step
from .lif import RESETS, fire_and_reset
from .surrogate import SURROGATES


@dataclasses.dataclass(frozen=True, eq=False)
class CubaLIFParameters:
    tau_syn: Tensorish = param(5e-3, "synaptic time constant τ_syn (s), > 0", min=0.0)
    tau_mem: Tensorish = param(1e-2, "membrane time constant τ_mem (s), > 0", min=0.0)
    r: Tensorish = param(1.0, "membrane resistance R (gain of i onto v)")
    w_in: Tensorish = param(1.0, "input weight w_in onto the synaptic current")
    v_leak: Tensorish = param(0.0, "leak (resting) potential v_leak")
    v_th: Tensorish = param(1.0, "firing threshold θ: spike when v > θ")
    v_reset: Tensorish = param(0.0, "potential after a spike (reset='zero')")
    reset: str = param("zero", "reset mechanism after a spike", choices=RESETS)
    surrogate: str = param("atan", "surrogate gradient of the spike", choices=tuple(SURROGATES))
    surrogate_alpha: float = param(0.0, "surrogate sharpness; 0 = its default", min=0.0)
    sltt: bool = param(False, "SLTT: detach the temporal path of i and v")

    def validate(self) -> None:
        require_positive(self, "tau_syn", "tau_mem")


class CubaLIFState(NamedTuple):
    i: Tensor
    v: Tensor


def cuba_lif_step(
    x: Tensor, state: CubaLIFState | None, p: CubaLIFParameters, dt: float
) -> tuple[Tensor, CubaLIFState]:
    """One forward-Euler step of length ``dt`` (s): spikes ``z`` and the new state.

    Current and membrane integrate as :func:`~neuro_nodes.snn.cuba_li.cuba_li_step`, then
    the neuron fires and resets."""
    v, (i, _) = cuba_li_step(x, state, p, dt)
    z, v = fire_and_reset(v, p)
    return z, CubaLIFState(i, v)


class CubaLIFCell(NeuronCell[CubaLIFParameters, CubaLIFState]):
    """CuBa-LIF neuron module, see :func:`cuba_lif_step`."""

    step_fn = cuba_lif_step

    def __init__(self, p: CubaLIFParameters | None = None, dt: float = 1e-3) -> None:
        super().__init__(p if p is not None else CubaLIFParameters(), dt)
