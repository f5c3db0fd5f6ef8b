"""The online neural SDF on an analytic box room: sign, distance error, unit gradient, a moved
object cleared, save/load, determinism, the query contract and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from analytic_scene import BOX_A, CAMERA, ROOM, Box, BoxScene, look_at, orbit_poses

from neuro_nodes.mapping.neural_sdf import NeuralSDFMapper, NeuralSDFParams
from neuro_nodes.mapping.registry import load_map, make_mapper
from neuro_nodes.mapping.types import MapBounds, Scan

BOUNDS = MapBounds((-2.3, -2.3, -0.3), (2.3, 2.3, 2.8))
SCENE = BoxScene(ROOM, (BOX_A,))
# a coarser grid than the room default: the test room is 4.6 m across
FAST = NeuralSDFParams(finest_resolution=160, n_rays=150, seed=3)


def _mapped(scene: BoxScene = SCENE, n: int = 16, params: NeuralSDFParams = FAST,
            laps: int = 2) -> NeuralSDFMapper:
    m = NeuralSDFMapper(BOUNDS, params)
    for k, T in enumerate(orbit_poses(n) * laps):
        m.integrate(scene.scan(CAMERA, T, 0.1 * k))
    return m


@pytest.fixture(scope="module")
def mapped() -> NeuralSDFMapper:
    return _mapped()


def _near_surface_points(scene: BoxScene, rng: np.random.Generator, n: int = 3000
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Points within 10 cm of surfaces some camera saw (returns jittered), their true SDF."""
    pts = np.concatenate([scene.scan(CAMERA, T).points_in_map() for T in orbit_poses(16)])
    p = pts[rng.choice(len(pts), n)] + rng.normal(0, 0.04, (n, 3))
    d = scene.sdf(p)
    keep = np.abs(d) <= 0.1
    return p[keep], d[keep]


def test_distance_error_and_sign_near_surfaces(mapped: NeuralSDFMapper) -> None:
    p, d = _near_surface_points(SCENE, np.random.default_rng(0))
    q = mapped.query(p)
    assert q.observed.mean() > 0.95
    err = np.abs(q.distance - d)[q.observed]
    assert np.mean(err) < 0.03, np.mean(err)
    clear = np.abs(d) > 0.04  # away from the zero crossing the sign must be right
    assert np.mean(np.sign(q.distance[clear]) == np.sign(d[clear])) > 0.95


def test_free_space_is_positive_and_far_is_far(mapped: NeuralSDFMapper) -> None:
    # points 0.3-1.0 m ahead of each camera that are >= 0.3 m from everything
    p = np.concatenate([T[:3, 3] + np.outer(np.linspace(0.3, 1.0, 8), T[:3, 2])
                        for T in orbit_poses(16)])
    d = SCENE.sdf(p)
    p, d = p[d > 0.3], d[d > 0.3]
    assert len(p) > 30
    q = mapped.query(p)
    assert q.observed.all()
    assert np.all(q.distance > 0.5 * d), np.min(q.distance / d)
    # far from surfaces the field leans high: a scan's bound (nearest return it saw) exceeds
    # the true distance where the nearest surface is out of view, and the pull towards it
    # (free_pull_weight) is what makes clearing fast; 11 cm median here, 3.9 cm on room-s100
    assert np.median(np.abs(q.distance - d)) < 0.15
    assert np.all(q.distance < 2.5 * d + 0.1)


def test_gradient_is_unit_and_along_the_true_normal(mapped: NeuralSDFMapper) -> None:
    p, d = _near_surface_points(SCENE, np.random.default_rng(1))
    q = mapped.query(p)
    norm = np.linalg.norm(q.gradient, axis=1)
    assert np.median(np.abs(norm - 1)) < 0.15
    eps = 1e-3  # true normal by central differences of the exact SDF
    g = np.stack([(SCENE.sdf(p + eps * e) - SCENE.sdf(p - eps * e)) / (2 * eps)
                  for e in np.eye(3)], 1)
    cos = np.sum(q.gradient * g, 1) / np.maximum(norm * np.linalg.norm(g, axis=1), 1e-9)
    assert np.median(cos) > 0.9


def test_gradient_matches_finite_differences_of_the_field(mapped: NeuralSDFMapper) -> None:
    p, _ = _near_surface_points(SCENE, np.random.default_rng(2), 300)
    g = mapped.query(p).gradient
    eps = 1e-3
    fd = np.stack([(mapped.query(p + eps * e).distance - mapped.query(p - eps * e).distance)
                   / (2 * eps) for e in np.eye(3)], 1)
    # the field is piecewise smooth (trilinear cells): most points are inside a cell
    close = np.linalg.norm(g - fd, axis=1) < 0.05
    assert close.mean() > 0.9


