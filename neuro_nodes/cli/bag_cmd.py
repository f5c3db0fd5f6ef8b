"""``neuro bag record|play|info|convert|reindex``: rosbag2 tools without a ROS install."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from neuro_nodes.cli.events_cmd import packet_us_arg


def register(sub: Any) -> None:
    p = sub.add_parser("bag", help="record, play, inspect, convert and repair rosbag2 bags")
    actions = p.add_subparsers(dest="bag_command", required=True, metavar="ACTION")

    r = actions.add_parser("record", help="record topics to a rosbag2 (mcap by default)")
    r.add_argument("topics", nargs="*", type=_topic, help="topic names (as --topics)")
    r.add_argument("--topics", nargs="+", type=_topic, default=[], dest="topic_list",
                   metavar="TOPIC", help="topic names (ros2 bag's current form)")
    r.add_argument("-a", "--all", action="store_true", help="record every topic")
    r.add_argument("-e", "--regex", default="", help="also record topics matching this")
    r.add_argument("-x", "--exclude", default="", help="never record topics matching this")
    r.add_argument("-o", "--output", default="", help="bag folder to create")
    r.add_argument("-s", "--storage", choices=("mcap", "sqlite3"), default="mcap")
    r.add_argument("--compression", choices=("none", "zstd"), default="none")
    r.add_argument("--max-bag-size", type=int, default=0, help="split after N bytes")
    r.add_argument("--max-bag-duration", type=float, default=0.0, help="split after S seconds")
    r.add_argument("--duration", type=_positive_seconds, default=None,
                   help="stop after S seconds (> 0)")
    r.set_defaults(func=_record)

    p_ = actions.add_parser("play", help="publish a bag's messages with their timing")
    p_.add_argument("path")
    p_.add_argument("-r", "--rate", type=float, default=1.0)
    p_.add_argument("-l", "--loop", action="store_true")
    p_.add_argument("--start-offset", type=float, default=0.0)
    p_.add_argument("--topics", nargs="+", default=[])
    p_.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO")
    p_.add_argument("--clock", nargs="?", type=float, const=40.0, default=0.0, metavar="HZ",
                    help="publish /clock from bag time (default 40 Hz when given)")
    p_.add_argument("--qos-profile-overrides-path", default="", metavar="YAML")
    p_.add_argument("--start-paused", action="store_true")
    p_.add_argument("-d", "--delay", type=_seconds, default=0.0, metavar="S",
                    help="sleep S seconds after the publishers are created, before playing "
                    "(each loop)")
    p_.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                    help="before the first message, wait until every played topic has N "
                    "matched subscriptions (DDS matching, both ways), for at most "
                    "--wait-timeout s, else exit 1")
    p_.add_argument("--wait-timeout", type=_seconds, default=30.0, metavar="S",
                    help="give up waiting for subscribers after S s (0 = never)")
    p_.add_argument("--wait-for-all-acked", type=int, default=5000, metavar="MS",
                    help="at the end, wait up to MS ms until reliable subscribers "
                    "acknowledged every message")
    p_.set_defaults(func=_play)

    i = actions.add_parser("info", help="what a bag holds; event topics summarised")
    i.add_argument("path")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_info)

    c = actions.add_parser("convert", help="ROS1 event bags -> rosbag2 (evt3), or -> files")
    c.add_argument("input", help="ROS1 .bag (dvs_msgs / prophesee_event_msgs) or rosbag2 folder")
    c.add_argument("output", help="rosbag2 folder, or an event file (.raw .h5 .aedat4 .csv)")
    c.add_argument("--topic", help="event topic of the input")
    c.add_argument("--packet-us", type=packet_us_arg, default=1000,
                   help="packet time threshold (us, 1..10,000,000)")
    c.set_defaults(func=_convert)

    x = actions.add_parser("reindex", help="rebuild a missing or stale metadata.yaml")
    x.add_argument("path")
    x.set_defaults(func=_reindex)


def _topic(text: str) -> str:
    """argparse type: a valid ROS topic name (refused with the reason, exit 2)."""
    from neuro_nodes.ros.recorder import check_topic_name

    try:
        check_topic_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("topics: ")) from None
    return text


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _ros_args(params: dict[str, Any]) -> list[str]:
    args = ["neuro-bag", "--ros-args"]
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            value = "[" + ",".join(f"'{v}'" for v in value) + "]" if value else "['']"
        elif isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, str):
            value = f"'{value}'"
        args += ["-p", f"{name}:={value}"]
    return args


def _record(args: argparse.Namespace) -> int:
    from neuro_nodes.ros.node_base import run_node
    from neuro_nodes.ros.recorder import RecorderNode

    topics = [*args.topics, *args.topic_list]
    if not (topics or args.all or args.regex):
        print("neuro bag record: nothing to record: give topics (--topics A B), -e REGEX "
              "or -a", file=sys.stderr)
        return 2
    params = {"topics": topics, "all_topics": args.all, "regex": args.regex,
              "exclude": args.exclude, "output": args.output, "storage": args.storage,
              "compression": args.compression, "max_bag_size": args.max_bag_size,
              "max_bag_duration": args.max_bag_duration}
    return run_node(RecorderNode, _ros_args(params), duration=args.duration)


def _play(args: argparse.Namespace) -> int:
    from neuro_nodes.ros.node_base import run_node
    from neuro_nodes.ros.player import PlayerNode

    params = {"path": args.path, "rate": args.rate, "loop": args.loop,
              "start_offset": args.start_offset, "topics": args.topics, "remap": args.remap,
              "clock_hz": args.clock, "qos_overrides": args.qos_profile_overrides_path,
              "start_paused": args.start_paused, "delay": args.delay,
              "wait_for_subscribers": args.wait_for_subscribers,
              "wait_timeout": args.wait_timeout, "wait_for_all_acked": args.wait_for_all_acked}
    if args.wait_for_subscribers < 0 or args.wait_for_all_acked < 0:
        print("neuro bag play: --wait-for-subscribers and --wait-for-all-acked must be >= 0",
              file=sys.stderr)
        return 2
    nodes: list[Any] = []

    def done(node: Any) -> bool:
        nodes[:] = [node]
        return node.finished.is_set()

    code = run_node(PlayerNode, _ros_args(params), done=done)
    if code == 0 and nodes and nodes[0].failure:
        print(f"neuro bag play: {nodes[0].failure}", file=sys.stderr)
        return 1
    return code


def _info(args: argparse.Namespace) -> int:
    from neuro_nodes.bag.info import bag_info, format_info
    from neuro_nodes.bag.reader import BagError

    try:
        info = bag_info(args.path)
    except (BagError, OSError) as err:
        print(f"neuro bag info: {err}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0


def _convert(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    src, out = Path(args.input), Path(args.output)
    if src.is_file() and src.suffix == ".bag":
        from neuro_nodes.bag.ros1_convert import convert_ros1

        if out.exists() or out.is_symlink():  # never write into (or remove) what was there
            print(f"neuro bag convert: {out}: already exists", file=sys.stderr)
            return 1
        try:
            result = convert_ros1(src, out, topic=args.topic, packet_us=args.packet_us)
        except (OSError, ValueError, RuntimeError, KeyboardInterrupt) as err:
            removed = out.is_dir()  # a partial output of ours: it did not exist before
            if removed:
                shutil.rmtree(out, ignore_errors=True)
            interrupted = isinstance(err, KeyboardInterrupt)
            print(f"neuro bag convert: {'interrupted' if interrupted else err}"
                  + (f"; partial {out} removed" if removed else ""), file=sys.stderr)
            return 130 if interrupted else 1
        print(f"converted {src} to {args.output}: {result}")
        return 0
    from neuro_nodes.cli.events_cmd import convert

    return convert(args.input, args.output, args.topic, "/event_camera/events", None,
                   args.packet_us, "mcap", prog="neuro bag convert")


def _reindex(args: argparse.Namespace) -> int:
    from neuro_nodes.bag.reader import BagError
    from neuro_nodes.bag.reindex import reindex

    try:
        result = reindex(args.path)
    except (BagError, OSError) as err:
        print(f"neuro bag reindex: {err}", file=sys.stderr)
        return 1
    repaired = ", ".join(map(str, result.repaired)) or "nothing"
    print(f"reindexed {args.path}: metadata.yaml rewritten; repaired {repaired}")
    for problem in result.problems:
        print(f"  problem: {problem}")
    return 0
