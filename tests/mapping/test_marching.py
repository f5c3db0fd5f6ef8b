"""Marching cubes of a sampled field: a sphere comes out at its radius; keep() drops faces."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.mapping.marching import marching_cubes


def _sphere(h: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(-1.0, 1.0 + 1e-9, h)
    p = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1)
    return np.linalg.norm(p, axis=-1) - 0.6, np.array([-1.0, -1.0, -1.0])


def test_sphere_radius_and_orientation() -> None:
    v, origin = _sphere()
    m = marching_cubes(v, origin, 0.05)
    r = np.linalg.norm(m.vertices, axis=1)
    assert np.abs(r - 0.6).max() < 0.01
    a, b, c = (m.vertices[m.triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    big = np.linalg.norm(n, axis=1) > 1e-8  # skip degenerate triangles
    assert np.mean(np.sum(n * a, 1)[big] > 0) > 0.99  # normals point outwards (free side)


def test_keep_and_empty() -> None:
    v, origin = _sphere()
    m = marching_cubes(v, origin, 0.05, keep=lambda p: p[:, 2] > 0)
    assert len(m.triangles) > 0 and m.vertices[:, 2].min() > -0.06
    assert m.triangles.max() < len(m.vertices)
    assert len(marching_cubes(np.ones((3, 3, 3)), origin, 0.1).vertices) == 0
    with pytest.raises(ValueError):
        marching_cubes(np.ones((3, 3)), origin, 0.1)
