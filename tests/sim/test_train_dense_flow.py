"""Dense-flow training data: interpolated targets, mirroring that flips the flow's sign,
the loss mask, and event dropout that leaves the targets alone."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.dense_flow import (
    VALID_BINS,
    DenseFlowConfig,
    active_cells,
    coarse_flow,
)
from neuro_nodes.perception.types import PinholeCamera
from sim.train.dense_flow import (
    TrainConfig,
    interpolated_targets,
    prepare,
    recent_cells,
    sample,
)

CFG = DenseFlowConfig()
W, H = CFG.width, CFG.height


def ramp_sequence() -> SimpleNamespace:
    """Events everywhere in the left third only; flow u = x (px/s), v = 10 at t = 0 and
    twice that at the second frame (0.1 s)."""
    rng = np.random.default_rng(0)
    n = 20000
    t = np.sort(rng.integers(0, 100_000_000, n))
    x = rng.integers(0, W // 3, n)
    y = rng.integers(0, H, n)
    ev = EventArray(t, x, y, rng.integers(0, 2, n), W, H)
    xs = np.broadcast_to(np.arange(W, dtype=np.float32), (H, W))
    f0 = np.stack([xs, np.full((H, W), 10.0, np.float32)])
    return SimpleNamespace(name="ramp", events=ev, camera=PinholeCamera.from_fovy(W, H, 60.0),
                           flow_t_s=np.array([0.0, 0.1]), flow=np.stack([f0, 2.0 * f0]))


def test_interpolated_targets_are_linear_and_keep_nan() -> None:
    c = np.zeros((2, 2, 1, 2), np.float32)
    c[1] = 4.0
    c[1, :, 0, 1] = np.nan
    out = interpolated_targets(np.array([0.0, 0.1]), c, np.array([0.0, 0.025, 0.1]))
    assert np.allclose(out[:, 0, 0, 0], [0.0, 1.0, 4.0])
    assert np.isnan(out[1:, :, 0, 1]).all()


def test_mirrored_view_flips_events_and_the_flow_sign() -> None:
    seq = ramp_sequence()
    tc = TrainConfig(augment="all", keep_min=1.0)
    clip = prepare(seq, CFG, tc)
    assert clip.steps[0] == round(tc.warmup_s / CFG.bin_s) - 1  # first step ends at warm-up
    t_end = (clip.steps + 1) * CFG.bin_s
    want = coarse_flow(seq.flow[0], CFG)[None] * (1.0 + t_end / 0.1)[:, None, None, None]
    np.testing.assert_allclose(clip.targets[(False, False)], want, rtol=1e-5)
    seen = {}
    for s in range(40):  # draws of the augmentation until every mirroring came up
        counts, tgt, mask = sample(clip, CFG, tc, np.random.default_rng(s))
        half = counts.shape[-1] // 2
        left = counts[..., :half].sum() > counts[..., half:].sum()
        up = tgt[:, 1].sum() > 0
        seen[(not left, not up)] = (counts, tgt, mask)
    assert set(seen) == {(False, False), (True, False), (False, True), (True, True)}
    counts, tgt, mask = seen[(True, False)]  # mirrored left-right: events on the right
    assert mask[:, :, -5:].all() and not mask[:, :, :5].any()
    # flow at the mirrored cell = minus the flow there before (u = x becomes u = x - W + 1)
    m = mask[0].copy()
    m[:, -1] = False  # the last cell's centre (345.5 px) is outside the image
    cx = CFG.cell_centre(np.arange(CFG.output_shape[2]))
    assert m.sum() > 100
    assert np.allclose(tgt[0, 0][m], np.broadcast_to(cx - (W - 1), m.shape)[m]
                       * (1.0 + t_end[0] / 0.1), atol=1e-3)
    assert np.allclose(seen[(False, True)][1][:, 1][seen[(False, True)][2]] < 0, True)


def test_dropout_changes_counts_not_targets_and_mask_is_recent_events() -> None:
    seq = ramp_sequence()
    tc = TrainConfig(augment="all", keep_min=0.3)
    clip = prepare(seq, CFG, tc)
    full, tgt, mask = sample(clip, CFG, TrainConfig(augment="none"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="prepared without mirrored targets"):
        sample(prepare(seq, CFG, TrainConfig(augment="none")), CFG, tc, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    sparse = [sample(clip, CFG, tc, rng) for _ in range(8)]
    sums = [np.expm1(s[0]).sum() / np.expm1(full).sum() for s in sparse]
    assert min(sums) < 0.8 and max(sums) <= 1.0 + 1e-6
    for _, t, _ in sparse:  # the targets are those of the mirroring drawn, whatever dropped
        assert any(np.allclose(t, np.nan_to_num(v)) for v in clip.targets.values())
    want = np.stack([active_cells(full[max(0, b - VALID_BINS + 1): b + 1], CFG)
                     for b in clip.steps])
    np.testing.assert_array_equal(recent_cells(full, clip.steps, CFG), want)
    np.testing.assert_array_equal(mask, want & np.isfinite(clip.targets[(False, False)]).all(1))


def test_prepare_refuses_a_camera_of_another_size() -> None:
    seq = ramp_sequence()
    with pytest.raises(ValueError, match="camera 346x260, model 173x130"):
        prepare(seq, dataclasses.replace(CFG, width=173, height=130), TrainConfig())
