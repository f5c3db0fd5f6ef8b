"""``neuro``: the project's command line. Only subcommands that work exist."""

from __future__ import annotations

import argparse
import sys


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
    return parser


def main(argv: list[str] | None = None) -> int:
    from neuro_nodes.ros.dds import apply_loopback_defaults

    apply_loopback_defaults()  # before anything creates a DDS participant
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
