"""Convert ROS 1 event-camera bags into rosbag2 bags with ``EventPacket`` topics.

Input: a ROS 1 bag (``.bag``) with ``dvs_msgs/EventArray`` (rpg_dvs_ros) or
``prophesee_event_msgs/EventArray`` (prophesee_ros_wrapper) topics: ``header``, ``height``,
``width`` and ``events``, a list of ``{x uint16, y uint16, ts time, polarity bool}``. Types are
learnt from the bag's own connection headers, so no ROS 1 packages are needed.

Output: a rosbag2 bag (``BagWriter``) where each such topic (same name) carries
``event_camera_msgs/msg/EventPacket`` messages with ``encoding`` payloads (``evt3`` by
default): the events are cut into packets as a driver does (``max_dt_ns`` time threshold,
``max_events`` size threshold; ``neuro_nodes.events.packetize.to_packets``) and encoded by one
stream encoder per topic. Every packet is written when it is complete, with the log time of
the ROS 1 message that completed it.

Times: the payload clock is the event time relative to ``t0`` (the topic's first event time,
floored to the microsecond), at the codec's resolution (1 us for evt3/evt2: finer ROS 1 times
are floored). ``header.stamp`` is the absolute time of the packet's first event and
``time_base`` its relative time, so for every packet ``header.stamp - time_base == t0`` and
an event's ROS time is ``decoded_t + header.stamp - time_base``. ``t0`` is also stored in the
bag's ``custom_data`` (``ros1_convert.t0_ns.<topic>``). Events older than an already written
packet (time going backwards across ROS 1 messages) cannot be encoded and are dropped and
counted.

Other topics (optional, ``copy_other_topics``) are converted from ROS 1 to CDR with rosbags'
converter: types that ROS 2 Kilted defines (std_msgs, sensor_msgs, ...) are migrated to the ROS 2
definition (e.g. ``Header.seq`` dropped); other types keep the ROS 1 definition, taken from the
bag. A topic that cannot be converted is skipped and reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.bag.event_packets import EVENT_PACKET
from neuro_nodes.bag.reader import BagError
from neuro_nodes.bag.writer import BagWriter, TopicHandle, resolve_type

ROS1_EVENT_TYPES = ("dvs_msgs/msg/EventArray", "prophesee_event_msgs/msg/EventArray")

#: ROS 1 wire layout of one event (x, y, ts.sec, ts.nsec, polarity), packed.
_ROS1_EVENT = np.dtype([("x", "<u2"), ("y", "<u2"), ("sec", "<u4"), ("nsec", "<u4"),
                        ("p", "u1")])


@dataclasses.dataclass
class EventTopicReport:
    messages_in: int = 0
    events_in: int = 0
    packets_out: int = 0
    events_out: int = 0
    dropped: int = 0
    width: int = 0
    height: int = 0
    t0_ns: int | None = None


@dataclasses.dataclass
class Ros1ConvertResult:
    output: Path
    event_topics: dict[str, EventTopicReport]
    copied_topics: dict[str, int]
    skipped_topics: dict[str, str]
    warnings: list[str]


def _is_event_array(store: Any, msgtype: str) -> bool:
    """Whether a ROS 1 type has the EventArray shape (known names, or the same fields)."""
    if msgtype in ROS1_EVENT_TYPES:
        return True
    try:
        fields = dict(store.fielddefs[msgtype][1])
        return {"header", "height", "width", "events"} <= set(fields) and _event_layout_ok(
            store, msgtype)
    except (KeyError, TypeError, IndexError):
        return False


def _event_type(store: Any, msgtype: str) -> str | None:
    from rosbags.typesys.base import Nodetype

    fields = dict(store.fielddefs[msgtype][1])
    events = fields.get("events")
    if events is None or events[0] != Nodetype.SEQUENCE or events[1][0][0] != Nodetype.NAME:
        return None
    return events[1][0][1]


def _event_layout_ok(store: Any, msgtype: str) -> bool:
    """Whether the event element is exactly (uint16 x, uint16 y, time ts, bool polarity)."""
    from rosbags.typesys.base import Nodetype

    event = _event_type(store, msgtype)
    if event is None or event not in store.fielddefs:
        return False
    fields = store.fielddefs[event][1]
    want = [("x", (Nodetype.BASE, ("uint16", 0))), ("y", (Nodetype.BASE, ("uint16", 0))),
            ("ts", (Nodetype.NAME, "builtin_interfaces/msg/Time")),
            ("polarity", (Nodetype.BASE, ("bool", 0)))]
    return [(n, (t[0], t[1])) for n, t in fields] == want


def _header_ok(store: Any, msgtype: str) -> bool:
    from rosbags.typesys.base import Nodetype

    fields = store.fielddefs[msgtype][1]
    names = [n for n, _ in fields]
    if names[:3] != ["header", "height", "width"] or names[3] != "events" or len(names) != 4:
        return False
    head = fields[0][1]
    return head[0] == Nodetype.NAME and head[1] == "std_msgs/msg/Header"


def _parse_fast(data: bytes | memoryview) -> tuple[str, int, int, np.ndarray]:
    """frame_id, height, width, events (structured) of a ROS 1 EventArray, without objects."""
    buf = memoryview(data)
    (n_frame,) = np.frombuffer(buf[12:16], "<u4")
    off = 16 + int(n_frame)
    frame_id = bytes(buf[16:off]).decode("utf-8", "replace")
    height, width, n = (int(v) for v in np.frombuffer(buf[off:off + 12], "<u4"))
    off += 12
    events = np.frombuffer(buf[off:off + n * _ROS1_EVENT.itemsize], _ROS1_EVENT)
    if events.size != n:
        raise ValueError(f"EventArray holds {events.size} of {n} events")
    return frame_id, height, width, events


def _parse_generic(store: Any, msgtype: str,
                   data: bytes | memoryview) -> tuple[str, int, int, np.ndarray]:
    msg = store.deserialize_ros1(bytes(data), msgtype)
    events = np.empty(len(msg.events), _ROS1_EVENT)
    for i, ev in enumerate(msg.events):
        events[i] = (ev.x, ev.y, ev.ts.sec, ev.ts.nanosec, bool(ev.polarity))
    return msg.header.frame_id, int(msg.height), int(msg.width), events


class _EventStream:
    """One event topic being packetised and encoded."""

    def __init__(self, writer: BagWriter, topic: str, encoding: str, max_events: int,
                 max_dt_ns: int, report: EventTopicReport) -> None:
        self.writer, self.topic, self.encoding = writer, topic, encoding
        self.max_events, self.max_dt_ns = max_events, max_dt_ns
        self.report = report
        self.handle: TopicHandle | None = None
        self.encoder: Any = None
        self.width = self.height = 0
        self.frame_id = ""
        self.t0: int | None = None
        self.last_us = -1
        self.seq = 0
        self.buf = np.empty(0, _ROS1_EVENT)
        self.buf_t = np.empty(0, np.int64)

    def add(self, log_time: int, frame_id: str, height: int, width: int,
            events: np.ndarray) -> None:
        from neuro_nodes.events.codecs import make_encoder

        self.report.messages_in += 1
        self.report.events_in += len(events)
        if self.encoder is None:
            if width <= 0 or height <= 0:
                if not len(events):
                    return
                width = max(width, int(events["x"].max()) + 1)
                height = max(height, int(events["y"].max()) + 1)
            self.width, self.height, self.frame_id = width, height, frame_id
            self.report.width, self.report.height = width, height
            self.encoder = make_encoder(self.encoding, width, height)
            self.handle = self.writer.add_topic(self.topic, EVENT_PACKET)
        if not len(events):
            return
        t = events["sec"].astype(np.int64) * 1_000_000_000 + events["nsec"].astype(np.int64)
        keep = (events["x"] < self.width) & (events["y"] < self.height)
        if self.t0 is None:
            self.t0 = int(t[keep].min()) // 1000 * 1000 if keep.any() else None
            self.report.t0_ns = self.t0
            if self.t0 is None:
                self.report.dropped += len(events)
                return
        rel = t - self.t0
        keep &= rel // 1000 >= max(self.last_us, 0)
        self.report.dropped += int(len(events) - np.count_nonzero(keep))
        self.buf = np.concatenate([self.buf, events[keep]])
        self.buf_t = np.concatenate([self.buf_t, rel[keep]])
        self._emit(log_time, final=False)

    def finish(self, log_time: int) -> None:
        if self.encoder is not None:
            self._emit(log_time, final=True)

    def _complete(self, t: np.ndarray) -> int:
        """End of the complete packets at the front of sorted times ``t``."""
        i, n = 0, len(t)
        while i < n:
            end = min(i + self.max_events, int(np.searchsorted(t, t[i] + self.max_dt_ns)))
            if end >= n and n - i < self.max_events:
                break
            i = end
        return i

    def _emit(self, log_time: int, *, final: bool) -> None:
        from neuro_nodes.events.event_array import EventArray
        from neuro_nodes.events.packetize import to_packets

        if not len(self.buf_t):
            return
        order = np.argsort(self.buf_t, kind="stable")
        self.buf, self.buf_t = self.buf[order], self.buf_t[order]
        cut = len(self.buf_t) if final else self._complete(self.buf_t)
        if cut == 0:
            return
        ev = self.buf[:cut]
        arr = EventArray(self.buf_t[:cut], ev["x"], ev["y"], ev["p"] != 0, self.width,
                         self.height)
        for packet in to_packets(arr, self.encoder, max_events=self.max_events,
                                 max_dt_ns=self.max_dt_ns):
            self._write(log_time, packet)
        self.last_us = int(self.buf_t[cut - 1]) // 1000
        self.buf, self.buf_t = self.buf[cut:], self.buf_t[cut:]

    def _write(self, log_time: int, packet: Any) -> None:
        from neuro_nodes.bag.event_packets import typestore

        store = typestore()
        types = store.types
        assert self.t0 is not None and self.handle is not None
        stamp = self.t0 + packet.time_base
        msg = types[EVENT_PACKET](
            header=types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 1_000_000_000,
                                                          nanosec=stamp % 1_000_000_000),
                frame_id=self.frame_id),
            height=self.height, width=self.width, seq=self.seq, time_base=packet.time_base,
            encoding=packet.encoding, is_bigendian=False,
            events=np.frombuffer(packet.events, np.uint8))
        self.seq += 1
        self.writer.write(self.handle, log_time, store.serialize_cdr(msg, EVENT_PACKET))
        self.report.packets_out += 1
        self.report.events_out += packet.n_events


def _ros1_store(connections: list[Any]) -> Any:
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    for conn in connections:
        if conn.msgtype in store.fielddefs or not conn.msgdef.data:
            continue
        with contextlib.suppress(Exception):
            types = get_types_from_msg(conn.msgdef.data, conn.msgtype)
            store.register({k: v for k, v in types.items() if k not in store.fielddefs})
    return store


class _Copier:
    """ROS 1 -> CDR conversion of the non-event topics (rosbags' converter)."""

    def __init__(self, src_store: Any) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.src = src_store
        self.dst = get_typestore(Stores.ROS2_KILTED)
        self.kilted = set(self.dst.fielddefs)
        self.cache: dict[str, object] = {}

    def converter(self, msgtype: str) -> tuple[Any, str, str]:
        """(convert function, ROS 2 definition, type hash) for a ROS 1 type."""
        from rosbags.convert.converter import generate_message_converter
        from rosbags.typesys import get_types_from_msg

        if msgtype not in self.dst.fielddefs:
            text, _ = self.src.generate_msgdef(msgtype, ros_version=2)
            types = get_types_from_msg(text, msgtype)
            types.pop("std_msgs/msg/Header", None)
            self.dst.register({k: v for k, v in types.items() if k not in self.dst.fielddefs})
        with contextlib.redirect_stdout(io.StringIO()):
            convert = generate_message_converter(self.src, self.dst, msgtype, msgtype,
                                                 self.cache, src_is2=False, dst_is2=True)
        if msgtype in self.kilted:
            info = resolve_type(msgtype)
            definition, digest = info.definition, info.type_hash
        else:
            definition, _ = self.dst.generate_msgdef(msgtype, ros_version=2)
            try:
                digest = self.dst.hash_rihs01(msgtype)
            except Exception:  # noqa: BLE001 - a hash is optional
                digest = ""
        return convert, definition, digest


def convert_ros1(src: str | Path, dst: str | Path, *, storage: str = "mcap",
                 compression: str | None = None, encoding: str = "evt3",
                 max_dt_ns: int = 1_000_000, max_events: int = 100_000,
                 copy_other_topics: bool = True,
                 topics: list[str] | None = None, topic: str | None = None,
                 packet_us: float | None = None) -> Ros1ConvertResult:
    """Convert a ROS 1 bag into a rosbag2 folder ``dst`` (see the module doc).

    ``topics`` (or one ``topic``): restrict to these topics (default: all).
    ``max_dt_ns`` (or ``packet_us``, in microseconds) / ``max_events``: the packet time and
    size thresholds (driver parameters ``event_message_time_threshold`` /
    ``event_message_size_threshold``). Raises ``BagError`` for an unreadable input.
    """
    from rosbags.rosbag1 import Reader, ReaderError

    src, dst = Path(src), Path(dst)
    if topic:
        topics = [*(topics or []), topic]
    if packet_us is not None:
        if not packet_us > 0:
            raise ValueError(f"packet_us {packet_us}: must be > 0")
        max_dt_ns = max(1, int(packet_us * 1000))
    if max_dt_ns < 1 or max_events < 1:
        raise ValueError(f"max_dt_ns {max_dt_ns} and max_events {max_events} must be >= 1")
    if not src.is_file():
        raise BagError(f"{src}: no such ROS 1 bag")
    reader = Reader(src)
    try:
        reader.open()
    except ReaderError as err:
        raise BagError(f"{src}: not a readable ROS 1 bag ({err})") from err
    try:
        return _convert(reader, src, dst, storage=storage, compression=compression,
                        encoding=encoding, max_dt_ns=max_dt_ns, max_events=max_events,
                        copy_other_topics=copy_other_topics, topics=topics)
    except ReaderError as err:
        raise BagError(f"{src}: damaged ROS 1 bag ({err})") from err
    finally:
        reader.close()


def _convert(reader: Any, src: Path, dst: Path, *, storage: str, compression: str | None,
             encoding: str, max_dt_ns: int, max_events: int, copy_other_topics: bool,
             topics: list[str] | None) -> Ros1ConvertResult:
    event_reports: dict[str, EventTopicReport] = {}
    copied: dict[str, int] = {}
    skipped: dict[str, str] = {}
    warnings: list[str] = []
    connections = [c for c in reader.connections if topics is None or c.topic in topics]
    store = _ros1_store(connections)
    event_conns = [c for c in connections if _is_event_array(store, c.msgtype)]
    other_conns = [c for c in connections if c not in event_conns]
    writer = BagWriter(dst, storage=storage, compression=compression,
                       custom_data={"ros1_convert.source": src.name})
    try:
        streams: dict[str, _EventStream] = {}
        fast: dict[str, bool] = {}
        for conn in event_conns:
            if conn.topic not in streams:
                event_reports[conn.topic] = EventTopicReport()
                streams[conn.topic] = _EventStream(writer, conn.topic, encoding, max_events,
                                                   max_dt_ns, event_reports[conn.topic])
            fast[conn.msgtype] = (_header_ok(store, conn.msgtype)
                                  and _event_layout_ok(store, conn.msgtype))
        copier = _Copier(store) if copy_other_topics else None
        copy_map: dict[int, tuple[Any, TopicHandle]] = {}
        for conn in other_conns:
            if copier is None:
                skipped[conn.topic] = "not an event topic (copy_other_topics=False)"
                continue
            try:
                convert, definition, digest = copier.converter(conn.msgtype)
            except Exception as err:  # noqa: BLE001 - report and go on
                skipped[conn.topic] = f"cannot convert {conn.msgtype}: {err}"
                continue
            handle = writer.add_topic(conn.topic, conn.msgtype, definition, type_hash=digest)
            copy_map[conn.id] = (convert, handle)
            copied.setdefault(conn.topic, 0)
        last_time = 0
        wanted = event_conns + [c for c in other_conns if c.id in copy_map]
        messages = reader.messages(connections=wanted) if wanted else iter(())
        for conn, log_time, data in messages:
            last_time = log_time
            stream = streams.get(conn.topic)
            if stream is not None:
                try:
                    parsed = (_parse_fast(data) if fast[conn.msgtype]
                              else _parse_generic(store, conn.msgtype, data))
                except Exception as err:  # noqa: BLE001 - a damaged message
                    warnings.append(f"{conn.topic}: message at {log_time} unreadable ({err})")
                    continue
                stream.add(log_time, *parsed)
                continue
            convert, handle = copy_map[conn.id]
            try:
                out = convert(data)
            except Exception as err:  # noqa: BLE001
                warnings.append(f"{conn.topic}: message at {log_time} not converted ({err})")
                continue
            writer.write(handle, log_time, bytes(out))
            copied[conn.topic] += 1
        for name, stream in streams.items():
            stream.finish(last_time)
            rep = event_reports[name]
            if rep.t0_ns is not None:
                writer.custom_data[f"ros1_convert.t0_ns.{name}"] = str(rep.t0_ns)
            if rep.dropped:
                warnings.append(f"{name}: {rep.dropped} events dropped (outside the sensor "
                                "or older than an already written packet)")
        warnings.extend(writer.warnings)
    finally:
        writer.close()
    return Ros1ConvertResult(dst, event_reports, copied, skipped, warnings)
