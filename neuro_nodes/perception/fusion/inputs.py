"""The fusion network's inputs from live streams: a sliding event grid and a prepared cloud.

* :class:`SlidingEventGrid`: event chunks in, the count grid ``(bins, 2, H, W)`` (uint8 ON /
  OFF counts, clipped at 255) of the last ``window_s`` before the newest event out, as the
  training set (:mod:`sim.datasets.fusion`) builds it: bin ``b = floor((t - t_start) · bins
  / window)``, the newest event in the last bin. The camera's pixels map to the model's grid
  by scaling (``x · W // W_cam``), so a camera of another resolution but the same field of
  view fills the same cells. Events older than the window are dropped as chunks arrive; a
  backwards time step beyond the window (a restarted stream, a looped bag) or a new sensor
  size starts over.
* :func:`prepare_cloud`: finite points, optionally within ``max_range_m`` of the sensor, at
  most ``max_points`` (a seeded subset, in the cloud's order).
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.event_array import EventArray

#: The training set's event grid (sim.datasets.fusion.FusionParams: 5 bins, 64 x 48, 0.15 s).
GRID_BINS, GRID_WIDTH, GRID_HEIGHT, WINDOW_S = 5, 64, 48, 0.15


class SlidingEventGrid:
    """The events of the last ``window_s`` (sensor clock) as the model's count grid."""

    def __init__(self, window_s: float = WINDOW_S, bins: int = GRID_BINS,
                 width: int = GRID_WIDTH, height: int = GRID_HEIGHT) -> None:
        if window_s <= 0 or bins < 1 or width < 1 or height < 1:
            raise ValueError(f"SlidingEventGrid: window_s {window_s}, bins {bins}, "
                             f"{width}x{height}: all must be positive")
        self.window_ns = round(window_s * 1e9)
        self.bins, self.width, self.height = int(bins), int(width), int(height)
        self.restarts = 0  # new streams met (time jumps back, sensor size changes)
        self.reset()

    def reset(self) -> None:
        """Forget every event."""
        self._chunks: list[EventArray] = []
        self._size: tuple[int, int] | None = None
        self.newest_ns: int | None = None  # time of the newest event held

    def push(self, events: EventArray) -> None:
        if not len(events):
            return
        size = (events.width, events.height)
        first, last = int(events.t.min()), int(events.t.max())
        if self.newest_ns is not None and (size != self._size
                                           or first < self.newest_ns - self.window_ns):
            self.restarts += 1
            self.reset()
        self._size = size
        self._chunks.append(events)
        self.newest_ns = last if self.newest_ns is None else max(self.newest_ns, last)
        start = self.newest_ns - self.window_ns
        # whole chunks that ended before the window go; the grid masks the rest
        self._chunks = [c for c in self._chunks if int(c.t.max()) >= start]

    def __len__(self) -> int:
        """Events held (some may be older than the window until the next push)."""
        return sum(len(c) for c in self._chunks)

    def grid(self) -> np.ndarray:
        """``(bins, 2, height, width)`` uint8 counts of the window ending at the newest event
        (zeros when nothing was pushed)."""
        out = np.zeros((self.bins, 2, self.height, self.width), np.int64)
        if self.newest_ns is None:
            return out.astype(np.uint8)
        ev = EventArray.concatenate(self._chunks)
        start = self.newest_ns - self.window_ns
        keep = ev.t >= start
        t, x, y, p = (c[keep].astype(np.int64) for c in (ev.t, ev.x, ev.y, ev.p))
        b = np.minimum((t - start) * self.bins // self.window_ns, self.bins - 1)
        gx = x * self.width // ev.width
        gy = y * self.height // ev.height
        np.add.at(out, (b, p, gy, gx), 1)
        return np.minimum(out, 255).astype(np.uint8)


def prepare_cloud(points: np.ndarray, max_points: int, max_range_m: float = 0.0,
                  seed: int = 0) -> np.ndarray:
    """``(N, 3)`` float32: the finite points, within ``max_range_m`` (m, from the sensor
    origin; 0: no limit), at most ``max_points`` of them (seeded, order kept)."""
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    pts = np.asarray(points, np.float32).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if max_range_m > 0:
        pts = pts[np.linalg.norm(pts, axis=1) <= max_range_m]
    if len(pts) > max_points:
        rng = np.random.default_rng(seed)
        pts = pts[np.sort(rng.choice(len(pts), max_points, replace=False))]
    return pts


__all__ = ["GRID_BINS", "GRID_HEIGHT", "GRID_WIDTH", "WINDOW_S", "SlidingEventGrid",
           "prepare_cloud"]
