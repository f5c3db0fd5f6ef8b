"""Multiresolution grid: the numba kernels agree with the torch version (features, Jacobian,
table gradient), the Jacobian is the derivative, dense levels do not collide."""

from __future__ import annotations

import numpy as np
import torch

from neuro_nodes.mapping.hash_grid import MultiResGrid

LO, HI = np.array([-1.0, -2.0, 0.0]), np.array([2.0, 1.0, 1.5])


def _grid(**kw) -> MultiResGrid:
    args = dict(n_levels=5, features=2, log2_table_size=12, base_resolution=4,
                finest_resolution=64, init_scale=0.5, generator=torch.Generator().manual_seed(0))
    args.update(kw)
    return MultiResGrid(LO, HI, **args)


def _points(n: int, seed: int = 0) -> torch.Tensor:
    x = np.random.default_rng(seed).uniform(LO - 0.2, HI + 0.2, (n, 3))  # some outside
    return torch.tensor(x, dtype=torch.float32)


def test_levels_dense_then_hashed() -> None:
    g = _grid()
    assert g.dense_levels[0] and not g.dense_levels[-1]
    assert g.memory_bytes() == g.table.numel() * 4


def test_numba_matches_torch_forward_and_backward() -> None:
    g = _grid()
    x = _points(500)
    f1, j1 = g(x)
    f2, j2 = g.forward_torch(x)
    torch.testing.assert_close(f1, f2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(j1, j2, atol=1e-3, rtol=1e-4)
    w1, w2 = torch.randn_like(f1), torch.randn_like(j1)
    (f1 * w1).sum().add((j1 * w2).sum()).backward()
    grad_numba = g.table.grad.clone()
    g.table.grad = None
    (f2 * w1).sum().add((j2 * w2).sum()).backward()
    torch.testing.assert_close(grad_numba, g.table.grad, atol=1e-3, rtol=1e-3)


def test_jacobian_is_the_spatial_derivative() -> None:
    g = _grid()
    x = torch.tensor(np.random.default_rng(1).uniform(LO + 0.1, HI - 0.1, (200, 3)),
                     dtype=torch.float64).float()
    _, jac = g(x)
    eps = 1e-3
    for a in range(3):
        e = torch.zeros(3)
        e[a] = eps
        fd = (g(x + e, with_gradient=False)[0] - g(x - e, with_gradient=False)[0]) / (2 * eps)
        close = (fd - jac[..., a]).abs().max(dim=1).values < 1e-2 * (1 + fd.abs().max())
        assert close.float().mean() > 0.9  # all but points whose stencil crosses a cell face


def test_dense_level_has_one_row_per_vertex() -> None:
    g = _grid(n_levels=1, base_resolution=4, finest_resolution=4)
    rows, _ = g._indices_and_fracs(_points(2000))
    assert rows.max() < g.table.shape[0]
    assert g.dense_levels == (True,)
    # every vertex of the coarse grid is a distinct row
    assert g.table.shape[0] == int(np.prod(g.dims[0].numpy()))


def test_query_kernel_matches_the_grid_and_known_space() -> None:
    from neuro_nodes.mapping.known_space import KnownSpace
    from neuro_nodes.mapping.sdf_query_kernel import grid_features_and_observed
    from neuro_nodes.mapping.types import MapBounds

    g = _grid()
    x = _points(3000, seed=4)
    f_ref, j_ref = g(x)  # the training kernel (float64 cell fractions, as the query's)
    known = KnownSpace(MapBounds(tuple(LO), tuple(HI)), 0.25)
    known.grid[np.random.default_rng(0).random(known.shape) < 0.5] = True
    xn = x.numpy()
    f, j, obs = grid_features_and_observed(xn, *g._consts(), g.table.detach().numpy(),
                                           known.grid, known.lo, known.voxel)
    np.testing.assert_allclose(f, f_ref.detach().numpy(), atol=1e-6)
    # the kernel stores the Jacobian as (N, 3, L*F); entries up to ~20 here
    j_ref = j_ref.detach().numpy()
    assert np.abs(j_ref).max() > 5
    np.testing.assert_allclose(j.transpose(0, 2, 1), j_ref, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(obs, known.contains(xn))
    assert 0.1 < obs.mean() < 0.6
