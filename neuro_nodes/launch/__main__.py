"""``python -m neuro_nodes.launch FILE [name:=value ...]``: run a YAML launch file."""

from __future__ import annotations

import argparse
import shlex
import sys

from neuro_nodes.launch import (
    LaunchError,
    declared_arguments,
    load_launch_file,
    parse_overrides,
    run,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m neuro_nodes.launch",
        description="Run a ROS 2 YAML launch file (the subset documented in "
                    "neuro_nodes.launch) without the launch wheels.",
    )
    parser.add_argument("file", help="launch file (*.launch.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="name:=value",
                        help="launch arguments, as for ros2 launch")
    parser.add_argument("--single-process", action="store_true",
                        help="run all nodes in this process (one MultiThreadedExecutor)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop everything cleanly after S seconds")
    parser.add_argument("--grace", type=float, default=5.0, metavar="S",
                        help="seconds between SIGINT, SIGTERM and SIGKILL when stopping "
                             "(default 5)")
    parser.add_argument("-s", "--show-args", action="store_true",
                        help="list the arguments the file declares and exit")
    parser.add_argument("-p", "--print", action="store_true", dest="print_only",
                        help="print each node's command line and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.show_args:
            for arg in declared_arguments(args.file):
                default = "(required)" if arg.default is None else f"(default: '{arg.default}')"
                print(f"    '{arg.name}':\n        {arg.description or 'no description given'}"
                      f"\n        {default}")
            return 0
        description = load_launch_file(args.file, parse_overrides(args.overrides))
        if args.print_only:
            for node in description.nodes:
                flags = []
                if node.required:
                    flags.append("required")
                if node.respawn:
                    flags.append("respawn")
                extra = f" ({', '.join(flags)})" if flags else ""
                print(f"[{node.label}]{extra} {shlex.join(node.cmd)}")
            description.cleanup()
            return 0
        if args.duration is not None and args.duration < 0:
            raise LaunchError("--duration must be >= 0")
        return run(description, single_process=args.single_process,
                   duration=args.duration, grace_s=args.grace)
    except LaunchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
