"""The accelerator benchmark runs (quick) and reports every key, with positive values."""

from __future__ import annotations

import pytest

pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

from benchmarks import accel as bench  # noqa: E402

ACTS = {"0.01", "0.05", "0.2"}


def test_quick_benchmark_has_the_keys_and_positive_values():
    res = bench.run(quick=True)
    for key in ("speedup_event_vs_dense", "speedup_event_vs_snntorch",
                "speedup_event_torch_vs_dense", "speedup_event_torch_vs_snntorch",
                "sops_per_inference", "dense_macs_per_inference", "dense_equivalent_j"):
        assert set(res[key]) == ACTS, key
        assert all(v > 0 for v in res[key].values()), key
    for backend in bench.BACKENDS:
        assert all(v > 0 for v in res["time_ms_per_inference"][backend].values())
    for profile in ("cmos45nm", "loihi", "truenorth"):
        assert all(v > 0 for v in res["energy_per_inference_j"][profile].values())
    assert set(res["energy_per_inference_j"]["speck"]) == ACTS  # None: no sourced figure
    assert all(res["identical_event_dense"].values())
    assert all(res["identical_event_torch_dense"].values())
    assert res["sops_per_inference"]["0.01"] < res["sops_per_inference"]["0.2"]
    assert "event" in bench.table(res)
