"""Spike Voxel Coding: integer spikes, the point -> voxel map, the two boxes, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from neuro_nodes.perception.voxelize import VoxelizeParams, voxelize

METRIC = VoxelizeParams(mode="metric", voxel_size=0.25, bounds_min=(-1.0, -1.0, 0.0),
                        bounds_max=(1.0, 1.0, 2.0))  # an 8 x 8 x 8 grid


def cloud(seed: int, n: int = 600, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """A clustered random cloud: several points share a voxel (counts above 1)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(lo, hi, (max(1, n // 20), 3))
    return centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.03, (n, 3))


def cells_of(points: np.ndarray, svc) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(cell, fraction inside it) of each point in the box svc reports (cloud 0)."""
    rel = (points - svc.origin[0].double().numpy()) / float(svc.voxel_size[0])
    cell = np.floor(rel)
    return cell.astype(np.int64), rel - cell


@pytest.mark.parametrize("params", [VoxelizeParams(resolution=16), METRIC], ids=["norm", "metric"])
def test_spikes_are_integer_counts_and_offsets(params: VoxelizeParams) -> None:
    pts = cloud(0)
    feats = np.random.default_rng(1).random((len(pts), 2))
    svc = voxelize(pts, params, features=feats)
    f = svc.voxels.features
    assert f.dtype == torch.float32 and svc.num_channels == 4 + 2
    assert torch.equal(f, f.round()) and f.min() >= 0 and f.max() <= params.max_spikes
    p2v = svc.point_to_voxel.numpy()
    kept = p2v >= 0
    n_per_voxel = np.bincount(p2v[kept], minlength=len(f))
    assert (n_per_voxel >= 1).all()  # every voxel holds a point
    np.testing.assert_array_equal(f[:, 0].numpy(), np.minimum(n_per_voxel, params.max_spikes))
    assert (f[:, 0] == params.max_spikes).any() and (f[:, 0] == 1).any()
    # offsets and features: D times the mean over the voxel's points, rounded
    _, frac = cells_of(pts, svc)
    cols = np.concatenate([frac, feats], 1)[kept]
    mean = np.zeros((len(f), cols.shape[1]))
    np.add.at(mean, p2v[kept], cols)
    mean /= n_per_voxel[:, None]
    np.testing.assert_array_equal(f[:, 1:].numpy(), np.round(params.max_spikes * mean))


def test_max_spikes_clamps_the_count() -> None:
    pts = np.zeros((10, 3)) + [0.1, 0.1, 0.1]  # ten points in one metric voxel
    for d in (1, 2, 7):
        svc = voxelize(pts, VoxelizeParams(mode="metric", max_spikes=d, voxel_size=0.5,
                                           bounds_min=(0, 0, 0), bounds_max=(1, 1, 1)))
        f = svc.voxels.features
        assert len(f) == 1 and f[0, 0] == min(10, d)
        assert f[0, 1:].tolist() == [round(d * 0.2)] * 3  # 0.1 m is 0.2 of a 0.5 m voxel


@pytest.mark.parametrize("params", [VoxelizeParams(resolution=12), METRIC], ids=["norm", "metric"])
def test_point_to_voxel_is_the_voxel_containing_the_point(params: VoxelizeParams) -> None:
    pts = cloud(2, lo=-1.6, hi=1.6)  # partly outside the metric box
    svc = voxelize(pts, params)
    vox, p2v = svc.voxels, svc.point_to_voxel.numpy()
    cell, frac = cells_of(pts, svc)
    kept = p2v >= 0
    np.testing.assert_array_equal(vox.coords[p2v[kept], 1:].numpy(), cell[kept])
    assert (vox.coords[:, 0] == 0).all() and vox.batch_size == 1
    assert (frac[kept] >= -1e-6).all() and (frac[kept] < 1 + 1e-6).all()
    # coords are unique, sorted by (b, x, y, z), and every voxel has one of the points
    assert torch.equal(vox.keys, torch.sort(vox.keys).values)
    assert len(torch.unique(vox.keys)) == len(vox.keys)
    assert set(p2v[kept].tolist()) == set(range(len(vox.coords)))
    assert vox.spatial_shape == params.spatial_shape()


def test_normalised_box_fits_the_cloud_to_the_resolution() -> None:
    pts = cloud(3) * [2.0, 0.5, 1.0]  # the largest extent along x
    res = 20
    svc = voxelize(pts, VoxelizeParams(resolution=res))
    c = svc.voxels.coords
    assert (svc.point_to_voxel >= 0).all()  # the normalised box drops nothing
    assert int(c[:, 1].min()) == 0 and int(c[:, 1].max()) == res - 1
    extent = np.ptp(pts, 0).max()
    assert float(svc.voxel_size[0]) == pytest.approx(extent / res, rel=1e-5)
    centre = (pts.min(0) + pts.max(0)) / 2
    np.testing.assert_allclose(svc.origin[0].numpy() + res / 2 * float(svc.voxel_size[0]),
                               centre, rtol=1e-5, atol=1e-5)


def test_normalised_mode_is_scale_and_translation_invariant() -> None:
    pts = cloud(4)
    p = VoxelizeParams(resolution=24)
    a = voxelize(pts, p)
    b = voxelize(pts * 3.7 + [12.0, -5.0, 40.0], p)
    assert len(a.voxels.coords) > 50
    assert torch.equal(a.voxels.coords, b.voxels.coords)
    assert torch.equal(a.voxels.features, b.voxels.features)
    assert torch.equal(a.point_to_voxel, b.point_to_voxel)
    assert float(b.voxel_size[0]) == pytest.approx(3.7 * float(a.voxel_size[0]), rel=1e-6)
    # the metric box is not: a scaled cloud lands in other voxels
    m = voxelize(pts * 0.5, METRIC)
    assert not torch.equal(voxelize(pts * 0.25, METRIC).voxels.coords, m.voxels.coords)


def test_metric_mode_drops_points_outside_the_box() -> None:
    pts = cloud(5, lo=-2.0, hi=2.0)
    pts = np.concatenate([pts, [[-1.0, -1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 2.0]]])
    svc = voxelize(pts, METRIC)
    inside = ((pts >= METRIC.bounds_min) & (pts < METRIC.bounds_max)).all(1)
    assert 50 < inside.sum() < len(pts) - 50
    np.testing.assert_array_equal(svc.point_to_voxel.numpy() >= 0, inside)
    assert svc.point_to_voxel[-3] >= 0  # the lower corner is inside, the upper faces are not
    assert svc.point_to_voxel[-2] == -1 and svc.point_to_voxel[-1] == -1
    assert float(svc.voxel_size[0]) == 0.25
    assert svc.origin[0].tolist() == [-1.0, -1.0, 0.0]
    c = svc.voxels.coords[:, 1:]
    assert c.min() >= 0 and c.max() <= 7
    # only the inside points make the voxels: dropping the others changes nothing
    alone = voxelize(pts[inside], METRIC)
    assert torch.equal(alone.voxels.coords, svc.voxels.coords)
    assert torch.equal(alone.voxels.features, svc.voxels.features)


def test_metric_grid_shape() -> None:
    assert METRIC.spatial_shape() == (8, 8, 8)
    assert VoxelizeParams(mode="metric").spatial_shape() == (128, 128, 64)
    assert VoxelizeParams(resolution=40).spatial_shape() == (40, 40, 40)


@pytest.mark.parametrize("params", [VoxelizeParams(resolution=16), METRIC], ids=["norm", "metric"])
def test_a_batch_voxelises_each_cloud_as_alone(params: VoxelizeParams) -> None:
    clouds = [cloud(6), cloud(7) * 0.7 + 0.2]
    b = np.concatenate([np.full(len(c), i) for i, c in enumerate(clouds)])
    both = voxelize(np.concatenate(clouds), params, batch=b, batch_size=3)
    assert both.voxels.batch_size == 3 and both.voxel_size.shape == (3,)
    start = 0
    for i, c in enumerate(clouds):
        alone = voxelize(c, params)
        rows = both.voxels.coords[:, 0] == i
        assert torch.equal(both.voxels.coords[rows, 1:], alone.voxels.coords[:, 1:])
        assert torch.equal(both.voxels.features[rows], alone.voxels.features)
        assert torch.equal(both.origin[i], alone.origin[0])
        p2v = both.point_to_voxel[start:start + len(c)]
        first = int(rows.nonzero()[0])  # cloud i's voxels follow the earlier clouds'
        expect = torch.where(alone.point_to_voxel >= 0, alone.point_to_voxel + first, -1)
        assert torch.equal(p2v, expect)
        start += len(c)
    assert not (both.voxels.coords[:, 0] == 2).any()  # the empty third cloud has no voxels


def test_empty_and_single_point_clouds() -> None:
    svc = voxelize(np.zeros((0, 3)))
    assert len(svc.voxels.coords) == 0 and svc.point_to_voxel.shape == (0,)
    svc = voxelize(np.array([[1.0, 2.0, 3.0]]))
    assert len(svc.voxels.coords) == 1 and svc.point_to_voxel.tolist() == [0]
    assert svc.voxels.features[0, 0] == 1


def test_tensor_and_float32_input_give_the_same_voxels() -> None:
    pts = cloud(8).astype(np.float32)
    a = voxelize(pts)
    b = voxelize(torch.from_numpy(pts))
    assert torch.equal(a.voxels.coords, b.voxels.coords)
    assert torch.equal(a.voxels.features, b.voxels.features)


@pytest.mark.parametrize("bad", [dict(mode="cube"), dict(resolution=1), dict(voxel_size=0.0),
                                 dict(max_spikes=0), dict(bounds_min=(0.0, 0.0)),
                                 dict(bounds_max=(3.2, -3.2, 3.0))])
def test_bad_params_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        voxelize(cloud(0), VoxelizeParams(**bad))


@pytest.mark.parametrize("kwargs, message", [
    (dict(points=np.zeros((5, 2))), "expected shape (N, 3)"),
    (dict(points=np.zeros((5, 3, 1))), "expected shape (N, 3)"),
    (dict(points=np.array([[0.0, np.nan, 1.0]] * 5)), "NaN or infinite"),
    (dict(points=np.array([[0.0, np.inf, 1.0]] * 5)), "NaN or infinite"),
    (dict(points=np.zeros((5, 3), complex)), "complex"),
    (dict(batch=np.array([0, 0, 1, -1, 0])), "non-negative integer"),
    (dict(batch=np.array([0, 0, 0.5, 1, 1])), "non-negative integer"),
    (dict(batch=np.zeros(4)), "batch: expected shape (5,)"),
    (dict(batch=np.array([0, 1, 2, 2, 2]), batch_size=2), "batch_size 2"),
    (dict(features=np.full((5, 1), 1.5)), "[0, 1]"),
    (dict(features=np.full((5, 1), np.nan)), "[0, 1]"),
    (dict(features=np.zeros((4, 1))), "features: expected shape (5, F)"),
])
def test_bad_input_raises_value_error(kwargs: dict, message: str) -> None:
    args = dict(points=cloud(0, n=5)) | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        voxelize(args.pop("points"), **args)
