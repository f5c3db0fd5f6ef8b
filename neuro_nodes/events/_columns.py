"""Helpers shared by the columnar event containers (coercion, time slicing)."""

from __future__ import annotations

import numpy as np


def as_column(name: str, values: object, dtype: np.dtype | type) -> np.ndarray:
    """Return ``values`` as a 1-D array of ``dtype``, without copying when it already is one.

    Integer input of another width is range-checked before the cast, so that e.g. a negative
    coordinate raises instead of silently wrapping to 65535.
    """
    dtype = np.dtype(dtype)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be 1-D, got shape {arr.shape}")
    if arr.dtype == dtype:
        return arr
    if arr.size == 0:
        return arr.astype(dtype)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"column {name!r} must hold integers, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < info.min or hi > info.max:
        raise ValueError(
            f"column {name!r} has values in [{lo}, {hi}], outside the range of {dtype} "
            f"[{info.min}, {info.max}]"
        )
    return arr.astype(dtype)


def is_sorted(t: np.ndarray) -> bool:
    """True when ``t`` is non-decreasing."""
    return t.size < 2 or bool(np.all(t[1:] >= t[:-1]))


def time_selection(
    t: np.ndarray, t0_ns: int | None, t1_ns: int | None
) -> slice | np.ndarray:
    """Select ``t0_ns <= t < t1_ns`` (either bound may be None).

    Sorted columns give a slice (views, no copy, O(log n)); unsorted ones a boolean mask.
    """
    if is_sorted(t):
        i0 = 0 if t0_ns is None else int(np.searchsorted(t, t0_ns, side="left"))
        i1 = t.size if t1_ns is None else int(np.searchsorted(t, t1_ns, side="left"))
        return slice(i0, max(i0, i1))
    mask = np.ones(t.size, dtype=bool)
    if t0_ns is not None:
        mask &= t >= t0_ns
    if t1_ns is not None:
        mask &= t < t1_ns
    return mask


def check_index(key: object) -> object:
    """Reject scalar indices: the containers only support slices, masks and index arrays."""
    if isinstance(key, (int, np.integer)):
        raise TypeError("index with a slice, boolean mask or index array; use to_numpy()[i]")
    return key
