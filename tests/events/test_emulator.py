"""Event-camera emulator (ESIM/v2e model): counts, timestamps, noise, refractory, packets."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neuro_nodes.core.params import validated
from neuro_nodes.events.emulator import (
    PRESETS,
    EmulatorParams,
    EventEmulator,
    log_intensity,
    next_sample_dt,
)
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.packetize import to_packets

IDEAL = PRESETS["ideal"]
C = IDEAL.contrast_threshold_pos
EPS = IDEAL.log_eps
MS = 1_000_000


def uniform(value: float, width: int = 5, height: int = 4) -> np.ndarray:
    return np.full((height, width), value)


def run(emu: EventEmulator, frames, times) -> EventArray:
    out = [emu.feed(f, t) for f, t in zip(frames, times, strict=True)]
    return EventArray.concatenate(out, emu.width, emu.height)


def min_gap_per_pixel(ev: EventArray) -> int | None:
    """Smallest time between two events of one pixel (None if no pixel has two)."""
    pix = ev.y.astype(np.int64) * ev.width + ev.x
    order = np.lexsort((ev.t, pix))
    pix, t = pix[order], ev.t[order]
    same = pix[1:] == pix[:-1]
    return int(np.diff(t)[same].min()) if same.any() else None


def bar_frame(width: int, height: int, left: float, bar_w: float = 30.0,
              fg: float = 0.9, bg: float = 0.1, rows: tuple[int, int] = (60, 200)) -> np.ndarray:
    """Bright vertical bar [left, left + bar_w) on dark, antialiased along x."""
    x = np.arange(width, dtype=np.float64)
    cover = np.clip(np.minimum(x + 1, left + bar_w) - np.maximum(x, left), 0.0, 1.0)
    frame = np.full((height, width), bg)
    frame[rows[0]:rows[1]] = bg + (fg - bg) * cover
    return frame


def texture_frame(width: int, height: int, shift: float) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u = xx - shift
    return 0.5 + 0.2 * np.sin(u / 7.0) * np.cos(yy / 11.0) + 0.2 * np.sin((u + yy) / 3.3)


# ---------------------------------------------------------------------------------- params
def test_presets_are_valid_and_documented_values() -> None:
    for preset in PRESETS.values():
        validated(preset)
    ideal, clean, noisy = PRESETS["ideal"], PRESETS["clean"], PRESETS["noisy"]
    assert (ideal.sigma_threshold, ideal.refractory_s, ideal.leak_rate_hz,
            ideal.shot_noise_rate_hz) == (0.0, 0.0, 0.0, 0.0)
    assert (clean.sigma_threshold, clean.refractory_s, clean.leak_rate_hz,
            clean.shot_noise_rate_hz) == (0.03, 0.0005, 0.01, 0.001)
    assert (noisy.sigma_threshold, noisy.leak_rate_hz, noisy.shot_noise_rate_hz) == (
        0.05, 0.1, 5.0)
    assert clean == EmulatorParams()


def test_cross_field_rules() -> None:
    with pytest.raises(ValueError, match="linear_log_cutoff"):
        validated(EmulatorParams(linear_log_cutoff=0.5))
    with pytest.raises(ValueError, match="threshold_floor"):
        validated(EmulatorParams(contrast_threshold_pos=0.05, threshold_floor=0.1))
    with pytest.raises(ValueError, match="sampling_dt_min_s"):
        EventEmulator(4, 4, EmulatorParams(sampling_dt_min_s=1.0, sampling_dt_max_s=0.1))


def test_thresholds_fixed_per_pixel_clipped_and_seeded() -> None:
    p = dataclasses.replace(PRESETS["clean"], sigma_threshold=0.1)
    a, b = EventEmulator(200, 100, p), EventEmulator(200, 100, p)
    assert np.array_equal(a.threshold_pos, b.threshold_pos)
    assert a.threshold_pos.min() >= p.threshold_floor
    assert (a.threshold_pos == p.threshold_floor).any()  # 0.2 - 0.1 * 2 sigma reaches it
    assert abs(np.std(EventEmulator(200, 100, PRESETS["clean"]).threshold_neg) - 0.03) < 0.002
    c = EventEmulator(200, 100, dataclasses.replace(p, seed=1))
    assert not np.array_equal(a.threshold_pos, c.threshold_pos)


def test_lin_log_is_continuous_at_the_cutoff() -> None:
    dn = np.array([19.999, 20.0, 20.001]) / 255.0
    lo, mid, hi = log_intensity(dn, linear_log_cutoff=20.0)
    assert abs(lo - mid) < 1e-3 and abs(hi - mid) < 1e-3
    assert mid == pytest.approx(math.log(20.0))


# ---------------------------------------------------------------------------------- counts
@pytest.mark.parametrize("i0, i1", [(0.2, 0.8), (0.8, 0.2), (0.05, 0.95), (0.9, 0.1),
                                    (0.5, 0.52)])
def test_step_gives_floor_log_ratio_over_c_events(i0: float, i1: float) -> None:
    ratio = math.log((i1 + EPS) / (i0 + EPS))
    expected = math.floor(abs(ratio) / C)
    assert abs(abs(ratio) / C - round(abs(ratio) / C)) > 1e-6  # not on a boundary
    emu = EventEmulator(5, 4, IDEAL)
    ev = run(emu, [uniform(i0), uniform(i1)], [0, MS])
    assert len(ev) == expected * 20
    assert np.all(ev.p == (1 if ratio > 0 else 0))
    counts = np.bincount(ev.y.astype(int) * 5 + ev.x, minlength=20)
    assert np.all(counts == expected)


def test_timestamps_interpolated_linearly_between_frames() -> None:
    t0, t1 = 3 * MS, 5 * MS
    emu = EventEmulator(1, 1, IDEAL)
    ev = run(emu, [uniform(0.1, 1, 1), uniform(0.9, 1, 1)], [t0, t1])
    delta = math.log(0.9 + EPS) - math.log(0.1 + EPS)
    n = math.floor(delta / C)
    expected = [t0 + round(k * C / delta * (t1 - t0)) for k in range(1, n + 1)]
    assert n == 10 and len(ev) == n
    assert np.all(np.abs(ev.t - np.array(expected)) <= 1)
    assert np.all(np.diff(ev.t) > 0) and t0 < ev.t[0] and ev.t[-1] <= t1


def test_residual_carries_over_between_frames() -> None:
    # Two half steps give the same events as one full step (reference keeps the residual).
    emu = EventEmulator(1, 1, IDEAL)
    mid = math.sqrt(0.1 * 0.9)
    ev = run(emu, [uniform(0.1, 1, 1), uniform(mid, 1, 1), uniform(0.9, 1, 1)],
             [0, MS, 2 * MS])
    assert len(ev) == math.floor((math.log(0.9 + EPS) - math.log(0.1 + EPS)) / C)
    assert ev.is_sorted()


def test_brighten_then_darken_gives_on_then_off() -> None:
    emu = EventEmulator(3, 3, IDEAL)
    ev = run(emu, [uniform(0.2, 3, 3), uniform(0.8, 3, 3), uniform(0.2, 3, 3)],
             [0, MS, 2 * MS])
    n = math.floor(math.log((0.8 + EPS) / (0.2 + EPS)) / C)
    on, off = ev.t[ev.p == 1], ev.t[ev.p == 0]
    assert on.size == 9 * n and off.size in (9 * n, 9 * (n - 1))
    assert on.max() <= MS < off.min()
    assert ev.is_sorted()


def test_static_scene_ideal_gives_no_events() -> None:
    emu = EventEmulator(64, 48, IDEAL)
    frame = texture_frame(64, 48, 0.0)
    ev = run(emu, [frame] * 20, [k * MS for k in range(20)])
    assert len(ev) == 0


def test_rgb_frames_use_luma() -> None:
    rng = np.random.default_rng(3)
    rgb = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    gray = [f.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0 for f in rgb]
    times = [0, MS, 2 * MS]
    a = run(EventEmulator(8, 6, IDEAL), rgb, times)
    b = run(EventEmulator(8, 6, IDEAL), gray, times)
    assert len(a) > 0 and a.equals(b)
    with pytest.raises(ValueError, match="frame is"):
        EventEmulator(8, 6, IDEAL).feed(np.zeros((5, 8)), 0)


def test_time_going_backwards_is_rejected() -> None:
    emu = EventEmulator(2, 2, IDEAL)
    emu.feed(uniform(0.5, 2, 2), 10)
    with pytest.raises(ValueError, match="backwards"):
        emu.feed(uniform(0.5, 2, 2), 5)


# ---------------------------------------------------------------------------------- noise
def test_same_seed_same_events_other_seed_differs() -> None:
    frames = [texture_frame(80, 60, 0.7 * k) for k in range(6)]
    times = [k * 2 * MS for k in range(6)]
    noisy = dataclasses.replace(PRESETS["noisy"], shot_noise_rate_hz=200.0)
    a = run(EventEmulator(80, 60, noisy), frames, times)
    b = run(EventEmulator(80, 60, noisy), frames, times)
    c = run(EventEmulator(80, 60, dataclasses.replace(noisy, seed=7)), frames, times)
    assert len(a) > 1000 and a.equals(b) and not a.equals(c)
    emu = EventEmulator(80, 60, noisy)
    run(emu, frames, times)
    emu.reset()
    assert run(emu, frames, times).equals(a)


def test_shot_noise_rate_matches_noisy_preset() -> None:
    p = PRESETS["noisy"]
    w, h, dt, n_frames = 64, 64, 50 * MS, 201
    emu = EventEmulator(w, h, p)
    frame = uniform(0.5, w, h)
    ev = run(emu, [frame] * n_frames, [k * dt for k in range(n_frames)])
    duration = (n_frames - 1) * dt * 1e-9
    # In a static scene OFF events come only from shot noise (leak makes ON events), and
    # shot noise is half OFF.
    n_off = ev.off_count
    rate = 2 * n_off / (w * h * duration)
    sigma = 2 * math.sqrt(n_off) / (w * h * duration)
    assert abs(rate - p.shot_noise_rate_hz) < 5 * sigma + 0.01 * p.shot_noise_rate_hz
    assert ev.is_sorted()


def test_leak_events_are_on_at_the_leak_rate() -> None:
    p = dataclasses.replace(IDEAL, leak_rate_hz=1.0)
    w, h, dt, n_frames = 32, 32, 100 * MS, 101
    emu = EventEmulator(w, h, p)
    ev = run(emu, [uniform(0.4, w, h)] * n_frames, [k * dt for k in range(n_frames)])
    assert ev.off_count == 0
    per_pixel = np.bincount(ev.y.astype(int) * w + ev.x, minlength=w * h)
    assert per_pixel.min() >= 9 and per_pixel.max() <= 11  # 10 s at 1 Hz, random phase
    assert per_pixel.mean() == pytest.approx(10.0, abs=0.1)


# ---------------------------------------------------------------------------------- refractory
def test_refractory_period_spaces_events_and_keeps_the_change() -> None:
    r = 1e-3
    p = dataclasses.replace(IDEAL, refractory_s=r)
    emu = EventEmulator(2, 2, p)
    step = 100_000  # frames every 0.1 ms, shorter than the refractory period
    frames = [uniform(0.05, 2, 2)] + [uniform(0.9, 2, 2)] * 200
    ev = run(emu, frames, [k * step for k in range(len(frames))])
    gap = min_gap_per_pixel(ev)
    assert gap is not None and gap >= r * 1e9
    n = math.floor(math.log((0.9 + EPS) / (0.05 + EPS)) / C)
    assert len(ev) == 4 * n  # every crossing fires eventually, at the refractory pace
    assert ev.is_sorted()


def test_refractory_holds_with_noise_on_a_moving_texture() -> None:
    p = dataclasses.replace(PRESETS["noisy"], refractory_s=2e-3, shot_noise_rate_hz=100.0)
    frames = [texture_frame(64, 48, 0.5 * k) for k in range(30)]
    ev = run(EventEmulator(64, 48, p), frames, [k * 500_000 for k in range(30)])
    assert len(ev) > 1000 and ev.is_sorted()
    assert min_gap_per_pixel(ev) >= 2 * MS


# ---------------------------------------------------------------------------------- motion
def test_moving_bright_bar_gives_on_at_leading_and_off_at_trailing_edge() -> None:
    w, h, bar_w, speed = 346, 260, 30.0, 1.5
    emu = EventEmulator(w, h, IDEAL)
    lefts = [100.0 + speed * k for k in range(11)]
    emu.feed(bar_frame(w, h, lefts[0], bar_w), 0)
    total_on = total_off = 0
    for k in range(1, len(lefts)):
        ev = emu.feed(bar_frame(w, h, lefts[k], bar_w), k * MS)
        assert len(ev) > 0
        assert ev.y.min() >= 60 and ev.y.max() < 200
        x = ev.x.astype(float)
        lead = (x >= math.floor(lefts[k - 1] + bar_w) - 1) & (x <= lefts[k] + bar_w + 1)
        trail = (x >= math.floor(lefts[k - 1]) - 1) & (x <= lefts[k] + 1)
        assert np.all(lead | trail)  # only near the edges
        assert np.all(ev.p[lead] == 1) and np.all(ev.p[trail] == 0)
        assert ev.t.min() > (k - 1) * MS and ev.t.max() <= k * MS
        total_on += int(lead.sum())
        total_off += int(trail.sum())
    assert total_on > 0 and total_off > 0


# ---------------------------------------------------------------------------------- sampling
def test_next_sample_dt_shrinks_with_faster_change() -> None:
    prev = np.zeros((4, 4))
    slow, fast = prev + 0.05, prev + 0.5
    dt_slow = next_sample_dt(prev, slow, 0.01, 0.5, dt_min=1e-6, dt_max=1.0)
    dt_fast = next_sample_dt(prev, fast, 0.01, 0.5, dt_min=1e-6, dt_max=1.0)
    assert dt_fast < dt_slow
    assert dt_fast == pytest.approx(0.01)  # max|dL/dt| = 50 /s, lambda 0.5 -> 10 ms
    assert next_sample_dt(prev, prev, 0.01, dt_max=0.02) == 0.02
    assert next_sample_dt(prev, prev + 100.0, 0.01, dt_min=1e-4) == 1e-4


def test_suggest_dt_tracks_motion_speed() -> None:
    def suggested(speed: float) -> float:
        emu = EventEmulator(64, 48, IDEAL)
        assert emu.suggest_dt() == IDEAL.sampling_dt_max_s
        emu.feed(texture_frame(64, 48, 0.0), 0)
        emu.feed(texture_frame(64, 48, speed), MS)
        return emu.suggest_dt()

    assert suggested(0.05) > suggested(0.5) > suggested(2.0)


# ---------------------------------------------------------------------------------- packets
def test_to_packets_splits_and_round_trips_through_evt3() -> None:
    base = pytest.importorskip("neuro_nodes.events.codecs.base")
    w, h = 346, 260
    emu = EventEmulator(w, h, PRESETS["clean"])
    frames = [bar_frame(w, h, 100.0 + 2.0 * k) for k in range(8)]
    ev = run(emu, frames, [k * 400_000 for k in range(8)])
    assert len(ev) > 2000
    encoder = base.make_encoder("evt3", w, h)
    packets = to_packets(ev, encoder, max_events=1000, max_dt_ns=1_000_000)
    assert sum(pk.n_events for pk in packets) == len(ev)
    assert all(pk.n_events <= 1000 and pk.t_last_ns - pk.time_base < 1_000_000
               for pk in packets)
    assert all(pk.encoding == "evt3" and (pk.width, pk.height) == (w, h) for pk in packets)
    decoder = base.make_decoder("evt3", w, h)
    got = EventArray.concatenate([decoder.decode(pk.events).events for pk in packets], w, h)

    def keyed(a: EventArray) -> np.ndarray:
        rec = np.stack([a.t // 1000, a.y, a.x, a.p]).T.astype(np.int64)
        return rec[np.lexsort(rec.T[::-1])]

    assert np.array_equal(keyed(got), keyed(ev))
    assert to_packets(EventArray.empty(w, h)) == []
