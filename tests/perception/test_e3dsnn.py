"""E-3DSNN: shapes of both heads, integer multi-spike activity, SOP/MAC counters against the
architecture, torch vs spconv backends, surrogate gradients, determinism, batch independence."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuro_nodes.perception.e3dsnn import E3DSNN, Activation, E3DSNNParams
from neuro_nodes.perception.voxelize import SpikeVoxels, VoxelizeParams, voxelize

HAVE_SPCONV = importlib.util.find_spec("spconv") is not None
SMALL = E3DSNNParams(num_classes=5, num_seg_classes=4, stem_channels=8, stage_channels=(8, 16),
                     stage_depth=(1, 1), seg_hidden=8)
VOX = VoxelizeParams(resolution=16)
#: a metric box whose grid (16, 16, 16) halves evenly at every stage
METRIC = VoxelizeParams(mode="metric", voxel_size=0.125, bounds_min=(-1.0, -1.0, 0.0),
                        bounds_max=(1.0, 1.0, 2.0))


def cloud(seed: int, n: int = 800) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, 3)) * [0.5, 0.3, 0.15] + [0.0, 0.0, 1.0]


def net_of(params: E3DSNNParams = SMALL, seed: int = 0, lively: bool = True) -> E3DSNN:
    """An untrained network in eval mode; ``lively`` raises the BatchNorm gains so that
    spikes reach the last stage (at the default init the deep layers are silent)."""
    torch.manual_seed(seed)
    net = E3DSNN(params)
    if lively:
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm1d):
                    m.weight.fill_(2.0)
                    m.bias.fill_(0.3)
    return net.eval()


def twin_of(net: E3DSNN, **changes: object) -> E3DSNN:
    twin = E3DSNN(dataclasses.replace(net.params, **changes))
    twin.load_state_dict(net.state_dict())
    return twin.eval()


def batched(clouds: list[np.ndarray], params: VoxelizeParams) -> SpikeVoxels:
    b = np.concatenate([np.full(len(c), i) for i, c in enumerate(clouds)])
    return voxelize(np.concatenate(clouds), params, batch=b)


def record_activations(net: E3DSNN) -> dict[str, torch.Tensor]:
    seen: dict[str, torch.Tensor] = {}
    for m in net.modules():
        if isinstance(m, Activation):
            m.register_forward_hook(lambda mod, _, out: seen.__setitem__(mod.name, out))
    return seen


def test_output_shapes_of_both_heads() -> None:
    clouds = [cloud(0), cloud(1, 500)]
    svc = batched(clouds, VOX)
    out = net_of()(svc)
    n, m = sum(len(c) for c in clouds), len(svc.voxels.coords)
    assert out.logits.shape == (2, SMALL.num_classes)
    assert out.point_logits.shape == (n, SMALL.num_seg_classes)
    assert out.voxel_logits.shape == (m, SMALL.num_seg_classes)
    assert out.point_valid.shape == (n,) and bool(out.point_valid.all())
    assert torch.equal(out.point_logits, out.voxel_logits[svc.point_to_voxel])
    assert out.counters is None
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.voxel_logits).all()


def test_points_outside_a_metric_box_get_zero_logits() -> None:
    pts = cloud(2) * 2.5  # partly outside the 2 m box
    svc = voxelize(pts, METRIC)
    out = net_of()(svc)
    valid = svc.point_to_voxel >= 0
    assert 0 < int(valid.sum()) < len(pts)
    assert torch.equal(out.point_valid, valid)
    assert bool((out.point_logits[~valid] == 0).all())
    assert torch.equal(out.point_logits[valid], out.voxel_logits[svc.point_to_voxel[valid]])


@pytest.mark.parametrize("d", [4, 2])
def test_multispike_activity_is_integer_in_0_to_d(d: int) -> None:
    p = dataclasses.replace(SMALL, max_spikes=d)
    net = net_of(p)
    seen = record_activations(net)
    out = net(voxelize(cloud(3), dataclasses.replace(VOX, max_spikes=d)), count=True)
    names = {m.name for m in net.modules() if isinstance(m, Activation)}
    assert set(seen) == names and len(names) == 13  # 3 + 2 x 2 per stage, cls, 3 seg, hidden
    for name, s in seen.items():
        assert torch.equal(s, s.round()), name
        assert s.min() >= 0 and s.max() <= d, name
        assert out.counters.layers[name].spikes == int(s.sum()), name
        assert out.counters.layers[name].neuron_updates == s.numel(), name
    assert max(int(s.max()) for s in seen.values()) == d  # counts above 1 do occur
    assert seen["cls.act"].sum() > 0  # activity reaches the last stage
    # the ANN twin's ReLU passes real values
    twin = twin_of(net, ann=True)
    relu = record_activations(twin)
    twin(voxelize(cloud(3), VOX))
    assert any(not torch.equal(s, s.round()) for s in relu.values())


# ------------------------------------------------------------------------- costs
def active_levels(coords: np.ndarray, shape: tuple[int, int, int],
                  stages: int) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """Active sites and grid of every level: stride-2, kernel-2 windows, incomplete last
    windows dropped."""
    out = [(coords, shape)]
    for _ in range(stages):
        c, s = out[-1]
        s2 = tuple(x // 2 for x in s)
        half = np.concatenate([c[:, :1], c[:, 1:] // 2], 1)
        half = half[(half[:, 1:] < s2).all(1)]
        out.append((np.unique(half, axis=0), s2))
    return out


def neighbours(coords: np.ndarray, shape: tuple[int, int, int], batch: int) -> np.ndarray:
    """Active sites in each site's 3x3x3 neighbourhood (itself included)."""
    occ = torch.zeros(batch, 1, *shape)
    occ[coords[:, 0], 0, coords[:, 1], coords[:, 2], coords[:, 3]] = 1.0
    n = F.conv3d(occ, torch.ones(1, 1, 3, 3, 3), padding=1)
    return n[coords[:, 0], 0, coords[:, 1], coords[:, 2], coords[:, 3]].round().long().numpy()


