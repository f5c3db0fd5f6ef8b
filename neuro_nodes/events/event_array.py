"""Columnar change-detection (CD) events: the common currency of the event nodes.

Columns rather than a structured array, because every consumer (filters, renderers, spiking
networks) works on one or two fields at a time, and columns convert to torch without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neuro_nodes.events._columns import as_column, check_index, is_sorted, time_selection

if TYPE_CHECKING:
    import torch

#: Structured dtype of :meth:`EventArray.to_numpy` (the field order of the Metavision SDK).
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])

#: Largest sensor side: coordinates are uint16.
MAX_SENSOR_SIDE = 1 << 16


def _check_size(width: int, height: int) -> tuple[int, int]:
    w, h = int(width), int(height)
    if not (0 < w <= MAX_SENSOR_SIDE and 0 < h <= MAX_SENSOR_SIDE):
        raise ValueError(
            f"sensor size must be within 1..{MAX_SENSOR_SIDE} per side, got {width}x{height}"
        )
    return w, h


@dataclass(frozen=True, eq=False, repr=False)
class EventArray:
    """Events of one sensor: ``t`` (int64 ns), ``x``/``y`` (uint16), ``p`` (uint8, 1 = ON).

    Construction converts the columns to their dtypes (no copy when they already match) and
    validates them: equal lengths, ``x < width``, ``y < height``, ``p`` in {0, 1}; a violation
    raises ``ValueError``. Use :meth:`drop_invalid` to build one from untrusted columns.
    The dataclass is frozen (fields cannot be rebound); the arrays themselves stay writable so
    that :meth:`to_torch` can share their memory.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        width, height = _check_size(self.width, self.height)
        t = as_column("t", self.t, np.int64)
        x = as_column("x", self.x, np.uint16)
        y = as_column("y", self.y, np.uint16)
        p = as_column("p", self.p, np.uint8)
        if not (t.size == x.size == y.size == p.size):
            raise ValueError(
                f"columns differ in length: t={t.size}, x={x.size}, y={y.size}, p={p.size}"
            )
        if t.size:
            if int(x.max()) >= width:
                raise ValueError(
                    f"x out of range: max x is {int(x.max())} but width is {width} "
                    "(EventArray.drop_invalid() drops such events)"
                )
            if int(y.max()) >= height:
                raise ValueError(
                    f"y out of range: max y is {int(y.max())} but height is {height} "
                    "(EventArray.drop_invalid() drops such events)"
                )
            if int(p.max()) > 1:
                raise ValueError(f"polarity must be 0 or 1, got {int(p.max())}")
        for name, value in (("t", t), ("x", x), ("y", y), ("p", p)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)

    # ------------------------------------------------------------------ construction
    @classmethod
    def unchecked(
        cls,
        t: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        p: np.ndarray,
        width: int,
        height: int,
    ) -> EventArray:
        """Wrap columns that the caller guarantees are valid (dtypes, lengths, ranges).

        For decoders and other hot paths, where validation would cost a pass over the data.
        """
        obj = object.__new__(cls)
        # filling __dict__ directly is ~2.5x cheaper than six frozen __setattr__ calls,
        # which matters at one call per 1 ms packet
        obj.__dict__.update(t=t, x=x, y=y, p=p, width=width, height=height)
        return obj

    @classmethod
    def empty(cls, width: int, height: int) -> EventArray:
        """No events, for a sensor of ``width`` x ``height``."""
        width, height = _check_size(width, height)
        return cls.unchecked(
            np.empty(0, np.int64), np.empty(0, np.uint16), np.empty(0, np.uint16),
            np.empty(0, np.uint8), width, height,
        )

    @classmethod
    def concatenate(
        cls,
        arrays: Sequence[EventArray],
        width: int | None = None,
        height: int | None = None,
    ) -> EventArray:
        """Join arrays of the same sensor in order (``width``/``height`` needed if empty)."""
        if not arrays:
            if width is None or height is None:
                raise ValueError("concatenating no arrays needs width and height")
            return cls.empty(width, height)
        w = arrays[0].width if width is None else int(width)
        h = arrays[0].height if height is None else int(height)
        for a in arrays:
            if (a.width, a.height) != (w, h):
                raise ValueError(
                    f"cannot concatenate events of a {a.width}x{a.height} sensor with {w}x{h}"
                )
        if len(arrays) == 1:
            return arrays[0]
        return cls.unchecked(
            np.concatenate([a.t for a in arrays]),
            np.concatenate([a.x for a in arrays]),
            np.concatenate([a.y for a in arrays]),
            np.concatenate([a.p for a in arrays]),
            w,
            h,
        )

    @staticmethod
    def valid_mask(
        x: np.ndarray, y: np.ndarray, p: np.ndarray, width: int, height: int
    ) -> np.ndarray:
        """Boolean mask of events with ``0 <= x < width``, ``0 <= y < height``, ``p`` in {0, 1}."""
        x, y, p = np.asarray(x), np.asarray(y), np.asarray(p)
        mask = (x < width) & (y < height) & ((p == 0) | (p == 1))
        if x.dtype.kind == "i":
            mask &= x >= 0
        if y.dtype.kind == "i":
            mask &= y >= 0
        return mask

    @classmethod
    def drop_invalid(
        cls,
        t: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        p: np.ndarray,
        width: int,
        height: int,
    ) -> tuple[EventArray, int]:
        """Build an array from untrusted columns, dropping out-of-range events.

        Returns the array and the number of events dropped.
        """
        width, height = _check_size(width, height)
        mask = cls.valid_mask(x, y, p, width, height)
        n_bad = int(mask.size - np.count_nonzero(mask))
        if n_bad:
            t, x, y, p = (np.asarray(c)[mask] for c in (t, x, y, p))
        return cls(t, x, y, p, width, height), n_bad

    @classmethod
    def from_numpy(cls, events: np.ndarray, width: int, height: int) -> EventArray:
        """From a structured array with fields ``t``, ``x``, ``y``, ``p`` (copies the columns)."""
        return cls(
            np.ascontiguousarray(events["t"]),
            np.ascontiguousarray(events["x"]),
            np.ascontiguousarray(events["y"]),
            np.ascontiguousarray(events["p"]),
            width,
            height,
        )

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return int(self.t.size)

    def __repr__(self) -> str:
        span = f", t=[{int(self.t[0])}..{int(self.t[-1])}] ns" if len(self) else ""
        return f"EventArray(n={len(self)}, {self.width}x{self.height}{span})"

    def __getitem__(self, key: slice | np.ndarray | Sequence[int]) -> EventArray:
        """Subset by slice (views), boolean mask or index array (copies)."""
        key = check_index(key)
        return EventArray.unchecked(
            self.t[key], self.x[key], self.y[key], self.p[key], self.width, self.height
        )

    @property
    def on_count(self) -> int:
        """Number of ON (p = 1) events."""
        return int(np.count_nonzero(self.p))

    @property
    def off_count(self) -> int:
        """Number of OFF (p = 0) events."""
        return len(self) - self.on_count

    def is_sorted(self) -> bool:
        """True when timestamps never decrease."""
        return is_sorted(self.t)

    def sort(self) -> EventArray:
        """Events in time order (stable: equal times keep their order); self if already sorted."""
        if self.is_sorted():
            return self
        return self[np.argsort(self.t, kind="stable")]

    def slice_time(self, t0_ns: int | None = None, t1_ns: int | None = None) -> EventArray:
        """Events with ``t0_ns <= t < t1_ns``; views via binary search when sorted."""
        return self[time_selection(self.t, t0_ns, t1_ns)]

    def equals(self, other: EventArray) -> bool:
        """Same sensor size and identical columns."""
        return (
            (self.width, self.height) == (other.width, other.height)
            and np.array_equal(self.t, other.t)
            and np.array_equal(self.x, other.x)
            and np.array_equal(self.y, other.y)
            and np.array_equal(self.p, other.p)
        )

    # ------------------------------------------------------------------ conversion
    def to_numpy(self) -> np.ndarray:
        """A structured array of :data:`EVENT_DTYPE` (a copy)."""
        out = np.empty(len(self), dtype=EVENT_DTYPE)
        out["t"], out["x"], out["y"], out["p"] = self.t, self.x, self.y, self.p
        return out

    def to_torch(self, coord_dtype: Any = "int32") -> dict[str, torch.Tensor]:
        """Columns as CPU tensors: ``t`` (int64) and ``p`` (uint8) share memory with the arrays.

        ``x``/``y`` are converted to ``coord_dtype`` (default int32; a torch dtype or its
        name), because torch implements little arithmetic on uint16; pass ``None`` to get
        zero-copy uint16 tensors instead.
        """
        import torch

        def share(a: np.ndarray) -> torch.Tensor:
            if not a.flags.writeable:  # torch warns on read-only memory; copy instead
                a = a.copy()
            return torch.from_numpy(np.ascontiguousarray(a))

        out = {"t": share(self.t), "p": share(self.p)}
        for name in ("x", "y"):
            col = share(getattr(self, name))
            if coord_dtype is not None:
                dtype = getattr(torch, coord_dtype) if isinstance(coord_dtype, str) else coord_dtype
                col = col.to(dtype)
            out[name] = col
        return out
