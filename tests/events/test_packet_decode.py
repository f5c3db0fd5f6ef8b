"""decode_packets: one batch call, and on a decoder failure only the failing packet is lost."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from neuro_nodes.events.codecs.base import DecodeResult
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.packet_decode import decode_packets
from neuro_nodes.events.trigger_array import TriggerArray


class OneEventPerByteDecoder:
    """A decoder (the Decoder protocol's decode_many/reset) that raises on b"bad"."""

    width, height = 4, 4

    def __init__(self) -> None:
        self.calls, self.resets = 0, 0

    def decode_many(self, payloads, time_bases=None) -> DecodeResult:  # noqa: ANN001
        self.calls += 1
        if any(bytes(p) == b"bad" for p in payloads):
            raise RuntimeError("boom")
        n = sum(len(p) for p in payloads)
        z = np.zeros(n, np.int64)
        ev = EventArray(np.arange(n, dtype=np.int64), z, z, z + 1,
                        4, 4)
        return DecodeResult(ev, TriggerArray.empty(), errors=sum(p == b"x" for p in payloads))

    def reset(self) -> None:
        self.resets += 1


def packet(data: bytes) -> SimpleNamespace:
    return SimpleNamespace(events=data, time_base=0)


def test_one_call_for_a_good_batch() -> None:
    dec = OneEventPerByteDecoder()
    out = decode_packets(dec, [packet(b"ab"), packet(b"x"), packet(b"cde")])
    assert dec.calls == 1 and dec.resets == 0
    assert len(out.events) == 6 and out.errors == 1 and out.ok == [0, 1, 2]
    assert out.failures == []


def test_a_failing_packet_is_the_only_one_lost() -> None:
    dec = OneEventPerByteDecoder()
    out = decode_packets(dec, [packet(b"ab"), packet(b"bad"), packet(b"cde")])
    assert out.ok == [0, 2] and len(out.events) == 5
    assert out.failures == ["RuntimeError: boom"] and dec.resets == 2
    single = decode_packets(dec, [packet(b"bad")])
    assert single.ok == [] and len(single.events) == 0 and single.failures == ["RuntimeError: boom"]
