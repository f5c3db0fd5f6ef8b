"""``decode_many``: one call over consecutive packets gives what packet-by-packet decode gives.

Checked on the real recordings (as recorded, and re-encoded to EVT 3.0 / EVT 2.0 1 ms packets
with triggers), on random streams cut anywhere (mid-vector, odd byte offsets, across 24-bit
clock wraps), on garbage, and for every payload type a message or file reader hands over.
"""

from __future__ import annotations

import array

import numpy as np
import pytest

from neuro_nodes.events.codecs import CodecError, make_decoder, make_encoder
from neuro_nodes.events.codecs.base import as_u8, join_payloads
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray

W, H = 640, 480


def sequential(decoder, payloads, time_bases=None):
    """What a node decoding packet by packet collects."""
    bases = time_bases if time_bases is not None else [0] * len(payloads)
    parts = [decoder.decode(p, tb) for p, tb in zip(payloads, bases, strict=True)]
    return (EventArray.concatenate([r.events for r in parts]),
            TriggerArray.concatenate([r.triggers for r in parts]), sum(r.errors for r in parts))


def batched(decoder, payloads, sizes, time_bases=None):
    """The same packets through ``decode_many`` in consecutive batches of ``sizes``."""
    bases = time_bases if time_bases is not None else [0] * len(payloads)
    parts, i, k = [], 0, 0
    while i < len(payloads):
        n = int(sizes[k % len(sizes)])
        parts.append(decoder.decode_many(payloads[i : i + n], bases[i : i + n]))
        i, k = i + n, k + 1
    return (EventArray.concatenate([r.events for r in parts]),
            TriggerArray.concatenate([r.triggers for r in parts]), sum(r.errors for r in parts))


def assert_same(a, b) -> None:
    (ev_a, tr_a, err_a), (ev_b, tr_b, err_b) = a, b
    assert len(ev_a) == len(ev_b)
    assert ev_a.equals(ev_b)  # same events in the same order
    assert (ev_a.t.dtype, ev_a.x.dtype, ev_a.y.dtype, ev_a.p.dtype) == (
        ev_b.t.dtype, ev_b.x.dtype, ev_b.y.dtype, ev_b.p.dtype)
    assert tr_a.equals(tr_b)
    assert err_a == err_b


def random_stream(rng: np.random.Generator, n: int, t_max_us: int
                  ) -> tuple[EventArray, TriggerArray]:
    """Scattered events plus same-row runs (EVT 3.0 vectors), and triggers."""
    k = n // 10
    t = np.concatenate([rng.integers(0, t_max_us, n), np.repeat(rng.integers(0, t_max_us, k),
                                                                 10)])
    x = np.concatenate([rng.integers(0, W, n),
                        np.repeat(rng.integers(0, W - 30, k), 10) + np.tile(np.arange(10) * 3,
                                                                            k)])
    y = np.concatenate([rng.integers(0, H, n), np.repeat(rng.integers(0, H, k), 10)])
    p = np.concatenate([rng.integers(0, 2, n), np.repeat(rng.integers(0, 2, k), 10)])
    ev = EventArray(t * 1000, x, y, p, W, H).sort()
    m = 50
    tr = TriggerArray(np.sort(rng.integers(0, t_max_us, m)) * 1000, rng.integers(0, 16, m),
                      rng.integers(0, 2, m))
    return ev, tr


