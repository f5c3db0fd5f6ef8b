"""``libcaer``: iniVation polarity events as the ROS ``libcaer_driver`` packs them.

8 bytes per event (little endian): a uint32 (bit 0 valid mark, bit 1 polarity, bits 16..2 y,
bits 31..17 x) and an int32 microsecond timestamp that rolls over at 2**31 us (~36 min).
Following ``event_camera_codecs``, the packet's ``time_base`` (ns) carries the sensor time:
the driver's start time plus the rollovers so far, so an event's time is
``time_base + 1000 * timestamp``, plus 2**31 us for each rollover *within* the packet.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs._kernels import jit
from neuro_nodes.events.codecs.base import NO_TRIGGERS, StreamDecoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

_ROLLOVER_US = 1 << 31



@jit
def _decode_events(
    data: np.ndarray, time_base: int, width: int, height: int,
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
) -> tuple[int, int]:
    """Decode the whole events of ``data`` into t/x/y/p (room for one per 8 bytes); returns
    the number written and the error count."""
    words = data[: data.size // 8 * 8].view(np.uint32)
    k = 0
    errors = 0
    prev = -1  # stamp of the previous valid event
    rolled = 0  # microseconds added by the rollovers so far
    for i in range(0, words.size, 2):
        d = np.int64(words[i])
        if not d & 1:  # valid mark clear: skipped, as libcaer does
            continue
        ts = np.int64(np.int32(words[i + 1]))
        if ts < 0:
            errors += 1
            continue
        if prev >= 0:
            back = prev - ts
            if back >= _ROLLOVER_US // 2:
                rolled += _ROLLOVER_US
            elif back > 0:
                errors += 1  # a small step back: kept, the time follows the stamp
        prev = ts
        col = (d >> 17) & 0x7FFF
        row = (d >> 2) & 0x7FFF
        if col < width and row < height:
            i_k = np.uint64(k)  # an unsigned index skips numba's negative-index fix-up
            t[i_k] = (ts + rolled) * 1000 + time_base
            x[i_k] = col
            y[i_k] = row
            p[i_k] = (d >> 1) & 1
            k += 1
        else:
            errors += 1
    return k, errors


class LibcaerDecoder(StreamDecoder):
    """``libcaer`` decoder (no state between packets beyond the ``decode_until`` buffer).

    A rollover is a timestamp that drops by at least 2**30 us from the previous event's; a
    smaller drop is counted as an error (the time follows the stamp). Events whose valid mark
    is clear are skipped, as libcaer does (not errors). Errors also count negative stamps and
    events outside the sensor (both dropped) and a trailing partial event (dropped).
    """

    encoding = "libcaer"

    def _reset_stream(self) -> None:
        pass

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        n = data.size // 8
        t = np.empty(n, np.int64)
        x = np.empty(n, np.uint16)
        y = np.empty(n, np.uint16)
        p = np.empty(n, np.uint8)
        k, errors = _decode_events(data, time_base, self.width, self.height, t, x, y, p)
        if k < n:  # events skipped or dropped
            t, x, y, p = t[:k], x[:k], y[:k], p[:k]
        events = EventArray.unchecked(t, x, y, p, self.width, self.height)
        return events, NO_TRIGGERS, errors + (data.size % 8 != 0)
