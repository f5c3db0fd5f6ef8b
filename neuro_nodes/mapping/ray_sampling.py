"""Training samples for a neural SDF from one range scan (iSDF-style, with batch bounds).

Per scan, ``n_rays`` returns are drawn at random; along the ray from the sensor through a
return at range ``R`` (unit direction ``r``) the samples are at ranges ``t``:

- the return itself, ``t = R`` (target 0);
- ``n_near`` near-surface samples, ``t = R + s``, ``s ~ U(-trunc, behind)``;
- ``n_free`` free-space samples, stratified in ``[min_range, R - trunc]``.

Targets come from the scan's own point cloud ``P`` (all returns, sensor frame):

    b(x) = min_{p in P} |x - p|          (nearest return; an upper bound of |sdf(x)|)

Near-surface samples (``|t - R| <= trunc``) get the L1 target ``sign(R - t) * min(b, |R - t|)``
(the projective distance ``|R - t|`` is also an upper bound; on a surface seen at an angle
``b`` is the tighter one, close to ``|R - t| cos(angle)``). Free-space samples get ``b`` as an
*upper bound* only (hinge loss): the true distance there lies in ``(0, b]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class RaySamples:
    """Samples of one scan in the map frame."""

    points: np.ndarray  # (M, 3) float32, map frame
    target: np.ndarray  # (M,) float32: L1 target (near) or upper bound (free), m
    free: np.ndarray  # (M,) bool: True where ``target`` is only an upper bound
    pull: np.ndarray  # (M,) float32: weight of the pull of a free sample towards its bound

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, keep: np.ndarray) -> RaySamples:
        return RaySamples(self.points[keep], self.target[keep], self.free[keep],
                          self.pull[keep])

    @staticmethod
    def concatenate(parts: list[RaySamples]) -> RaySamples:
        if not parts:
            return RaySamples(np.zeros((0, 3), np.float32), np.zeros(0, np.float32),
                              np.zeros(0, bool), np.zeros(0, np.float32))
        return RaySamples(np.concatenate([p.points for p in parts]),
                          np.concatenate([p.target for p in parts]),
                          np.concatenate([p.free for p in parts]),
                          np.concatenate([p.pull for p in parts]))


def nearest_return_bound(points: np.ndarray, T_map_sensor: np.ndarray, query_map: np.ndarray,
                         rng: np.random.Generator, tree_points: int = 4000) -> np.ndarray:
    """``b(x)`` of the module docstring for map points ``query_map`` (M, 3)."""
    pts = np.asarray(points, np.float64)
    sub = pts if len(pts) <= tree_points else pts[rng.choice(len(pts), tree_points, False)]
    T = np.asarray(T_map_sensor, np.float64)
    local = (np.asarray(query_map, np.float64) - T[:3, 3]) @ T[:3, :3]
    return cKDTree(sub).query(local, k=1)[0]


def sample_scan(points: np.ndarray, T_map_sensor: np.ndarray, rng: np.random.Generator, *,
                n_rays: int, n_near: int, n_free: int, truncation_m: float, behind_m: float,
                min_range_m: float, pull: float = 0.0, tree_points: int = 4000) -> RaySamples:
    """Samples along ``n_rays`` random rays of a scan (``points`` (N, 3) sensor frame)."""
    pts = np.asarray(points, np.float64)
    rng_ = np.linalg.norm(pts, axis=1)
    ok = np.flatnonzero(rng_ > min_range_m + truncation_m)
    if len(ok) == 0:
        return RaySamples.concatenate([])
    rays = rng.choice(ok, size=min(n_rays, len(ok)), replace=False)
    rays.sort()
    R = rng_[rays]
    d = pts[rays] / R[:, None]
    n = len(rays)
    # ranges along each ray: the return, near-surface, stratified free space
    near = R[:, None] + rng.uniform(-truncation_m, behind_m, (n, n_near))
    lo, hi = min_range_m, R - truncation_m
    strata = (np.arange(n_free) + rng.uniform(0, 1, (n, n_free))) / max(n_free, 1)
    free = lo + strata * (hi - lo)[:, None]
    t = np.concatenate([R[:, None], near, free], axis=1)  # (n, 1 + n_near + n_free)
    x = d[:, None, :] * t[..., None]  # sensor frame
    # nearest-return bound from a subset of the cloud plus every chosen return
    sub = pts if len(pts) <= tree_points else pts[rng.choice(len(pts), tree_points, False)]
    tree = cKDTree(np.concatenate([sub, pts[rays]]))
    b, _ = tree.query(x.reshape(-1, 3), k=1)
    b = b.reshape(t.shape)
    proj = R[:, None] - t  # projective signed distance
    is_free = np.zeros(t.shape, bool)
    is_free[:, 1 + n_near:] = True
    target = np.where(is_free, b, np.sign(proj) * np.minimum(b, np.abs(proj)))
    target[:, 0] = 0.0
    T = np.asarray(T_map_sensor, np.float64)
    xm = x.reshape(-1, 3) @ T[:3, :3].T + T[:3, 3]
    free_flat = is_free.reshape(-1)
    return RaySamples(xm.astype(np.float32), target.reshape(-1).astype(np.float32), free_flat,
                      np.where(free_flat, np.float32(pull), np.float32(0)))


__all__ = ["RaySamples", "nearest_return_bound", "sample_scan"]
