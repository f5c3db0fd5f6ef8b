"""Cut an event stream into ``EventPacket`` payloads, as a driver does.

A packet closes when it holds ``max_events`` events or spans ``max_dt_ns`` (the
driver's ``event_message_size_threshold`` / ``event_message_time_threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuro_nodes.events.codecs.base import Encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray


@dataclass(frozen=True)
class PacketPayload:
    """One ``EventPacket``'s worth of encoded events (fields named as in the message).

    ``time_base`` is the first event's time (ns); EVT 3.0 decoders ignore it, as the
    payload carries its own clock.
    """

    encoding: str
    width: int
    height: int
    time_base: int
    events: bytes
    n_events: int
    t_last_ns: int


def to_packets(events: EventArray, encoder: Encoder | str = "evt3", *,
               max_events: int = 100_000, max_dt_ns: int = 1_000_000,
               triggers: TriggerArray | None = None) -> list[PacketPayload]:
    """Cut time-ordered events into packets and encode each payload.

    A packet holds at most ``max_events`` events spanning less than ``max_dt_ns`` (the first
    event to fall ``max_dt_ns`` or more after the packet's first starts the next packet; 1 ms
    by default, like a driver's time threshold). ``triggers`` go into the packet whose time
    span holds them (those before the first event into the first, after the last event into
    the last; with no events, one packet of triggers), so payload times never go backwards.
    ``encoder`` is an encoding name (a fresh encoder, so a fresh stream, per call) or an
    encoder from ``neuro_nodes.events.codecs.base.make_encoder``; pass the same encoder for
    every call of one stream, since stream encoders carry clock state between packets.
    """
    if max_events < 1 or max_dt_ns < 1:
        raise ValueError("max_events and max_dt_ns must be positive")
    if isinstance(encoder, str):
        from neuro_nodes.events.codecs.base import make_encoder

        encoder = make_encoder(encoder, events.width, events.height)
    events = events.sort()
    triggers = TriggerArray.empty() if triggers is None else triggers.sort()
    t = events.t
    bounds: list[tuple[int, int]] = []
    i, n = 0, len(events)
    while i < n:
        end = min(i + max_events, int(np.searchsorted(t, t[i] + max_dt_ns, side="left")))
        bounds.append((i, end))
        i = end
    if not bounds:
        if not len(triggers):
            return []
        return [PacketPayload(encoder.encoding, events.width, events.height,
                              int(triggers.t[0]), encoder.encode(events, triggers), 0,
                              int(triggers.t[-1]))]
    # trigger k goes to the last packet starting at or before it (the first packet if none)
    starts = t[[b for b, _ in bounds]]
    which = np.maximum(np.searchsorted(starts, triggers.t, side="right") - 1, 0)
    cuts = np.searchsorted(which, np.arange(len(bounds) + 1), side="left")
    packets: list[PacketPayload] = []
    for k, (i, end) in enumerate(bounds):
        chunk = events[i:end]
        tr = triggers[int(cuts[k]):int(cuts[k + 1])] if len(triggers) else None
        t_last = int(t[end - 1]) if tr is None or not len(tr) else max(int(t[end - 1]),
                                                                        int(tr.t[-1]))
        packets.append(PacketPayload(
            encoding=encoder.encoding, width=events.width, height=events.height,
            time_base=int(t[i]), events=encoder.encode(chunk, tr), n_events=end - i,
            t_last_ns=t_last,
        ))
    return packets
