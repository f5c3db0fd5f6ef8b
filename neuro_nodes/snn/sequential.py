"""Multi-step container: a chain of stateless layers and stateful cells over ``[T, B, ...]``.

``forward(x)`` takes ``x`` shaped ``[T, B, *features]`` and returns ``[T, B, *out]``.
Layers run one after another over the whole sequence (layer by layer, which equals step
by step for a feed-forward chain): a stateless layer sees ``[T·B, ...]`` at once; a
:class:`StatefulModule` is stepped ``T`` times.  State is kept between calls, so a long
stream can be fed in chunks (streaming); ``reset()`` returns to the initial state and
``detach()`` cuts the graph at the chunk boundary (truncated BPTT).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .base import StatefulModule


def _detach(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        items = [_detach(s) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    return state


class SpikingSequential(nn.Sequential):
    """``nn.Sequential`` for spiking networks: multi-step, batched, stateful."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        self.state: list[Any] = [None] * len(self)

    def reset(self) -> None:
        """Forget all state (membranes, delay lines, feedback)."""
        self.state = [None] * len(self)
        for module in self:
            if isinstance(module, SpikingSequential):
                module.reset()

    def detach(self) -> None:
        """Detach the kept state from the autograd graph (truncated BPTT)."""
        self.state = [_detach(s) for s in self.state]
        for module in self:
            if isinstance(module, SpikingSequential):
                module.detach()

    def step(self, x: Tensor) -> Tensor:
        """Advance one time step: ``x`` is ``[B, ...]``."""
        if len(self.state) != len(self):
            self.reset()
        for i, module in enumerate(self):
            if isinstance(module, StatefulModule):
                x, self.state[i] = module(x, self.state[i])
            elif isinstance(module, SpikingSequential):
                x = module.step(x)
            else:
                x = module(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Run ``x`` shaped ``[T, B, ...]``; returns ``[T, B, ...]``."""
        if x.dim() < 2:
            raise ValueError(f"expected input [T, B, ...], got shape {tuple(x.shape)}")
        if len(self.state) != len(self):
            self.reset()
        T, B = x.shape[:2]
        for i, module in enumerate(self):
            if isinstance(module, StatefulModule):
                outs = []
                s = self.state[i]
                for t in range(T):
                    y, s = module(x[t], s)
                    outs.append(y)
                self.state[i] = s
                x = torch.stack(outs)
            elif isinstance(module, SpikingSequential):
                x = module(x)
            else:
                y = module(x.reshape(T * B, *x.shape[2:]))
                x = y.reshape(T, B, *y.shape[1:])
        return x
