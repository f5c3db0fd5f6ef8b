"""Event-camera emulator: rendered frames in, DVS change-detection events out (ESIM/v2e model).

A DVS pixel memorises the log intensity at its last event (its *reference*) and fires an ON
(OFF) event whenever the log intensity rises (falls) one contrast threshold past it, moving
the reference by that threshold. :class:`EventEmulator` applies this model to a sequence of
frames: between two frames the log intensity of each pixel is interpolated linearly in time
(ESIM), every threshold crossing of that line becomes one event stamped at its crossing time,
and the v2e non-idealities are layered on top: fixed per-pixel threshold mismatch, a
refractory period, leak events and shot noise.

Model choices, after ESIM (Rebecq et al., CoRL 2018; ``rpg_esim``) and v2e (Hu et al.,
CVPR-W 2021; ``SensorsINI/v2e``):

===================== ============================== ==================================
                      ESIM                           v2e
===================== ============================== ==================================
intensity             log(eps + I), eps = 1e-3       linear below 20 DN, log above
thresholds C+ / C-    1.0 default (examples 0.2-0.5) 0.2 / 0.2
threshold mismatch    sigma 0.021 redrawn per        sigma 0.03 fixed per pixel
                      crossing; floor 0.01
refractory            0                              0.5 ms
noise                 none                           leak 0.01 Hz, shot 0.001 Hz
                                                     ("noisy": sigma 0.05, leak 0.1 Hz,
                                                     shot 5 Hz)
timestamps            linear interpolation of the    spread over the frame interval
                      crossing time per pixel
sampling              adaptive dt = lambda /         frame interpolation to <= 1 px
                      max|dL/dt|, lambda = 0.5       motion
===================== ============================== ==================================

This module takes ESIM's per-pixel timestamp interpolation and adaptive sampling, and v2e's
fixed per-pixel mismatch, lin-log intensity, refractory period, leak and shot noise:

* **Intensity.** Frames are gray in [0, 1] (float) or 0..255 (uint8); RGB(A) is converted to
  Rec. 601 luma. With ``linear_log_cutoff = 0`` the log intensity is ``log(log_eps + I)``
  (ESIM); otherwise it is v2e's ``lin_log`` of the 8-bit value ``D = 255 I``: ``D log(c) / c``
  for ``D <= c``, ``log(D)`` above (``c`` = the cutoff in DN), which avoids the huge log
  steps of dark, noisy pixels.
* **Thresholds.** Each pixel draws its C+ and C- once, from ``N(C, sigma_threshold)`` clipped
  at ``threshold_floor`` (v2e; deterministic for the seed). ESIM's per-crossing redraw is not
  modelled.
* **Crossings.** With ``D = L - reference`` going linearly from ``D0`` to ``D1`` over the
  frame interval, the pixel emits ``floor(D1 / C+)`` ON or ``floor(-D1 / C-)`` OFF events,
  the k-th stamped where the line crosses ``k C`` (a level already passed at the start, see
  refractory, is stamped at the start). The reference moves by the thresholds of the events
  emitted, so the residual carries over to the next frame.
* **Refractory period.** An event is emitted no earlier than ``refractory_s`` after the
  previous event of its pixel: it is delayed to the end of the refractory period. A crossing
  that would thereby fall after the frame time waits for the next frame (the reference does
  not move for it, as in v2e, where only emitted events move the reference); if the signal
  returns below the level meanwhile, it is lost.
* **Leak.** The reference of every pixel drifts down by ``leak_rate_hz C+`` per second, so a
  static pixel emits ON events at ``leak_rate_hz`` (v2e); the drift is part of the linear
  ``D`` above, so leak events get exact timestamps. Each pixel starts at a random leak phase
  so that leak events are not synchronous.
* **Shot noise.** Each pixel emits Poisson events at ``shot_noise_rate_hz``, uniform in time,
  of random polarity (v2e without its intensity dependence); as in v2e such an event resets
  the pixel's reference to the log intensity at the end of the frame interval. Noise events
  obey the refractory period (one that would fall after the frame time is dropped).

Randomness (thresholds, leak phase, noise) comes from ``numpy.random.Generator`` seeded with
``seed``: the same parameters and frames give the same events.

Presets (:data:`PRESETS`): ``ideal``: C = 0.2, no mismatch, refractory, leak or noise,
``log(eps + I)`` intensity (the textbook model, for tests and references); ``clean``
(the defaults): v2e's clean settings, C = 0.2 +- 0.03, refractory 0.5 ms, leak 0.01 Hz,
shot noise 0.001 Hz, lin-log below 20 DN; ``noisy``: as ``clean`` but sigma 0.05, leak
0.1 Hz, shot noise 5 Hz (v2e's ``--dvs_params noisy``).

Adaptive sampling (ESIM): a simulator that renders at a fixed rate either wastes frames on a
still scene or misses crossings during fast motion. :func:`next_sample_dt` (or
:meth:`EventEmulator.suggest_dt` after a ``feed``) returns the next render interval so that
the largest per-pixel log-intensity change per frame stays about ``lambda``::

    emu = EventEmulator(346, 260, PRESETS["clean"])
    t, dt = 0.0, emu.params.sampling_dt_max_s
    while t < duration:
        events = emu.feed(render(t), round(t * 1e9))   # render(t): HxW frame at time t
        publish(to_packets(events, encoder))            # one encoder for the whole stream
        dt = emu.suggest_dt()                           # small when the image changes fast
        t += dt

:func:`neuro_nodes.events.packetize.to_packets` cuts events into ``EventPacket`` payloads
(EVT 3.0 by default), so emulated and recorded streams look the same downstream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from neuro_nodes.events.event_array import EventArray

#: Rec. 601 luma weights (what v2e's OpenCV BGR2GRAY conversion uses).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

_NO_EVENT_NS = np.iinfo(np.int64).min // 4


@dataclass(frozen=True)
class EmulatorParams:
    """Coefficients of the DVS pixel model (see the module docstring for the model)."""

    contrast_threshold_pos: float = param(
        0.2, "Mean ON contrast threshold C+: log-intensity rise per ON event",
        min=0.01, max=10.0)
    contrast_threshold_neg: float = param(
        0.2, "Mean OFF contrast threshold C-: log-intensity fall per OFF event",
        min=0.01, max=10.0)
    sigma_threshold: float = param(
        0.03, "Standard deviation of the per-pixel threshold mismatch (log units, drawn once "
        "per pixel)", min=0.0, max=1.0)
    threshold_floor: float = param(
        0.01, "Smallest threshold a pixel may draw (mismatch draws are clipped here)",
        min=1e-4, max=1.0)
    refractory_s: float = param(
        0.0005, "Refractory period: least time between two events of one pixel (s)",
        min=0.0, max=1.0)
    leak_rate_hz: float = param(
        0.01, "Leak: rate of spurious ON events of a static pixel (Hz)", min=0.0, max=1000.0)
    shot_noise_rate_hz: float = param(
        0.001, "Shot noise: Poisson rate of random-polarity events per pixel (Hz)",
        min=0.0, max=10000.0)
    log_eps: float = param(
        1e-3, "eps of the log(eps + I) intensity, I in [0, 1] (used when linear_log_cutoff "
        "is 0)", min=1e-9, max=1.0)
    linear_log_cutoff: float = param(
        20.0, "v2e lin-log: intensity (DN of 0..255) below which the response is linear; "
        "0 uses log(eps + I)", min=0.0, max=255.0)
    seed: int = param(0, "Seed of the threshold mismatch, leak phase and noise",
                      min=0, max=2**32 - 1)
    sampling_lambda: float = param(
        0.5, "Adaptive sampling: largest log-intensity change per rendered frame",
        min=0.01, max=10.0)
    sampling_dt_min_s: float = param(
        1e-5, "Adaptive sampling: shortest render interval (s)", min=1e-9, max=10.0)
    sampling_dt_max_s: float = param(
        0.01, "Adaptive sampling: longest render interval (s)", min=1e-9, max=10.0)

    def validate(self) -> None:
        c_min = min(self.contrast_threshold_pos, self.contrast_threshold_neg)
        if self.threshold_floor > c_min:
            raise ValueError(
                f"threshold_floor ({self.threshold_floor}) must not exceed the contrast "
                f"thresholds ({c_min})"
            )
        if 0.0 < self.linear_log_cutoff <= 1.0:
            raise ValueError(
                "linear_log_cutoff must be 0 (off) or above 1 DN (the linear part joins "
                f"log(D) at the cutoff), got {self.linear_log_cutoff}"
            )
        if self.sampling_dt_min_s > self.sampling_dt_max_s:
            raise ValueError(
                f"sampling_dt_min_s ({self.sampling_dt_min_s}) exceeds sampling_dt_max_s "
                f"({self.sampling_dt_max_s})"
            )


#: Documented parameter sets (module docstring): the ideal textbook pixel, v2e's clean and
#: noisy sensors.
PRESETS: dict[str, EmulatorParams] = {
    "ideal": EmulatorParams(
        sigma_threshold=0.0, refractory_s=0.0, leak_rate_hz=0.0, shot_noise_rate_hz=0.0,
        linear_log_cutoff=0.0,
    ),
    "clean": EmulatorParams(),
    "noisy": EmulatorParams(sigma_threshold=0.05, leak_rate_hz=0.1, shot_noise_rate_hz=5.0),
}


# ---------------------------------------------------------------------------------- helpers
def to_gray(frame: np.ndarray) -> np.ndarray:
    """A frame as float64 intensity in [0, 1]: gray (HxW) or RGB(A) (HxWx3/4, Rec. 601 luma).

    Integer frames are scaled by their type's maximum (uint8: 255); floats are taken as
    [0, 1] and clipped at 0.
    """
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        scale = float(np.iinfo(a.dtype).max) if a.dtype.kind in "ui" else 1.0
        gray = a[..., :3].astype(np.float64) @ LUMA_WEIGHTS
        gray /= scale
    elif a.ndim == 2:
        if a.dtype.kind in "ui":
            gray = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
        elif a.dtype.kind in "fb":
            gray = a.astype(np.float64)
        else:
            raise ValueError(f"unsupported frame dtype {a.dtype}")
    else:
        raise ValueError(f"expected an HxW gray or HxWx3 RGB frame, got shape {a.shape}")
    return np.maximum(gray, 0.0, out=gray)


def log_intensity(gray: np.ndarray, log_eps: float = 1e-3,
                  linear_log_cutoff: float = 0.0) -> np.ndarray:
    """Log intensity of a [0, 1] gray image: ``log(eps + I)`` or v2e's lin-log (cutoff in DN)."""
    if linear_log_cutoff <= 0.0:
        return np.log(gray + log_eps)
    dn = gray * 255.0
    c = float(linear_log_cutoff)
    out = dn * (math.log(c) / c)
    bright = dn > c
    out[bright] = np.log(dn[bright])
    return out


