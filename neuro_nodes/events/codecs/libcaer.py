"""``libcaer``: iniVation polarity events as the ROS ``libcaer_driver`` packs them.

8 bytes per event (little endian): a uint32 (bit 0 valid mark, bit 1 polarity, bits 16..2 y,
bits 31..17 x) and an int32 microsecond timestamp that rolls over at 2**31 us (~36 min).
Following ``event_camera_codecs``, the packet's ``time_base`` (ns) carries the sensor time:
the driver's start time plus the rollovers so far, so an event's time is
``time_base + 1000 * timestamp``, plus 2**31 us for each rollover *within* the packet.
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs.base import StreamDecoder, as_words
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

_ROLLOVER_US = 1 << 31


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
        words = as_words(data, "<u4")
        errors = int(data.size % 8 != 0)
        words = words[: words.size // 2 * 2].reshape(-1, 2)
        d = words[:, 0]
        ts = words[:, 1].view("<i4").astype(np.int64)
        keep = (d & 1).astype(bool)
        negative = ts < 0
        if negative.any():
            errors += int(np.count_nonzero(negative & keep))
            keep &= ~negative
        if not keep.all():
            d, ts = d[keep], ts[keep]
        if ts.size > 1:
            back = ts[:-1] - ts[1:]
            rolls = back >= _ROLLOVER_US // 2
            errors += int(np.count_nonzero((back > 0) & ~rolls))
            if rolls.any():
                ts[1:] += np.cumsum(rolls) * _ROLLOVER_US
        events, bad = self._events(
            ts * 1000 + time_base, (d >> 17) & 0x7FFF, (d >> 2) & 0x7FFF, (d >> 1) & 1
        )
        return events, TriggerArray.empty(), errors + bad
