"""Event lists: the nonzero entries of a layer's input, per sample, in memory order.

Tensors between layers are ``[B, ...]``; a 2-D convolution's output (and the neurons and
pooling after it) is kept channels-last in memory (``[B, C, H, W]`` with
``torch.channels_last`` strides), which makes the convolution's scatter contiguous.  Values
are the same whatever the memory order; only indices into the flat memory differ, and
:class:`Events` records which order its indices refer to.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from .kernels import gather_events


@dataclasses.dataclass
class Events:
    """Per sample: flat indices (int64) and values (float32) of the nonzero entries.
    ``binary``: every value is exactly 1; ``cl``: indices are in [H, W, C] (channels-last)
    order, else in the tensor's logical (C-contiguous) order."""

    samples: list[tuple[np.ndarray, np.ndarray]]
    binary: bool
    cl: bool

    @property
    def count(self) -> int:
        return sum(idx.size for idx, _ in self.samples)


def is_channels_last(t: Tensor) -> bool:
    return (t.dim() == 4 and not t.is_contiguous()
            and t.is_contiguous(memory_format=torch.channels_last))


def flat(t: Tensor) -> tuple[np.ndarray, bool]:
    """``t`` as a [B, N] float32 array in memory order (no copy when ``t`` is contiguous or
    channels-last), and whether that order is channels-last."""
    known = getattr(t, _FLAT, None)  # a tensor made by unflat(): its array, without the
    if known is not None:  # half-dozen torch calls below (several µs a layer and step)
        return known
    t = t.detach()
    if t.dtype != torch.float32:
        t = t.to(torch.float32)
    if is_channels_last(t):
        return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1).numpy(), True
    return t.contiguous().reshape(t.shape[0], -1).numpy(), False


_FLAT = "_neuro_flat"


def unflat(a: np.ndarray, shape: tuple[int, ...], cl: bool) -> Tensor:
    """The tensor of logical ``shape`` over the [B, N] array ``a`` (channels-last memory
    order if ``cl``); it remembers ``a`` for :func:`flat` (same memory, so still right after
    in-place changes; views and results of torch operations are new tensors without it)."""
    if cl:
        b, c, h, w = shape
        t = torch.from_numpy(a.reshape(b, h, w, c)).permute(0, 3, 1, 2)
    else:
        t = torch.from_numpy(a.reshape(shape))
    if a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous:
        setattr(t, _FLAT, (a, cl))
    return t


def gather(t: Tensor) -> Events:
    """The :class:`Events` of ``t`` [B, ...]."""
    arr, cl = flat(t)
    samples = []
    binary = True
    for row in arr:
        idx, val, b = gather_events(row)
        samples.append((idx, val))
        binary = binary and b
    return Events(samples, binary, cl)
