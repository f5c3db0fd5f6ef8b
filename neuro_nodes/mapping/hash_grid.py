"""Multiresolution grid features with their analytic spatial gradient (pure torch).

Instant-NGP style: ``L`` levels of vertex grids over the map box, level ``l`` with cell size

    h_l = E / floor(R_0 * b^l),   b = (R_max / R_0)^(1 / (L - 1)),   E = largest box extent,

each vertex holding ``F`` learnable features. A level whose vertex count fits in the table
size ``T`` is stored densely (index ``i + n_x (j + n_y k)``, no collisions); finer levels hash
the vertex ``(i, j, k)`` to ``(i * 1 XOR j * 2654435761 XOR k * 805459861) mod T``. A point's
level feature is the trilinear interpolation of its cell's 8 corners,

    f_l(x) = sum_c w_c(u) f[c],   w_c = prod_a (u_a if c_a else 1 - u_a),  u = frac((x - x0) / h_l),

and its spatial gradient is exact for that interpolation,

    d f_l / d x_a = sum_c (d w_c / d u_a) f[c] / h_l.

Both are closed-form, so a loss on the gradient (Eikonal) back-propagates with a single
backward pass (no double autograd), and a query needs no autograd at all. Points outside the
box are clamped onto it (the gradient there is that of the boundary cell).

Two implementations of the same arithmetic: on the CPU, numba kernels (one loop over points,
levels and corners; the backward is a serial scatter-add into the table's gradient, so it
is deterministic) -- the vectorised torch version materialises (N, L, 8, F, 3) tensors and
is 5-10x slower on two cores; on CUDA, the vectorised torch version (autograd does the
backward). ``tests/mapping/test_hash_grid.py`` checks that they agree.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

_PRIMES = (1, 2654435761, 805459861)
# the 8 cell corners as (c_x, c_y, c_z) bits
_CORNERS = np.array([[(c >> 0) & 1, (c >> 1) & 1, (c >> 2) & 1] for c in range(8)], np.int64)


@numba.njit(cache=True, inline="always")
def _corner_row(i: int, j: int, k: int, level: int, dims: np.ndarray, dense: np.ndarray,
                offsets: np.ndarray, table_size: np.ndarray) -> int:
    if dense[level]:
        return offsets[level] + i + dims[level, 0] * (j + dims[level, 1] * k)
    # hashed tables have power-of-two sizes: the mask is the modulo (an int division per
    # corner would cost more than the rest of the lookup)
    h = (i * 1) ^ (j * 2654435761) ^ (k * 805459861)
    return offsets[level] + (h & (table_size[level] - 1))


@numba.njit(cache=True, inline="always")
def _cell(x: np.ndarray, n: int, level: int, lo: np.ndarray, inv_cell: np.ndarray,
          max_index: np.ndarray, idx: np.ndarray, frac: np.ndarray) -> None:
    for a in range(3):
        u = (x[n, a] - lo[a]) * inv_cell[level]
        i = int(np.floor(u)) if u > 0 else 0
        i = min(i, max_index[level, a])
        idx[a] = i
        frac[a] = min(max(u - i, 0.0), 1.0)


@numba.njit(cache=True)
def _grid_forward(x, lo, inv_cell, max_index, dims, dense, offsets, table_size, table,
                  want_jac):  # pragma: no cover - compiled
    n_pts, n_lev, nf = x.shape[0], inv_cell.shape[0], table.shape[1]
    feats = np.zeros((n_pts, n_lev * nf), np.float32)
    jac = np.zeros((n_pts if want_jac else 0, n_lev * nf, 3), np.float32)
    for n in range(n_pts):
        for lev in range(n_lev):
            s = inv_cell[lev]
            ux = (x[n, 0] - lo[0]) * s
            uy = (x[n, 1] - lo[1]) * s
            uz = (x[n, 2] - lo[2]) * s
            i = min(int(np.floor(ux)) if ux > 0 else 0, max_index[lev, 0])
            j = min(int(np.floor(uy)) if uy > 0 else 0, max_index[lev, 1])
            k = min(int(np.floor(uz)) if uz > 0 else 0, max_index[lev, 2])
            fx = min(max(ux - i, 0.0), 1.0)
            fy = min(max(uy - j, 0.0), 1.0)
            fz = min(max(uz - k, 0.0), 1.0)
            for c in range(8):
                bx, by, bz = c & 1, (c >> 1) & 1, (c >> 2) & 1
                wx = fx if bx else 1.0 - fx
                wy = fy if by else 1.0 - fy
                wz = fz if bz else 1.0 - fz
                row = _corner_row(i + bx, j + by, k + bz, lev, dims, dense, offsets,
                                  table_size)
                w = wx * wy * wz
                if want_jac:
                    gx = (s if bx else -s) * wy * wz
                    gy = (s if by else -s) * wx * wz
                    gz = (s if bz else -s) * wx * wy
                    for f in range(nf):
                        v = table[row, f]
                        q = lev * nf + f
                        feats[n, q] += w * v
                        jac[n, q, 0] += gx * v
                        jac[n, q, 1] += gy * v
                        jac[n, q, 2] += gz * v
                else:
                    for f in range(nf):
                        feats[n, lev * nf + f] += w * table[row, f]
    return feats, jac


@numba.njit(cache=True)
def _grid_backward(x, lo, inv_cell, max_index, dims, dense, offsets, table_size, n_rows,
                   g_feats, g_jac, use_jac):  # pragma: no cover - compiled
    n_pts, n_lev, nf = x.shape[0], inv_cell.shape[0], g_feats.shape[1] // inv_cell.shape[0]
    grad = np.zeros((n_rows, nf), np.float32)
    idx = np.zeros(3, np.int64)
    frac = np.zeros(3, np.float64)
    for n in range(n_pts):
        for lev in range(n_lev):
            _cell(x, n, lev, lo, inv_cell, max_index, idx, frac)
            s = inv_cell[lev]
            for c in range(8):
                bx, by, bz = c & 1, (c >> 1) & 1, (c >> 2) & 1
                wx = frac[0] if bx else 1.0 - frac[0]
                wy = frac[1] if by else 1.0 - frac[1]
                wz = frac[2] if bz else 1.0 - frac[2]
                row = _corner_row(idx[0] + bx, idx[1] + by, idx[2] + bz, lev, dims, dense,
                                  offsets, table_size)
                w = wx * wy * wz
                for f in range(nf):
                    k = lev * nf + f
                    g = w * g_feats[n, k]
                    if use_jac:
                        g += ((1.0 if bx else -1.0) * wy * wz * s * g_jac[n, k, 0]
                              + (1.0 if by else -1.0) * wx * wz * s * g_jac[n, k, 1]
                              + (1.0 if bz else -1.0) * wx * wy * s * g_jac[n, k, 2])
                    grad[row, f] += g
    return grad


class _GridFunction(torch.autograd.Function):
    """The numba kernels as an autograd op: table -> (features, Jacobian)."""

    @staticmethod
    def forward(ctx, table, x_np, consts, want_jac):  # type: ignore[override]
        feats, jac = _grid_forward(x_np, *consts, table.detach().numpy(), want_jac)
        ctx.x_np, ctx.consts, ctx.n_rows = x_np, consts, table.shape[0]
        return torch.from_numpy(feats), torch.from_numpy(jac)

    @staticmethod
    def backward(ctx, g_feats, g_jac):  # type: ignore[override]
        use_jac = g_jac is not None and g_jac.numel() > 0
        gj = (g_jac.contiguous().numpy() if use_jac
              else np.zeros((0, 1, 3), np.float32))
        grad = _grid_backward(ctx.x_np, *ctx.consts, ctx.n_rows,
                              g_feats.contiguous().numpy(), gj, use_jac)
        return torch.from_numpy(grad), None, None, None


class MultiResGrid(torch.nn.Module):
    """Learnable features on ``n_levels`` grids over ``[lo, hi]`` (dense coarse, hashed fine)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, *, n_levels: int, features: int,
                 log2_table_size: int, base_resolution: int, finest_resolution: int,
                 init_scale: float = 1e-4, generator: torch.Generator | None = None) -> None:
        super().__init__()
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        extent = float(np.max(hi - lo))
        growth = (finest_resolution / base_resolution) ** (1.0 / max(n_levels - 1, 1))
        table = 2 ** int(log2_table_size)
        cells, dims, sizes, dense = [], [], [], []
        for level in range(n_levels):
            res = int(math.floor(base_resolution * growth ** level + 1e-9))
            h = extent / res
            n = np.ceil((hi - lo) / h).astype(np.int64) + 1  # vertices per axis
            cells.append(h)
            dims.append(n)
            fits = int(np.prod(n)) <= table
            dense.append(fits)
            sizes.append(int(np.prod(n)) if fits else table)
        self.n_levels, self.features = int(n_levels), int(features)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.register_buffer("lo", torch.tensor(lo, dtype=torch.float32))
        self.register_buffer("inv_cell", torch.tensor(1.0 / np.array(cells), dtype=torch.float32))
        self.register_buffer("max_index", torch.tensor(np.stack(dims) - 2, dtype=torch.int64))
        self.register_buffer("dims", torch.tensor(np.stack(dims), dtype=torch.int64))
        self.register_buffer("dense", torch.tensor(dense))
        self.register_buffer("offsets", torch.tensor(offsets))
        self.register_buffer("table_size", torch.tensor(sizes, dtype=torch.int64))
        # dense corner offsets per level: c_x + n_x c_y + n_x n_y c_z, shape (L, 8)
        n = np.stack(dims)
        strides = np.stack([np.ones(n_levels, np.int64), n[:, 0], n[:, 0] * n[:, 1]], 1)
        self.register_buffer("corner_offsets", torch.tensor(strides @ _CORNERS.T))
        self.register_buffer("corner_bits", torch.tensor(_CORNERS, dtype=torch.float32))
        total = int(np.sum(sizes))
        init = (torch.rand(total, features, generator=generator) * 2 - 1) * init_scale
        self.table = torch.nn.Parameter(init)
        self.cell_sizes = tuple(float(c) for c in cells)
        self.dense_levels = tuple(bool(d) for d in dense)
        self._np_consts: tuple[np.ndarray, ...] | None = None

    @property
    def out_features(self) -> int:
        return self.n_levels * self.features

    def _indices_and_fracs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Table rows (N, L, 8) of each point's cell corners and its in-cell coordinates
        (N, L, 3)."""
        u = (x[:, None, :] - self.lo) * self.inv_cell[None, :, None]  # (N, L, 3)
        i0 = torch.minimum(torch.clamp(torch.floor(u), min=0).long(), self.max_index)
        frac = torch.clamp(u - i0, 0.0, 1.0)
        dense_idx = (i0[..., 0] + self.dims[:, 0] * (i0[..., 1] + self.dims[:, 1] * i0[..., 2]))
        rows = dense_idx[..., None] + self.corner_offsets  # (N, L, 8)
        if not bool(self.dense.all()):
            hx = i0[..., 0:1] + self.corner_bits_long[:, 0]
            hy = (i0[..., 1:2] + self.corner_bits_long[:, 1]) * _PRIMES[1]
            hz = (i0[..., 2:3] + self.corner_bits_long[:, 2]) * _PRIMES[2]
            hashed = torch.bitwise_xor(torch.bitwise_xor(hx, hy), hz) % self.table_size[:, None]
            rows = torch.where(self.dense[:, None], rows, hashed)
        return rows + self.offsets[:, None], frac

    @property
    def corner_bits_long(self) -> torch.Tensor:
        return self.corner_bits.long()

    def _consts(self) -> tuple[np.ndarray, ...]:
        if self._np_consts is None:
            self._np_consts = (self.lo.double().numpy(), self.inv_cell.double().numpy(),
                               self.max_index.numpy(), self.dims.numpy(),
                               self.dense.numpy(), self.offsets.numpy(),
                               self.table_size.numpy())
        return self._np_consts

    def forward(self, x: torch.Tensor, *, with_gradient: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (N, L*F) at map points ``x`` (N, 3) and, if asked, their spatial
        Jacobian (N, L*F, 3)."""
        if self.table.device.type == "cpu":
            x_np = np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)
            feats, jac = _GridFunction.apply(self.table, x_np, self._consts(), with_gradient)
            return feats, (jac if with_gradient else None)
        return self.forward_torch(x, with_gradient=with_gradient)

    def forward_torch(self, x: torch.Tensor, *, with_gradient: bool = True
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The same as :meth:`forward` in vectorised torch ops (the CUDA path)."""
        rows, frac = self._indices_and_fracs(x)
        corner = self.table[rows.reshape(-1)].reshape(*rows.shape, self.features)  # N,L,8,F
        bits = self.corner_bits  # (8, 3)
        # per-axis weights of each corner: u if bit else 1 - u, shape (N, L, 8, 3)
        wa = bits * frac[:, :, None, :] + (1 - bits) * (1 - frac[:, :, None, :])
        w = wa.prod(-1)  # (N, L, 8)
        feats = torch.einsum("nlc,nlcf->nlf", w, corner).reshape(len(x), -1)
        if not with_gradient:
            return feats, None
        sign = (2 * bits - 1)  # d wa / d u
        # d w / d u_a = sign_a * prod_{b != a} wa_b
        wx, wy, wz = wa[..., 0], wa[..., 1], wa[..., 2]
        dw = torch.stack([sign[:, 0] * wy * wz, sign[:, 1] * wx * wz,
                          sign[:, 2] * wx * wy], -1) * self.inv_cell[None, :, None, None]
        jac = torch.einsum("nlca,nlcf->nlfa", dw, corner).reshape(len(x), -1, 3)
        return feats, jac

    def memory_bytes(self) -> int:
        return int(self.table.numel() * self.table.element_size())


__all__ = ["MultiResGrid"]
