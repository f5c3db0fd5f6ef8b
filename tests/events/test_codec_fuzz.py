"""Garbage in, no exception out: every decoder against random and mutated payloads."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.events.codecs import decoder_encodings, make_decoder, make_encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

W, H = 96, 64  # small, so that garbage often lands outside the sensor
ROUNDS = 700


def valid_payload(encoding: str, rng: np.random.Generator) -> bytes:
    """A plausible payload to mutate."""
    n = int(rng.integers(1, 400))
    if encoding in ("evt3", "evt2"):
        ev = EventArray(np.sort(rng.integers(0, 50_000_000, n)), rng.integers(0, W, n),
                        rng.integers(0, H, n), rng.integers(0, 2, n), W, H)
        tr = TriggerArray(np.sort(rng.integers(0, 50_000_000, 3)), [1, 2, 3], [1, 0, 1])
        return make_encoder(encoding, W, H).encode(ev, tr)
    if encoding == "libcaer":
        d = (rng.integers(0, W, n) << 17) | (rng.integers(0, H, n) << 2) | 3
        ts = np.sort(rng.integers(0, 2**31, n))
        return np.stack([d, ts], axis=1).astype("<u4").tobytes()
    if encoding == "mono":
        w = (rng.integers(0, 2, n).astype(np.uint64) << 63) | (
            rng.integers(0, H, n).astype(np.uint64) << 48
        ) | (rng.integers(0, W, n).astype(np.uint64) << 32) | rng.integers(0, 2**32, n).astype(
            np.uint64
        )
        return w.astype("<u8").tobytes()
    # libcaer_cmp: random words of the six known types
    return ((rng.integers(0, 6, n) << 12) | rng.integers(0, 4096, n)).astype("<u2").tobytes()


def mutate(payload: bytes, rng: np.random.Generator) -> bytes:
    b = np.frombuffer(payload, np.uint8).copy()
    kind = int(rng.integers(0, 5))
    if kind == 0 or b.size == 0:  # random bytes
        return rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes()
    if kind == 1:  # bit flips
        idx = rng.integers(0, b.size, int(rng.integers(1, 20)))
        b[idx] ^= (1 << rng.integers(0, 8, idx.size)).astype(np.uint8)
        return b.tobytes()
    if kind == 2:  # truncation at any byte
        return b[: int(rng.integers(0, b.size + 1))].tobytes()
    if kind == 3:  # a random slice, starting anywhere
        a = int(rng.integers(0, b.size))
        return b[a : a + int(rng.integers(0, b.size))].tobytes()
    return (b.tobytes() + rng.integers(0, 256, 64, dtype=np.uint8).tobytes()) * 2


def check(result, width: int, height: int) -> None:
    ev, tr = result.events, result.triggers
    assert (ev.t.dtype, ev.x.dtype, ev.y.dtype, ev.p.dtype) == (
        np.int64, np.uint16, np.uint16, np.uint8
    )
    assert ev.t.size == ev.x.size == ev.y.size == ev.p.size
    if len(ev):
        assert int(ev.x.max()) < width and int(ev.y.max()) < height and int(ev.p.max()) <= 1
    assert tr.t.size == tr.id.size == tr.value.size
    if len(tr):
        assert int(tr.value.max()) <= 1
    assert result.errors >= 0


@pytest.mark.parametrize("encoding", decoder_encodings())
def test_decoders_survive_garbage(encoding):
    rng = np.random.default_rng(sum(map(ord, encoding)))
    decoder = make_decoder(encoding, W, H)
    base = [valid_payload(encoding, rng) for _ in range(8)]
    for i in range(ROUNDS):
        payload = mutate(base[i % len(base)], rng)
        time_base = int(rng.integers(0, 2**64, dtype=np.uint64))
        if i % 7 == 0:
            result = decoder.decode_until(payload, time_base, int(rng.integers(0, 2**63)))
        else:
            result = decoder.decode(payload, time_base)
        check(result, W, H)
        if i % 97 == 0:
            decoder.reset()
    check(decoder.flush(), W, H)


@pytest.mark.parametrize("encoding", decoder_encodings())
def test_decode_many_of_garbage_is_sequential_decode(encoding):
    """Mutated payloads (bit flips, truncations at any byte, random slices, repeats) with
    random uint64 time bases: one ``decode_many`` per batch gives the events, triggers and
    error count of one ``decode`` per payload."""
    rng = np.random.default_rng(1000 + sum(map(ord, encoding)))
    base = [valid_payload(encoding, rng) for _ in range(8)]
    payloads = [mutate(base[i % len(base)], rng) for i in range(300)]
    bases = [int(b) for b in rng.integers(0, 2**64, len(payloads), dtype=np.uint64)]
    one, many = make_decoder(encoding, W, H), make_decoder(encoding, W, H)
    expected = [one.decode(p, tb) for p, tb in zip(payloads, bases, strict=True)]
    got, i = [], 0
    while i < len(payloads):
        n = int(rng.integers(1, 20))
        got.append(many.decode_many(payloads[i : i + n], bases[i : i + n]))
        check(got[-1], W, H)
        i += n
    ev = [EventArray.concatenate([r.events for r in rs]) for rs in (expected, got)]
    tr = [TriggerArray.concatenate([r.triggers for r in rs]) for rs in (expected, got)]
    assert ev[0].equals(ev[1]) and tr[0].equals(tr[1])
    assert sum(r.errors for r in expected) == sum(r.errors for r in got) > 0
