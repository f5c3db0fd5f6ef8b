"""Per-modality encoders of the fusion network: events and point clouds to embeddings.

* :class:`EventEncoder`: an event count grid ``(B, T, 2, H, W)`` (ON / OFF counts per time
  bin) through three strided convolutions, run once per time bin::

      x_t   = log(1 + counts_t)
      h¹_t  = φ(BN(conv₅ₓ₅,s2(x_t)))
      h²_t  = φ(BN(conv₃ₓ₃,s2(h¹_t)))
      h³_t  = φ(BN(conv₃ₓ₃,s2(h²_t)))
      r     = mean_t pool₃ₓ₄(h³_t)                    (firing rates on a 3 x 4 map)
      e     = W r + b                                 (linear readout, 64)

  SNN: φ is a LIF neuron whose membrane carries over the bins (``v ← β v + u``,
  ``β = 1 − dt/τ``, threshold 1); ANN twin:
  φ = ReLU per bin (same convolutions).  An all-zero grid (a dead sensor) does NOT embed
  as 0 (BatchNorm's shift reaches the neurons): what a dead sensor does to a fused head is
  what the evaluation measures; the fusion node answers from the live modalities' own heads.
* :class:`CloudEncoder`: the point-cloud SNN's trunk (:class:`~neuro_nodes.perception.e3dsnn.
  E3DSNN`, Spike Voxel Coding in the normalised box) and its pooled last-stage spikes; a
  cloud with no point gives 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from neuro_nodes.perception.e3dsnn import E3DSNN, E3DSNNParams
from neuro_nodes.perception.voxelize import VoxelizeParams, voxelize
from neuro_nodes.snn.lif import LIFParameters, LIFState, lif_step


class EventEncoder(nn.Module):
    """Event grid -> embedding of ``channels[-1]`` (see the module docstring)."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), spiking: bool = True,
                 tau_s: float = 2e-3, dt_s: float = 1e-3, embedding: int = 64) -> None:
        super().__init__()
        self.spiking, self.dt = spiking, dt_s
        # R = τ/dt: v ← β v + u (snnTorch's form), so a unit-variance BN output fires
        self.lif = LIFParameters(tau_mem=tau_s, r=tau_s / dt_s, v_th=1.0, surrogate="atan")
        c_in, layers = 2, []
        for k, c in enumerate(channels):
            kernel = 5 if k == 0 else 3
            layers.append(nn.Sequential(
                nn.Conv2d(c_in, c, kernel, stride=2, padding=kernel // 2, bias=False),
                nn.BatchNorm2d(c)))
            c_in = c
        self.layers = nn.ModuleList(layers)
        # the rates on a coarse 3 x 4 map keep the silhouette's layout (a global mean would
        # keep only a bag of local edges); a linear readout embeds them
        self.pool = (3, 4)
        self.readout = nn.Linear(c_in * self.pool[0] * self.pool[1], embedding)
        self.out_features = embedding

    def forward(self, grid: Tensor) -> tuple[Tensor, Tensor]:
        """(embedding (B, C), spikes or activations per layer summed (L,)) of ``grid``."""
        b, t = grid.shape[:2]
        x = torch.log1p(grid.float())
        states: list[LIFState | None] = [None] * len(self.layers)
        total = x.new_zeros(b, self.layers[-1][0].out_channels * self.pool[0] * self.pool[1])
        activity = x.new_zeros(len(self.layers))
        for step in range(t):
            h = x[:, step]
            for k, layer in enumerate(self.layers):
                u = layer(h)
                if self.spiking:
                    h, states[k] = lif_step(u, states[k], self.lif, self.dt)
                else:
                    h = torch.relu(u)
                activity[k] = activity[k] + h.detach().sum()
            total = total + nn.functional.adaptive_avg_pool2d(h, self.pool).flatten(1)
        return self.readout(total / t), activity


class CloudEncoder(nn.Module):
    """Point clouds -> embedding: the E-3DSNN trunk's pooled last-stage spikes."""

    def __init__(self, params: E3DSNNParams, voxels: VoxelizeParams) -> None:
        super().__init__()
        self.net = E3DSNN(params)
        for m in self.net.modules():  # fusion trains for few steps: BN statistics must keep up
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = 0.1
        self.voxels = voxels
        self.out_features = int(params.stage_channels[-1])

    def forward(self, clouds: list[np.ndarray], count: bool = False) -> tuple[Tensor, object]:
        """(embedding (B, C), counters or None); an empty cloud embeds as 0."""
        out = torch.zeros(len(clouds), self.out_features)
        keep = [i for i, c in enumerate(clouds) if len(c) > 0]
        if not keep:
            return out, None
        pts = np.concatenate([clouds[i] for i in keep]).astype(np.float64)
        batch = np.concatenate([np.full(len(clouds[i]), j) for j, i in enumerate(keep)])
        svc = voxelize(pts, self.voxels, batch=batch, batch_size=len(keep))
        res = self.net(svc, count=count, segment=False)
        out = out.to(res.pooled.dtype)
        out[keep] = res.pooled
        return out, res.counters


__all__ = ["CloudEncoder", "EventEncoder"]
