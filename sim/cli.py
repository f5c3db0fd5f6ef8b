"""``neuro sim run SCENE``: run a scene headless through the sim bridge, optionally
recording every topic it publishes to a bag. Registered into ``neuro`` through the
``neuro_nodes.cli`` entry-point group (neuro_nodes never imports sim)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import yaml


def register(sub: Any) -> None:
    p = sub.add_parser("sim", help="run MuJoCo scenes headless")
    actions = p.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    r = actions.add_parser("run", help="simulate a scene, publish over ROS, optionally record")
    from sim.scenes import SCENES

    r.add_argument("scene", choices=sorted(SCENES))
    r.add_argument("--duration", type=float, default=10.0, help="sim seconds (default 10)")
    r.add_argument("--record", metavar="BAG", help="record every topic to this new bag folder")
    r.add_argument("--rate", type=float, default=1.0,
                   help="real-time factor (0 = as fast as possible; default 1)")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="scene parameter override, e.g. --set n_links=8 (repeatable)")
    r.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                   help="sim_bridge parameter, e.g. -p events:=0 (repeatable)")
    r.set_defaults(func=run)


def _overrides(items: list[str], sep: str) -> dict[str, Any]:
    out = {}
    for item in items:
        name, ok, value = item.partition(sep)
        if not ok:
            raise ValueError(f"expected NAME{sep}VALUE, got '{item}'")
        out[name] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from neuro_nodes.ros.bag_tap import BagTap
    from sim.ros.bridge import SimBridgeNode

    try:
        scene_overrides = _overrides(args.set, "=")
        params = {"scene": args.scene, "real_time_factor": args.rate,
                  "duration": args.duration,
                  "scene_params": yaml.safe_dump(scene_overrides, default_flow_style=True)
                  if scene_overrides else "", **_overrides(args.param, ":=")}
    except (ValueError, yaml.YAMLError) as err:
        print(f"neuro sim run: {err}", file=sys.stderr)
        return 2
    tap = BagTap(args.record) if args.record else None
    rclpy.init(args=[])
    node = None
    sim_started = time.monotonic()
    try:
        node = SimBridgeNode(tap=tap, parameter_overrides=[
            Parameter(k, value=v) for k, v in params.items()])
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        columns = (TextColumn(f"[bold blue]{args.scene}"), BarColumn(),
                   TextColumn("{task.completed:.1f}/{task.total:.1f} s sim"),
                   TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("", total=args.duration)
            sim_started = time.monotonic()
            while not node.finished.is_set():
                executor.spin_once(timeout_sec=0.05)
                progress.update(task, completed=min(args.duration, node.runner.time_ns * 1e-9))
    except KeyboardInterrupt:
        pass
    except Exception as err:
        print(f"neuro sim run: {err}", file=sys.stderr)
        return 1
    finally:
        sim_s = node.runner.time_ns * 1e-9 if node is not None and node.runner else 0.0
        counts = dict(node.health.counts) if node is not None else {}
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        if tap is not None:
            tap.close()
    wall = time.monotonic() - sim_started
    recorded = (f", recorded {sum(tap.counts.values()):,} messages on {len(tap.counts)} "
                f"topics to {args.record}" if tap is not None else "")
    print(f"sim: {args.scene} {sim_s:.1f} s simulated in {wall:.1f} s (real-time factor "
          f"{sim_s / wall:.2f}), {counts.get('event_packets', 0):,} event packets{recorded}")
    return 0
