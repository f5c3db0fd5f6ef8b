"""``neuro eval pointcloud``: arguments, progress and report (the work: :mod:`.pointcloud`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(tasks: Any) -> None:
    t = tasks.add_parser("pointcloud", help="point-cloud SNN: TEST top-1, room mIoU, latency "
                                            "per 10k points, energy vs the ANN twin")
    t.add_argument("--cls-model", type=Path, default=None, metavar="JSON",
                   help="classification model (default: the shipped pointcloud_cls)")
    t.add_argument("--seg-model", type=Path, default=None, metavar="JSON",
                   help="segmentation model (default: the shipped pointcloud_seg)")
    t.add_argument("--backend", choices=("torch", "spconv"), default=None,
                   help="sparse-conv backend (default: the one stored in the model)")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    t.add_argument("--quick", action="store_true",
                   help="2 clouds per class, one room, few latency runs (smoke test)")
    t.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="dataset cache folder")
    t.add_argument("--json", action="store_true", help="print the results as JSON")
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from neuro_nodes.perception.pointcloud_model import default_model_path, load
    from sim.eval import pointcloud as E

    if args.threads < 1:
        print(f"neuro eval pointcloud: --threads must be >= 1, got {args.threads}",
              file=sys.stderr)
        return 2
    try:
        cls_path = args.cls_model or default_model_path("classification")
        seg_path = args.seg_model or default_model_path("segmentation")
        cls_model, seg_model = load(cls_path, backend=args.backend), load(
            seg_path, backend=args.backend)
        for m, want, path in ((cls_model, "classification", cls_path),
                              (seg_model, "segmentation", seg_path)):
            if m.task != want:
                raise ValueError(f"{path}: a {m.task} model, expected {want}")
    except ValueError as err:
        print(f"neuro eval pointcloud: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    cfg = E.EvalConfig.quick() if args.quick else E.EvalConfig()
    with Progress(SpinnerColumn(), TextColumn("[bold blue]eval pointcloud: {task.description}"),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        job = bar.add_task("", total=None)
        out = E.run(cls_model, seg_model, cfg, lambda s: bar.update(job, description=s),
                    cache_dir=args.cache)
    out = {"task": "pointcloud", "quick": bool(args.quick),
           "models": {"classification": str(cls_path), "segmentation": str(seg_path)},
           "backend": cls_model.net.params.backend, **out}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    _report(out)
    return 0


def _report(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    c, s = out["classification"], out["segmentation"]
    lat, en = out["latency"], out["energy"]
    t = Table(title=f"neuro eval pointcloud (TEST split{', quick' if out['quick'] else ''})")
    for col in ("task", "method", "score", "ms / 10k pts", "energy µJ", "SOPs M", "MACs M"):
        t.add_column(col, justify="left" if col in ("task", "method") else "right")
    for task, score_key, snn, base, base_name in (
            ("classification", "top1", c["snn"], c["baseline_shape_knn"], "shape-dist. kNN"),
            ("segmentation", "miou", s["snn"], s["baseline_majority"], "majority class")):
        e = en[task]
        t.add_row(task, "E-3DSNN (SNN)", f"{100 * snn[score_key]:.1f} %",
                  f"{lat[task]['ms_median']:.1f}", f"{1e6 * e['snn']['energy_j']:.2f}",
                  f"{e['snn']['sops'] / 1e6:.2f}", f"{e['snn']['macs'] / 1e6:.2f}")
        t.add_row("", "ANN twin (ReLU)", "", "", f"{1e6 * e['ann']['energy_j']:.2f}",
                  f"{e['ann']['sops'] / 1e6:.2f}", f"{e['ann']['macs'] / 1e6:.2f}")
        t.add_row("", base_name, f"{100 * base[score_key]:.1f} %", "", "", "", "")
        if task == "classification":
            h = out["classification_hard"]
            t.add_row("  hard views", "E-3DSNN (SNN)", f"{100 * h['snn']['top1']:.1f} %",
                      "", "", "", "")
            t.add_row("", base_name, f"{100 * h['baseline_shape_knn']['top1']:.1f} %",
                      "", "", "", "")
    Console().print(t)
    m = out["summary"]
    print(f"eval pointcloud: top-1 {100 * m['top1']:.1f} % (baseline "
          f"{100 * m['baseline_top1']:.1f} %; hard views {100 * m['top1_hard']:.1f} %), "
          f"mIoU {100 * m['miou']:.1f} % (baseline "
          f"{100 * m['baseline_miou']:.1f} %), {m['ms_per_cloud']:.1f} ms per 10k-point cloud, "
          f"energy SNN/ANN {m['energy_ratio_snn_vs_ann']:.3f}")