def test_moved_object_is_cleared_within_five_updates() -> None:
    moved = BoxScene(ROOM, (Box((-0.4, 0.6, 0.0), (0.4, 1.2, 0.8)),))  # BOX_A moved away
    facing = [look_at(np.array([0.0, 0.0, 1.2]), np.array([1.0, y, 0.8]))
              for y in np.linspace(-0.3, 0.3, 5)]  # cameras that see BOX_A's x = 0.6 face
    m = NeuralSDFMapper(BOUNDS, FAST)
    for k, T in enumerate(orbit_poses(16) + facing * 2):
        m.integrate(SCENE.scan(CAMERA, T, 0.1 * k))
    old_face = np.stack(np.meshgrid([0.6], np.linspace(-0.3, 0.3, 7), np.linspace(0.3, 0.7, 5),
                                    indexing="ij"), -1).reshape(-1, 3)
    assert np.median(np.abs(m.query(old_face).distance)) < 0.02  # the face is mapped
    for k, T in enumerate(facing):  # five updates of the same views, the box gone
        m.integrate(moved.scan(CAMERA, T, 10.0 + k))
    assert np.all(moved.sdf(old_face) > 0.25)
    d = m.query(old_face).distance
    assert np.min(d) > 0.02 and np.median(d) > 0.05, (d.min(), np.median(d))
    assert m.window.dropped > 0  # the old face's replayed samples were carved


def test_save_load_round_trip_and_registry(mapped: NeuralSDFMapper, tmp_path) -> None:
    path = tmp_path / "neural.npz"
    mapped.save(path)
    back = load_map(path)
    assert isinstance(back, NeuralSDFMapper)
    assert back.params == mapped.params and back.bounds == mapped.bounds
    x = np.random.default_rng(0).uniform(BOUNDS.min_xyz, BOUNDS.max_xyz, (500, 3))
    a, b = mapped.query(x), back.query(x)
    np.testing.assert_array_equal(a.distance, b.distance)
    np.testing.assert_array_equal(a.gradient, b.gradient)
    np.testing.assert_array_equal(a.observed, b.observed)
    assert back.memory_bytes() == mapped.memory_bytes()
    st_a = mapped.optimizer.state[mapped.grid.table]
    st_b = back.optimizer.state[back.grid.table]
    assert float(st_a["step"]) == float(st_b["step"])
    np.testing.assert_array_equal(st_a["exp_avg_sq"].numpy(), st_b["exp_avg_sq"].numpy())


def test_malformed_files_raise_value_error(mapped: NeuralSDFMapper, tmp_path) -> None:
    good = tmp_path / "good.npz"
    mapped.save(good)
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        NeuralSDFMapper.load(tmp_path / "trunc.npz")
    with np.load(good) as f:
        data = {k: f[k] for k in f.files}
    bad = dict(data)
    bad["param/grid.table"] = data["param/grid.table"][:-1]
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match="shape"):
        NeuralSDFMapper.load(tmp_path / "shape.npz")
    missing = {k: v for k, v in data.items() if k != "known"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError):
        NeuralSDFMapper.load(tmp_path / "missing.npz")
    other = dict(data, method=np.array("tsdf"))
    np.savez(tmp_path / "other.npz", **other)
    with pytest.raises(ValueError, match="tsdf"):
        NeuralSDFMapper.load(tmp_path / "other.npz")


def test_deterministic_with_a_seed() -> None:
    params = dataclasses.replace(FAST, steps=3)
    x = np.random.default_rng(0).uniform(BOUNDS.min_xyz, BOUNDS.max_xyz, (300, 3))
    a = _mapped(n=4, params=params, laps=1).query(x).distance
    b = _mapped(n=4, params=params, laps=1).query(x).distance
    c = _mapped(n=4, params=dataclasses.replace(params, seed=4), laps=1).query(x).distance
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_query_contract(mapped: NeuralSDFMapper) -> None:
    q = mapped.query(np.zeros((7, 3)))
    assert q.distance.shape == (7,) and q.distance.dtype == np.float32
    assert q.gradient.shape == (7, 3) and q.gradient.dtype == np.float32
    assert q.observed.shape == (7,) and q.observed.dtype == bool
    empty = mapped.query(np.zeros((0, 3)))
    assert empty.distance.shape == (0,) and empty.gradient.shape == (0, 3)
    far = mapped.query(np.array([[50.0, 0.0, 1.0]]))  # outside the box: finite, unobserved
    assert np.isfinite(far.distance).all() and not far.observed.any()
    for bad in (np.zeros((5, 2)), np.zeros(3), np.array([[np.nan, 0, 0]])):
        with pytest.raises(ValueError):
            mapped.query(bad)


