"""Prophesee EVT 3.0: 16-bit words that set the row, column base and clock, then emit events.

Word types (bits 15..12; Prophesee "EVT 3.0" docs, openeb ``evt3_event_types.h``):
0x0 ADDR_Y (y = bits 10..0), 0x2 ADDR_X (x = bits 10..0, polarity bit 11: one event),
0x3 VECT_BASE_X (base x, polarity bit 11), 0x4 VECT_12 / 0x5 VECT_8 (bit mask of events at
base x + i, then base x += 12 / 8), 0x6 TIME_LOW (time bits 11..0), 0x8 TIME_HIGH (time bits
23..12), 0xA EXT_TRIGGER (value bit 0, id bits 11..8), 0x7/0xE/0xF continued/others (skipped).

The microsecond clock is 24 bits and wraps every 16.777216 s; the decoder unwraps it (see
``wrap_tolerance``). Timestamps are the unwrapped sensor clock in ns; the packet's
``time_base`` is not used, as in ``event_camera_codecs``.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs._kernels import drop_outside, jit
from neuro_nodes.events.codecs.base import (
    NO_TRIGGERS,
    CodecError,
    StreamDecoder,
    check_geometry,
    decode_in_chunks,
    wrap_output,
)
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

ADDR_Y, ADDR_X, VECT_BASE_X, VECT_12, VECT_8 = 0x0, 0x2, 0x3, 0x4, 0x5
TIME_LOW, CONTINUED_4, TIME_HIGH, EXT_TRIGGER = 0x6, 0x7, 0x8, 0xA
OTHERS, CONTINUED_12 = 0xE, 0xF

#: Largest coordinate + 1 that the format can carry (11 bits).
MAX_SIDE = 1 << 11
#: Largest payload piece decoded in one go (words): bigger payloads are cut into pieces of
#: this size, decoded one after the other and joined (the output of each piece is sized by a
#: counting pass over it first, which then finds it in the cache).
CHUNK_WORDS = 1 << 21
#: Largest step between TIME_HIGH words the encoder writes (half the 12-bit period): a
#: backward step of at least this much reads as a wrap.
_HIGH_STEP = 1 << 11

# decoder state carried between payloads (an int64 array that the kernels update), and the
# decoder's settings, kept in the same array to keep kernel calls short
_Y, _LOW, _EPOCH, _HIGH, _BASE, _POL, _MAX_X, _HEIGHT, _TOL = range(9)
_COMMON = 1 << ADDR_X | 1 << ADDR_Y | 1 << TIME_LOW  # the word types of most words
_NEEDS_LEXSORT = -1  # what ``_prepare`` answers when it found no order


@jit
def _popcount(v: int) -> int:
    """Set bits of a value below 2**16."""
    v = v - ((v >> 1) & 0x5555)
    v = (v & 0x3333) + ((v >> 2) & 0x3333)
    v = (v + (v >> 4)) & 0x0F0F
    return (v + (v >> 8)) & 0x1F


@jit
def _count(data: np.ndarray) -> tuple[int, int]:
    """Room for the events and the triggers of the whole words in ``data``.

    At least as many as they hold: ADDR_X words, plus 12 or 8 per vector word when vector
    words are few (exact when many: then their bits are counted).
    """
    words = data[: data.size // 2 * 2].view(np.uint16)
    n = words.size
    singles = 0
    vect_12 = 0
    vect_8 = 0
    triggers = 0
    for i in range(n):  # four plain sums of comparisons: numba/LLVM vectorise this form
        typ = words[i] >> 12
        singles += typ == ADDR_X
        vect_12 += typ == VECT_12
        vect_8 += typ == VECT_8
        triggers += typ == EXT_TRIGGER
    events = singles + 12 * vect_12 + 8 * vect_8
    vectors = vect_12 + vect_8
    if vectors * 12 * 8 > events:  # vectors hold more than 1/8 of the room: count exactly
        for i in range(n):
            w = np.int64(words[i])
            typ = w >> 12
            if typ == VECT_12:
                events -= 12 - _popcount(w & 0xFFF)
            elif typ == VECT_8:
                events -= 8 - _popcount(w & 0xFF)
    return events, triggers


@jit
def _decode_words(
    data: np.ndarray, state: np.ndarray,
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, trig: np.ndarray,
) -> tuple[int, int, int]:
    """Run the EVT 3.0 state machine over the whole words of ``data``, continuing ``state``
    (updated in place).

    Writes the events to t/x/y/p and the triggers' t/id/value to the rows of ``trig``, with
    the room that ``_count`` asks for. Returns the numbers of events and triggers written
    and the error count.
    """
    words = data[: data.size // 2 * 2].view(np.uint16)
    row = state[_Y]
    low = state[_LOW]
    epoch = state[_EPOCH]
    high = state[_HIGH]
    base = state[_BASE]
    pol = state[_POL]
    tolerance = state[_TOL]
    valid = np.int64(high >= 0)  # events count from the stream's first TIME_HIGH on
    high_ns = (epoch * 4096 + high) * 4_096_000
    now = high_ns + low * 1000
    k = 0
    kt = 0
    errors = 0
    for i in range(words.size):
        w = np.int64(words[i])
        typ = w >> 12
        if (1 << typ) & _COMMON:  # (a bit test: keeps the rare types out of this dispatch)
            if typ == ADDR_X:  # written even before the first TIME_HIGH (there is room)
                i_k = np.uint64(k)  # an unsigned index skips numba's negative-index fix-up
                t[i_k] = now
                x[i_k] = w & 0x7FF
                y[i_k] = row
                p[i_k] = (w >> 11) & 1
                k += valid
            elif typ == ADDR_Y:
                row = w & 0x7FF
            else:  # TIME_LOW
                low = w & 0xFFF
                now = high_ns + low * 1000
        elif VECT_12 <= typ <= VECT_8:
            mask = w & (0xFFF if typ == VECT_12 else 0xFF)
            if valid:
                col = base
                while mask:
                    if mask & 1:
                        i_k = np.uint64(k)
                        t[i_k] = now
                        x[i_k] = col
                        y[i_k] = row
                        p[i_k] = pol
                        k += 1
                    mask >>= 1
                    col += 1
            base = min(base + (12 if typ == VECT_12 else 8), 2 * MAX_SIDE)  # off the sensor
        elif typ == TIME_HIGH:
            raw = w & 0xFFF
            if high >= 0:
                back = high - raw
                if back >= _HIGH_STEP:  # half the 12-bit period or more: a wrap
                    epoch += 1
                elif back > tolerance:
                    errors += 1
            high = raw
            valid = 1
            high_ns = (epoch * 4096 + high) * 4_096_000
            now = high_ns + low * 1000
        elif typ == VECT_BASE_X:
            base = w & 0x7FF
            pol = (w >> 11) & 1
        elif typ == EXT_TRIGGER:
            if valid:
                trig[0, kt] = now
                trig[1, kt] = (w >> 8) & 0xF
                trig[2, kt] = w & 1
                kt += 1
        elif typ != CONTINUED_4 and typ < OTHERS:
            errors += 1  # reserved word type
    state[_Y] = row
    state[_LOW] = low
    state[_EPOCH] = epoch
    state[_HIGH] = high
    state[_BASE] = base
    state[_POL] = pol
    k, outside = drop_outside(t, x, y, p, k, state[_MAX_X], state[_HEIGHT])
    return k, kt, errors + outside


@jit
def _decode_chunk(
    data: np.ndarray, state: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Size the output (``_count``) and decode into it (``_decode_words``) in one call (a
    call from Python costs about as much as decoding a few hundred words): the t, x, y, p
    columns with the first ``k`` events, the (t, id, value) rows with the first ``kt``
    triggers, ``k``, ``kt`` and the error count. (The columns are returned whole, sliced by
    the caller, so that a view's ``base`` is an ndarray whose size is what was allocated.)"""
    n, n_trig = _count(data)
    t = np.empty(n, np.int64)
    x = np.empty(n, np.uint16)
    y = np.empty(n, np.uint16)
    p = np.empty(n, np.uint8)
    trig = np.empty((3, n_trig), np.int64)
    k, kt, errors = _decode_words(data, state, t, x, y, p, trig)
    return t, x, y, p, trig, k, kt, errors


