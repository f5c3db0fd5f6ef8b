"""``mono``: the simple 64-bit-per-event format of ``event_camera_codecs``.

One little-endian uint64 per event: bit 63 polarity, bits 62..48 y, bits 47..32 x, bits
31..0 time offset in ns from the packet's ``time_base`` (ns).
"""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.codecs.base import StreamDecoder, as_words
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray


class MonoDecoder(StreamDecoder):
    """``mono`` decoder (stateless per packet). Errors: events outside the sensor and a
    trailing partial event (both dropped)."""

    encoding = "mono"

    def _reset_stream(self) -> None:
        pass

    def _decode(self, data: np.ndarray, time_base: int) -> tuple[EventArray, TriggerArray, int]:
        w = as_words(data, "<u8")
        errors = int(data.size % 8 != 0)
        t = (w & 0xFFFFFFFF).astype(np.int64)
        t += time_base
        events, bad = self._events(
            t, (w >> 32) & 0xFFFF, (w >> 48) & 0x7FFF, (w >> 63).astype(np.uint8)
        )
        return events, TriggerArray.empty(), errors + bad