def next_sample_dt(prev_log: np.ndarray, curr_log: np.ndarray, dt_s: float,
                   lambda_: float = 0.5, dt_min: float = 1e-5, dt_max: float = 0.01) -> float:
    """ESIM's adaptive sampling rule: the next render interval ``lambda_ / max|dL/dt|``.

    ``prev_log`` and ``curr_log`` are the log intensities of the last two rendered frames,
    ``dt_s`` the time between them; ``max|dL/dt|`` is estimated as ``max|curr - prev| /
    dt_s``, so rendering the next frame after the returned interval changes no pixel's log
    intensity by much more than ``lambda_`` if the motion continues. Clamped to
    ``[dt_min, dt_max]``; a still image (or ``dt_s <= 0``) gives ``dt_max``.
    """
    if dt_s <= 0.0:
        return float(dt_max)
    change = float(np.max(np.abs(np.asarray(curr_log) - np.asarray(prev_log)), initial=0.0))
    if change <= 0.0:
        return float(dt_max)
    return float(min(max(lambda_ * dt_s / change, dt_min), dt_max))


def _segmented_cummax(v: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running maximum of int64 ``v`` restarting at each segment (``seg``: segment ids 0..)."""
    vmin = int(v.min())
    rel = v - vmin
    span = int(rel.max()) + 1
    n_seg = starts.size
    per_chunk = max(1, (1 << 62) // span)  # keep seg * span within int64
    if n_seg <= per_chunk:
        offset = seg * span
        return np.maximum.accumulate(rel + offset) - offset + vmin
    out = np.empty_like(v)
    bounds = np.append(starts, v.size)
    for s0 in range(0, n_seg, per_chunk):
        s1 = min(s0 + per_chunk, n_seg)
        a, b = bounds[s0], bounds[s1]
        offset = (seg[a:b] - s0) * span
        out[a:b] = np.maximum.accumulate(rel[a:b] + offset) - offset + vmin
    return out


def _order_by(major: np.ndarray, minor: np.ndarray, minor_span: int) -> np.ndarray:
    """Stable order by (major, minor): non-negative int64 keys, ``minor < minor_span``."""
    if major.size and int(major.max()) < ((1 << 62) // max(int(minor_span), 1)):
        return np.argsort(major * minor_span + minor, kind="stable")
    return np.lexsort((minor, major))


# ---------------------------------------------------------------------------------- emulator
class EventEmulator:
    """Stateful DVS emulator for one ``width`` x ``height`` sensor; see the module docstring.

    Feed frames in time order with :meth:`feed`; the first frame only sets the pixel state,
    each later one returns the events between it and the previous frame, sorted by time
    (ties by pixel, row-major). Event times never decrease from one call to the next.
    """

    def __init__(self, width: int, height: int,
                 params: EmulatorParams | None = None) -> None:
        self.width, self.height = int(width), int(height)
        if not (0 < self.width <= 1 << 16 and 0 < self.height <= 1 << 16):
            raise ValueError(f"sensor size out of range: {width}x{height}")
        self.params = validated(params if params is not None else EmulatorParams())
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget all frames and restart the random streams from the seed."""
        p = self.params
        n = self.width * self.height
        init_ss, noise_ss = np.random.SeedSequence(p.seed).spawn(2)
        init_rng = np.random.default_rng(init_ss)
        self._rng = np.random.default_rng(noise_ss)
        self.threshold_pos = self._draw_thresholds(init_rng, p.contrast_threshold_pos, n)
        self.threshold_neg = self._draw_thresholds(init_rng, p.contrast_threshold_neg, n)
        self._leak_phase = init_rng.random(n) if p.leak_rate_hz > 0 else None
        self._ref: np.ndarray | None = None  # memorised log intensity (flat, float64)
        self._log: np.ndarray | None = None  # log intensity of the last frame
        self._log_before: np.ndarray | None = None  # ... and of the frame before it
        self._t_last_event = np.full(n, _NO_EVENT_NS, dtype=np.int64)
        self._t_ns: int | None = None
        self._dt_s = 0.0

    def _draw_thresholds(self, rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
        sigma = self.params.sigma_threshold
        if sigma <= 0.0:
            return np.full(n, max(mean, self.params.threshold_floor))
        return np.maximum(rng.normal(mean, sigma, n), self.params.threshold_floor)

    @property
    def t_ns(self) -> int | None:
        """Time of the last frame fed, or None before the first."""
        return self._t_ns

    def log_intensity(self, frame: np.ndarray) -> np.ndarray:
        """HxW log intensity of a frame, as the emulator sees it."""
        gray = self._gray(frame)
        return log_intensity(gray, self.params.log_eps,
                             self.params.linear_log_cutoff).reshape(self.height, self.width)

    def _gray(self, frame: np.ndarray) -> np.ndarray:
        gray = to_gray(frame)
        if gray.shape != (self.height, self.width):
            raise ValueError(
                f"frame is {gray.shape[1]}x{gray.shape[0]}, the sensor {self.width}x{self.height}"
            )
        return gray

    def suggest_dt(self, lambda_: float | None = None) -> float:
        """Next render interval (s) from the last two frames (:func:`next_sample_dt`).

        Uses ``sampling_lambda``/``sampling_dt_min_s``/``sampling_dt_max_s`` (``lambda_``
        overrides the first); ``sampling_dt_max_s`` until two frames have been fed.
        """
        p = self.params
        if self._log is None or self._log_before is None:
            return p.sampling_dt_max_s
        lam = p.sampling_lambda if lambda_ is None else float(lambda_)
        return next_sample_dt(self._log_before, self._log, self._dt_s, lam,
                              p.sampling_dt_min_s, p.sampling_dt_max_s)

    # ------------------------------------------------------------------ events
    def feed(self, frame: np.ndarray, t_ns: int) -> EventArray:
        """Events between the previous frame and ``frame`` (taken at ``t_ns``), time-sorted."""
        p = self.params
        t_ns = int(t_ns)
        log_new = log_intensity(self._gray(frame), p.log_eps, p.linear_log_cutoff).reshape(-1)
        if self._t_ns is None:
            self._ref = log_new.copy()
            if self._leak_phase is not None:  # random leak phase: D starts in [0, C+)
                self._ref -= self._leak_phase * self.threshold_pos
            self._log, self._t_ns = log_new, t_ns
            return EventArray.empty(self.width, self.height)
        t_prev = self._t_ns
        if t_ns < t_prev:
            raise ValueError(f"frame time goes backwards: {t_ns} ns < {t_prev} ns")
        assert self._ref is not None and self._log is not None
        dt_ns = t_ns - t_prev
        dt_s = dt_ns * 1e-9

        # D = L - reference, linear in time from d0 to d1 (leak lowers the reference).
        ref = self._ref
        if p.leak_rate_hz > 0:
            ref = ref - (p.leak_rate_hz * dt_s) * self.threshold_pos
        d0 = self._log - self._ref
        d1 = log_new - ref
        pix, t, pol = self._crossings(d0, d1, t_prev, dt_ns)
        is_signal = None
        if p.shot_noise_rate_hz > 0 and dt_ns > 0:
            n_noise = self._rng.poisson(p.shot_noise_rate_hz * dt_s * d0.size)
            if n_noise:
                noise_pix = self._rng.integers(0, d0.size, n_noise)
                noise_t = t_prev + 1 + self._rng.integers(0, dt_ns, n_noise)
                noise_p = self._rng.integers(0, 2, n_noise).astype(np.uint8)
                is_signal = np.concatenate((np.ones(pix.size, bool), np.zeros(n_noise, bool)))
                pix = np.concatenate((pix, noise_pix))
                t = np.concatenate((t, noise_t))
                pol = np.concatenate((pol, noise_p))
                if p.refractory_s > 0:  # the refractory pass wants pixels contiguous
                    order = _order_by(pix, t - t_prev, dt_ns + 1)
                    pix, t, pol = pix[order], t[order], pol[order]
                    is_signal = is_signal[order]

        if p.refractory_s > 0 and pix.size:
            t = self._refractory(pix, t, t_prev, round(p.refractory_s * 1e9))
            keep = t <= t_ns  # later ones wait (signal) or are dropped (noise)
            if not keep.all():
                pix, t, pol = pix[keep], t[keep], pol[keep]
                if is_signal is not None:
                    is_signal = is_signal[keep]
            if pix.size:
                last = np.ones(pix.size, bool)
                last[:-1] = pix[1:] != pix[:-1]
                self._t_last_event[pix[last]] = t[last]

        # Move the reference by the emitted signal events; noise events reset it (v2e).
        sig_pix, sig_on = (pix, pol == 1) if is_signal is None else (
            pix[is_signal], pol[is_signal] == 1)
        step = np.where(sig_on, self.threshold_pos[sig_pix], -self.threshold_neg[sig_pix])
        ref = ref + np.bincount(sig_pix, weights=step, minlength=d0.size)
        if is_signal is not None:
            noise_pix = pix[~is_signal]
            ref[noise_pix] = log_new[noise_pix]
        self._ref = ref
        self._log_before, self._log = self._log, log_new
        self._t_ns, self._dt_s = t_ns, dt_s

        order = _order_by(t - t_prev, pix, d0.size)
        pix, t, pol = pix[order], t[order], pol[order]
        y, x = np.divmod(pix, self.width)
        return EventArray.unchecked(
            t, x.astype(np.uint16), y.astype(np.uint16), pol.astype(np.uint8, copy=False),
            self.width, self.height,
        )

    def _crossings(self, d0: np.ndarray, d1: np.ndarray, t_prev: int,
                   dt_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Threshold crossings of D from d0 to d1: flat pixel, time, polarity (per pixel in
        time order, each pixel's events contiguous)."""
        c_on, c_off = self.threshold_pos, self.threshold_neg
        pix_on = np.flatnonzero(d1 >= c_on)
        pix_off = np.flatnonzero(d1 <= -c_off)
        n_on = np.maximum(np.floor(d1[pix_on] / c_on[pix_on]), 1).astype(np.int64)
        n_off = np.maximum(np.floor(-d1[pix_off] / c_off[pix_off]), 1).astype(np.int64)
        pix = np.concatenate((pix_on, pix_off))
        counts = np.concatenate((n_on, n_off))
        sign = np.concatenate((np.ones(pix_on.size), -np.ones(pix_off.size)))
        step = np.concatenate((c_on[pix_on], c_off[pix_off]))
        total = int(counts.sum())
        if total == 0:
            return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint8))
        starts = np.cumsum(counts) - counts
        k = np.arange(1, total + 1) - np.repeat(starts, counts)  # 1..n per pixel
        pix_e = np.repeat(pix, counts)
        sign_e = np.repeat(sign, counts)
        level = k * np.repeat(step * sign, counts)  # +-k C, in D units
        a = d0[pix_e]
        span = d1[pix_e] - a
        passed = (level - a) * sign_e <= 0  # already crossed at t_prev (was waiting)
        frac = np.divide(level - a, span, out=np.zeros(total), where=~passed & (span != 0))
        np.clip(frac, 0.0, 1.0, out=frac)
        t = t_prev + np.rint(frac * dt_ns).astype(np.int64)
        pol = (sign_e > 0).astype(np.uint8)
        return pix_e, t, pol

    def _refractory(self, pix: np.ndarray, t: np.ndarray, t_prev: int,
                    r_ns: int) -> np.ndarray:
        """Delay events so that each follows its pixel's previous one by >= ``r_ns``.

        ``t'_k = max(t_k, t'_{k-1} + R)`` with ``t'_0`` the pixel's last event, in closed
        form ``t'_k = k R + max(t'_0, max_{j<=k} (t_j - j R))`` (segmented running maximum).
        """
        n = pix.size
        start = np.ones(n, bool)
        start[1:] = pix[1:] != pix[:-1]
        seg = np.cumsum(start) - 1
        starts = np.flatnonzero(start)
        j = np.arange(n, dtype=np.int64) - starts[seg] + 1
        # a last event before t_prev - R cannot delay anything (t_1 >= t_prev)
        t0 = np.maximum(self._t_last_event[pix[starts]], t_prev - r_ns)
        run = _segmented_cummax(t - j * r_ns, seg, starts)
        return j * r_ns + np.maximum(run, t0[seg])



__all__ = [
    "PRESETS",
    "EmulatorParams",
    "EventEmulator",
    "log_intensity",
    "next_sample_dt",
    "to_gray",
]
