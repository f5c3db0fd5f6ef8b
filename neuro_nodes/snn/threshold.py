"""Threshold: a stateless spike generator (the NIR ``Threshold`` primitive).

::

    z = H(x − θ)        (strict: x = θ gives 0), surrogate gradient by name
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Tensorish
from .surrogate import get_surrogate, spike


class Threshold(nn.Module):
    """``z = H(x − θ)`` with the named surrogate gradient; θ scalar or per neuron."""

    def __init__(
        self, v_th: Tensorish = 1.0, surrogate: str = "atan", surrogate_alpha: float = 0.0
    ) -> None:
        super().__init__()
        get_surrogate(surrogate)  # ValueError early for an unknown name
        t = v_th.detach().clone() if isinstance(v_th, Tensor) else torch.tensor(float(v_th))
        self.register_buffer("v_th", t.to(torch.get_default_dtype()))
        self.surrogate = surrogate
        self.surrogate_alpha = float(surrogate_alpha)

    def forward(self, x: Tensor) -> Tensor:
        return spike(x - self.v_th, self.surrogate, self.surrogate_alpha)

    def extra_repr(self) -> str:
        return f"v_th={tuple(self.v_th.shape) or self.v_th.item()}, surrogate={self.surrogate!r}"
