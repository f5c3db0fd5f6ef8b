"""Cutting an event stream into :class:`EventWindow` s: a recorded array (fixed event count) or
a live stream chunk by chunk (:class:`WindowCutter`), and the gyro samples of a window
(pure numpy)."""

from __future__ import annotations

from collections import deque
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


#: Gyro samples an :class:`ImuBuffer` keeps by default (4 s at 1 kHz).
IMU_BUFFER = 4000


class WindowCutter:
    """Cuts a stream of event chunks into windows, in time order (pure).

    Count mode (``window_s`` 0): windows of exactly ``n_events`` consecutive events,
    ``t0``/``t1`` their first and last times (as ``fixed_count_windows``). Time mode:
    ``[t0, t0 + window_s)`` slices with ``t0`` a multiple of ``window_s`` on the sensor
    clock (the dense SNN's bins); a slice is complete
    when an event at or after its end arrives; empty slices are skipped.
    """

    def __init__(self, n_events: int, window_s: float = 0.0) -> None:
        self.n_events, self.window_s = int(n_events), float(window_s)
        self._held: list[EventArray] = []
        self._n_held = 0
        self._slice_ns: int | None = None  # start of the open time slice

    def reset(self) -> None:
        self._held, self._n_held, self._slice_ns = [], 0, None

    def push(self, events: EventArray) -> list[tuple[EventArray, float, float]]:
        """Add a chunk; return the completed windows as (events, t0_s, t1_s)."""
        if not len(events):
            return []
        self._held.append(events)
        self._n_held += len(events)
        if self.window_s > 0:
            return self._cut_time()
        if self._n_held < self.n_events:
            return []
        joined = EventArray.concatenate(self._held) if len(self._held) > 1 else self._held[0]
        n = self.n_events
        k = len(joined) // n
        out = [(ev, float(ev.t[0]) * 1e-9, float(ev.t[-1]) * 1e-9)
               for ev in (joined[i * n:(i + 1) * n] for i in range(k))]
        rest = joined[k * n:]
        self._held, self._n_held = ([rest] if len(rest) else []), len(rest)
        return out

    def _cut_time(self) -> list[tuple[EventArray, float, float]]:
        joined = EventArray.concatenate(self._held) if len(self._held) > 1 else self._held[0]
        step = round(self.window_s * 1e9)
        if self._slice_ns is None:  # on the grid of multiples of window_s (as the SNN's bins)
            self._slice_ns = int(joined.t[0]) // step * step
        out = []
        t = joined.t
        while len(t) and int(t[-1]) >= self._slice_ns + step:
            end = self._slice_ns + step
            k = int(np.searchsorted(t, end, side="left")) if joined.is_sorted() else \
                int(np.argmax(t >= end))
            if k:
                out.append((joined[:k], self._slice_ns * 1e-9, end * 1e-9))
            joined, t = joined[k:], t[k:]
            # skip empty slices in one step (a pause in the stream)
            gaps = (int(t[0]) - end) // step if len(t) else 0
            self._slice_ns = end + max(gaps, 0) * step
        self._held, self._n_held = ([joined] if len(joined) else []), len(joined)
        return out


class ImuBuffer:
    """The latest gyro samples, rotated into the optical frame, by sensor time."""

    def __init__(self, rotation: np.ndarray, size: int = IMU_BUFFER) -> None:
        self.rotation = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
        self._t: deque[float] = deque(maxlen=size)
        self._g: deque[np.ndarray] = deque(maxlen=size)

    def add(self, t_s: float, gyro: np.ndarray) -> None:
        if self._t and t_s < self._t[-1]:  # out of order (stamps jitter): keep it sorted
            return
        self._t.append(t_s)
        self._g.append(self.rotation @ np.asarray(gyro, dtype=np.float64))

    def clear(self) -> None:
        self._t.clear()
        self._g.clear()

    def between(self, t0_s: float, t1_s: float) -> ImuSamples | None:
        if not self._t:
            return None
        return imu_between(ImuSamples(np.fromiter(self._t, float), np.stack(self._g)),
                           t0_s, t1_s)


__all__ = ["IMU_BUFFER", "ImuBuffer", "WindowCutter", "fixed_count_windows", "imu_between"]
