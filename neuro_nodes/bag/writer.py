"""Write rosbag2 bags (mcap or sqlite3) without ROS: ``ros2 bag``, the ``mcap`` CLI and
library, rosbags and Foxglove open them.

``BagWriter(folder)`` creates ``folder/`` with ``<folder>_0.mcap`` (or ``.db3``), further
``<folder>_<i>.*`` files when a size or duration limit is reached, and one ``metadata.yaml``
(rosbag2 version 9) that is written at once, refreshed whenever a file is split and every
``snapshot_interval_s`` of log time, and finalised by ``close()``.

Crash safety: mcap chunks go straight to the OS as they are completed (no user-space
buffer), and at every snapshot the open chunk is closed, so a killed writer leaves files
whose completed chunks are readable and a ``metadata.yaml`` that is at most one snapshot old
(``neuro_nodes.bag.reindex`` rebuilds the exact one and repairs the truncated file). sqlite3
files are written in WAL mode with a commit per chunk's worth of data and at every
snapshot; at ``close()`` the WAL is folded back into the ``.db3``.

Compression ``"zstd"``: mcap compresses chunks (storage-level, as rosbag2's ``zstd``
storage presets; ``metadata.yaml`` then names no compression, since every reader
decompresses chunks itself); sqlite3 compresses each message (rosbag2's ``message``
compression mode, named in ``metadata.yaml``).
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import warnings as _warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from neuro_nodes.bag.msgdefs import (  # noqa: F401 - re-exported helpers
    TypeInfo,
    message_definition,
    resolve_type,
    type_description_hash,
)

ROS_DISTRO = "kilted"
METADATA_VERSION = 9
SQLITE_SCHEMA_VERSION = 4  # rosbag2_storage_sqlite3 schema with type_description_hash
STORAGE_SUFFIX = {"mcap": ".mcap", "sqlite3": ".db3"}
_MESSAGE_RECORD_OVERHEAD = 31  # mcap Message record header bytes

SQLITE_SCHEMA = """
CREATE TABLE schema(schema_version INTEGER PRIMARY KEY,ros_distro TEXT NOT NULL);
CREATE TABLE metadata(id INTEGER PRIMARY KEY,metadata_version INTEGER NOT NULL,
  metadata TEXT NOT NULL);
CREATE TABLE topics(id INTEGER PRIMARY KEY,name TEXT NOT NULL,type TEXT NOT NULL,
  serialization_format TEXT NOT NULL,offered_qos_profiles TEXT NOT NULL,
  type_description_hash TEXT NOT NULL);
CREATE TABLE message_definitions(id INTEGER PRIMARY KEY,topic_type TEXT NOT NULL,
  encoding TEXT NOT NULL,encoded_message_definition TEXT NOT NULL,
  type_description_hash TEXT NOT NULL);
