"""Training of the temporally dense SNN flow network (:mod:`neuro_nodes.perception.dense_flow`).

Data: simulated sequences (:mod:`sim.datasets.event_motion`, TRAIN_SPECS only) binned into
10 ms steps; the network predicts flow after every step but is supervised only at
ground-truth frames ``gt_period_s`` apart (default 100 ms: ten times sparser than its
predictions, as in the seed paper).  Loss: mean endpoint error (in units of
``flow_scale``) over output cells with events in the last three bins and finite ground
truth.  Surrogate-gradient BPTT, truncated every ``chunk_steps`` steps (the state carries
on, its graph is cut).  Each sequence is also used mirrored left-right and up-down
(events and flow mirrored exactly at full resolution) and with swapped polarities,
as ``augment`` says.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuro_nodes.perception.dense_flow import (
    DenseFlowConfig,
    active_cells,
    build_network,
    coarse_flow,
    encode_bins,
    save_model,
    upsample_flow,
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    seed: int = 0
    lr: float = 3e-3
    batch: int = 2
    chunk_steps: int = 10  # truncated BPTT length (steps of bin_s): one GT frame each
    gt_period_s: float = 0.1  # supervision every 100 ms
    warmup_s: float = 0.05  # no supervision before the network has seen this much
    val_index: int = 8  # TRAIN spec held out for validation (6dof-checker-x1-s108)
    augment: str = "none"  # "none", "polarity" (2x the time) or "all" (flips too, 8x)


@dataclasses.dataclass
class Clip:
    """One sequence prepared for training: ``counts`` (T, 2, Hp, Wp), supervised steps
    ``steps`` (S,) with coarse targets (S, 2, Ho, Wo) px/s and masks (S, Ho, Wo)."""

    name: str
    counts: np.ndarray
    steps: np.ndarray
    targets: np.ndarray
    masks: np.ndarray
    full_flow: np.ndarray | None = None  # (S, 2, H, W) for the validation AEE
    frame_period_s: float = 1.0 / 30


def prepare(seq: Any, cfg: DenseFlowConfig, tc: TrainConfig, flip_x: bool = False,
            flip_y: bool = False, swap_p: bool = False, keep_full: bool = False) -> Clip:
    """Bin a :class:`~sim.datasets.event_motion.MotionSequence` and pick its supervised
    steps (flow frames on multiples of ``gt_period_s``), optionally mirrored or with the
    polarities swapped (the contrast-inverted scene: same flow)."""
    ev = seq.events
    w, h = seq.camera.width, seq.camera.height
    if (w, h) != (cfg.width, cfg.height):
        raise ValueError(f"{seq.name}: camera {w}x{h}, model {cfg.width}x{cfg.height}")
    x = (w - 1 - ev.x.astype(np.int64)) if flip_x else ev.x
    y = (h - 1 - ev.y.astype(np.int64)) if flip_y else ev.y
    bin_ns = round(cfg.bin_s * 1e9)
    n_bins = int(ev.t[-1] // bin_ns) if len(ev.t) else 0
    counts = encode_bins(ev.t, x, y, (1 - ev.p) if swap_p else ev.p, 0, n_bins, cfg)
    steps, targets, masks, fulls = [], [], [], []
    for f, t in enumerate(seq.flow_t_s):
        k = round(t / tc.gt_period_s)
        if abs(t - k * tc.gt_period_s) > 0.25 * cfg.bin_s or t < tc.warmup_s:
            continue
        b = round(t / cfg.bin_s) - 1  # the step ending at t
        if not 0 <= b < n_bins:
            continue
        flow = seq.flow[f]
        if flip_x:
            flow = flow[:, :, ::-1] * np.array([-1, 1], np.float32)[:, None, None]
        if flip_y:
            flow = flow[:, ::-1, :] * np.array([1, -1], np.float32)[:, None, None]
        target = coarse_flow(np.ascontiguousarray(flow), cfg)
        mask = active_cells(counts[max(0, b - 2): b + 1], cfg) & np.isfinite(target).all(0)
        steps.append(b)
        targets.append(np.nan_to_num(target))
        masks.append(mask)
        if keep_full:
            fulls.append(np.ascontiguousarray(flow))
    tag = ("-fx" if flip_x else "") + ("-fy" if flip_y else "") + ("-sp" if swap_p else "")
    return Clip(seq.name + tag, counts, np.array(steps, np.int64),
                np.array(targets, np.float32).reshape(-1, *cfg.output_shape),
                np.array(masks, bool).reshape(-1, *cfg.output_shape[1:]),
                np.array(fulls, np.float32) if keep_full else None,
                float(getattr(seq, "frame_period_s", 1.0 / 30)))


def _batch(clips: Sequence[Clip]) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """Stack clips to ``[T, B, ...]`` (shorter ones zero-padded); the supervised
    (step, clip, target) triples."""
    T = max(c.counts.shape[0] for c in clips)
    x = np.zeros((T, len(clips), *clips[0].counts.shape[1:]), np.float32)
    sup = []
    for i, c in enumerate(clips):
        x[: c.counts.shape[0], i] = c.counts
        sup += [(int(s), i, j) for j, s in enumerate(c.steps)]
    return torch.from_numpy(x), sup


def masked_epe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean endpoint error over ``mask`` (pred/target ``[N, 2, H, W]``, mask ``[N, H, W]``)."""
    err = torch.sqrt(((pred - target) ** 2).sum(1) + 1e-6)
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp(min=1.0)


