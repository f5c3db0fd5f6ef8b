"""Point-cloud model files and predict(): round trip, load errors naming the file, bad clouds,
segmentation of clouds with NaN and out-of-box points, the ANN twin."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neuro_nodes.perception.e3dsnn import E3DSNN, E3DSNNParams
from neuro_nodes.perception.pointcloud_model import PointCloudModel, load, save
from neuro_nodes.perception.voxelize import VoxelizeParams

NET = E3DSNNParams(num_classes=3, num_seg_classes=4, stem_channels=8, stage_channels=(8, 16),
                   stage_depth=(1, 1), seg_hidden=8)
SEG_BOX = VoxelizeParams(mode="metric", voxel_size=0.125, bounds_min=(-1.0, -1.0, 0.0),
                         bounds_max=(1.0, 1.0, 2.0))


def model(task: str, seed: int = 0, params: E3DSNNParams = NET) -> PointCloudModel:
    torch.manual_seed(seed)
    net = E3DSNN(params)
    with torch.no_grad():  # livelier than the init: spikes reach the heads
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.fill_(2.0)
                m.bias.fill_(0.3)
    if task == "classification":
        return PointCloudModel(task, net, VoxelizeParams(resolution=16), ("a", "b", "c"),
                               {"note": "test"})
    return PointCloudModel(task, net, SEG_BOX, ("w", "x", "y", "z"))


def cloud(seed: int, n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, 3)) * [0.5, 0.3, 0.2] + [0.0, 0.0, 1.0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {t: save(model(t), root / t) for t in ("classification", "segmentation")}


@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_save_load_round_trip_predicts_the_same(task: str, saved: dict[str, Path]) -> None:
    js = saved[task]
    assert js.suffix == ".json" and js.with_suffix(".pt").is_file()
    a, b = model(task), load(js)
    assert b.task == task and b.class_names == a.class_names and b.voxelize == a.voxelize
    assert b.net.params == a.net.params and not b.net.training
    assert load(js.with_suffix(".pt")).net.params == a.net.params  # either path names it
    info = json.loads(js.read_text())
    assert info["parameters"] == a.num_parameters and info["weights"] == js.stem + ".pt"
    for seed in (1, 2):
        pa, pb = a.predict(cloud(seed)), b.predict(cloud(seed))
        for field in ("class_probs", "point_labels", "point_probs"):
            x, y = getattr(pa, field), getattr(pb, field)
            assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), field
        assert pa.voxels == pb.voxels > 10
    if task == "classification":
        assert b.meta["note"] == "test"
        assert not np.allclose(pa.class_probs, pa.class_probs[0])  # a real output


def test_load_overrides_the_backend(saved: dict[str, Path]) -> None:
    m = load(saved["classification"], backend="spconv")
    assert m.net.params.backend == "spconv"
    with pytest.raises(ValueError, match="backend"):
        load(saved["classification"], backend="cuda")


def copy_model(src: Path, dst: Path, edit=None) -> Path:  # noqa: ANN001
    info = json.loads(src.read_text())
    if edit is not None:
        edit(info)
    js = dst / src.name
    js.write_text(json.dumps(info))
    js.with_suffix(".pt").write_bytes(src.with_suffix(".pt").read_bytes())
    return js


def check_load_error(path: Path, named: Path, *words: str) -> None:
    with pytest.raises(ValueError) as err:
        load(path)
    text = str(err.value)
    assert text.startswith(f"{named}: "), text
    for w in words:
        assert w in text, text


def test_missing_json(tmp_path: Path) -> None:
    check_load_error(tmp_path / "none.json", tmp_path / "none.json", "no such model file")


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe", "[1, 2]"])
def test_bad_json(tmp_path: Path, text: str, saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path)
    js.write_bytes(text.encode("latin-1"))
    check_load_error(js, js)


@pytest.mark.parametrize("field", ["task", "class_names", "voxelize", "network"])
def test_missing_field(tmp_path: Path, field: str, saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path, lambda d: d.pop(field))
    check_load_error(js, js, field, "missing")


@pytest.mark.parametrize("edit", [
    lambda d: d.update(task="detection"),
    lambda d: d.update(class_names=["a", "b"]),
    lambda d: d["network"].update(stem_channels=0),
    lambda d: d["network"].update(colour="red"),
    lambda d: d["voxelize"].update(mode="metric"),
    lambda d: d["voxelize"].update(max_spikes=2),
    lambda d: d.update(network=[1, 2]),
], ids=["task", "class count", "bad param", "unknown param", "box", "max_spikes", "not a dict"])
def test_bad_description(tmp_path: Path, edit, saved: dict[str, Path]) -> None:  # noqa: ANN001
    js = copy_model(saved["classification"], tmp_path, edit)
    check_load_error(js, js)


def test_missing_weights(tmp_path: Path, saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path)
    js.with_suffix(".pt").unlink()
    check_load_error(js, js.with_suffix(".pt"), "missing")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "pickled code"])
def test_damaged_weights(tmp_path: Path, damage: str, saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path)
    pt = js.with_suffix(".pt")
    data = pt.read_bytes()
    if damage == "truncated":
        pt.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        pt.write_bytes(bytes(range(256)) * 8)
    elif damage == "empty":
        pt.write_bytes(b"")
    else:  # weights_only refuses anything but tensors and containers
        torch.save({"f": Path("x")}, pt)
    check_load_error(js, pt, "unreadable")


@pytest.mark.parametrize("changes", [dict(stem_channels=4), dict(stage_depth=(1, 2)),
                                     dict(num_classes=5), dict(seg_hidden=16)],
                         ids=["width", "depth", "classes", "seg head"])
def test_weights_of_another_architecture(tmp_path: Path, changes: dict,
                                         saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path)
    torch.save(E3DSNN(dataclasses.replace(NET, **changes)).state_dict(), js.with_suffix(".pt"))
    check_load_error(js, js.with_suffix(".pt"), "do not fit")


def test_weights_that_are_not_a_state_dict(tmp_path: Path, saved: dict[str, Path]) -> None:
    js = copy_model(saved["classification"], tmp_path)
    torch.save(torch.zeros(3), js.with_suffix(".pt"))
    check_load_error(js, js.with_suffix(".pt"))


# ------------------------------------------------------------------------- predict
@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_predict_rejects_bad_clouds(task: str) -> None:
    m = model(task)
    for bad in (np.zeros((10, 2)), np.zeros(30), np.zeros((0, 3)), np.full((20, 3), np.nan),
                np.array([[np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0]])):
        with pytest.raises(ValueError, match="points"):
            m.predict(bad)


def test_predict_rejects_a_cloud_outside_the_box() -> None:
    with pytest.raises(ValueError, match="inside the model's voxel box"):
        model("segmentation").predict(cloud(0) + [10.0, 0.0, 0.0])


def test_classification_output() -> None:
    m = model("classification")
    p = m.predict(cloud(3), count=True)
    assert p.class_probs.shape == (3,) and p.class_probs.dtype == np.float32
    assert p.class_probs.sum() == pytest.approx(1.0, abs=1e-5) and (p.class_probs >= 0).all()
    assert p.point_labels is None and p.point_probs is None
    assert p.counters is not None and p.counters.sops > 0 and p.ms > 0
    # NaN points are left out: the same answer as without them
    with_nan = np.concatenate([cloud(3), np.full((5, 3), np.nan)])
    np.testing.assert_array_equal(m.predict(with_nan).class_probs, p.class_probs)


def test_segmentation_of_a_cloud_with_nan_and_out_of_box_points() -> None:
    m = model("segmentation")
    pts = cloud(4, 800) * 2.0
    pts[::7] = np.nan
    pts[3::11, 1] = np.inf
    p = m.predict(pts)
    n = len(pts)
    finite = np.isfinite(pts).all(1)
    inside = finite & ((np.nan_to_num(pts) >= SEG_BOX.bounds_min)
                       & (np.nan_to_num(pts) < SEG_BOX.bounds_max)).all(1)
    assert 0 < inside.sum() < finite.sum() < n
    assert p.point_labels.shape == (n,) and p.point_probs.shape == (n, 4)
    np.testing.assert_array_equal(p.point_labels >= 0, inside)
    assert (p.point_labels[~inside] == -1).all() and (p.point_probs[~inside] == 0).all()
    np.testing.assert_allclose(p.point_probs[inside].sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(p.point_labels[inside], p.point_probs[inside].argmax(1))
    assert p.point_labels[inside].max() < 4 and len(np.unique(p.point_labels[inside])) > 1
    # the valid points alone get the same labels (NaN rows only drop out)
    alone = m.predict(pts[finite])
    np.testing.assert_array_equal(alone.point_labels, p.point_labels[finite])
    np.testing.assert_array_equal(alone.point_probs, p.point_probs[finite])


def test_tensor_input_is_accepted() -> None:
    m = model("classification")
    np.testing.assert_array_equal(m.predict(torch.from_numpy(cloud(5))).class_probs,
                                  m.predict(cloud(5)).class_probs)


def test_ann_twin_has_the_same_weights() -> None:
    m = model("segmentation", seed=7)
    twin = m.ann_twin()
    assert twin.net.params == dataclasses.replace(m.net.params, ann=True)
    assert not m.net.params.ann and twin.meta["ann_twin"] is True and "ann_twin" not in m.meta
    sa, sb = m.net.state_dict(), twin.net.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert not twin.net.training
    # the twin is a copy: changing it leaves the SNN alone
    with torch.no_grad():
        twin.net.stem.conv.weight.add_(1.0)
    assert not torch.equal(twin.net.stem.conv.weight, m.net.stem.conv.weight)
    pa, pb = m.predict(cloud(6), count=True), twin.predict(cloud(6), count=True)
    assert pa.counters.sops > 0 and pb.counters.sops == 0 and pb.counters.macs > 0
    assert pa.counters.dense_macs == pb.counters.dense_macs


@pytest.mark.parametrize("bad, message", [
    (dict(task="detection"), "task"),
    (dict(voxelize=SEG_BOX), "normalised"),
    (dict(class_names=("a", "b")), "2 class names"),
    (dict(voxelize=VoxelizeParams(resolution=16, max_spikes=3)), "max_spikes"),
])
def test_inconsistent_model_is_refused(bad: dict, message: str) -> None:
    m = model("classification")
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(m, **bad)
