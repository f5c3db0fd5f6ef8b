"""``neuro train dense-flow``: argument errors, a short real run on simulated TRAIN_SPECS
(model files the estimator loads, selected on a validation sequence, a summary line,
reproducible with a fixed seed, different with another)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from neuro_nodes.cli.main import main
from neuro_nodes.perception.dense_flow import DenseFlowSNNEstimator, load_config
from neuro_nodes.perception.types import PinholeCamera


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("event_motion_cache")


def quick_args(out: Path, cache: Path, *more: str) -> list[str]:
    return ["train", "dense-flow", "--epochs", "2", "--duration", "0.15", "--sequences", "1",
            "--val-sequences", "1", "--val-every", "1", "--cache-dir", str(cache),
            "--out", str(out), *more]


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["--duration", "0.05"], "--duration: must be >= 0.15 s"),
    (["--sequences", "0"], "--sequences: must be >= 1, got 0"),
    (["--val-sequences", "0"], "--val-sequences: must be >= 1, got 0"),
    (["--val-every", "0"], "--val-every: must be >= 1, got 0"),
])
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "dense-flow", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("neuro train dense-flow:")


def test_out_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("keep")
    assert main(["train", "dense-flow", "--out", str(f)]) == 2
    assert "--out:" in capsys.readouterr().err and f.read_text() == "keep"


def test_short_training_writes_a_model_the_estimator_loads(
        tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(quick_args(tmp_path / "a", cache, "--json")) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("train_loss", "val_aee", "val_zero_aee", "time_s"):
        assert math.isfinite(summary[key]) and summary[key] >= 0, key
    assert summary["best_epoch"] in (1, 2) and len(summary["history"]) == 2
    assert summary["val_aee"] == min(h["val_aee"] for h in summary["history"])
    assert summary["parameters"] > 1000
    model = Path(summary["model"])
    assert model == tmp_path / "a" / "dense_flow.nir" and model.is_file()
    cfg, meta = load_config(model)
    assert meta["training"]["seed"] == 0
    assert meta["training"]["val_sequences"] == ["rotation-checker-x1-s1000"]  # not a test seed
    assert "neuro train dense-flow" in meta["training"]["command"]
    est = DenseFlowSNNEstimator(PinholeCamera.from_fovy(346, 260, 60.0), model)
    assert est.cfg == cfg
    # the same seed gives the same model; the text summary is one line
    assert main(quick_args(tmp_path / "b", cache)) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("dense-flow: train EPE") and "val AEE" in line
    _, meta_b = load_config(tmp_path / "b" / "dense_flow.nir")
    assert meta_b["training"]["val_aee"] == meta["training"]["val_aee"]
    assert (tmp_path / "b" / "dense_flow.nir").read_bytes() == model.read_bytes()
    # another seed: another model (the seed reaches the initialisation and augmentation)
    assert main(quick_args(tmp_path / "c", cache, "--seed", "1")) == 0
    assert (tmp_path / "c" / "dense_flow.nir").read_bytes() != model.read_bytes()
    assert load_config(tmp_path / "c" / "dense_flow.nir")[1]["training"]["seed"] == 1
