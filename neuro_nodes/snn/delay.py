"""Delay by an integer number of time steps (the NIR ``Delay`` primitive).

::

    y_t = x_{t−k}        (zeros for t < k);   k scalar or per element

NIR's ``Delay`` holds delays in seconds; ``k = round(delay/dt)`` (see :mod:`.nir_import`).
The state is the last ``K = max k`` inputs, ``[K, B, ...]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import StatefulModule


class Delay(StatefulModule):
    """``forward(x, state) -> (x delayed by k steps, state)``; ``k >= 0`` integer(s)."""

    def __init__(self, steps: int | Sequence[int] | Tensor) -> None:
        super().__init__()
        k = torch.as_tensor(steps)
        if k.is_floating_point() and not bool((k == k.round()).all()):
            raise ValueError(f"steps: must be integers, got {k.tolist()}")
        k = k.to(torch.long)
        if bool((k < 0).any()):
            raise ValueError(f"steps: must be >= 0, got {k.tolist()}")
        self.register_buffer("steps", k)
        self.max_steps = int(k.max()) if k.numel() else 0
        self.uniform = bool((k == self.max_steps).all())

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        K = self.max_steps
        if K == 0:
            return x, state
        buf = x.new_zeros((K, *x.shape)) if state is None else state
        hist = torch.cat([buf, x.unsqueeze(0)])  # hist[j] = x_{t-K+j}
        if self.uniform:
            y = hist[0]
        else:
            index = (K - self.steps).expand(x.shape).unsqueeze(0)
            y = torch.gather(hist, 0, index).squeeze(0)
        return y, hist[1:]

    def extra_repr(self) -> str:
        return f"steps={self.steps.tolist()}"
