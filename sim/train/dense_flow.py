"""Training of the temporally dense SNN flow network (:mod:`neuro_nodes.perception.dense_flow`).

Data: simulated sequences (:mod:`sim.datasets.event_motion`: TRAIN_SPECS and
EXTRA_TRAIN_SPECS, training textures only) binned into 10 ms steps; model selection on
VAL_SPECS (other seeds, training textures); TEST_SPECS are never seen here.

Supervision: after a warm-up, every ``sup_every``-th step is compared with the ground
truth at the step's end time, linearly interpolated between the 30 Hz ground-truth frames
(the network predicts at 100 Hz, 3.3x denser than the frames it learns from)::

    L = Σ_cells m·‖ŷ − f/flow_scale‖₂ / Σ m

with ``f`` the per-cell mean of the full-resolution flow and ``m`` = cells with events in
the last :data:`~neuro_nodes.perception.dense_flow.VALID_BINS` bins and finite ground truth
(flow is only asked for where events are).  Surrogate-gradient BPTT, truncated every
``chunk_steps`` steps (the state carries on, its graph is cut).

Augmentation (``augment``), drawn afresh each time a sequence is used: ``polarity`` swaps
ON/OFF with probability 1/2 (the contrast-inverted scene: same flow); ``all`` also mirrors
left-right and up-down (events and flow mirrored exactly at full resolution: u or v
changes sign) and, when ``keep_min`` < 1, keeps a random fraction ``keep_min``–1 of the
events (the count per cell then changes with no change of flow, so the network cannot read
speed from the event rate, which differs between textures).  Dropout is off by default:
with it the loss had not moved after 6 epochs, more than the CPU budget allows.

Initialisation: :func:`calibrate` scales the weights into each spiking layer until it
fires about ``init_rate`` of its neurons per step on a few training clips.

Model selection: every ``val_every`` epochs the network is exported to NIR and run as the
``snn`` method of :mod:`sim.eval.motion` on the validation sequences (30k-event windows,
AEE at dt = 1 frame); the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuro_nodes.perception.dense_flow import (
    VALID_BINS,
    DenseFlowConfig,
    build_network,
    coarse_flow,
    encode_bins,
    pooled_to_cell,
    save_model,
)

AUGMENTS = ("none", "polarity", "all")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    seed: int = 0
    lr: float = 3e-3
    batch: int = 2  # per-clip cost hardly depends on it: small batches, more updates
    chunk_steps: int = 10  # truncated BPTT length (steps of bin_s)
    sup_every: int = 1  # supervise every n-th step (interpolated ground truth)
    warmup_s: float = 0.05  # no supervision before the network has seen this much
    augment: str = "all"  # "none", "polarity" or "all" (module docstring)
    keep_min: float = 1.0  # smallest fraction of events kept by "all" (1: no dropout)
    val_every: int = 5  # epochs between validation runs (and after the last)
    val_windows: int = 10  # windows per validation sequence at most
    init_rate: float = 0.1  # spikes per neuron and step the initialisation aims at


@dataclasses.dataclass
class Clip:
    """One sequence prepared for training: its events (model resolution), the supervised
    steps ``steps`` (S,) and, per mirroring (fx, fy), coarse targets (S, 2, Ho, Wo) px/s
    (NaN where undefined)."""

    name: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    n_bins: int
    steps: np.ndarray
    targets: dict[tuple[bool, bool], np.ndarray]


def interpolated_targets(flow_t_s: np.ndarray, coarse: np.ndarray,
                         t_s: np.ndarray) -> np.ndarray:
    """Coarse flows (F, 2, Ho, Wo) at frame times ``flow_t_s`` linearly interpolated at
    ``t_s`` (S,): (S, 2, Ho, Wo); NaN where either neighbour frame is NaN."""
    i = np.clip(np.searchsorted(flow_t_s, t_s, side="right") - 1, 0, len(flow_t_s) - 2)
    a = np.clip((t_s - flow_t_s[i]) / (flow_t_s[i + 1] - flow_t_s[i]), 0.0, 1.0)
    a = a.astype(np.float32)[:, None, None, None]
    return (1.0 - a) * coarse[i] + a * coarse[i + 1]


def prepare(seq: Any, cfg: DenseFlowConfig, tc: TrainConfig) -> Clip:
    """Pick the supervised steps of a :class:`~sim.datasets.event_motion.MotionSequence`
    and its coarse targets for every mirroring (``augment = all``; else the plain view)."""
    ev = seq.events
    w, h = seq.camera.width, seq.camera.height
    if (w, h) != (cfg.width, cfg.height):
        raise ValueError(f"{seq.name}: camera {w}x{h}, model {cfg.width}x{cfg.height}")
    if len(seq.flow_t_s) < 2:
        raise ValueError(f"{seq.name}: needs at least two ground-truth flow frames")
    bin_ns = round(cfg.bin_s * 1e9)
    n_bins = int(min(ev.t[-1] // bin_ns if len(ev.t) else 0,
                     math.floor(seq.flow_t_s[-1] / cfg.bin_s + 1e-9)))
    first = max(int(math.ceil(tc.warmup_s / cfg.bin_s - 1e-9)) - 1, 0)
    steps = np.arange(first, n_bins, tc.sup_every, dtype=np.int64)
    t_end = (steps + 1) * cfg.bin_s
    flow_t = np.asarray(seq.flow_t_s, np.float64)
    targets = {}
    mirrors = (False, True) if tc.augment == "all" else (False,)
    for fx in mirrors:
        for fy in mirrors:
            f = seq.flow
            if fx:
                f = f[..., ::-1] * np.array([-1, 1], np.float32)[None, :, None, None]
            if fy:
                f = f[..., ::-1, :] * np.array([1, -1], np.float32)[None, :, None, None]
            coarse = coarse_flow(np.ascontiguousarray(f), cfg)
            targets[(fx, fy)] = interpolated_targets(flow_t, coarse, t_end)
    # compact copies: a clip outlives its sequence (full-resolution flow and depth)
    return Clip(seq.name, np.asarray(ev.t, np.int64), ev.x.astype(np.int32),
                ev.y.astype(np.int32), ev.p.astype(np.int8), n_bins, steps, targets)


def sample(clip: Clip, cfg: DenseFlowConfig, tc: TrainConfig, rng: np.random.Generator,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented view of ``clip``: counts (T, 2, Hp, Wp), targets (S, 2, Ho, Wo)
    px/s (NaN filled with 0) and loss masks (S, Ho, Wo)."""
    fx = fy = sp = False
    keep = None
    if tc.augment in ("polarity", "all"):
        sp = bool(rng.random() < 0.5)
    if tc.augment == "all":
        fx, fy = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        if tc.keep_min < 1.0:
            keep = rng.random(len(clip.t)) < rng.uniform(tc.keep_min, 1.0)
    t, x, y, p = clip.t, clip.x, clip.y, clip.p
    if keep is not None:
        t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    x = cfg.width - 1 - x if fx else x
    y = cfg.height - 1 - y if fy else y
    counts = encode_bins(t, x, y, 1 - p if sp else p, 0, clip.n_bins, cfg)
    if (fx, fy) not in clip.targets:
        raise ValueError(f"{clip.name}: prepared without mirrored targets; prepare() it with "
                         "augment='all'")
    tgt = clip.targets[(fx, fy)]
    masks = recent_cells(counts, clip.steps, cfg) & np.isfinite(tgt).all(1)
    return counts, np.nan_to_num(tgt), masks


