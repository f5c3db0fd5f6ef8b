"""``neuro eval flow|egomotion|mapping``: every registered method on the same data.

Registered into ``neuro`` through the ``neuro_nodes.cli`` entry-point group. Without
``--scene``/``--bag`` it runs :data:`sim.datasets.event_motion.TEST_SPECS`; ``--scene``
takes a sequence name (``rotation-grid-x1-s0``) or a motion kind (``rotation``,
``translation``, ``6dof``: the test sequences of that kind). ``--bag`` evaluates a rosbag2
without ground truth (contrast gain over zero motion, |omega|). Methods asked for but not
registered are skipped with a note, never faked. Torch runs single-threaded here: on a
2-core machine two threads contend and run several times slower.

``neuro eval mapping`` runs the mappers (:mod:`neuro_nodes.mapping.registry`) on the
simulated depth sequences of :mod:`sim.datasets.mapping` (metrics: :mod:`sim.eval.mapping`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import Any

DEFAULT_METHODS = "cmax,emoflow,snn"
DEFAULT_MAPPERS = "neural,tsdf"


def register(sub: Any) -> None:
    p = sub.add_parser("eval", help="evaluate egomotion / optical-flow methods")
    tasks = p.add_subparsers(dest="eval_task", required=True, metavar="TASK")
    for task, text in (("flow", "optical flow: AEE, %Out at dt=1 and dt=4"),
                       ("egomotion", "angular velocity RMS, direction error, windows/s")):
        t = tasks.add_parser(task, help=text)
        src = t.add_mutually_exclusive_group()
        src.add_argument("--scene", metavar="S",
                         help="a sequence name or a motion kind (default: all test sequences)")
        src.add_argument("--bag", metavar="B", help="a rosbag2 folder (no ground truth)")
        t.add_argument("--methods", default=DEFAULT_METHODS,
                       help=f"comma-separated methods (default {DEFAULT_METHODS})")
        t.add_argument("--events", type=int, default=30000, help="events per window (30000)")
        t.add_argument("--max-windows", type=int, default=40,
                       help="windows per sequence at most, spread evenly (default 40)")
        t.add_argument("--quick", action="store_true",
                       help="0.25 s sequences, 4 windows each (smoke test)")
        t.add_argument("--cache", metavar="DIR", help="sequence cache folder")
        t.add_argument("--no-imu", action="store_true",
                       help="hide the gyro from the methods (events only)")
        t.add_argument("--json", action="store_true", help="print the results as JSON")
        t.set_defaults(func=run)
    _register_mapping(tasks)
    from sim.eval import pointcloud_cli

    pointcloud_cli.register(tasks)
    from sim.eval import fusion_cli

    fusion_cli.register(tasks)


def _register_mapping(tasks: Any) -> None:
    t = tasks.add_parser("mapping", help="mappers vs the exact SDF: SDF L1, Chamfer, "
                                         "update rate, query latency, memory, clearing")
    t.add_argument("--scene", metavar="S",
                   help="a sequence name (room-s0, room-s1, room-s2; tuning: room-s100..102; "
                        "default: the three test sequences)")
    t.add_argument("--methods", default=DEFAULT_MAPPERS,
                   help=f"comma-separated mappers (default {DEFAULT_MAPPERS})")
    t.add_argument("--frames", type=int, metavar="N",
                   help="use the first N frames of each sequence (default all)")
    t.add_argument("--quick", action="store_true",
                   help="room-s0 only, 15 frames, fewer evaluation points (smoke test)")
    t.add_argument("--no-noise", action="store_true", help="feed the noise-free depth")
    t.add_argument("--no-moving", action="store_true",
                   help="skip the moved-object clearing run")
    t.add_argument("--param", action="append", default=[], metavar="METHOD.KEY=VALUE",
                   help="override a mapper parameter, e.g. tsdf.voxel_size=0.04 (repeatable; "
                        "for equal-memory comparisons and tuning on room-s100..102)")
    t.add_argument("--cache", metavar="DIR", help="sequence cache folder")
    t.add_argument("--json", action="store_true", help="print the results as JSON")
    t.set_defaults(func=run_mapping)


def _select(scene: str | None, quick: bool) -> list[Any]:
    from sim.datasets.event_motion import MOTIONS, TEST_SPECS, TRAIN_SPECS
    from sim.datasets.event_motion import quick as quick_spec

    if scene is None:
        specs = list(TEST_SPECS)
    elif scene in MOTIONS:
        specs = [s for s in TEST_SPECS if s.motion == scene]
    else:
        specs = [s for s in (*TEST_SPECS, *TRAIN_SPECS) if s.name == scene]
        if not specs:
            names = ", ".join(s.name for s in TEST_SPECS)
            raise ValueError(f"--scene {scene!r}: not a motion ({', '.join(MOTIONS)}) or a "
                             f"sequence name (test: {names})")
    return [quick_spec(s) for s in specs] if quick else specs


def _methods(text: str) -> tuple[list[str], list[str]]:
    from neuro_nodes.perception.registry import METHODS

    asked = [m.strip() for m in text.split(",") if m.strip()]
    return [m for m in asked if m in METHODS], [m for m in asked if m not in METHODS]


def run(args: argparse.Namespace) -> int:
    import torch

    from neuro_nodes.bag.reader import BagError

    torch.set_num_threads(1)
    try:
        names, missing = _methods(args.methods)
        if args.events < 100:
            raise ValueError(f"--events must be at least 100, got {args.events}")
        if args.bag:
            return _run_bag(args, names, missing)
        specs = _select(args.scene, args.quick)
    except (ValueError, OSError, BagError) as err:
        print(f"neuro eval: {err}", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from sim.datasets.event_motion import make_sequence
    from sim.eval.motion import ZERO, ZeroMotion, evaluate_sequence, strided_windows, summarise

    max_w = min(4, args.max_windows) if args.quick else args.max_windows
    rows = [*names, ZERO]
    results: dict[str, list[Any]] = {m: [] for m in rows}
    notes = [f"{m}: not registered, skipped" for m in missing]
    with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), transient=True,
                  console=Console(stderr=True)) as progress:
        for spec in specs:
            seq = make_sequence(spec, args.cache)
            ws = strided_windows(seq.events, seq.camera, args.events, max_w,
                                 None if args.no_imu else seq.imu)
            if not ws:
                notes.append(f"{seq.name}: fewer than {args.events} events, skipped")
                continue
            for m in rows:
                est = ZeroMotion(seq.camera) if m == ZERO else _make(m, seq.camera, notes)
                if est is None:
                    continue
                task = progress.add_task(f"{m} {seq.name}", total=len(ws))
                results[m].append(evaluate_sequence(est, seq, ws,
                                                    lambda t=task: progress.advance(t)))
                progress.remove_task(task)
    out = {"task": args.eval_task, "events_per_window": args.events,
           "sequences": [s.name for s in specs], "quick": bool(args.quick),
           "imu": not args.no_imu,
           "methods": {m: summarise(results[m]) for m in rows if results[m]},
           "notes": list(dict.fromkeys(notes))}
    _report(out, args)
    return 0


def _make(name: str, camera: Any, notes: list[str]) -> Any:
    """The method's estimator, or None with a note when it cannot start (e.g. no model)."""
    from neuro_nodes.perception.registry import make_estimator

    try:
        return make_estimator(name, camera)
    except (ValueError, OSError, RuntimeError, ImportError) as err:
        notes.append(f"{name}: cannot start ({err}), skipped")
        return None