def run_clips(net: Any, clips: Sequence[Clip], cfg: DenseFlowConfig, tc: TrainConfig,
              opt: torch.optim.Optimizer | None) -> tuple[float, list[np.ndarray]]:
    """One pass over ``clips`` as one batch: truncated BPTT when ``opt`` is given, else
    evaluation. Returns the mean loss and the predictions at the supervised steps."""
    x, sup = _batch(clips)
    net.reset()
    total, n, preds = 0.0, 0, []
    scale = cfg.flow_scale
    for t0 in range(0, x.shape[0], tc.chunk_steps):
        y = net(x[t0: t0 + tc.chunk_steps])
        here = [(s - t0, i, j) for s, i, j in sup if t0 <= s < t0 + y.shape[0]]
        if here:
            pred = torch.stack([y[s, i] for s, i, _ in here])
            tgt = torch.from_numpy(np.stack([clips[i].targets[j] for _, i, j in here])) / scale
            msk = torch.from_numpy(np.stack([clips[i].masks[j] for _, i, j in here]))
            loss = masked_epe(pred, tgt, msk)
            if opt is not None:
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
            total += float(loss.detach()) * len(here)
            n += len(here)
            preds += [p.detach().numpy() * scale for p in pred]
        net.detach()
    return total / max(n, 1), preds


def full_res_aee(preds: Sequence[np.ndarray], clip: Clip, cfg: DenseFlowConfig) -> float:
    """AEE (px/s) of upsampled predictions against the full-resolution ground truth, on
    pixels with events in the last three bins and finite ground truth."""
    errs = []
    for p, b, full in zip(preds, clip.steps, clip.full_flow, strict=True):
        up = upsample_flow(p, cfg, cfg.width, cfg.height)
        ev = clip.counts[max(0, b - 2): b + 1].sum(axis=(0, 1)) > 0
        ev = np.kron(ev, np.ones((cfg.pool, cfg.pool), bool))[: cfg.height, : cfg.width]
        ok = ev & np.isfinite(full).all(0)
        errs.append(np.linalg.norm(up - full, axis=0)[ok])
    return float(np.concatenate(errs).mean()) if errs else math.nan


def train(train_seqs: Sequence[Any], val_seq: Any, cfg: DenseFlowConfig, tc: TrainConfig,
          progress: Callable[[int, float], None] | None = None) -> tuple[Any, dict[str, float]]:
    """Train a fresh network; returns it and the summary (losses, val AEE, time)."""
    start = time.perf_counter()
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    flips = {"none": [(False, False, False)], "polarity": [(False, False, sp) for sp in
             (False, True)], "all": [(fx, fy, sp) for fx in (False, True)
                                     for fy in (False, True) for sp in (False, True)]}[tc.augment]
    clips = [prepare(s, cfg, tc, *f) for s in train_seqs for f in flips]
    val = prepare(val_seq, cfg, tc, keep_full=True)
    net = build_network(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(tc.epochs, 1))
    train_loss = math.nan
    for epoch in range(tc.epochs):
        order = rng.permutation(len(clips))
        losses = []
        for b in range(0, len(order), tc.batch):
            loss, _ = run_clips(net, [clips[i] for i in order[b: b + tc.batch]], cfg, tc, opt)
            losses.append(loss)
        sched.step()
        train_loss = float(np.mean(losses))
        if progress is not None:
            progress(epoch, train_loss)
    with torch.no_grad():
        val_loss, preds = run_clips(net, [val], cfg, tc, None)
        train_eval, _ = run_clips(net, clips[:: len(flips)][:8], cfg, tc, None)
    aee = full_res_aee(preds, val, cfg)
    zero = full_res_aee([np.zeros_like(p) for p in preds], val, cfg)
    summary = {"train_loss": train_eval * cfg.flow_scale, "val_loss": val_loss * cfg.flow_scale,
               "val_aee_px_s": aee, "val_aee_px_frame": aee * val.frame_period_s,
               "val_zero_flow_aee_px_s": zero,
               "time_s": time.perf_counter() - start, "epochs": tc.epochs, "seed": tc.seed}
    return net, summary


def save(net: Any, cfg: DenseFlowConfig, out: Path, summary: dict[str, Any],
         command: str, train_names: Sequence[str], val_name: str) -> Path:
    """Write ``out/dense_flow.nir`` and its json (config, shapes, training record)."""
    meta = {"training": {"command": command, **summary, "train_sequences": list(train_names),
                         "val_sequence": val_name}}
    return save_model(net, cfg, Path(out) / "dense_flow.nir", meta)
