"""Recurrent spiking layer: a neuron cell whose output feeds back through a weight.

::

    f_t = W_rec(z_{t−1})          (f_0 = 0: the feedback is one step late, no bias at t = 0)
    z_t, s_t = cell(x_t + f_t, s_{t−1})

This is exactly a NIR graph ``… → cell → w_rec → cell`` executed with a one-step delay on
the back edge (:class:`GraphModule`), and snnTorch's ``RLeaky``/``RSynaptic`` for a
bias-free ``W_rec``.  With an SLTT cell (``p.sltt``) the feedback ``f`` is detached too, so
no gradient path crosses time steps.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .base import StatefulModule


class Recurrent(StatefulModule):
    """``forward(x, state) -> (z, state)`` with ``state = (cell_state, feedback)``.

    ``w_rec``: a module mapping the cell's output onto its input (features, not time), or
    an int ``n`` for ``nn.Linear(n, n, bias=False)``.
    """

    def __init__(self, cell: StatefulModule, w_rec: nn.Module | int) -> None:
        super().__init__()
        self.cell = cell
        self.w_rec = nn.Linear(w_rec, w_rec, bias=False) if isinstance(w_rec, int) else w_rec
        static = getattr(cell, "_static", None)
        self.sltt = bool(getattr(static, "sltt", False))

    def forward(self, x: Tensor, state: tuple[Any, Tensor] | None = None) -> tuple[Tensor, Any]:
        cell_state, feedback = (None, None) if state is None else state
        if feedback is not None:
            x = x + feedback
        z, cell_state = self.cell(x, cell_state)
        feedback = self.w_rec(z)
        if self.sltt:
            feedback = feedback.detach()
        return z, (cell_state, feedback)
