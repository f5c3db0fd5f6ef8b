"""``neuro eval fusion``: arguments, progress and report (the work: :mod:`.fusion`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(tasks: Any) -> None:
    t = tasks.add_parser("fusion", help="events + point cloud fusion: static concatenation vs "
                                        "IEMF, clean and with one modality degraded")
    t.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="training seeds (default 0 1 2)")
    t.add_argument("--epochs", type=int, default=12, help="epochs per training (default 12)")
    t.add_argument("--ann", action="store_true", help="the ANN twin (ReLU encoders)")
    t.add_argument("--ablation", action="store_true",
                   help="also train static_aux (static + the unimodal losses, no IEMF "
                        "coefficient): which part of IEMF helps")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    t.add_argument("--quick", action="store_true",
                   help="one seed, one epoch, a few samples (smoke test)")
    t.add_argument("--cache", type=Path, default=None, metavar="DIR", help="dataset cache")
    t.add_argument("--json", action="store_true", help="print the results as JSON")
    t.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads < 1 or args.epochs < 1 or not args.seeds or min(args.seeds) < 0:
        print("neuro eval fusion: --threads and --epochs must be >= 1, seeds >= 0",
              file=sys.stderr)
        return 2
    import torch
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from sim.eval import fusion as E

    torch.set_num_threads(args.threads)
    cfg = E.EvalConfig.quick() if args.quick else E.EvalConfig(
        seeds=tuple(args.seeds), epochs=args.epochs)
    methods = ("static", "static_aux", "iemf") if args.ablation else cfg.methods
    cfg = E.EvalConfig(cfg.seeds, methods, cfg.epochs, cfg.per_class, spiking=not args.ann)
    with Progress(SpinnerColumn(), TextColumn("[bold blue]eval fusion: {task.description}"),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        job = bar.add_task("", total=None)

        def advance(stage: str) -> None:
            bar.update(job, description=stage)
            if not sys.stderr.isatty():
                print(f"eval fusion: {stage}", file=sys.stderr, flush=True)

        out = E.run(cfg, advance, cache_dir=args.cache)
    out = {"task": "fusion", "quick": bool(args.quick), **out}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    _report(out)
    return 0


def _report(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from sim.datasets.fusion import CONDITIONS

    n = len(out["config"]["seeds"])
    t = Table(title=f"neuro eval fusion (TEST top-1 of the fused head, {n} seed(s), "
                    f"{out['config']['epochs']} epochs)")
    t.add_column("condition")
    methods = [m for m in ("static", "static_aux", "iemf") if m in out]
    for m in methods:
        t.add_column(m, justify="right")
    t.add_column("IEMF − static", justify="right")
    for c in CONDITIONS:
        s, i = out["static"][c], out["iemf"][c]
        t.add_row(c, *(f"{100 * out[m][c]['mean']:.1f} ± {100 * out[m][c]['std']:.1f}"
                       for m in methods), f"{100 * (i['mean'] - s['mean']):+.1f}")
    Console().print(t)
    m = out["summary"]
    ratio = "not reached" if m["epochs_ratio"] is None else f"{m['epochs_ratio']:.2f}"
    print(f"eval fusion: IEMF >= static in every condition: {m['iemf_ge_static_everywhere']}, "
          f"worst degraded gain {100 * m['worst_degraded_gain']:+.1f} points, epochs to "
          f"static's final accuracy {ratio} of static's")
