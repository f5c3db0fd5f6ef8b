"""Prophesee EVT 2.0: one 32-bit word per event, plus TIME_HIGH words for the clock.

Word types (bits 31..28; Prophesee "EVT 2.0" docs): 0x0 CD_OFF / 0x1 CD_ON (y = bits 10..0,
x = bits 21..11, time bits 5..0 in bits 27..22), 0x8 EVT_TIME_HIGH (time bits 33..6 in bits
27..0), 0xA EXT_TRIGGER (value bit 0, id bits 12..8, time bits 5..0 in bits 27..22),
0xD/0xE/0xF (skipped). Timestamps are the unwrapped 34-bit microsecond sensor clock, in ns;
the packet's ``time_base`` is not used.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs import _kernels as K
from neuro_nodes.events.codecs.base import CodecError, StreamDecoder, as_words, check_geometry
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

CD_OFF, CD_ON, TIME_HIGH, EXT_TRIGGER = 0x0, 0x1, 0x8, 0xA
SKIPPED = (0xD, 0xE, 0xF)
MAX_SIDE = 1 << 11
CHUNK_WORDS = 1 << 16
_HIGH_BITS = 28
_HIGH_STEP = 1 << (_HIGH_BITS - 1)  # largest TIME_HIGH step the encoder writes
_EMPTY_I64 = np.empty(0, np.int64)


class Evt2Decoder(StreamDecoder):
    """Stateful EVT 2.0 decoder, vectorised with numpy.

    Payloads are consecutive pieces of one byte stream: a word split between payloads is
    completed by the next one (not an error). Events before the first TIME_HIGH are dropped
    silently (their time is unknown). Errors counted: events outside the sensor (dropped),
    reserved word types (skipped), and TIME_HIGH steps backwards by more than
    ``wrap_tolerance`` ticks (of 64 us) but less than half the 28-bit period (not a wrap).
    """

    encoding = "evt2"

    def __init__(self, width: int, height: int, wrap_tolerance: int = 0) -> None:
        super().__init__(width, height)
        self.wrap_tolerance = int(wrap_tolerance)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._tail = np.empty(0, np.uint8)
        self._epoch = 0
        self._last_high: int | None = None

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        if self._tail.size:
            data = np.concatenate((self._tail, data))
        words = as_words(data, "<u4")
        self._tail = data[words.size * 4 :].copy()
        parts = [self._chunk(words[i : i + CHUNK_WORDS]) for i in range(0, words.size, CHUNK_WORDS)]
        if not parts:
            return EventArray.empty(self.width, self.height), TriggerArray.empty(), 0
        cols = list(zip(*parts, strict=True))
        t, x, y, p, tt, tid, tval = (c[0] if len(c) == 1 else np.concatenate(c) for c in cols[:7])
        events, bad = self._events(t, x, y, p)
        return events, TriggerArray.unchecked(tt, tid, tval), sum(cols[7]) + bad

    def _chunk(self, w: np.ndarray) -> tuple:
        n = w.size
        typ = w >> 28
        is_hi = typ == TIME_HIGH
        pos_hi = is_hi.nonzero()[0]
        pos_cd = (typ <= CD_ON).nonzero()[0]
        pos_tr = (typ == EXT_TRIGGER).nonzero()[0]
        n_skip = sum(int(np.count_nonzero(typ == c)) for c in SKIPPED)
        errors = n - pos_hi.size - pos_cd.size - pos_tr.size - n_skip

        high_before = (self._epoch << _HIGH_BITS) + (self._last_high or 0)
        first_valid = -1 if self._last_high is not None else (int(pos_hi[0]) if pos_hi.size else n)
        if pos_hi.size:
            raw = w[pos_hi] & 0xFFFFFFF
            highs, self._epoch, err = K.unwrap_counter(
                raw, self._last_high, self._epoch, _HIGH_BITS, self.wrap_tolerance
            )
            errors += err
            self._last_high = int(raw[-1])
        else:
            highs = _EMPTY_I64
        high_ns = np.concatenate(([high_before], highs)) * (64 * 1000)
        rank = np.cumsum(is_hi, dtype=np.int32) if pos_hi.size else None
        if first_valid >= 0:
            pos_cd = pos_cd[np.searchsorted(pos_cd, first_valid) :]
            pos_tr = pos_tr[np.searchsorted(pos_tr, first_valid) :]

        def times(pos: np.ndarray, words: np.ndarray) -> np.ndarray:
            t = ((words >> 22) & 0x3F).astype(np.int64)
            t *= 1000
            t += high_ns[0] if rank is None else high_ns[rank[pos]]
            return t

        wc = w[pos_cd]
        wt = w[pos_tr]
        return (
            times(pos_cd, wc),
            (wc >> 11) & 0x7FF,
            wc & 0x7FF,
            (wc >> 28).astype(np.uint8),
            times(pos_tr, wt),
            ((wt >> 8) & 0x1F).astype(np.uint8),
            (wt & 1).astype(np.uint8),
            errors,
        )


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
        self._last_high: int | None = None
        self._last_t = -1

    def encode(self, events: EventArray, triggers: TriggerArray | None = None) -> bytes:
        """Encode one packet's events (and triggers); returns the payload bytes."""
        if (events.width, events.height) != (self.width, self.height):
            raise CodecError(
                f"events of a {events.width}x{events.height} sensor given to a "
                f"{self.width}x{self.height} encoder"
            )
        tr = TriggerArray.empty() if triggers is None else triggers
        if len(tr) and int(tr.id.max()) > 0x1F:
            raise CodecError("EVT 2.0 trigger ids are 5 bits (0..31)")
        t = np.concatenate((events.t // 1000, tr.t // 1000))
        if t.size == 0:
            return b""
        if int(t.min()) < 0:
            raise CodecError("EVT 2.0 cannot encode negative timestamps")
        if int(t.min()) < self._last_t:
            raise CodecError(
                f"time goes backwards across packets: {int(t.min())} us < {self._last_t} us"
            )
        lsb = (t & 0x3F).astype(np.uint32) << 22
        word = np.concatenate((
            (events.p.astype(np.uint32) << 28)
            | (events.x.astype(np.uint32) << 11)
            | events.y.astype(np.uint32),
            (np.uint32(EXT_TRIGGER) << 28) | (tr.id.astype(np.uint32) << 8) | tr.value,
        )) | lsb
        order = np.argsort(t, kind="stable")
        t, word = t[order], word[order]

        high = t >> 6
        prev = np.empty_like(high)
        prev[0] = -1 if self._last_high is None else self._last_high
        prev[1:] = high[:-1]
        gap = high - prev
        n_high = np.where(gap > 0, (gap + _HIGH_STEP - 1) // _HIGH_STEP, 0)
        # every packet starts with the time (for late joiners; one word for a new stream)
        n_high[0] = 1 if self._last_high is None else max(n_high[0], 1)
        n_words = n_high + 1
        start = np.cumsum(n_words) - n_words
        out = np.empty(int(n_words.sum()), dtype=np.uint32)
        hu = np.repeat(np.arange(t.size), n_high)
        j = np.arange(hu.size) - (np.cumsum(n_high) - n_high)[hu]
        hval = np.where(j == n_high[hu] - 1, high[hu], prev[hu] + _HIGH_STEP * (j + 1))
        out[start[hu] + j] = (np.uint32(TIME_HIGH) << 28) | (hval & 0xFFFFFFF).astype(np.uint32)
        out[start + n_high] = word
        self._last_high = int(high[-1])
        self._last_t = int(t[-1])
        return out.astype("<u4", copy=False).tobytes()
