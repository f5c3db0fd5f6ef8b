"""``neuro events info|convert``: inspect and convert event files and bag topics."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.progress import Progress

from neuro_nodes.events.files import EventFileError
from neuro_nodes.events.files.io import READ_SUFFIXES, TRIGGER_SUFFIXES, WRITE_SUFFIXES
from neuro_nodes.events.geometry import (
    EVT_MAX_SIDE,
    MAX_SIDE,
    SizeError,
    parse_side,
    parse_size,
    user_size,
)
from neuro_nodes.events.sources import EventChunk, EventSource, open_sources
from neuro_nodes.events.stats import EventStats

SIZE_RULE = (
    f"Sensor size: --width/--height (1..{MAX_SIDE}) if given, else the size the file states, else "
    "the camera a RAW header names (Prophesee system_ID / plugin_name), else the events' "
    "extent. Events are never dropped for their coordinates: where they fall outside that "
    "size, a warning says so and the size the events need is used.")
MAX_PACKET_US = 10_000_000  # 10 s: longer packets defeat the point of packets


class _Interrupted(Exception):
    pass


def _side(field: str):
    def parse(text: str) -> int:
        try:
            return parse_side(text, field)
        except SizeError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def packet_us_arg(text: str) -> int:
    """argparse type of --packet-us (events and bag convert): checked before anything is
    created (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of us") from None
    if not 1 <= value <= MAX_PACKET_US:
        raise argparse.ArgumentTypeError(f"{value} is outside 1..{MAX_PACKET_US} us")
    return value


def register(sub: Any) -> None:
    """Add ``events info|convert`` to the ``neuro`` parser."""
    p = sub.add_parser("events", help="inspect and convert event files and bag topics")
    p.set_defaults(func=_main)
    events = p.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    e = events.add_parser("info", help="event counts, triggers, IMU, sensor size, time span, "
                          "rates", description=SIZE_RULE)
    e.add_argument("path", help="event file (.raw .dat .aedat4 .h5 .csv .txt) or bag folder")
    e.add_argument("--topic", help="bag topic (default: every event topic)")
    _size_args(e)
    e.add_argument("--json", action="store_true", help="one JSON object (per topic for a bag)")
    e = events.add_parser("convert", help="convert between event files and bag topics",
                          description=SIZE_RULE + " Bags and .raw are written as EVT 3.0, "
                          f"which addresses up to {EVT_MAX_SIDE}x{EVT_MAX_SIDE}. Every argument "
                          "is checked before the output is created; a failed conversion removes "
                          "its partial output (an output that already exists is never touched)."
                          )
    e.add_argument("input", help="event file or bag folder")
    e.add_argument("output", help="event file (.raw .aedat4 .h5 .csv) or a new bag folder")
    e.add_argument("--topic", help="input bag topic (when the bag has several)")
    e.add_argument("--out-topic", default="/event_camera/events", help="output bag topic")
    _size_args(e)
    e.add_argument("--packet-us", type=packet_us_arg, default=1000,
                   help=f"bag output: packet time threshold in us, 1..{MAX_PACKET_US} "
                   "(default 1000)")
    e.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap",
                   help="bag output storage (default mcap)")


def _size_args(e: argparse.ArgumentParser) -> None:
    e.add_argument("--width", type=_side("--width"), help=f"sensor width (px, 1..{MAX_SIDE}); "
                   "replaces the file's")
    e.add_argument("--height", type=_side("--height"), help="sensor height (px); with --width")
    e.add_argument("--size", help="WxH, the same as --width W --height H")


def _main(args: argparse.Namespace) -> int:
    if args.events_command == "info":
        return info(args.path, args.topic, args.json, args.size, width=args.width,
                    height=args.height)
    return convert(args.input, args.output, args.topic, args.out_topic, args.size,
                   args.packet_us, args.storage, width=args.width, height=args.height)


def _resolve_size(size: str | None, width: int | None, height: int | None
                  ) -> tuple[int, int] | None:
    if size and (width or height):
        raise SizeError("give --size or --width/--height, not both")
    if size:
        return parse_size(size, "--size")
    try:
        return user_size(width, height)
    except SizeError:
        raise SizeError("give both --width and --height, or neither") from None


