"""Elementwise scale (the NIR ``Scale`` primitive): ``y = x ⊙ s``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Tensorish


class Scale(nn.Module):
    """``y = x ⊙ s`` with ``s`` scalar or broadcastable to the feature shape."""

    def __init__(self, scale: Tensorish) -> None:
        super().__init__()
        t = scale.detach().clone() if isinstance(scale, Tensor) else torch.tensor(float(scale))
        self.register_buffer("scale", t.to(torch.get_default_dtype()))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale
