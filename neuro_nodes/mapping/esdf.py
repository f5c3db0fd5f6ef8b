"""ESDF views of any mapper, built from its distance query: 2D slices and 3D point clouds.

**Slice conventions.** :func:`esdf_slice` samples the field at cell centres of a regular
grid at height ``z_m``: cell ``(row, col)`` has its centre at

.. math::  x = x_0 + (col + 0.5)\\,r,\\qquad y = y_0 + (row + 0.5)\\,r

with ``origin_xy = (x_0, y_0)`` the outer corner of cell ``(0, 0)`` and ``r`` the
resolution; rows run along +y, columns along +x. This is ``nav_msgs/OccupancyGrid``'s
layout (``info.origin`` = ``(x_0, y_0, z_m)`` with identity rotation, ``data`` =
``occupancy_values(...)`` flattened row-major), and a float ``sensor_msgs/Image``
(``32FC1``) of ``distance`` in the same row order shows +y downwards (flip the rows for a
north-up picture).

**Occupancy values** (:func:`occupancy_values`), from the signed distance :math:`d` and the
robot radius :math:`\\rho`:

.. math::  o(d) = 100 \\ (d \\le 0),\\quad
           \\mathrm{round}(100\\,(1 - d/\\rho)) \\ (0 < d < \\rho),\\quad 0 \\ (d \\ge \\rho)

and -1 where the mapper has not observed the cell (OccupancyGrid's "unknown"). So 100 is
inside an obstacle, the ramp marks where a robot of radius :math:`\\rho` centred there would
touch one, and 0 is free for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuro_nodes.mapping.types import Mapper

_CHUNK = 100_000  # query points per mapper call (bounds the memory of big grids)


@dataclass(frozen=True)
class DistanceSlice:
    """A horizontal slice of a mapper's distance field (conventions in the module doc)."""

    distance: np.ndarray  # (rows, cols) float32, m; rows along +y, columns along +x
    observed: np.ndarray  # (rows, cols) bool
    origin_xy: tuple[float, float]  # outer corner of cell (0, 0), map frame (m)
    resolution_m: float
    z_m: float

    def cell_centres(self) -> np.ndarray:
        """(rows, cols, 3) map-frame centres of the cells."""
        rows, cols = self.distance.shape
        x = self.origin_xy[0] + (np.arange(cols) + 0.5) * self.resolution_m
        y = self.origin_xy[1] + (np.arange(rows) + 0.5) * self.resolution_m
        xx, yy = np.meshgrid(x, y)  # (rows, cols): y varies along rows
        return np.stack([xx, yy, np.full_like(xx, self.z_m)], axis=-1)


def _query_chunked(mapper: Mapper, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dist = np.empty(len(points), np.float32)
    obs = np.empty(len(points), bool)
    for i in range(0, len(points), _CHUNK):
        q = mapper.query(points[i:i + _CHUNK])
        dist[i:i + _CHUNK] = q.distance
        obs[i:i + _CHUNK] = q.observed
    return dist, obs


def _check_resolution(resolution_m: float) -> float:
    r = float(resolution_m)
    if not np.isfinite(r) or r <= 0:
        raise ValueError(f"resolution_m must be a positive finite number, got {resolution_m}")
    return r


def esdf_slice(mapper: Mapper, z_m: float, resolution_m: float,
               xy_bounds: tuple[float, float, float, float] | None = None) -> DistanceSlice:
    """The field at height ``z_m`` on a grid of ``resolution_m`` cells.

    ``xy_bounds`` = ``(x_min, y_min, x_max, y_max)`` (default: the mapper's bounds); the
    grid covers it with whole cells starting at ``(x_min, y_min)``.
    """
    r = _check_resolution(resolution_m)
    if not np.isfinite(z_m):
        raise ValueError(f"z_m must be finite, got {z_m}")
    if xy_bounds is None:
        lo, hi = mapper.bounds.min_xyz, mapper.bounds.max_xyz
        xy_bounds = (lo[0], lo[1], hi[0], hi[1])
    b = np.asarray(xy_bounds, float)
    if b.shape != (4,) or not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
        raise ValueError(f"xy_bounds must be finite (x_min, y_min, x_max, y_max) with max > "
                         f"min, got {xy_bounds}")
    cols = max(1, int(np.ceil((b[2] - b[0]) / r - 1e-9)))
    rows = max(1, int(np.ceil((b[3] - b[1]) / r - 1e-9)))
    empty = DistanceSlice(np.zeros((rows, cols), np.float32), np.zeros((rows, cols), bool),
                          (float(b[0]), float(b[1])), r, float(z_m))
    centres = empty.cell_centres().reshape(-1, 3)
    dist, obs = _query_chunked(mapper, centres)
    return DistanceSlice(dist.reshape(rows, cols), obs.reshape(rows, cols),
                         empty.origin_xy, r, float(z_m))


def occupancy_values(slice_: DistanceSlice, robot_radius_m: float = 0.2) -> np.ndarray:
    """int8 (rows, cols) OccupancyGrid data: 100 inside, ramp within the radius, 0 free, -1
    unknown (module doc)."""
    rho = float(robot_radius_m)
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"robot_radius_m must be >= 0, got {robot_radius_m}")
    d = slice_.distance.astype(float)
    ramp = np.rint(100.0 * (1.0 - d / rho)) if rho > 0 else np.zeros_like(d)
    out = np.where(d <= 0, 100.0, np.clip(ramp, 0, 100))
    return np.where(slice_.observed, out, -1).astype(np.int8)


def esdf_points(mapper: Mapper, resolution_m: float, max_distance_m: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Observed grid points with ``|distance| <= max_distance_m``: (points (M, 3) float32,
    distances (M,) float32), on a grid of ``resolution_m`` over the mapper's bounds (cell
    centres, starting half a cell inside ``min_xyz``)."""
    r = _check_resolution(resolution_m)
    if not np.isfinite(max_distance_m) or max_distance_m <= 0:
        raise ValueError(f"max_distance_m must be positive, got {max_distance_m}")
    lo = np.asarray(mapper.bounds.min_xyz, float)
    n = np.maximum(1, np.ceil(mapper.bounds.size / r - 1e-9).astype(int))
    if int(np.prod(n)) > 50_000_000:
        raise ValueError(f"a {r} m grid over the bounds has {int(np.prod(n))} points; "
                         "choose a coarser resolution")
    axes = [lo[a] + (np.arange(n[a]) + 0.5) * r for a in range(3)]
    pts_out, d_out = [], []
    # one z layer at a time keeps the working set small
    xx, yy = np.meshgrid(axes[0], axes[1], indexing="ij")
    xy = np.stack([xx.ravel(), yy.ravel()], axis=1)
    for z in axes[2]:
        pts = np.concatenate([xy, np.full((len(xy), 1), z)], axis=1)
        dist, obs = _query_chunked(mapper, pts)
        keep = obs & (np.abs(dist) <= max_distance_m)
        pts_out.append(pts[keep].astype(np.float32))
        d_out.append(dist[keep])
    return np.concatenate(pts_out), np.concatenate(d_out).astype(np.float32)


__all__ = ["DistanceSlice", "esdf_points", "esdf_slice", "occupancy_values"]