def _with_progress(source: EventSource, progress: Progress) -> Iterator[EventChunk]:
    task = progress.add_task(f"{source.name}", total=None)
    for chunk in source.chunks():
        progress.advance(task, len(chunk.events))
        yield chunk
    progress.remove_task(task)


def _warn(prog: str, warnings: list[str]) -> None:
    for w in dict.fromkeys(warnings):  # once each, in order
        print(f"{prog}: warning: {w}", file=sys.stderr)


def info(path: str, topic: str | None, as_json: bool, size: str | None = None, *,
         width: int | None = None, height: int | None = None,
         prog: str = "neuro events info") -> int:
    results: dict[str, dict[str, Any]] = {}
    try:
        sources = open_sources(path, topic, _resolve_size(size, width, height))
        with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
            for source in sources:
                stats = EventStats(encoding=source.encoding, width=source.width,
                                   height=source.height)
                for chunk in _with_progress(source, progress):
                    stats.add(chunk.events, chunk.triggers, chunk.errors, chunk.imu)
                results[source.name] = stats.as_dict() | {
                    "size_origin": source.size_origin, "warnings": source.warnings}
                _warn(prog, source.warnings)
    except (EventFileError, OSError, ValueError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    if as_json:
        single = len(results) == 1 and sources[0].topic is None
        print(json.dumps(next(iter(results.values())) if single else results, indent=2))
        return 0
    for name, r in results.items():
        print(f"{name}: {r['encoding']} {r['width']}x{r['height']} (size from "
              f"{r['size_origin']})")
        print(f"  events {r['events']:,} (ON {r['on']:,}, OFF {r['off']:,}), triggers rising "
              f"{r['trigger_rise']}, falling {r['trigger_fall']}, decode errors {r['errors']}")
        if r["t_first_ns"] is not None:
            print(f"  sensor time {r['t_first_ns']} .. {r['t_last_ns']} ns "
                  f"({r['duration_s']:.3f} s); rate mean {r['mean_rate_evps'] / 1e6:.3f} Mev/s, "
                  f"peak {r['peak_rate_evps'] / 1e6:.3f} Mev/s (10 ms bins)")
        if r["imu_samples"]:
            print(f"  IMU {r['imu_samples']:,} samples ({r['imu_rate_hz']:.1f} Hz)")
    return 0


def _check_output(out: Path, storage: str) -> str:
    """What ``out`` will be ("file" or "bag"), refusing what cannot be written."""
    if out.exists():
        raise EventFileError(f"{out}: already exists")
    if not out.parent.is_dir():
        raise EventFileError(f"{out.parent}: no such folder for the output")
    suffix = out.suffix.lower()
    if suffix in WRITE_SUFFIXES:
        return "file"
    if suffix in READ_SUFFIXES:
        raise EventFileError(f"{out}: this format is read-only (writable: "
                             f"{', '.join(WRITE_SUFFIXES)} or a bag folder)")
    if storage not in ("mcap", "sqlite3"):
        raise EventFileError(f"--storage {storage!r}: not mcap or sqlite3")
    return "bag"


def _remove(out: Path) -> None:
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out, ignore_errors=True)
    elif out.exists() or out.is_symlink():
        out.unlink(missing_ok=True)


class _SizeChanged(Exception):
    """Events outside the size the output was started with (rewritten with a larger one)."""


