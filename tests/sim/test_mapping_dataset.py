"""Simulated mapping sequences: determinism, the pose convention, noise, the moved object."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from sim.datasets import mapping as D

SHORT = dataclasses.replace(D.TEST_SPECS[0], n_frames=8)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mapping_cache")


@pytest.fixture(scope="module")
def seq(cache: Path) -> D.MappingSequence:
    return D.make_sequence(SHORT, cache)


@pytest.fixture(scope="module")
def moving(cache: Path) -> D.MappingSequence:
    return D.make_sequence(D.MOVING_SPEC, cache)


def test_deterministic_and_cached(seq: D.MappingSequence, cache: Path) -> None:
    again = D.generate(SHORT)
    np.testing.assert_array_equal(seq.depth, again.depth)
    np.testing.assert_array_equal(seq.T_map_sensor, again.T_map_sensor)
    loaded = D.make_sequence(SHORT, cache)  # from the cache file now
    np.testing.assert_array_equal(loaded.depth, seq.depth)
    np.testing.assert_array_equal(seq.noisy_depth(3), loaded.noisy_depth(3))
    assert not np.array_equal(seq.noisy_depth(3), seq.noisy_depth(4)[:, ::-1])
    assert seq.depth.shape == (8, 260, 346) and np.all(np.isfinite(seq.depth))
    np.testing.assert_allclose(seq.stamps_s, np.arange(8) / 10.0)


def test_splits_are_disjoint() -> None:
    test_rooms = {s.room_seed for s in (*D.TEST_SPECS, D.MOVING_SPEC)}
    tune_rooms = {s.room_seed for s in (*D.TUNE_SPECS, D.TUNE_MOVING_SPEC)}
    assert test_rooms == {0, 1, 2} and min(tune_rooms) >= 100
    assert len({s.name for s in D.ALL_SPECS}) == len(D.ALL_SPECS)
    assert D.spec_by_name("room-s1") == D.TEST_SPECS[1]
    with pytest.raises(ValueError, match="unknown mapping sequence"):
        D.spec_by_name("room-s9")


def test_backprojected_depth_lies_on_the_true_surface(seq: D.MappingSequence) -> None:
    sdf = seq.scene_sdf()
    for k in (0, 7):
        pts = seq.scan(k, noise=False).points_in_map()[::7]
        d = np.abs(sdf.distance(pts))
        assert len(pts) > 10000
        assert np.percentile(d, 99) < 1e-3 and d.max() < 5e-3  # float32 depth buffer
    noisy = seq.scan(3).points_in_map()[::7]
    d = np.abs(sdf.distance(noisy))
    assert 1e-3 < np.mean(d) < 2e-2  # the default noise: sigma = 0.001 z^2, 1 mm steps


def test_optical_frame_follows_the_robot(seq: D.MappingSequence) -> None:
    for k in range(len(seq)):
        T = seq.T_map_sensor[k]
        (x, y), yaw = D.path_pose(seq.spec, k / seq.spec.depth_hz)
        np.testing.assert_allclose(T[:3, :3].T @ T[:3, :3], np.eye(3), atol=1e-9)
        np.testing.assert_allclose(T[:3, 2], [math.cos(yaw), math.sin(yaw), 0.0], atol=1e-9)
        np.testing.assert_allclose(T[:3, 1], [0.0, 0.0, -1.0], atol=1e-9)  # y down
        # camera_link at (0.17, 0, 0.16) on a base at wheel-axle height 0.06
        np.testing.assert_allclose(T[:3, 3], [x + 0.17 * math.cos(yaw),
                                              y + 0.17 * math.sin(yaw), 0.22], atol=1e-9)


def test_noise_has_its_specified_size(seq: D.MappingSequence) -> None:
    clean = seq.depth[2].astype(np.float64)
    res = seq.noisy_depth(2) - clean
    z = clean.ravel()
    near = z < 2.0
    ratio = np.std(res.ravel()[~near]) / np.sqrt(np.mean((1e-3 * z[~near] ** 2) ** 2))
    assert 0.9 < ratio < 1.1
    q = seq.noisy_depth(2) / 1e-3
    np.testing.assert_allclose(q, np.round(q), atol=2e-3)  # 1 mm quantisation
    quiet = dataclasses.replace(seq, spec=dataclasses.replace(seq.spec, noise_a=0.0,
                                                               noise_quant_m=0.0))
    np.testing.assert_array_equal(quiet.noisy_depth(2), seq.depth[2])
    assert quiet.spec.key() == seq.spec.key()  # noise does not re-render


def seen_through(seq: D.MappingSequence, k: int, pts: np.ndarray) -> float:
    """Share of map points whose pixel in frame k measures a surface >= 10 cm beyond them."""
    T = seq.T_map_sensor[k]
    p = (pts - T[:3, 3]) @ T[:3, :3]
    c = seq.camera
    u = np.rint(c.fx * p[:, 0] / p[:, 2] + c.cx).astype(int)
    v = np.rint(c.fy * p[:, 1] / p[:, 2] + c.cy).astype(int)
    ok = (p[:, 2] > 0) & (u >= 0) & (u < c.width) & (v >= 0) & (v < c.height)
    return float(np.mean(ok & (seq.depth[k][v.clip(0, c.height - 1), u.clip(0, c.width - 1)]
                               > p[:, 2] + 0.1)))


def test_moving_object_really_moved(moving: D.MappingSequence, cache: Path) -> None:
    mv = moving.moved
    assert mv is not None and mv.body.startswith("obj_")
    n = len(moving)
    assert n // 2 - n // 8 <= mv.move_frame <= n // 2 + n // 8
    assert np.linalg.norm(mv.offset) >= 0.5
    np.testing.assert_allclose(mv.new_box - mv.old_box, [mv.offset, mv.offset], atol=1e-9)
    before, after = moving.scene_sdf(), moving.scene_sdf(after_move=True)
    pts = mv.old_surface_points
    assert len(pts) >= 200
    assert np.abs(before.distance(pts)).max() < 0.01
    assert after.distance(pts).min() >= D.FREE_MARGIN_M
    # the frames themselves: before the move they show the old surface, after it its
    # place is seen through (the first frame after sees beyond the old points)
    k = mv.move_frame
    for frame, sdf in ((k - 1, before), (k, after), (n - 1, after)):
        p = moving.scan(frame, noise=False).points_in_map()[::11]
        assert np.abs(sdf.distance(p)).max() < 5e-3
    # against the same path in the unchanged room: identical until the move, then the
    # object's old place (and its new one) show up as different depth
    static = D.make_sequence(dataclasses.replace(moving.spec, move=False), cache)
    np.testing.assert_array_equal(static.depth[:k], moving.depth[:k])
    changed = np.abs(static.depth[k] - moving.depth[k]) > 0.1
    assert changed.sum() > 500
    # the next scans look through the old surface (so clearing is measurable in 5 updates)
    for frame in range(k, k + 5):
        assert seen_through(moving, frame, pts) > 0.5, frame
    static = D.MappingSequence(SHORT, moving.camera, moving.depth[:2],
                               moving.T_map_sensor[:2], moving.stamps_s[:2])
    with pytest.raises(ValueError, match="not a moving spec"):
        static.scene_sdf(after_move=True)


def test_bad_spec_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="path_radius"):
        D.MappingSpec(path_radius=3.0)
    with pytest.raises(ValueError, match="n_frames"):
        D.MappingSpec(n_frames=1)
    with pytest.raises(ValueError, match="move_distance"):
        D.MappingSpec(move=True, move_distance=0.2)
