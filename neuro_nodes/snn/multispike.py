"""Integer multi-spike neuron of E-3DSNN (Qiu et al. 2025, ``bollossom/E-3DSNN``).

A stateless activation emitting an integer spike count per step::

    s = floor(clamp(u, 0, D) + 0.5)            (D = 4: s ∈ {0, 1, 2, 3, 4})

Backward is a straight-through estimator gated to the unclamped range::

    ds/du = 1   where 0 < u < D,   0 elsewhere

In E-3DSNN it replaces the binary spike in every block (T = 1 at training); at inference
a count ``s`` can be expanded to ``s`` binary spikes over ``D`` virtual time steps.  No NIR
primitive exists for it, so :func:`export_nir` rejects it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class MultiSpikeFunction(torch.autograd.Function):
    """``floor(clamp(u, 0, D) + 0.5)`` with the gated straight-through gradient."""

    @staticmethod
    def forward(ctx: Any, u: Tensor, max_spikes: int) -> Tensor:
        ctx.save_for_backward(u)
        ctx.max_spikes = max_spikes
        return torch.floor(torch.clamp(u, 0, max_spikes) + 0.5)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (u,) = ctx.saved_tensors
        inside = (u > 0) & (u < ctx.max_spikes)
        return grad * inside.to(grad.dtype), None


def multispike(u: Tensor, max_spikes: int = 4) -> Tensor:
    """Integer spike count ``floor(clamp(u, 0, D) + 0.5)``, ``D = max_spikes``."""
    if max_spikes < 1:
        raise ValueError(f"max_spikes: must be >= 1, got {max_spikes}")
    return MultiSpikeFunction.apply(u, int(max_spikes))


class MultiSpike(nn.Module):
    """Module form of :func:`multispike` (stateless; no membrane)."""

    def __init__(self, max_spikes: int = 4) -> None:
        super().__init__()
        if max_spikes < 1:
            raise ValueError(f"max_spikes: must be >= 1, got {max_spikes}")
        self.max_spikes = int(max_spikes)

    def forward(self, u: Tensor) -> Tensor:
        return MultiSpikeFunction.apply(u, self.max_spikes)

    def extra_repr(self) -> str:
        return f"max_spikes={self.max_spikes}"