def _fmt(v: Any, nd: int = 2) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def _report(out: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    flow = args.eval_task == "flow"
    table = Table(title=f"neuro eval {args.eval_task} ({len(out['sequences'])} sequences, "
                        f"{args.events} events/window)")
    cols = (("aee", "AEE dt1 px"), ("out3", "%Out dt1"), ("aee_dt4", "AEE dt4 px"),
            ("out3_dt4", "%Out dt4"), ("flow_coverage", "coverage")) if flow else (
        ("omega_rms", "omega RMS rad/s"), ("omega_rms_pct", "% of max|omega|"),
        ("dir_err_deg", "dir err deg"), ("windows_per_s", "windows/s"))
    table.add_column("method")
    for _, title in cols:
        table.add_column(title, justify="right")
    for m, r in out["methods"].items():
        table.add_row(m, *(f"{_fmt(r[k])} ± {_fmt(r[k + '_std'])}" for k, _ in cols))
    Console().print(table)
    for note in out["notes"]:
        print(f"note: {note}")
    key = "aee" if flow else "omega_rms_pct"
    parts = [f"{m} {key}={_fmt(r[key])} ({_fmt(r['windows_per_s'], 1)} win/s)"
             for m, r in out["methods"].items()]
    print(f"eval {args.eval_task}: " + ", ".join(parts))


def _run_bag(args: argparse.Namespace, names: list[str], missing: list[str]) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from sim.eval.motion import ZERO, ZeroMotion, evaluate_bag, read_bag, strided_windows

    stream = read_bag(args.bag)
    max_w = min(4, args.max_windows) if args.quick else args.max_windows
    ws = strided_windows(stream.events, stream.camera, args.events, max_w,
                        None if args.no_imu else stream.imu)
    if not ws:
        raise ValueError(f"{args.bag}: fewer than {args.events} events")
    rows = [*names, ZERO]
    res = {}
    notes = [f"{m}: not registered, skipped" for m in missing]
    with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), transient=True,
                  console=Console(stderr=True)) as progress:
        for m in rows:
            est = ZeroMotion(stream.camera) if m == ZERO else _make(m, stream.camera, notes)
            if est is None:
                continue
            task = progress.add_task(m, total=len(ws))
            res[m] = evaluate_bag(est, ws, lambda t=task: progress.advance(t))
    c = stream.camera
    out = {"task": args.eval_task, "bag": str(args.bag), "topic": stream.topic,
           "events": len(stream.events), "events_per_window": args.events,
           "camera": {"fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy, "width": c.width,
                      "height": c.height, "source": stream.camera_source},
           "imu": stream.imu is not None and not args.no_imu, "methods": res, "notes": notes}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for note in out["notes"]:
        print(f"note: {note}")
    print(f"camera: {c.width}x{c.height}, {stream.camera_source}")
    parts = [f"{m} contrast_gain={_fmt(r['contrast_gain'], 3)} "
             f"|omega|={_fmt(r['omega_abs_mean'], 3)} rad/s" for m, r in res.items()]
    print(f"eval {args.eval_task} {args.bag} ({len(ws)} windows): " + ", ".join(parts))
    return 0


