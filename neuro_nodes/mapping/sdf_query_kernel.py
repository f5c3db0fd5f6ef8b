"""Query-only evaluation of the neural SDF: distance, gradient and observed without torch.

The same field as ``hash_grid.MultiResGrid.forward`` + ``neural_sdf.Decoder.forward`` (one
hidden layer), no tensors and no autograd. One numba pass over the points gives the grid
features ``f`` (L*F), their spatial Jacobian ``J = d f / d x`` (L*F, 3) and ``observed``;
the trilinear value and gradient of a level come from nested lerps of the cell's 8 corner
values ``v_{xyz}`` (the same polynomial as ``hash_grid.py``'s sum over corner weights),

    c_yz = v_0yz + u_x (v_1yz - v_0yz),  c_z = c_0z + u_y (c_1z - c_0z),  f = c_0 + u_z (c_1 - c_0),
    d f / d u_z = c_1 - c_0,   d f / d u_y = lerp_z(c_1z - c_0z),
    d f / d u_x = bilerp_yz(v_1yz - v_0yz),   d f / d x = (d f / d u) / h_l,

then the decoder in float32 (the exp and log1p in vectorised numpy: numba's scalar libm
calls cost several times more at 10k points x 32 units):

    z = W_1 f + b_1,   sdf = w_2 . softplus_beta(z) + b_2,
    grad sdf = J^T W_1^T (w_2 * sigmoid(beta z)),

``softplus_beta(z) = (max(beta z, 0) + log1p(exp(-|beta z|))) / beta`` (torch switches to
``z`` above ``beta z > 20``, where the two differ by < 1e-9). The cell index and in-cell
fractions are computed in float64 exactly as the training kernel does (a point on a cell
boundary picks the same cell); everything else differs from the torch path only by float32
rounding (``tests/mapping/test_neural_sdf.py`` compares them). ``observed`` is the voxel
lookup of ``known_space.py`` (``floor((x - lo) / voxel)`` in float64, False outside the
box). Serial: a ``prange`` over points (numba's omp layer, 2 threads) halved the grid pass
on the idle 2-core machine (3.7 -> 1.9 ms per 10k) but was not measured under the load of a
running mapper and its training threads, and would make results depend on threading; left
out for now.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def grid_features_and_observed(x, lo, inv_cell, max_index, dims, dense, offsets, table_size,
                               table, known, known_lo, known_voxel
                               ):  # pragma: no cover - compiled
    """(N, L*F) features, (N, 3, L*F) their Jacobian, (N,) observed at points ``x``."""
    n_pts, n_lev, nf = x.shape[0], inv_cell.shape[0], table.shape[1]
    feats = np.empty((n_pts, n_lev * nf), np.float32)
    jac = np.empty((n_pts, 3, n_lev * nf), np.float32)
    observed = np.zeros(n_pts, np.bool_)
    rows = np.empty(8, np.int64)
    kx, ky, kz = known.shape
    for n in range(n_pts):
        for lev in range(n_lev):
            s = inv_cell[lev]
            ux = (x[n, 0] - lo[0]) * s
            uy = (x[n, 1] - lo[1]) * s
            uz = (x[n, 2] - lo[2]) * s
            # clipped before the int conversion (a far point must not overflow it); the
            # clip does not change the cell: it is min(floor(u), max_index) either way
            i = min(int(np.floor(min(ux, max_index[lev, 0] + 1.0))) if ux > 0 else 0,
                    max_index[lev, 0])
            j = min(int(np.floor(min(uy, max_index[lev, 1] + 1.0))) if uy > 0 else 0,
                    max_index[lev, 1])
            k = min(int(np.floor(min(uz, max_index[lev, 2] + 1.0))) if uz > 0 else 0,
                    max_index[lev, 2])
            fx = min(max(ux - i, 0.0), 1.0)
            fy = min(max(uy - j, 0.0), 1.0)
            fz = min(max(uz - k, 0.0), 1.0)
            off = offsets[lev]
            if dense[lev]:
                nx, ny = dims[lev, 0], dims[lev, 1]
                for c in range(8):
                    rows[c] = off + (i + (c & 1)) + nx * ((j + ((c >> 1) & 1))
                                                          + ny * (k + ((c >> 2) & 1)))
            else:  # power-of-two table: the mask is the modulo (hash_grid.py)
                mask = table_size[lev] - 1
                for c in range(8):
                    rows[c] = off + (((i + (c & 1)) ^ ((j + ((c >> 1) & 1)) * 2654435761)
                                      ^ ((k + ((c >> 2) & 1)) * 805459861)) & mask)
            for f in range(nf):
                v0, v1 = table[rows[0], f], table[rows[1], f]
                v2, v3 = table[rows[2], f], table[rows[3], f]
                v4, v5 = table[rows[4], f], table[rows[5], f]
                v6, v7 = table[rows[6], f], table[rows[7], f]
                d00, d10, d01, d11 = v1 - v0, v3 - v2, v5 - v4, v7 - v6  # x differences
                c00, c10 = v0 + fx * d00, v2 + fx * d10
                c01, c11 = v4 + fx * d01, v6 + fx * d11
                e0, e1 = c10 - c00, c11 - c01  # y differences
                c0, c1 = c00 + fy * e0, c01 + fy * e1
                g0, g1 = d00 + fy * (d10 - d00), d01 + fy * (d11 - d01)
                q = lev * nf + f
                feats[n, q] = c0 + fz * (c1 - c0)
                jac[n, 0, q] = s * (g0 + fz * (g1 - g0))
                jac[n, 1, q] = s * (e0 + fz * (e1 - e0))
                jac[n, 2, q] = s * (c1 - c0)
        # known space: the voxel holding the point (float64, as KnownSpace.contains),
        # range-checked before the int conversion: floor(v) in [0, k) iff v in [0, k)
        vx = (np.float64(x[n, 0]) - known_lo[0]) / known_voxel
        vy = (np.float64(x[n, 1]) - known_lo[1]) / known_voxel
        vz = (np.float64(x[n, 2]) - known_lo[2]) / known_voxel
        if 0.0 <= vx < kx and 0.0 <= vy < ky and 0.0 <= vz < kz:
            observed[n] = known[int(np.floor(vx)), int(np.floor(vy)), int(np.floor(vz))]
    return feats, jac, observed


# reassociated float sums (vectorised over the hidden units): float32 rounding changes only
_FAST = {"reassoc", "contract"}


@numba.njit(cache=True, fastmath=_FAST)
def _hidden_preactivation(feats, w1t, b1, beta):  # pragma: no cover - compiled
    """beta (W_1 f + b_1) per point, (N, width) float32, from ``w1t`` = W_1^T."""
    n_pts, n_in = feats.shape
    width = w1t.shape[1]
    bz = np.empty((n_pts, width), np.float32)
    for n in range(n_pts):
        row = bz[n]
        row[:] = b1
        for q in range(n_in):
            fq = feats[n, q]
            for u in range(width):
                row[u] += w1t[q, u] * fq
        for u in range(width):
            row[u] *= beta
    return bz


@numba.njit(cache=True, fastmath=_FAST)
def _output_and_gradient(bz, e, log1p_e, jac, w1t, w2, b2, beta
                         ):  # pragma: no cover - compiled
    """sdf = w_2 . softplus + b_2 and grad = J^T W_1^T (w_2 * sigmoid) from ``bz`` = beta z,
    ``e`` = exp(-|bz|), log1p(e) and ``w1t`` = W_1^T (contiguous)."""
    n_pts, width = bz.shape
    n_in = w1t.shape[0]
    dist = np.empty(n_pts, np.float32)
    grad = np.empty((n_pts, 3), np.float32)
    a = np.empty(width, np.float32)
    inv_beta = np.float32(1.0 / beta)
    zero, one = np.float32(0.0), np.float32(1.0)
    for n in range(n_pts):
        out = zero
        for u in range(width):
            b, eu = bz[n, u], e[n, u]
            out += w2[u] * (max(b, zero) + log1p_e[n, u])
            # sigmoid(bz) = 1 / (1 + e) for bz >= 0, e / (1 + e) below (no overflow)
            a[u] = w2[u] * (one if b >= zero else eu) / (one + eu)
        dist[n] = out * inv_beta + b2
        g0 = g1 = g2 = zero
        for q in range(n_in):
            gq = zero
            for u in range(width):
                gq += a[u] * w1t[q, u]
            g0 += jac[n, 0, q] * gq
            g1 += jac[n, 1, q] * gq
            g2 += jac[n, 2, q] * gq
        grad[n, 0], grad[n, 1], grad[n, 2] = g0, g1, g2
    return dist, grad


def decode(feats: np.ndarray, jac: np.ndarray, w1: np.ndarray, b1: np.ndarray,
           w2: np.ndarray, b2: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(N,) sdf and (N, 3) gradient of the one-hidden-layer decoder (module docstring):
    the exp and log1p run vectorised in numpy, the small matrix products in numba (numpy's
    BLAS threads cost 5-10 ms a call here on the loaded 2-core machine)."""
    w1t = np.ascontiguousarray(w1.T)
    bz = _hidden_preactivation(feats, w1t, b1, np.float32(beta))
    e = np.exp(-np.abs(bz))
    return _output_and_gradient(bz, e, np.log1p(e), jac, w1t, w2, np.float32(b2), beta)


__all__ = ["decode", "grid_features_and_observed"]
