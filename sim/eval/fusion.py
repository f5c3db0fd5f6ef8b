"""``neuro eval fusion``: static concatenation fusion against IEMF on :mod:`sim.datasets.fusion`.

For each seed, both methods (:mod:`sim.train.fusion`) train on the TRAIN split with the same
seed (same initialisation, data order and epochs), validating on the clean VAL split after
every epoch.  Then, on the TEST split, the fused head's top-1 under every condition of
:data:`sim.datasets.fusion.CONDITIONS` (clean; one modality with noise, dropout or
blackout; the degradation is seeded, identical for both methods).  Reported per method and
condition: mean and standard deviation over the seeds, and each seed's value; the unimodal
heads' top-1 too (the static model never trains them: its unimodal numbers are untrained
heads, given for completeness).

Epochs to the static model's accuracy: per seed, the first epoch at which IEMF's clean VAL
accuracy reaches the static model's final clean VAL accuracy, divided by the number of
epochs (``epochs_ratio``; 1.0 would be no faster; null when never reached).  VAL, not TEST:
the target comes from a split the ratio is then also measured on, never from TEST.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.datasets import fusion as fd
from sim.train.fusion import FusionTrainConfig, accuracy, train


@dataclass(frozen=True)
class EvalConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = ("static", "iemf")
    epochs: int = 12
    per_class: dict | None = None  # samples per class per split (None: the defaults)
    spiking: bool = True

    @staticmethod
    def quick() -> EvalConfig:
        return EvalConfig(seeds=(0,), epochs=1, per_class={"train": 3, "val": 2, "test": 2})


def _mean_std(values: list[float]) -> dict[str, Any]:
    a = np.asarray(values, float)
    return {"mean": float(a.mean()), "std": float(a.std()), "seeds": [float(v) for v in a]}


def epochs_to_reach(history: list[dict], target: float) -> int | None:
    """First epoch (1-based) whose clean VAL fused accuracy is >= ``target``."""
    for row in history:
        if row["val"]["fused"] >= target - 1e-12:
            return int(row["epoch"])
    return None


def run(cfg: EvalConfig, advance: Callable[[str], None] = lambda s: None,
        cache_dir: Any = None) -> dict[str, Any]:
    per = cfg.per_class or {}
    sets = {s: fd.build(s, per.get(s), cache_dir=cache_dir, progress=False)
            for s in ("train", "val", "test")}
    results: dict[str, dict[str, dict[str, list[float]]]] = {
        m: {c: {"fused": [], "events": [], "cloud": []} for c in fd.CONDITIONS}
        for m in cfg.methods}
    histories: dict[str, list] = {m: [] for m in cfg.methods}
    ratios, reached = [], []
    for seed in cfg.seeds:
        for method in cfg.methods:
            advance(f"seed {seed}: training {method}")
            tc = FusionTrainConfig(method=method, epochs=cfg.epochs, seed=seed,
                                   spiking=cfg.spiking)
            net, summary = train(sets["train"], sets["val"], tc)
            histories[method].append(summary["history"])
            advance(f"seed {seed}: testing {method}")
            for cond in fd.CONDITIONS:
                acc = accuracy(net, sets["test"], cond, seed=1000 + seed)
                for head, v in acc.items():
                    results[method][cond][head].append(v)
        if "static" in cfg.methods and "iemf" in cfg.methods:
            target = histories["static"][-1][-1]["val"]["fused"]
            e = epochs_to_reach(histories["iemf"][-1], target)
            reached.append(e)
            ratios.append(None if e is None else e / cfg.epochs)
    out: dict[str, Any] = {
        m: {c: _mean_std(results[m][c]["fused"]) for c in fd.CONDITIONS} for m in cfg.methods}
    out["unimodal"] = {m: {c: {h: _mean_std(results[m][c][h]) for h in ("events", "cloud")}
                           for c in fd.CONDITIONS} for m in cfg.methods}
    valid = [r for r in ratios if r is not None]
    out["epochs_ratio"] = float(np.mean(valid)) if len(valid) == len(ratios) and valid else None
    out["epochs_ratio_seeds"] = ratios
    out["epochs_to_static_final"] = reached
    out["val_curves"] = {m: [[row["val"]["fused"] for row in h] for h in hs]
                         for m, hs in histories.items()}
    if "iemf" in cfg.methods:
        out["iemf_coeff_per_epoch"] = [[row.get("coeff") for row in h]
                                       for h in histories["iemf"]]
    out["conditions"] = {c: {"modality": m, "kind": k, "rate": r}
                         for c, (m, k, r) in fd.CONDITIONS.items()}
    out["config"] = {"seeds": list(cfg.seeds), "epochs": cfg.epochs, "spiking": cfg.spiking,
                     "samples": {s: len(d) for s, d in sets.items()}}
    if "static" in out and "iemf" in out:
        gap = {c: out["iemf"][c]["mean"] - out["static"][c]["mean"] for c in fd.CONDITIONS}
        out["summary"] = {"iemf_minus_static": gap,
                          "iemf_ge_static_everywhere": all(v >= 0 for v in gap.values()),
                          "worst_degraded_gain": min(v for c, v in gap.items() if c != "clean"),
                          "epochs_ratio": out["epochs_ratio"]}
    return out


__all__ = ["EvalConfig", "epochs_to_reach", "run"]
