"""Spike Voxel Coding (SVC): point clouds to sparse voxels with integer spike features.

E-3DSNN (Qiu et al. 2025) feeds its spiking sparse network with voxels whose features are
spike counts, so the very first layer already accumulates instead of multiplying.  This
module's encoding (our reading of SVC; every channel an integer in ``{0, …, D}``)::

    voxel      v(p) = floor((p - o) / h)                 h: voxel edge, o: box origin
    count      s_0  = min(n_v, D)                        n_v: points in voxel v (≥ 1)
    offset     s_j  = round(D · mean_{p∈v} frac_j(p))    frac = (p - o)/h - v ∈ [0, 1),  j = x, y, z
    feature    s_k  = round(D · mean_{p∈v} f_k(p))       optional point features f ∈ [0, 1]

so ``C = 4 + F`` channels; ``D`` is the multi-spike maximum of
:mod:`neuro_nodes.snn.multispike` (4).  Two boxes:

* ``"normalised"``: each cloud is centred on its bounding-box centre and scaled so that its
  largest extent spans ``resolution`` voxels (object recognition: scale-invariant input);
* ``"metric"``: a fixed box ``[bounds_min, bounds_max)`` cut into voxels of edge
  ``voxel_size`` metres; points outside it are dropped (scene segmentation).

Batched: ``batch`` gives each point's cloud index; coords are ``[b, x, y, z]``.  Each point
keeps the index of its voxel (``point_to_voxel``), for per-point segmentation heads.

Parameters (:class:`VoxelizeParams`)::

    field          default              meaning
    mode           "normalised"         box: per-cloud normalised, or a metric box
    resolution     64                   voxels along the largest extent (normalised)
    voxel_size     0.05                 voxel edge in metres (metric)
    bounds_min     (-3.2, -3.2, -0.2)   metric box lower corner (m)
    bounds_max     (3.2, 3.2, 3.0)      metric box upper corner (m)
    max_spikes     4                    D: the largest spike count of a channel
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import Tensor

from neuro_nodes.core.params import param, validated
from neuro_nodes.snn.sparse_conv import SparseVoxels


@dataclasses.dataclass(frozen=True)
class VoxelizeParams:
    """Spike Voxel Coding parameters (see the module docstring)."""

    mode: str = param("normalised", "voxel box: 'normalised' (per cloud, fits resolution) "
                      "or 'metric' (fixed box, voxel_size metres)",
                      choices=("normalised", "metric"))
    resolution: int = param(64, "voxels along a cloud's largest extent (normalised mode)",
                            min=2, max=1024)
    voxel_size: float = param(0.05, "voxel edge in metres (metric mode)", min=1e-4, max=10.0)
    bounds_min: tuple[float, ...] = param((-3.2, -3.2, -0.2),
                                          "metric box lower corner x, y, z (m)")
    bounds_max: tuple[float, ...] = param((3.2, 3.2, 3.0), "metric box upper corner x, y, z (m)")
    max_spikes: int = param(4, "largest spike count of a feature channel (D)", min=1, max=255)

    def validate(self) -> None:
        if len(self.bounds_min) != 3 or len(self.bounds_max) != 3:
            raise ValueError("bounds_min, bounds_max: three values each (x, y, z)")
        if any(hi <= lo for lo, hi in zip(self.bounds_min, self.bounds_max, strict=True)):
            raise ValueError(f"bounds_max {self.bounds_max} must exceed bounds_min "
                             f"{self.bounds_min} on every axis")

    def spatial_shape(self) -> tuple[int, int, int]:
        """Grid size of the box."""
        if self.mode == "normalised":
            return (self.resolution,) * 3
        return tuple(int(math.ceil((hi - lo) / self.voxel_size - 1e-9))
                     for lo, hi in zip(self.bounds_min, self.bounds_max, strict=True))


@dataclasses.dataclass
class SpikeVoxels:
    """The SVC result: sparse voxels plus the point → voxel map."""

    voxels: SparseVoxels  # features: (M, 4 + F) float32 holding integers in [0, D]
    point_to_voxel: Tensor  # (N,) int64 voxel index of each input point, -1 if dropped
    voxel_size: Tensor  # (B,) voxel edge of each cloud (m; per cloud in normalised mode)
    origin: Tensor  # (B, 3) box origin of each cloud (m)

    @property
    def num_channels(self) -> int:
        return self.voxels.features.shape[1]


def _as_tensor(name: str, a: Tensor | np.ndarray, dtype: torch.dtype) -> Tensor:
    t = torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a)
    if t.dtype.is_complex:
        raise ValueError(f"{name}: complex values are not supported")
    return t.to(dtype)


def voxelize(points: Tensor | np.ndarray, params: VoxelizeParams | None = None, *,
             batch: Tensor | np.ndarray | None = None,
             features: Tensor | np.ndarray | None = None,
             batch_size: int | None = None) -> SpikeVoxels:
    """Spike Voxel Coding of points ``(N, 3)`` (module docstring).

    ``batch`` ``(N,)`` is each point's cloud index (all 0 when omitted), ``features``
    ``(N, F)`` optional point features in ``[0, 1]``; ``batch_size`` defaults to
    ``max(batch) + 1``.  Voxels come sorted by ``(b, x, y, z)``."""
    p = validated(params or VoxelizeParams())
    pts = _as_tensor("points", points, torch.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points: expected shape (N, 3), got {tuple(pts.shape)}")
    n = len(pts)
    if not bool(torch.isfinite(pts).all()):
        raise ValueError("points: NaN or infinite coordinates (drop invalid depth first)")
    if batch is None:
        b = torch.zeros(n, dtype=torch.int64)
    else:
        b = _as_tensor("batch", batch, torch.float64)
        if b.shape != (n,):
            raise ValueError(f"batch: expected shape ({n},), got {tuple(b.shape)}")
        if n and (bool((b < 0).any()) or bool((b != b.round()).any())):
            raise ValueError("batch: non-negative integer cloud indices expected")
        b = b.to(torch.int64)
    bs = int(b.max()) + 1 if n else 1
    if batch_size is not None:
        if batch_size < bs:
            raise ValueError(f"batch_size {batch_size} is smaller than max(batch) + 1 = {bs}")
        bs = int(batch_size)
    feats = None
    if features is not None:
        feats = _as_tensor("features", features, torch.float64)
        if feats.ndim != 2 or feats.shape[0] != n:
            raise ValueError(f"features: expected shape ({n}, F), got {tuple(feats.shape)}")
        if n and (not bool(torch.isfinite(feats).all()) or bool((feats < 0).any())
                  or bool((feats > 1).any())):
            raise ValueError("features: finite values in [0, 1] expected")
    shape = p.spatial_shape()
    d = p.max_spikes

    if p.mode == "normalised":
        lo = torch.full((bs, 3), math.inf, dtype=torch.float64)
        hi = torch.full((bs, 3), -math.inf, dtype=torch.float64)
        idx3 = b[:, None].expand(-1, 3)
        lo = lo.scatter_reduce(0, idx3, pts, "amin")
        hi = hi.scatter_reduce(0, idx3, pts, "amax")
        empty = ~torch.isfinite(lo[:, 0])
        lo[empty], hi[empty] = 0.0, 1.0
        extent = (hi - lo).max(1).values.clamp(min=1e-9)
        # voxels a hair larger than extent / resolution keep the far face inside the grid
        size = extent / (p.resolution - 1e-6)
        origin = (lo + hi) / 2 - size[:, None] * p.resolution / 2
    else:
        size = torch.full((bs,), p.voxel_size, dtype=torch.float64)
        origin = torch.tensor(p.bounds_min, dtype=torch.float64).expand(bs, 3).clone()
    rel = (pts - origin[b]) / size[b, None]
    cell = torch.floor(rel).to(torch.int64)
    lim = torch.tensor(shape)
    keep = ((cell >= 0) & (cell < lim)).all(1)
    frac = (rel - cell)[keep]
    cell, bk = cell[keep], b[keep]
    keys = ((bk * shape[0] + cell[:, 0]) * shape[1] + cell[:, 1]) * shape[2] + cell[:, 2]
    ukeys, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    m = len(ukeys)
    cols = [frac] if feats is None else [frac, feats[keep]]
    sums = torch.zeros(m, sum(c.shape[1] for c in cols), dtype=torch.float64)
    sums.index_add_(0, inverse, torch.cat(cols, 1))
    means = sums / counts[:, None]
    spikes = torch.cat([counts.clamp(max=d)[:, None].to(torch.float64),
                        torch.round(d * means).clamp(0, d)], 1).to(torch.float32)
    z = ukeys % shape[2]
    r = ukeys // shape[2]
    y = r % shape[1]
    r = r // shape[1]
    coords = torch.stack([r // shape[0], r % shape[0], y, z], 1).to(torch.int32)
    vox = SparseVoxels(coords, spikes, shape, bs, ukeys)
    p2v = torch.full((n,), -1, dtype=torch.int64)
    p2v[keep] = inverse
    return SpikeVoxels(vox, p2v, size.to(torch.float32), origin.to(torch.float32))