CREATE TABLE messages(id INTEGER PRIMARY KEY,topic_id INTEGER NOT NULL,
  timestamp INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX timestamp_idx ON messages (timestamp ASC);
"""


class BagWriterError(RuntimeError):
    """Misuse of the writer (closed bag, conflicting topic, bad option)."""


@dataclasses.dataclass(frozen=True)
class TopicHandle:
    """What ``add_topic`` returns and ``write`` takes."""

    id: int
    name: str
    type_name: str
    serialization_format: str = "cdr"


@dataclasses.dataclass
class _Topic:
    handle: TopicHandle
    definition: str
    encoding: str
    type_hash: str
    qos: str
    count: int = 0


@dataclasses.dataclass
class _FileStats:
    path: str
    start: int | None = None
    end: int | None = None
    count: int = 0

    def add(self, t: int) -> None:
        self.count += 1
        self.start = t if self.start is None else min(self.start, t)
        self.end = t if self.end is None else max(self.end, t)


def parse_qos_profiles(qos: str | list | None) -> list[dict[str, Any]]:
    """A rosbag2 ``offered_qos_profiles`` YAML string (or list) as a list of dicts."""
    if not qos:
        return []
    if isinstance(qos, list):
        return qos
    try:
        value = yaml.safe_load(qos)
    except yaml.YAMLError:
        return []
    return value if isinstance(value, list) else []


def dump_qos_profiles(qos: str | list | None) -> str:
    """QoS profiles as the YAML string rosbag2 keeps in storage ("" for none)."""
    if not qos:
        return ""
    if isinstance(qos, str):
        return qos
    return yaml.safe_dump(qos, default_flow_style=False, sort_keys=False).strip()


def build_metadata(*, storage: str, files: list[_FileStats], topics: list[dict[str, Any]],
                   compression_format: str = "", compression_mode: str = "",
                   custom_data: dict[str, str] | None = None,
                   ros_distro: str = ROS_DISTRO) -> dict[str, Any]:
    """The ``rosbag2_bagfile_information`` mapping (version 9).

    ``topics``: dicts with name, type, serialization_format, offered_qos_profiles (string or
    list), type_description_hash, message_count.
    """
    starts = [f.start for f in files if f.start is not None]
    ends = [f.end for f in files if f.end is not None]
    start = min(starts) if starts else 0
    end = max(ends) if ends else start

    def file_entry(f: _FileStats) -> dict[str, Any]:
        f_start = f.start if f.start is not None else 0
        f_end = f.end if f.end is not None else f_start
        return {"path": f.path, "starting_time": {"nanoseconds_since_epoch": f_start},
                "duration": {"nanoseconds": f_end - f_start}, "message_count": f.count}

    return {
        "version": METADATA_VERSION,
        "storage_identifier": storage,
        "duration": {"nanoseconds": end - start},
        "starting_time": {"nanoseconds_since_epoch": start},
        "message_count": sum(f.count for f in files),
        "topics_with_message_count": [
            {"topic_metadata": {
                "name": t["name"], "type": t["type"],
                "serialization_format": t.get("serialization_format") or "cdr",
                "offered_qos_profiles": parse_qos_profiles(t.get("offered_qos_profiles")),
                "type_description_hash": t.get("type_description_hash") or "",
            }, "message_count": int(t.get("message_count", 0))}
            for t in topics
        ],
        "compression_format": compression_format,
        "compression_mode": compression_mode,
        "relative_file_paths": [f.path for f in files],
        "files": [file_entry(f) for f in files],
        "custom_data": dict(custom_data) if custom_data else None,
        "ros_distro": ros_distro,
    }


def dump_metadata_text(info: dict[str, Any]) -> str:
    return yaml.safe_dump(info, default_flow_style=False, sort_keys=False)


def write_metadata_file(folder: Path, info: dict[str, Any]) -> None:
    """Write ``folder/metadata.yaml`` atomically (temporary file, then rename)."""
    text = dump_metadata_text({"rosbag2_bagfile_information": info})
    tmp = folder / "metadata.yaml.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / "metadata.yaml")


class _DirectStream:
    """Unbuffered file for ``mcap.writer.Writer``: every record group reaches the OS at once."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "xb", buffering=0)  # noqa: SIM115 - closed by close()
        self._pos = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            n = self._file.write(view)
            view = view[n:]
        self._pos += total
        return total

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._file.close()


class _McapFile:
    def __init__(self, path: Path, compression: str | None, chunk_size: int) -> None:
        from mcap.writer import CompressionType, Writer

        self.path = path
        self._stream = _DirectStream(path)
        self._writer = Writer(
            self._stream, chunk_size=chunk_size,
            compression=CompressionType.ZSTD if compression == "zstd" else CompressionType.NONE,
        )
        self._writer.start(profile="ros2", library="neuro_nodes.bag (mcap python)")
        self._schemas: dict[str, int] = {}
        self._channels: dict[int, int] = {}
        self._sequence: dict[int, int] = {}
        self._pending = 0
        self._last_pos = self._stream.tell()

    def add_topic(self, topic: _Topic) -> None:
        type_name = topic.handle.type_name
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                name=type_name, encoding=topic.encoding,
                data=topic.definition.encode() if topic.encoding else b"")
        metadata = {"offered_qos_profiles": topic.qos}
        if topic.type_hash:
            metadata["topic_type_hash"] = topic.type_hash
        self._channels[topic.handle.id] = self._writer.register_channel(
            topic=topic.handle.name, message_encoding=topic.handle.serialization_format,
            schema_id=self._schemas[type_name], metadata=metadata)
        self._sequence[topic.handle.id] = 0

    def write(self, topic_id: int, t: int, data: bytes, publish_time: int) -> None:
        seq = self._sequence[topic_id]
        self._sequence[topic_id] = seq + 1
        self._writer.add_message(channel_id=self._channels[topic_id], log_time=t, data=data,
                                 publish_time=publish_time, sequence=seq)
        pos = self._stream.tell()
        if pos != self._last_pos:  # a chunk was completed and written
            self._pending, self._last_pos = 0, pos
        else:
            self._pending += len(data) + _MESSAGE_RECORD_OVERHEAD

    def size(self) -> int:
        return self._stream.tell() + self._pending

    def flush(self) -> None:
        self._writer.flush()
        self._pending, self._last_pos = 0, self._stream.tell()

    def set_metadata(self, text: str) -> None:
        pass  # mcap: written once, by close()

    def close(self, metadata_text: str) -> None:
        try:
            self._writer.flush()
            self._writer.add_metadata("rosbag2", {"serialized_metadata": metadata_text})
            self._writer.finish()
        finally:
            self._stream.close()


