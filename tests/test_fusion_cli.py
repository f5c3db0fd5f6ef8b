"""`neuro train fusion` and `neuro eval fusion`: real (tiny) runs through the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

NEURO = [sys.executable, "-m", "neuro_nodes.cli.main"]


def neuro(args: list[str], cache: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEURO_FUSION_CACHE": str(cache)}
    return subprocess.run([*NEURO, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.mark.parametrize("args", [
    ["train", "fusion", "--epochs", "0"],
    ["train", "fusion", "--samples-per-class", "0"],
    ["eval", "fusion", "--threads", "0"],
    ["eval", "fusion", "--seeds", "-1"],
])
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    r = neuro(args, tmp_path)
    assert r.returncode == 2, r.stderr
    assert "must be" in r.stderr


def test_train_then_load(tmp_path: Path) -> None:
    from neuro_nodes.perception.fusion.model import load

    r = neuro(["train", "fusion", "--epochs", "1", "--samples-per-class", "2",
               "--val-samples-per-class", "1", "--threads", "1", "--out",
               str(tmp_path / "m"), "--json"], tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["train_samples"] == 22 and summary["val_samples"] == 11
    net, meta = load(summary["model"])
    assert len(meta["class_names"]) == net.params.num_classes == 11
    assert meta["training"]["method"] == "iemf"


def test_eval_quick_json(tmp_path: Path) -> None:
    r = neuro(["eval", "fusion", "--quick", "--threads", "1", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    from sim.datasets.fusion import CONDITIONS

    for method in ("static", "iemf"):
        assert set(out[method]) == set(CONDITIONS)
        for cond in CONDITIONS:
            assert 0.0 <= out[method][cond]["mean"] <= 1.0
    assert out["epochs_ratio"] is None or math.isfinite(out["epochs_ratio"])
    assert "iemf_ge_static_everywhere" in out["summary"]
