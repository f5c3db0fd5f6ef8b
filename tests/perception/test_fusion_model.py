"""The fusion network: shapes, heads for missing modalities, files, and one training step."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuro_nodes.perception.fusion import FusionNet, FusionNetParams
from neuro_nodes.perception.fusion.model import load, save

SMALL = FusionNetParams(num_classes=4, event_channels=(4, 8, 8), cloud_stem=4,
                        cloud_stages=(4, 8, 8), cloud_resolution=8)


def sample(seed: int, n_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = rng.poisson(0.2, (5, 2, 48, 64)).astype(np.uint8)
    return grid, rng.normal(0, 0.2, (n_points, 3)).astype(np.float32) + [0, 0, 2]


def test_heads_and_shapes() -> None:
    torch.manual_seed(0)
    net = FusionNet(SMALL)
    g0, c0 = sample(0)
    g1, c1 = sample(1)
    out = net(torch.as_tensor(np.stack([g0, g1])), [c0, c1])
    for head in (out.events, out.cloud, out.fused):
        assert head.shape == (2, 4) and bool(torch.isfinite(head).all())


def test_an_empty_cloud_embeds_as_zero_and_does_not_touch_the_others() -> None:
    torch.manual_seed(0)
    net = FusionNet(SMALL).eval()
    g, c = sample(2)
    emb, _ = net.cloud_encoder([c, np.zeros((0, 3), np.float32)])
    assert float(emb[1].detach().abs().sum()) == 0.0
    alone, _ = net.cloud_encoder([c])
    torch.testing.assert_close(emb[0], alone[0])


def test_predict_answers_from_the_live_modality() -> None:
    torch.manual_seed(0)
    net = FusionNet(SMALL)
    g, c = sample(3)
    both = net.predict(g, c)
    assert both.head == "fused" and set(both.confidences) == {"events", "cloud"}
    assert both.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    only_cloud = net.predict(None, c)
    assert only_cloud.head == "cloud" and set(only_cloud.confidences) == {"cloud"}
    out = net(torch.as_tensor(g[None]), [c])
    torch.testing.assert_close(torch.as_tensor(only_cloud.probabilities),
                               torch.softmax(out.cloud[0], 0))
    assert net.predict(g, None).head == "events"
    with pytest.raises(ValueError, match="missing"):
        net.predict(None, None)


def test_save_load_round_trip_and_bad_files(tmp_path) -> None:
    torch.manual_seed(0)
    net = FusionNet(SMALL).eval()
    path = save(net, tmp_path / "m.json", {"class_names": ["a", "b", "c", "d"]})
    back, meta = load(path)
    g, c = sample(4)
    np.testing.assert_allclose(back.predict(g, c).probabilities, net.predict(g, c).probabilities)
    assert meta["class_names"] == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="no such model file"):
        load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load(tmp_path / "bad.json")
    (tmp_path / "nofield.json").write_text(json.dumps({"weights": "x.pt"}))
    with pytest.raises(ValueError, match="field 'network' missing"):
        load(tmp_path / "nofield.json")
    info = json.loads(path.read_text())
    info["network"]["cloud_stages"] = [4, 8, 16]  # weights of another architecture
    (tmp_path / "other.json").write_text(json.dumps(info))
    (tmp_path / "other.pt").write_bytes(path.with_suffix(".pt").read_bytes())
    with pytest.raises(ValueError, match="other.pt"):
        load(tmp_path / "other.json")
    (tmp_path / "trunc.json").write_text(path.read_text())
    (tmp_path / "trunc.pt").write_bytes(path.with_suffix(".pt").read_bytes()[:100])
    with pytest.raises(ValueError, match="trunc.pt"):
        load(tmp_path / "trunc.json")


def test_gradients_reach_both_encoders() -> None:
    torch.manual_seed(0)
    net = FusionNet(SMALL).train()
    grids, clouds = zip(*(sample(s) for s in range(4)), strict=True)
    out = net(torch.as_tensor(np.stack(grids)), list(clouds))
    loss = torch.nn.functional.cross_entropy(out.fused, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    first_event = net.event_encoder.layers[0][0].weight.grad
    first_cloud = net.cloud_encoder.net.stem.conv.weight.grad
    assert first_event is not None and float(first_event.abs().sum()) > 0
    assert first_cloud is not None and float(first_cloud.abs().sum()) > 0