class _SqliteFile:
    def __init__(self, path: Path, compress: bool, chunk_size: int) -> None:
        if path.exists():
            raise BagWriterError(f"{path} exists already")
        self.path = path
        self._compress = compress
        self._chunk_size = chunk_size
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SQLITE_SCHEMA)
        self._db.execute("INSERT INTO schema(schema_version, ros_distro) VALUES (?, ?)",
                         (SQLITE_SCHEMA_VERSION, ROS_DISTRO))
        self._types: set[str] = set()
        self._pending = 0
        self._in_tx = False

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def add_topic(self, topic: _Topic) -> None:
        self._begin()
        h = topic.handle
        self._db.execute("INSERT INTO topics VALUES (?, ?, ?, ?, ?, ?)",
                         (h.id, h.name, h.type_name, h.serialization_format, topic.qos,
                          topic.type_hash))
        if h.type_name not in self._types and topic.encoding:
            self._db.execute(
                "INSERT INTO message_definitions (topic_type, encoding, "
                "encoded_message_definition, type_description_hash) VALUES (?, ?, ?, ?)",
                (h.type_name, topic.encoding, topic.definition, topic.type_hash))
        self._types.add(h.type_name)
        self.flush()

    def write(self, topic_id: int, t: int, data: bytes, publish_time: int) -> None:
        if self._compress:
            import zstandard

            data = zstandard.compress(bytes(data))
        self._begin()
        self._db.execute("INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)",
                         (topic_id, t, bytes(data)))
        self._pending += len(data) + 16
        if self._pending >= self._chunk_size:
            self.flush()

    def size(self) -> int:
        """Size of the database as this connection sees it (committed or not, WAL or file)."""
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(page_size)

    def flush(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False
        self._pending = 0

    def set_metadata(self, text: str) -> None:
        self._begin()
        self._db.execute("DELETE FROM metadata")
        self._db.execute("INSERT INTO metadata(metadata_version, metadata) VALUES (?, ?)",
                         (METADATA_VERSION, text))

    def close(self, metadata_text: str) -> None:
        try:
            self.set_metadata(metadata_text)
            self.flush()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("PRAGMA journal_mode=DELETE")
        finally:
            self._db.close()


class BagWriter:
    """A rosbag2 bag being written. ``with BagWriter(folder) as bag: ...``.

    ``storage``: ``"mcap"`` or ``"sqlite3"``; ``compression``: ``None`` or ``"zstd"``;
    ``max_bag_size`` (bytes, 0: no limit; approximate for mcap, whose open chunk is
    estimated uncompressed) and ``max_bag_duration_s`` (0: no limit) split the bag into
    files; ``chunk_size``: bytes per mcap chunk / sqlite3 transaction;
    ``snapshot_interval_s``: log time between metadata refreshes. ``warnings`` lists the
    topics whose type definition was not found (stored without definition). ``write`` is
    thread-safe.
    """

    def __init__(self, path: str | Path, *, storage: str = "mcap", compression: str | None = None,
                 max_bag_size: int = 0, max_bag_duration_s: float = 0.0,
                 chunk_size: int = 1 << 20, snapshot_interval_s: float = 5.0,
                 custom_data: dict[str, str] | None = None) -> None:
        if storage not in STORAGE_SUFFIX:
            raise BagWriterError(f"unknown storage '{storage}' (mcap or sqlite3)")
        if compression not in (None, "", "zstd"):
            raise BagWriterError(f"unknown compression '{compression}' (None or 'zstd')")
        if max_bag_size < 0 or max_bag_duration_s < 0 or chunk_size < 1:
            raise BagWriterError("max_bag_size, max_bag_duration_s and chunk_size must be >= 0")
        self.path = Path(path)
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise BagWriterError(f"{self.path} exists already and is not empty; not overwriting")
        self.path.mkdir(parents=True, exist_ok=True)
        self.storage = storage
        self.compression = compression or None
        self.max_bag_size = int(max_bag_size)
        self.max_bag_duration_ns = int(max_bag_duration_s * 1e9)
        self.chunk_size = int(chunk_size)
        self.snapshot_interval_ns = int(snapshot_interval_s * 1e9)
        self.custom_data: dict[str, str] = dict(custom_data or {})
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._topics: list[_Topic] = []
        self._by_name: dict[str, _Topic] = {}
        self._files: list[_FileStats] = []
        self._file: _McapFile | _SqliteFile | None = None
        self._last_snapshot: int | None = None
        self._closed = False
        self._open_next_file()

    # -- public API -----------------------------------------------------------------------
    @property
    def files(self) -> list[Path]:
        return [self.path / f.path for f in self._files]

    @property
    def message_count(self) -> int:
        return sum(f.count for f in self._files)

    def add_topic(self, name: str, type_name: str, definition: str | None = None,
                  definition_encoding: str = "ros2msg", offered_qos_profiles: str = "",
                  serialization_format: str = "cdr",
                  type_hash: str | None = None) -> TopicHandle:
        """Register a topic. ``definition`` None: looked up (``message_definition``)."""
        from neuro_nodes.bag.msgdefs import normalize_type

        type_name = normalize_type(type_name)
        with self._lock:
            self._check_open()
            existing = self._by_name.get(name)
            if existing is not None:
                if existing.handle.type_name != type_name:
                    raise BagWriterError(
                        f"topic {name} already added with type {existing.handle.type_name}")
                return existing.handle
            if definition is None:
                info = resolve_type(type_name)
                definition = info.definition
                type_hash = info.type_hash if type_hash is None else type_hash
            elif type_hash is None:
                type_hash = type_description_hash(type_name)
            encoding = definition_encoding if definition else ""
            if not definition:
                msg = (f"{name}: no message definition found for {type_name}; "
                       "messages are stored without one")
                self.warnings.append(msg)
                _warnings.warn(msg, stacklevel=2)
            topic = _Topic(TopicHandle(len(self._topics) + 1, name, type_name,
                                       serialization_format),
                           definition, encoding, type_hash or "",
                           dump_qos_profiles(offered_qos_profiles))
            self._topics.append(topic)
            self._by_name[name] = topic
            assert self._file is not None
            self._file.add_topic(topic)
            self._write_metadata()
            return topic.handle

    def write(self, handle: TopicHandle, log_time_ns: int, data: bytes | bytearray | memoryview,
              publish_time_ns: int | None = None) -> None:
        """Append one serialised message (log time in ns since the epoch)."""
        t = int(log_time_ns)
        with self._lock:
            self._check_open()
            topic = self._topics[handle.id - 1] if 0 < handle.id <= len(self._topics) else None
            if topic is None or topic.handle != handle:
                raise BagWriterError(f"unknown topic handle {handle}")
            stats = self._files[-1]
            if stats.count and self._should_split(stats, t):
                self._split()
                stats = self._files[-1]
            assert self._file is not None
            self._file.write(handle.id, t, bytes(data),
                             t if publish_time_ns is None else int(publish_time_ns))
            stats.add(t)
            topic.count += 1
            if self._last_snapshot is None:
                self._last_snapshot = t
            elif self.snapshot_interval_ns and t - self._last_snapshot >= self.snapshot_interval_ns:
                self._snapshot(t)

    def snapshot(self) -> None:
        """Complete the open chunk / transaction and refresh ``metadata.yaml`` now."""
        with self._lock:
            self._check_open()
            self._snapshot(self._last_snapshot)

    def metadata(self) -> dict[str, Any]:
        """The ``rosbag2_bagfile_information`` mapping as it stands."""
        with self._lock:
            return self._metadata()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            assert self._file is not None
            self._file.close(dump_metadata_text(self._metadata()))
            self._file = None
            write_metadata_file(self.path, self._metadata())

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise BagWriterError(f"{self.path}: bag is closed")

    def _should_split(self, stats: _FileStats, t: int) -> bool:
        assert self._file is not None and stats.start is not None
        if self.max_bag_duration_ns and t - stats.start >= self.max_bag_duration_ns:
            return True
        return bool(self.max_bag_size and self._file.size() >= self.max_bag_size)

    def _open_next_file(self) -> None:
        name = f"{self.path.name}_{len(self._files)}{STORAGE_SUFFIX[self.storage]}"
        if self.storage == "mcap":
            self._file = _McapFile(self.path / name, self.compression, self.chunk_size)
        else:
            self._file = _SqliteFile(self.path / name, self.compression == "zstd",
                                     self.chunk_size)
        self._files.append(_FileStats(name))
        for topic in self._topics:
            self._file.add_topic(topic)
        self._write_metadata()

    def _split(self) -> None:
        assert self._file is not None
        self._file.close(dump_metadata_text(self._metadata()))
        self._open_next_file()

    def _snapshot(self, t: int | None) -> None:
        assert self._file is not None
        self._file.set_metadata(dump_metadata_text(self._metadata()))
        self._file.flush()
        self._write_metadata()
        self._last_snapshot = t

    def _write_metadata(self) -> None:
        write_metadata_file(self.path, self._metadata())

    def _metadata(self) -> dict[str, Any]:
        sqlite_zstd = self.storage == "sqlite3" and self.compression == "zstd"
        return build_metadata(
            storage=self.storage, files=self._files,
            topics=[{"name": t.handle.name, "type": t.handle.type_name,
                     "serialization_format": t.handle.serialization_format,
                     "offered_qos_profiles": t.qos, "type_description_hash": t.type_hash,
                     "message_count": t.count} for t in self._topics],
            compression_format="zstd" if sqlite_zstd else "",
            compression_mode="message" if sqlite_zstd else "",
            custom_data=self.custom_data)
