"""Heaviside spike functions with surrogate gradients, selectable by name.

Forward, every surrogate is the strict Heaviside step of the shifted membrane
``x = v - θ``::

    H(x) = 1 if x > 0 else 0            (as NIR, snnTorch and norse: v = θ does not spike)

Backward, dH/dx is replaced by a smooth or boxed pseudo-derivative ``h(x)``:

* ``"atan"`` (Fang et al. 2021; snnTorch's default)::

      h(x) = (α/2) / (1 + (π/2 · α · x)²)          α = 2 → h(0) = 1, ∫h = 1

* ``"fast_sigmoid"`` (SuperSpike, Zenke & Ganguli 2018)::

      h(x) = 1 / (1 + α·|x|)²                      α = 10 → h(0) = 1, ∫h = 2/α

* ``"rectangular"`` (Wu et al. 2018)::

      h(x) = α · 1[|x| < 1/(2α)]                   α = 1 → box of width 1, ∫h = 1

``alpha = 0`` picks the surrogate's default sharpness (:data:`DEFAULT_ALPHA`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .equations import heaviside


def _heaviside(x: Tensor) -> Tensor:
    return heaviside(x).to(x.dtype)


class _SurrogateSpike(torch.autograd.Function):
    """H(x) forward; ``derivative(x, α)`` stands in for the Dirac delta backward."""

    @staticmethod
    def derivative(x: Tensor, alpha: float) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def forward(ctx: Any, x: Tensor, alpha: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return _heaviside(x)

    @classmethod
    def backward(cls, ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * cls.derivative(x, ctx.alpha).to(grad.dtype), None


class ATanSpike(_SurrogateSpike):
    """H(x) forward; (α/2)/(1 + (π/2·α·x)²) backward."""

    @staticmethod
    def derivative(x: Tensor, alpha: float) -> Tensor:
        return (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2)


class FastSigmoidSpike(_SurrogateSpike):
    """H(x) forward; 1/(1 + α|x|)² backward (SuperSpike)."""

    @staticmethod
    def derivative(x: Tensor, alpha: float) -> Tensor:
        return 1 / (1 + alpha * x.abs()) ** 2


class RectangularSpike(_SurrogateSpike):
    """H(x) forward; α·1[|x| < 1/(2α)] backward."""

    @staticmethod
    def derivative(x: Tensor, alpha: float) -> Tensor:
        return alpha * (x.abs() < 1 / (2 * alpha)).to(x.dtype)


SURROGATES: dict[str, type[torch.autograd.Function]] = {
    "atan": ATanSpike,
    "fast_sigmoid": FastSigmoidSpike,
    "rectangular": RectangularSpike,
}
DEFAULT_ALPHA: dict[str, float] = {"atan": 2.0, "fast_sigmoid": 10.0, "rectangular": 1.0}


def get_surrogate(name: str) -> type[torch.autograd.Function]:
    """The autograd Function registered as ``name``; ValueError lists the choices."""
    try:
        return SURROGATES[name]
    except KeyError:
        choices = sorted(SURROGATES)
        raise ValueError(f"unknown surrogate {name!r}; choose one of {choices}") from None


def spike(x: Tensor, surrogate: str = "atan", alpha: float = 0.0) -> Tensor:
    """``H(x)`` (strict, ``x = v − θ``) with the named surrogate gradient."""
    fn = get_surrogate(surrogate)
    return fn.apply(x, float(alpha) if alpha > 0 else DEFAULT_ALPHA[surrogate])
