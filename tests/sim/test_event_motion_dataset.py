"""The simulated egomotion/flow dataset: ground truth consistent, splits disjoint, cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.datasets.event_motion import (
    EXTRA_TRAIN_SPECS,
    TEST_SPECS,
    TRAIN_SPECS,
    VAL_SPECS,
    SequenceSpec,
    _scene,
    make_sequence,
    optical_twist,
    windows,
)

TINY = SequenceSpec(motion="6dof", texture="checker", speed=1.5, duration_s=0.1, seed=3)


@pytest.fixture(scope="module")
def seq(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return make_sequence(TINY, tmp_path_factory.mktemp("em"))


def motion_field(omega: np.ndarray, vel: np.ndarray, depth: np.ndarray,
                 fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """Textbook motion field of a static scene: X' = -v - omega x X, flow = d(X/Z)/dt."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (u - cx) / fx, (v - cy) / fy
    pts = np.stack([x * depth, y * depth, depth], axis=-1)
    dot = -vel - np.cross(omega, pts)
    fu = fx * (dot[..., 0] - x * dot[..., 2]) / depth
    fv = fy * (dot[..., 1] - y * dot[..., 2]) / depth
    return np.stack([fu, fv])


def test_flow_matches_motion_field_of_optical_twist(seq) -> None:  # noqa: ANN001
    c = seq.camera
    assert seq.flow.shape == (len(seq.flow_t_s), 2, c.height, c.width)
    assert np.abs(seq.gt_velocity).max() > 0.1 and np.abs(seq.gt_omega).max() > 0.1
    for i, t in enumerate(seq.flow_t_s):
        om, vel = seq.omega_at(t), seq.velocity_at(t)
        want = motion_field(om, vel, seq.depth[i].astype(np.float64), c.fx, c.fy, c.cx, c.cy)
        got = seq.flow[i]
        ok = np.isfinite(got[0])
        assert ok.mean() > 0.99
        err = np.abs(got - want)[:, ok]
        scale = np.abs(want)[:, ok].max()
        assert scale > 20.0  # really moving (px/s)
        assert err.max() < 1e-3 * scale + 1e-3, (i, err.max(), scale)
    # a wrong frame convention (link axes instead of optical) would not match
    om_link = seq.gt_omega[:, [2, 0, 1]] * np.array([1, -1, -1])
    assert not np.allclose(om_link, seq.gt_omega, atol=1e-2)


def test_optical_twist_equals_world_camera_state() -> None:
    import sim.gl

    sim.gl.configure()
    from sim.ground_truth.poses import camera_state
    from sim.scenes.camera_rig import CAMERA
    from sim.world import SimWorld

    scene, traj = _scene(TINY)
    world = SimWorld(scene)
    ts = np.array([0.0, 0.05, 0.1])
    om, vel = optical_twist(traj, ts)
    for k, t in enumerate(ts):
        world.step_until(float(t))
        st = camera_state(world, CAMERA)
        np.testing.assert_allclose(st.twist_optical.angular, om[k], atol=1e-9)
        np.testing.assert_allclose(st.twist_optical.linear, vel[k], atol=1e-9)


def test_events_imu_and_windows(seq) -> None:  # noqa: ANN001
    ev = seq.events
    assert len(ev) > 60000 and ev.is_sorted()
    assert seq.imu is not None
    # gyro = truth + small noise and bias
    err = seq.imu.gyro - seq.gt_omega
    assert 0.0 < np.abs(err).mean() < 0.02
    ws = list(windows(seq, n_events=30000))
    assert len(ws) == len(ev) // 30000
    for w in ws:
        assert len(w.events) == 30000 and w.t0_s <= w.t_ref_s <= w.t1_s
        assert w.imu is not None and np.all((w.imu.t_s >= w.t0_s) & (w.imu.t_s <= w.t1_s))
    assert len(list(windows(seq, 30000, stride=15000))) == (len(ev) - 30000) // 15000 + 1


def test_cache_round_trip(seq, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: ANN001
    cache = tmp_path_factory.getbasetemp()
    again = make_sequence(TINY, next(cache.glob("em*")))
    assert again.events.equals(seq.events)
    np.testing.assert_array_equal(again.flow, seq.flow)
    np.testing.assert_array_equal(again.imu.gyro, seq.imu.gyro)
    assert again.camera == seq.camera
    other = dataclasses.replace(TINY, seed=4)
    assert other.key() != TINY.key()


def test_splits_disjoint_and_cover_motions() -> None:
    train_seeds = {s.seed for s in TRAIN_SPECS}
    test_seeds = {s.seed for s in TEST_SPECS}
    assert not train_seeds & test_seeds
    assert not {s.texture for s in TRAIN_SPECS} & {s.texture for s in TEST_SPECS}
    assert min(train_seeds) >= 100
    for split in (TRAIN_SPECS, TEST_SPECS):
        assert {(s.motion, s.speed) for s in split} == {
            (m, v) for m in ("rotation", "translation", "6dof") for v in (1.0, 2.0)}


def test_learning_splits_keep_off_the_test_split() -> None:
    # the test split is fixed: these names are what every reported number was measured on
    assert [s.name for s in TEST_SPECS] == [
        "rotation-grid-x1-s0", "rotation-speckle-x2-s1", "translation-grid-x1-s2",
        "translation-speckle-x2-s3", "6dof-grid-x1-s4", "6dof-speckle-x2-s5"]
    test_tex = {s.texture for s in TEST_SPECS}
    seeds = [s.seed for s in (*TRAIN_SPECS, *EXTRA_TRAIN_SPECS, *VAL_SPECS)]
    assert len(seeds) == len(set(seeds))  # train, extra train and validation disjoint
    for split in (EXTRA_TRAIN_SPECS, VAL_SPECS):
        assert all(s.seed >= 1000 for s in split)
        assert not {s.texture for s in split} & test_tex
        assert {s.motion for s in split} == {"rotation", "translation", "6dof"}
    assert {(s.motion, s.speed) for s in VAL_SPECS} == {(s.motion, s.speed) for s in TEST_SPECS}
    assert len(EXTRA_TRAIN_SPECS) == 30


def test_bad_spec_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="SequenceSpec.motion"):
        SequenceSpec(motion="spin")
    with pytest.raises(ValueError, match="SequenceSpec.texture"):
        SequenceSpec(texture="plaid")
