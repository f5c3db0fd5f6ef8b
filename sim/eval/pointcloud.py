"""``neuro eval pointcloud``: the point-cloud SNN on the TEST splits of
:mod:`sim.datasets.pointclouds`, with its baselines in the same run.

* **classification** (TEST partial views, 60 per class): top-1 and per-class accuracy of the
  SNN; baseline: shape distributions (Osada et al., "Shape distributions", ACM TOG 2002: a
  histogram of distances between random point pairs, here normalised by the cloud's
  largest extent, plus the sorted extent ratios and the cloud's metric size) with a
  k-nearest-neighbour vote fitted on the TRAIN split;
* **robustness** (the same TEST seeds as :data:`HARD_VIEWS`: floor and clutter points
  within 10 cm of the object kept, 3x the depth noise): top-1 of both methods, no retraining;
* **segmentation** (TEST rooms, camera optical frame): mIoU over the classes present in the
  ground truth, per-class IoU, point accuracy; baseline: every point the TRAIN split's most
  frequent class (the floor of any mIoU);
* **latency**: voxelisation + network per cloud of 10k points (room views of the TEST rooms
  rendered with ``max_points = 10000``), median and p90, for both networks;
* **energy** (45 nm CMOS, :mod:`neuro_nodes.accel.energy`): per inference, SNN vs its ANN
  twin (same architecture and weights, ReLU neurons) on the same TEST clouds; the twin's
  MAC count depends only on the architecture and the active sites.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuro_nodes.accel.energy import estimate
from neuro_nodes.perception.pointcloud_model import PointCloudModel
from sim.datasets.pointclouds import ObjectViewParams
from sim.train.pointcloud import evaluate, segmentation_scores

PROFILE = "cmos45nm"
LATENCY_POINTS = 10_000
#: The robustness row: the TEST seeds again, with floor and clutter points within 10 cm of
#: the object kept (as an imperfect segmentation would leave them) and 3x the axial noise.
#: Training never sees such views.
HARD_VIEWS = ObjectViewParams(context_m=0.10, noise_a=0.003)


@dataclass(frozen=True)
class EvalConfig:
    samples_per_class: int | None = None  # TEST classification clouds per class (None: all)
    rooms: tuple[int, ...] | None = None  # TEST rooms (None: all)
    energy_clouds: int = 40  # clouds per task priced for energy
    latency_clouds: int = 20  # 10k-point clouds timed
    latency_repeats: int = 3  # timed passes per cloud (after one warm-up)
    baseline_k: int = 5  # neighbours of the shape-distribution baseline

    @staticmethod
    def quick() -> EvalConfig:
        return EvalConfig(samples_per_class=2, rooms=(300,), energy_clouds=4,
                          latency_clouds=2, latency_repeats=1)


# --------------------------------------------------------------------------- baselines
def shape_distribution(points: np.ndarray, rng: np.random.Generator, pairs: int = 2048,
                       bins: int = 32) -> np.ndarray:
    """D2 histogram (pair distances / largest extent) + sorted extent ratios + log size."""
    p = np.asarray(points, np.float64)
    i = rng.integers(0, len(p), pairs)
    j = rng.integers(0, len(p), pairs)
    ext = np.sort(p.max(0) - p.min(0))[::-1]
    size = max(ext[0], 1e-6)
    d = np.linalg.norm(p[i] - p[j], axis=1) / size
    hist = np.histogram(d, bins=bins, range=(0.0, 1.0))[0] / pairs
    return np.concatenate([hist, ext[1:] / size, [np.log(size)]])


class ShapeDistributionKNN:
    """k-NN on standardised shape-distribution features (fitted on TRAIN only)."""

    def __init__(self, k: int = 5, seed: int = 0) -> None:
        self.k, self.seed = k, seed

    def _features(self, clouds: list[np.ndarray]) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return np.stack([shape_distribution(c, rng) for c in clouds])

    def fit(self, clouds: list[np.ndarray], labels: np.ndarray) -> ShapeDistributionKNN:
        f = self._features(clouds)
        self.mean, self.std = f.mean(0), f.std(0) + 1e-9
        self.train = (f - self.mean) / self.std
        self.labels = np.asarray(labels)
        return self

    def predict(self, clouds: list[np.ndarray]) -> np.ndarray:
        f = (self._features(clouds) - self.mean) / self.std
        d = ((f[:, None, :] - self.train[None]) ** 2).sum(2)
        nn = np.argsort(d, 1)[:, : self.k]
        votes = self.labels[nn]
        n_cls = int(self.labels.max()) + 1
        return np.array([np.bincount(v, minlength=n_cls).argmax() for v in votes])


# -------------------------------------------------------------------------------- parts
def classification(model: PointCloudModel, train_set: Any, test_sets: dict[str, Any],
                   cfg: EvalConfig) -> dict[str, Any]:
    """SNN and shape-distribution kNN on each named TEST set (the kNN fitted on TRAIN once)."""
    knn = ShapeDistributionKNN(cfg.baseline_k).fit(
        [train_set.cloud(i) for i in range(len(train_set))], train_set.labels)
    out = {}
    for name, test_set in test_sets.items():
        pred = knn.predict([test_set.cloud(i) for i in range(len(test_set))])
        out[name] = {"snn": evaluate(model, test_set), "baseline_shape_knn": {
            "top1": float((pred == test_set.labels).mean()), "clouds": len(test_set)}}
    return out


def segmentation(model: PointCloudModel, train_set: Any, test_set: Any) -> dict[str, Any]:
    snn = evaluate(model, test_set)
    k = len(model.class_names)
    majority = int(np.bincount(train_set.point_labels.astype(np.int64), minlength=k).argmax())
    truth = test_set.point_labels.astype(np.int64)
    conf = np.zeros((k, k + 1), np.int64)
    np.add.at(conf, (truth, np.full_like(truth, majority)), 1)
    return {"snn": snn, "baseline_majority": {
        **segmentation_scores(conf, model.class_names), "class": model.class_names[majority]}}


def latency(model: PointCloudModel, clouds: list[np.ndarray], repeats: int) -> dict[str, Any]:
    """Median / p90 ms of ``predict`` per cloud (one untimed warm-up pass first)."""
    model.predict(clouds[0])
    times = []
    for c in clouds:
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.predict(c)
            times.append(1e3 * (time.perf_counter() - t0))
    return {"ms_median": float(np.median(times)), "ms_p90": float(np.percentile(times, 90)),
            "points": int(np.median([len(c) for c in clouds])), "runs": len(times)}


def energy(model: PointCloudModel, clouds: list[np.ndarray]) -> dict[str, Any]:
    """Mean energy per inference (J) and counts, SNN vs ANN twin, on the same clouds."""
    twin = model.ann_twin()
    rows: dict[str, list[dict[str, float]]] = {"snn": [], "ann": []}
    for c in clouds:
        for name, m in (("snn", model), ("ann", twin)):
            counters = m.predict(c, count=True).counters
            e = estimate(counters, PROFILE)
            rows[name].append({"energy_j": e.total_j, "sops": e.sops, "macs": e.macs,
                               "dense_macs": counters.dense_macs,
                               "spike_rate": counters.firing_rate})
    out = {name: {k: float(np.mean([r[k] for r in v])) for k in v[0]}
           for name, v in rows.items()}
    out["ratio_snn_vs_ann"] = out["snn"]["energy_j"] / out["ann"]["energy_j"]
    out["clouds"] = len(clouds)
    out["profile"] = PROFILE
    return out


def run(cls_model: PointCloudModel, seg_model: PointCloudModel, cfg: EvalConfig,
        advance: Callable[[str], None] = lambda s: None, cache_dir: Any = None) -> dict:
    """The whole evaluation (see the module docstring); ``advance`` names each stage."""
    from sim.datasets import pointclouds as pc

    torch.manual_seed(0)
    advance("classification data")
    cls_train = pc.build("train", cache_dir=cache_dir, progress=False)
    cls_test = pc.build("test", size=cfg.samples_per_class, cache_dir=cache_dir,
                        progress=False)
    cls_hard = pc.build("test", size=cfg.samples_per_class, cache_dir=cache_dir,
                        params=HARD_VIEWS, progress=False)
    advance("classification")
    both = classification(cls_model, cls_train, {"test": cls_test, "hard": cls_hard}, cfg)
    out: dict[str, Any] = {"classification": both["test"], "classification_hard": both["hard"]}
    advance("segmentation data")
    seg_train = pc.build("train", kind="segmentation", cache_dir=cache_dir, progress=False)
    seg_test = pc.build("test", kind="segmentation", size=cfg.rooms, cache_dir=cache_dir,
                        progress=False)
    advance("segmentation")
    out["segmentation"] = segmentation(seg_model, seg_train, seg_test)
    advance("latency")
    rooms = cfg.rooms or pc.SEGMENTATION_ROOMS["test"]
    views = max(1, -(-cfg.latency_clouds // len(rooms)))
    big = pc.build("test", kind="segmentation", size=rooms, cache_dir=cache_dir,
                   params=pc.RoomViewParams(max_points=LATENCY_POINTS, views_per_room=views),
                   progress=False)
    clouds10k = [big.cloud(i) for i in range(min(len(big), cfg.latency_clouds))]
    out["latency"] = {"segmentation": latency(seg_model, clouds10k, cfg.latency_repeats),
                      "classification": latency(cls_model, clouds10k, cfg.latency_repeats),
                      "threads": torch.get_num_threads()}
    advance("energy")
    n_e = cfg.energy_clouds
    pick = np.linspace(0, len(cls_test) - 1, min(n_e, len(cls_test))).astype(int)
    out["energy"] = {
        "classification": energy(cls_model, [cls_test.cloud(int(i)) for i in pick]),
        "segmentation": energy(seg_model, [seg_test.cloud(i)
                                           for i in range(min(n_e, len(seg_test)))])}
    c, s = out["classification"]["snn"], out["segmentation"]["snn"]
    out["summary"] = {
        "top1": c["top1"], "miou": s["miou"],
        "ms_per_cloud": out["latency"]["segmentation"]["ms_median"],
        "ms_per_cloud_classification": out["latency"]["classification"]["ms_median"],
        "energy_ratio_snn_vs_ann": out["energy"]["classification"]["ratio_snn_vs_ann"],
        "energy_ratio_snn_vs_ann_segmentation":
            out["energy"]["segmentation"]["ratio_snn_vs_ann"],
        "baseline_top1": out["classification"]["baseline_shape_knn"]["top1"],
        "top1_hard": out["classification_hard"]["snn"]["top1"],
        "baseline_top1_hard": out["classification_hard"]["baseline_shape_knn"]["top1"],
        "baseline_miou": out["segmentation"]["baseline_majority"]["miou"]}
    return out


__all__ = ["HARD_VIEWS", "EvalConfig", "ShapeDistributionKNN", "classification", "energy",
           "latency", "run", "segmentation", "shape_distribution"]
