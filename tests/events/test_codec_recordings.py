"""Decoders against real recordings, with the upstream projects' known answers.

Note: ``event_camera_py_test_events_2`` is encoded ``libcaer_cmp`` (a DAVIS346), not
``evt3``; its known answers hold for that decoder.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.events.codecs import make_decoder
from neuro_nodes.events.event_array import EventArray

U64 = 1 << 64


def decode_all(packets):
    encoding, width, height = packets[0][:3]
    decoder = make_decoder(encoding, width, height)
    results = [decoder.decode(payload, time_base) for *_, time_base, payload in packets]
    events = EventArray.concatenate([r.events for r in results])
    return events, results


def test_libcaer_cmp_recording(read_packets):
    packets = read_packets("event_camera_py_test_events_2")
    assert len(packets) == 100
    assert {p[:3] for p in packets} == {("libcaer_cmp", 346, 260)}
    events, results = decode_all(packets)
    assert events.off_count == 360_223
    assert events.on_count == 211_043
    assert sum(len(r.triggers) for r in results) == 0
    assert sum(r.errors for r in results) == 0
    t_us = events.t // 1000
    # event_camera_py sums sensor times in us relative to the first one
    assert int((t_us - t_us[0]).sum()) == 335_555_680_277
    assert t_us[0] == 1_744_227_144_732_712  # its find_first_sensor_time
    assert events.is_sorted()


def test_libcaer_rollover_recording(read_packets):
    packets = read_packets("event_camera_codecs_libcaer_rollover")
    assert len(packets) == 201
    assert {p[:3] for p in packets} == {("libcaer", 640, 480)}
    events, results = decode_all(packets)
    assert len(events) == 334_331
    assert int(events.x.sum(dtype=np.int64)) == 111_651_612
    assert int(events.y.sum(dtype=np.int64)) == 82_801_007
    assert events.on_count == 181_908
    assert sum(r.errors for r in results) == 0
    # event_camera_codecs' own checksums: time sum (mod 2**64), first packet's span and counts
    assert int(events.t.astype(np.uint64).sum(dtype=np.uint64)) == 15_762_826_572_202_229_126
    first = results[0].events
    assert int(first.t[0]) == 1_702_309_120_762_236_018
    assert int(first.t[-1]) == 1_702_309_120_772_213_018
    assert (first.off_count, first.on_count) == (741, 872)
    assert events.is_sorted()  # across the int32 rollover


def test_mono_recording(read_packets):
    packets = read_packets("event_camera_codecs_mono_cd")
    assert len(packets) == 2
    assert {p[:3] for p in packets} == {("mono", 640, 480)}
    events, results = decode_all(packets)
    assert len(events) == 100
    assert int(events.x.sum(dtype=np.int64)) == 34_450
    assert int(events.y.sum(dtype=np.int64)) == 26_450
    assert (events.on_count, events.off_count) == (50, 50)
    # upstream checksum of t is 4,950,000 ns: one event every 1000 ns from 0
    np.testing.assert_array_equal(events.t, np.arange(100) * 1000)


@pytest.mark.parametrize(
    ("until", "t_sum", "x_sum", "y_sum", "on", "held"),
    [  # event_camera_codecs mono decode_until tests: first / middle / last
        (50_000, 1_225_000, 17_225, 13_225, 25, 50),
        (80_000, 3_160_000, 27_260, 20_860, 40, 20),
        (49_000, 1_176_000, 16_856, 12_936, 24, 51),
    ],
)
def test_mono_decode_until(read_packets, until, t_sum, x_sum, y_sum, on, held):
    packets = read_packets("event_camera_codecs_mono_cd")
    decoder = make_decoder("mono", 640, 480)
    got = [decoder.decode_until(payload, tb, until).events for *_, tb, payload in packets]
    events = EventArray.concatenate(got)
    assert int(events.t.sum()) == t_sum
    assert int(events.x.sum(dtype=np.int64)) == x_sum
    assert int(events.y.sum(dtype=np.int64)) == y_sum
    assert events.on_count == on
    assert decoder.pending == held
    assert decoder.next_t_ns == until if held else decoder.next_t_ns is None
    rest = decoder.flush().events
    assert len(events) + len(rest) == 100 and decoder.pending == 0


@pytest.mark.parametrize(
    ("until", "t_sum_mod", "x_sum", "y_sum", "on"),
    [  # event_camera_codecs libcaer decode_until tests
        (1_702_309_120_762_236_018, 0, 0, 0, 0),
        (1_702_309_120_772_229_018, 15_706_488_888_233_371_866, 533_572, 401_707, 872),
        (1_702_309_120_773_239_018, 3_141_897_757_159_270_998, 582_593, 442_271, 951),
        (1_702_309_120_782_222_018, 12_099_893_362_926_800_844, 1_068_301, 808_043, 1_788),
    ],
)
def test_libcaer_decode_until(read_packets, until, t_sum_mod, x_sum, y_sum, on):
    packets = read_packets("event_camera_codecs_libcaer_rollover")
    decoder = make_decoder("libcaer", 640, 480)
    got = [decoder.decode_until(payload, tb, until).events for *_, tb, payload in packets[:4]]
    events = EventArray.concatenate(got)
    assert int(events.t.astype(np.uint64).sum(dtype=np.uint64)) % U64 == t_sum_mod
    assert int(events.x.sum(dtype=np.int64)) == x_sum
    assert int(events.y.sum(dtype=np.int64)) == y_sum
    assert events.on_count == on
    assert len(events) == 0 or int(events.t.max()) < until