class Evt3Decoder(StreamDecoder):
    """Stateful EVT 3.0 decoder (a compiled state machine, see ``_kernels``).

    Stream semantics: payloads are consecutive pieces of one byte stream, so a word split
    between two payloads (odd length) is completed by the next one (the trailing byte is kept,
    not counted as an error), and vector/row/clock state carries over. Events before the
    stream's first TIME_HIGH are dropped silently (their time is unknown); until the first
    TIME_LOW the low time bits are 0, as faery's RAW writer assumes (the upstream ROS codec
    instead waits for a TIME_LOW). Errors counted: events outside the sensor
    (dropped), reserved word types (0x1, 0x9, 0xB-0xD; skipped), and TIME_HIGH steps backwards
    by more than ``wrap_tolerance`` ticks (of 4096 us) but less than half the 12-bit period
    (not a wrap; the clock follows the word). Backward steps of at least half the period are
    wraps.
    """

    encoding = "evt3"
    joins_payloads = True

    def __init__(self, width: int, height: int, wrap_tolerance: int = 10) -> None:
        super().__init__(width, height)
        self._state = np.zeros(9, np.int64)
        self._state[_MAX_X] = min(self.width, MAX_SIDE)  # EVT 3.0 columns are 11 bits
        self._state[_HEIGHT] = self.height
        self.wrap_tolerance = wrap_tolerance
        self._reset_stream()

    @property
    def wrap_tolerance(self) -> int:
        """Backward TIME_HIGH steps (ticks of 4096 us) taken as jitter, not errors."""
        return int(self._state[_TOL])

    @wrap_tolerance.setter
    def wrap_tolerance(self, value: int) -> None:
        self._state[_TOL] = int(value)

    def _reset_stream(self) -> None:
        self._state[:_MAX_X] = (0, 0, 0, -1, 0, 0)  # _HIGH -1: no TIME_HIGH yet
        self._tail = -1  # the odd byte of a payload, completed by the next one (-1: none)

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        if self._tail >= 0 and data.size:
            data = np.concatenate((np.array([self._tail], np.uint8), data))
            self._tail = -1
        if data.size & 1:
            self._tail = int(data[-1])
        return decode_in_chunks(data, 2 * CHUNK_WORDS, self._decode_words)

    def _decode_words(self, data: np.ndarray) -> tuple[EventArray, TriggerArray, int]:
        t, x, y, p, trig, k, kt, errors = _decode_chunk(data, self._state)
        return (*wrap_output(t, x, y, p, k, trig, kt, self.width, self.height), errors)


