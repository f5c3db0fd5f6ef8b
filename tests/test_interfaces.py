"""Interface packages: built, importable, wire-compatible with upstream."""

from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from neuro_nodes.bag.event_packets import EVENT_PACKET_DEFINITION as UPSTREAM_EVENT_PACKET
from neuro_nodes.ros.interfaces import (
    PROJECT_INTERFACES,
    UPSTREAM_TYPE_HASHES,
    import_interface,
    installed_type_hash,
)


def independent_hash(type_name: str) -> str:
    """RIHS01 computed by rosbags from upstream definitions, not from our build."""
    store = get_typestore(Stores.ROS2_KILTED)
    if type_name == "event_camera_msgs/msg/EventPacket":
        store.register(get_types_from_msg(UPSTREAM_EVENT_PACKET, type_name))
    return store.hash_rihs01(type_name)


@pytest.mark.parametrize("type_name", sorted(UPSTREAM_TYPE_HASHES))
def test_compat_type_hash_equals_upstream(type_name: str) -> None:
    installed, _prefix = installed_type_hash(type_name)
    assert installed == independent_hash(type_name)
    assert installed == UPSTREAM_TYPE_HASHES[type_name]


@pytest.mark.parametrize("type_name", PROJECT_INTERFACES)
def test_project_interfaces_import_and_serialize(type_name: str) -> None:
    from rclpy.serialization import deserialize_message, serialize_message

    cls = import_interface(type_name)
    if "/srv/" in type_name:
        for part in (cls.Request, cls.Response):
            assert deserialize_message(serialize_message(part()), part) == part()
    else:
        assert deserialize_message(serialize_message(cls()), cls) == cls()


def test_event_packet_roundtrip_keeps_payload() -> None:
    from event_camera_msgs.msg import EventPacket
    from rclpy.serialization import deserialize_message, serialize_message

    msg = EventPacket(width=640, height=480, seq=7, time_base=123, encoding="evt3",
                      events=bytes(range(256)) * 3)
    back = deserialize_message(serialize_message(msg), EventPacket)
    assert bytes(back.events) == bytes(range(256)) * 3
    assert (back.width, back.height, back.seq, back.encoding) == (640, 480, 7, "evt3")


def test_compat_packages_come_from_this_workspace_only_when_missing(repo_root: Path) -> None:
    # On this pip-only machine no wheel provides them, so the workspace copies are used.
    for type_name in UPSTREAM_TYPE_HASHES:
        _hash, prefix = installed_type_hash(type_name)
        assert prefix == repo_root / "ros_ws" / "install"
