"""CMax baseline on short simulated sequences (small sensor, cached per test module)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neuro_nodes.perception.cmax import CMaxEstimator, CMaxParams, PatchGrid, rotational_flow
from neuro_nodes.perception.metrics import event_mask, flow_errors
from neuro_nodes.perception.registry import METHODS, make_estimator
from sim.datasets.event_motion import SequenceSpec, make_sequence, windows

SMALL = dict(duration_s=0.15)


@pytest.fixture(scope="module", autouse=True)
def one_thread():  # noqa: ANN201 - two torch threads contend on a 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    spec = SequenceSpec(motion="rotation", texture="checker", speed=2.0, seed=7, **SMALL)
    return make_sequence(spec, tmp_path_factory.mktemp("cmax"))


@pytest.fixture(scope="module")
def translation(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    spec = SequenceSpec(motion="translation", texture="checker", speed=2.0, seed=8, **SMALL)
    return make_sequence(spec, tmp_path_factory.mktemp("cmax_t"))


@pytest.mark.parametrize("objective", ["variance", "gradient"])
def test_rotation_recovers_angular_velocity(rotation, objective: str) -> None:  # noqa: ANN001
    ws = list(windows(rotation, 30000))
    assert len(ws) >= 2
    est = CMaxEstimator(rotation.camera, CMaxParams(objective=objective, estimate_flow=False))
    for w in ws[:2]:
        e = est.process(w)
        gt = rotation.omega_at(w.t_ref_s)
        assert np.linalg.norm(gt) > 0.5
        assert np.linalg.norm(e.omega - gt) < 0.1 * np.linalg.norm(gt), (e.omega, gt)
        assert e.info["contrast_gain"] > 1.05 and e.flow is None and e.velocity is None
        assert e.compute_s > 0


def test_warm_start_is_kept_and_reset(rotation) -> None:  # noqa: ANN001
    ws = list(windows(rotation, 30000))
    est = CMaxEstimator(rotation.camera, CMaxParams(estimate_flow=False))
    first = est.process(ws[0])
    warm = est.process(ws[1])
    est.reset()
    cold = est.process(ws[1])
    gt = rotation.omega_at(ws[1].t_ref_s)
    # the warm start begins near the answer: no more evaluations, no worse result
    assert warm.info["evaluations"] <= cold.info["evaluations"]
    assert np.linalg.norm(warm.omega - gt) <= np.linalg.norm(cold.omega - gt) + 0.02
    assert first.omega is not None


def test_patch_flow_beats_zero_and_marks_empty_patches(translation) -> None:  # noqa: ANN001
    seq = translation
    w = list(windows(seq, 30000))[1]
    e = CMaxEstimator(seq.camera).process(w)
    c = seq.camera
    assert e.flow.shape == (2, c.height, c.width)
    gt = seq.flow_at(w.t_ref_s)
    mask = event_mask(w.events)
    err = flow_errors(e.flow, gt, mask, 1, seq.frame_period_s)
    zero = flow_errors(np.zeros_like(gt), gt, mask, 1, seq.frame_period_s)
    assert err.aee < 0.5 * zero.aee, (err.aee, zero.aee)
    # a patch without events has no flow
    grid = PatchGrid(c.width, c.height, 20)
    counts = np.bincount(grid.index(w.events.x, w.events.y), minlength=grid.count)
    empty = np.flatnonzero(counts < CMaxParams().min_patch_events)
    dense_nan = np.isnan(grid.dense(np.where(
        (counts < CMaxParams().min_patch_events)[:, None], np.nan, np.zeros((grid.count, 2)))))
    assert np.array_equal(np.isnan(e.flow), dense_nan)
    assert empty.size == 0 or np.isnan(e.flow).any()


def test_rotational_flow_is_the_motion_field() -> None:
    from neuro_nodes.perception.types import PinholeCamera

    cam = PinholeCamera(200.0, 200.0, 100.0, 80.0, 201, 161)
    # yaw about the optical y axis (pointing down): points move towards -x at the centre
    f = rotational_flow(np.array([0.0, 1.0, 0.0]), cam, np.array([100.0]), np.array([80.0]))
    np.testing.assert_allclose(f[:, 0], [-200.0, 0.0])
    # roll about z: a point right of the centre moves down (+y)
    f = rotational_flow(np.array([0.0, 0.0, 1.0]), cam, np.array([150.0]), np.array([80.0]))
    np.testing.assert_allclose(f[:, 0], [0.0, -50.0 * 1.0], atol=1e-9)


def test_too_few_events_and_bad_params(rotation) -> None:  # noqa: ANN001
    w = next(iter(windows(rotation, 30000)))
    tiny = dataclasses.replace(w, events=w.events[:5])
    e = CMaxEstimator(rotation.camera).process(tiny)
    assert e.omega is None and e.flow is None
    from neuro_nodes.core.params import validated

    with pytest.raises(ValueError, match="objective"):
        validated(CMaxParams(objective="entropy"))


def test_registered() -> None:
    assert "cmax" in METHODS
    from neuro_nodes.perception.types import PinholeCamera

    est = make_estimator("cmax", PinholeCamera.from_fovy(64, 48, 60.0))
    assert est.name == "cmax"
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        make_estimator("nope", PinholeCamera.from_fovy(64, 48, 60.0))
