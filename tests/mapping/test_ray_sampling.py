"""Ray samples of one scan: counts, bounds that hold against the exact SDF, map frame."""

from __future__ import annotations

import numpy as np
from analytic_scene import BOX_A, CAMERA, ROOM, BoxScene, orbit_poses

from neuro_nodes.mapping.ray_sampling import RaySamples, sample_scan

SCENE = BoxScene(ROOM, (BOX_A,))


def _samples(seed: int = 0) -> tuple[RaySamples, np.ndarray]:
    T = orbit_poses(8)[0]
    scan = SCENE.scan(CAMERA, T)
    s = sample_scan(scan.points, T, np.random.default_rng(seed), n_rays=300, n_near=4,
                    n_free=4, truncation_m=0.15, behind_m=0.1, min_range_m=0.05)
    return s, SCENE.sdf(s.points.astype(float))


def test_counts_and_dtypes() -> None:
    s, _ = _samples()
    assert len(s) == 300 * 9 and s.free.sum() == 300 * 4
    assert s.points.dtype == np.float32 and s.target.dtype == np.float32


def test_free_bounds_are_upper_bounds_and_free() -> None:
    s, d = _samples()
    assert np.all(d[s.free] > 0)
    assert np.all(s.target[s.free] >= d[s.free] - 1e-3)


def test_near_targets_are_close_to_the_true_distance() -> None:
    s, d = _samples()
    near = ~s.free
    err = np.abs(s.target[near] - d[near])
    assert np.median(err) < 0.01 and np.mean(err) < 0.03
    # targets are signed: in front positive, behind negative
    assert np.mean(np.sign(s.target[near & (np.abs(d) > 0.02)])
                   == np.sign(d[near & (np.abs(d) > 0.02)])) > 0.95


def test_seeded_and_empty() -> None:
    a, _ = _samples(1)
    b, _ = _samples(1)
    np.testing.assert_array_equal(a.points, b.points)
    empty = sample_scan(np.zeros((0, 3)), np.eye(4), np.random.default_rng(0), n_rays=10,
                        n_near=2, n_free=2, truncation_m=0.1, behind_m=0.1, min_range_m=0.1)
    assert len(empty) == 0
