"""E-3DSNN-style spiking sparse network for point clouds: classification and segmentation.

Input: Spike Voxel Coding (:mod:`.voxelize`), integer spikes at active voxels.  Every unit
is pre-activation, as in E-3DSNN's blocks (Qiu et al. 2025)::

    unit(x)  = BN(SSC(φ(x)))               φ = multi-spike  s = floor(clamp(u, 0, D) + 1/2)
                                            (ANN twin: φ = ReLU; same shapes, same weights)
    block(x) = x + unit₂(unit₁(x))          residual on the real-valued membrane input
    stem     = BN(SubM₃(svc)) → block       the SVC spikes feed the first conv directly
    stage_i  = BN(SparseConv₂,stride 2(φ(x))) → depth_i × block

Heads:

* classification: ``logits_b = W · mean_{v ∈ b} φ(x_v) + c`` (global average over the
  active sites of each batch item of the last stage);
* segmentation, per voxel ``v``: the spikes of ``v``'s parent at every level ``l``
  (``floor(v / 2^l)``, always active after 2×2×2 stride-2 downsampling) are concatenated,
  then ``Linear → BN → φ → Linear``; each point takes its voxel's logits (all points of a
  voxel share its features, so the head runs once per voxel).  Dropped points (outside a
  metric box) get ``point_valid = False`` and zero logits.

Costs of one forward pass (:class:`SparseCostMeter`, into :class:`neuro_nodes.accel.counters.
Counters`, so :func:`neuro_nodes.accel.energy.estimate` prices them with its sourced chip
profiles): a synaptic layer fed by spikes ``s`` (SNN) counts
``SOPs = Σ_sites (Σ_c s) · fan_out · C_out`` (a count of k spikes is k accumulations; the
fan-out is the number of output sites that input site reaches, from the rule book, so only
active sites count); fed by real values (ANN twin) it counts ``MACs = pairs · C_in · C_out``;
``dense_macs`` is that MAC count for both.  BatchNorm folds into the weights at inference and
residual additions are not counted (as in E-3DSNN's own estimate); the classification head's
``1/n`` scaling of the pooled sums counts ``out_features`` MACs per cloud.

Parameters (:class:`E3DSNNParams`)::

    field            default          meaning
    in_channels      4                SVC channels (4 + point features)
    num_classes      10               classification classes
    num_seg_classes  10               per-point segmentation classes
    stem_channels    16               channels of the stem (full resolution)
    stage_channels   (32, 64, 128)    channels of each downsampling stage
    stage_depth      (1, 1, 1)        residual blocks per stage
    seg_hidden       32               hidden width of the segmentation head
    max_spikes       4                D of the multi-spike neuron
    ann              False            ANN twin: ReLU instead of multi-spike
    backend          "torch"          sparse conv backend ("torch" or "spconv")
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from neuro_nodes.accel.counters import Counters, LayerCounters
from neuro_nodes.core.params import param, validated
from neuro_nodes.snn.multispike import MultiSpike
from neuro_nodes.snn.sparse_conv import BACKENDS, SparseConv3d, SparseVoxels

from .voxelize import SpikeVoxels


@dataclasses.dataclass(frozen=True)
class E3DSNNParams:
    """Architecture of :class:`E3DSNN` (see the module docstring)."""

    in_channels: int = param(4, "input channels (SVC: 4 + point features)", min=1)
    num_classes: int = param(10, "classification classes", min=1)
    num_seg_classes: int = param(10, "per-point segmentation classes", min=1)
    stem_channels: int = param(16, "channels of the full-resolution stem", min=1)
    stage_channels: tuple[int, ...] = param((32, 64, 128), "channels of each stride-2 stage")
    stage_depth: tuple[int, ...] = param((1, 1, 1), "residual blocks in each stage")
    seg_hidden: int = param(32, "hidden width of the segmentation head", min=1)
    max_spikes: int = param(4, "D: largest spike count of the multi-spike neuron", min=1)
    ann: bool = param(False, "ANN twin: ReLU instead of multi-spike neurons")
    backend: str = param("torch", "sparse convolution backend", choices=BACKENDS)

    def validate(self) -> None:
        if len(self.stage_channels) != len(self.stage_depth):
            raise ValueError(f"stage_channels {self.stage_channels} and stage_depth "
                             f"{self.stage_depth} must have the same length")
        if any(int(c) < 1 for c in self.stage_channels) or any(
                int(d) < 0 for d in self.stage_depth):
            raise ValueError("stage_channels must be >= 1 and stage_depth >= 0")


class SparseCostMeter:
    """Collects per-layer SOPs (spike input) or MACs (real input) of one forward pass."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.layers: dict[str, LayerCounters] = {}

    def _layer(self, name: str, primitive: str, role: str) -> LayerCounters:
        if name not in self.layers:
            self.layers[name] = LayerCounters(name, primitive, role,
                                              sample_steps=self.batch_size)
        return self.layers[name]

    def synapse(self, name: str, primitive: str, x: Tensor, fan_out: Tensor, c_out: int,
                spiking: bool) -> None:
        """``x``: (sites, C_in) inputs; ``fan_out``: (sites,) outputs each site reaches."""
        c = self._layer(name, primitive, "synapse")
        x = x.detach()
        dense = int(fan_out.sum()) * x.shape[1] * c_out
        c.dense_macs += dense
        c.param_bytes = 0
        if spiking:
            c.sops += int(((x.sum(1).round().to(torch.int64)) * fan_out).sum()) * c_out
            c.event_calls += 1
        else:
            c.macs += dense
            c.dense_calls += 1

    def scale(self, name: str, n: int) -> None:
        """``n`` multiplications outside any synapse (e.g. a mean's 1/n)."""
        self._layer(name, "scale", "other").macs += n

    def neuron(self, name: str, s: Tensor, spiking: bool) -> None:
        c = self._layer(name, "multispike" if spiking else "relu", "neuron")
        c.neurons = max(1, s.numel() // self.batch_size)
        c.neuron_updates += s.numel()
        if spiking:
            c.spikes += int(s.detach().sum())

    def counters(self) -> Counters:
        return Counters(steps=1, sample_steps=self.batch_size, layers=self.layers)


class Activation(nn.Module):
    """Multi-spike neuron (SNN) or ReLU (ANN twin), with its cost record."""

    def __init__(self, name: str, max_spikes: int, ann: bool) -> None:
        super().__init__()
        self.name, self.ann = name, ann
        self.fn: nn.Module = nn.ReLU() if ann else MultiSpike(max_spikes)

    def forward(self, x: Tensor, meter: SparseCostMeter | None) -> Tensor:
        s = self.fn(x)
        if meter is not None:
            meter.neuron(self.name, s, not self.ann)
        return s


class ConvUnit(nn.Module):
    """``BN(conv(φ(x)))``; ``activate=False`` for the stem's first conv (spike input)."""

    def __init__(self, name: str, c_in: int, c_out: int, p: E3DSNNParams, *,
                 kernel: int = 3, stride: int = 1, activate: bool = True) -> None:
        super().__init__()
        self.name, self.ann = name, p.ann
        self.act = Activation(name + ".act", p.max_spikes, p.ann) if activate else None
        sub = stride == 1
        self.conv = SparseConv3d(c_in, c_out, kernel, stride=stride, submanifold=sub,
                                 backend=p.backend)
        self.norm = nn.BatchNorm1d(c_out, eps=1e-3, momentum=0.01)

    def forward(self, x: SparseVoxels, meter: SparseCostMeter | None) -> SparseVoxels:
        if self.act is not None:
            x = x.replace(self.act(x.features, meter))
        spiking = not self.ann  # the stem's input is SVC spikes too
        if meter is not None:
            kind = "subm_conv" if self.conv.submanifold else "sparse_conv"
            meter.synapse(self.name, kind, x.features, self.conv.fan_out(x),
                          self.conv.out_channels, spiking)
        y = self.conv(x)
        return y.replace(self.norm(y.features)) if len(y.features) else y


class ResidualBlock(nn.Module):
    """``x + unit₂(unit₁(x))`` at one resolution (submanifold convs)."""

    def __init__(self, name: str, channels: int, p: E3DSNNParams) -> None:
        super().__init__()
        self.unit1 = ConvUnit(name + ".1", channels, channels, p)
        self.unit2 = ConvUnit(name + ".2", channels, channels, p)

    def forward(self, x: SparseVoxels, meter: SparseCostMeter | None) -> SparseVoxels:
        y = self.unit2(self.unit1(x, meter), meter)
        return y.replace(y.features + x.features)


@dataclasses.dataclass
class E3DSNNOutput:
    logits: Tensor  # (B, num_classes)
    point_logits: Tensor  # (N, num_seg_classes)
    point_valid: Tensor  # (N,) bool: the point fell inside the voxel box
    voxel_logits: Tensor  # (M, num_seg_classes): point_logits = voxel_logits[point_to_voxel]
    counters: Counters | None  # per-layer SOPs / MACs of this pass (count=True)
    pooled: Tensor | None = None  # (B, C_last): mean last-stage spikes (the cloud's embedding)


class E3DSNN(nn.Module):
    """Spiking sparse residual network with classification and segmentation heads."""

    def __init__(self, params: E3DSNNParams | None = None) -> None:
        super().__init__()
        p = self.params = validated(params or E3DSNNParams())
        c0 = p.stem_channels
        self.stem = ConvUnit("stem.conv", p.in_channels, c0, p, activate=False)
        self.stem_block = ResidualBlock("stem.block", c0, p)
        self.stages = nn.ModuleList()
        c_prev = c0
        for i, (c, depth) in enumerate(zip(p.stage_channels, p.stage_depth, strict=True)):
            down = ConvUnit(f"stage{i + 1}.down", c_prev, int(c), p, kernel=2, stride=2)
            blocks = [ResidualBlock(f"stage{i + 1}.block{j + 1}", int(c), p)
                      for j in range(int(depth))]
            self.stages.append(nn.ModuleList([down, *blocks]))
            c_prev = int(c)
        self.cls_act = Activation("cls.act", p.max_spikes, p.ann)
        self.cls_head = nn.Linear(c_prev, p.num_classes)
        levels = [c0, *(int(c) for c in p.stage_channels)]
        self.seg_act = nn.ModuleList(Activation(f"seg.act{i}", p.max_spikes, p.ann)
                                     for i in range(len(levels)))
        self.seg_fc1 = nn.Linear(sum(levels), p.seg_hidden)
        self.seg_norm = nn.BatchNorm1d(p.seg_hidden, eps=1e-3, momentum=0.01)
        self.seg_hidden_act = Activation("seg.hidden_act", p.max_spikes, p.ann)
        self.seg_fc2 = nn.Linear(p.seg_hidden, p.num_seg_classes)

    def forward(self, svc: SpikeVoxels, *, count: bool = False,
                segment: bool = True) -> E3DSNNOutput:
        """``segment=False`` skips the segmentation head (its outputs are then empty)."""
        x = svc.voxels
        p = self.params
        if x.features.shape[1] != p.in_channels:
            raise ValueError(f"E3DSNN: input has {x.features.shape[1]} channels, params say "
                             f"in_channels={p.in_channels}")
        # every site needs a parent at each downsampled level (the segmentation head reads
        # them): a grid size that does not halve evenly would drop its last row of sites
        x = x.padded_to(2 ** len(p.stage_channels))
        meter = SparseCostMeter(x.batch_size) if count else None
        spiking = not p.ann
        x = x.replace(x.features.to(self.cls_head.weight.dtype))
        x = self.stem_block(self.stem(x, meter), meter)
        levels = [x]
        for stage in self.stages:
            for layer in stage:
                x = layer(x, meter)
            levels.append(x)
        bsz = x.batch_size
        n_out = p.num_classes

        # classification: mean of the last stage's spikes per batch item
        s = self.cls_act(x.features, meter)
        b = x.coords[:, 0].to(torch.int64)
        sums = s.new_zeros(bsz, s.shape[1]).index_add(0, b, s)
        n = torch.bincount(b, minlength=bsz).clamp(min=1).to(s.dtype)
        if meter is not None:
            meter.synapse("cls.fc", "linear", sums, torch.ones(bsz, dtype=torch.int64), n_out,
                          spiking)
            meter.scale("cls.mean", bsz * n_out)
        pooled = sums / n[:, None]
        logits = self.cls_head(pooled)
        if not segment:
            empty = logits.new_zeros(0, p.num_seg_classes)
            return E3DSNNOutput(logits, empty, torch.zeros(0, dtype=torch.bool), empty,
                                meter.counters() if meter is not None else None, pooled)

        # segmentation: per point, the spikes of its voxel's parent at every level
        base = levels[0].coords
        feats = []
        for lvl, (v, act) in enumerate(zip(levels, self.seg_act, strict=True)):
            sv = act(v.features, meter)
            if lvl == 0:
                idx = torch.arange(len(base))
            else:
                parent = torch.cat([base[:, :1], base[:, 1:] // (2 ** lvl)], 1)
                idx = v.lookup(parent)
            feats.append(sv[idx])
        vox_feat = torch.cat(feats, 1)
        # every point of a voxel sees the same features: run the head per voxel, then gather
        if meter is not None:
            ones = torch.ones(len(vox_feat), dtype=torch.int64)
            meter.synapse("seg.fc1", "linear", vox_feat, ones, p.seg_hidden, spiking)
        h = self.seg_fc1(vox_feat)
        h = self.seg_norm(h) if len(h) > 1 or not self.training else h
        hs = self.seg_hidden_act(h, meter)
        if meter is not None:
            meter.synapse("seg.fc2", "linear", hs, ones, p.num_seg_classes, spiking)
        vox_logits = self.seg_fc2(hs)
        p2v = svc.point_to_voxel
        valid = p2v >= 0
        point_logits = vox_logits.new_zeros(len(p2v), p.num_seg_classes)
        point_logits[valid] = vox_logits[p2v[valid]]
        return E3DSNNOutput(logits, point_logits, valid, vox_logits,
                            meter.counters() if meter is not None else None, pooled)
