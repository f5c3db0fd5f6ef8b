"""``neuro``: the project's command line. Only subcommands that work exist."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


def _cmd_doctor(args: argparse.Namespace) -> int:
    from neuro_nodes.cli import doctor

    return doctor.main(as_json=args.json)


def _cmd_launch(args: argparse.Namespace) -> int:
    from neuro_nodes.cli.launch_cmd import main

    return main(args.file, args.overrides, single_process=args.single_process,
                duration=args.duration)


def _cmd_demo(args: argparse.Namespace) -> int:
    from neuro_nodes.cli.demo import main

    return main(duration=args.duration)


def _cmd_bench(args: argparse.Namespace) -> int:
    import importlib
    import json

    module = importlib.import_module(f"benchmarks.{args.suite}")
    result = module.run(quick=args.quick)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(module.table(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("doctor", help="check ROS 2, DDS, interfaces, MuJoCo GL, torch, packages")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("launch", help="run a ROS 2 YAML launch file (no launch wheels needed)")
    p.add_argument("file", help="launch file path, or a file name in the launch/ directory")
    p.add_argument("overrides", nargs="*", metavar="name:=value", help="launch arguments")
    p.add_argument("--single-process", action="store_true",
                   help="all nodes in this process on a multi-threaded executor")
    p.add_argument("--duration", type=float, default=None,
                   help="stop all nodes after this many seconds")
    p.set_defaults(func=_cmd_launch)

    p = sub.add_parser("demo", help="run the demo pipeline for a few seconds and summarise it")
    p.add_argument("--duration", type=float, default=8.0, help="seconds (default 8)")
    p.set_defaults(func=_cmd_demo)
    from neuro_nodes.cli import bag_cmd, events_cmd

    events_cmd.register(sub)

    bag_cmd.register(sub)
    for plugin in entry_points(group="neuro_nodes.cli"):  # e.g. `neuro sim` from sim/
        plugin.load()(sub)

    p = sub.add_parser("bench", help="measure throughput against a baseline in the same run")
    p.add_argument("suite", choices=("events", "sim", "bag", "accel", "pointcloud"),
                   help="what to measure")
    p.add_argument("--quick", action="store_true", help="smaller data, fewer repetitions")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from neuro_nodes.ros.dds import apply_loopback_defaults

    apply_loopback_defaults()  # before anything creates a DDS participant
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
