"""The stateful-module protocol and the neuron-cell base shared by every neuron model.

Every neuron model has three parts, as in norse:

* a frozen parameter dataclass whose fields are :func:`neuro_nodes.core.params.param`
  fields (meaning and range in the metadata); numeric fields accept a Python float or a
  tensor broadcastable to the neuron shape (per-neuron values, e.g. from NIR);
* a pure step function ``step(x, state, p, dt) -> (out, state)`` advancing one time step
  of length ``dt`` seconds (``state=None`` is the initial state);
* a thin :class:`NeuronCell` module holding ``p`` (numeric fields as buffers, so they
  follow ``.to(device/dtype)``) and ``dt``.

Tensors are ``[B, *neuron_shape]`` per step; containers (``SpikingSequential``,
``GraphModule``) add the leading time axis, ``[T, B, ...]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor, nn

from neuro_nodes.core.params import spec_of

Tensorish = float | Tensor
"""A scalar for every neuron, or a tensor broadcastable to the neuron shape."""

P = TypeVar("P")
S = TypeVar("S")


class StatefulModule(nn.Module):
    """A module advanced one step at a time: ``forward(x, state=None) -> (out, state)``.

    Containers thread the state; plain ``nn.Module`` layers (Linear, Conv, pooling,
    Flatten) are stateless and called as ``module(x)``.
    """

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:  # pragma: no cover
        raise NotImplementedError


def check_params(p: Any) -> None:
    """Check every ``param()`` field of ``p`` against its spec (elementwise for tensors).

    Raises ValueError naming the field; then runs ``p.validate()`` if defined.
    """
    for f in dataclasses.fields(p):
        spec = spec_of(f)
        value = getattr(p, f.name)
        if isinstance(value, Tensor):
            if not torch.is_floating_point(value):
                raise ValueError(f"{f.name}: expected a floating-point tensor, got {value.dtype}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{f.name}: must be finite")
            lo, hi = (value.min().item(), value.max().item()) if value.numel() else (0.0, 0.0)
        elif isinstance(value, bool) or isinstance(f.default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{f.name}: expected bool, got {value!r}")
            continue
        elif isinstance(value, (int, float)):
            lo = hi = float(value)
            if lo != lo or abs(lo) == float("inf"):
                raise ValueError(f"{f.name}: must be finite, got {value}")
        else:
            lo = hi = None
        if spec.min is not None and lo is not None and lo < spec.min:
            raise ValueError(f"{f.name}: {lo} is below the minimum {spec.min}")
        if spec.max is not None and hi is not None and hi > spec.max:
            raise ValueError(f"{f.name}: {hi} is above the maximum {spec.max}")
        if spec.choices is not None and value not in spec.choices:
            raise ValueError(f"{f.name}: {value!r} is not one of {list(spec.choices)}")
    check = getattr(p, "validate", None)
    if check is not None:
        check()


def require_positive(p: Any, *names: str) -> None:
    """ValueError unless every named field of ``p`` is > 0 (time constants)."""
    for name in names:
        value = getattr(p, name)
        ok = bool((value > 0).all()) if isinstance(value, Tensor) else value > 0
        if not ok:
            raise ValueError(f"{name}: must be > 0")


def _numeric_fields(p: Any) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(p)
        if isinstance(f.default, float) and not isinstance(f.default, bool)
    ]


class NeuronCell(StatefulModule, Generic[P, S]):
    """Module wrapper of a pure neuron step function.

    Subclasses set ``step_fn``; ``forward(x, state) = step_fn(x, state, self.p, self.dt)``.
    Numeric parameter fields live in buffers named ``p_<field>``.
    """

    step_fn: Callable[..., tuple[Tensor, S]]

    def __init__(self, p: P, dt: float) -> None:
        super().__init__()
        check_params(p)
        if not (isinstance(dt, (int, float)) and dt > 0):
            raise ValueError(f"dt: must be a positive number of seconds, got {dt!r}")
        self.dt = float(dt)
        self._static = p
        self._numeric = _numeric_fields(p)
        for name in self._numeric:
            value = getattr(p, name)
            t = value.detach().clone() if isinstance(value, Tensor) else torch.tensor(value)
            self.register_buffer(f"p_{name}", t.to(torch.get_default_dtype()))

    @property
    def p(self) -> P:
        """The parameters, numeric fields as (device-following) tensors."""
        return dataclasses.replace(
            self._static, **{n: getattr(self, f"p_{n}") for n in self._numeric}
        )

    def forward(self, x: Tensor, state: S | None = None) -> tuple[Tensor, S]:
        return type(self).step_fn(x, state, self.p, self.dt)

    def extra_repr(self) -> str:
        parts = [f"dt={self.dt:g}"]
        for f in dataclasses.fields(self._static):
            v = getattr(self._static, f.name)
            if isinstance(v, Tensor):
                parts.append(f"{f.name}=tensor{tuple(v.shape)}")
            else:
                parts.append(f"{f.name}={v!r}")
        return ", ".join(parts)


def initial(x: Tensor, value: Tensorish) -> Tensor:
    """A state tensor shaped like ``x`` filled with ``value`` (broadcast)."""
    return torch.zeros_like(x) + value
