"""The fusion node's pure parts: the sliding event grid, cloud preparation, the answer of every
live head, and which modalities are live."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.fusion.inputs import (
    GRID_BINS,
    GRID_HEIGHT,
    GRID_WIDTH,
    WINDOW_S,
    SlidingEventGrid,
    prepare_cloud,
)
from neuro_nodes.perception.fusion.liveness import Liveness, ModalityState, source

MS = 1_000_000  # ns


def events(t, x, y, p, width: int = 64, height: int = 48) -> EventArray:
    n = len(t)
    return EventArray(t=np.asarray(t, np.int64), x=np.broadcast_to(x, n),
                      y=np.broadcast_to(y, n), p=np.broadcast_to(p, n), width=width,
                      height=height)


def random_events(n: int, t0_ns: int, t1_ns: int, width: int, height: int,
                  seed: int = 0) -> EventArray:
    rng = np.random.default_rng(seed)
    return EventArray(t=np.sort(rng.integers(t0_ns, t1_ns + 1, n)),
                      x=rng.integers(0, width, n), y=rng.integers(0, height, n),
                      p=rng.integers(0, 2, n), width=width, height=height)


def test_defaults_are_the_training_sets_grid() -> None:
    from sim.datasets.fusion import FusionParams

    d = FusionParams()
    training = (d.bins, d.event_width, d.event_height, d.duration_s)
    assert training == (GRID_BINS, GRID_WIDTH, GRID_HEIGHT, WINDOW_S)
    g = SlidingEventGrid()
    assert g.grid().shape == (5, 2, 48, 64) and g.grid().dtype == np.uint8
    assert not g.grid().any()  # nothing pushed: zeros


def test_camera_pixels_scale_to_the_grid_cells() -> None:
    g = SlidingEventGrid()
    # a 160 x 120 camera: x * 64 // 160, y * 48 // 120
    xs = np.array([0, 2, 3, 80, 159])
    ys = np.array([0, 2, 3, 60, 119])
    g.push(events(np.full(5, 10 * MS), xs, ys, np.array([1, 1, 0, 1, 0]), 160, 120))
    grid = g.grid()
    assert int(grid.sum()) == 5
    for x, y, p in zip(xs, ys, (1, 1, 0, 1, 0), strict=True):
        assert grid[-1, p, y * 48 // 120, x * 64 // 160] >= 1
    assert grid[-1, 1, 0, 0] == 2  # (0, 0) and (2, 2) share the first cell
    assert grid[-1, 0, 1, 1] == 1 and grid[-1, 1, 24, 32] == 1 and grid[-1, 0, 47, 63] == 1
    # the camera's whole image covers the whole grid: every cell of a 128 x 96 camera
    # hit exactly 4 times
    yy, xx = np.mgrid[0:96, 0:128]
    g2 = SlidingEventGrid()
    g2.push(events(np.full(xx.size, MS), xx.ravel(), yy.ravel(), 1, 128, 96))
    np.testing.assert_array_equal(g2.grid()[-1, 1], np.full((48, 64), 4))


def test_time_bins_span_the_window_before_the_newest_event() -> None:
    g = SlidingEventGrid(window_s=0.15, bins=5)  # 30 ms bins
    newest = 1000 * MS
    t = newest - np.array([150, 149, 121, 120, 90, 61, 31, 30, 1, 0]) * MS
    g.push(events(t, 5, 7, 1))
    per_bin = g.grid()[:, 1, 7, 5]
    # [-150, -120) bin 0; [-120, -90) bin 1; ...; the newest event in the last bin
    np.testing.assert_array_equal(per_bin, [3, 1, 2, 1, 3])
    assert not g.grid()[:, 0].any()  # ON only


def test_the_grid_is_the_training_sets_binning_of_the_same_events() -> None:
    # sim.datasets.fusion: bin = floor(t * bins / duration) over (0, duration], clipped
    duration = round(WINDOW_S * 1e9)
    ev = random_events(4000, 1, duration, 64, 48, seed=3)
    ev = EventArray.concatenate([ev, events([duration], 0, 0, 0)])  # newest at duration
    expected = np.zeros((5, 2, 48, 64), np.int64)
    b = np.minimum((ev.t * 5 / duration).astype(np.int64), 4)
    np.add.at(expected, (b, ev.p.astype(int), ev.y.astype(int), ev.x.astype(int)), 1)
    g = SlidingEventGrid()
    g.push(ev)
    np.testing.assert_array_equal(g.grid(), np.minimum(expected, 255))


def test_chunks_give_the_grid_of_the_whole_stream_and_old_events_go() -> None:
    ev = random_events(20_000, 0, 600 * MS, 128, 96, seed=1)
    whole = SlidingEventGrid()
    whole.push(ev)
    chunked = SlidingEventGrid()
    for i in range(0, len(ev), 700):
        chunked.push(ev[i:i + 700])
    np.testing.assert_array_equal(chunked.grid(), whole.grid())
    # only the last 0.15 s count, and the chunks that ended before it are dropped
    assert int(whole.grid().sum()) == int(np.sum(ev.t >= ev.t[-1] - 150 * MS))
    assert len(chunked) < 0.3 * len(ev)
    # a later chunk pushes everything older than its window out
    chunked.push(events([2000 * MS], 3, 4, 0, 128, 96))
    grid = chunked.grid()
    assert int(grid.sum()) == 1 and grid[-1, 0, 2, 1] == 1 and len(chunked) == 1


def test_a_time_jump_back_or_a_new_sensor_size_starts_over() -> None:
    g = SlidingEventGrid()
    g.push(events(np.arange(10) * MS + 5000 * MS, 1, 1, 1))
    g.push(events(np.arange(3) * MS + 100 * MS, 2, 2, 0))  # a restarted stream
    assert g.restarts == 1 and int(g.grid().sum()) == 3 and g.grid()[-1, 0, 2, 2] == 3
    g.push(events([101 * MS], 0, 0, 1, 128, 96))
    assert g.restarts == 2 and int(g.grid().sum()) == 1
    # a small step back, inside the window, is kept (jitter, not a new stream)
    g.push(events([60 * MS], 0, 0, 1, 128, 96))
    assert g.restarts == 2 and int(g.grid().sum()) == 2


def test_counts_clip_at_255() -> None:
    g = SlidingEventGrid()
    g.push(events(np.full(300, MS), 1, 1, 1))
    assert g.grid()[-1, 1, 1, 1] == 255


def test_prepare_cloud_keeps_finite_points_in_range_and_subsamples_seeded() -> None:
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (1000, 3)).astype(np.float32)
    pts[::10] = np.nan
    pts[5, 2] = np.inf
    out = prepare_cloud(pts, 5000)
    assert out.dtype == np.float32 and len(out) == 1000 - 100 - 1
    assert np.isfinite(out).all()
    near = prepare_cloud(pts, 5000, max_range_m=0.8)
    assert len(near) < len(out) and (np.linalg.norm(near, axis=1) <= 0.8).all()
    np.testing.assert_array_equal(near, out[np.linalg.norm(out, axis=1) <= 0.8])
    few = prepare_cloud(pts, 100, seed=4)
    assert len(few) == 100
    np.testing.assert_array_equal(few, prepare_cloud(pts, 100, seed=4))
    assert not np.array_equal(few, prepare_cloud(pts, 100, seed=5))
    idx = [int(np.flatnonzero((out == q).all(1))[0]) for q in few]
    assert idx == sorted(idx)  # a subset, in the cloud's order
    assert prepare_cloud(np.full((5, 3), np.nan), 10).shape == (0, 3)
    with pytest.raises(ValueError, match="max_points"):
        prepare_cloud(pts, 0)


# -- every live head's answer -------------------------------------------------------------
def test_answer_is_predict_plus_the_live_heads() -> None:
    import torch

    from neuro_nodes.perception.fusion.answer import answer
    from neuro_nodes.perception.fusion.model import FusionNet, FusionNetParams

    torch.manual_seed(0)
    net = FusionNet(FusionNetParams(num_classes=4, event_channels=(4, 4, 4), cloud_stem=4,
                                    cloud_stages=(8, 8), cloud_resolution=8))
    with torch.no_grad():  # each head prefers its own class: a mixed-up head shows
        for k, layer in enumerate((net.event_head, net.cloud_head, net.fusion)):
            layer.bias[k] += 3.0
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 4, (5, 2, 48, 64)).astype(np.uint8)
    cloud = (rng.normal(0, 0.2, (300, 3)) + [0, 0, 1.5]).astype(np.float32)
    for ev, cl, head, keys in ((grid, cloud, "fused", ["events", "cloud"]),
                               (grid, None, "events", ["events"]),
                               (None, cloud, "cloud", ["cloud"])):
        want, got = net.predict(ev, cl), answer(net, ev, cl)
        assert got.prediction.head == want.head == head
        np.testing.assert_allclose(got.prediction.probabilities, want.probabilities,
                                   atol=1e-6)
        assert list(got.heads) == keys == list(want.confidences)
        for m in keys:
            assert got.prediction.confidences[m] == pytest.approx(want.confidences[m])
            assert got.heads[m].max() == pytest.approx(want.confidences[m])
            assert got.heads[m].sum() == pytest.approx(1.0, abs=1e-5)
    both = answer(net, grid, cloud)
    assert int(np.argmax(both.prediction.probabilities)) == 2  # the fusion layer's class
    assert int(np.argmax(both.heads["events"])) == 0 and int(np.argmax(both.heads["cloud"])) == 1
    np.testing.assert_allclose(both.heads["events"], answer(net, grid, None).heads["events"],
                               atol=1e-6)
    with pytest.raises(ValueError, match="missing"):
        answer(net, None, None)


# -- liveness -----------------------------------------------------------------------------
def test_modalities_go_missing_live_stale_and_the_source_says_so() -> None:
    lv = Liveness(("events", "cloud"), stale_after_s=0.5)
    s = lv.states(10.0)
    assert s == {"events": ModalityState("missing", None), "cloud": ModalityState("missing",
                                                                                    None)}
    lv.seen("events", 10.0)
    lv.seen("cloud", 10.2)
    s = lv.states(10.5)
    assert s["events"].live and s["cloud"].live and s["events"].age_s == pytest.approx(0.5)
    assert source("fused", s) == "fused (events+cloud)"
    s = lv.states(12.8)
    assert s["events"].state == "stale" and s["events"].age_s == pytest.approx(2.8)
    lv.seen("cloud", 12.7)
    s = lv.states(12.8)
    assert source("cloud", s) == "cloud only: events stale 2.8 s"
    lv2 = Liveness(("events", "cloud"), 0.5)
    lv2.seen("events", 1.0)
    assert source("events", lv2.states(1.1)) == "events only: cloud missing"
    assert lv.states(5.0)["cloud"] == ModalityState("live", 0.0)  # the clock stepped back
    with pytest.raises(KeyError, match="imu"):
        lv.seen("imu", 1.0)
