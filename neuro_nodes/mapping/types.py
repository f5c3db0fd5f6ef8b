"""The contract every mapper follows (neural SDF, TSDF baseline), and the data it passes.

Conventions (shared by the mappers, the ``mapper`` node, the simulation's ground truth and
``neuro eval mapping``):

- Frames: one fixed map frame (``map``), z up, metres. A scan's points are in the sensor
  frame (REP-103 optical frame for cameras: x right, y down, z forward) and
  ``T_map_sensor`` (4x4, float64) maps them into the map frame.
- Signed distance: metres, positive outside surfaces (in free space), negative inside;
  the gradient is d(distance)/d(point) in the map frame (unit length where the field is a
  true distance). Where a mapper has no information, ``observed`` is False and the
  distance/gradient there are whatever the mapper's prior gives (never NaN).
- Times: seconds (float64) of the scan's stamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from neuro_nodes.perception.types import PinholeCamera


@dataclass(frozen=True)
class MapBounds:
    """The axis-aligned box (map frame, m) a mapper covers; outside it nothing is mapped."""

    min_xyz: tuple[float, float, float]
    max_xyz: tuple[float, float, float]

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.min_xyz, float), np.asarray(self.max_xyz, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(np.isfinite(lo)) \
                or not np.all(np.isfinite(hi)) or not np.all(hi > lo):
            raise ValueError(f"map bounds need 3 finite values each with max > min, got "
                             f"min={self.min_xyz} max={self.max_xyz}")

    @property
    def size(self) -> np.ndarray:
        return np.asarray(self.max_xyz, float) - np.asarray(self.min_xyz, float)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: which of ``points`` (N, 3) lie inside the box."""
        p = np.asarray(points, float)
        return np.all((p >= self.min_xyz) & (p <= self.max_xyz), axis=-1)


@dataclass(frozen=True)
class Scan:
    """One range measurement: points in the sensor frame and the sensor's pose in the map.

    ``depth``/``camera`` are set when the scan comes from a depth camera (z-depth in m along
    the optical axis, 0 or non-finite where there is no return); mappers that integrate
    images (the TSDF) use them, others use ``points``. ``points`` holds only valid returns.
    """

    points: np.ndarray  # (N, 3) float32, sensor frame
    T_map_sensor: np.ndarray  # (4, 4) float64
    stamp_s: float
    depth: np.ndarray | None = None  # (H, W) float32, m
    camera: PinholeCamera | None = None

    @property
    def origin(self) -> np.ndarray:
        """The sensor's position in the map frame (3,)."""
        return np.asarray(self.T_map_sensor, float)[:3, 3]

    def points_in_map(self) -> np.ndarray:
        """``points`` in the map frame (N, 3) float64."""
        T = np.asarray(self.T_map_sensor, float)
        return np.asarray(self.points, float) @ T[:3, :3].T + T[:3, 3]

    @classmethod
    def from_depth(cls, depth: np.ndarray, camera: PinholeCamera, T_map_sensor: np.ndarray,
                   stamp_s: float, *, max_range_m: float = 10.0, stride: int = 1) -> Scan:
        """Back-project a z-depth image (every ``stride``-th pixel) into a scan.

        Returns with no return (0, non-finite or beyond ``max_range_m`` in z) are left out
        of ``points``; ``depth`` keeps the full image.
        """
        d = np.asarray(depth, np.float32)
        if d.ndim != 2 or d.shape != (camera.height, camera.width):
            raise ValueError(f"depth image is {d.shape}, camera is "
                             f"{camera.height}x{camera.width}")
        T = np.asarray(T_map_sensor, float)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise ValueError("T_map_sensor must be a finite 4x4 matrix")
        v, u = np.mgrid[0:d.shape[0]:stride, 0:d.shape[1]:stride]
        z = d[v, u]
        ok = np.isfinite(z) & (z > 0) & (z <= max_range_m)
        z, u, v = z[ok], u[ok], v[ok]
        x = (u - camera.cx) / camera.fx * z
        y = (v - camera.cy) / camera.fy * z
        pts = np.stack([x, y, z], axis=1).astype(np.float32)
        return cls(pts, T, float(stamp_s), d, camera)


@dataclass(frozen=True)
class DistanceQuery:
    """A mapper's answer at N query points (map frame)."""

    distance: np.ndarray  # (N,) float32, m
    gradient: np.ndarray  # (N, 3) float32
    observed: np.ndarray  # (N,) bool


@dataclass(frozen=True)
class TriangleMesh:
    """A surface in the map frame."""

    vertices: np.ndarray  # (V, 3) float32
    triangles: np.ndarray  # (F, 3) int32 indices into vertices


@dataclass(frozen=True)
class UpdateStats:
    """What one :meth:`Mapper.integrate` call did."""

    compute_s: float  # wall time of the call
    points_used: int  # range returns that went into the map
    info: dict[str, float]  # e.g. loss, iterations, blocks allocated


class Mapper(Protocol):
    """A mapper integrates scans in time order and answers distance queries at any time."""

    name: str
    bounds: MapBounds

    def reset(self) -> None:
        """Forget the map."""

    def integrate(self, scan: Scan) -> UpdateStats:
        """Fuse one scan (the newest measurement wins where the scene changed)."""

    def query(self, points: np.ndarray) -> DistanceQuery:
        """Signed distance, gradient and observedness at ``points`` (N, 3), map frame."""

    def mesh(self) -> TriangleMesh:
        """The zero level set by marching cubes (empty arrays before any scan)."""

    def memory_bytes(self) -> int:
        """Bytes the map itself holds (grid, features, weights; not caches or replay)."""

    def save(self, path: Path) -> None:
        """Write the map to ``path`` (one file); :func:`load_map` reads it back."""


__all__ = ["DistanceQuery", "MapBounds", "Mapper", "Scan", "TriangleMesh", "UpdateStats"]
