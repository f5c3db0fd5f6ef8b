"""Sparse 3D convolution equals a dense conv3d on the zero-filled grid, at the output sites."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F

from neuro_nodes.snn.sparse_conv import SparseConv3d, SparseVoxels, pair_count

HAVE_SPCONV = importlib.util.find_spec("spconv") is not None
BACKENDS = ["torch"] + (["spconv"] if HAVE_SPCONV else [])


def random_voxels(seed: int, shape=(9, 7, 8), batch=2, density=0.15, c=3,
                  dtype=torch.float64) -> SparseVoxels:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, *shape, generator=g) < density
    coords = mask.nonzero().to(torch.int32)
    perm = torch.randperm(len(coords), generator=g)  # create() must sort
    feats = torch.randn(len(coords), c, generator=g, dtype=torch.float64).to(dtype)
    return SparseVoxels.create(coords[perm], feats[perm], shape, batch)


def dense_reference(x: SparseVoxels, conv: SparseConv3d) -> torch.Tensor:
    w = conv.weight.detach().permute(0, 4, 1, 2, 3)  # (C_out, C_in, kx, ky, kz)
    pad = conv.kernel_size // 2 if conv.submanifold else conv.padding
    return F.conv3d(x.dense(), w.to(x.features.dtype), stride=conv.stride, padding=pad)


def read_sites(dense: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    c = coords.to(torch.int64)
    return dense[c[:, 0], :, c[:, 1], c[:, 2], c[:, 3]]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_submanifold_matches_dense_at_active_sites(backend: str, kernel: int) -> None:
    torch.manual_seed(0)
    x = random_voxels(kernel, dtype=torch.float32)  # spconv: float32 only
    conv = SparseConv3d(3, 4, kernel, backend=backend)
    y = conv(x)
    assert torch.equal(y.coords, x.coords)  # submanifold: never dilates
    ref = read_sites(dense_reference(x, conv), x.coords)
    torch.testing.assert_close(y.features, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("kernel", "stride", "padding"), [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_strided_matches_dense_and_its_active_set(backend: str, kernel: int, stride: int,
                                                  padding: int) -> None:
    torch.manual_seed(1)
    x = random_voxels(10 + kernel, dtype=torch.float32)
    conv = SparseConv3d(3, 5, kernel, stride=stride, padding=padding, submanifold=False,
                        backend=backend)
    y = conv(x)
    ref = dense_reference(x, conv)
    assert y.spatial_shape == tuple(ref.shape[2:])
    # active outputs: exactly the sites some active input reaches
    ones = SparseVoxels.create(x.coords, torch.ones(len(x.coords), 1),
                               x.spatial_shape, x.batch_size)
    reach = F.conv3d(ones.dense(), torch.ones(1, 1, kernel, kernel, kernel),
                     stride=stride, padding=padding)
    expected = (reach[:, 0] > 0).nonzero().to(torch.int32)
    assert torch.equal(y.coords, expected)
    torch.testing.assert_close(y.features, read_sites(ref, y.coords), rtol=1e-4, atol=1e-5)


def test_gradients_match_dense_autograd() -> None:
    x = random_voxels(3)
    feats = x.features.clone().requires_grad_(True)
    conv = SparseConv3d(3, 2, 3).double()
    y = conv(x.replace(feats))
    g = torch.randn_like(y.features)
    (y.features * g).sum().backward()

    dense_in = x.dense().requires_grad_(True)
    w = conv.weight.detach().clone().requires_grad_(True)
    out = F.conv3d(dense_in, w.permute(0, 4, 1, 2, 3), padding=1)
    (read_sites(out, x.coords) * g).sum().backward()
    torch.testing.assert_close(feats.grad, read_sites(dense_in.grad, x.coords))
    torch.testing.assert_close(conv.weight.grad, w.grad)


def test_pair_count_is_the_number_of_nonzero_terms() -> None:
    x = random_voxels(4)
    ones = x.replace(torch.ones(len(x.coords), 1, dtype=torch.float64))
    conv = SparseConv3d(1, 1, 3).double()
    with torch.no_grad():
        conv.weight.fill_(1.0)
    # with unit weights and inputs each output counts its active neighbours
    assert pair_count(x, 3) == int(conv(ones).features.sum())
    assert int(conv.fan_out(x).sum()) == pair_count(x, 3)


def test_empty_input_and_bad_arguments() -> None:
    x = SparseVoxels.create(torch.zeros(0, 4, dtype=torch.int32),
                            torch.zeros(0, 3), (4, 4, 4), 1)
    assert SparseConv3d(3, 2, 3)(x).features.shape == (0, 2)
    with pytest.raises(ValueError, match="duplicate"):
        SparseVoxels.create(torch.zeros(2, 4, dtype=torch.int32), torch.zeros(2, 1), (2, 2, 2), 1)
    with pytest.raises(ValueError, match="outside"):
        SparseVoxels.create(torch.tensor([[0, 2, 0, 0]], dtype=torch.int32), torch.zeros(1, 1),
                            (2, 2, 2), 1)
    with pytest.raises(ValueError, match="submanifold"):
        SparseConv3d(1, 1, 2)
    with pytest.raises(ValueError, match="backend"):
        SparseConv3d(1, 1, 3, backend="cuda")
    with pytest.raises(ValueError, match="expected"):
        SparseConv3d(2, 1, 3)(random_voxels(0))


@pytest.mark.skipif(not HAVE_SPCONV, reason="spconv not installed")
def test_spconv_backend_refuses_float64() -> None:
    # spconv 2.3.8's CPU float64 kernels are wrong; the backend says so instead of answering
    with pytest.raises(ValueError, match="float32"):
        SparseConv3d(3, 4, 3, backend="spconv").double()(random_voxels(0))


@pytest.mark.skipif(not HAVE_SPCONV, reason="spconv not installed")
def test_backends_share_weights_and_agree() -> None:
    x = random_voxels(7, dtype=torch.float32)
    a = SparseConv3d(3, 4, 3, stride=2, padding=1, submanifold=False)
    b = SparseConv3d(3, 4, 3, stride=2, padding=1, submanifold=False, backend="spconv")
    b.load_state_dict(a.state_dict())
    ya, yb = a(x), b(x)
    assert torch.equal(ya.coords, yb.coords)
    torch.testing.assert_close(ya.features, yb.features, rtol=1e-4, atol=1e-5)
