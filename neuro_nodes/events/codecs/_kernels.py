"""Compiling the codec kernels (EVT 2.0/3.0, libcaer, libcaer_cmp) with numba.

The word-stream formats are state machines: a word sets the current row, column base,
polarity or clock, and later words emit events against that state. Each decoder runs one
sequential loop over the words, compiled with numba (``jit``), writing into output columns
that a counting pass sized; the stream state that carries over between payloads lives in a
small int64 array that the kernels read and update. The encoders are compiled loops too.

A kernel compiles on its first call (0.2-2 s; about 1-2.5 s per codec, once more for a
writable payload than for ``bytes``) and is cached next to the source (``__pycache__``) or
under ``NUMBA_CACHE_DIR``, so later processes load it in milliseconds; where no cache
location is writable, the kernels are compiled in every process instead (one warning).
numba's cache is invalidated by changes to the file that defines a kernel only, so each
kernel and the helpers it calls live in one module (the format's own).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

import numba
import numpy as np

F = TypeVar("F", bound=Callable)


def jit(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)``; without the on-disk cache where none can be
    written (numba refuses to decorate then; one warning per process)."""
    global _warned
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        if not _warned:
            _warned = True
            warnings.warn(f"numba cache unavailable, kernels are compiled in every process: "
                          f"{exc}", RuntimeWarning, stacklevel=2)
        return numba.njit(cache=False, nogil=True)(fn)


_warned = False


@jit
def drop_outside(t, x, y, p, k, width, height):  # pragma: no cover - compiled
    """Drop decoded events ``[:k]`` outside ``width`` x ``height`` in place; return the new
    count and how many were dropped (one branch-free pass to find them, compaction if any)."""
    outside = 0
    for i in range(k):
        outside += np.int64(x[i] >= width) | np.int64(y[i] >= height)
    if outside:
        j = 0
        for i in range(k):
            if x[i] < width and y[i] < height:
                t[j] = t[i]
                x[j] = x[i]
                y[j] = y[i]
                p[j] = p[i]
                j += 1
        k = j
    return k, outside
