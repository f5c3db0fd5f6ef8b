"""Cutting an event stream into :class:`EventWindow` s (fixed event count, pure numpy)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.types import EventWindow, ImuSamples, PinholeCamera


def imu_between(imu: ImuSamples | None, t0_s: float, t1_s: float) -> ImuSamples | None:
    """The gyro samples in ``[t0_s, t1_s]`` (None without an IMU or without samples)."""
    if imu is None:
        return None
    i0, i1 = np.searchsorted(imu.t_s, [t0_s, t1_s], side="left")
    i1 = max(i1, np.searchsorted(imu.t_s, t1_s, side="right"))
    if i1 <= i0:
        return None
    return ImuSamples(imu.t_s[i0:i1], imu.gyro[i0:i1])


def fixed_count_windows(events: EventArray, camera: PinholeCamera, n_events: int = 30000,
                        stride: int | None = None, *,
                        imu: ImuSamples | None = None) -> Iterator[EventWindow]:
    """Windows of exactly ``n_events`` time-ordered events, one every ``stride`` events
    (default ``n_events``: no overlap); a trailing partial window is dropped."""
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    step = n_events if stride is None else int(stride)
    if step < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    for i in range(0, len(events) - n_events + 1, step):
        ev = events[i:i + n_events]
        t0, t1 = float(ev.t[0]) * 1e-9, float(ev.t[-1]) * 1e-9
        yield EventWindow(ev, camera, t0, t1, imu_between(imu, t0, t1))


__all__ = ["fixed_count_windows", "imu_between"]