# encoder state carried between packets: TIME_HIGH ticks (unwrapped; -1: a new stream),
# microseconds and row last written
_E_HIGH, _E_T, _E_Y = range(3)


@jit
def _prepare(
    T: np.ndarray, Y: np.ndarray, P: np.ndarray, X: np.ndarray, TT: np.ndarray
) -> tuple[int, int, np.ndarray]:
    """The earliest and latest microsecond of events ``T`` and triggers ``TT`` (not both
    empty), and the indices that sort the events by (t, y, p, x), ties in the given order:
    empty if they are sorted, ``_NEEDS_LEXSORT`` (one entry) if this found no order."""
    n = T.size
    lo = T[0] if n else TT[0]
    hi = lo
    for v in T:
        lo = min(lo, v)
        hi = max(hi, v)
    for v in TT:
        lo = min(lo, v)
        hi = max(hi, v)
    if hi - lo >= 1 << 40:  # beyond the 40 bits of time in the sort key
        return lo, hi, np.full(1, _NEEDS_LEXSORT, np.intp)
    key = np.empty(n, np.int64)
    is_sorted = True
    for i in range(n):
        key[i] = (T[i] - lo) << 23 | np.int64(Y[i]) << 12 | np.int64(P[i]) << 11 | X[i]
        if i > 0 and key[i] < key[i - 1]:
            is_sorted = False
    if is_sorted:
        return lo, hi, np.empty(0, np.intp)
    # streams come sorted by time, unsorted within a microsecond: an insertion sort (stable)
    # moves few entries; past a budget of moves, give up
    order = np.arange(n)
    budget = 16 * n + 1024
    for i in range(1, n):
        k = key[i]
        if key[order[i - 1]] > k:
            j = i
            while j > 0 and key[order[j - 1]] > k:
                order[j] = order[j - 1]
                j -= 1
            order[j] = i
            budget -= i - j
            if budget < 0:
                return lo, hi, np.full(1, _NEEDS_LEXSORT, np.intp)
    return lo, hi, order