def convert(src: str, dst: str, topic: str | None, out_topic: str, size: str | None,
            packet_us: int, storage: str, *, width: int | None = None,
            height: int | None = None, prog: str = "neuro events convert") -> int:
    out = Path(dst)
    started = time.monotonic()
    created = False
    try:
        # every check before anything is created
        if not isinstance(packet_us, int) or not 1 <= packet_us <= MAX_PACKET_US:
            raise EventFileError(f"--packet-us {packet_us}: outside 1..{MAX_PACKET_US} us")
        given = _resolve_size(size, width, height)
        kind = _check_output(out, storage)
        sources = open_sources(src, topic, given)
        if len(sources) != 1:
            names = [s.name for s in sources]
            raise EventFileError(f"{src}: {len(sources)} event topics {names}; choose --topic")
        source = sources[0]
        if source.topic is None and not (source.width and source.height):
            source.size = source.scan_size()  # no size anywhere: the events' extent
            source.width, source.height = source.size
        evt_output = kind == "bag" or out.suffix.lower() == ".raw"
        _check_evt_size(out, evt_output, source.width, source.height)
        created = True
        try:
            n, what, dropped = _write(out, kind, source, out_topic, packet_us, storage)
        except _SizeChanged:  # events beyond the stated size: again, at the size they need
            _remove(out)
            first = list(source.warnings)
            source.size = source.scan_size()
            source.width, source.height = source.size
            _check_evt_size(out, evt_output, source.width, source.height)
            n, what, dropped = _write(out, kind, source, out_topic, packet_us, storage)
            source.warnings[:0] = first + [f"{src}: written at {source.width}x{source.height}, "
                                           "the size all its events need"]
        _warn(prog, source.warnings + dropped)
    except (EventFileError, OSError, ValueError) as err:
        if created:
            _remove(out)
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if created:
            _remove(out)
        print(f"{prog}: interrupted; {out} removed", file=sys.stderr)
        return 130
    except BaseException:
        if created:
            _remove(out)
        raise
    print(f"converted {n:,} events from {src} to {out} ({what}) in "
          f"{time.monotonic() - started:.1f} s")
    return 0


def _check_evt_size(out: Path, evt_output: bool, width: int, height: int) -> None:
    if evt_output and (width > EVT_MAX_SIDE or height > EVT_MAX_SIDE):
        raise EventFileError(
            f"{out}: EVT 3.0 (bags and .raw) addresses at most {EVT_MAX_SIDE}x{EVT_MAX_SIDE} "
            f"pixels, the input is {width}x{height}; write .h5 or .csv instead")


def _sized(chunks: Iterator[EventChunk], size: tuple[int, int],
           counts: dict[str, int]) -> Iterator[EventChunk]:
    for chunk in chunks:
        ev = chunk.events
        if (ev.width, ev.height) != size:
            if len(ev) and (ev.width > size[0] or ev.height > size[1]):
                raise _SizeChanged
            chunk = EventChunk(ev.unchecked(ev.t, ev.x, ev.y, ev.p, *size), chunk.triggers,
                               chunk.errors, chunk.imu)
        counts["triggers"] += len(chunk.triggers)
        counts["imu"] += len(chunk.imu)
        yield chunk


def _write(out: Path, kind: str, source: EventSource, out_topic: str, packet_us: int,
           storage: str) -> tuple[int, str, list[str]]:
    """Events written, what was written, and what the output could not hold."""
    from neuro_nodes.events.files import write_events

    size = (source.width, source.height)
    counts = {"triggers": 0, "imu": 0}
    dropped: list[str] = []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        chunks = _sized(_with_progress(source, progress), size, counts)
        if kind == "file":
            n = write_events(out, ((c.events, c.triggers) for c in chunks), *size)
            what = f"{out.suffix[1:]} file"
            if counts["triggers"] and out.suffix.lower() not in TRIGGER_SUFFIXES:
                dropped.append(f"{counts['triggers']} trigger events not written: {out.suffix} "
                               "holds CD events only (.raw and bags keep triggers)")
        else:
            n = _write_bag(out, chunks, size, out_topic, packet_us, storage)
            what = f"{storage} bag, topic {out_topic}"
    if counts["imu"]:
        dropped.append(f"{counts['imu']} IMU samples not written: the output holds events "
                       "only (the event_camera node publishes them on /imu)")
    return n, what, dropped


def _write_bag(out: Path, chunks: Iterator[EventChunk], size: tuple[int, int], topic: str,
               packet_us: int, storage: str) -> int:
    from neuro_nodes.bag.event_writer import EventPacketBagWriter
    from neuro_nodes.events.codecs.base import make_encoder
    from neuro_nodes.events.packetize import to_packets

    encoder = make_encoder("evt3", *size)
    count = 0
    with EventPacketBagWriter(out, storage) as writer:
        for chunk in chunks:
            for packet in to_packets(chunk.events, encoder, max_dt_ns=packet_us * 1000,
                                     triggers=chunk.triggers):
                writer.write(topic, packet.t_last_ns, packet.events, encoding=packet.encoding,
                             width=packet.width, height=packet.height,
                             time_base=packet.time_base)
                count += packet.n_events
    return count
