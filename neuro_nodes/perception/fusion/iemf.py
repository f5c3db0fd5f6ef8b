"""Inverse-effectiveness-driven multimodal fusion (IEMF; Brain-Cog-Lab/IEMF).

Inverse effectiveness (multisensory neurons): the weaker the single senses, the larger the
gain of combining them.  IEMF turns it into a training rule.  Per batch, with the true
classes ``y_i``::

    score_m = Σ_i softmax(logits_m,i)[y_i]          for each unimodal head m and the fused head
    ratio   = mean_m(score_m) / score_fused
    coeff   = 1 + tanh(1 − ratio)                   ∈ (1 − tanh(∞), 2): ≈ 1.76 when ratio = 0

and the fusion layer's gradient becomes ``g · coeff + N(0, std(g))`` (noise scaled to the
gradient's own spread, as published; ``noise`` scales it) inside a window of epochs, with the
unimodal cross-entropy losses added to the fused one.  When the fused head is already far
better than the unimodal ones (ratio small) the fusion learns fastest; when a unimodal head
alone is as good as the fusion (ratio ≥ 1) the boost vanishes (coeff ≤ 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


def true_class_score(logits: Tensor, targets: Tensor) -> Tensor:
    """``Σ_i softmax(logits_i)[y_i]`` (a scalar; no gradient)."""
    with torch.no_grad():
        p = torch.softmax(logits.float(), 1)
        return p.gather(1, targets.view(-1, 1)).sum()


def iemf_coefficient(unimodal_logits: Sequence[Tensor], fused_logits: Tensor,
                     targets: Tensor) -> float:
    """``1 + tanh(1 − mean_m(score_m) / score_fused)`` of one batch."""
    if not unimodal_logits:
        raise ValueError("iemf_coefficient: no unimodal logits")
    uni = torch.stack([true_class_score(lg, targets) for lg in unimodal_logits]).mean()
    fused = true_class_score(fused_logits, targets).clamp(min=1e-12)
    return float(1.0 + torch.tanh(1.0 - uni / fused))


def modulate_gradients(parameters: Iterable[Tensor], coeff: float, noise: float = 1.0,
                       generator: torch.Generator | None = None) -> None:
    """In place: ``g ← g · coeff + noise · N(0, std(g))`` for each parameter with a gradient."""
    for prm in parameters:
        g = prm.grad
        if g is None:
            continue
        g.mul_(coeff)
        if noise > 0 and g.numel() > 1:
            std = float(g.std()) / coeff  # the spread of the unscaled gradient
            g.add_(torch.randn(g.shape, generator=generator, dtype=g.dtype) * (noise * std))


__all__ = ["iemf_coefficient", "modulate_gradients", "true_class_score"]
