"""``neuro train dense-flow``: train the temporally dense SNN flow network on the simulated
TRAIN_SPECS + EXTRA_TRAIN_SPECS, select the epoch on VAL_SPECS, export it to NIR and write
it with its json. Registered into ``neuro`` through the ``neuro_nodes.cli`` entry-point
group (neuro_nodes never imports sim)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

#: Epochs of the shipped model's training (about 7 min alone on this 2-core machine).
EPOCHS = 48


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train learned perception models on simulated data")
    actions = p.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    d = actions.add_parser(
        "dense-flow", help="temporally dense SNN optical flow (10 ms steps, sparse GT)")
    d.add_argument("--epochs", type=int, default=EPOCHS,
                   help=f"passes over the data (default {EPOCHS})")
    d.add_argument("--seed", type=int, default=0, help="torch/numpy seed (default 0)")
    d.add_argument("--out", type=Path, default=Path("dense_flow_model"),
                   help="output folder for dense_flow.nir + .json (default ./dense_flow_model)")
    d.add_argument("--duration", type=float, default=None, metavar="S",
                   help="use only the first S seconds of each sequence (quick runs)")
    d.add_argument("--sequences", type=int, default=None, metavar="N",
                   help="train on the first N training sequences only (quick runs)")
    d.add_argument("--val-sequences", type=int, default=None, metavar="N",
                   help="validate on the first N validation sequences only (quick runs)")
    d.add_argument("--val-every", type=int, default=6, metavar="E",
                   help="epochs between validation runs (model selection; default 6)")
    d.add_argument("--cache-dir", type=Path, default=None,
                   help="sequence cache (default: sim.datasets.event_motion's)")
    d.add_argument("--augment", choices=("none", "polarity", "all"), default="all",
                   help="random polarity swaps (polarity), plus mirroring and event dropout "
                        "(all, the default), drawn afresh each epoch; none")
    d.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: small convolutions gain nothing from "
                        "more, and spinning threads stall on a busy machine)")
    d.add_argument("--json", action="store_true", help="print the summary as JSON")
    d.set_defaults(func=run_dense_flow)
    _register_pointcloud(actions)
    _register_fusion(actions)


def _register_fusion(actions: Any) -> None:
    from sim.train.fusion import METHODS

    d = actions.add_parser("fusion", help="events + point cloud fusion network (IEMF or "
                                          "static) on sim.datasets.fusion")
    d.add_argument("--method", choices=METHODS, default="iemf",
                   help="training method (default iemf)")
    d.add_argument("--epochs", type=int, default=12, help="passes over TRAIN (default 12)")
    d.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    d.add_argument("--ann", action="store_true", help="the ANN twin (ReLU encoders)")
    d.add_argument("--samples-per-class", type=int, default=None, metavar="N",
                   help="N training samples per class (quick runs; default 100)")
    d.add_argument("--val-samples-per-class", type=int, default=None, metavar="N",
                   help="N validation samples per class (quick runs; default 20)")
    d.add_argument("--out", type=Path, default=Path("fusion_model"),
                   help="output folder for fusion.json + .pt (default ./fusion_model)")
    d.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    d.add_argument("--json", action="store_true", help="print the summary as JSON")
    d.set_defaults(func=run_fusion)


def run_fusion(args: argparse.Namespace) -> int:
    bad = [f"--{n}" for n in ("epochs", "threads") if getattr(args, n) < 1]
    for name in ("samples_per_class", "val_samples_per_class"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            bad.append("--" + name.replace("_", "-"))
    if bad:
        print(f"neuro train fusion: {', '.join(bad)} must be >= 1", file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"neuro train fusion: --out: {args.out} exists and is not a folder",
              file=sys.stderr)
        return 2
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from neuro_nodes.perception.fusion.model import save
    from sim.datasets import fusion as fd
    from sim.train.fusion import FusionTrainConfig, train

    torch.set_num_threads(args.threads)
    live = sys.stderr.isatty() and not args.json
    tr = fd.build("train", args.samples_per_class, progress=live)
    va = fd.build("val", args.val_samples_per_class, progress=live)
    cfg = FusionTrainConfig(method=args.method, epochs=args.epochs, seed=args.seed,
                            spiking=not args.ann)
    with Progress(TextColumn(f"[bold blue]train fusion ({args.method})"), BarColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                  disable=not live, transient=True) as bar:
        job = bar.add_task("", total=args.epochs, info="")

        def report(epoch: int, row: dict) -> None:
            info = f"loss {row['loss']:.3f}, val {100 * row['val']['fused']:.1f} %"
            bar.update(job, completed=epoch + 1, info=info)
            if not live:
                print(f"train fusion: epoch {epoch + 1}/{args.epochs}, {info}",
                      file=sys.stderr, flush=True)

        net, summary = train(tr, va, cfg, report)
    command = "neuro train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if len(sys.argv) > 2 and sys.argv[1] == "train" else "neuro train fusion"
    path = save(net, args.out / "fusion.json", {"training": summary, "command": command,
                                                "class_names": list(tr.class_names)})
    summary = {k: v for k, v in summary.items() if k != "history"} | {"model": str(path)}
    if args.json:
        print(json.dumps(summary))
    else:
        v = summary["val_fused"]
        print(f"fusion {args.method}: val top-1 {100 * v:.1f} % after {args.epochs} epochs on "
              f"{summary['val_samples']} val samples ({summary['train_samples']} train), "
              f"{summary['parameters']} parameters, seed {args.seed}, "
              f"{summary['time_s']:.0f} s -> {path}")
    return 0


def _register_pointcloud(actions: Any) -> None:
    from sim.train.pointcloud import EPOCHS, TRAIN_VIEWS_PER_ROOM

    d = actions.add_parser(
        "pointcloud", help="E-3DSNN point-cloud SNN: object classification and room "
                           "segmentation on simulated depth views")
    d.add_argument("--task", choices=("classification", "segmentation", "both"),
                   default="both", help="which model(s) to train (default both)")
    d.add_argument("--epochs", type=int, default=None,
                   help="passes over the data (default: classification "
                        f"{EPOCHS['classification']}, segmentation {EPOCHS['segmentation']})")
    d.add_argument("--seed", type=int, default=0, help="torch/numpy seed (default 0)")
    d.add_argument("--out", type=Path, default=Path("pointcloud_model"),
                   help="output folder for pointcloud_cls/_seg .json + .pt "
                        "(default ./pointcloud_model)")
    d.add_argument("--samples-per-class", type=int, default=None, metavar="N",
                   help="classification: N training clouds per class (quick runs; "
                        "default the split's 200)")
    d.add_argument("--rooms", type=int, default=None, metavar="N",
                   help="segmentation: the first N training rooms only (quick runs)")
    d.add_argument("--views-per-room", type=int, default=TRAIN_VIEWS_PER_ROOM, metavar="V",
                   help=f"segmentation training views per room (default {TRAIN_VIEWS_PER_ROOM})")
    d.add_argument("--cache-dir", type=Path, default=None,
                   help="dataset cache (default: sim.datasets.pointclouds')")
    d.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    d.add_argument("--json", action="store_true", help="print the summary as JSON")
    d.set_defaults(func=run_pointcloud)


def run_pointcloud(args: argparse.Namespace) -> int:
    for name in ("epochs", "samples_per_class", "rooms"):
        v = getattr(args, name)
        if v is not None and v < 1:
            print(f"neuro train pointcloud: --{name.replace('_', '-')}: must be >= 1, got {v}",
                  file=sys.stderr)
            return 2
    if args.threads < 1 or args.views_per_room < 1:
        print("neuro train pointcloud: --threads and --views-per-room must be >= 1",
              file=sys.stderr)
        return 2
    if args.out.exists() and not args.out.is_dir():
        print(f"neuro train pointcloud: --out: {args.out} exists and is not a folder",
              file=sys.stderr)
        return 2
    import torch

    from sim.train.pointcloud import run_training

    torch.set_num_threads(args.threads)
    command = "neuro train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if len(sys.argv) > 2 and sys.argv[1] == "train" else "neuro train pointcloud"
    tasks = ("classification", "segmentation") if args.task == "both" else (args.task,)
    summaries = run_training(tasks, out=args.out, seed=args.seed, epochs=args.epochs,
                             samples_per_class=args.samples_per_class, rooms=args.rooms,
                             views_per_room=args.views_per_room, cache_dir=args.cache_dir,
                             command=command, progress=not (args.json or not sys.stderr.isatty()))
    if args.json:
        print(json.dumps(summaries))
    else:
        for s in summaries:
            score = (f"val top-1 {100 * s['val_top1']:.1f} %" if s["task"] == "classification"
                     else f"val mIoU {100 * s['val_miou']:.1f} %")
            print(f"pointcloud {s['task']}: {score} at epoch {s['best_epoch']}/"
                  f"{s['config']['epochs']} on {s['val_clouds']} val clouds "
                  f"({s['train_clouds']} train), {s['parameters']} parameters, seed "
                  f"{s['config']['seed']}, {s['time_s']:.0f} s -> {s['model']}")
    return 0


def _check(args: argparse.Namespace) -> str | None:
    if args.epochs < 1:
        return f"--epochs: must be >= 1, got {args.epochs}"
    if args.duration is not None and not args.duration >= 0.15:
        return f"--duration: must be >= 0.15 s (one supervised frame), got {args.duration}"
    if args.threads < 1:
        return f"--threads: must be >= 1, got {args.threads}"
    if args.sequences is not None and args.sequences < 1:
        return f"--sequences: must be >= 1, got {args.sequences}"
    if args.val_sequences is not None and args.val_sequences < 1:
        return f"--val-sequences: must be >= 1, got {args.val_sequences}"
    if args.val_every < 1:
        return f"--val-every: must be >= 1, got {args.val_every}"
    if args.out.exists() and not args.out.is_dir():
        return f"--out: {args.out} exists and is not a folder"
    return None


def run_dense_flow(args: argparse.Namespace) -> int:
    err = _check(args)
    if err:
        print(f"neuro train dense-flow: {err}", file=sys.stderr)
        return 2
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from neuro_nodes.perception.dense_flow import DenseFlowConfig
    from sim.datasets.event_motion import EXTRA_TRAIN_SPECS, TRAIN_SPECS, VAL_SPECS, make_sequence
    from sim.train.dense_flow import TrainConfig, save, train

    torch.set_num_threads(args.threads)
    specs = [*TRAIN_SPECS, *EXTRA_TRAIN_SPECS]
    val_specs = list(VAL_SPECS)  # other seeds of the training textures, never a TEST spec
    tc = TrainConfig(epochs=args.epochs, seed=args.seed, augment=args.augment,
                     val_every=args.val_every)
    if args.sequences is not None:
        specs = specs[: args.sequences]
    if args.val_sequences is not None:
        val_specs = val_specs[: args.val_sequences]
    if args.duration is not None:
        specs = [dataclasses.replace(s, duration_s=args.duration) for s in specs]
        val_specs = [dataclasses.replace(s, duration_s=args.duration) for s in val_specs]
    cfg = DenseFlowConfig()
    quiet = args.json or not sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), disable=quiet, transient=True) as bar:
        task = bar.add_task("sequences", total=len(specs) + len(val_specs), info="")

        def load(s: Any) -> Any:
            bar.update(task, info=s.name)
            seq = make_sequence(s, args.cache_dir)
            bar.advance(task)
            if s is specs[-1]:
                started()
            return seq

        val_seqs = [load(s) for s in val_specs]
        train_seqs = (load(s) for s in specs)  # one at a time: train() keeps what it needs

        def started() -> None:
            bar.update(task, description="training", total=tc.epochs, completed=0, info="")
        val_text = ""

        def progress(epoch: int, loss: float, val_aee: float | None) -> None:
            nonlocal val_text
            if val_aee is not None:
                val_text = f", val AEE {val_aee:.2f} px"
            bar.update(task, completed=epoch + 1, info=f"loss {loss:.1f} px/s{val_text}")

        net, summary = train(train_seqs, val_seqs, cfg, tc, progress)
    command = "neuro train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if len(sys.argv) > 2 and sys.argv[1] == "train" else "neuro train dense-flow"
    js = save(net, cfg, args.out, summary, command, [s.name for s in specs],
              [s.name for s in val_specs])
    summary = {**summary, "model": str(js.with_suffix(".nir"))}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"dense-flow: train EPE {summary['train_loss']:.1f} px/s, val AEE "
              f"{summary['val_aee']:.2f} px/frame (zero motion {summary['val_zero_aee']:.2f}) "
              f"on {len(val_specs)} validation sequences at epoch {summary['best_epoch']}/"
              f"{tc.epochs}, {summary['parameters']} parameters, seed {tc.seed}, "
              f"{summary['time_s']:.0f} s -> {summary['model']}")
    return 0
