"""The events benchmark runs (quick mode) and reports what it promises; no timing checks."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("faery")

from benchmarks import events as bench  # noqa: E402


def test_quick_run_reports_positive_rates():
    res = bench.run(quick=True)
    json.dumps(res)  # one JSON object
    for key in ("evt3_decode_mevps", "faery_evt3_decode_mevps", "speedup_evt3_decode_vs_faery",
                "evt3_decode_per_packet_mevps", "speedup_evt3_decode_per_packet_vs_faery",
                "evt3_decode_batch40_mevps", "speedup_evt3_decode_batch40_vs_faery",
                "evt2_decode_mevps", "faery_evt2_decode_mevps", "evt3_encode_mevps",
                "evt2_encode_mevps", "faery_evt3_encode_mevps", "dense_evt3_decode_mevps",
                "faery_dense_evt3_decode_mevps", "evt3_bytes_per_event",
                "evt3_bytes_per_packet", "evt3_decode_all_tracemalloc_peak_bytes",
                "emulator_346x260_mevps", "emulator_346x260_fps", "emulator_640x480_mevps",
                "emulator_640x480_fps"):
        assert res[key] > 0, key
    assert res["jit_warmup_s"] >= 0
    # every way of decoding (per packet, per callback batch, file, faery) found all events
    assert not [k for k in res if k.endswith("_event_count_mismatch")]
    assert str(bench.CALLBACK_PACKETS) in res["data"]["decode_batch"]
    machine = res["machine"]
    assert machine["cpu_count"] > 0
    for key in ("platform", "numpy", "numba", "faery"):
        assert machine[key]
    assert res["data"]["davis_events"] > 0 and res["data"]["dense_events"] > 0
    assert "evt3 decode" in bench.table(res)  # the human-readable table renders
