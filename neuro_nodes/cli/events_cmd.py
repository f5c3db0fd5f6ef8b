"""``neuro events info|convert``: inspect and convert event files and bag topics."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.progress import Progress

from neuro_nodes.events.files import EventFileError
from neuro_nodes.events.files.io import READ_SUFFIXES, WRITE_SUFFIXES
from neuro_nodes.events.sources import EventChunk, EventSource, open_sources
from neuro_nodes.events.stats import EventStats


def _parse_size(text: str | None) -> tuple[int, int]:
    if not text:
        return (1280, 720)
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def _with_progress(source: EventSource, progress: Progress) -> Iterator[EventChunk]:
    task = progress.add_task(f"{source.name}", total=None)
    for chunk in source.chunks():
        progress.advance(task, len(chunk.events))
        yield chunk
    progress.remove_task(task)


def info(path: str, topic: str | None, as_json: bool, size: str | None) -> int:
    try:
        sources = open_sources(path, topic, _parse_size(size))
        results = {}
        with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
            for source in sources:
                stats = EventStats(encoding=source.encoding, width=source.width,
                                   height=source.height)
                for chunk in _with_progress(source, progress):
                    stats.add(chunk.events, chunk.triggers, chunk.errors)
                results[source.name] = stats.as_dict()
    except (EventFileError, OSError, ValueError) as err:
        print(f"neuro events info: {err}", file=sys.stderr)
        return 1
    if as_json:
        single = len(results) == 1 and sources[0].topic is None
        print(json.dumps(next(iter(results.values())) if single else results, indent=2))
        return 0
    for name, r in results.items():
        print(f"{name}: {r['encoding']} {r['width']}x{r['height']}")
        print(f"  events {r['events']:,} (ON {r['on']:,}, OFF {r['off']:,}), triggers rising "
              f"{r['trigger_rise']}, falling {r['trigger_fall']}, decode errors {r['errors']}")
        if r["t_first_ns"] is not None:
            print(f"  sensor time {r['t_first_ns']} .. {r['t_last_ns']} ns "
                  f"({r['duration_s']:.3f} s); rate mean {r['mean_rate_evps'] / 1e6:.3f} Mev/s, "
                  f"peak {r['peak_rate_evps'] / 1e6:.3f} Mev/s (10 ms bins)")
    return 0


def convert(src: str, dst: str, topic: str | None, out_topic: str, size: str | None,
            packet_us: int, storage: str) -> int:
    from neuro_nodes.events.files import write_events

    out = Path(dst)
    started = time.monotonic()
    try:
        sources = open_sources(src, topic, _parse_size(size))
        if len(sources) != 1:
            names = [s.name for s in sources]
            raise EventFileError(f"{src}: {len(sources)} event topics {names}; choose --topic")
        source = sources[0]
        if out.exists():
            raise EventFileError(f"{out}: already exists")
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            chunks = _with_progress(source, progress)
            if out.suffix.lower() in WRITE_SUFFIXES:
                n = write_events(out, (c.events for c in chunks), source.width, source.height)
                kind = f"{out.suffix[1:]} file"
            elif out.suffix.lower() in READ_SUFFIXES:
                raise EventFileError(f"{out}: this format is read-only (writable: "
                                     f"{', '.join(WRITE_SUFFIXES)} or a bag folder)")
            else:
                n = _write_bag(out, chunks, source, out_topic, packet_us, storage)
                kind = f"{storage} bag, topic {out_topic}"
    except (EventFileError, OSError, ValueError) as err:
        print(f"neuro events convert: {err}", file=sys.stderr)
        return 1
    print(f"converted {n:,} events from {src} to {out} ({kind}) in "
          f"{time.monotonic() - started:.1f} s")
    return 0


def _write_bag(out: Path, chunks: Iterator[EventChunk], source: EventSource, topic: str,
               packet_us: int, storage: str) -> int:
    from neuro_nodes.bag.event_writer import EventPacketBagWriter
    from neuro_nodes.events.codecs.base import make_encoder
    from neuro_nodes.events.packetize import to_packets

    encoder = make_encoder("evt3", source.width, source.height)
    count = 0
    with EventPacketBagWriter(out, storage) as writer:
        for chunk in chunks:
            for packet in to_packets(chunk.events, encoder, max_dt_ns=packet_us * 1000):
                writer.write(topic, packet.t_last_ns, packet.events, encoding=packet.encoding,
                             width=packet.width, height=packet.height,
                             time_base=packet.time_base)
                count += packet.n_events
    return count
