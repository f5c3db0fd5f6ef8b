"""``neuro eval mapping``: the JSON contract, the table and summary line, bad arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from neuro_nodes.cli.main import main

os.environ.setdefault("MUJOCO_GL", "egl")

KEYS = ("sdf_l1_near_m", "sdf_l1_free_m", "chamfer_m", "completion_ratio", "update_hz",
        "query_ms_10k", "memory_mb", "clear_updates")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mapping_eval_cache")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["eval", "mapping", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_quick_json_shape(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("open3d")
    out = run_json(capsys, "--quick", "--methods", "tsdf,no_such_mapper", "--cache", str(cache))
    assert out["task"] == "mapping" and out["quick"] is True and out["noise"] is True
    assert out["sequences"] == ["room-s0"] and out["moving_sequence"] == "room-s0-moving"
    assert set(out["methods"]) == {"tsdf"}
    assert any("no_such_mapper: not registered" in n for n in out["notes"])
    r = out["methods"]["tsdf"]
    for key in KEYS:
        assert key in r
    # the baseline maps the room: a few cm near surfaces, a mesh close to the truth
    assert 0 < r["sdf_l1_near_m"] < 0.05
    assert 0 < r["chamfer_m"] < 0.15 and 0.3 < r["completion_ratio"] <= 1.0
    assert r["update_hz"] > 0 and r["query_ms_10k"] > 0 and r["memory_mb"] > 0
    assert r["frames"] == 15 and r["near_points"] > 500 and r["free_points"] > 500
    assert r["sequences"]["room-s0"]["sdf_l1_near_m"] == pytest.approx(r["sdf_l1_near_m"])
    clearing = r["clearing"]
    assert clearing["sequence"] == "room-s0-moving" and clearing["old_points"] > 100
    assert len(clearing["cleared_fraction"]) == 5
    assert clearing["old_surface_l1_before_m"] < 0.05  # the object was mapped before it moved
    assert clearing["cleared_fraction"][-1] > clearing["cleared_fraction"][0]
    assert r["clear_updates"] == clearing["clear_updates"]


def test_table_and_summary_line(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("open3d")
    assert main(["eval", "mapping", "--quick", "--frames", "4", "--no-moving", "--methods",
                 "tsdf", "--cache", str(cache)]) == 0
    text = capsys.readouterr().out
    assert "neuro eval mapping" in text and "eval mapping: tsdf L1 near" in text
    assert "clear n/a" in text  # no moving run asked for


def test_parameter_overrides(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("open3d")
    base = ["--quick", "--frames", "3", "--no-moving", "--methods", "tsdf", "--cache",
            str(cache)]
    fine = run_json(capsys, *base, "--param", "tsdf.voxel_size=0.05")
    coarse = run_json(capsys, *base, "--param", "tsdf.voxel_size=0.1")
    assert coarse["params"] == {"tsdf": {"voxel_size": 0.1}}
    assert coarse["methods"]["tsdf"]["memory_mb"] < 0.5 * fine["methods"]["tsdf"]["memory_mb"]
    # an integer for a float field is coerced (open3d takes no int there)
    ranged = run_json(capsys, *base, "--param", "tsdf.max_range_m=7")
    assert ranged["params"] == {"tsdf": {"max_range_m": 7.0}}
    # a parameter the mapper does not have, or out of range: a clear error
    assert main(["eval", "mapping", *base, "--param", "tsdf.no_such=1"]) == 2
    assert "unknown parameter 'no_such'" in capsys.readouterr().err
    assert main(["eval", "mapping", *base, "--param", "tsdf.voxel_size=-1"]) == 2
    assert "voxel_size" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--param", "voxel_size=1"], ["--param", "neural.x=1"],
                                  ["--frames", "1"], ["--scene", "room-s7"],
                                  ["--scene", "room-s0-moving"]])
def test_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "mapping", "--methods", "tsdf", *args]) == 2
    assert "neuro eval:" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_json_both_methods(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out = run_json(capsys, "--quick", "--cache", str(cache))
    assert set(out["methods"]) == {"neural", "tsdf"}
    for r in out["methods"].values():
        for key in KEYS:
            assert key in r
        assert r["sdf_l1_near_m"] is not None and r["chamfer_m"] is not None


def test_evaluation_points_are_fixed(cache: Path) -> None:
    """Every method (and every run) is scored on the same points."""
    import numpy as np

    from sim.datasets.mapping import TEST_SPECS, make_sequence
    from sim.eval.mapping import EvalConfig, truth_for

    seq = make_sequence(TEST_SPECS[0], cache)
    a, b = truth_for(seq, EvalConfig.quick(3)), truth_for(seq, EvalConfig.quick(3))
    np.testing.assert_array_equal(a.points.near, b.points.near)
    np.testing.assert_array_equal(a.points.free, b.points.free)
    np.testing.assert_array_equal(a.surface, b.surface)
    np.testing.assert_array_equal(a.query_points, b.query_points)
    assert a.frames == range(3) and np.abs(a.points.near_true).max() <= 0.1
