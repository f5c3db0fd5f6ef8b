"""Reading the real EventPacket recordings in ../shared/data without ROS.

Kept here (not in the package) on purpose: bag reading gets its own module; the codec tests
only need (encoding, width, height, time_base, payload) per message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# event_camera_msgs/msg/EventPacket; the legacy event_array_msgs/msg/EventArray is the same.
EVENT_PACKET_MSG = """std_msgs/Header header
uint32 height
uint32 width
uint64 seq
uint64 time_base
string encoding
bool is_bigendian
uint8[] events
"""
EVENT_TYPES = ("event_camera_msgs/msg/EventPacket", "event_array_msgs/msg/EventArray")

PacketTuple = tuple[str, int, int, int, bytes]  # encoding, width, height, time_base, payload


@lru_cache(maxsize=1)
def _typestore():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = {}
    for name in EVENT_TYPES:
        types.update(get_types_from_msg(EVENT_PACKET_MSG, name))
    store.register(types)
    return store


def _raw_messages(folder: Path) -> list[tuple[str, bytes]]:
    """(message type, CDR bytes) of every message, in log order.

    The mcap recording is read with the mcap library directly: its metadata.yaml has an empty
    storage_identifier and its embedded IDL schema uses @verbatim, and its type is the one
    we register anyway. sqlite3 bags go through rosbags (the mono bag, format version 4, has
    no embedded definitions; the registered ones serve).
    """
    mcaps = sorted(folder.glob("*.mcap"))
    if mcaps:
        from mcap.reader import make_reader

        out = []
        for path in mcaps:
            with path.open("rb") as f:
                for schema, _channel, message in make_reader(f).iter_messages(log_time_order=True):
                    out.append((schema.name, message.data))
        return out
    from rosbags.rosbag2 import Reader

    with Reader(folder) as reader:
        return [(conn.msgtype, raw) for conn, _t, raw in reader.messages()]


@lru_cache(maxsize=8)
def _packets(folder: str) -> tuple[PacketTuple, ...]:
    store = _typestore()
    out = []
    for msgtype, raw in _raw_messages(DATA_DIR / folder):
        msg = store.deserialize_cdr(raw, msgtype)
        out.append(
            (msg.encoding, int(msg.width), int(msg.height), int(msg.time_base),
             bytes(msg.events))
        )
    return tuple(out)


@pytest.fixture
def read_packets() -> Callable[[str], list[PacketTuple]]:
    """``read_packets(folder)`` -> [(encoding, width, height, time_base, payload), ...].

    ``folder`` is a recording under ../shared/data; the test is skipped if it is absent.
    """

    def read(folder: str) -> list[PacketTuple]:
        if not (DATA_DIR / folder).is_dir():
            pytest.skip(f"recording {folder} not found under {DATA_DIR} (shared data absent)")
        return list(_packets(folder))

    return read