def _mapping_specs(scene: str | None, quick: bool) -> tuple[list[Any], Any]:
    """The static specs to run and the moving spec of the same split."""
    from sim.datasets.mapping import (
        MOVING_SPEC,
        TEST_SPECS,
        TUNE_MOVING_SPEC,
        TUNE_SPECS,
        spec_by_name,
    )

    if scene is None:
        specs = [TEST_SPECS[0]] if quick else list(TEST_SPECS)
    else:
        spec = spec_by_name(scene)
        if spec.move:
            raise ValueError(f"--scene {scene!r} is the moving sequence; name a static one "
                             f"(the clearing run uses it by itself)")
        specs = [spec]
    tuning = all(s in TUNE_SPECS for s in specs)
    return specs, TUNE_MOVING_SPEC if tuning else MOVING_SPEC


def run_mapping(args: argparse.Namespace) -> int:
    from sim.eval import mapping as E

    try:
        names, missing = E.split_methods(args.methods)
        if args.frames is not None and args.frames < 2:
            raise ValueError(f"--frames must be at least 2, got {args.frames}")
        specs, moving_spec = _mapping_specs(args.scene, args.quick)
        overrides = E.parse_overrides(args.param, names)
    except ValueError as err:
        print(f"neuro eval: {err}", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from sim.datasets.mapping import make_sequence

    cfg = (E.EvalConfig.quick(args.frames, not args.no_noise) if args.quick
           else E.EvalConfig(frames=args.frames, noise=not args.no_noise))
    notes = [f"{m}: not registered, skipped" for m in missing]
    per_seq: dict[str, dict[str, Any]] = {m: {} for m in names}
    clearing: dict[str, Any] = {}
    started: set[str] = set(names)
    warm: dict[str, float] = {}
    with Progress(TextColumn("[bold blue]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), transient=True,
                  console=Console(stderr=True)) as progress:
        for spec in specs:
            seq = make_sequence(spec, args.cache)
            truth = E.truth_for(seq, cfg)
            for m in names:
                if m not in started:
                    continue
                mapper = E.start_mapper(m, seq, notes, overrides.get(m))
                if mapper is None:
                    started.discard(m)
                    continue
                if m not in warm:
                    warm[m] = E.warm_up(m, seq, overrides.get(m))
                task = progress.add_task(f"{m} {seq.name}", total=len(truth.frames))
                per_seq[m][seq.name] = E.evaluate_static(
                    mapper, seq, truth, cfg, lambda t=task: progress.advance(t))
                progress.remove_task(task)
                del mapper
        if not args.no_moving and started:
            seq = make_sequence(moving_spec, args.cache)
            for m in names:
                if m not in started:
                    continue
                mapper = E.start_mapper(m, seq, notes, overrides.get(m))
                if mapper is None:
                    continue
                task = progress.add_task(f"{m} {seq.name} (clearing)")
                clearing[m] = E.evaluate_clearing(mapper, seq, cfg,
                                                  lambda t=task: progress.advance(t))
                progress.remove_task(task)
                del mapper
    out = {"task": "mapping", "sequences": [s.name for s in specs],
           "moving_sequence": None if args.no_moving else moving_spec.name,
           "frames": cfg.frames, "quick": bool(args.quick), "noise": cfg.noise,
           "config": dataclasses.asdict(cfg), "params": overrides,
           "methods": {m: {**E.summarise(per_seq[m], clearing.get(m)),
                           "warm_up_ms": warm.get(m)} for m in names if per_seq[m]},
           "notes": list(dict.fromkeys(notes))}
    _report_mapping(out, args)
    return 0 if out["methods"] or not names else 1  # asked for mappers, none ran


def _report_mapping(out: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"neuro eval mapping ({', '.join(out['sequences'])}; noise "
                        f"{'on' if out['noise'] else 'off'})")
    # short titles: the table fits 80 columns (units: cm, Hz, ms, MB, updates)
    cols = (("sdf_l1_near_m", "near cm", 100, 2), ("sdf_l1_free_m", "free cm", 100, 2),
            ("chamfer_m", "chamf cm", 100, 2), ("completion_ratio", "compl", 1, 3),
            ("update_hz", "upd Hz", 1, 1), ("query_ms_10k", "q10k ms", 1, 1),
            ("memory_mb", "MB", 1, 1), ("clear_updates", "clear", 1, 0))
    table.add_column("method")
    for _, title, _, _ in cols:
        table.add_column(title, justify="right")
    for m, r in out["methods"].items():
        table.add_row(m, *(_fmt(None if r.get(k) is None else r[k] * s, nd)
                           for k, _, s, nd in cols))
    Console().print(table)
    for note in out["notes"]:
        print(f"note: {note}")
    parts = [f"{m} L1 near {_fmt(_cm(r.get('sdf_l1_near_m')))} cm, Chamfer "
             f"{_fmt(_cm(r.get('chamfer_m')))} cm, {_fmt(r.get('update_hz'), 1)} Hz, "
             f"query {_fmt(r.get('query_ms_10k'), 1)} ms, clear "
             f"{r.get('clear_updates') if r.get('clear_updates') is not None else 'n/a'}"
             for m, r in out["methods"].items()]
    print("eval mapping: " + ("; ".join(parts) if parts else "no method ran"))


def _cm(v: float | None) -> float | None:
    return None if v is None else 100 * v


__all__ = ["register", "run", "run_mapping"]
