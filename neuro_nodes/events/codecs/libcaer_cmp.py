"""``libcaer_cmp``: the compressed 16-bit format of the ROS ``libcaer_driver`` (iniVation DVS).

Word types (bits 15..12), as in ``event_camera_codecs`` ``libcaer_cmp_types.h``:
0 TIME_HIGH (time bits 23..12), 1 TIME_LOW (time bits 11..0), 2 ADDR_X (x = bits 10..0),
3 ADDR_Y (y = bits 10..0, polarity bit 11: one event at the current x), 4 VECT_BASE_Y (base y,
polarity bit 11), 5 VECT_8 (events at base y + i for the set bits 7..0, then base y += 8).
The time is an offset in microseconds from the packet's ``time_base`` (ns since the epoch) and
restarts at 0 with every packet; x, base y and polarity carry over between packets.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs import _kernels as K
from neuro_nodes.events.codecs.base import StreamDecoder, as_words
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

TIME_HIGH, TIME_LOW, ADDR_X, ADDR_Y, VECT_BASE_Y, VECT_8 = range(6)
CHUNK_WORDS = 1 << 16


class LibcaerCmpDecoder(StreamDecoder):
    """Stateful ``libcaer_cmp`` decoder, vectorised with numpy.

    Each payload holds whole words; an odd trailing byte is dropped and counted as an error.
    Errors also count events outside the sensor (dropped) and word types above 5 (skipped;
    type 6, a 12-bit vector, is not produced by the driver and ignored upstream too).
    """

    encoding = "libcaer_cmp"

    def __init__(self, width: int, height: int) -> None:
        super().__init__(width, height)
        self._scratch = np.empty(CHUNK_WORDS, dtype=np.uint64)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._x = 0
        self._base = 0
        self._pol = 0

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        words = as_words(data, "<u2")
        errors = data.size - words.size * 2
        self._time = 0  # (high << 12) | low, restarts every packet
        parts = [self._chunk(words[i : i + CHUNK_WORDS]) for i in range(0, words.size, CHUNK_WORDS)]
        if not parts:
            return EventArray.empty(self.width, self.height), TriggerArray.empty(), errors
        cols = list(zip(*parts, strict=True))
        t, x, y, p = (c[0] if len(c) == 1 else np.concatenate(c) for c in cols[:4])
        events, bad = self._events(t * 1000 + time_base, x, y, p)
        return events, TriggerArray.empty(), errors + sum(cols[4]) + bad

    def _chunk(self, w: np.ndarray) -> tuple:
        n = w.size
        typ = w >> 12
        pos_hi = np.flatnonzero(typ == TIME_HIGH)
        pos_lo = np.flatnonzero(typ == TIME_LOW)
        pos_x = np.flatnonzero(typ == ADDR_X)
        is_y = typ == ADDR_Y
        is_v8 = typ == VECT_8
        n_vec = int(np.count_nonzero(is_v8))
        pos_e = np.flatnonzero(is_y | is_v8) if n_vec else np.flatnonzero(is_y)
        errors = int(np.count_nonzero(typ > VECT_8))

        xs = w[pos_x] & 0x7FF
        lows = w[pos_lo] & 0xFFF
        highs = w[pos_hi] & 0xFFF
        state = K.packed_ffill(
            n,
            self._x | self._time << 11,
            [(pos_x, xs, 0, 11), (pos_lo, lows, 11, 12), (pos_hi, highs, 23, 12)],
            out=self._scratch,
        )
        if n:
            last = int(state[-1])
            self._x, self._time = last & 0x7FF, last >> 11

        if n_vec:
            pos_v, vbase, vpol, self._base, self._pol = K.vector_bases(
                typ, w, VECT_BASE_Y, {VECT_8: 8}, self._base, self._pol
            )
            self._base = min(self._base, 1 << 12)  # beyond any 11-bit sensor either way
        elif np.any(typ == VECT_BASE_Y):
            last_b = w[np.flatnonzero(typ == VECT_BASE_Y)[-1]]
            self._base, self._pol = int(last_b & 0x7FF), int(last_b >> 11 & 1)

        s = state[pos_e]
        t = (s >> 11).astype(np.int64)
        x = s & 0x7FF
        we = w[pos_e]
        if n_vec:
            vec = ((we >> 12) == VECT_8).nonzero()[0]
            base = (we & 0x7FF).astype(np.int64)
            base[vec] = vbase
            pol = (we >> 11) & 1
            pol[vec] = vpol
            mask = np.ones(we.size, dtype=np.uint16)
            mask[vec] = we[vec] & 0xFF
            word, bit = K.expand_masks(mask)
            y = base[word] + bit
            x, t, p = x[word], t[word], pol[word]
        else:
            y = we & 0x7FF
            p = (we >> 11) & 1
        return t, x, y, p, errors
