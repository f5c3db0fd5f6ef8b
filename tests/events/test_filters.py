"""Streaming event filters: exact against per-event reference loops, chunking-invariant."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.core.params import validated
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.filters import (
    BackgroundActivityFilter,
    BAParams,
    HotPixelFilter,
    HotPixelParams,
    RefractoryFilter,
    RefractoryParams,
)


def random_events(
    rng: np.random.Generator, n: int, width: int, height: int, span_ns: int, t0: int = 0
) -> EventArray:
    t = np.sort(rng.integers(t0, t0 + span_ns, n)).astype(np.int64)
    x = rng.integers(0, width, n).astype(np.uint16)
    y = rng.integers(0, height, n).astype(np.uint16)
    p = rng.integers(0, 2, n).astype(np.uint8)
    return EventArray(t, x, y, p, width, height)


def chunks(events: EventArray, rng: np.random.Generator, pieces: int) -> list[EventArray]:
    cuts = np.sort(rng.integers(0, len(events) + 1, pieces - 1))
    bounds = np.r_[0, cuts, len(events)]
    return [events[int(a):int(b)] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def run_chunked(filt, parts: list[EventArray]) -> EventArray:
    outs = [filt(c) for c in parts]
    return EventArray.concatenate(outs, parts[0].width, parts[0].height)


# ---------------------------------------------------------------------------- references
def refractory_reference(ev: EventArray, period_ns: int, per_polarity: bool, since: str):
    last: dict[tuple[int, ...], int] = {}
    keep = np.zeros(len(ev), bool)
    for i in range(len(ev)):
        t = int(ev.t[i])
        key = (int(ev.x[i]), int(ev.y[i])) + ((int(ev.p[i]),) if per_polarity else ())
        ok = key not in last or t - last[key] >= period_ns
        keep[i] = ok
        if ok or since == "any":
            last[key] = t
    return keep


def ba_reference(ev: EventArray, dt_ns: int, radius: int, self_support: bool):
    stamp: dict[tuple[int, int], int] = {}
    keep = np.zeros(len(ev), bool)
    for i in range(len(ev)):
        t, x, y = int(ev.t[i]), int(ev.x[i]), int(ev.y[i])
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if (dx, dy) == (0, 0) and not self_support:
                    continue
                q = (x + dx, y + dy)
                if q in stamp and t - stamp[q] < dt_ns:
                    keep[i] = True
        stamp[(x, y)] = t
    return keep


# ---------------------------------------------------------------------------- refractory
@pytest.mark.parametrize("since", ["passed", "any"])
@pytest.mark.parametrize("per_polarity", [False, True])
def test_refractory_matches_reference(since: str, per_polarity: bool) -> None:
    rng = np.random.default_rng(1)
    for trial in range(5):
        ev = random_events(rng, 600, 5, 4, 4_000_000)  # ~30 events per pixel
        if trial == 2:  # many equal timestamps
            ev = EventArray(ev.t // 500_000 * 500_000, ev.x, ev.y, ev.p, 5, 4)
        period_us = float(rng.choice([0.0, 50.0, 137.0, 400.0]))
        if trial == 3:  # epoch times, bursts years apart: the internal keys must split
            burst = np.sort(rng.integers(0, 6, len(ev))) * 15 * 10**16
            ev = EventArray(1_700_000_000 * 10**9 + burst + ev.t, ev.x, ev.y, ev.p, 5, 4)
        params = RefractoryParams(period_us=period_us, per_polarity=per_polarity, since=since)
        filt = RefractoryFilter(params)
        out = filt(ev)
        keep = refractory_reference(ev, round(period_us * 1000), per_polarity, since)
        assert out.equals(ev[keep]), (trial, period_us)
        assert filt.dropped == len(ev) - keep.sum() and filt.processed == len(ev)


@pytest.mark.parametrize("since", ["passed", "any"])
def test_refractory_streaming_equals_whole(since: str) -> None:
    rng = np.random.default_rng(2)
    ev = random_events(rng, 5000, 8, 6, 50_000_000)
    params = RefractoryParams(period_us=300.0, since=since)
    whole = RefractoryFilter(params)(ev)
    for pieces in (2, 7, 40):
        assert run_chunked(RefractoryFilter(params), chunks(ev, rng, pieces)).equals(whole)


def test_refractory_long_chain_on_one_pixel() -> None:
    # One pixel firing every 10 us for 20 ms: with period 35 us every 4th event passes.
    n = 2000
    t = np.arange(n, dtype=np.int64) * 10_000
    ev = EventArray(t, np.zeros(n, np.uint16), np.zeros(n, np.uint16), np.ones(n, np.uint8), 2, 2)
    out = RefractoryFilter(RefractoryParams(period_us=35.0))(ev)
    assert np.array_equal(out.t, t[::4])
    out_any = RefractoryFilter(RefractoryParams(period_us=35.0, since="any"))(ev)
    assert np.array_equal(out_any.t, t[:1])  # never quiet for a whole period again


def test_refractory_unsorted_input_is_sorted_and_reset_clears_state() -> None:
    rng = np.random.default_rng(3)
    ev = random_events(rng, 300, 4, 4, 2_000_000)
    shuffled = ev[rng.permutation(len(ev))]
    filt = RefractoryFilter(RefractoryParams(period_us=100.0))
    assert filt(shuffled).equals(RefractoryFilter(RefractoryParams(period_us=100.0))(ev))
    filt.reset()
    assert filt.dropped == 0
    assert filt(ev).equals(RefractoryFilter(RefractoryParams(period_us=100.0))(ev))


def test_time_going_backwards_restarts_the_stream() -> None:
    rng = np.random.default_rng(4)
    ev = random_events(rng, 400, 4, 4, 2_000_000)
    params = RefractoryParams(period_us=200.0)
    filt = RefractoryFilter(params)
    first = filt(ev)
    again = filt(ev)  # replay from the start: same result as a fresh filter
    assert again.equals(first)
    assert filt.dropped == 2 * (len(ev) - len(first))


# ---------------------------------------------------------------------------- background activity
@pytest.mark.parametrize(("radius", "self_support"), [(1, False), (2, False), (1, True)])
def test_ba_matches_reference(radius: int, self_support: bool) -> None:
    rng = np.random.default_rng(5)
    for _ in range(3):
        ev = random_events(rng, 500, 9, 7, 20_000_000)
        ev = EventArray(ev.t // 100_000 * 100_000, ev.x, ev.y, ev.p, 9, 7)  # some ties
        dt_us = float(rng.choice([100.0, 400.0, 1500.0]))
        filt = BackgroundActivityFilter(
            BAParams(dt_us=dt_us, radius=radius, self_support=self_support)
        )
        keep = ba_reference(ev, round(dt_us * 1000), radius, self_support)
        assert 0 < keep.sum() < len(ev)
        assert filt(ev).equals(ev[keep])
        assert filt.dropped == len(ev) - keep.sum()


def test_ba_streaming_equals_whole() -> None:
    rng = np.random.default_rng(6)
    ev = random_events(rng, 6000, 16, 12, 100_000_000)
    params = BAParams(dt_us=800.0)
    whole = BackgroundActivityFilter(params)(ev)
    assert 0 < len(whole) < len(ev)
    for pieces in (2, 9, 60):
        assert run_chunked(BackgroundActivityFilter(params), chunks(ev, rng, pieces)).equals(whole)


def test_ba_drops_isolated_noise_and_keeps_a_moving_edge() -> None:
    rng = np.random.default_rng(7)
    w, h = 64, 48
    # A vertical edge sweeping right at 1 px/ms: every pixel of the column fires as it passes.
    cols = np.arange(5, 60)
    t_edge = np.repeat(cols * 1_000_000, h) + rng.integers(0, 200_000, cols.size * h)
    x_edge = np.repeat(cols, h)
    y_edge = np.tile(np.arange(h), cols.size)
    # Sparse noise: ~0.4 events per pixel over 60 ms, spread uniformly.
    n_noise = 1200
    t_noise = rng.integers(0, 60_000_000, n_noise)
    x_noise = rng.integers(0, w, n_noise)
    y_noise = rng.integers(0, h, n_noise)
    t = np.r_[t_edge, t_noise]
    is_edge = np.r_[np.ones(t_edge.size, bool), np.zeros(n_noise, bool)]
    order = np.argsort(t, kind="stable")
    ev = EventArray(
        t[order], np.r_[x_edge, x_noise][order], np.r_[y_edge, y_noise][order],
        np.ones(t.size, np.uint8), w, h,
    )
    is_edge = is_edge[order]
    filt = BackgroundActivityFilter(BAParams(dt_us=1500.0))  # > 1 ms between columns
    out = filt(ev)
    keep = np.zeros(len(ev), bool)
    # Recover which events passed (all timestamps are unique with high probability).
    keep[np.searchsorted(ev.t, out.t)] = True
    edge_kept = keep[is_edge].mean()
    noise_kept = keep[~is_edge].mean()
    assert edge_kept > 0.95
    assert noise_kept < 0.2


# ---------------------------------------------------------------------------- hot pixels
def planted_hot_pixel_events(rng: np.random.Generator, duration_ns: int) -> EventArray:
    w, h = 32, 24
    n = 20_000  # ~26 events per pixel over the duration
    t = rng.integers(0, duration_ns, n)
    x = rng.integers(0, w, n)
    y = rng.integers(0, h, n)
    n_hot = 3000  # one pixel at ~100x the typical rate
    t = np.r_[t, rng.integers(0, duration_ns, n_hot)]
    x = np.r_[x, np.full(n_hot, 7)]
    y = np.r_[y, np.full(n_hot, 11)]
    order = np.argsort(t, kind="stable")
    return EventArray(t[order], x[order], y[order], rng.integers(0, 2, t.size)[order], w, h)


def test_hot_pixel_found_and_masked_after_learning() -> None:
    rng = np.random.default_rng(8)
    ev = planted_hot_pixel_events(rng, 2_000_000_000)  # 2 s
    filt = HotPixelFilter(HotPixelParams(learn_s=1.0, rate_factor=10.0))
    assert filt.learning and filt.mask is None
    out = filt(ev)
    assert not filt.learning
    assert filt.hot_pixels().tolist() == [[7, 11]]
    after = out.slice_time(1_000_000_000)
    before = out.slice_time(None, 1_000_000_000)
    assert len(before) == len(ev.slice_time(None, 1_000_000_000))  # passed while learning
    assert not np.any((after.x == 7) & (after.y == 11))
    dropped_expected = int(np.sum((ev.t >= 1_000_000_000) & (ev.x == 7) & (ev.y == 11)))
    assert filt.dropped == dropped_expected


def test_hot_pixel_streaming_equals_whole_and_reference() -> None:
    rng = np.random.default_rng(9)
    ev = planted_hot_pixel_events(rng, 1_000_000_000)
    params = HotPixelParams(learn_s=0.3, reference="mean", rate_factor=5.0)
    whole = HotPixelFilter(params)(ev)
    for pieces in (2, 13):
        assert run_chunked(HotPixelFilter(params), chunks(ev, rng, pieces)).equals(whole)
    # Reference: counts over [t_first, t_first + 0.3 s), rate test, then masking.
    end = int(ev.t[0]) + 300_000_000
    win = ev.t < end
    counts = np.zeros((24, 32), np.int64)
    np.add.at(counts, (ev.y[win], ev.x[win]), 1)
    rate = counts / 0.3
    hot = (rate > 5.0 * rate[counts > 0].mean()) & (counts >= params.min_events)
    keep = win | ~hot[ev.y, ev.x]
    assert whole.equals(ev[keep])


def test_hot_pixel_absolute_rate_given_mask_and_options() -> None:
    rng = np.random.default_rng(10)
    ev = planted_hot_pixel_events(rng, 1_000_000_000)
    filt = HotPixelFilter(HotPixelParams(learn_s=0.5, reference="none", max_rate_hz=1000.0,
                                         pass_while_learning=False))
    out = filt(ev)
    assert filt.hot_pixels().tolist() == [[7, 11]]
    assert out.t.min() >= int(ev.t[0]) + 500_000_000  # learning window dropped
    mask = np.zeros((24, 32), bool)
    mask[3, 4] = True
    given = HotPixelFilter(mask=mask)
    assert not given.learning
    out = given(ev)
    assert not np.any((out.x == 4) & (out.y == 3))
    assert given.dropped == int(np.sum((ev.x == 4) & (ev.y == 3)))
    given.reset()
    assert given.hot_pixels().tolist() == [[4, 3]]  # a given mask survives reset
    with pytest.raises(ValueError):
        HotPixelFilter(mask=np.zeros((5, 5), bool))(ev)  # wrong sensor size
    with pytest.raises(ValueError):
        validated(HotPixelParams(reference="none"))
    with pytest.raises(ValueError):
        HotPixelFilter(HotPixelParams(learn_s=0.0))


def test_hot_pixel_finish_learning_early() -> None:
    rng = np.random.default_rng(11)
    ev = planted_hot_pixel_events(rng, 1_000_000_000)
    filt = HotPixelFilter(HotPixelParams(learn_s=100.0))
    filt(ev)
    assert filt.learning
    filt.finish_learning()
    assert filt.hot_pixels().tolist() == [[7, 11]]


def test_empty_input_passes_through() -> None:
    empty = EventArray.empty(10, 10)
    for filt in (RefractoryFilter(), BackgroundActivityFilter(), HotPixelFilter()):
        assert len(filt(empty)) == 0 and filt.dropped == 0
