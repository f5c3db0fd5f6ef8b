"""External trigger events, kept apart from CD events because they carry no pixel.

A trigger marks an edge on one of the camera's trigger inputs (e.g. a strobe or a
synchronisation signal from another sensor), timestamped by the same clock as the CD events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neuro_nodes.events._columns import as_column, check_index, is_sorted, time_selection

#: Structured dtype of :meth:`TriggerArray.to_numpy`.
TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("id", "u1"), ("value", "u1")])


@dataclass(frozen=True, eq=False, repr=False)
class TriggerArray:
    """Trigger edges: ``t`` (int64 ns), ``id`` (uint8 channel), ``value`` (1 rising, 0 falling)."""

    t: np.ndarray
    id: np.ndarray
    value: np.ndarray

    def __post_init__(self) -> None:
        t = as_column("t", self.t, np.int64)
        ids = as_column("id", self.id, np.uint8)
        value = as_column("value", self.value, np.uint8)
        if not (t.size == ids.size == value.size):
            raise ValueError(
                f"columns differ in length: t={t.size}, id={ids.size}, value={value.size}"
            )
        if value.size and int(value.max()) > 1:
            raise ValueError(f"trigger value must be 0 or 1, got {int(value.max())}")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "id", ids)
        object.__setattr__(self, "value", value)

    @classmethod
    def unchecked(cls, t: np.ndarray, ids: np.ndarray, value: np.ndarray) -> TriggerArray:
        """Wrap columns the caller guarantees are valid (for decoders)."""
        obj = object.__new__(cls)
        obj.__dict__.update(t=t, id=ids, value=value)
        return obj

    @classmethod
    def empty(cls) -> TriggerArray:
        """No trigger events."""
        return cls.unchecked(np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.uint8))

    @classmethod
    def concatenate(cls, arrays: Sequence[TriggerArray]) -> TriggerArray:
        """Join arrays in order."""
        if not arrays:
            return cls.empty()
        if len(arrays) == 1:
            return arrays[0]
        return cls.unchecked(
            np.concatenate([a.t for a in arrays]),
            np.concatenate([a.id for a in arrays]),
            np.concatenate([a.value for a in arrays]),
        )

    def __len__(self) -> int:
        return int(self.t.size)

    def __repr__(self) -> str:
        return f"TriggerArray(n={len(self)})"

    def __getitem__(self, key: slice | np.ndarray | Sequence[int]) -> TriggerArray:
        key = check_index(key)
        return TriggerArray.unchecked(self.t[key], self.id[key], self.value[key])

    @property
    def rising_count(self) -> int:
        """Number of rising edges (value 1)."""
        return int(np.count_nonzero(self.value))

    @property
    def falling_count(self) -> int:
        """Number of falling edges (value 0)."""
        return len(self) - self.rising_count

    def is_sorted(self) -> bool:
        """True when timestamps never decrease."""
        return is_sorted(self.t)

    def sort(self) -> TriggerArray:
        """Triggers in time order (stable); self if already sorted."""
        if self.is_sorted():
            return self
        return self[np.argsort(self.t, kind="stable")]

    def slice_time(self, t0_ns: int | None = None, t1_ns: int | None = None) -> TriggerArray:
        """Triggers with ``t0_ns <= t < t1_ns``."""
        return self[time_selection(self.t, t0_ns, t1_ns)]

    def equals(self, other: TriggerArray) -> bool:
        """Identical columns."""
        return (
            np.array_equal(self.t, other.t)
            and np.array_equal(self.id, other.id)
            and np.array_equal(self.value, other.value)
        )

    def to_numpy(self) -> np.ndarray:
        """A structured array of :data:`TRIGGER_DTYPE` (a copy)."""
        out = np.empty(len(self), dtype=TRIGGER_DTYPE)
        out["t"], out["id"], out["value"] = self.t, self.id, self.value
        return out
