"""Event packets from bags: ``event_camera_msgs/EventPacket`` and the legacy
``event_array_msgs/EventArray`` (same fields), deserialised without ROS."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from neuro_nodes.bag.reader import read_messages

EVENT_PACKET = "event_camera_msgs/msg/EventPacket"
LEGACY_EVENT_ARRAY = "event_array_msgs/msg/EventArray"
EVENT_TYPES = (EVENT_PACKET, LEGACY_EVENT_ARRAY)

# Upstream definition (event_camera_msgs); the legacy type has the same fields.
EVENT_PACKET_DEFINITION = """std_msgs/Header header
uint32 height
uint32 width
uint64 seq
uint64 time_base
string encoding
bool is_bigendian
uint8[] events
"""


@dataclasses.dataclass(frozen=True)
class Packet:
    topic: str
    log_time_ns: int
    stamp_ns: int
    encoding: str
    width: int
    height: int
    seq: int
    time_base: int
    events: np.ndarray  # uint8 payload


@lru_cache(maxsize=1)
def typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    for name in EVENT_TYPES:
        store.register(get_types_from_msg(EVENT_PACKET_DEFINITION, name))
    return store


def decode_packet(topic: str, log_time_ns: int, data: bytes) -> Packet:
    msg = typestore().deserialize_cdr(data, EVENT_PACKET)
    stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return Packet(topic, log_time_ns, stamp, msg.encoding, int(msg.width), int(msg.height),
                  int(msg.seq), int(msg.time_base), msg.events)


def event_topics(folder: str | Path) -> list[str]:
    from neuro_nodes.bag.reader import list_topics

    return [t.name for t in list_topics(folder) if t.msgtype in EVENT_TYPES]


def read_event_packets(folder: str | Path, topics: list[str] | None = None) -> Iterator[Packet]:
    """Event packets of the given (default: all) event topics, in recording order."""
    for raw in read_messages(folder, topics):
        if raw.msgtype in EVENT_TYPES or (topics and raw.topic in topics and not raw.msgtype):
            yield decode_packet(raw.topic, raw.log_time_ns, raw.data)
