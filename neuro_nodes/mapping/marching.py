"""The zero level set of a field sampled on a regular grid, as a TriangleMesh (marching cubes).

``values[i, j, k]`` is the field at ``origin + (i, j, k) * spacing``; cells where ``mask`` is
False are left out (their vertices are set to a large positive value, so no surface crosses
them). Uses :func:`skimage.measure.marching_cubes` (Lewiner); faces are oriented so that
their normals point towards positive values (outside, free space).
"""

from __future__ import annotations

import numpy as np
from skimage import measure

from neuro_nodes.mapping.types import TriangleMesh


def empty_mesh() -> TriangleMesh:
    return TriangleMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))


def marching_cubes(values: np.ndarray, origin: np.ndarray, spacing: float,
                   mask: np.ndarray | None = None, level: float = 0.0) -> TriangleMesh:
    """Triangles of ``values == level`` (see the module docstring)."""
    v = np.asarray(values, np.float32)
    if v.ndim != 3 or min(v.shape) < 2:
        raise ValueError(f"marching cubes needs a 3D grid of at least 2^3 values, got {v.shape}")
    if mask is not None:
        v = np.where(mask, v, np.float32(level + 1e3))
    if not (np.nanmin(v) < level < np.nanmax(v)):
        return empty_mesh()
    verts, faces, _normals, _ = measure.marching_cubes(
        v, level=level, spacing=(spacing,) * 3, gradient_direction="ascent")
    verts = verts + np.asarray(origin, np.float64)
    return TriangleMesh(verts.astype(np.float32), faces.astype(np.int32))


__all__ = ["empty_mesh", "marching_cubes"]
