"""Depth image <-> points in the camera optical frame (z forward, x right, y down).

Back-projection of pixel ``(u, v)`` with z-depth ``Z``: ``X = (u - cx) Z / fx``,
``Y = (v - cy) Z / fy``; projection is its inverse. Points are ``float32`` (PointCloud2
``xyz``), in row-major pixel order; only pixels with finite positive depth become points.
"""

from __future__ import annotations

import numpy as np

Intrinsics = tuple[float, float, float, float]


def pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``(u, v)`` coordinate images (float64, HxW)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return u, v


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Pixels with a finite, positive depth."""
    return np.isfinite(depth) & (depth > 0)


def depth_to_points(depth: np.ndarray, intrinsics: Intrinsics, *,
                    organized: bool = False) -> np.ndarray:
    """Points (N, 3) of the valid pixels (row-major order), or with ``organized`` an HxWx3
    image with NaN at invalid pixels."""
    fx, fy, cx, cy = intrinsics
    h, w = depth.shape
    u, v = pixel_grid(w, h)
    z = depth.astype(np.float64)
    pts = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
    ok = valid_depth(depth)
    if organized:
        pts[~ok] = np.nan
        return pts.astype(np.float32)
    return pts[ok].astype(np.float32)


def project(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Pixel coordinates (N, 2) of optical-frame points (N, 3) (z must be positive)."""
    fx, fy, cx, cy = intrinsics
    p = np.asarray(points, dtype=np.float64)
    return np.stack([fx * p[:, 0] / p[:, 2] + cx, fy * p[:, 1] / p[:, 2] + cy], axis=-1)


def points_to_depth(points: np.ndarray, intrinsics: Intrinsics, width: int,
                    height: int) -> np.ndarray:
    """Z-buffer of optical-frame points: nearest z per pixel, ``+inf`` where none falls."""
    uv = np.rint(project(points, intrinsics)).astype(np.int64)
    z = np.asarray(points, dtype=np.float64)[:, 2]
    ok = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    depth = np.full(height * width, np.inf)
    np.minimum.at(depth, uv[ok, 1] * width + uv[ok, 0], z[ok])
    return depth.reshape(height, width).astype(np.float32)


__all__ = ["depth_to_points", "pixel_grid", "points_to_depth", "project", "valid_depth"]
