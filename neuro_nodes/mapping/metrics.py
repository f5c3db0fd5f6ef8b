"""Accuracy of a signed-distance map against the exact signed distance (pure numpy/scipy).

The ground truth comes in as a callable ``true_distance(points (N, 3)) -> (N,)`` (map frame,
m, positive in free space) and noise-free depth frames (:class:`~neuro_nodes.mapping.types.Scan`
with ``depth`` and ``camera``); nothing here knows where they come from, and no estimator ever
sees them. Every random draw uses a fixed seed (and the frame index), so the evaluation
points are identical for every method and every run.

**Evaluation points** (:func:`sample_eval_points`). In each frame ``k`` draw ``P`` pixels
uniformly among those with a valid return (generator ``default_rng([seed, k])``). Along the
pixel's ray, with ``r`` the range (Euclidean, m) of its measured surface point ``s``:

* near point ``o + (r + t) u``, ``t ~ U(-b, b)`` (``b`` = ``band_m`` = 0.10 m), kept when
  ``|d_true| <= b``;
* free point ``o + f r u``, ``f ~ U(0, 1)`` (between the sensor and the surface), kept when
  ``d_true > b``.

**SDF L1** (:func:`sdf_l1`): ``mean_i |d_hat(x_i) - d_true(x_i)|`` over the near points
(``sdf_l1_near``) or the free points (``sdf_l1_free``), whatever the mapper's ``observed``
flag says (every point lies where some frame looked).

**Mesh accuracy / completion / Chamfer** (:func:`mesh_metrics`). ``M`` points are drawn
uniformly on the mesh by area (:func:`sample_mesh`); ``S`` true surface points are the
noise-free back-projected depth of all frames (20000 pixels drawn per frame), thinned to
the first point per 2 cm voxel and then drawn uniformly (:func:`surface_points`).

.. math::

    \\mathrm{acc} = \\frac{1}{M}\\sum_j |d_{true}(m_j)|, \\qquad
    \\mathrm{comp} = \\frac{1}{S}\\sum_i \\operatorname{dist}(s_i, \\mathcal{M}), \\qquad
    \\mathrm{chamfer} = \\tfrac12 (\\mathrm{acc} + \\mathrm{comp})

``dist(s, M)`` is the exact point-to-triangle distance to the nearest of the ``k`` triangles
whose centroids are nearest to ``s``, or the distance to the nearest vertex where that is
smaller (scipy ``cKDTree``; exact for meshes whose triangles are small next to the distance
between surfaces, such as marching cubes output; never below the exact value). The
completion ratio is the fraction of ``s_i`` with ``dist < tau`` (``tau`` = 0.05 m), the
precision ratio the fraction of ``m_j`` with ``|d_true| < tau``. An empty mesh has NaN
accuracy/completion/Chamfer and ratios 0.

**Clearing** (:func:`clear_updates`): given the distances a mapper reports at the moved
object's old surface points (now free, true distance ``d_true >= 0.10`` m) after each
update since the move, the number of updates until at least ``fraction`` (0.9) of them
satisfy ``d_hat > ratio d_true`` (``ratio`` = 0.5); None when that never happens.

=============== ======= ==============================================================
coefficient     default meaning
=============== ======= ==============================================================
pixels/frame P  500     rays per frame for the near and free points
band_m b        0.10    near band and free-space margin (m)
mesh samples M  50000   points drawn on the mesh
surface S       30000   true surface points
voxel           0.02    thinning voxel of the true surface points (m)
k               16      candidate triangles per completion point
tau             0.05    completion / precision threshold (m)
ratio           0.5     clearing: estimated over true distance
fraction        0.9     clearing: share of points that must clear
=============== ======= ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from neuro_nodes.mapping.types import Scan, TriangleMesh

DistanceFn = Callable[[np.ndarray], np.ndarray]
#: Pixels per frame drawn before the voxel thinning of the true surface points.
PIXELS_PER_FRAME_SURFACE = 20000


@dataclass(frozen=True)
class EvalPoints:
    """Near-surface and free-space evaluation points with their true distances."""

    near: np.ndarray  # (N, 3) map frame
    near_true: np.ndarray  # (N,)
    free: np.ndarray  # (M, 3)
    free_true: np.ndarray  # (M,)


def _valid_pixels(scan: Scan) -> np.ndarray:
    """Flat indices of the pixels with a return."""
    if scan.depth is None or scan.camera is None:
        raise ValueError("evaluation needs scans with a depth image and camera")
    d = np.asarray(scan.depth)
    return np.flatnonzero(np.isfinite(d) & (d > 0))


def _rays(scan: Scan, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit ray directions (map frame) and ranges of the given pixels, and the origin."""
    c = scan.camera
    v, u = np.divmod(pixels, c.width)
    z = np.asarray(scan.depth, np.float64).reshape(-1)[pixels]
    p = np.stack([(u - c.cx) / c.fx * z, (v - c.cy) / c.fy * z, z], axis=1)
    T = np.asarray(scan.T_map_sensor, float)
    p_map = p @ T[:3, :3].T
    r = np.linalg.norm(p_map, axis=1)
    return p_map / r[:, None], r, T[:3, 3]


