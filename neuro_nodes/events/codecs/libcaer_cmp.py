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

from neuro_nodes.events.codecs._kernels import drop_outside, jit
from neuro_nodes.events.codecs.base import (
    StreamDecoder,
    decode_in_chunks,
    output_buffers,
    wrap_output,
)
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

TIME_HIGH, TIME_LOW, ADDR_X, ADDR_Y, VECT_BASE_Y, VECT_8 = range(6)
#: Largest payload piece decoded in one go (words): bigger payloads are cut into pieces of
#: this size, decoded one after the other and joined.
CHUNK_WORDS = 1 << 21

# decoder state carried between payloads, the clock of the payload being decoded, and the
# decoder's settings (see ``_decode_words``)
_X, _BASE, _POL, _TIME, _WIDTH, _HEIGHT = range(6)


@jit
def _count(data: np.ndarray) -> int:
    """Room for the events of the whole words in ``data``: at least as many as they hold
    (ADDR_Y words, plus 8 per vector word when vector words are few, else their bits)."""
    words = data[: data.size // 2 * 2].view(np.uint16)
    n = words.size
    events = 0
    vectors = 0
    for start in range(0, n, 1 << 16):  # each field of ``acc`` holds up to 2**20 - 1
        acc = 0
        for i in range(start, min(start + (1 << 16), n)):
            typ = words[i] >> 12
            acc += np.int64(typ == ADDR_Y) + np.int64(typ == VECT_8) * (8 | 1 << 20)
        events += acc & 0xF_FFFF
        vectors += acc >> 20
    if vectors * 8 * 8 > events:  # vectors hold more than 1/8 of the room: count exactly
        for i in range(n):
            w = np.int64(words[i])
            if w >> 12 == VECT_8:
                v = w & 0xFF
                v = v - ((v >> 1) & 0x55)
                v = (v & 0x33) + ((v >> 2) & 0x33)
                events -= 8 - ((v + (v >> 4)) & 0x0F)
    return events


@jit
def _decode_words(
    data: np.ndarray, state: np.ndarray, time_base: int,
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
) -> tuple[int, int]:
    """Decode the whole words of ``data``, continuing ``state`` (updated in place).

    Writes the events to t/x/y/p (with the room ``_count`` asks for); returns the number of
    events written and the error count.
    """
    words = data[: data.size // 2 * 2].view(np.uint16)
    col = state[_X]
    base = state[_BASE]
    pol = state[_POL]
    time = state[_TIME]  # microseconds since time_base: (TIME_HIGH << 12) | TIME_LOW
    now = time_base + time * 1000
    k = 0
    errors = 0
    for i in range(words.size):
        w = np.int64(words[i])
        typ = w >> 12
        if typ == ADDR_Y:
            i_k = np.uint64(k)  # an unsigned index skips numba's negative-index fix-up
            t[i_k] = now
            x[i_k] = col
            y[i_k] = w & 0x7FF
            p[i_k] = (w >> 11) & 1
            k += 1
        elif typ == ADDR_X:
            col = w & 0x7FF
        elif typ == TIME_LOW:
            time = (time & 0xFFF000) | (w & 0xFFF)
            now = time_base + time * 1000
        elif typ == TIME_HIGH:
            time = (w & 0xFFF) << 12 | (time & 0xFFF)
            now = time_base + time * 1000
        elif typ == VECT_8:
            mask = w & 0xFF
            row = base
            while mask:
                if mask & 1:
                    i_k = np.uint64(k)
                    t[i_k] = now
                    x[i_k] = col
                    y[i_k] = row
                    p[i_k] = pol
                    k += 1
                mask >>= 1
                row += 1
            base = min(base + 8, 1 << 12)  # beyond any 11-bit sensor either way
        elif typ == VECT_BASE_Y:
            base = w & 0x7FF
            pol = (w >> 11) & 1
        else:
            errors += 1  # not a libcaer_cmp word (6, a 12-bit vector, is not produced)
    state[_X] = col
    state[_BASE] = base
    state[_POL] = pol
    state[_TIME] = time
    k, outside = drop_outside(t, x, y, p, k, state[_WIDTH], state[_HEIGHT])
    return k, errors + outside


class LibcaerCmpDecoder(StreamDecoder):
    """Stateful ``libcaer_cmp`` decoder (a compiled loop over the words, see ``_kernels``).

    Each payload holds whole words; an odd trailing byte is dropped and counted as an error.
    Errors also count events outside the sensor (dropped) and word types above 5 (skipped;
    type 6, a 12-bit vector, is not produced by the driver and ignored upstream too).
    """

    encoding = "libcaer_cmp"

    def __init__(self, width: int, height: int) -> None:
        super().__init__(width, height)
        self._state = np.zeros(6, np.int64)
        self._state[_WIDTH] = self.width
        self._state[_HEIGHT] = self.height

    def _reset_stream(self) -> None:
        self._state[:_TIME] = 0

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        self._state[_TIME] = 0  # the clock restarts with every packet
        return decode_in_chunks(data, 2 * CHUNK_WORDS,
                                lambda words: self._decode_words(words, time_base))

    def _decode_words(self, data: np.ndarray,
                      time_base: int) -> tuple[EventArray, TriggerArray, int]:
        t, x, y, p, trig = output_buffers(_count(data))
        k, errors = _decode_words(data, self._state, time_base, t, x, y, p)
        events, triggers = wrap_output(t, x, y, p, k, trig, 0, self.width, self.height)
        return events, triggers, errors + (data.size & 1)
