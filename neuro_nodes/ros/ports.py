"""What a node publishes, subscribes to and serves: documented once, checked by tests."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Port:
    kind: str        # "publishes" | "subscribes" | "service"
    name: str        # relative names resolve in the node's namespace
    type_name: str   # e.g. event_camera_msgs/msg/EventPacket
    description: str
    qos: str = ""


def publishes(name: str, type_name: str, description: str, qos: str = "") -> Port:
    return Port("publishes", name, type_name, description, qos)


def subscribes(name: str, type_name: str, description: str, qos: str = "") -> Port:
    return Port("subscribes", name, type_name, description, qos)


def service(name: str, type_name: str, description: str) -> Port:
    return Port("service", name, type_name, description)