def recent_cells(counts: np.ndarray, steps: np.ndarray, cfg: DenseFlowConfig) -> np.ndarray:
    """(S, Ho, Wo) bool: for each step b, :func:`active_cells` of bins b - VALID_BINS + 1
    .. b (all steps at once: a running sum over time, one bincount)."""
    _, ho, wo = cfg.output_shape
    b = np.asarray(steps, np.int64)
    run = np.concatenate([np.zeros((1, *counts.shape[2:]), np.int64),
                          np.cumsum(counts.sum(1) > 0, axis=0)])
    seen = (run[b + 1] - run[np.maximum(b + 1 - VALID_BINS, 0)]).reshape(len(b), -1)
    cell = (pooled_to_cell(cfg)[None, :] + ho * wo * np.arange(len(b))[:, None]).ravel()
    n = np.bincount(cell, weights=seen.ravel(), minlength=len(b) * ho * wo)
    return (n > 0).reshape(len(b), ho, wo)


def masked_epe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean endpoint error over ``mask`` (pred/target ``[N, 2, H, W]``, mask ``[N, H, W]``)."""
    err = torch.sqrt(((pred - target) ** 2).sum(1) + 1e-6)
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp(min=1.0)


def train_batch(net: Any, views: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                steps: Sequence[np.ndarray], cfg: DenseFlowConfig, tc: TrainConfig,
                opt: torch.optim.Optimizer) -> float:
    """Truncated BPTT over one batch of views (shorter ones zero-padded); mean loss."""
    T = max(v[0].shape[0] for v in views)
    x = np.zeros((T, len(views), *views[0][0].shape[1:]), np.float32)
    sup: list[tuple[int, int, int]] = []  # (step, view, target index)
    for i, (v, st) in enumerate(zip(views, steps, strict=True)):
        x[: v[0].shape[0], i] = v[0]
        sup += [(int(s), i, j) for j, s in enumerate(st)]
    xt = torch.from_numpy(x)
    net.reset()
    total, n = 0.0, 0
    for t0 in range(0, T, tc.chunk_steps):
        y = net(xt[t0: t0 + tc.chunk_steps])
        here = [(s - t0, i, j) for s, i, j in sup if t0 <= s < t0 + y.shape[0]]
        if here:
            pred = torch.stack([y[s, i] for s, i, _ in here])
            tgt = torch.from_numpy(np.stack([views[i][1][j] for _, i, j in here]))
            msk = torch.from_numpy(np.stack([views[i][2][j] for _, i, j in here]))
            loss = masked_epe(pred, tgt / cfg.flow_scale, msk)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += float(loss.detach()) * len(here)
            n += len(here)
        net.detach()
    return total / max(n, 1) * cfg.flow_scale


def validate(net: Any, cfg: DenseFlowConfig, val_seqs: Sequence[Any],
             max_windows: int = 20) -> dict[str, float]:
    """The network exported to NIR and run as the ``snn`` estimator of the evaluation
    (:mod:`sim.eval.motion`, 30k-event windows) on ``val_seqs``: AEE (px/frame, dt = 1)
    per sequence and their mean (``mean``), beside the zero-motion AEE (``zero``)."""
    from neuro_nodes.perception.dense_flow import DenseFlowSNNEstimator
    from sim.eval.motion import ZeroMotion, evaluate_sequence, strided_windows

    out: dict[str, float] = {}
    zero = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dense_flow.nir"
        save_model(net, cfg, path, {})
        for seq in val_seqs:
            ws = strided_windows(seq.events, seq.camera, 30000, max_windows)
            if not ws:
                continue
            est = DenseFlowSNNEstimator(seq.camera, path)
            out[seq.name] = evaluate_sequence(est, seq, ws).aee
            zero.append(evaluate_sequence(ZeroMotion(seq.camera), seq, ws).aee)
    vals = [v for v in out.values() if math.isfinite(v)]
    out["mean"] = float(np.mean(vals)) if vals else math.nan
    out["zero"] = float(np.mean(zero)) if zero else math.nan
    return out


def calibrate(net: Any, x: torch.Tensor, target: float = 0.1, iters: int = 8) -> dict[str, float]:
    """Data-driven initialisation: scale the weights into each spiking layer (encoder
    conv, then the recurrent layer's input and feedback convs) until the layer fires at
    about ``target`` spikes per neuron and step on ``x`` ([T, B, 2, Hp, Wp]).  At the
    default init the recurrent layer fires < 0.1 % and its surrogate gradients starve.
    Returns the rates reached per layer."""
    layers = [(net[1], [net[0]]), (net[3], [net[2], net[3].w_rec])]
    rates: dict[str, float] = {}
    for k, (cell, convs) in enumerate(layers):
        seen: list[torch.Tensor] = []
        hook = cell.register_forward_hook(
            lambda _m, _i, o, seen=seen: seen.append(
                (o[0] if isinstance(o, tuple) else o).detach()))
        try:
            for _ in range(iters):
                seen.clear()
                net.reset()
                with torch.no_grad():
                    net(x)
                rate = float(torch.stack(seen).float().mean())
                if abs(rate - target) < 0.2 * target:
                    break
                gain = float(np.clip((target / max(rate, 1e-4)) ** 0.5, 0.5, 2.0))
                with torch.no_grad():
                    for conv in convs:
                        conv.weight.mul_(gain)
        finally:
            hook.remove()
        rates[f"layer{k}"] = rate
    net.reset()
    return rates


def parameter_count(net: Any) -> int:
    return int(sum(p.numel() for p in net.parameters() if p.requires_grad))


def train(train_seqs: Iterable[Any], val_seqs: Sequence[Any], cfg: DenseFlowConfig,
          tc: TrainConfig, progress: Callable[[int, float, float | None], None] | None = None,
          ) -> tuple[Any, dict[str, Any]]:
    """Train a fresh network; returns the best one on validation and the summary (losses,
    validation AEE per checkpoint, time, parameter count).  ``train_seqs`` may be a
    generator: each sequence is reduced to a :class:`Clip` as it comes (memory)."""
    if tc.augment not in AUGMENTS:
        raise ValueError(f"augment: {tc.augment!r} is not one of {AUGMENTS}")
    start = time.perf_counter()
    clips = [prepare(s, cfg, tc) for s in train_seqs]
    if not clips or not val_seqs:
        raise ValueError("train: needs at least one training and one validation sequence")
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    net = build_network(cfg)
    probe = [sample(c, cfg, tc, np.random.default_rng(tc.seed)) for c in clips[:: max(
        len(clips) // 4, 1)][:4]]
    t_probe = min(30, *(p[0].shape[0] for p in probe))
    rates = calibrate(net, torch.from_numpy(np.stack([p[0][:t_probe] for p in probe], 1)),
                      tc.init_rate)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(tc.epochs, 1))
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    best_val: dict[str, float] = {}
    train_loss = math.nan
    for epoch in range(tc.epochs):
        order = rng.permutation(len(clips))
        losses = []
        for b in range(0, len(order), tc.batch):
            batch = [clips[i] for i in order[b: b + tc.batch]]
            views = [sample(c, cfg, tc, rng) for c in batch]
            losses.append(train_batch(net, views, [c.steps for c in batch], cfg, tc, opt))
        sched.step()
        train_loss = float(np.mean(losses))
        val_aee = None
        if (epoch + 1) % tc.val_every == 0 or epoch + 1 == tc.epochs:
            with torch.no_grad():
                v = validate(net, cfg, val_seqs, tc.val_windows)
            val_aee = v["mean"]
            history.append({"epoch": epoch + 1, "train_loss_px_s": train_loss,
                            "val_aee": val_aee})
            if best is None or val_aee < best[0]:
                best = (val_aee, epoch + 1, copy.deepcopy(net.state_dict()))
                best_val = v
        if progress is not None:
            progress(epoch, train_loss, val_aee)
    assert best is not None
    net.load_state_dict(best[2])
    net.reset()
    summary = {"train_loss": train_loss, "val_aee": best[0], "best_epoch": best[1],
               "val_zero_aee": best_val["zero"],
               "val_sequences_aee": {k: v for k, v in best_val.items()
                                     if k not in ("mean", "zero")},
               "history": history, "parameters": parameter_count(net), "init_rates": rates,
               "time_s": time.perf_counter() - start, "epochs": tc.epochs, "seed": tc.seed,
               "train_config": dataclasses.asdict(tc)}
    return net, summary


def save(net: Any, cfg: DenseFlowConfig, out: Path, summary: dict[str, Any],
         command: str, train_names: Sequence[str], val_names: Sequence[str]) -> Path:
    """Write ``out/dense_flow.nir`` and its json (config, shapes, training record)."""
    meta = {"training": {"command": command, **summary, "train_sequences": list(train_names),
                         "val_sequences": list(val_names)}}
    return save_model(net, cfg, Path(out) / "dense_flow.nir", meta)
