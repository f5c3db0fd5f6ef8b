"""One way to read events from anything a user points at: an event file or a bag topic."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from neuro_nodes.events.codecs.base import make_decoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.trigger_array import TriggerArray


@dataclasses.dataclass(frozen=True)
class EventChunk:
    events: EventArray
    triggers: TriggerArray
    errors: int = 0


@dataclasses.dataclass(frozen=True)
class EventSource:
    name: str          # file path, or bag topic
    encoding: str
    width: int
    height: int
    path: Path
    topic: str | None = None
    fallback_size: tuple[int, int] = (1280, 720)

    def chunks(self) -> Iterator[EventChunk]:
        if self.topic is None:
            yield from _file_chunks(self.path, self.fallback_size)
        else:
            yield from _bag_chunks(self.path, self.topic)


def is_bag(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def open_sources(path: str | Path, topic: str | None = None,
                 fallback_size: tuple[int, int] = (1280, 720)) -> list[EventSource]:
    """Event sources of a file (one) or a bag (one per event topic, or the chosen one)."""
    from neuro_nodes.bag.event_packets import event_topics, read_event_packets
    from neuro_nodes.events.files import EventFileError, open_events

    path = Path(path)
    if not is_bag(path):
        if topic:
            raise EventFileError(f"{path}: --topic applies to bags only")
        info = open_events(path, fallback_size).info
        return [EventSource(str(path), info.encoding, info.width, info.height, path,
                            fallback_size=fallback_size)]
    topics = event_topics(path)
    if topic is not None:
        if topic not in topics:
            raise EventFileError(f"{path}: no event topic '{topic}' (event topics: {topics})")
        topics = [topic]
    sources = []
    for name in topics:
        first = next(read_event_packets(path, [name]))
        sources.append(EventSource(name, first.encoding, first.width, first.height, path, name))
    return sources


def _file_chunks(path: Path, fallback_size: tuple[int, int]) -> Iterator[EventChunk]:
    from neuro_nodes.events.files import open_events

    reader = open_events(path, fallback_size)
    seen_triggers = seen_errors = 0
    for events in reader.chunks():
        triggers = getattr(reader, "triggers", [])  # the RAW reader collects them
        new = triggers[seen_triggers:]
        seen_triggers = len(triggers)
        errors = getattr(reader, "errors", 0)
        yield EventChunk(events, TriggerArray.concatenate(new) if new else TriggerArray.empty(),
                         errors - seen_errors)
        seen_errors = errors


def _bag_chunks(path: Path, topic: str) -> Iterator[EventChunk]:
    from neuro_nodes.bag.event_packets import read_event_packets

    decoder, key = None, None
    for packet in read_event_packets(path, [topic]):
        if (packet.encoding, packet.width, packet.height) != key:
            key = (packet.encoding, packet.width, packet.height)
            decoder = make_decoder(*key)
        result = decoder.decode(packet.events, packet.time_base)
        yield EventChunk(result.events, result.triggers, result.errors)
