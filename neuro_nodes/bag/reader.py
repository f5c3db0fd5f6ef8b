"""Read raw (CDR) messages from rosbag2 folders, as ``ros2 bag`` does.

Handles what real recordings carry: mcap and sqlite3 storage, a
``metadata.yaml`` with an empty ``storage_identifier`` (the storage is known
from the files), ROS 2 IDL schemas that other parsers reject (the payload is
returned raw, never parsed here), and legacy bags without type definitions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import yaml


class BagError(RuntimeError):
    """A bag that cannot be opened or read, with the reason."""


@dataclasses.dataclass(frozen=True)
class Topic:
    name: str
    msgtype: str
    count: int


@dataclasses.dataclass(frozen=True)
class RawMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


def _storage_files(folder: Path) -> tuple[str, list[Path]]:
    meta_path = folder / "metadata.yaml"
    if not meta_path.is_file():
        raise BagError(f"{folder}: no metadata.yaml (run 'neuro bag reindex' once it exists)")
    try:
        info = yaml.safe_load(meta_path.read_text())["rosbag2_bagfile_information"]
    except (yaml.YAMLError, KeyError, TypeError) as err:
        raise BagError(f"{meta_path}: not a rosbag2 metadata file ({err})") from err
    files = [folder / p for p in info.get("relative_file_paths") or []]
    storage = info.get("storage_identifier") or ""
    if not storage and files:
        suffix = files[0].suffix
        storage = {".mcap": "mcap", ".db3": "sqlite3"}.get(suffix, "")
    if storage not in ("mcap", "sqlite3"):
        raise BagError(f"{folder}: unsupported storage '{storage}' (supported: mcap, sqlite3)")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise BagError(f"{folder}: missing bag files {missing}")
    return storage, files


def _mcap_messages(files: list[Path], topics: set[str] | None) -> Iterator[RawMessage]:
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    for path in files:
        with path.open("rb") as stream:
            reader = make_reader(stream)
            try:
                for schema, channel, message in reader.iter_messages(
                    topics=list(topics) if topics else None, log_time_order=True
                ):
                    name = schema.name if schema is not None else ""
                    yield RawMessage(channel.topic, name, message.log_time, message.data)
            except (McapError, EOFError, ValueError) as err:
                raise BagError(f"{path}: corrupt or truncated mcap ({err})") from err


def _sqlite_messages(files: list[Path], topics: set[str] | None) -> Iterator[RawMessage]:
    import sqlite3

    for path in files:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT topics.name, topics.type, messages.timestamp, messages.data "
                "FROM messages JOIN topics ON messages.topic_id = topics.id "
                "ORDER BY messages.timestamp"
            )
            for name, msgtype, stamp, data in rows:
                if topics is None or name in topics:
                    yield RawMessage(name, msgtype, int(stamp), bytes(data))
        except sqlite3.DatabaseError as err:
            raise BagError(f"{path}: corrupt sqlite3 bag ({err})") from err
        finally:
            db.close()


def read_messages(folder: str | Path, topics: list[str] | None = None) -> Iterator[RawMessage]:
    """Every message of the bag in time order (per file), raw CDR bytes."""
    folder = Path(folder)
    storage, files = _storage_files(folder)
    wanted = set(topics) if topics else None
    if storage == "mcap":
        yield from _mcap_messages(files, wanted)
    else:
        yield from _sqlite_messages(files, wanted)


def list_topics(folder: str | Path) -> list[Topic]:
    """Topics with their types and message counts."""
    counts: dict[tuple[str, str], int] = {}
    for msg in read_messages(folder):
        key = (msg.topic, msg.msgtype)
        counts[key] = counts.get(key, 0) + 1
    return [Topic(name, msgtype, n) for (name, msgtype), n in sorted(counts.items())]
