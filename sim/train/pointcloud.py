"""Training of the point-cloud SNN (:mod:`neuro_nodes.perception.e3dsnn`) on the procedural
sets of :mod:`sim.datasets.pointclouds`: TRAIN split for the weights, VAL split for the
epoch kept, TEST never (that is ``neuro eval pointcloud``'s).

Classification: each step draws ``batch`` clouds, each augmented afresh (mirror x, the
camera's left-right, which keeps every class a valid object; anisotropic scale
``U(1 - a, 1 + a)`` per axis; a random subset of ``U(keep_min, 1)`` of its points; Gaussian
jitter of ``jitter_m``).  Segmentation: the same minus the scale (metric box), and a random
shift of ``shift_m`` along x.  Loss: cross entropy (segmentation: per point, class weights
``1 / sqrt(frequency)`` normalised to mean 1, so that small objects count against the
walls and the floor).  Adam with cosine learning-rate decay; BatchNorm in train mode.

============== ============== ================================================================
TrainConfig    default        meaning
============== ============== ================================================================
task           classification ``classification`` or ``segmentation``
epochs         24             passes over the TRAIN clouds
batch          16             clouds per step
lr             0.002          Adam learning rate (cosine-decayed to 2 % of it)
weight_decay   1e-4           Adam weight decay
seed           0              torch / numpy seed (augmentation, order, init)
val_every      2              epochs between validations (model selection)
mirror         True           random left-right mirror
scale_aug      0.1            anisotropic scale ``U(1 - a, 1 + a)`` (classification)
keep_min       0.5            keep a random ``U(keep_min, 1)`` of each cloud's points
jitter_m       0.003          Gaussian point jitter (m)
shift_m        0.3            random x shift (m, segmentation)
============== ============== ================================================================
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neuro_nodes.core.params import param, validated
from neuro_nodes.perception.e3dsnn import E3DSNN, E3DSNNParams
from neuro_nodes.perception.pointcloud_model import TASKS, PointCloudModel
from neuro_nodes.perception.voxelize import VoxelizeParams, voxelize

#: Epochs of the shipped models' training.
EPOCHS = {"classification": 10, "segmentation": 24}
#: Segmentation training renders more views of each TRAIN room than the val/test splits.
TRAIN_VIEWS_PER_ROOM = 32

#: Voxel boxes of the shipped models.
CLASSIFICATION_VOXELS = VoxelizeParams(mode="normalised", resolution=32)
#: The optical frame of the robot's depth camera (0.22 m above the floor, level): x right,
#: y down (floor at +0.22), z forward; rooms are at most 8 m x 7 m x 2.8 m.
SEGMENTATION_VOXELS = VoxelizeParams(mode="metric", voxel_size=0.08,
                                     bounds_min=(-4.8, -3.04, 0.0), bounds_max=(4.8, 0.64, 9.6))


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (table in the module docstring)."""

    task: str = param("classification", "what to train", choices=TASKS)
    epochs: int = param(24, "passes over the TRAIN clouds", min=1, max=10_000)
    batch: int = param(16, "clouds per step", min=1, max=4096)
    lr: float = param(0.002, "Adam learning rate", min=1e-6, max=1.0)
    weight_decay: float = param(1e-4, "Adam weight decay", min=0.0, max=1.0)
    seed: int = param(0, "torch / numpy seed", min=0)
    val_every: int = param(2, "epochs between validations", min=1)
    mirror: bool = param(True, "random left-right mirror")
    scale_aug: float = param(0.1, "anisotropic scale jitter (classification)", min=0.0, max=0.5)
    keep_min: float = param(0.5, "smallest kept fraction of a cloud's points", min=0.05, max=1.0)
    jitter_m: float = param(0.003, "Gaussian point jitter (m)", min=0.0, max=0.1)
    shift_m: float = param(0.3, "random x shift (m, segmentation)", min=0.0, max=2.0)


def network_params(task: str, num_classes: int) -> E3DSNNParams:
    """The architecture trained for ``task`` (the other head is a 1-output stub)."""
    if task == "classification":
        return E3DSNNParams(num_classes=num_classes, num_seg_classes=1, stem_channels=16,
                            stage_channels=(32, 64, 96), stage_depth=(1, 1, 1))
    return E3DSNNParams(num_classes=1, num_seg_classes=num_classes, stem_channels=16,
                        stage_channels=(32, 48, 64), stage_depth=(1, 1, 1), seg_hidden=48)


