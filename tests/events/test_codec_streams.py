"""Stream codecs: hand-made word streams, encode/decode round trips, decode_until, registry."""

from __future__ import annotations

import array

import numpy as np
import pytest

from neuro_nodes.events.codecs import CodecError, make_decoder, make_encoder
from neuro_nodes.events.codecs.evt3 import Evt3Decoder, Evt3Encoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

W, H = 640, 480


def u16(*words: int) -> bytes:
    return np.array(words, dtype="<u2").tobytes()


def u32(*words: int) -> bytes:
    return np.array(words, dtype="<u4").tobytes()


def rows(ev: EventArray) -> list[tuple[int, int, int, int]]:
    return list(zip(ev.t.tolist(), ev.x.tolist(), ev.y.tolist(), ev.p.tolist(), strict=True))


def canonical(ev: EventArray) -> np.ndarray:
    order = np.lexsort((ev.x, ev.p, ev.y, ev.t))
    return np.stack([ev.t[order], ev.x[order], ev.y[order], ev.p[order]])


def random_events(rng: np.random.Generator, n: int, t_max_us: int) -> EventArray:
    """Scattered events plus same-time, same-row runs (vectors) and exact duplicates."""
    t = rng.integers(0, t_max_us, n)
    x = rng.integers(0, W, n)
    y = rng.integers(0, H, n)
    p = rng.integers(0, 2, n)
    k = n // 20  # runs of 10 events 2 px apart: a VECT_12 block, then a VECT_8 one
    run_t = np.repeat(rng.integers(0, t_max_us, k), 10)
    run_x = np.repeat(rng.integers(0, W - 40, k), 10) + np.tile(np.arange(0, 20, 2), k)
    run_y = np.repeat(rng.integers(0, H, k), 10)
    run_p = np.repeat(rng.integers(0, 2, k), 10)
    dup = rng.integers(0, n, n // 50)
    ev = EventArray(
        np.concatenate([t, run_t, t[dup]]) * 1000 + rng.integers(0, 1000),
        np.concatenate([x, run_x, x[dup]]),
        np.concatenate([y, run_y, y[dup]]),
        np.concatenate([p, run_p, p[dup]]),
        W,
        H,
    )
    return ev.sort()


def split_at(payload: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(payload)]
    return [payload[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


# ------------------------------------------------------------------------------- EVT 3.0
def test_evt3_handmade_stream():
    stream = u16(
        0x2000 | 3,  # ADDR_X before any time: dropped
        0x8001,  # TIME_HIGH 1 -> 4096 us
        0x6005,  # TIME_LOW 5 -> 4101 us
        0x0000 | 10,  # ADDR_Y 10
        0x2000 | 1 << 11 | 20,  # ADDR_X 20, ON
        0x3000 | 100,  # VECT_BASE_X 100, OFF
        0x4000 | 0b1000_0000_0101,  # VECT_12: 100, 102, 111; base -> 112
        0xE123, 0x7123, 0xF123,  # OTHERS, CONTINUED_4, CONTINUED_12: skipped
        0x5000 | 0b1000_0001,  # VECT_8: 112, 119; base -> 120
        0xA000 | 3 << 8 | 1,  # EXT_TRIGGER id 3 rising
        0x6006,  # TIME_LOW 6 -> 4102 us
        0x2000 | 5,  # ADDR_X 5, OFF
        0x4000 | 1,  # VECT_12 at the advanced base: 120
    )
    r = Evt3Decoder(W, H).decode(stream)
    t1, t2 = 4101_000, 4102_000
    assert rows(r.events) == [
        (t1, 20, 10, 1), (t1, 100, 10, 0), (t1, 102, 10, 0), (t1, 111, 10, 0),
        (t1, 112, 10, 0), (t1, 119, 10, 0), (t2, 5, 10, 0), (t2, 120, 10, 0),
    ]
    assert r.triggers.t.tolist() == [t1] and r.triggers.id.tolist() == [3]
    assert r.triggers.value.tolist() == [1]
    assert r.errors == 0


def test_evt3_time_starts_at_first_time_high():
    # as faery writes a stream: TIME_HIGH, then events before any TIME_LOW (low bits 0)
    r = Evt3Decoder(W, H).decode(u16(0x0000 | 1, 0x2000 | 2, 0x8002, 0x0000 | 4, 0x2000 | 5,
                                     0x6003, 0x2000 | 6))
    assert rows(r.events) == [(2 * 4096_000, 5, 4, 0), ((2 * 4096 + 3) * 1000, 6, 4, 0)]


def test_evt3_reserved_and_out_of_range_are_counted():
    dec = Evt3Decoder(100, 50)
    r = dec.decode(u16(
        0x8000, 0x6000, 0x0000 | 60,  # time 0, row 60 (>= height 50)
        0x2000 | 1,  # dropped: y out of range
        0x0000 | 1, 0x2000 | 150,  # dropped: x out of range
        0x3000 | 95, 0x4000 | 0xFFF,  # 95..106: 5 in range, 7 dropped
        0x1000, 0x9000, 0xB000, 0xC000, 0xD000,  # reserved types
    ))
    assert r.events.x.tolist() == [95, 96, 97, 98, 99]
    assert r.errors == 1 + 1 + 7 + 5


def test_evt3_clock_wrap_and_jitter():
    def at(high: int) -> list[int]:
        return [0x8000 | high, 0x6000 | 7, 0x2000 | 1]

    words = [0x0000 | 2]
    for high in (100, 95, 4000, 10, 600, 100):
        words += at(high)
    r = Evt3Decoder(W, H).decode(u16(*words))
    expected_high = [100, 95, 4000, 4096 + 10, 4096 + 600, 4096 + 100]
    assert (r.events.t // 1000).tolist() == [h * 4096 + 7 for h in expected_high]
    # 100 -> 95: jitter (<= 10 ticks, no error); 4000 -> 10: wrap; 600 -> 100: error, no wrap
    assert r.errors == 1
    wide = Evt3Decoder(W, H, wrap_tolerance=600).decode(u16(*words))
    assert wide.errors == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_evt3_round_trip_split_anywhere(seed):
    rng = np.random.default_rng(seed)
    ev = random_events(rng, 6000, 40_000_000)  # 40 s: crosses the 24-bit us wrap twice
    tr = TriggerArray(np.sort(rng.integers(0, 40_000_000_000, 40)), rng.integers(0, 16, 40),
                      rng.integers(0, 2, 40))
    enc = Evt3Encoder(W, H)
    bounds = np.linspace(0, 40_000_000_000, 7).astype(np.int64)
    payload = b"".join(
        enc.encode(ev.slice_time(a, b), tr.slice_time(a, b))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )
    words = np.frombuffer(payload, "<u2")
    assert {3, 4, 5} <= set((words >> 12).tolist())  # vectors were used
    base_at = np.flatnonzero((words >> 12) == 3)
    cuts = [2 * int(i) + 2 for i in base_at[:20]]  # between VECT_BASE_X and its vector
    cuts += rng.integers(0, len(payload), 60).tolist()  # anywhere, odd offsets included
    dec = Evt3Decoder(W, H)
    parts = [dec.decode(chunk) for chunk in split_at(payload, cuts)]
    got = EventArray.concatenate([p.events for p in parts])
    expected = EventArray(ev.t // 1000 * 1000, ev.x, ev.y, ev.p, W, H)
    np.testing.assert_array_equal(canonical(got), canonical(expected))
    assert got.is_sorted()
    triggers = TriggerArray.concatenate([p.triggers for p in parts])
    np.testing.assert_array_equal(triggers.t, tr.t // 1000 * 1000)
    np.testing.assert_array_equal(triggers.id, tr.id)
    assert sum(p.errors for p in parts) == 0


@pytest.mark.parametrize("encoding", ["evt3", "evt2", "libcaer_cmp"])
def test_internal_chunking_is_invisible(monkeypatch, encoding):
    rng = np.random.default_rng(7)
    ev = random_events(rng, 2000, 30_000_000)
    if encoding == "libcaer_cmp":  # random words of its six types
        payload = ((rng.integers(0, 6, 5000) << 12) | rng.integers(0, 4096, 5000)).astype("<u2")
        payload = payload.tobytes()
    else:
        payload = make_encoder(encoding, W, H).encode(ev)
    whole = make_decoder(encoding, W, H).decode(payload, 123)
    module = __import__(f"neuro_nodes.events.codecs.{encoding}", fromlist=["CHUNK_WORDS"])
    monkeypatch.setattr(module, "CHUNK_WORDS", 7)
    chunked = make_decoder(encoding, W, H).decode(payload, 123)
    assert chunked.events.equals(whole.events) and chunked.triggers.equals(whole.triggers)
    assert chunked.errors == whole.errors


@pytest.mark.parametrize("encoding", ["evt3", "evt2"])
def test_late_joiner_decodes_from_its_first_packet(encoding):
    ev = random_events(np.random.default_rng(8), 2000, 3_000_000)
    enc = make_encoder(encoding, W, H)
    first, second = ev.slice_time(None, 1_500_000_000), ev.slice_time(1_500_000_000)
    enc.encode(first)
    got = make_decoder(encoding, W, H).decode(enc.encode(second)).events
    expected = EventArray(second.t // 1000 * 1000, second.x, second.y, second.p, W, H)
    np.testing.assert_array_equal(canonical(got), canonical(expected))


@pytest.mark.parametrize("encoding", ["evt3", "evt2"])
def test_epoch_times_encode_compactly(encoding):
    t0 = 1_744_227_144_732_712_000  # ns since the epoch: far beyond either clock's period
    ev = EventArray(t0 + np.arange(5) * 1000, [1, 2, 3, 4, 5], [0] * 5, [1] * 5, W, H)
    payload = make_encoder(encoding, W, H).encode(ev)
    assert len(payload) <= 16 * 4
    got = make_decoder(encoding, W, H).decode(payload).events
    period_ns = (1 << (24 if encoding == "evt3" else 34)) * 1000
    assert (got.t - ev.t // 1000 * 1000).tolist() == [-(t0 // period_ns) * period_ns] * 5


def test_evt3_long_gap_is_bridged():
    ev = EventArray(np.array([5, 1_000_000, 90_000_000, 91_000_000]) * 1000,
                    [1, 2, 3, 4], [0, 0, 0, 0], [1, 0, 1, 0], W, H)
    r = Evt3Decoder(W, H).decode(Evt3Encoder(W, H).encode(ev))
    assert r.events.t.tolist() == ev.t.tolist()


def test_evt3_encoder_rejects_bad_input():
    enc = Evt3Encoder(W, H)
    enc.encode(EventArray([5_000_000], [1], [1], [1], W, H))
    with pytest.raises(CodecError, match="backwards"):
        enc.encode(EventArray([1_000_000], [1], [1], [1], W, H))
    with pytest.raises(CodecError, match="sensor"):
        enc.encode(EventArray.empty(10, 10))
    with pytest.raises(CodecError):
        Evt3Encoder(4096, 100)
    assert enc.encode(EventArray.empty(W, H)) == b""


# ------------------------------------------------------------------------------- EVT 2.0
def test_evt2_handmade_stream():
    stream = u32(
        1 << 28 | 9 << 11 | 9,  # CD before any TIME_HIGH: dropped
        0x8000_0000 | 3,  # TIME_HIGH 3 -> 192 us
        1 << 28 | 10 << 22 | 20 << 11 | 7,  # CD_ON t 202 us, x 20, y 7
        0xA << 28 | 5 << 22 | 17 << 8 | 1,  # trigger t 197 us, id 17, rising
        0 << 28 | 63 << 22 | 2047 << 11 | 5,  # CD_OFF x 2047: outside 640 -> dropped
        0xE000_0000, 0xD000_0000, 0xF000_0000,  # skipped
        0x2000_0000,  # reserved type: error
    )
    r = make_decoder("evt2", W, H).decode(stream)
    assert rows(r.events) == [(202_000, 20, 7, 1)]
    assert r.triggers.t.tolist() == [197_000] and r.triggers.id.tolist() == [17]
    assert r.errors == 2


@pytest.mark.parametrize("seed", [0, 1])
def test_evt2_round_trip_split_anywhere(seed):
    rng = np.random.default_rng(seed)
    ev = random_events(rng, 4000, 2_000_000)
    # a jump beyond half the 28-bit TIME_HIGH period (2**33 us) needs bridging words
    late = EventArray(ev.t[-50:] + (2**34 + 12_345) * 1000, ev.x[-50:], ev.y[-50:], ev.p[-50:],
                      W, H)
    tr = TriggerArray([1_000, 1_500_000_000], [31, 4], [1, 0])
    enc = make_encoder("evt2", W, H)
    payload = enc.encode(ev, tr) + enc.encode(late)
    dec = make_decoder("evt2", W, H)
    parts = [dec.decode(c) for c in split_at(payload, rng.integers(0, len(payload), 40).tolist())]
    got = EventArray.concatenate([p.events for p in parts])
    both = EventArray.concatenate([ev, late])
    expected = EventArray(both.t // 1000 * 1000, both.x, both.y, both.p, W, H)
    np.testing.assert_array_equal(canonical(got), canonical(expected))
    triggers = TriggerArray.concatenate([p.triggers for p in parts])
    assert triggers.t.tolist() == [1_000, 1_500_000_000] and triggers.id.tolist() == [31, 4]
    assert sum(p.errors for p in parts) == 0


# ------------------------------------------------------------------- libcaer, mono, cmp
def libcaer_payload(x, y, p, ts, valid=None) -> bytes:
    valid = np.ones(len(x), np.uint32) if valid is None else np.asarray(valid, np.uint32)
    data = (np.asarray(x, np.uint32) << 17) | (np.asarray(y, np.uint32) << 2)
    data |= (np.asarray(p, np.uint32) << 1) | valid
    out = np.empty((len(x), 2), "<u4")
    out[:, 0] = data
    out[:, 1] = np.asarray(ts, np.int64).astype(np.int32).view(np.uint32)
    return out.tobytes()


def test_libcaer_rollover_within_packet():
    top = 2**31
    tb = 1_700_000_000_000_000_000
    payload = libcaer_payload([1, 2, 3, 4], [5, 6, 7, 8], [1, 0, 1, 1],
                              [top - 3, top - 1, 2, 5])
    r = make_decoder("libcaer", W, H).decode(payload, tb)
    assert r.events.t.tolist() == [
        tb + (top - 3) * 1000, tb + (top - 1) * 1000, tb + (top + 2) * 1000, tb + (top + 5) * 1000
    ]
    assert r.events.x.tolist() == [1, 2, 3, 4] and r.events.y.tolist() == [5, 6, 7, 8]
    assert r.events.p.tolist() == [1, 0, 1, 1] and r.errors == 0


def test_libcaer_malformed():
    payload = libcaer_payload(
        [1, 2, 3, 700, 5], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0], [100, 90, -5, 110, 120],
        valid=[1, 1, 1, 1, 0],
    )
    r = make_decoder("libcaer", W, H).decode(payload + b"\x01\x02\x03", 0)
    # 90 < 100: small step back (error, kept); -5: negative (error, dropped); x=700 (error,
    # dropped); invalid mark: skipped silently; 3 trailing bytes: one error
    assert r.events.x.tolist() == [1, 2]
    assert r.errors == 4


def test_mono_synthetic():
    w = (np.array([1, 0], np.uint64) << 63) | (np.array([7, 479], np.uint64) << 48)
    w |= (np.array([3, 640], np.uint64) << 32) | np.array([10, 20], np.uint64)
    r = make_decoder("mono", W, H).decode(w.astype("<u8").tobytes() + b"\x00", 1000)
    assert rows(r.events) == [(1010, 3, 7, 1)]
    assert r.errors == 2  # x = 640 outside, trailing byte


def test_libcaer_cmp_handmade():
    dec = make_decoder("libcaer_cmp", 346, 260)
    first = dec.decode(u16(
        0x0001,  # TIME_HIGH 1 -> 4096 us
        0x1002,  # TIME_LOW 2
        0x2000 | 30,  # ADDR_X 30
        0x3000 | 1 << 11 | 40,  # ADDR_Y 40, ON -> event
        0x4000 | 100,  # VECT_BASE_Y 100, OFF
        0x5000 | 0b101,  # VECT_8 -> y 100, 102; base -> 108
    ), 1_000_000)
    t = 1_000_000 + 4098 * 1000
    assert rows(first.events) == [(t, 30, 40, 1), (t, 30, 100, 0), (t, 30, 102, 0)]
    # next packet: time restarts from its time_base, x and vector base carry over
    second = dec.decode(u16(0x5000 | 1, 0x7000), 5_000)
    assert rows(second.events) == [(5_000, 30, 108, 0)]
    assert second.errors == 1  # type 7 is not a libcaer_cmp word


# -------------------------------------------------------------------------- decode_until
def test_decode_until_slices_a_stream():
    rng = np.random.default_rng(3)
    ev = random_events(rng, 3000, 200_000)
    enc = Evt3Encoder(W, H)
    bounds = np.arange(0, 200_000_001, 25_000_000)
    payloads = [enc.encode(ev.slice_time(a, b)) for a, b in zip(bounds[:-1], bounds[1:],
                                                                strict=True)]
    dec = Evt3Decoder(W, H)
    frame = 10_000_000  # 10 ms frames, not aligned with the 25 ms packets
    end = frame
    frames = []
    for payload in payloads:
        frames.append(dec.decode_until(payload, 0, end).events)
        while dec.next_t_ns is not None and dec.next_t_ns >= end:
            end += frame  # frame complete: drain the buffer frame by frame
            frames.append(dec.decode_until(b"", 0, end).events)
    frames.append(dec.flush().events)
    assert dec.pending == 0
    got = EventArray.concatenate(frames)
    expected = Evt3Decoder(W, H).decode(b"".join(payloads)).events
    assert got.equals(expected)
    for f in frames[:-1]:
        assert len(f) == 0 or f.t.max() < end


def test_decode_flushes_buffer_first():
    dec = make_decoder("mono", W, H)
    w = np.arange(10, dtype=np.uint64) * 100  # t = 0..900 ns, x = y = 0
    r1 = dec.decode_until(w.astype("<u8").tobytes(), 0, 450)
    assert r1.events.t.tolist() == [0, 100, 200, 300, 400] and dec.pending == 5
    r2 = dec.decode(w[:2].astype("<u8").tobytes(), 10_000)
    assert r2.events.t.tolist() == [500, 600, 700, 800, 900, 10_000, 10_100]
    assert dec.pending == 0


# ------------------------------------------------------------------------ registry, input
def test_registry():
    with pytest.raises(CodecError, match="evt3") as info:
        make_decoder("evt4", W, H)
    assert "libcaer_cmp" in str(info.value) and "mono" in str(info.value)
    assert make_decoder(" EVT3 ", W, H).encoding == "evt3"
    with pytest.raises(CodecError, match="encoder"):
        make_encoder("mono", W, H)
    with pytest.raises(CodecError, match="sensor size"):
        make_decoder("evt3", 0, H)


def test_payload_kinds_decode_alike():
    payload = Evt3Encoder(W, H).encode(random_events(np.random.default_rng(4), 200, 10_000))
    expected = Evt3Decoder(W, H).decode(payload).events
    for kind in (bytearray(payload), memoryview(payload), np.frombuffer(payload, np.uint8),
                 array.array("B", payload), np.frombuffer(payload, "<u2")):
        assert Evt3Decoder(W, H).decode(kind).events.equals(expected)
    # a payload starting at an odd address (unaligned uint16 view) decodes the same
    shifted = np.frombuffer(b"\x00" + payload, np.uint8)[1:]
    assert Evt3Decoder(W, H).decode(shifted).events.equals(expected)
