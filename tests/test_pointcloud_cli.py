"""``neuro train pointcloud`` and ``neuro eval pointcloud``: argument errors, tiny real
training runs (one epoch, one training room or one cloud per class; the VAL split is always
whole), and the quick evaluation's JSON (slow: it renders the whole TRAIN split for the
baselines, even with --quick)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from neuro_nodes.cli.main import main
from neuro_nodes.perception.pointcloud_model import load


@pytest.fixture(autouse=True)
def keep_threads():  # noqa: ANN201 - the commands set torch's thread count; restore it
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pointcloud_cache")


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs: must be >= 1, got 0"),
    (["--samples-per-class", "0"], "--samples-per-class: must be >= 1, got 0"),
    (["--rooms", "0"], "--rooms: must be >= 1, got 0"),
    (["--threads", "0"], "--threads and --views-per-room must be >= 1"),
    (["--views-per-room", "0"], "--threads and --views-per-room must be >= 1"),
])
def test_train_bad_arguments_exit_2(args: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "pointcloud", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("neuro train pointcloud:")


def test_train_out_that_is_a_file_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("keep")
    assert main(["train", "pointcloud", "--out", str(f)]) == 2
    assert "--out:" in capsys.readouterr().err and f.read_text() == "keep"


def train_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["train", "pointcloud", "--epochs", "1", *args, "--json"]) == 0
    (summary,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return summary


def check_summary(s: dict, task: str, key: str, out: Path, stem: str) -> None:
    assert s["task"] == task and s["best_epoch"] == 1
    assert 0 <= s[key] <= 1 and s[key] == s["val"][key.removeprefix("val_")]
    assert s["parameters"] > 10_000 and math.isfinite(s["time_s"]) and s["time_s"] > 0
    assert Path(s["model"]) == out / f"{stem}.json" and (out / f"{stem}.pt").is_file()
    m = load(s["model"])
    assert m.task == task and m.num_parameters == s["parameters"]
    training = m.meta["training"]
    assert training["command"].startswith("neuro train") and training["config"]["seed"] == 0
    assert training[key] == s[key]


def test_train_segmentation_tiny(tmp_path: Path, cache: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sim.datasets import pointclouds as pc

    s = train_json(capsys, "--task", "segmentation", "--rooms", "1", "--views-per-room", "1",
                   "--out", str(tmp_path), "--cache-dir", str(cache))
    check_summary(s, "segmentation", "val_miou", tmp_path, "pointcloud_seg")
    assert s["train_clouds"] == 1 and s["val_clouds"] == 5 * 8  # VAL: 5 rooms, 8 views each
    assert s["train_split"]["seeds"][0] == pc.SEGMENTATION_ROOMS["train"][0]
    m = load(s["model"])
    assert m.class_names == pc.SEGMENTATION_CLASSES and m.voxelize.mode == "metric"
    cloud = pc.load("val", kind="segmentation", cache_dir=cache).cloud(0)
    labels = m.predict(cloud).point_labels
    assert labels.shape == (len(cloud),) and labels.max() < len(pc.SEGMENTATION_CLASSES)


def test_train_classification_tiny(tmp_path: Path, cache: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from sim.datasets import pointclouds as pc

    s = train_json(capsys, "--task", "classification", "--samples-per-class", "1",
                   "--out", str(tmp_path), "--cache-dir", str(cache))
    check_summary(s, "classification", "val_top1", tmp_path, "pointcloud_cls")
    n = len(pc.CLASSIFICATION_CLASSES)
    assert s["train_clouds"] == n and s["val_clouds"] == pc.CLASSIFICATION_SIZES["val"] * n
    m = load(s["model"])
    assert m.class_names == pc.CLASSIFICATION_CLASSES and m.voxelize.mode == "normalised"
    p = m.predict(pc.load("val", cache_dir=cache).cloud(0)).class_probs
    assert p.shape == (n,) and p.sum() == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------- eval
@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrained models of the shipped architectures, saved as model files."""
    from neuro_nodes.perception.e3dsnn import E3DSNN
    from neuro_nodes.perception.pointcloud_model import PointCloudModel, save
    from sim.datasets import pointclouds as pc
    from sim.train import pointcloud as tp

    root = tmp_path_factory.mktemp("untrained")
    torch.manual_seed(0)
    out = {}
    for task, names, vox, stem in (
            ("classification", pc.CLASSIFICATION_CLASSES, tp.CLASSIFICATION_VOXELS, "cls"),
            ("segmentation", pc.SEGMENTATION_CLASSES, tp.SEGMENTATION_VOXELS, "seg")):
        net = E3DSNN(tp.network_params(task, len(names)))
        out[task] = save(PointCloudModel(task, net, vox, names), root / f"pointcloud_{stem}")
    return out


def test_eval_bad_threads_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "pointcloud", "--threads", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "neuro eval pointcloud: --threads must be >= 1, got 0"


def test_eval_bad_models_exit_2(tmp_path: Path, untrained: dict[str, Path],
                                capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.json"
    assert main(["eval", "pointcloud", "--cls-model", str(missing),
                 "--seg-model", str(untrained["segmentation"])]) == 2
    assert str(missing) in capsys.readouterr().err
    # the two models swapped: each is of the other task
    assert main(["eval", "pointcloud", "--cls-model", str(untrained["segmentation"]),
                 "--seg-model", str(untrained["classification"])]) == 2
    assert "a segmentation model, expected classification" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_quick_json(cache: Path, untrained: dict[str, Path],
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "pointcloud", "--quick", "--json", "--threads", "1",
                 "--cls-model", str(untrained["classification"]),
                 "--seg-model", str(untrained["segmentation"]), "--cache", str(cache)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quick"] is True and out["backend"] == "torch"
    m = out["summary"]
    for key in ("top1", "miou", "ms_per_cloud", "energy_ratio_snn_vs_ann"):
        assert math.isfinite(m[key]), key
    assert 0 <= m["top1"] <= 1 and 0 <= m["miou"] <= 1 and m["ms_per_cloud"] > 0
    assert 0 < m["energy_ratio_snn_vs_ann"] < 1
    assert out["latency"]["segmentation"]["points"] == 10_000
    assert out["classification"]["snn"]["clouds"] == 2 * len(out["classification"]["snn"][
        "per_class_acc"])
    assert np.isfinite(out["energy"]["segmentation"]["ann"]["macs"])