@jit
def _encode_words(
    T: np.ndarray, Y: np.ndarray, P: np.ndarray, X: np.ndarray, order: np.ndarray,
    TT: np.ndarray, TID: np.ndarray, TVAL: np.ndarray, state: np.ndarray,
    units: np.ndarray, out: np.ndarray,
) -> int:
    """Write the words of one packet to ``out`` (with room for all); returns how many.

    Events (microseconds ``T``) are visited in ``order``, their (t, y, p, x) order (empty:
    as given); triggers (``TT``, sorted) go before the events of the same microsecond.
    ``state`` (see ``_E_HIGH``) is read and updated; ``units`` is scratch (4 rows, a column
    per event and trigger).
    """
    # 1. units, one payload word each: single events (ADDR_X), vector blocks (VECT_12 and
    # its VECT_BASE_X, unless it continues the previous unit's chain), triggers
    n = T.size
    u_t = units[0]
    u_y = units[1]  # -1: a trigger
    u_word = units[2]
    u_base = units[3]  # VECT_BASE_X word before it, or -1
    q = 0
    last_vec = -1  # unit index of the last vector unit
    last_group = -1
    last_block = -1
    ordered = order.size > 0
    jt = 0
    i = 0
    while i < n or jt < TT.size:
        e = (order[i] if ordered else i) if i < n else 0
        if jt < TT.size and (i >= n or TT[jt] <= T[e]):
            u_t[q] = TT[jt]
            u_y[q] = -1
            u_word[q] = (EXT_TRIGGER << 12) | (np.int64(TID[jt]) << 8) | np.int64(TVAL[jt])
            u_base[q] = -1
            q += 1
            jt += 1
            continue
        # a group: events of one microsecond, row and polarity, by x
        gt = T[e]
        gy = np.int64(Y[e])
        gp = np.int64(P[e])
        j = i + 1
        while j < n:
            f = order[j] if ordered else j
            if T[f] != gt or Y[f] != gy or P[f] != gp:
                break
            j += 1
        x0 = np.int64(X[e])
        a = i
        while a < j:  # 12-pixel blocks from the group's first x
            block = (np.int64(X[order[a] if ordered else a]) - x0) // 12
            mask = 0
            c = a
            while c < j:
                bit = np.int64(X[order[c] if ordered else c]) - x0 - 12 * block
                if bit >= 12:
                    break
                mask |= 1 << bit
                c += 1
            vector = mask & (mask - 1) != 0  # two pixels or more
            for m in range(a, c):
                xm = np.int64(X[order[m] if ordered else m])
                if vector and m > a and xm != np.int64(X[order[m - 1] if ordered else m - 1]):
                    continue  # in the vector; repeated events (same x) stay single events
                u_t[q] = gt
                u_y[q] = gy
                if vector and m == a:
                    u_word[q] = (VECT_12 << 12) | mask
                    chained = last_vec == q - 1 and last_group == i and last_block == block - 1
                    u_base[q] = -1 if chained else (
                        (VECT_BASE_X << 12) | (gp << 11) | (x0 + 12 * block)
                    )
                    last_vec, last_group, last_block = q, i, block
                else:
                    u_word[q] = (ADDR_X << 12) | (gp << 11) | xm
                    u_base[q] = -1
                q += 1
            a = c
        i = j
    # a vector that ends its chain (the next unit does not continue it) is a VECT_8 if it fits
    for r in range(q):
        if u_word[r] >> 12 == VECT_12 and u_word[r] < (VECT_12 << 12 | 256) and (
            r + 1 == q or u_base[r + 1] >= 0 or u_word[r + 1] >> 12 != VECT_12
        ):
            u_word[r] = (VECT_8 << 12) | (u_word[r] & 0xFF)
    # 2. the words: TIME_HIGH/TIME_LOW when the time changes, ADDR_Y when the row changes
    # (every packet starts with the full time and its first event's row), base, unit word
    prev_high = state[_E_HIGH]
    new_stream = prev_high < 0
    prev_t = state[_E_T]
    prev_y = state[_E_Y]
    first_event = True
    pos = 0
    for r in range(q):
        high = u_t[r] >> 12
        gap = high - prev_high
        n_high = (gap + _HIGH_STEP - 1) // _HIGH_STEP if gap > 0 else 0
        if r == 0:
            n_high = 1 if new_stream else max(n_high, 1)
        for h in range(n_high):  # bridging steps of at most _HIGH_STEP, then the target
            value = high if h == n_high - 1 else prev_high + _HIGH_STEP * (h + 1)
            out[pos] = (TIME_HIGH << 12) | (value & 0xFFF)
            pos += 1
        if u_t[r] != prev_t or n_high > 0:
            out[pos] = (TIME_LOW << 12) | (u_t[r] & 0xFFF)
            pos += 1
        y = u_y[r]
        if y >= 0 and (first_event or y != prev_y):
            out[pos] = (ADDR_Y << 12) | y
            pos += 1
        if y >= 0:
            prev_y = y
            first_event = False
        if u_base[r] >= 0:
            out[pos] = u_base[r]
            pos += 1
        out[pos] = u_word[r]
        pos += 1
        prev_high = high
        prev_t = u_t[r]
    state[_E_HIGH] = prev_high
    state[_E_T] = prev_t
    state[_E_Y] = prev_y
    return pos


