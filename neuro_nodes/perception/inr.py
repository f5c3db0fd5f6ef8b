"""A small coordinate network ``f(x, y, t) -> flow``: the implicit flow representation.

Inputs are normalised to about ``[-1, 1]`` (``x/W``, ``y/H`` and time within the window);
they are lifted by fixed random Fourier features ``[sin(2 pi B z), cos(2 pi B z)]``
(Tancik et al. 2020) with separate spatial and temporal bandwidths, then a tiny MLP
(SiLU) maps them to two outputs. Low bandwidths make the field smooth, which is the
implicit regulariser of E-MoFlow: a smooth flow cannot collapse events onto a few lines the
way a free per-pixel flow can. The last layer starts at zero, so a fresh network predicts
zero flow (the neutral start of contrast maximisation). Pure torch, CPU-sized
(a few thousand weights).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FourierFlowField"]


class FourierFlowField(nn.Module):
    """``forward(z)`` with ``z`` (N, 3) = (x_n, y_n, t_n) returns (N, 2) raw outputs."""

    def __init__(self, n_features: int = 24, hidden: int = 32, layers: int = 2,
                 spatial_sigma: float = 1.5, temporal_sigma: float = 0.3, seed: int = 0
                 ) -> None:
        super().__init__()
        if n_features < 1 or hidden < 1 or layers < 1:
            raise ValueError(
                f"FourierFlowField needs n_features, hidden, layers >= 1, got "
                f"{n_features}, {hidden}, {layers}"
            )
        g = torch.Generator().manual_seed(int(seed))
        b = torch.randn(3, n_features, generator=g)
        b[:2] *= spatial_sigma
        b[2] *= temporal_sigma
        self.register_buffer("freq", 2.0 * math.pi * b)
        dims = [2 * n_features + 3] + [hidden] * layers
        mods: list[nn.Module] = []
        for i in range(layers):
            lin = nn.Linear(dims[i], dims[i + 1])
            with torch.no_grad():  # seeded init: the same network for the same seed
                bound = 1.0 / math.sqrt(dims[i])
                lin.weight.uniform_(-bound, bound, generator=g)
                lin.bias.uniform_(-bound, bound, generator=g)
            mods += [lin, nn.SiLU()]
        self.body = nn.Sequential(*mods)
        self.head = nn.Linear(hidden, 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        proj = z @ self.freq
        feats = torch.cat([z, torch.sin(proj), torch.cos(proj)], dim=-1)
        return self.head(self.body(feats))