def sample_eval_points(scans: Sequence[Scan], true_distance: DistanceFn, *,
                       pixels_per_frame: int = 500, band_m: float = 0.10,
                       seed: int = 0) -> EvalPoints:
    """Near-surface and free-space points along the rays of noise-free ``scans``."""
    if pixels_per_frame < 1 or band_m <= 0:
        raise ValueError("pixels_per_frame must be >= 1 and band_m > 0")
    near, free = [], []
    for k, scan in enumerate(scans):
        valid = _valid_pixels(scan)
        if len(valid) == 0:
            continue
        rng = np.random.default_rng([seed, k])
        i = rng.choice(len(valid), min(pixels_per_frame, len(valid)), replace=False)
        dirs, r, o = _rays(scan, valid[i])
        t = rng.uniform(-band_m, band_m, len(i))
        f = rng.uniform(0.0, 1.0, len(i))
        near.append(o + (r + t)[:, None] * dirs)
        free.append(o + (f * r)[:, None] * dirs)
    if not near:
        raise ValueError("no valid depth returns to draw evaluation points from")
    near_p, free_p = np.concatenate(near), np.concatenate(free)
    dn = np.asarray(true_distance(near_p), float)
    df = np.asarray(true_distance(free_p), float)
    kn, kf = np.abs(dn) <= band_m, df > band_m
    return EvalPoints(near_p[kn], dn[kn], free_p[kf], df[kf])


def sdf_l1(estimated: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference of two distance arrays of the same length."""
    e, t = np.asarray(estimated, float), np.asarray(true, float)
    if e.shape != t.shape or e.ndim != 1:
        raise ValueError(f"distance arrays must be 1-D of equal length, got {e.shape}, "
                         f"{t.shape}")
    if len(e) == 0:
        return float("nan")
    return float(np.mean(np.abs(e - t)))


def surface_points(scans: Sequence[Scan], n: int = 30000, *, voxel_m: float = 0.02,
                   seed: int = 0) -> np.ndarray:
    """True surface points (map frame): noise-free depth of all frames, one per voxel,
    ``n`` of them drawn uniformly."""
    pts = []
    for k, scan in enumerate(scans):
        valid = _valid_pixels(scan)
        if len(valid) > PIXELS_PER_FRAME_SURFACE:  # bound work; voxel thinning follows
            rng = np.random.default_rng([seed, 101, k])
            valid = valid[np.sort(rng.choice(len(valid), PIXELS_PER_FRAME_SURFACE,
                                             replace=False))]
        dirs, r, o = _rays(scan, valid)
        pts.append(o + r[:, None] * dirs)
    if not pts:
        return np.zeros((0, 3))
    p = np.concatenate(pts)
    cell = np.floor(p / voxel_m).astype(np.int64)
    cell -= cell.min(axis=0)
    span = cell.max(axis=0) + 1
    key = (cell[:, 0] * span[1] + cell[:, 1]) * span[2] + cell[:, 2]  # one int per voxel
    _, first = np.unique(key, return_index=True)
    p = p[np.sort(first)]
    if len(p) > n:
        p = p[np.sort(np.random.default_rng([seed, 102]).choice(len(p), n, replace=False))]
    return p


def _check_mesh(mesh: TriangleMesh) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(mesh.vertices, np.float64).reshape(-1, 3)
    f = np.asarray(mesh.triangles, np.int64).reshape(-1, 3)
    if len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"mesh triangle indices must lie in [0, {len(v)}), got "
                         f"[{f.min()}, {f.max()}]")
    return v, f


def sample_mesh(mesh: TriangleMesh, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` points uniform on the mesh surface (by area; (0, 3) for an empty mesh)."""
    v, f = _check_mesh(mesh)
    if len(f) == 0:
        return np.zeros((0, 3))
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if area.sum() <= 0:
        return np.zeros((0, 3))
    rng = np.random.default_rng([seed, 201])
    tri = rng.choice(len(f), n, p=area / area.sum())
    r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
    return ((1 - r1)[:, None] * a[tri] + (r1 * (1 - r2))[:, None] * b[tri]
            + (r1 * r2)[:, None] * c[tri])


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray,
                         c: np.ndarray) -> np.ndarray:
    """Closest point of each triangle (a, b, c) to p (all (N, 3)): Ericson's regions
    (vertex, edge, face) tested in his order."""
    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c

    def dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", x, y)

    d1, d2, d3, d4, d5, d6 = dot(ab, ap), dot(ac, ap), dot(ab, bp), dot(ac, bp), dot(ab, cp), \
        dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2

    def div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x / np.where(np.abs(y) > 1e-300, y, 1.0)

    e1 = a + div(d1, d1 - d3)[:, None] * ab
    e2 = a + div(d2, d2 - d6)[:, None] * ac
    e3 = b + div(d4 - d3, (d4 - d3) + (d5 - d6))[:, None] * (c - b)
    s = va + vb + vc
    face = a + div(vb, s)[:, None] * ab + div(vc, s)[:, None] * ac
    conds = [(d1 <= 0) & (d2 <= 0), (d3 >= 0) & (d4 <= d3), (vc <= 0) & (d1 >= 0) & (d3 <= 0),
             (d6 >= 0) & (d5 <= d6), (vb <= 0) & (d2 >= 0) & (d6 <= 0),
             (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)]
    out = face.copy()
    for cond, val in reversed(list(zip(conds, (a, b, e1, c, e2, e3), strict=True))):
        out[cond] = val[cond]  # applied last-to-first: the first region that holds wins
    return out


