"""Streaming event filters: refractory period, hot pixels, background activity (BA) noise.

Each filter is a small object with a frozen parameter dataclass and state kept between calls,
so a stream may be fed in chunks of any size: calling it on consecutive chunks returns the
same events as calling it once on their concatenation. ``filter(events)`` returns the
events that pass (an :class:`EventArray`); ``dropped`` and ``processed`` count events since
construction or :meth:`reset`.

Time order. The filters define their result for events in time order and process each call
in time order: an unsorted chunk is sorted first (stably, so equal timestamps keep their
order) and the output is sorted. A chunk that starts before the previous one ended (time
went backwards, e.g. a replay restarted) clears the time-dependent state first, as a new
stream would; the counters are kept. A change of sensor size also starts afresh.

Everything is vectorised numpy, exact against a per-event reference loop (see the tests);
no approximation is made anywhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuro_nodes.core.params import param, validated
from neuro_nodes.events.event_array import EventArray

__all__ = [
    "RefractoryParams",
    "RefractoryFilter",
    "HotPixelParams",
    "HotPixelFilter",
    "BAParams",
    "BackgroundActivityFilter",
]

#: "No event yet" in the per-pixel timestamp maps.
_NEVER = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max


def _us_to_ns(us: float) -> int:
    return int(round(float(us) * 1000.0))


class _EventFilter:
    """Common driver: sorting, sensor size and time-jump handling, counters."""

    def __init__(self) -> None:
        self.dropped = 0
        self.processed = 0
        self._size: tuple[int, int] | None = None
        self._t_last: int | None = None

    def reset(self) -> None:
        """Forget all state and zero the counters."""
        self.dropped = 0
        self.processed = 0
        self._size = None
        self._t_last = None
        self._clear()

    def __call__(self, events: EventArray) -> EventArray:
        n = len(events)
        if n == 0:
            return events
        events = events.sort()
        size = (events.width, events.height)
        if size != self._size:
            self._clear()
            self._size = None
            self._t_last = None
            self._start(*size)
            self._size = size
        elif self._t_last is not None and int(events.t[0]) < self._t_last:
            self._time_jump()
        keep = self._keep(events)
        self._t_last = int(events.t[-1])
        kept = int(np.count_nonzero(keep))
        self.processed += n
        self.dropped += n - kept
        return events if kept == n else events[keep]

    # hooks ------------------------------------------------------------------
    def _clear(self) -> None:
        """Drop state that depends on the sensor size and the stream."""

    def _start(self, width: int, height: int) -> None:
        """Allocate state for a ``width`` x ``height`` sensor (first call or new size)."""

    def _time_jump(self) -> None:
        """Time went backwards between calls: by default start as on a new stream."""
        assert self._size is not None
        self._clear()
        self._start(*self._size)

    def _keep(self, events: EventArray) -> np.ndarray:
        raise NotImplementedError


def _pixels(events: EventArray) -> np.ndarray:
    return events.y.astype(np.int64) * events.width + events.x.astype(np.int64)


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Boolean: True where a run of equal keys begins."""
    first = np.empty(sorted_keys.size, bool)
    if sorted_keys.size:
        first[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return first


# ============================================================================ refractory
@dataclasses.dataclass(frozen=True)
class RefractoryParams:
    period_us: float = param(
        1000.0,
        "Refractory period, microseconds: an event is dropped when its pixel fired less "
        "than this long before",
        min=0.0,
        max=1e8,
    )
    per_polarity: bool = param(
        False, "Keep separate refractory periods for the ON and OFF events of a pixel"
    )
    since: str = param(
        "passed",
        "What starts the period: 'passed' = the pixel's last event that passed the filter "
        "(at most one event per period per pixel comes out); 'any' = its last event, "
        "passed or dropped (a pixel must be quiet for a whole period to pass an event)",
        choices=("passed", "any"),
    )


class RefractoryFilter(_EventFilter):
    """Drop an event when the same pixel (and polarity, with ``per_polarity``) fired less
    than ``period_us`` before: keep ``e_k`` iff ``t_k - t_last(pixel_k) >= period``, where
    ``t_last`` is the pixel's last passed event (``since='passed'``) or its last event of
    any fate (``since='any'``); a pixel's first event always passes.

    Vectorised: events are grouped by pixel with one stable argsort (times stay in order
    within a pixel). For ``'any'`` the test is a difference of neighbours. For ``'passed'``
    the passed events of a pixel form the greedy chain ``first -> next(first) -> ...`` with
    ``next(i)`` = the pixel's first event at least one period after ``i`` (one
    ``searchsorted``); the chain is walked for all pixels at once by pointer doubling,
    ``O(n log L)`` for chains of at most ``L`` events.
    """

    def __init__(self, params: RefractoryParams | None = None) -> None:
        super().__init__()
        self.params = validated(params if params is not None else RefractoryParams())
        self._period_ns = _us_to_ns(self.params.period_us)
        self._last: np.ndarray | None = None

    def _clear(self) -> None:
        self._last = None

    def _start(self, width: int, height: int) -> None:
        channels = 2 if self.params.per_polarity else 1
        self._last = np.full(channels * width * height, _NEVER, np.int64)

    def _keep(self, events: EventArray) -> np.ndarray:
        assert self._last is not None
        keys = _pixels(events)
        if self.params.per_polarity:
            keys = keys * 2 + events.p
        if self.params.since == "any":
            return self._keep_any(keys, events.t)
        return self._keep_passed(keys, events.t)

    def _keep_any(self, keys: np.ndarray, t: np.ndarray) -> np.ndarray:
        last, period = self._last, self._period_ns
        order = np.argsort(keys, kind="stable")
        ks, ts = keys[order], t[order]
        first = _group_starts(ks)
        prev = np.empty_like(ts)
        prev[1:] = ts[:-1]
        prev[first] = last[ks[first]]
        kept = (prev == _NEVER) | (prev <= ts - period)
        ends = np.flatnonzero(np.r_[first[1:], True])
        last[ks[ends]] = ts[ends]
        keep = np.empty(t.size, bool)
        keep[order] = kept
        return keep

    def _keep_passed(self, keys: np.ndarray, t: np.ndarray) -> np.ndarray:
        last, period = self._last, self._period_ns
        if period == 0:  # every event passes (times are sorted)
            order = np.argsort(keys, kind="stable")
            ks = keys[order]
            ends = np.flatnonzero(np.r_[ks[1:] != ks[:-1], True])
            last[ks[ends]] = t[order][ends]
            return np.ones(t.size, bool)
        n = t.size
        t_min, t_max = int(t[0]), int(t[-1])
        span = t_max - t_min
        order = np.argsort(keys, kind="stable")
        ks, ts = keys[order], t[order]
        first = _group_starts(ks)
        group = np.cumsum(first) - 1
        n_groups = int(group[-1]) + 1
        big = span + 1  # offsets within a group lie in [0, span]
        if n_groups * big + big >= _I64_MAX:
            # The composite key would overflow: split in time (exact, the filter streams).
            half = int(np.searchsorted(t, t_min + span // 2, side="right"))
            if 0 < half < n:
                return np.concatenate(
                    [self._keep_passed(keys[:half], t[:half]),
                     self._keep_passed(keys[half:], t[half:])]
                )
            big = 1  # all timestamps equal: keys alone order the events
        composite = group * big + (ts - t_min)
        starts_idx = np.flatnonzero(first)
        group_end = np.r_[starts_idx[1:], n]  # one past the last event of each group
        # next(i): first event of i's pixel at or after t_i + period (n when none).
        offset = np.minimum(ts - t_min + period, big)
        nxt = np.searchsorted(composite, group * big + offset, side="left")
        nxt[nxt >= group_end[group]] = n
        # The chain of each pixel starts at its first event one period after the state.
        prev = last[ks[starts_idx]]
        gap = np.zeros(starts_idx.size, np.int64)
        known = prev != _NEVER
        gap[known] = np.clip(prev[known] + period - t_min, 0, big)
        head = np.searchsorted(composite, np.arange(n_groups, dtype=np.int64) * big + gap)
        head = head[head < group_end]
        # Chains are no longer than the largest group, nor than span / period + 1.
        longest = min(int(np.diff(np.r_[starts_idx, n]).max()), span // period + 1)
        levels = max(1, int(longest - 1).bit_length())
        index_type = np.int32 if n < np.iinfo(np.int32).max else np.int64
        jumps = [np.r_[nxt, n].astype(index_type)]
        for _ in range(1, levels):
            jumps.append(jumps[-1][jumps[-1]])
        # Visit positions 0 .. 2**levels - 1 of every chain: P <- P u (P + 2**k), k down.
        members = head.astype(index_type)
        for k in reversed(range(levels)):
            hop = jumps[k][members]
            members = np.concatenate([members, hop[hop != n]])
        kept = np.zeros(n, bool)
        kept[members] = True
        kept_idx = np.flatnonzero(kept)
        kk = ks[kept_idx]
        ends = np.flatnonzero(np.r_[kk[1:] != kk[:-1], True])
        last[kk[ends]] = ts[kept_idx[ends]]
        keep = np.empty(n, bool)
        keep[order] = kept
        return keep


# ============================================================================ hot pixels
@dataclasses.dataclass(frozen=True)
class HotPixelParams:
    learn_s: float = param(
        1.0,
        "Learning window from the first event, seconds: the event rate of every pixel is "
        "measured over it and the hot-pixel mask is fixed at its end (0: no learning; a "
        "mask must then be given)",
        min=0.0,
        max=3600.0,
    )
    rate_factor: float = param(
        10.0,
        "A pixel is hot when its rate exceeds this many times the reference rate",
        min=1.0,
        max=1e9,
    )
    reference: str = param(
        "median",
        "Reference rate: the median or mean rate of the pixels that fired during learning "
        "('none': only max_rate_hz decides)",
        choices=("median", "mean", "none"),
    )
    max_rate_hz: float = param(
        0.0,
        "A pixel firing faster than this during learning is hot, whatever the others do "
        "(0: no absolute limit)",
        min=0.0,
        max=1e9,
    )
    min_events: int = param(
        5, "A pixel with fewer events than this in the learning window is never hot",
        min=1, max=1_000_000_000,
    )
    pass_while_learning: bool = param(
        True, "Pass every event during the learning window (false: drop them all)"
    )

    def validate(self) -> None:
        if self.reference == "none" and self.max_rate_hz == 0.0:
            raise ValueError("reference 'none' needs max_rate_hz > 0: nothing would be hot")


class HotPixelFilter(_EventFilter):
    """Mask pixels that fire far more often than the rest (stuck or leaky pixels).

    Learning: over ``[t_first, t_first + learn_s)`` the filter counts ``c(x, y)``; the rate
    is ``r = c / learn_s`` and a pixel is hot when ``c >= min_events`` and
    ``r > rate_factor * r_ref`` (``r_ref`` = median or mean of ``r`` over pixels with
    ``c > 0``) or ``r > max_rate_hz`` (when set). From the window's end on, events of hot
    pixels are dropped. The mask may instead be given (``mask``: bool ``(H, W)``, True =
    hot), which disables learning. :meth:`finish_learning` fixes the mask early (rates over
    the time seen so far); :meth:`reset` forgets a learned mask, never a given one. A time
    jump backwards during learning restarts it; a learned mask is kept.
    """

    def __init__(
        self, params: HotPixelParams | None = None, mask: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.params = validated(params if params is not None else HotPixelParams())
        self._given = None if mask is None else np.array(mask, dtype=bool, copy=True)
        if self._given is not None and self._given.ndim != 2:
            raise ValueError(f"mask must be 2-D (H, W), got shape {self._given.shape}")
        if self._given is None and self.params.learn_s == 0.0:
            raise ValueError("learn_s is 0 and no mask is given: the filter has no mask")
        self._mask: np.ndarray | None = None  # flat, True = hot
        self._counts: np.ndarray | None = None
        self._t_start: int | None = None

    # queries ----------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray | None:
        """The hot-pixel mask ``(H, W)`` (True = hot), or None while learning / before data."""
        if self._mask is None:
            return None if self._given is None else self._given.copy()
        assert self._size is not None
        return self._mask.reshape(self._size[1], self._size[0]).copy()

    @property
    def learning(self) -> bool:
        """True until the mask is fixed (learned or given)."""
        return self._given is None and self._mask is None

    def hot_pixels(self) -> np.ndarray:
        """``(K, 2)`` int array of the hot pixels' ``(x, y)`` (empty while learning)."""
        mask = self.mask
        if mask is None:
            return np.empty((0, 2), np.int64)
        y, x = np.nonzero(mask)
        return np.stack([x, y], axis=1).astype(np.int64)

    def finish_learning(self) -> None:
        """Fix the mask now from the counts so far (no-op unless learning has data)."""
        if self.learning and self._counts is not None and self._t_start is not None:
            assert self._t_last is not None
            elapsed = (self._t_last - self._t_start) * 1e-9
            self._finalise(elapsed if elapsed > 0 else self.params.learn_s)

    # hooks --------------------------------------------------------------------
    def _clear(self) -> None:
        self._mask = None
        self._counts = None
        self._t_start = None

    def _start(self, width: int, height: int) -> None:
        if self._given is not None:
            if self._given.shape != (height, width):
                raise ValueError(
                    f"hot-pixel mask is {self._given.shape[1]}x{self._given.shape[0]} but the "
                    f"events are from a {width}x{height} sensor"
                )
            self._mask = self._given.reshape(-1)
        else:
            self._counts = np.zeros(width * height, np.int64)

    def _time_jump(self) -> None:
        if self.learning:
            assert self._size is not None
            self._counts = np.zeros(self._size[0] * self._size[1], np.int64)
            self._t_start = None

    def _finalise(self, duration_s: float) -> None:
        p, counts = self.params, self._counts
        assert counts is not None
        rate = counts / duration_s
        hot = np.zeros(counts.size, bool)
        active = rate[counts > 0]
        if p.reference != "none" and active.size:
            ref = float(np.median(active)) if p.reference == "median" else float(active.mean())
            hot |= rate > p.rate_factor * ref
        if p.max_rate_hz > 0.0:
            hot |= rate > p.max_rate_hz
        hot &= counts >= p.min_events
        self._mask = hot
        self._counts = None

    def _keep(self, events: EventArray) -> np.ndarray:
        flat = _pixels(events)
        if self._mask is not None:
            return ~self._mask[flat]
        assert self._counts is not None
        if self._t_start is None:
            self._t_start = int(events.t[0])
        end = self._t_start + _us_to_ns(self.params.learn_s * 1e6)
        split = int(np.searchsorted(events.t, end, side="left"))
        self._counts += np.bincount(flat[:split], minlength=self._counts.size)
        keep = np.full(flat.size, self.params.pass_while_learning, bool)
        if split < flat.size:
            self._finalise(self.params.learn_s)
            assert self._mask is not None
            keep[split:] = ~self._mask[flat[split:]]
        return keep


# ============================================================================ background activity
@dataclasses.dataclass(frozen=True)
class BAParams:
    dt_us: float = param(
        2000.0,
        "Support window, microseconds: an event passes when a neighbouring pixel had an "
        "event less than this long before",
        min=0.0,
        max=1e8,
    )
    radius: int = param(
        1, "Neighbourhood radius in pixels (1: the 8 neighbours; r: a (2r+1)^2 square)",
        min=1, max=5,
    )
    self_support: bool = param(
        False, "Count the pixel's own earlier events as support too (classic BA: no)"
    )


class BackgroundActivityFilter(_EventFilter):
    """Delbruck's background-activity filter: keep events supported by a recent neighbour.

    Every event writes its timestamp into a per-pixel map ``T`` (whether it passes or not);
    event ``e_k`` passes iff some pixel ``q`` in the ``(2r+1)^2`` square around it (its own
    pixel excluded unless ``self_support``) has ``t_k - T(q) < dt``, with ``T`` as it was
    just before ``e_k`` (the behaviour of jAER / dv-processing). Isolated noise events have
    no recent neighbour and are dropped; moving edges keep supporting each other.

    Because the map is updated by every event, each decision depends only on the input,
    so the filter is exact and fully vectorised: the events are sorted by (pixel, arrival)
    once and, for each neighbour offset, one ``searchsorted`` finds every event's latest
    predecessor at that neighbour (falling back to the map from earlier calls).
    """

    def __init__(self, params: BAParams | None = None) -> None:
        super().__init__()
        self.params = validated(params if params is not None else BAParams())
        self._dt_ns = _us_to_ns(self.params.dt_us)
        self._last: np.ndarray | None = None
        r = self.params.radius
        self._offsets = [
            (dx, dy)
            for dy in range(-r, r + 1)
            for dx in range(-r, r + 1)
            if (dx, dy) != (0, 0) or self.params.self_support
        ]

    def _clear(self) -> None:
        self._last = None

    def _start(self, width: int, height: int) -> None:
        self._last = np.full(width * height, _NEVER, np.int64)

    def _keep(self, events: EventArray) -> np.ndarray:
        last = self._last
        assert last is not None
        n, w, h = len(events), events.width, events.height
        if (w * h + 1) * n >= _I64_MAX:  # composite key would overflow: split (exact)
            half = n // 2
            return np.concatenate([self._keep(events[:half]), self._keep(events[half:])])
        flat = _pixels(events)
        order = np.argsort(flat, kind="stable")
        fs = flat[order]
        composite = fs * n + order  # sorted: by pixel, then by arrival
        ts = events.t[order]
        supported = np.zeros(n, bool)
        # Candidates not yet supported, as sorted positions and their columns; compacted
        # when fewer than half remain (full-length vector ops beat gathers until then).
        pos_c = np.arange(n)
        comp_c, fs_c = composite, fs
        xs_c, ys_c = events.x[order].astype(np.int64), events.y[order].astype(np.int64)
        thr_c = ts - self._dt_ns  # supported iff T(q) > t - dt
        done_c = np.zeros(n, bool)
        for dx, dy in self._offsets:
            shift = dy * w + dx
            # Latest event at pixel q = p + shift that arrived before this one.
            pos = np.searchsorted(composite, comp_c + shift * n, side="left") - 1
            pos_ok = np.maximum(pos, 0)
            q = fs_c + shift
            same = (pos >= 0) & (fs[pos_ok] == q)
            t_support = ts[pos_ok]
            first = ~same  # no earlier event there in this call: use the stored map
            t_support[first] = last[np.clip(q[first], 0, last.size - 1)]
            ok = (t_support > thr_c) & (t_support != _NEVER)
            ok &= (xs_c + dx >= 0) & (xs_c + dx < w) & (ys_c + dy >= 0) & (ys_c + dy < h)
            done_c |= ok
            rest = ~done_c
            if np.count_nonzero(rest) < pos_c.size // 2:
                supported[pos_c[done_c]] = True
                pos_c, comp_c, fs_c = pos_c[rest], comp_c[rest], fs_c[rest]
                xs_c, ys_c, thr_c = xs_c[rest], ys_c[rest], thr_c[rest]
                done_c = np.zeros(pos_c.size, bool)
                if pos_c.size == 0:
                    break
        supported[pos_c[done_c]] = True
        ends = np.flatnonzero(np.r_[fs[1:] != fs[:-1], True])
        last[fs[ends]] = ts[ends]
        keep = np.empty(n, bool)
        keep[order] = supported
        return keep
