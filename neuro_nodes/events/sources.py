"""One way to read events from anything a user points at: an event file or a bag topic."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from neuro_nodes.events.codecs.base import make_decoder
from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.imu import ImuArray
from neuro_nodes.events.trigger_array import TriggerArray


@dataclasses.dataclass(frozen=True)
class EventChunk:
    events: EventArray
    triggers: TriggerArray
    errors: int = 0
    imu: ImuArray = dataclasses.field(default_factory=ImuArray.empty)


@dataclasses.dataclass
class EventSource:
    name: str          # file path, or bag topic
    encoding: str
    width: int         # files: the size in use at the start (0x0: the events decide)
    height: int
    path: Path
    topic: str | None = None
    size: tuple[int, int] | None = None  # the user's size (files)
    size_origin: str = "the packets"  # who gave width x height (files: see geometry.py)
    #: what was doubtful while reading (unusable header sizes, events outside the size)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def chunks(self) -> Iterator[EventChunk]:
        if self.topic is None:
            yield from _file_chunks(self)
        else:
            with bag_errors(self.path):
                yield from _bag_chunks(self.path, self.topic)

    def scan_size(self) -> tuple[int, int]:
        """The size that holds every event (a pass over the whole file or topic)."""
        from neuro_nodes.events.files import open_events

        if self.topic is not None:
            w = h = 1
            for chunk in self.chunks():
                w, h = max(w, chunk.events.width), max(h, chunk.events.height)
            return w, h

        reader = open_events(self.path, self.size)
        for _ in reader.chunks():
            pass
        return reader.size or (1, 1)


def is_bag(path: Path) -> bool:
    return path.is_dir() and (path / "metadata.yaml").is_file()


def _yaml_problem(err: Exception) -> str:
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(err, 'problem', None) or type(err).__name__}{where}"


@contextlib.contextmanager
def bag_errors(path: Path) -> Iterator[None]:
    """A bag that cannot be read becomes one one-line :class:`EventFileError` naming the
    file (the bag reader's errors, and metadata.yaml that is not text or not YAML)."""
    import yaml

    from neuro_nodes.bag.reader import BagError
    from neuro_nodes.events.files import EventFileError

    meta = Path(path) / "metadata.yaml"
    try:
        yield
    except UnicodeDecodeError as err:  # only metadata.yaml is read as text
        raise EventFileError(f"{meta}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                             f"offset {err.start})") from err
    except yaml.YAMLError as err:
        raise EventFileError(f"{meta}: not valid YAML ({_yaml_problem(err)})") from err
    except BagError as err:
        cause = err.__cause__
        if isinstance(cause, yaml.YAMLError):
            raise EventFileError(f"{meta}: not valid YAML ({_yaml_problem(cause)})") from err
        if isinstance(cause, UnicodeDecodeError):
            raise EventFileError(f"{meta}: not UTF-8 text (byte "
                                 f"0x{cause.object[cause.start]:02x} at offset {cause.start})"
                                 ) from err
        text = " ".join(str(err).split())  # one line
        raise EventFileError(text if str(path) in text else f"{path}: {text}") from err
    except (KeyError, TypeError, AttributeError) as err:  # YAML, but not a bag's metadata
        raise EventFileError(f"{meta}: not rosbag2 metadata ({type(err).__name__}: {err})"
                             ) from err


def open_sources(path: str | Path, topic: str | None = None,
                 size: tuple[int, int] | None = None) -> list[EventSource]:
    """Event sources of a file (one) or a bag (one per event topic, or the chosen one).

    ``size``: the user's sensor size for files (replaces what the file states)."""
    from neuro_nodes.events.files import EventFileError, open_events

    path = Path(path)
    if path.is_dir() and not is_bag(path):
        raise EventFileError(f"{path}: a folder without metadata.yaml, not a rosbag2 bag "
                             f"('neuro bag reindex {path}' rebuilds it from its storage files)")
    if not is_bag(path):
        if topic:
            raise EventFileError(f"{path}: --topic applies to bags only")
        reader = open_events(path, size)
        info = reader.info
        return [EventSource(str(path), info.encoding, info.width, info.height, path,
                            size=size, size_origin=info.size_origin or "the events",
                            warnings=list(reader.header_warnings))]
    with bag_errors(path):
        sources = _bag_sources(path, topic)
    if size is not None:
        for source in sources:
            source.warnings.append(f"{path}: the given size is for event files; a bag's "
                                   "packets carry their own, which is used")
    return sources


def _bag_sources(path: Path, topic: str | None) -> list[EventSource]:
    from neuro_nodes.bag.event_packets import event_topics, read_event_packets
    from neuro_nodes.events.files import EventFileError

    topics = event_topics(path)
    if topic is not None:
        if topic not in topics:
            raise EventFileError(f"{path}: no event topic '{topic}' (event topics: {topics})")
        topics = [topic]
    sources = []
    for name in topics:
        first = next(read_event_packets(path, [name]), None)
        if first is None:
            raise EventFileError(f"{path}: event topic '{name}' has no messages")
        sources.append(EventSource(name, first.encoding, first.width, first.height, path, name))
    return sources


def _file_chunks(source: EventSource) -> Iterator[EventChunk]:
    from neuro_nodes.events.files import open_events

    reader = open_events(source.path, source.size)
    seen_triggers = seen_imu = seen_errors = 0
    for events in reader.chunks():
        source.warnings[:] = reader.warnings  # before the yield: a consumer may stop there
        source.size_origin = reader.guard.origin or "the events"
        new_triggers, seen_triggers = reader.triggers[seen_triggers:], len(reader.triggers)
        new_imu, seen_imu = reader.imu[seen_imu:], len(reader.imu)
        yield EventChunk(events, TriggerArray.concatenate(new_triggers),
                         reader.errors - seen_errors, ImuArray.concatenate(new_imu))
        seen_errors = reader.errors
    if len(reader.triggers) > seen_triggers or len(reader.imu) > seen_imu:  # after the last events
        yield EventChunk(EventArray.empty(*(reader.size or (1, 1))),
                         TriggerArray.concatenate(reader.triggers[seen_triggers:]),
                         reader.errors - seen_errors,
                         ImuArray.concatenate(reader.imu[seen_imu:]))
    source.warnings[:] = reader.warnings


def _bag_chunks(path: Path, topic: str) -> Iterator[EventChunk]:
    from neuro_nodes.bag.event_packets import read_event_packets

    decoder, key = None, None
    for packet in read_event_packets(path, [topic]):
        if (packet.encoding, packet.width, packet.height) != key:
            key = (packet.encoding, packet.width, packet.height)
            decoder = make_decoder(*key)
        result = decoder.decode(packet.events, packet.time_base)
        yield EventChunk(result.events, result.triggers, result.errors)