def architecture_macs(svc: SpikeVoxels, p: E3DSNNParams) -> dict[str, int]:
    """MACs of the ANN twin on ``svc``'s active sites, from the architecture alone."""
    b = svc.voxels.batch_size
    levels = active_levels(svc.voxels.coords.numpy().astype(np.int64),
                           svc.voxels.spatial_shape, len(p.stage_channels))
    ch = [p.stem_channels, *p.stage_channels]
    pairs = [int(neighbours(c, s, b).sum()) for c, s in levels]
    macs = {"stem.conv": pairs[0] * p.in_channels * ch[0],
            "stem.block.1": pairs[0] * ch[0] ** 2, "stem.block.2": pairs[0] * ch[0] ** 2}
    for i, depth in enumerate(p.stage_depth):
        # kernel 2, stride 2: each input site inside a full window reaches one output
        inside = (levels[i][0][:, 1:] // 2 < levels[i + 1][1]).all(1).sum()
        macs[f"stage{i + 1}.down"] = int(inside) * ch[i] * ch[i + 1]
        for j in range(depth):
            for u in (1, 2):
                macs[f"stage{i + 1}.block{j + 1}.{u}"] = pairs[i + 1] * ch[i + 1] ** 2
    m = len(levels[0][0])
    macs |= {"cls.fc": b * ch[-1] * p.num_classes, "cls.mean": b * p.num_classes,
             "seg.fc1": m * sum(ch) * p.seg_hidden, "seg.fc2": m * p.seg_hidden * p.num_seg_classes}
    return macs


def test_ann_twin_macs_follow_from_the_architecture_and_the_active_sites() -> None:
    p = dataclasses.replace(SMALL, stage_depth=(2, 1))
    svc = batched([cloud(4), cloud(5, 300)], VOX)
    out = twin_of(net_of(p), ann=True)(svc, count=True)
    want = architecture_macs(svc, p)
    got = {n: lc.macs for n, lc in out.counters.layers.items() if lc.macs}
    assert got == want
    assert out.counters.sops == 0


def test_snn_sops_below_the_twin_macs_on_the_same_input() -> None:
    from sim.train.pointcloud import CLASSIFICATION_VOXELS, network_params

    for lively in (False, True):
        net = net_of(network_params("classification", 11), lively=lively)
        svc = voxelize(cloud(6, 2000), CLASSIFICATION_VOXELS)
        snn = net(svc, count=True).counters
        ann = twin_of(net, ann=True)(svc, count=True).counters
        assert 0 < snn.sops < ann.macs
        assert snn.dense_macs == ann.dense_macs == ann.macs - ann.layers["cls.mean"].macs
        assert snn.macs == ann.layers["cls.mean"].macs  # the SNN's only multiplications
        for name, lc in snn.layers.items():
            # at most D accumulations where the twin does one MAC (not cls.fc: it is fed the
            # pooled sums, and counts each site's spikes, the twin one product per sum)
            if lc.role == "synapse" and name != "cls.fc":
                assert lc.sops <= net.params.max_spikes * lc.dense_macs, name


def test_stem_sops_count_every_input_spike_times_its_fan_out() -> None:
    svc = voxelize(cloud(7), VOX)
    out = net_of()(svc, count=True)
    c = svc.voxels.coords.numpy().astype(np.int64)
    spikes = svc.voxels.features.sum(1).numpy()
    fan = neighbours(c, svc.voxels.spatial_shape, 1)  # submanifold 3^3: symmetric
    assert out.counters.layers["stem.conv"].sops == int((spikes * fan).sum()) * SMALL.stem_channels


# ----------------------------------------------------------------------- backends
@pytest.fixture
def one_thread():  # noqa: ANN201
    """spconv 2.3.8's CPU SubMConv3d races with more than one torch thread (a few % of
    calls return wrong sums); the comparison runs on one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.skipif(not HAVE_SPCONV, reason="spconv not installed")
@pytest.mark.parametrize("ann", [False, True], ids=["snn", "ann"])
def test_torch_and_spconv_backends_agree(ann: bool, one_thread: None) -> None:
    net = twin_of(net_of(), ann=ann)
    sp = twin_of(net, backend="spconv")
    for svc in (batched([cloud(8), cloud(9, 400)], VOX), voxelize(cloud(10) * 2.2, METRIC)):
        a, b = net(svc, count=True), sp(svc, count=True)
        torch.testing.assert_close(b.logits, a.logits, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(b.voxel_logits, a.voxel_logits, rtol=1e-4, atol=1e-4)
        assert b.counters.sops == a.counters.sops and b.counters.macs == a.counters.macs
    assert a.logits.std() > 0.01  # not a trivial bias-only output


# ---------------------------------------------------------------------- training
def test_surrogate_gradient_reaches_the_first_layer() -> None:
    torch.manual_seed(0)  # the torch backend: spconv's CPU build has no backward
    net = E3DSNN(SMALL).train()
    svc = batched([cloud(11), cloud(12, 500)], VOX)
    out = net(svc)
    loss = F.cross_entropy(out.logits, torch.tensor([1, 3])) + F.cross_entropy(
        out.point_logits, torch.zeros(len(out.point_logits), dtype=torch.long))
    loss.backward()
    # every path from the stem to a loss passes a multi-spike neuron (zero derivative almost
    # everywhere): a non-zero stem gradient is the straight-through estimator's
    g = net.stem.conv.weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    for name, prm in net.named_parameters():
        assert prm.grad is not None and torch.isfinite(prm.grad).all(), name


def test_deterministic() -> None:
    svc = voxelize(cloud(13), VOX)
    a, b = net_of(seed=3, lively=False), net_of(seed=3, lively=False)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    oa, ob = a(svc), b(svc)
    counted = a(svc, count=True)
    for x, y in ((oa.logits, ob.logits), (oa.voxel_logits, ob.voxel_logits),
                 (oa.logits, counted.logits), (oa.voxel_logits, counted.voxel_logits)):
        assert torch.equal(x, y)
    assert not torch.equal(net_of(seed=4, lively=False)(svc).voxel_logits, oa.voxel_logits)


def check_batch_independent(net: E3DSNN, clouds: list[np.ndarray],
                            params: VoxelizeParams) -> None:
    both = net(batched(clouds, params))
    start = 0
    for i, c in enumerate(clouds):
        alone = net(voxelize(c, params))
        torch.testing.assert_close(both.logits[i], alone.logits[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(both.point_logits[start:start + len(c)], alone.point_logits,
                                   rtol=1e-5, atol=1e-5)
        start += len(c)


def test_batch_items_do_not_see_each_other() -> None:
    check_batch_independent(net_of(), [cloud(14), cloud(15, 500) * 1.5], VOX)
    check_batch_independent(net_of(), [cloud(16) * 2.0, cloud(17, 500) * 2.5], METRIC)


# Regression: the shipped segmentation box is 120 x 46 x 120, which does not halve evenly
# (46 -> 23 -> 11 -> 5); before the network padded its grid, the floor's voxels (row 40)
# had no level-3 parent and the head read another cloud's voxel, or failed on an empty level.


def floor_and_wall(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    floor = np.stack([rng.uniform(-1, 1, 400), np.full(400, 0.22), rng.uniform(1, 3, 400)], 1)
    wall = np.stack([rng.uniform(-1, 1, 400), rng.uniform(-1.5, 0.1, 400), np.full(400, 3.5)], 1)
    return floor, wall


def shipped_seg_net() -> E3DSNN:
    from sim.train.pointcloud import network_params

    return net_of(dataclasses.replace(network_params("segmentation", 4), stem_channels=8,
                                      stage_channels=(8, 8, 8), seg_hidden=8))


def test_a_floor_only_view_runs_on_the_shipped_box() -> None:
    from sim.train.pointcloud import SEGMENTATION_VOXELS

    out = shipped_seg_net()(voxelize(floor_and_wall(18)[0], SEGMENTATION_VOXELS))
    assert bool(out.point_valid.all())


def test_the_shipped_box_keeps_batch_items_apart() -> None:
    from sim.train.pointcloud import SEGMENTATION_VOXELS

    floor, wall = floor_and_wall(19)
    net = shipped_seg_net()
    both = net(batched([np.concatenate([floor, wall]), wall + [0.5, 0.0, 0.0]],
                       SEGMENTATION_VOXELS))
    alone = net(voxelize(np.concatenate([floor, wall]), SEGMENTATION_VOXELS))
    torch.testing.assert_close(both.point_logits[:800], alone.point_logits, rtol=1e-5, atol=1e-5)


def test_bad_input_and_params() -> None:
    with pytest.raises(ValueError, match="in_channels=5"):
        net_of(dataclasses.replace(SMALL, in_channels=5))(voxelize(cloud(0), VOX))
    with pytest.raises(ValueError, match="same length"):
        E3DSNN(dataclasses.replace(SMALL, stage_depth=(1,)))
    with pytest.raises(ValueError):
        E3DSNN(dataclasses.replace(SMALL, backend="cuda"))
