"""Mapping metrics on synthetic cases with known answers (a plane seen head-on)."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.mapping import metrics as M
from neuro_nodes.mapping.types import Scan, TriangleMesh
from neuro_nodes.perception.types import PinholeCamera

PLANE_Z = 2.0
CAMERA = PinholeCamera(20.0, 20.0, 15.5, 11.5, 32, 24)


def plane_distance(p: np.ndarray) -> np.ndarray:
    """Signed distance to the wall z = 2 (solid behind it), seen from the origin."""
    return PLANE_Z - np.asarray(p)[:, 2]


def scans(n: int = 3) -> list[Scan]:
    """A camera at the origin looking along +z (identity pose), slid sideways per frame."""
    out = []
    for k in range(n):
        T = np.eye(4)
        T[0, 3] = 0.1 * k
        depth = np.full((CAMERA.height, CAMERA.width), PLANE_Z, np.float32)
        out.append(Scan.from_depth(depth, CAMERA, T, 0.1 * k))
    return out


def grid_mesh(z: float, half: float = 3.0, n: int = 60) -> TriangleMesh:
    """A finely tessellated square at height z covering the whole view."""
    xs = np.linspace(-half, half, n + 1)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    verts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], axis=1)
    idx = np.arange(gx.size).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([a, c, d], -1).reshape(-1, 3)])
    return TriangleMesh(verts.astype(np.float32), tris.astype(np.int32))


@pytest.fixture(scope="module")
def points() -> M.EvalPoints:
    return M.sample_eval_points(scans(), plane_distance, pixels_per_frame=200, seed=3)


def test_eval_points_lie_in_their_bands(points: M.EvalPoints) -> None:
    assert len(points.near) > 300 and len(points.free) > 300
    assert np.all(np.abs(points.near_true) <= 0.10)
    assert np.all(points.free_true > 0.10)
    np.testing.assert_allclose(points.near_true, plane_distance(points.near))
    # near points straddle the surface, free points lie in front of it
    assert points.near_true.min() < -0.05 and points.near_true.max() > 0.05
    assert np.all(points.free[:, 2] < PLANE_Z - 0.10)


def test_eval_points_are_deterministic(points: M.EvalPoints) -> None:
    again = M.sample_eval_points(scans(), plane_distance, pixels_per_frame=200, seed=3)
    np.testing.assert_array_equal(points.near, again.near)
    np.testing.assert_array_equal(points.free, again.free)
    other = M.sample_eval_points(scans(), plane_distance, pixels_per_frame=200, seed=4)
    assert not np.array_equal(points.near[:10], other.near[:10])


def test_sdf_l1_perfect_and_offset(points: M.EvalPoints) -> None:
    assert M.sdf_l1(plane_distance(points.near), points.near_true) == 0.0
    assert M.sdf_l1(plane_distance(points.free) + 0.03, points.free_true) == pytest.approx(0.03)
    assert M.sdf_l1(plane_distance(points.near) - 0.02, points.near_true) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="equal length"):
        M.sdf_l1(np.zeros(3), np.zeros(4))


def test_chamfer_of_a_perfect_and_a_shifted_mesh() -> None:
    surface = M.surface_points(scans(), 5000, seed=0)
    assert len(surface) > 500
    np.testing.assert_allclose(surface[:, 2], PLANE_Z, atol=1e-5)
    perfect = M.mesh_metrics(grid_mesh(PLANE_Z), plane_distance, surface, n_mesh_samples=5000)
    assert perfect["chamfer_m"] < 1e-5 and perfect["completion_ratio"] == 1.0
    shifted = M.mesh_metrics(grid_mesh(PLANE_Z + 0.01), plane_distance, surface,
                             n_mesh_samples=5000)
    assert shifted["accuracy_m"] == pytest.approx(0.01, abs=1e-5)
    assert shifted["completion_m"] == pytest.approx(0.01, abs=1e-5)
    assert shifted["chamfer_m"] == pytest.approx(0.01, abs=1e-5)
    assert shifted["completion_ratio"] == 1.0 and shifted["precision_ratio"] == 1.0
    far = M.mesh_metrics(grid_mesh(PLANE_Z + 0.08), plane_distance, surface,
                         n_mesh_samples=5000)
    assert far["completion_ratio"] == 0.0 and far["chamfer_m"] == pytest.approx(0.08, abs=1e-5)


def test_half_a_mesh_completes_half_the_surface() -> None:
    surface = M.surface_points(scans(), 5000, seed=0)
    mesh = grid_mesh(PLANE_Z)
    v = np.asarray(mesh.vertices)
    keep = np.all(v[mesh.triangles][:, :, 0] >= 0.0, axis=1)  # only x >= 0
    half = TriangleMesh(mesh.vertices, mesh.triangles[keep])
    out = M.mesh_metrics(half, plane_distance, surface, n_mesh_samples=5000)
    gap = np.maximum(-surface[:, 0], 0.0)  # distance to the half plane x >= 0
    assert 0.3 < np.mean(gap < 0.05) < 0.7
    assert out["completion_ratio"] == pytest.approx(np.mean(gap < 0.05))
    assert out["completion_m"] == pytest.approx(gap.mean(), abs=1e-6)
    assert out["accuracy_m"] < 1e-6


def test_empty_mesh() -> None:
    out = M.mesh_metrics(TriangleMesh(np.zeros((0, 3), np.float32),
                                      np.zeros((0, 3), np.int32)),
                         plane_distance, np.zeros((5, 3)))
    assert np.isnan(out["chamfer_m"]) and out["completion_ratio"] == 0.0
    with pytest.raises(ValueError, match="indices"):
        M.sample_mesh(TriangleMesh(np.zeros((3, 3), np.float32),
                                   np.array([[0, 1, 5]], np.int32)), 10)


def test_closest_point_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    n = 400
    a, b, c = (rng.normal(size=(n, 3)) for _ in range(3))
    p = 1.5 * rng.normal(size=(n, 3))
    q = M.closest_on_triangles(p, a, b, c)
    exact = np.linalg.norm(p - q, axis=1)
    # dense barycentric samples: never closer than the exact answer, and nearly as close
    s = rng.random((4000, 2))
    s = np.where(s.sum(1, keepdims=True) > 1, 1 - s, s)
    pts = a[:, None] + s[None, :, :1] * (b - a)[:, None] + s[None, :, 1:] * (c - a)[:, None]
    brute = np.linalg.norm(pts - p[:, None], axis=2).min(axis=1)
    assert np.all(exact <= brute + 1e-9)
    assert np.all(brute - exact < 0.05)


def test_clear_updates() -> None:
    true = np.full(10, 0.4)
    hidden = np.full(10, 0.0)
    half = np.r_[np.full(5, 0.3), np.zeros(5)]
    most = np.r_[np.full(9, 0.25), 0.0]
    assert M.clear_updates([hidden, half, most], true) == 3
    assert M.clear_updates([most], true) == 1
    assert M.clear_updates([hidden, half], true) is None
    assert M.cleared_fraction(half, true) == 0.5
    assert M.clear_updates([np.full(10, 0.2)], true) is None  # 0.2 is not > 0.5 * 0.4
