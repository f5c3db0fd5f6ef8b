"""``ros2 bag info`` without ROS, plus an event summary per event topic.

``bag_info(folder)`` takes files, times and per-topic counts from ``metadata.yaml`` as
``ros2 bag info`` does (computing them from the storage files, without writing anything,
when the bag has none), and decodes every event topic (``EventPacket`` and the legacy
``EventArray``) into the summary of ``neuro events info``
(:class:`neuro_nodes.events.stats.EventStats`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from neuro_nodes.bag.event_packets import EVENT_TYPES
from neuro_nodes.bag.reader import BagError, load_metadata


def _load_metadata(folder: Path) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    meta_path = folder / "metadata.yaml"
    if meta_path.is_file():
        try:
            return load_metadata(folder), problems
        except BagError as err:
            problems.append(f"{err}; computed from the files")
    else:
        problems.append("no metadata.yaml; computed from the files ('neuro bag reindex' "
                        "writes one)")
    from neuro_nodes.bag.reindex import reindex

    result = reindex(folder, repair=False, write=False)
    problems.extend(result.problems)
    return result.metadata, problems


def _storage_of(info: dict[str, Any], files: list[str]) -> str:
    storage = info.get("storage_identifier") or ""
    if not storage and files:
        storage = {".mcap": "mcap", ".db3": "sqlite3"}.get(Path(files[0]).suffix, "")
    return storage


def event_summary(folder: str | Path, topic: str, files: list[Path] | None = None,
                  storage: str | None = None,
                  compression_mode: str = "") -> tuple[dict[str, Any], str | None]:
    """``EventStats.as_dict()`` of one event topic, and the problem met (or None).

    ``files``/``storage`` (default: from ``metadata.yaml``) let a bag without metadata be read.
    """
    from neuro_nodes.bag import reader
    from neuro_nodes.bag.event_packets import decode_packet
    from neuro_nodes.events.codecs import make_decoder
    from neuro_nodes.events.stats import EventStats

    folder = Path(folder)
    stats = EventStats()
    problem = None
    try:
        if files is None or storage is None:
            raw = reader.read_messages(folder, [topic])
        elif storage == "mcap":
            raw = reader._mcap_messages(files, {topic})
        else:
            decompress = None
            if compression_mode == "message":
                import zstandard

                def decompress(data: bytes) -> bytes:
                    return zstandard.ZstdDecompressor().decompressobj().decompress(data)

            raw = reader._sqlite_messages(files, {topic}, decompress)
        decoder, key = None, None
        for msg in raw:
            packet = decode_packet(msg.topic, msg.log_time_ns, msg.data)
            if (packet.encoding, packet.width, packet.height) != key:
                key = (packet.encoding, packet.width, packet.height)
                decoder = make_decoder(*key)
                stats.encoding = packet.encoding
                stats.width, stats.height = packet.width, packet.height
            result = decoder.decode(packet.events, packet.time_base)
            stats.add(result.events, result.triggers, result.errors)
    except (BagError, ValueError, OSError) as err:
        problem = f"{topic}: {err}"
    return stats.as_dict(), problem


def bag_info(folder: str | Path, *, events: bool = True) -> dict[str, Any]:
    """What ``ros2 bag info`` prints, as a dict, plus ``events`` (topic -> event summary).

    Keys: path, version, storage, ros_distro, files (path, size), size, compression_format,
    compression_mode, start_ns, end_ns, duration_ns, message_count, topics (name, type,
    count, serialization_format), custom_data, events, problems.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BagError(f"{folder}: not a bag folder")
    info, problems = _load_metadata(folder)
    rel = [str(p) for p in info.get("relative_file_paths") or []]
    files = []
    for name in rel:
        path = folder / name
        files.append({"path": name, "size": path.stat().st_size if path.is_file() else None})
        if not path.is_file():
            problems.append(f"{name}: missing")
    start = int((info.get("starting_time") or {}).get("nanoseconds_since_epoch") or 0)
    duration = int((info.get("duration") or {}).get("nanoseconds") or 0)
    topics = []
    for entry in info.get("topics_with_message_count") or []:
        meta = entry.get("topic_metadata") or {}
        topics.append({"name": meta.get("name", ""), "type": meta.get("type", ""),
                       "count": int(entry.get("message_count") or 0),
                       "serialization_format": meta.get("serialization_format", "")})
    result: dict[str, Any] = {
        "path": str(folder),
        "version": info.get("version"),
        "storage": _storage_of(info, rel),
        "ros_distro": info.get("ros_distro") or "",
        "files": files,
        "size": sum(f["size"] or 0 for f in files),
        "compression_format": info.get("compression_format") or "",
        "compression_mode": info.get("compression_mode") or "",
        "start_ns": start,
        "end_ns": start + duration,
        "duration_ns": duration,
        "message_count": int(info.get("message_count") or 0),
        "topics": topics,
        "custom_data": info.get("custom_data") or {},
        "events": {},
        "problems": problems,
    }
    if events:
        for topic in topics:
            if topic["type"] in EVENT_TYPES and topic["count"]:
                summary, problem = event_summary(
                    folder, topic["name"], [folder / f for f in rel], result["storage"],
                    result["compression_mode"])
                result["events"][topic["name"]] = summary
                if problem:
                    problems.append(problem)
    return result


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _stamp(ns: int) -> str:
    local = time.localtime(ns // 1_000_000_000)
    return (f"{time.strftime('%b %e %Y %H:%M:%S', local)}.{ns % 1_000_000_000:09d} "
            f"({ns // 1_000_000_000}.{ns % 1_000_000_000:09d})")


def format_info(info: dict[str, Any]) -> str:
    """``bag_info`` as ``ros2 bag info`` prints it, with an event section."""
    pad = " " * 19
    lines: list[str] = []

    def field(label: str, values: list[str]) -> None:
        lines.append(f"{label + ':':<19}{values[0] if values else ''}")
        lines.extend(pad + v for v in values[1:])

    field("Files", [f["path"] for f in info["files"]])
    field("Bag size", [_size(info["size"])])
    field("Storage id", [info["storage"]])
    field("ROS Distro", [info["ros_distro"] or "unknown"])
    dur = info["duration_ns"]
    field("Duration", [f"{dur // 1_000_000_000}.{dur % 1_000_000_000:09d}s"])
    field("Start", [_stamp(info["start_ns"])])
    field("End", [_stamp(info["end_ns"])])
    field("Messages", [str(info["message_count"])])
    if info["compression_mode"]:
        field("Compression", [f"{info['compression_format']} ({info['compression_mode']})"])
    width = max((len(t["name"]) for t in info["topics"]), default=0)
    field("Topic information", [
        f"Topic: {t['name']:<{width}} | Type: {t['type']} | Count: {t['count']} | "
        f"Serialization Format: {t['serialization_format']}" for t in info["topics"]])
    if info["events"]:
        rows = []
        for name, ev in info["events"].items():
            rows.append(
                f"Topic: {name} | {ev['width']}x{ev['height']} {ev['encoding']} | "
                f"Events: {ev['events']} (ON {ev['on']}, OFF {ev['off']}) | "
                f"Triggers: {ev['trigger_rise']} rise, {ev['trigger_fall']} fall | "
                f"Span: {ev['duration_s']:.6f}s | Rate: {ev['mean_rate_evps'] / 1e6:.3f} Mev/s "
                f"(peak {ev['peak_rate_evps'] / 1e6:.3f}) | Errors: {ev['errors']}")
        field("Event topics", rows)
    if info["problems"]:
        field("Problems", info["problems"])
    return "\n".join(lines) + "\n"
