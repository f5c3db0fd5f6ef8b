"""``python -m neuro_nodes.launch FILE [name:=value ...]``: run a YAML launch file.

Like ``ros2 launch``, ``python -m neuro_nodes.launch PACKAGE FILE_NAME [name:=value ...]``
finds ``FILE_NAME`` in the package's share directory.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import yaml

from neuro_nodes.launch import (
    LaunchDescription,
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
    parser.add_argument("file", help="launch file (*.launch.yaml), or a package name "
                                     "followed by a launch file name in its share directory")
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
                        help="print each node's command line (and generated parameters) "
                             "and exit")
    return parser


def find_in_package(package: str, file_name: str) -> str:
    """``ros2 launch PACKAGE FILE``: the one file of that name under the package's share."""
    from neuro_nodes.launch.substitutions import SubstitutionError, package_prefix

    try:
        share = Path(package_prefix(package)) / "share" / package
    except SubstitutionError as err:
        raise LaunchError(str(err)) from None
    found = sorted(Path(root) / file_name for root, _dirs, files in os.walk(share)
                   if file_name in files)
    if not found:
        raise LaunchError(f"file '{file_name}' was not found in the share directory of "
                          f"package '{package}' ({share})")
    if len(found) > 1:
        raise LaunchError(f"file '{file_name}' was found more than once in the share "
                          f"directory of package '{package}': {', '.join(map(str, found))}")
    return str(found[0])


def print_description(description: LaunchDescription) -> None:
    for node in description.nodes:
        flags = [flag for flag, on in (("required", node.required), ("respawn", node.respawn))
                 if on]
        extra = f" ({', '.join(flags)})" if flags else ""
        print(f"[{node.label}]{extra} {shlex.join(node.cmd)}")
        for i, arg in enumerate(node.cmd[:-1]):
            path = Path(node.cmd[i + 1])
            if (arg == "--params-file" and description.temp_dir is not None
                    and path.parent == description.temp_dir):
                content = yaml.safe_load(path.read_text(encoding="utf-8"))
                flow = yaml.safe_dump(content, default_flow_style=True, width=1 << 16).strip()
                print(f"    {path.name}: {flow}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    try:
        file = args.file
        if (not Path(file).exists() and args.overrides and ":=" not in args.overrides[0]):
            file = find_in_package(file, args.overrides.pop(0))
        if args.show_args:
            for arg in declared_arguments(file):
                default = "(required)" if arg.default is None else f"(default: '{arg.default}')"
                print(f"    '{arg.name}':\n        {arg.description or 'no description given'}"
                      f"\n        {default}")
            return 0
        if args.duration is not None and args.duration < 0:
            raise LaunchError("--duration must be >= 0")
        description = load_launch_file(file, parse_overrides(args.overrides))
        if args.print_only:
            print_description(description)
            description.cleanup()
            return 0
        return run(description, single_process=args.single_process,
                   duration=args.duration, grace_s=args.grace)
    except LaunchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
