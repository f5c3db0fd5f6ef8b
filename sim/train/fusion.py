"""Training of the event + point-cloud fusion network (:mod:`neuro_nodes.perception.fusion`).

Two methods on the same network, data order and initialisation (same seed):

* ``static``: concatenation fusion trained on the fused head's cross-entropy only;
* ``iemf``: the fused + both unimodal cross-entropies (``aux_weight`` each), and inside the
  epoch window ``[iemf_start, iemf_end)`` the fusion layer's gradient scaled by the IEMF
  coefficient of the batch plus noise of its own spread
  (:func:`~neuro_nodes.perception.fusion.iemf.modulate_gradients`);
* ``static_aux`` (ablation): static plus the unimodal losses, without the coefficient.

Adam with a cosine learning rate; validation (clean VAL split, fused head) after every epoch;
the model of the LAST epoch is kept (the evaluation counts epochs to a target accuracy, so no
early stopping).  Inputs are not degraded in training.

=============== ======= =====================================================================
FusionTrainConfig default meaning
=============== ======= =====================================================================
method          iemf    ``static``, ``static_aux`` or ``iemf``
epochs          12      passes over TRAIN
batch           32      samples per step
lr              0.003   Adam learning rate (cosine to 2 % of it)
weight_decay    1e-4    Adam weight decay
aux_weight      1.0     weight of each unimodal cross-entropy (static_aux, iemf)
iemf_start      0       first epoch of the IEMF window
iemf_end        -1      epoch after the window (-1: to the end)
noise           1.0     gradient noise, in units of the gradient's std (1 = as published)
seed            0       torch / numpy seed (initialisation, order, gradient noise)
spiking         True    SNN encoders; False: the ANN twin
=============== ======= =====================================================================
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neuro_nodes.core.params import param, validated
from neuro_nodes.perception.fusion import FusionNet, FusionNetParams
from neuro_nodes.perception.fusion.iemf import iemf_coefficient, modulate_gradients

METHODS = ("static", "static_aux", "iemf")


@dataclass(frozen=True)
class FusionTrainConfig:
    method: str = param("iemf", "Training method", choices=METHODS)
    epochs: int = param(12, "Passes over TRAIN", min=1, max=10_000)
    batch: int = param(32, "Samples per step", min=1, max=4096)
    lr: float = param(0.003, "Adam learning rate", min=1e-6, max=1.0)
    weight_decay: float = param(1e-4, "Adam weight decay", min=0.0, max=1.0)
    aux_weight: float = param(1.0, "Weight of each unimodal cross-entropy", min=0.0,
                              max=100.0)
    iemf_start: int = param(0, "First epoch of the IEMF window", min=0, max=10_000)
    iemf_end: int = param(-1, "Epoch after the IEMF window (-1: the end)", min=-1,
                          max=10_000)
    noise: float = param(1.0, "Gradient noise in units of the gradient's std", min=0.0,
                         max=10.0)
    seed: int = param(0, "Seed", min=0, max=2**31 - 1)
    spiking: bool = param(True, "SNN encoders; false: the ANN twin")


def batches(n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i:i + size] for i in range(0, n, size)]


def inputs(data: Any, ids: np.ndarray, condition: str = "clean",
           rng: np.random.Generator | None = None) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Event grids and clouds of samples ``ids`` (degraded by ``condition``)."""
    from sim.datasets.fusion import degrade

    grids, clouds = [], []
    for i in ids:
        g, c = data.events[i], data.cloud(int(i))
        if condition != "clean":
            g, c = degrade(g, c, condition, rng)
        grids.append(g)
        clouds.append(c)
    return torch.as_tensor(np.stack(grids)), clouds


@torch.no_grad()
def accuracy(net: FusionNet, data: Any, condition: str = "clean", seed: int = 0,
             batch: int = 64) -> dict[str, float]:
    """Top-1 of the fused and unimodal heads on ``data`` under ``condition`` (seeded)."""
    net.eval()
    rng = np.random.default_rng([seed, 99])
    hits = {"fused": 0, "events": 0, "cloud": 0}
    for s in range(0, len(data), batch):
        ids = np.arange(s, min(s + batch, len(data)))
        ev, cl = inputs(data, ids, condition, rng)
        out = net(ev, cl)
        y = torch.as_tensor(data.labels[ids])
        for k in hits:
            hits[k] += int((getattr(out, k).argmax(1) == y).sum())
    return {k: v / len(data) for k, v in hits.items()}


def train(train_set: Any, val_set: Any, cfg: FusionTrainConfig,
          progress: Callable[[int, dict], None] | None = None,
          net_params: FusionNetParams | None = None) -> tuple[FusionNet, dict]:
    """Train one network; returns it and a summary with the per-epoch history."""
    cfg = validated(cfg)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    noise_gen = torch.Generator().manual_seed(cfg.seed + 1)
    net = FusionNet(dataclasses.replace(net_params or FusionNetParams(),
                                        num_classes=len(train_set.class_names),
                                        spiking=cfg.spiking))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = math.ceil(len(train_set) / cfg.batch) * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    end = cfg.epochs if cfg.iemf_end < 0 else cfg.iemf_end
    history: list[dict] = []
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        net.train()
        losses, coeffs = [], []
        for ids in batches(len(train_set), cfg.batch, rng):
            ev, cl = inputs(train_set, ids)
            y = torch.as_tensor(train_set.labels[ids])
            out = net(ev, cl)
            loss = F.cross_entropy(out.fused, y)
            if cfg.method != "static":
                loss = loss + cfg.aux_weight * (F.cross_entropy(out.events, y)
                                                + F.cross_entropy(out.cloud, y))
            opt.zero_grad()
            loss.backward()
            if cfg.method == "iemf" and cfg.iemf_start <= epoch < end:
                coeff = iemf_coefficient([out.events, out.cloud], out.fused, y)
                modulate_gradients(net.fusion.parameters(), coeff, cfg.noise, noise_gen)
                coeffs.append(coeff)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        val = accuracy(net, val_set)
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val": val,
               **({"coeff": float(np.mean(coeffs))} if coeffs else {})}
        history.append(row)
        if progress is not None:
            progress(epoch, row)
    summary = {"method": cfg.method, "config": dataclasses.asdict(cfg),
               "val_fused": history[-1]["val"]["fused"], "history": history,
               "train_samples": len(train_set), "val_samples": len(val_set),
               "parameters": sum(p.numel() for p in net.parameters()),
               "time_s": time.perf_counter() - t0}
    net.eval()
    return net, summary


__all__ = ["METHODS", "FusionTrainConfig", "accuracy", "batches", "inputs", "train"]
