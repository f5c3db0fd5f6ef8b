"""Which parts of the map box some ray has seen: a boolean voxel grid, updated per scan.

A voxel is *known* once a ray passed through it or ended in it (up to ``behind_m`` behind
the return, the band a surface's inside is observed in). Per scan, every ``stride``-th return
(in scan order) is traced by points spaced half a voxel from the sensor to ``R + behind``;
the voxels holding those points are marked. Tracing a subset of rays leaves no holes at
ranges where neighbouring traced rays are closer than a voxel (``stride`` = 4 on a
160 px wide, 58 deg image: up to about 10 m at 10 cm voxels).
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.mapping.types import MapBounds


class KnownSpace:
    """Boolean voxel grid over ``bounds`` at ``voxel_m``."""

    def __init__(self, bounds: MapBounds, voxel_m: float) -> None:
        self.lo = np.asarray(bounds.min_xyz, np.float64)
        self.voxel = float(voxel_m)
        self.shape = tuple(int(v) for v in np.ceil(bounds.size / self.voxel).astype(int))
        self.grid = np.zeros(self.shape, bool)

    def reset(self) -> None:
        self.grid[:] = False

    def _cells(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ijk = np.floor((np.asarray(points, np.float64) - self.lo) / self.voxel).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < np.array(self.shape)), axis=-1)
        return ijk, inside

    def mark_rays(self, origin: np.ndarray, endpoints: np.ndarray, behind_m: float,
                  stride: int = 4) -> None:
        """Mark voxels along rays from ``origin`` (3,) to ``endpoints`` (N, 3), map frame."""
        ends = np.asarray(endpoints, np.float64)[::max(stride, 1)]
        if len(ends) == 0:
            return
        vec = ends - origin
        length = np.linalg.norm(vec, axis=1)
        keep = length > 1e-6
        vec, length = vec[keep], length[keep]
        direction = vec / length[:, None]
        step = 0.5 * self.voxel
        n_steps = int(np.ceil((length.max() + behind_m) / step)) + 1
        t = np.arange(n_steps) * step  # (S,)
        along = t[None, :] <= (length + behind_m)[:, None]  # (N, S)
        ray, k = np.nonzero(along)
        pts = origin + direction[ray] * t[k, None]
        ijk, inside = self._cells(pts)
        ijk = ijk[inside]
        self.grid[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: the points lie in known voxels (False outside the box)."""
        ijk, inside = self._cells(points)
        out = np.zeros(len(ijk), bool)
        i = ijk[inside]
        out[inside] = self.grid[i[:, 0], i[:, 1], i[:, 2]]
        return out


__all__ = ["KnownSpace"]
