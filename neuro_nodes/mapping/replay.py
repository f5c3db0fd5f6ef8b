"""Keyframe replay window for continual SDF training, and carving of samples a newer scan
contradicts (how a moved object leaves the map).

The window holds the samples of the last ``recent`` scans plus up to ``max_keyframes`` older
scans kept for their *novelty*: when a scan arrives, its novelty is the fraction of its
surface returns where the current field is off by more than ``novelty_m`` (computed before
training on it, as iSDF does). A scan leaving the recent window is kept as a keyframe if its
novelty is at least ``keyframe_novelty``; when the keyframes are full the least novel one
goes.

Carving: a new scan (sensor at ``o``) sees free space along each of its rays up to the return
at range ``R``. Its returns are binned into a spherical range image (azimuth/elevation bins
of ``bin_rad``; per bin the *nearest* return, so a bin with a near and a far return counts as
blocked at the near one). A stored sample at range ``t`` from ``o`` in a bin with range
``R_bin``

- that is a surface/inside sample (L1 target <= ``margin / 4``) with ``t < R_bin - margin``
  lies in space the new scan saw through: the surface it describes is gone -> dropped;
- that is a free-space sample with ``|t - R_bin| < margin`` lies on a surface the new scan
  sees (something moved in) -> dropped.

Samples in bins without returns, or behind the new returns, stay (occluded, not
contradicted). Free-space samples whose bound sphere (radius: their bound, the distance to
the nearest return of *their* scan) holds a dropped surface sample are dropped too: their
bound may rest on the surface that is gone. The places of the dropped surface samples are
returned: the mapper adds them to the new scan's samples as free space (with the new scan's
nearest-return bound), so the field there is pushed positive by samples exactly where the
object was, not only by the few free-space samples of new rays that happen to pass there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from neuro_nodes.mapping.ray_sampling import RaySamples


class RangeImage:
    """Nearest return per (azimuth, elevation) bin of a scan, in its sensor frame."""

    def __init__(self, points_sensor: np.ndarray, bin_rad: float) -> None:
        self.bin = float(bin_rad)
        self.n_az = int(np.ceil(2 * np.pi / self.bin))
        self.n_el = int(np.ceil(np.pi / self.bin)) + 1
        self.range = np.full(self.n_az * self.n_el, np.inf)
        p = np.asarray(points_sensor, np.float64)
        if len(p):
            idx, r = self._bins(p)
            np.minimum.at(self.range, idx, r)

    def _bins(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.linalg.norm(p, axis=1)
        az = np.arctan2(p[:, 0], p[:, 2])  # about the optical axis: z forward, x right
        el = np.arcsin(np.clip(p[:, 1] / np.maximum(r, 1e-12), -1, 1))
        ia = np.clip(((az + np.pi) / self.bin).astype(np.int64), 0, self.n_az - 1)
        ie = np.clip(((el + np.pi / 2) / self.bin).astype(np.int64), 0, self.n_el - 1)
        return ia * self.n_el + ie, r

    def lookup(self, points_sensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(range of each point, nearest return range of its bin; inf where none)."""
        idx, r = self._bins(np.asarray(points_sensor, np.float64))
        return r, self.range[idx]


@dataclass
class _Entry:
    samples: RaySamples
    novelty: float
    stamp_s: float


@dataclass
class ReplayWindow:
    """Recent scans plus novel keyframes (see the module docstring)."""

    recent: int
    max_keyframes: int
    keyframe_novelty: float
    recent_entries: list[_Entry] = field(default_factory=list)
    keyframes: list[_Entry] = field(default_factory=list)
    dropped: int = 0  # samples carved away so far

    def clear(self) -> None:
        self.recent_entries.clear()
        self.keyframes.clear()
        self.dropped = 0

    def add(self, samples: RaySamples, novelty: float, stamp_s: float) -> None:
        self.recent_entries.append(_Entry(samples, float(novelty), float(stamp_s)))
        while len(self.recent_entries) > self.recent:
            old = self.recent_entries.pop(0)
            if self.max_keyframes > 0 and old.novelty >= self.keyframe_novelty:
                self.keyframes.append(old)
                if len(self.keyframes) > self.max_keyframes:
                    self.keyframes.pop(int(np.argmin([k.novelty for k in self.keyframes])))

    def entries(self) -> list[_Entry]:
        return self.keyframes + self.recent_entries

    def samples(self) -> RaySamples:
        return RaySamples.concatenate([e.samples for e in self.entries()])

    def carve(self, points_sensor: np.ndarray, T_map_sensor: np.ndarray, *, margin_m: float,
              bin_rad: float) -> np.ndarray:
        """Drop stored samples the new scan contradicts; returns the map points of the
        dropped surface/inside samples (where the new scan now sees free space)."""
        image = RangeImage(points_sensor, bin_rad)
        T = np.asarray(T_map_sensor, np.float64)
        R, o = T[:3, :3], T[:3, 3]
        n_dropped, freed = 0, []
        for e in self.entries():
            s = e.samples
            if len(s) == 0:
                continue
            local = (s.points.astype(np.float64) - o) @ R  # map -> sensor frame
            t, r_bin = image.lookup(local)
            seen = np.isfinite(r_bin) & (local[:, 2] > 0)
            through = seen & ~s.free & (s.target <= 0.25 * margin_m) & (t < r_bin - margin_m)
            onto = seen & s.free & (np.abs(t - r_bin) < margin_m)
            bad = through | onto
            if bad.any():
                freed.append(s.points[through])
                e.samples = s.subset(~bad)
                n_dropped += int(bad.sum())
        if not freed:
            self.dropped += n_dropped
            return np.zeros((0, 3), np.float32)
        freed_pts = np.concatenate(freed)
        # free-space samples whose bound may rest on the vanished surface: a freed place lies
        # inside their bound sphere (their bound was the distance to the nearest old return)
        tree = cKDTree(freed_pts)
        for e in self.entries():
            s = e.samples
            if not s.free.any():
                continue
            idx = np.flatnonzero(s.free)
            dist, _ = tree.query(s.points[idx], k=1, distance_upper_bound=float(
                s.target[idx].max()) + 1e-3)
            stale = np.zeros(len(s), bool)
            stale[idx] = dist < s.target[idx]
            if stale.any():
                e.samples = s.subset(~stale)
                n_dropped += int(stale.sum())
        self.dropped += n_dropped
        return freed_pts


__all__ = ["RangeImage", "ReplayWindow"]