def test_bad_scans_raise_or_skip() -> None:
    m = NeuralSDFMapper(BOUNDS, FAST)
    T = orbit_poses(4)[0]
    good = SCENE.scan(CAMERA, T)
    with pytest.raises(ValueError, match="pose"):
        m.integrate(dataclasses.replace(good, T_map_sensor=np.full((4, 4), np.nan)))
    with pytest.raises(ValueError, match="pose"):
        m.integrate(dataclasses.replace(good, T_map_sensor=np.eye(3)))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        m.integrate(dataclasses.replace(good, points=np.zeros((10, 2), np.float32)))
    st = m.integrate(Scan(np.zeros((0, 3), np.float32), T, 0.0))
    assert st.points_used == 0 and st.info["skipped"] == 1.0 and m.n_skipped == 1
    nan_pts = good.points.copy()
    nan_pts[::2] = np.nan  # non-finite returns are left out, the rest is used
    st = m.integrate(dataclasses.replace(good, points=nan_pts))
    assert st.points_used == len(good.points) - len(good.points[::2])


def test_mesh_lies_on_the_surfaces(mapped: NeuralSDFMapper) -> None:
    mesh = mapped.mesh()
    assert len(mesh.triangles) > 1000
    assert mesh.vertices.dtype == np.float32 and mesh.triangles.dtype == np.int32
    assert mesh.triangles.max() < len(mesh.vertices)
    err = np.abs(SCENE.sdf(mesh.vertices.astype(float)))
    assert np.median(err) < 0.02
    assert len(NeuralSDFMapper(BOUNDS, FAST).mesh().vertices) == 0  # nothing seen yet


def test_memory_and_registry_params() -> None:
    m = make_mapper("neural", BOUNDS, finest_resolution=64, n_levels=3, seed=1)
    assert isinstance(m, NeuralSDFMapper)
    n = sum(p.numel() for p in m._parameters())
    assert m.memory_bytes() == 4 * n
    with pytest.raises(ValueError):
        make_mapper("neural", BOUNDS, device="tpu")
    with pytest.raises(ValueError):
        NeuralSDFParams(finest_resolution=8, base_resolution=16).validate()


def test_cuda_device_when_there_is_one() -> None:
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            NeuralSDFMapper(BOUNDS, dataclasses.replace(FAST, device="cuda"))
        assert NeuralSDFMapper(BOUNDS, FAST).device.type == "cpu"  # auto falls back
        return
    m = _mapped(n=8, params=dataclasses.replace(FAST, device="cuda"), laps=1)
    p, d = _near_surface_points(SCENE, np.random.default_rng(0))
    q = m.query(p)
    assert q.distance.dtype == np.float32 and np.mean(np.abs(q.distance - d)) < 0.05


def _query_points(rng: np.random.Generator) -> np.ndarray:
    """Uniform in (and 0.5 m around) the box, near-surface points, and far outliers."""
    lo, hi = np.array(BOUNDS.min_xyz), np.array(BOUNDS.max_xyz)
    near, _ = _near_surface_points(SCENE, rng, 2000)
    far = rng.normal(0, 1e6, (20, 3))
    return np.concatenate([rng.uniform(lo - 0.5, hi + 0.5, (8000, 3)), near, far])


def test_fused_query_matches_the_torch_path(mapped: NeuralSDFMapper) -> None:
    # the one-pass numba query (sdf_query_kernel.py) against the grid module + torch decoder
    assert mapped._fused_query_ok()
    p = _query_points(np.random.default_rng(7))
    fast = mapped.query(p)
    ref = mapped._query_torch(p.astype(np.float32))
    assert fast.distance.dtype == np.float32 and fast.gradient.dtype == np.float32
    assert np.max(np.abs(fast.distance - ref.distance)) < 1e-5
    assert np.max(np.abs(fast.gradient - ref.gradient)) < 1e-5
    np.testing.assert_array_equal(fast.observed, ref.observed)
    np.testing.assert_array_equal(fast.observed, mapped.known.contains(p))
    assert 0.2 < fast.observed.mean() < 0.95  # both kinds of points are in the test


def test_fused_query_follows_updates_and_other_decoders() -> None:
    m = NeuralSDFMapper(BOUNDS, dataclasses.replace(FAST, steps=2))
    p = _query_points(np.random.default_rng(8))
    before = m.query(p).distance
    m.integrate(SCENE.scan(CAMERA, orbit_poses(4)[0]))
    after, ref = m.query(p), m._query_torch(p.astype(np.float32))
    assert np.max(np.abs(after.distance - before)) > 1e-3  # it sees the trained weights
    assert np.max(np.abs(after.distance - ref.distance)) < 1e-5
    assert np.max(np.abs(after.gradient - ref.gradient)) < 1e-5
    # two hidden layers: the torch path answers (the fused kernel covers one)
    deep = NeuralSDFMapper(BOUNDS, dataclasses.replace(FAST, hidden_layers=2))
    assert not deep._fused_query_ok()
    q = deep.query(p[:100])
    assert q.distance.shape == (100,) and np.all(np.isfinite(q.gradient))
