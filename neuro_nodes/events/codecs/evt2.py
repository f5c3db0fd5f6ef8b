"""Prophesee EVT 2.0: one 32-bit word per event, plus TIME_HIGH words for the clock.

Word types (bits 31..28; Prophesee "EVT 2.0" docs): 0x0 CD_OFF / 0x1 CD_ON (y = bits 10..0,
x = bits 21..11, time bits 5..0 in bits 27..22), 0x8 EVT_TIME_HIGH (time bits 33..6 in bits
27..0), 0xA EXT_TRIGGER (value bit 0, id bits 12..8, time bits 5..0 in bits 27..22),
0xD/0xE/0xF (skipped). Timestamps are the unwrapped 34-bit microsecond sensor clock, in ns;
the packet's ``time_base`` is not used.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs._kernels import jit
from neuro_nodes.events.codecs.base import (
    NO_TRIGGERS,
    CodecError,
    StreamDecoder,
    check_geometry,
    decode_in_chunks,
    output_buffers,
    wrap_output,
)
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

CD_OFF, CD_ON, TIME_HIGH, EXT_TRIGGER = 0x0, 0x1, 0x8, 0xA
SKIPPED = (0xD, 0xE, 0xF)
MAX_SIDE = 1 << 11
#: Largest payload piece decoded in one go (words): bigger payloads are cut into pieces of
#: this size, decoded one after the other and joined.
CHUNK_WORDS = 1 << 20
_HIGH_BITS = 28
_HIGH_STEP = 1 << (_HIGH_BITS - 1)  # largest TIME_HIGH step the encoder writes

# decoder state carried between payloads and the decoder's settings (see ``_decode_words``)
_EPOCH, _HIGH, _WIDTH, _HEIGHT, _TOL = range(5)
_NO_BYTES = np.empty(0, np.uint8)
_NO_ORDER = np.empty(0, np.intp)


@jit
def _count(data: np.ndarray) -> tuple[int, int]:
    """The CD events and triggers in the whole words of ``data``."""
    words = data[: data.size // 4 * 4].view(np.uint32)
    acc = 0
    for i in range(words.size):
        typ = words[i] >> 28
        acc += np.int64(typ <= CD_ON) + (np.int64(typ == EXT_TRIGGER) << 32)
    return acc & 0xFFFF_FFFF, acc >> 32


@jit
def _decode_words(
    data: np.ndarray, state: np.ndarray,
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, trig: np.ndarray,
) -> tuple[int, int, int]:
    """Decode the whole words of ``data``, continuing ``state`` (updated in place).

    Writes the events to t/x/y/p and the triggers' t/id/value to the rows of ``trig`` (sized
    by ``_count``); returns the numbers of events and triggers written and the error count.
    """
    words = data[: data.size // 4 * 4].view(np.uint32)
    epoch = state[_EPOCH]
    high = state[_HIGH]
    width = state[_WIDTH]
    height = state[_HEIGHT]
    tolerance = state[_TOL]
    valid = np.int64(high >= 0)  # events count from the stream's first TIME_HIGH on
    high_ns = ((epoch << _HIGH_BITS) + high) * 64_000
    k = 0
    kt = 0
    errors = 0
    for i in range(words.size):
        w = np.int64(words[i])
        typ = w >> 28
        if typ <= CD_ON:
            col = (w >> 11) & 0x7FF
            row = w & 0x7FF
            i_k = np.uint64(k)  # an unsigned index skips numba's negative-index fix-up
            t[i_k] = high_ns + ((w >> 22) & 0x3F) * 1000
            x[i_k] = col
            y[i_k] = row
            p[i_k] = typ
            inside = np.int64(col < width) & np.int64(row < height)
            k += valid & inside
            errors += valid & (inside ^ 1)
        elif typ == TIME_HIGH:
            raw = w & 0xFFF_FFFF
            if high >= 0:
                back = high - raw
                if back >= _HIGH_STEP:  # half the 28-bit period or more: a wrap
                    epoch += 1
                elif back > tolerance:
                    errors += 1
            high = raw
            valid = 1
            high_ns = ((epoch << _HIGH_BITS) + high) * 64_000
        elif typ == EXT_TRIGGER:
            if valid:
                trig[0, kt] = high_ns + ((w >> 22) & 0x3F) * 1000
                trig[1, kt] = (w >> 8) & 0x1F
                trig[2, kt] = w & 1
                kt += 1
        elif typ < SKIPPED[0]:
            errors += 1  # reserved word type
    state[_EPOCH] = epoch
    state[_HIGH] = high
    return k, kt, errors


class Evt2Decoder(StreamDecoder):
    """Stateful EVT 2.0 decoder (a compiled loop over the words, see ``_kernels``).

    Payloads are consecutive pieces of one byte stream: a word split between payloads is
    completed by the next one (not an error). Events before the first TIME_HIGH are dropped
    silently (their time is unknown). Errors counted: events outside the sensor (dropped),
    reserved word types (skipped), and TIME_HIGH steps backwards by more than
    ``wrap_tolerance`` ticks (of 64 us) but less than half the 28-bit period (not a wrap).
    """

    encoding = "evt2"
    joins_payloads = True

    def __init__(self, width: int, height: int, wrap_tolerance: int = 0) -> None:
        super().__init__(width, height)
        self._state = np.zeros(5, np.int64)
        self._state[_WIDTH] = self.width
        self._state[_HEIGHT] = self.height
        self.wrap_tolerance = wrap_tolerance
        self._reset_stream()

    @property
    def wrap_tolerance(self) -> int:
        """Backward TIME_HIGH steps (ticks of 64 us) taken as jitter, not errors."""
        return int(self._state[_TOL])

    @wrap_tolerance.setter
    def wrap_tolerance(self, value: int) -> None:
        self._state[_TOL] = int(value)

    def _reset_stream(self) -> None:
        self._state[_EPOCH] = 0
        self._state[_HIGH] = -1  # no TIME_HIGH yet
        self._tail = _NO_BYTES  # bytes of a word split between payloads

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        if self._tail.size and data.size:
            data = np.concatenate((self._tail, data))
            self._tail = _NO_BYTES
        if data.size & 3:
            self._tail = data[data.size // 4 * 4 :].copy()
        return decode_in_chunks(data, 4 * CHUNK_WORDS, self._decode_words)

    def _decode_words(self, data: np.ndarray) -> tuple[EventArray, TriggerArray, int]:
        n, n_trig = _count(data)
        t, x, y, p, trig = output_buffers(n, n_trig)
        k, kt, errors = _decode_words(data, self._state, t, x, y, p, trig)
        return (*wrap_output(t, x, y, p, k, trig, kt, self.width, self.height), errors)


@jit
def _prepare(T: np.ndarray, TT: np.ndarray) -> tuple[int, int, bool]:
    """The earliest and latest microsecond of events ``T`` and triggers ``TT`` (not both
    empty), and whether ``T`` is sorted."""
    lo = T[0] if T.size else TT[0]
    hi = lo
    is_sorted = True
    for i in range(T.size):
        lo = min(lo, T[i])
        hi = max(hi, T[i])
        if i > 0 and T[i] < T[i - 1]:
            is_sorted = False
    for v in TT:
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi, is_sorted


@jit
def _encode_words(
    T: np.ndarray, X: np.ndarray, Y: np.ndarray, P: np.ndarray, order: np.ndarray,
    TT: np.ndarray, TID: np.ndarray, TVAL: np.ndarray, state: np.ndarray, out: np.ndarray,
) -> int:
    """Write the words of one packet to ``out`` (with room for all); returns how many.

    Events (microseconds ``T``) are visited in ``order`` (empty: as given), triggers
    (``TT``) are sorted; events go first among equal times. ``state`` (TIME_HIGH last
    written, -1 for a new stream; microseconds last written) is read and updated.
    """
    n = T.size
    ordered = order.size > 0
    prev_high = state[0]
    new_stream = prev_high < 0
    t = state[1]
    pos = 0
    i = 0
    j = 0
    while i < n or j < TT.size:
        e = (order[i] if ordered else i) if i < n else 0
        if i < n and (j >= TT.size or T[e] <= TT[j]):
            t = T[e]
            word = np.int64(P[e]) << 28 | np.int64(X[e]) << 11 | np.int64(Y[e])
            i += 1
        else:
            t = TT[j]
            word = EXT_TRIGGER << 28 | np.int64(TID[j]) << 8 | np.int64(TVAL[j])
            j += 1
        high = t >> 6
        gap = high - prev_high
        n_high = (gap + _HIGH_STEP - 1) // _HIGH_STEP if gap > 0 else 0
        if pos == 0:  # every packet starts with the time (one word for a new stream)
            n_high = 1 if new_stream else max(n_high, 1)
        for h in range(n_high):  # bridging steps of at most _HIGH_STEP, then the target
            value = high if h == n_high - 1 else prev_high + _HIGH_STEP * (h + 1)
            out[pos] = TIME_HIGH << 28 | (value & 0xFFF_FFFF)
            pos += 1
        out[pos] = word | (t & 0x3F) << 22
        pos += 1
        prev_high = high
    state[0] = prev_high
    state[1] = t
    return pos


class Evt2Encoder:
    """Stateful EVT 2.0 encoder: consecutive ``encode`` calls continue one stream.

    Events and triggers are written in time order at microsecond resolution (``t // 1000``),
    with a TIME_HIGH word whenever bits 33..6 of the time change (gaps beyond half the 28-bit
    period are bridged with extra TIME_HIGH words), and at the start of every packet, so a
    decoder that joins late decodes from its first packet on. A decoder starting on this stream
    reconstructs times modulo 2**34 us of the first one.
    """

    encoding = "evt2"

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = check_geometry(width, height, MAX_SIDE)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the next packet begins with a TIME_HIGH)."""
        self._state = np.full(2, -1, np.int64)  # TIME_HIGH and microseconds last written

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> bytes:
        """Encode one packet's events (and triggers); returns the payload bytes."""
        if (events.width, events.height) != (self.width, self.height):
            raise CodecError(
                f"events of a {events.width}x{events.height} sensor given to a "
                f"{self.width}x{self.height} encoder"
            )
        tr = NO_TRIGGERS if triggers is None else triggers
        if len(tr) and int(tr.id.max()) > 0x1F:
            raise CodecError("EVT 2.0 trigger ids are 5 bits (0..31)")
        n_units = len(events) + len(tr)
        if n_units == 0:
            return b""
        t_ev = events.t // 1000
        t_tr = tr.t // 1000
        t_min, t_max, ev_sorted = _prepare(t_ev, t_tr)
        if t_min < 0:
            raise CodecError("EVT 2.0 cannot encode negative timestamps")
        last_high, last_t = int(self._state[0]), int(self._state[1])
        if t_min < last_t:
            raise CodecError(f"time goes backwards across packets: {t_min} us < {last_t} us")
        order = _NO_ORDER if ev_sorted else np.argsort(t_ev, kind="stable")
        tid, tval = tr.id, tr.value
        if t_tr.size > 1 and np.any(t_tr[1:] < t_tr[:-1]):
            o = np.argsort(t_tr, kind="stable")
            t_tr, tid, tval = t_tr[o], tid[o], tval[o]
        # room: a word per event and trigger, each after TIME_HIGH words (bridging long gaps)
        ref = last_high if last_high >= 0 else t_min >> 6
        out = np.empty(2 * n_units + ((t_max >> 6) - ref) // _HIGH_STEP + 2, np.uint32)
        m = _encode_words(t_ev, events.x, events.y, events.p, order, t_tr, tid, tval,
                          self._state, out)
        return out[:m].astype("<u4", copy=False).tobytes()