class Evt3Encoder:
    """Stateful EVT 3.0 encoder: consecutive ``encode`` calls continue one stream.

    Events are written in (t, y, p, x) order at microsecond resolution (``t // 1000``):
    TIME_HIGH/TIME_LOW when the time changes, ADDR_Y when the row changes, and for each run of
    same-time, same-row, same-polarity events, 12-pixel blocks with at least two events as
    VECT_BASE_X + VECT_12 (chained blocks share the base; a chain's last block that fits in
    8 bits is a VECT_8), everything else as ADDR_X. Triggers become EXT_TRIGGER words.
    Every packet starts with TIME_HIGH, TIME_LOW and ADDR_Y, so a decoder that joins the
    stream late (a ROS subscriber) decodes from its first packet on. Decoding gives back the
    same events (as a multiset; order within one microsecond may change) and triggers. The
    clock carries only 24 bits: a decoder starting on this stream reconstructs times modulo
    2**24 us of the first one (exact if it is below 16.777216 s); gaps longer than one period
    are bridged with extra TIME_HIGH words.
    """

    encoding = "evt3"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = check_geometry(width, height, MAX_SIDE)
        # scratch reused by every packet (grown to the largest one)
        self._units = np.empty((4, 1024), np.int64)
        self._out = np.empty(8192, np.uint16)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the next packet begins with a full time)."""
        self._state = np.full(3, -1, np.int64)  # see _E_HIGH

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> bytes:
        """Encode one packet's events (and triggers); returns the payload bytes."""
        if (events.width, events.height) != (self.width, self.height):
            raise CodecError(
                f"events of a {events.width}x{events.height} sensor given to a "
                f"{self.width}x{self.height} encoder"
            )
        tr = NO_TRIGGERS if triggers is None else triggers
        if len(tr) and int(tr.id.max()) > 0xF:
            raise CodecError("EVT 3.0 trigger ids are 4 bits (0..15)")
        if len(events) + len(tr) == 0:
            return b""
        t_ev = events.t // 1000
        t_tr = tr.t // 1000
        t_min, t_max, order = _prepare(t_ev, events.y, events.p, events.x, t_tr)
        if t_min < 0:
            raise CodecError("EVT 3.0 cannot encode negative timestamps")
        last_high, last_t = int(self._state[_E_HIGH]), int(self._state[_E_T])
        if t_min < last_t:
            raise CodecError(f"time goes backwards across packets: {t_min} us < {last_t} us")
        if order.size == 1 and order[0] == _NEEDS_LEXSORT:
            order = np.lexsort((events.x, events.p, events.y, t_ev))
        tid, tval = tr.id, tr.value
        if t_tr.size > 1 and np.any(t_tr[1:] < t_tr[:-1]):
            o = np.argsort(t_tr, kind="stable")
            t_tr, tid, tval = t_tr[o], tid[o], tval[o]
        # room: at most 5 words per unit, plus TIME_HIGH words bridging long gaps
        n_units = len(events) + len(tr)
        ref = last_high if last_high >= 0 else t_min >> 12
        room = 5 * n_units + ((t_max >> 12) - ref) // _HIGH_STEP + 2
        if self._units.shape[1] < n_units:
            self._units = np.empty((4, max(n_units, 2 * self._units.shape[1])), np.int64)
        if self._out.size < room:
            self._out = np.empty(max(room, 2 * self._out.size), np.uint16)
        out = self._out
        m = _encode_words(t_ev, events.y, events.p, events.x, order, t_tr, tid, tval,
                          self._state, self._units, out)
        return out[:m].astype("<u2", copy=False).tobytes()

