"""``neuro bench pointcloud --quick``: every key, agreeing backends, the model source said
(no timing claims: the machine may be busy)."""

from __future__ import annotations

import json

import pytest
import torch

from neuro_nodes.cli.main import main
from neuro_nodes.perception.pointcloud_model import default_model_path


@pytest.fixture
def one_thread():  # noqa: ANN201
    """One torch thread: with two on a busy 2-core machine, OpenMP's waiting threads make
    each pass 10-100x slower (and spconv's CPU conv has been seen to race)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_quick_bench_has_its_keys(capsys: pytest.CaptureFixture[str], one_thread: None) -> None:
    from benchmarks import pointcloud as bench

    assert main(["bench", "pointcloud", "--quick", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["machine"]["torch_threads"] == 1
    assert res["points"] == bench.POINTS and set(res["tasks"]) == set(bench.TASKS)
    for task, r in res["tasks"].items():
        for b in res["backends"]:
            assert 0 < r["ms"][b]["median"] <= r["ms"][b]["p90"], (task, b)
        assert 0 < r["voxelize_ms"] < r["ms"]["torch"]["p90"]
        assert r["voxels"] > 100 and r["runs"] == res["clouds"] * res["repeats"]
        if "spconv" in res["backends"]:
            assert r["speedup_spconv_vs_torch"] > 0
            assert r["agreement"]["label_agreement"] > 0.99, task
        trained = default_model_path(task).exists()
        assert res["models"][task]["trained"] is trained
        assert ("untrained" in res["models"][task]["source"]) is not trained
    text = bench.table(res)
    summary = text.splitlines()[-1]
    assert summary.startswith("bench pointcloud: per 10000-point cloud, segmentation")
    said = summary.partition("UNTRAINED")[2]
    for task, info in res["models"].items():  # the fallback is said
        assert (task in said) is not info["trained"], task
        assert f"{task} model: {info['source']}" in text
