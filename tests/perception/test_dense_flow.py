"""Temporally dense SNN flow: encoding, decoding, NIR on the accelerator = torch, the
estimator's binning across windows, the shipped model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from neuro_nodes.accel import AccelModel
from neuro_nodes.events.emulator import EmulatorParams, EventEmulator
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.texture_scene import TextureScene, TextureSceneParams
from neuro_nodes.perception.dense_flow import (
    DenseFlowConfig,
    DenseFlowSNNEstimator,
    active_cells,
    build_network,
    coarse_flow,
    default_model_path,
    encode_bins,
    load_config,
    save_model,
    upsample_flow,
)
from neuro_nodes.perception.types import EventWindow, PinholeCamera
from neuro_nodes.perception.windows import fixed_count_windows

CFG = DenseFlowConfig()
LINEAR = dataclasses.replace(CFG, encoding="linear", input_gain=0.25)
CAM = PinholeCamera.from_fovy(346, 260, 60.0)


def texture_sequence(vx: float, vy: float, duration_s: float = 0.3, seed: int = 3,
                     ) -> SimpleNamespace:
    """A textured plane translating at (vx, vy) px/s: events and its exact (constant) flow."""
    scene = TextureScene(TextureSceneParams(velocity_x=vx, velocity_y=vy, seed=seed,
                                            texture_scale=4.0))
    emu = EventEmulator(346, 260, EmulatorParams(seed=seed))
    chunks = [emu.feed(scene.frame(t), round(t * 1e9))
              for t in np.arange(0.0, duration_s + 1e-9, 1e-3)]
    flow_t = np.arange(0.0, duration_s + 1e-9, 1.0 / 30)
    return SimpleNamespace(events=EventArray.concatenate(chunks), camera=CAM, name="tex",
                           flow_t_s=flow_t, frame_period_s=1.0 / 30,
                           flow=np.stack([scene.flow(t) for t in flow_t]))


@pytest.fixture(scope="module")
def translating() -> SimpleNamespace:
    return texture_sequence(150.0, -60.0)


def test_encode_bins_counts_per_polarity_bin_and_block() -> None:
    t = np.array([0, 9_999_999, 10_000_000, 25_000_000, 35_000_000, -1], np.int64)
    x = np.array([0, 3, 4, 345, 10, 0])
    y = np.array([0, 3, 0, 259, 10, 0])
    p = np.array([1, 1, 0, 1, 1, 1])
    c = encode_bins(t, x, y, p, 0, 3, LINEAR) / LINEAR.input_gain
    assert c.shape == (3, 2, 65, 87)
    assert c[0, 1, 0, 0] == 2  # (0,0) and (3,3) share the first 4x4 block, bin 0, ON
    assert c[1, 0, 0, 1] == 1  # t = 10 ms opens bin 1; x = 4 is the second block; OFF
    assert c[2, 1, 64, 86] == 1  # the last pixel lands in the last (partial) block
    assert c.sum() == 4  # t = 35 ms (bin 3) and t < 0 are outside the 3 bins
    # the default encoding is gain * log(1 + n) of the same counts
    assert np.allclose(encode_bins(t, x, y, p, 0, 3, CFG), CFG.input_gain * np.log1p(c))
    assert CFG.encoding == "log"
    with pytest.raises(ValueError, match="DenseFlowConfig.encoding"):
        DenseFlowConfig(encoding="sqrt")


def test_coarse_flow_averages_finite_pixels_per_cell() -> None:
    flow = np.empty((2, 260, 346), np.float32)
    flow[0], flow[1] = 30.0, -7.0
    flow[:, :20, :20] = np.nan  # cell (0, 0) owns pixels < 9.5 on both axes: all NaN
    c = coarse_flow(flow, CFG)
    assert CFG.cell_px == 16 and c.shape == CFG.output_shape == (2, 17, 22)
    assert np.isnan(c[:, 0, 0]).all() and np.isfinite(c[:, 1, 1]).all()  # 9.5-25.5: partly
    assert np.allclose(c[0][~np.isnan(c[0])], 30.0) and np.allclose(c[1, 5, 5], -7.0)
    fine = coarse_flow(flow, dataclasses.replace(CFG, downsample=1))  # 8 px cells
    assert fine.shape == (2, 33, 44)
    assert np.isnan(fine[:, 1, 1]).all() and np.isfinite(fine[:, 2, 2]).all()  # 13.5 px
    # a stack of frames gives the stack of cells (the training targets)
    ramp = np.stack([flow, 2.0 * flow, flow + 1.0])
    stack = coarse_flow(ramp, CFG)
    assert stack.shape == (3, 2, 17, 22)
    for f in range(3):
        np.testing.assert_allclose(stack[f], coarse_flow(ramp[f], CFG), equal_nan=True)


def test_upsample_flow_is_bilinear_between_cell_centres_and_rescales() -> None:
    _, ho, wo = CFG.output_shape
    ii, jj = np.mgrid[0:ho, 0:wo].astype(np.float64)
    coarse = np.stack([CFG.cell_centre(jj), 2.0 * CFG.cell_centre(ii)])  # u = x, v = 2y
    up = upsample_flow(coarse, CFG, 346, 260)
    xs = np.arange(346.0)
    inner = (xs >= CFG.cell_centre(0)) & (xs <= CFG.cell_centre(wo - 1))
    assert np.allclose(up[0, 100, inner], xs[inner], atol=1e-3)
    assert np.allclose(up[1, 120, 50], 240.0, atol=1e-3)
    half = upsample_flow(np.ones((2, ho, wo)), CFG, 173, 130)  # half-size camera
    assert half.shape == (2, 130, 173) and np.allclose(half, 0.5)
    valid = np.ones((ho, wo), bool)
    valid[3, 4] = False
    masked = upsample_flow(np.ones((2, ho, wo)), CFG, 346, 260, valid)
    assert np.isnan(masked[:, int(CFG.cell_centre(3)), int(CFG.cell_centre(4))]).all()
    assert np.isfinite(masked[:, 0, 0]).all()


def test_active_cells_marks_cells_with_events() -> None:
    counts = np.zeros((2, 2, 65, 87), np.float32)
    counts[1, 0, 40, 61] = 1.0  # pooled (40, 61) -> cell (10, 15) of 16 px (61/4 rounds down)
    act = active_cells(counts, CFG)
    assert act.shape == (17, 22) and act.sum() == 1 and act[10, 15]
    fine = active_cells(counts, dataclasses.replace(CFG, downsample=1))  # 8 px cells
    assert fine.shape == (33, 44) and fine.sum() == 1 and fine[20, 31]  # 61/2 rounds up


def _spiking_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_network(CFG)
    with torch.no_grad():  # livelier than the default init so every layer spikes
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.mul_(3.0)
    return net


def test_accelerator_output_equals_the_torch_model(translating: SimpleNamespace,
                                                   tmp_path: Path) -> None:
    ev = translating.events
    counts = encode_bins(ev.t, ev.x, ev.y, ev.p, 0, 12, CFG)
    x = torch.from_numpy(counts[:, None])
    net = _spiking_net()
    with torch.no_grad():
        ref = net(x)
    save_model(net, CFG, tmp_path / "m.nir", {"training": {"command": "test"}})
    model = AccelModel(tmp_path / "m.nir", CFG.bin_s, "event")
    out = torch.stack([model.step(x[k]) for k in range(len(x))])
    c = model.counters()
    assert c.layers["3.cell"].spikes > 0 and c.sops > 0  # the recurrent layer is active
    assert torch.allclose(out, ref, atol=1e-4), float((out - ref).abs().max())
    _, meta = load_config(tmp_path / "m.nir")
    assert meta["input_shape"] == [2, 65, 87] and meta["output_shape"] == [2, 17, 22]


def test_shipped_model_event_backend_equals_dense_reference(
        translating: SimpleNamespace) -> None:
    ev = translating.events
    counts = encode_bins(ev.t, ev.x, ev.y, ev.p, 0, 10, CFG)[:, None]
    ev_out = AccelModel(default_model_path(), None, "event").run(counts)
    dense = AccelModel(default_model_path(), None, "dense").run(counts)
    assert torch.allclose(ev_out, dense, atol=1e-4)


def test_estimator_bins_across_windows_like_one_pass(translating: SimpleNamespace) -> None:
    ev = translating.events
    est = DenseFlowSNNEstimator(CAM)
    wins = list(fixed_count_windows(ev, CAM, 20000, stride=15000))  # overlapping windows
    results = [est.process(w) for w in wins]
    n_steps = sum(r.info["steps"] for r in results)
    assert n_steps == int(wins[-1].t1_s / CFG.bin_s)  # every complete bin run once
    # the same stream in one window gives the same per-step flows
    one = DenseFlowSNNEstimator(CAM)
    one.process(EventWindow(ev, CAM, ev.t[0] * 1e-9, wins[-1].t1_s))
    a, b = list(est.steps)[-5:], list(one.steps)[-5:]
    for (ta, fa, _), (tb, fb, _) in zip(a, b, strict=True):
        assert ta == pytest.approx(tb) and np.allclose(fa, fb, atol=1e-4)
    r = results[-1]
    assert r.flow is not None and r.flow.shape == (2, 260, 346)
    assert abs(r.info["step_t_s"] - r.t_ref_s) <= CFG.bin_s
    assert r.info.get("sops_per_step", 1.0) >= 0.0
    est.reset()
    assert not est.steps


def test_estimator_gives_nan_where_no_events_and_resets_after_a_gap() -> None:
    t = np.arange(0, 50_000_000, 10_000, dtype=np.int64)  # 50 ms of events in one corner
    n = len(t)
    ev = EventArray(t, np.full(n, 5), np.full(n, 5), np.arange(n) % 2, 346, 260)
    est = DenseFlowSNNEstimator(CAM)
    r = est.process(EventWindow(ev, CAM, 0.0, 0.05))
    assert np.isfinite(r.flow[:, 0, 0]).all() and np.isnan(r.flow[:, 200, 300]).all()
    late = EventArray(t + 5_000_000_000, ev.x, ev.y, ev.p, 346, 260)
    half = late[late.t < 5_005_000_000]  # half a bin after the gap: nothing to say yet
    assert est.process(EventWindow(half, CAM, 5.0, 5.005)).flow is None  # not 5 s old flow
    r2 = est.process(EventWindow(late[len(half):], CAM, 5.005, 5.05))
    assert r2.info["steps"] == 5  # restarted at the gap, not 500 empty bins
    # the 100 Hz path: one bin of events in, full-resolution flow out
    one = est.step_events(late[late.t < 5_010_000_000])
    assert one.shape == (2, 260, 346) and np.isfinite(one[:, 0, 0]).all()
    assert np.isnan(one[:, 200, 300]).all()


def test_shipped_model_beats_zero_flow_on_the_held_out_train_sequence(
        tmp_path: Path) -> None:
    from sim.datasets.event_motion import VAL_SPECS, make_sequence, quick

    _, meta = load_config(default_model_path())
    spec = next(s for s in VAL_SPECS if s.name == meta["training"]["val_sequences"][0])
    seq = make_sequence(quick(spec, 0.25), cache_dir=tmp_path)  # never trained on
    est = DenseFlowSNNEstimator(seq.camera)
    errs, zero = [], []
    for w in fixed_count_windows(seq.events, seq.camera, 10000):
        r = est.process(w)
        if w.t_ref_s < 0.1 or r.flow is None:  # let the network warm up
            continue
        gt = seq.flow_at(w.t_ref_s)
        on_events = np.zeros(gt.shape[1:], bool)
        on_events[w.events.y, w.events.x] = True
        ok = np.isfinite(r.flow).all(0) & np.isfinite(gt).all(0) & on_events
        errs.append(np.linalg.norm(r.flow - gt, axis=0)[ok].mean())
        zero.append(np.linalg.norm(gt, axis=0)[ok].mean())
    assert len(errs) >= 5 and np.mean(errs) < 0.7 * np.mean(zero), (np.mean(errs), np.mean(zero))


def test_bad_model_json_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.nir"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match=r"m\.json: missing"):
        load_config(bad)
    bad.with_suffix(".json").write_text("{not json")
    with pytest.raises(ValueError, match=r"m\.json: not valid JSON"):
        load_config(bad)
    bad.with_suffix(".json").write_text(json.dumps({"config": {"pool": 4, "nope": 1}}))
    with pytest.raises(ValueError, match=r"m\.json: field 'config'"):
        DenseFlowSNNEstimator(CAM, bad)
    bad.with_suffix(".json").write_text(json.dumps({"config": {"encoding": "sqrt"}}))
    with pytest.raises(ValueError, match=r"m\.json: field 'config'.*encoding"):
        load_config(bad)
