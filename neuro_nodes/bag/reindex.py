"""Rebuild a bag's ``metadata.yaml`` from its storage files (``ros2 bag reindex``), and make
the files of a killed recorder readable again.

What ``reindex(folder)`` does, and never more:

- finds the storage files (``*.mcap`` or ``*.db3``, ordered by their ``_<i>`` index);
- mcap with a summary: takes counts, times and topics from the summary; mcap without one (a
  recorder killed before it finished the file): reads it front to back up to the first
  damaged record. With ``repair=True`` (default) such a file is rewritten as a complete mcap
  (summary, index, footer) holding every readable message: the new file is written next to
  it first, then the original is renamed to ``<name>.mcap.bak`` (``.bak.1``... if taken) and
  the new file takes its name. Nothing is deleted, so the cut-off bytes stay available;
- sqlite3: counts per topic with SQL. With ``repair=True`` the database is opened
  read-write, which lets SQLite roll its write-ahead log into the file (what a killed
  recorder leaves in ``<name>.db3-wal``), and is switched back to a single-file journal so
  that readers opening it immutable (rosbags) see every committed message;
- writes ``metadata.yaml`` (version 9), after renaming an existing one to
  ``metadata.yaml.bak``. ``custom_data``, compression settings, ROS distro and type hashes
  are taken over from the old metadata (or the sqlite3 metadata table) when present.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import struct
from pathlib import Path
from typing import Any

import yaml

from neuro_nodes.bag.reader import BagError, load_metadata
from neuro_nodes.bag.writer import (
    _FileStats,
    build_metadata,
    write_metadata_file,
)

_INDEX = re.compile(r"_(\d+)$")


@dataclasses.dataclass
class ReindexResult:
    metadata: dict[str, Any]                     # the new rosbag2_bagfile_information
    repaired: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, backup)
    problems: list[str] = dataclasses.field(default_factory=list)
    unreadable: list[str] = dataclasses.field(default_factory=list)  # files nothing was read of


@dataclasses.dataclass
class _TopicAcc:
    name: str
    type: str
    serialization_format: str
    qos: str
    type_hash: str
    count: int = 0


def storage_files(folder: Path) -> tuple[str, list[Path]]:
    """Storage id and storage files of a bag folder, in split order."""
    mcaps = [p for p in folder.glob("*.mcap") if p.is_file()]
    dbs = [p for p in folder.glob("*.db3") if p.is_file()]
    if mcaps and dbs:
        raise BagError(f"{folder}: both .mcap and .db3 files; cannot tell the storage")
    if not mcaps and not dbs:
        raise BagError(f"{folder}: no .mcap or .db3 storage files")

    def key(p: Path) -> tuple[int, str]:
        m = _INDEX.search(p.stem)
        return (int(m.group(1)) if m else -1, p.name)

    return ("mcap", sorted(mcaps, key=key)) if mcaps else ("sqlite3", sorted(dbs, key=key))


def _old_metadata(folder: Path) -> dict[str, Any]:
    try:
        return load_metadata(folder)
    except BagError:
        return {}


def _chunk_compression(path: Path) -> str:
    """Compression of the first chunk of an mcap ("" if none or not found)."""
    try:
        with path.open("rb") as f:
            f.seek(8)
            for _ in range(64):  # records before the first chunk: header, maybe a few more
                head = f.read(9)
                if len(head) < 9:
                    return ""
                opcode, length = head[0], struct.unpack("<Q", head[1:])[0]
                if opcode == 0x06:
                    body = f.read(28 + 4)
                    (n,) = struct.unpack("<I", body[28:32])
                    return f.read(n).decode()
                f.seek(length, 1)
    except (OSError, struct.error, UnicodeDecodeError):
        pass
    return ""


def _unique_backup(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    i = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak.{i}")
        i += 1
    return backup


def _add_channel(topics: dict[str, _TopicAcc], channel: Any, schema: Any,
                 old_hashes: dict[str, str]) -> _TopicAcc:
    acc = topics.get(channel.topic)
    if acc is None:
        meta = dict(channel.metadata or {})
        acc = _TopicAcc(
            channel.topic, schema.name if schema is not None else "",
            channel.message_encoding or "cdr", meta.get("offered_qos_profiles", ""),
            meta.get("topic_type_hash", "") or old_hashes.get(channel.topic, ""))
        topics[channel.topic] = acc
    return acc


def _rewrite_mcap(path: Path, scan_path: Path, compression: str) -> Path:
    """Write the readable part of ``scan_path`` as a complete mcap at ``path``.tmp, swap it in;
    return the backup of the original."""
    from mcap.writer import CompressionType, Writer

    from neuro_nodes.bag.mcap_scan import McapScan

    tmp = path.with_name(path.name + ".reindex.tmp")
    comp = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}.get(
        compression, CompressionType.NONE)
    scan = McapScan(scan_path)
    with tmp.open("wb") as out:
        writer = Writer(out, compression=comp)
        writer.start(profile="ros2", library="neuro_nodes.bag.reindex")
        schema_map: dict[int, int] = {}
        channel_map: dict[int, int] = {}
        for schema, channel, message in scan:
            if channel.id not in channel_map:
                sid = 0
                if schema is not None:
                    if schema.id not in schema_map:
                        schema_map[schema.id] = writer.register_schema(
                            schema.name, schema.encoding, schema.data)
                    sid = schema_map[schema.id]
                channel_map[channel.id] = writer.register_channel(
                    channel.topic, channel.message_encoding, sid, dict(channel.metadata))
            writer.add_message(channel_map[channel.id], message.log_time, message.data,
                               message.publish_time, message.sequence)
        # channels that had no readable message keep existing
        for cid, channel in scan.channels.items():
            if cid in channel_map:
                continue
            schema = scan.schemas.get(channel.schema_id)
            sid = 0
            if schema is not None:
                if schema.id not in schema_map:
                    schema_map[schema.id] = writer.register_schema(
                        schema.name, schema.encoding, schema.data)
                sid = schema_map[schema.id]
            channel_map[cid] = writer.register_channel(
                channel.topic, channel.message_encoding, sid, dict(channel.metadata))
        writer.finish()
        out.flush()
        os.fsync(out.fileno())
    backup = _unique_backup(path)
    os.replace(path, backup)
    os.replace(tmp, path)
    return backup


def _index_mcap(path: Path, topics: dict[str, _TopicAcc], old_hashes: dict[str, str],
                result: ReindexResult, repair: bool) -> _FileStats:
    from mcap.reader import make_reader

    from neuro_nodes.bag.mcap_scan import McapScan, has_footer

    stats = _FileStats(path.name)
    if has_footer(path):
        try:
            with path.open("rb") as f:
                summary = make_reader(f).get_summary()
        except Exception:  # noqa: BLE001 - unreadable summary: scan instead
            summary = None
        if summary is not None and summary.statistics is not None:
            st = summary.statistics
            for cid, channel in summary.channels.items():
                acc = _add_channel(topics, channel, summary.schemas.get(channel.schema_id),
                                   old_hashes)
                acc.count += st.channel_message_counts.get(cid, 0)
            stats.count = st.message_count
            if st.message_count:
                stats.start, stats.end = st.message_start_time, st.message_end_time
            return stats
    scan = McapScan(path)
    per_channel: dict[int, int] = {}
    for _schema, channel, message in scan:
        per_channel[channel.id] = per_channel.get(channel.id, 0) + 1
        stats.add(message.log_time)
    for cid, channel in scan.channels.items():
        acc = _add_channel(topics, channel, scan.schemas.get(channel.schema_id), old_hashes)
        acc.count += per_channel.get(cid, 0)
    if not scan.complete:
        result.problems.append(
            f"{path.name}: truncated or damaged ({scan.error}); {scan.messages} messages "
            "readable")
        if repair:
            if scan.header is None:
                result.problems.append(f"{path.name}: not an mcap file; left as it is")
            else:
                backup = _rewrite_mcap(path, path, _chunk_compression(path))
                result.repaired.append((path.name, backup.name))
    return stats


def _index_sqlite(path: Path, topics: dict[str, _TopicAcc], old_hashes: dict[str, str],
                  result: ReindexResult, repair: bool) -> tuple[_FileStats, dict[str, Any]]:
    stats = _FileStats(path.name)
    stored_meta: dict[str, Any] = {}
    writable = repair and os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)
    uri = f"file:{path}" if writable else f"file:{path}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as err:
        result.problems.append(f"{path.name}: cannot open ({err})")
        result.unreadable.append(f"{path}: cannot open the sqlite3 database ({err})")
        return stats, stored_meta
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(topics)")}
        hash_col = "type_description_hash" if "type_description_hash" in columns else "''"
        qos_col = "offered_qos_profiles" if "offered_qos_profiles" in columns else "''"
        rows = db.execute(f"SELECT id, name, type, serialization_format, {qos_col}, "
                          f"{hash_col} FROM topics ORDER BY id").fetchall()
        counts = {tid: (n, lo, hi) for tid, n, lo, hi in db.execute(
            "SELECT topic_id, COUNT(*), MIN(timestamp), MAX(timestamp) FROM messages "
            "GROUP BY topic_id")}
        for tid, name, type_name, fmt, qos, digest in rows:
            acc = topics.get(name)
            if acc is None:
                acc = _TopicAcc(name, type_name, fmt or "cdr", qos or "",
                                digest or old_hashes.get(name, ""))
                topics[name] = acc
            n, lo, hi = counts.get(tid, (0, None, None))
            acc.count += n
            if n:
                stats.count += n
                stats.start = lo if stats.start is None else min(stats.start, lo)
                stats.end = hi if stats.end is None else max(stats.end, hi)
        try:
            row = db.execute("SELECT metadata FROM metadata ORDER BY id DESC LIMIT 1").fetchone()
            if row:
                stored_meta = yaml.safe_load(row[0]) or {}
        except (sqlite3.Error, yaml.YAMLError):
            pass
        if writable:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as err:
        result.problems.append(f"{path.name}: damaged database ({err})")
        result.unreadable.append(f"{path}: corrupt sqlite3 database ({err})")
    finally:
        db.close()
    return stats, stored_meta if isinstance(stored_meta, dict) else {}


def reindex(folder: str | Path, *, repair: bool = True, write: bool = True) -> ReindexResult:
    """Rebuild ``folder/metadata.yaml`` from the storage files (see the module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BagError(f"{folder}: not a directory")
    storage, files = storage_files(folder)
    old = _old_metadata(folder)
    old_hashes = {}
    for entry in old.get("topics_with_message_count") or []:
        meta = (entry or {}).get("topic_metadata") or {}
        if meta.get("name") and meta.get("type_description_hash"):
            old_hashes[meta["name"]] = meta["type_description_hash"]
    result = ReindexResult({})
    topics: dict[str, _TopicAcc] = {}
    file_stats: list[_FileStats] = []
    stored: dict[str, Any] = {}
    for path in files:
        if storage == "mcap":
            file_stats.append(_index_mcap(path, topics, old_hashes, result, repair))
        else:
            stats, meta = _index_sqlite(path, topics, old_hashes, result, repair)
            file_stats.append(stats)
            stored = stored or meta
    source = old or stored
    info = build_metadata(
        storage=storage, files=file_stats,
        topics=[{"name": t.name, "type": t.type, "serialization_format": t.serialization_format,
                 "offered_qos_profiles": t.qos, "type_description_hash": t.type_hash,
                 "message_count": t.count} for t in topics.values()],
        compression_format=str(source.get("compression_format") or ""),
        compression_mode=str(source.get("compression_mode") or ""),
        custom_data=source.get("custom_data") or None,
        ros_distro=str(source.get("ros_distro") or ""),
    )
    result.metadata = info
    if write and result.unreadable:  # a metadata.yaml of what could be read would lose data
        kept = "kept as it was" if (folder / "metadata.yaml").exists() else "not written"
        raise BagError("; ".join(result.unreadable) + f"; {folder / 'metadata.yaml'} {kept}")
    if write:
        meta_path = folder / "metadata.yaml"
        if meta_path.exists():
            os.replace(meta_path, folder / "metadata.yaml.bak")
        write_metadata_file(folder, info)
    return result


__all__ = ["ReindexResult", "reindex", "storage_files"]
