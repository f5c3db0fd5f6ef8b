"""``neuro bench sim --quick`` produces every key with a plausible value (no timing claims)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ros


def test_quick_bench_has_its_keys() -> None:
    from benchmarks import sim as bench

    res = bench.run(quick=True)
    assert res["rtf_mobile_robot_events"] > 0 and res["rtf_mobile_robot_events_core"] > 0
    assert res["bridge_event_packets"] > 0
    # CPU per simulated second (all threads) is the load-independent figure to compare
    for key in ("events", "events_core", "all_outputs"):
        assert 0 < res[f"cpu_per_sim_s_mobile_robot_{key}"] < 60
    assert res["load_average"] >= 0
    assert set(res["scenes"]) == {"room", "camera_rig", "mobile_robot", "swimmer"}
    assert res["scenes"]["mobile_robot"]["render_fps"]["346x260"]["rgb"] > 0
    assert "real-time factor" in bench.table(res) and "CPU s per sim s" in bench.table(res)
