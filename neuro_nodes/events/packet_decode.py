"""Decoding a batch of queued event packets, losing only the packets a decoder fails on.

Nodes queue the packets of one stream as they arrive and decode them in one
``decode_many`` call (the per-call cost is paid once per batch). A decoder that raises on
the batch is reset and the packets are decoded one by one, so only a packet that fails
again is lost; each failure is reported, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .event_array import EventArray


@dataclass
class PacketsDecoded:
    events: EventArray  # the decoded packets' events, in order
    errors: int  # problems the decoder counted in the bytes (corrupt words, ...)
    ok: list[int]  # indices of the packets that decoded
    failures: list[str]  # "Type: message" of each packet the decoder raised on


def decode_packets(decoder: Any, packets: Sequence[Any]) -> PacketsDecoded:
    """Decode ``packets`` (with ``.events`` and ``.time_base``) with ``decoder``."""
    try:
        r = decoder.decode_many([m.events for m in packets], [m.time_base for m in packets])
        return PacketsDecoded(r.events, r.errors, list(range(len(packets))), [])
    except Exception as err:  # a decoder bug must not take a node down
        decoder.reset()
        if len(packets) == 1:
            return PacketsDecoded(EventArray.empty(decoder.width, decoder.height), 0, [],
                                  [f"{type(err).__name__}: {err}"])
    parts = [decode_packets(decoder, [m]) for m in packets]
    return PacketsDecoded(
        EventArray.concatenate([p.events for p in parts], decoder.width, decoder.height),
        sum(p.errors for p in parts), [i for i, p in enumerate(parts) if p.ok],
        [f for p in parts for f in p.failures])


__all__ = ["PacketsDecoded", "decode_packets"]