def encode_packets(encoding: str, ev: EventArray, tr: TriggerArray,
                   bounds: np.ndarray) -> list[bytes]:
    """One stream, a packet per time slice ``bounds[i]..bounds[i + 1]`` (ns)."""
    enc = make_encoder(encoding, ev.width, ev.height)
    return [enc.encode(ev.slice_time(a, b), tr.slice_time(a, b))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def encode_stream(encoding: str, ev: EventArray, tr: TriggerArray, n_packets: int) -> bytes:
    bounds = np.linspace(0, int(ev.t.max()) + 1, n_packets + 1).astype(np.int64)
    return b"".join(encode_packets(encoding, ev, tr, bounds))


def cut_anywhere(payload: bytes, rng: np.random.Generator, n_cuts: int,
                 extra: list[int] | None = None) -> list[bytes]:
    cuts = sorted(set(rng.integers(0, len(payload), n_cuts).tolist() + (extra or [])))
    edges = [0, *cuts, len(payload)]
    return [payload[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


# ----------------------------------------------------------------------- real recordings
@pytest.mark.parametrize("folder", ["event_camera_py_test_events_2",
                                    "event_camera_codecs_libcaer_rollover",
                                    "event_camera_codecs_mono_cd"])
def test_recordings_as_recorded(read_packets, folder):
    packets = read_packets(folder)
    encoding, width, height = packets[0][:3]
    payloads = [p[4] for p in packets]
    bases = [p[3] for p in packets]
    expected = sequential(make_decoder(encoding, width, height), payloads, bases)
    assert len(expected[0]) > 0
    for sizes in ([1], [7], [3, 1, 16], [len(payloads)]):
        got = batched(make_decoder(encoding, width, height), payloads, sizes, bases)
        assert_same(got, expected)


@pytest.mark.parametrize("encoding", ["evt3", "evt2"])
def test_davis_recording_reencoded_with_triggers(read_packets, encoding):
    """The real DAVIS346 stream in 1 ms packets, as a driver sends it, with triggers."""
    packets = read_packets("event_camera_py_test_events_2")
    dec = make_decoder("libcaer_cmp", 346, 260)
    ev = EventArray.concatenate([dec.decode(p[4], p[3]).events for p in packets])
    ev = EventArray(ev.t - ev.t[0], ev.x, ev.y, ev.p, 346, 260)
    assert len(ev) == 571_266  # the recording's known answer (360,223 OFF + 211,043 ON)
    rng = np.random.default_rng(5)
    tr = TriggerArray(np.sort(rng.integers(0, int(ev.t.max()), 200)), rng.integers(0, 8, 200),
                      np.arange(200) % 2)
    payloads = [p for p in encode_packets(encoding, ev, tr,
                                          np.arange(0, int(ev.t.max()) + 1_000_001, 1_000_000))
                if p]
    assert len(payloads) > 900
    expected = sequential(make_decoder(encoding, 346, 260), payloads)
    assert len(expected[0]) == len(ev) and len(expected[1]) == len(tr)
    assert int(expected[0].p.sum()) == 211_043
    for sizes in ([10], [40], [1, 2, 33, 5], [len(payloads)]):
        assert_same(batched(make_decoder(encoding, 346, 260), payloads, sizes), expected)


# -------------------------------------------------------------------------- random streams
@pytest.mark.parametrize("encoding", ["evt3", "evt2"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_streams_cut_anywhere(encoding, seed):
    """40 s of stream (two 24-bit microsecond wraps), cut at random byte offsets (odd ones,
    mid-word and between a vector base and its vector included), batched at random."""
    rng = np.random.default_rng(seed)
    ev, tr = random_stream(rng, 4000, 40_000_000)
    payload = encode_stream(encoding, ev, tr, 9)
    extra = []
    if encoding == "evt3":
        words = np.frombuffer(payload, "<u2")
        assert {3, 4, 5} <= set((words >> 12).tolist())  # vectors are in the stream
        extra = [2 * int(i) + 2 for i in np.flatnonzero((words >> 12) == 3)[:30]]
    pieces = cut_anywhere(payload, rng, 150, extra)
    assert any(len(p) % 2 for p in pieces)
    expected = sequential(make_decoder(encoding, W, H), pieces)
    assert len(expected[0]) == len(ev) and len(expected[1]) == len(tr)
    assert int(expected[0].t.max()) > 2 * (1 << 24) * 1000  # past two wraps
    sizes = rng.integers(1, 25, 40).tolist()
    assert_same(batched(make_decoder(encoding, W, H), pieces, sizes), expected)


@pytest.mark.parametrize("encoding", ["evt3", "evt2", "libcaer_cmp", "libcaer", "mono"])
def test_garbage_counts_the_same_errors(encoding):
    """Random bytes (reserved words, out-of-sensor events, backward clocks) give the same
    events and error count either way."""
    rng = np.random.default_rng(11)
    pieces = [rng.integers(0, 256, int(rng.integers(0, 700)), dtype=np.uint8).tobytes()
              for _ in range(120)]
    bases = rng.integers(0, 1 << 40, len(pieces)).tolist()
    bases[7] = 1 << 64 - 1  # a uint64 time_base beyond int64: one error either way
    expected = sequential(make_decoder(encoding, 96, 64), pieces, bases)
    assert expected[2] > 0
    got = batched(make_decoder(encoding, 96, 64), pieces, [1, 5, 17, 2], bases)
    assert_same(got, expected)


def test_decode_many_after_decode_until_returns_the_buffered_events_first():
    rng = np.random.default_rng(3)
    ev, tr = random_stream(rng, 2000, 100_000)
    payloads = cut_anywhere(encode_stream("evt3", ev, tr, 10), rng, 30)
    a = make_decoder("evt3", W, H)
    first = a.decode_until(payloads[0], 0, int(ev.t[len(ev) // 40]))
    assert a.pending > 0
    rest = a.decode_many(payloads[1:])
    assert a.pending == 0
    got = EventArray.concatenate([first.events, rest.events])
    assert got.equals(make_decoder("evt3", W, H).decode(b"".join(payloads)).events)


def test_decode_many_edge_cases():
    dec = make_decoder("evt3", W, H)
    empty = dec.decode_many([])
    assert len(empty.events) == 0 and len(empty.triggers) == 0 and empty.errors == 0
    assert (empty.events.width, empty.events.height) == (W, H)
    with pytest.raises(CodecError, match="2 payloads but 1 time bases"):
        dec.decode_many([b"", b""], [0])


# ---------------------------------------------------------------------------- zero copy
def payload_kinds(payload: bytes) -> dict[str, object]:
    odd = np.frombuffer(b"\x00" + payload, np.uint8)[1:]  # starts at an odd address
    return {
        "bytes": payload,
        "bytearray": bytearray(payload),
        "memoryview": memoryview(payload),
        "ndarray": np.frombuffer(payload, np.uint8),
        "array.array": array.array("B", payload),  # what rclpy gives for uint8[]
        "unaligned": odd,
        "non-contiguous": np.repeat(np.frombuffer(payload, np.uint8), 2)[::2],
    }


@pytest.mark.parametrize("encoding", ["evt3", "evt2"])
def test_payload_kinds_give_identical_results(encoding):
    rng = np.random.default_rng(4)
    ev, tr = random_stream(rng, 1500, 2_000_000)
    pieces = cut_anywhere(encode_stream(encoding, ev, tr, 5), rng, 40)
    expected = sequential(make_decoder(encoding, W, H), pieces)
    assert len(expected[0]) == len(ev)
    for name in payload_kinds(b""):
        kinds = [payload_kinds(p)[name] for p in pieces]
        got = batched(make_decoder(encoding, W, H), kinds, [6, 1, 11])
        assert_same(got, expected)
        mixed = [payload_kinds(p)[list(payload_kinds(b""))[i % 7]] for i, p in
                 enumerate(pieces)]
        assert_same(batched(make_decoder(encoding, W, H), mixed, [4, 9]), expected)


def test_single_payloads_are_viewed_not_copied():
    payload = bytes(range(256)) * 4
    for kind in (payload, bytearray(payload), memoryview(payload), array.array("B", payload),
                 np.frombuffer(payload, np.uint8)):
        view = as_u8(kind)
        assert np.shares_memory(view, np.frombuffer(kind, np.uint8)), type(kind)
        assert np.shares_memory(join_payloads([kind]), np.frombuffer(kind, np.uint8))
    joined = join_payloads([payload[:100], array.array("B", payload[100:])])
    assert joined.tobytes() == payload
