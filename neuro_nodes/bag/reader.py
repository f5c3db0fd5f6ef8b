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
from typing import Any

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


def load_metadata(folder: str | Path) -> dict[str, Any]:
    """``rosbag2_bagfile_information`` of ``folder/metadata.yaml``; every way it can be
    unreadable is a one-line ``BagError`` naming the file."""
    folder = Path(folder)
    meta_path = folder / "metadata.yaml"
    if not folder.is_dir():
        raise BagError(f"{folder}: no such bag folder")
    if not meta_path.is_file():
        raise BagError(f"{folder}: no metadata.yaml in this folder ('neuro bag reindex "
                       f"{folder}' rebuilds it from the storage files)")
    try:
        text = meta_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise BagError(f"{meta_path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                       f"offset {err.start})") from err
    except OSError as err:
        raise BagError(f"{meta_path}: cannot read ({err.strerror or err})") from err
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise BagError(f"{meta_path}: not valid YAML ({problem}{where})") from err
    info = doc.get("rosbag2_bagfile_information") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise BagError(f"{meta_path}: not rosbag2 metadata (no 'rosbag2_bagfile_information' "
                       "mapping)")
    return info


def recorded_qos(folder: str | Path) -> dict[str, str | list]:
    """topic -> offered_qos_profiles from metadata.yaml: YAML text (up to version 8), a list
    (version 9), or '' if none."""
    info = load_metadata(folder)
    return {t["topic_metadata"]["name"]: t["topic_metadata"].get("offered_qos_profiles") or ""
            for t in info.get("topics_with_message_count") or []}


def recorded_duration_s(folder: str | Path) -> float | None:
    """The bag's duration (first to last message) from metadata.yaml, None if not stated."""
    try:
        return int(load_metadata(folder)["duration"]["nanoseconds"]) / 1e9
    except (KeyError, TypeError, ValueError):
        return None


def _storage_files(folder: Path) -> tuple[str, list[Path]]:
    info = load_metadata(folder)
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
    """Indexed read of each file; a file without a valid index (a killed recorder's) is read
    front to back up to its first damaged record. Damage raises ``BagError`` once every
    readable message of every file has been yielded."""
    from mcap.reader import make_reader

    from neuro_nodes.bag.mcap_scan import has_footer

    problems: list[str] = []
    for path in files:
        yielded = 0
        if has_footer(path):
            try:
                with path.open("rb") as stream:
                    reader = make_reader(stream)
                    for schema, channel, message in reader.iter_messages(
                        topics=list(topics) if topics else None, log_time_order=True
                    ):
                        name = schema.name if schema is not None else ""
                        yielded += 1
                        yield RawMessage(channel.topic, name, message.log_time, message.data)
                continue
            except Exception as err:  # noqa: BLE001 - any damage: stream what is readable
                if yielded:
                    problems.append(f"{path}: corrupt mcap after {yielded} messages ({err})")
                    continue
        problem = yield from _mcap_stream_messages(path, topics)
        if problem:
            problems.append(problem)
    if problems:
        raise BagError("; ".join(problems) + " (the readable messages were returned; "
                       "'neuro bag reindex' repairs a truncated bag)")


def _mcap_stream_messages(path: Path, topics: set[str] | None) -> Iterator[RawMessage]:
    """Messages of an mcap read front to back; returns a problem description or None."""
    from neuro_nodes.bag.mcap_scan import McapScan

    scan = McapScan(path, topics)
    for schema, channel, message in scan:
        yield RawMessage(channel.topic, schema.name if schema is not None else "",
                         message.log_time, message.data)
    if scan.complete:
        return None
    return (f"{path}: truncated or corrupt mcap, read {scan.messages} messages up to the "
            f"first damaged record ({scan.error})")


def _sqlite_messages(files: list[Path], topics: set[str] | None,
                     decompress=None) -> Iterator[RawMessage]:
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
                    data = bytes(data) if decompress is None else decompress(bytes(data))
                    yield RawMessage(name, msgtype, int(stamp), data)
        except sqlite3.DatabaseError as err:
            raise BagError(f"{path}: corrupt sqlite3 bag ({err})") from err
        finally:
            db.close()


def _message_decompressor(folder: Path):
    """zstd decompression for bags recorded with rosbag2's ``message`` compression mode."""
    try:
        info = load_metadata(folder)
    except BagError:
        return None
    if str(info.get("compression_mode") or "").lower() != "message":
        return None
    fmt = str(info.get("compression_format") or "")
    if fmt != "zstd":
        raise BagError(f"{folder}: unsupported message compression '{fmt}' (supported: zstd)")
    import zstandard

    def decompress(data: bytes) -> bytes:  # frames with or without their content size
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)

    return decompress


def read_messages(folder: str | Path, topics: list[str] | None = None) -> Iterator[RawMessage]:
    """Every message of the bag in time order (per file), raw CDR bytes."""
    folder = Path(folder)
    storage, files = _storage_files(folder)
    wanted = set(topics) if topics else None
    if storage == "mcap":
        yield from _mcap_messages(files, wanted)
    else:
        yield from _sqlite_messages(files, wanted, _message_decompressor(folder))


def list_topics(folder: str | Path) -> list[Topic]:
    """Topics with their types and message counts."""
    counts: dict[tuple[str, str], int] = {}
    for msg in read_messages(folder):
        key = (msg.topic, msg.msgtype)
        counts[key] = counts.get(key, 0) + 1
    return [Topic(name, msgtype, n) for (name, msgtype), n in sorted(counts.items())]
