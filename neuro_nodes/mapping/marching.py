"""The zero level set of a field sampled on a regular grid, as a TriangleMesh (marching cubes).

``values[i, j, k]`` is the field at ``origin + (i, j, k) * spacing``. ``keep`` (optional) says
which points of the map are trusted: triangles whose centroid it rejects are dropped (and the
vertices only they used). Masking the *values* instead would put a false surface wherever
trusted negative values meet the mask. Uses :func:`skimage.measure.marching_cubes`
(Lewiner); faces are oriented so that their normals point towards positive values (outside,
free space).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from skimage import measure

from neuro_nodes.mapping.types import TriangleMesh


def empty_mesh() -> TriangleMesh:
    return TriangleMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))


def marching_cubes(values: np.ndarray, origin: np.ndarray, spacing: float,
                   keep: Callable[[np.ndarray], np.ndarray] | None = None,
                   level: float = 0.0) -> TriangleMesh:
    """Triangles of ``values == level`` (see the module docstring)."""
    v = np.asarray(values, np.float32)
    if v.ndim != 3 or min(v.shape) < 2:
        raise ValueError(f"marching cubes needs a 3D grid of at least 2^3 values, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("marching cubes needs finite values")
    if not (v.min() < level < v.max()):
        return empty_mesh()
    verts, faces, _normals, _ = measure.marching_cubes(
        v, level=level, spacing=(spacing,) * 3, gradient_direction="descent")
    verts = verts + np.asarray(origin, np.float64)
    if keep is not None and len(faces):
        faces = faces[keep(verts[faces].mean(axis=1))]
        used, faces = np.unique(faces, return_inverse=True)
        verts, faces = verts[used], faces.reshape(-1, 3)
    return TriangleMesh(verts.astype(np.float32), faces.astype(np.int32))


__all__ = ["empty_mesh", "marching_cubes"]