def point_mesh_distance(points: np.ndarray, mesh: TriangleMesh, *, k: int = 16) -> np.ndarray:
    """Unsigned distance of ``points`` (N, 3) to the nearest of the ``k`` triangles with the
    nearest centroids, or to the nearest vertex if that is nearer (inf for an empty mesh)."""
    v, f = _check_mesh(mesh)
    p = np.asarray(points, np.float64).reshape(-1, 3)
    if len(f) == 0:
        return np.full(len(p), np.inf)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    k = min(k, len(f))
    _, cand = cKDTree((a + b + c) / 3.0).query(p, k=k)
    cand = cand.reshape(len(p), k)
    # the nearest vertex bounds the answer too: it catches the rare point whose nearest
    # triangle is not among the k nearest centroids
    best, _ = cKDTree(v[np.unique(f)]).query(p)  # (vertices of some triangle only)
    for j in range(k):
        t = cand[:, j]
        q = closest_on_triangles(p, a[t], b[t], c[t])
        best = np.minimum(best, np.linalg.norm(p - q, axis=1))
    return best


def mesh_metrics(mesh: TriangleMesh, true_distance: DistanceFn, surface: np.ndarray, *,
                 n_mesh_samples: int = 50000, tau_m: float = 0.05,
                 seed: int = 0) -> dict[str, float]:
    """Accuracy, completion, Chamfer (m) and completion/precision ratios (module docstring)."""
    surface = np.asarray(surface, np.float64).reshape(-1, 3)
    if len(surface) == 0:
        raise ValueError("mesh_metrics needs true surface points")
    samples = sample_mesh(mesh, n_mesh_samples, seed=seed)
    if len(samples) == 0:
        nan = float("nan")
        return {"accuracy_m": nan, "completion_m": nan, "chamfer_m": nan,
                "completion_ratio": 0.0, "precision_ratio": 0.0}
    acc = np.abs(np.asarray(true_distance(samples), float))
    comp = point_mesh_distance(surface, mesh)
    return {"accuracy_m": float(acc.mean()), "completion_m": float(comp.mean()),
            "chamfer_m": float(0.5 * (acc.mean() + comp.mean())),
            "completion_ratio": float(np.mean(comp < tau_m)),
            "precision_ratio": float(np.mean(acc < tau_m))}


def cleared_fraction(estimated: np.ndarray, true: np.ndarray, *, ratio: float = 0.5) -> float:
    """Share of points whose estimated distance exceeds ``ratio`` times the true one."""
    e, t = np.asarray(estimated, float), np.asarray(true, float)
    if e.shape != t.shape or len(e) == 0:
        raise ValueError(f"need equal, non-empty distance arrays, got {e.shape}, {t.shape}")
    return float(np.mean(e > ratio * t))


def clear_updates(estimated_per_update: Sequence[np.ndarray], true: np.ndarray, *,
                  ratio: float = 0.5, fraction: float = 0.9) -> int | None:
    """Updates after the move until ``fraction`` of the old surface points cleared (1 = the
    first scan after the move did it); None if none of the given updates did."""
    for u, est in enumerate(estimated_per_update, start=1):
        if cleared_fraction(est, true, ratio=ratio) >= fraction:
            return u
    return None


__all__ = [
    "DistanceFn",
    "EvalPoints",
    "clear_updates",
    "cleared_fraction",
    "closest_on_triangles",
    "mesh_metrics",
    "point_mesh_distance",
    "sample_eval_points",
    "sample_mesh",
    "sdf_l1",
    "surface_points",
]