def _augment(pts: np.ndarray, rng: np.random.Generator, tc: TrainConfig,
             classification: bool) -> tuple[np.ndarray, np.ndarray]:
    keep = rng.random(len(pts)) < rng.uniform(tc.keep_min, 1.0)
    if keep.sum() < 8:
        keep[:] = True
    idx = np.flatnonzero(keep)
    p = pts[idx].astype(np.float64)
    if tc.mirror and rng.random() < 0.5:
        p[:, 0] = -p[:, 0]
    if classification and tc.scale_aug > 0:
        p = p * rng.uniform(1 - tc.scale_aug, 1 + tc.scale_aug, 3)
    if not classification and tc.shift_m > 0:
        p[:, 0] += rng.uniform(-tc.shift_m, tc.shift_m)
    if tc.jitter_m > 0:
        p = p + rng.normal(0.0, tc.jitter_m, p.shape)
    return p, idx


def _batch(clouds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate(clouds)
    b = np.concatenate([np.full(len(c), i, np.int64) for i, c in enumerate(clouds)])
    return pts, b


def seg_class_weights(point_labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """``1 / sqrt(frequency)``, normalised to mean 1 over the classes present."""
    freq = np.bincount(point_labels.astype(np.int64), minlength=num_classes).astype(np.float64)
    w = np.where(freq > 0, 1.0 / np.sqrt(np.maximum(freq, 1.0) / max(freq.sum(), 1.0)), 0.0)
    w = w / w[freq > 0].mean()
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def evaluate(model: PointCloudModel, clouds: Any, *, max_clouds: int | None = None) -> dict:
    """Top-1 (classification) or mIoU and point accuracy (segmentation) over a CloudSet."""
    n = len(clouds) if max_clouds is None else min(len(clouds), max_clouds)
    if model.task == "classification":
        pred = np.array([int(np.argmax(model.predict(clouds.cloud(i)).class_probs))
                         for i in range(n)])
        truth = clouds.labels[:n]
        per_class = {c: float((pred[truth == k] == k).mean())
                     for k, c in enumerate(model.class_names) if (truth == k).any()}
        return {"top1": float((pred == truth).mean()), "per_class_acc": per_class, "clouds": n}
    k = len(model.class_names)
    conf = np.zeros((k, k + 1), np.int64)  # column k: no prediction (outside the box)
    for i in range(n):
        lab = model.predict(clouds.cloud(i)).point_labels
        truth = clouds.cloud_point_labels(i).astype(np.int64)
        np.add.at(conf, (truth, np.where(lab >= 0, lab, k)), 1)
    return segmentation_scores(conf, model.class_names) | {"clouds": n}


def segmentation_scores(conf: np.ndarray, names: tuple[str, ...]) -> dict:
    """mIoU over the classes present in the ground truth, per-class IoU, point accuracy;
    ``conf[truth, predicted]``, a last extra column for points given no prediction."""
    k = conf.shape[0]
    tp = np.diag(conf[:, :k]).astype(np.float64)
    gt, pr = conf.sum(1), conf[:, :k].sum(0)
    present = gt > 0
    iou = tp / np.maximum(gt + pr - tp, 1)
    return {"miou": float(iou[present].mean()),
            "iou": {names[i]: float(iou[i]) for i in range(len(names)) if present[i]},
            "point_acc": float(tp.sum() / max(conf.sum(), 1))}


def train(train_set: Any, val_set: Any, tc: TrainConfig,
          progress: Callable[[int, float, dict | None], None] | None = None,
          ) -> tuple[PointCloudModel, dict]:
    """Train on ``train_set``, keep the best validation epoch; returns (model, summary)."""
    tc = validated(tc)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    cls = tc.task == "classification"
    names = tuple(train_set.class_names)
    vox = CLASSIFICATION_VOXELS if cls else SEGMENTATION_VOXELS
    net = E3DSNN(network_params(tc.task, len(names)))
    model = PointCloudModel(tc.task, net, vox, names)
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / tc.batch)
    total = tc.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    weights = None if cls else seg_class_weights(train_set.point_labels, len(names))
    key = "top1" if cls else "miou"
    best: tuple[float, int, dict] | None = None
    best_state: dict | None = None
    t0 = time.perf_counter()
    history = []
    for epoch in range(tc.epochs):
        net.train()
        order = rng.permutation(len(train_set))
        losses = []
        for s in range(steps_per_epoch):
            ids = order[s * tc.batch:(s + 1) * tc.batch]
            clouds, targets = [], []
            for i in ids:
                p, idx = _augment(train_set.cloud(int(i)), rng, tc, cls)
                clouds.append(p)
                targets.append(train_set.labels[i] if cls
                               else train_set.cloud_point_labels(int(i))[idx])
            pts, b = _batch(clouds)
            svc = voxelize(pts, vox, batch=b, batch_size=len(clouds))
            out = net(svc)
            if cls:
                loss = F.cross_entropy(out.logits, torch.as_tensor(np.array(targets)))
            else:
                y = torch.as_tensor(np.concatenate(targets).astype(np.int64))
                v = out.point_valid
                loss = F.cross_entropy(out.point_logits[v], y[v], weight=weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        score = None
        if (epoch + 1) % tc.val_every == 0 or epoch + 1 == tc.epochs:
            net.eval()
            score = evaluate(model, val_set)
            if best is None or score[key] > best[0]:
                best = (score[key], epoch + 1, score)
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                        **({f"val_{key}": score[key]} if score else {})})
        if progress is not None:
            progress(epoch, float(np.mean(losses)), score)
    assert best is not None and best_state is not None
    net.load_state_dict(best_state)
    net.eval()
    summary = {"task": tc.task, f"val_{key}": best[0], "best_epoch": best[1],
               "val": best[2], "parameters": model.num_parameters,
               "train_clouds": len(train_set), "val_clouds": len(val_set),
               "time_s": time.perf_counter() - t0, "config": dataclasses.asdict(tc),
               "history": history}
    model.meta = {"training": summary}
    return model, summary


def _train_with_bar(tr: Any, va: Any, tc: TrainConfig, progress: bool) -> tuple[Any, dict]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    key = "top1" if tc.task == "classification" else "miou"
    with Progress(TextColumn(f"[bold blue]train {tc.task}"), BarColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                  disable=not progress, transient=True) as bar:
        job = bar.add_task("", total=tc.epochs, info="")
        val_text = ""

        def report(epoch: int, loss: float, score: dict | None) -> None:
            nonlocal val_text
            if score is not None:
                val_text = f", val {key} {100 * score[key]:.1f} %"
                if not progress:  # no live bar (not a terminal): one log line per validation
                    print(f"train {tc.task}: epoch {epoch + 1}/{tc.epochs}, loss {loss:.3f}"
                          f"{val_text}", file=sys.stderr, flush=True)
            bar.update(job, completed=epoch + 1, info=f"loss {loss:.3f}{val_text}")

        return train(tr, va, tc, report)


def run_training(tasks: tuple[str, ...], *, out: Any, seed: int = 0, epochs: int | None = None,
                 samples_per_class: int | None = None, rooms: int | None = None,
                 views_per_room: int = TRAIN_VIEWS_PER_ROOM, cache_dir: Any = None,
                 command: str = "", progress: bool = True) -> list[dict]:
    """``neuro train pointcloud``: build (or read) the TRAIN and VAL sets, train each task
    with a progress bar, save ``out/pointcloud_{cls,seg}.json`` (+ ``.pt``)."""
    from pathlib import Path

    from neuro_nodes.perception.pointcloud_model import SHIPPED, save
    from sim.datasets import pointclouds as pc

    summaries = []
    for task in tasks:
        if task == "classification":
            tr = pc.build("train", size=samples_per_class, cache_dir=cache_dir,
                          progress=progress)
            va = pc.build("val", cache_dir=cache_dir, progress=progress)
        else:
            room_seeds = pc.SEGMENTATION_ROOMS["train"][:rooms]
            tr = pc.build("train", kind="segmentation", size=room_seeds,
                          params=pc.RoomViewParams(views_per_room=views_per_room),
                          cache_dir=cache_dir, progress=progress)
            va = pc.build("val", kind="segmentation", cache_dir=cache_dir, progress=progress)
        tc = TrainConfig(task=task, epochs=epochs or EPOCHS[task], seed=seed,
                         batch=16 if task == "classification" else 8)
        model, summary = _train_with_bar(tr, va, tc, progress)
        model.meta["training"]["command"] = command
        model.meta["training"]["train_split"] = {"kind": tr.kind, "seeds": sorted(
            {int(s) for s in tr.seeds})[:3] + ["..."], "clouds": len(tr)}
        js = save(model, Path(out) / f"{SHIPPED[task]}.json")
        summaries.append({**{k: v for k, v in summary.items() if k != "history"},
                          "model": str(js)})
    return summaries


__all__ = ["CLASSIFICATION_VOXELS", "EPOCHS", "SEGMENTATION_VOXELS", "TRAIN_VIEWS_PER_ROOM",
           "TrainConfig", "evaluate", "network_params", "run_training", "seg_class_weights",
           "segmentation_scores", "train"]
