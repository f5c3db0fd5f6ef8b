"""Full ROS 2 message definitions (``ros2msg`` text) and type hashes, without ROS.

rosbag2 stores, per topic type, the type's ``.msg`` text followed by the text of every type
it depends on (recursively), each introduced by a line of 80 ``=`` and ``MSG: pkg/Name``.
That is what MCAP readers (Foxglove, ``mcap_ros2``, rosbags) parse to decode messages
without the type installed. Each type's own text is looked up, in order, in:

1. rosbags' built-in type store for ROS 2 Kilted (standard interfaces);
2. installed ament packages: ``<prefix>/share/<pkg>/msg/<Name>.msg`` for every prefix of
   ``AMENT_PREFIX_PATH`` (the type hash comes from the ``.json`` next to it);
3. the event types this project registers (``event_camera_msgs/msg/EventPacket`` and the
   legacy ``event_array_msgs/msg/EventArray``).

A type found nowhere resolves to an empty definition (``TypeInfo.known`` is false): its
messages can still be stored raw.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from functools import lru_cache
from pathlib import Path

SEPARATOR = "=" * 80

_BUILTINS = frozenset({
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
    "int32", "uint32", "int64", "uint64", "string", "wstring",
})
_FIELD = re.compile(r"^\s*([A-Za-z_][\w/]*)(?:<=\d+)?(\[[^\]]*\])?\s+([A-Za-z_]\w*)\s*(=)?")


@dataclasses.dataclass(frozen=True)
class TypeInfo:
    """What is known of a message type: full definition text, encoding, RIHS01 hash."""

    name: str
    definition: str          # "" when unknown
    encoding: str            # "ros2msg", or "" when unknown
    type_hash: str           # "RIHS01_..." or ""
    source: str              # "typestore" | "ament" | "neuro_nodes" | ""

    @property
    def known(self) -> bool:
        return bool(self.definition)


def normalize_type(type_name: str) -> str:
    """``pkg/Name`` -> ``pkg/msg/Name``; ``pkg/msg/Name`` unchanged."""
    parts = type_name.strip().split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return type_name.strip()


def short_type(type_name: str) -> str:
    """``pkg/msg/Name`` -> ``pkg/Name`` (the form of the ``MSG:`` separator lines)."""
    parts = type_name.split("/")
    return f"{parts[0]}/{parts[-1]}" if len(parts) == 3 else type_name


def dependencies(text: str, type_name: str) -> list[str]:
    """Non-builtin field types of one ``.msg`` text, as ``pkg/msg/Name``, in field order."""
    package = type_name.split("/")[0]
    deps: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        match = _FIELD.match(line)
        if match is None or match.group(4):  # not a field, or a constant
            continue
        base = match.group(1)
        if base in _BUILTINS:
            continue
        if "/" in base:
            dep = normalize_type(base)
        elif base == "Header":
            dep = "std_msgs/msg/Header"
        else:
            dep = f"{package}/msg/{base}"
        if dep not in deps:
            deps.append(dep)
    return deps


@lru_cache(maxsize=1)
def _kilted_store():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _from_store(store, type_name: str) -> tuple[str, str] | None:
    if type_name not in store.fielddefs:
        return None
    try:
        text, _ = store.generate_msgdef(type_name, ros_version=2)
    except Exception:  # noqa: BLE001 - a type the generator cannot render is just unknown
        return None
    own = text.split("\n" + SEPARATOR + "\n", 1)[0]
    try:
        digest = store.hash_rihs01(type_name)
    except Exception:  # noqa: BLE001
        digest = ""
    return own if own.endswith("\n") else own + "\n", digest


def _ament_prefixes() -> list[Path]:
    return [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]


def _from_ament(type_name: str) -> tuple[str, str] | None:
    parts = type_name.split("/")
    if len(parts) != 3:
        return None
    pkg, kind, name = parts
    for prefix in _ament_prefixes():
        msg = prefix / "share" / pkg / kind / f"{name}.msg"
        if not msg.is_file():
            continue
        text = msg.read_text(encoding="utf-8")
        digest = ""
        try:
            hashes = json.loads(msg.with_suffix(".json").read_text())["type_hashes"]
            digest = next((h["hash_string"] for h in hashes if h["type_name"] == type_name), "")
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return text if text.endswith("\n") else text + "\n", digest
    return None


def _from_registered(type_name: str) -> tuple[str, str] | None:
    from neuro_nodes.bag.event_packets import typestore

    return _from_store(typestore(), type_name)


_SOURCES = (
    ("typestore", lambda t: _from_store(_kilted_store(), t)),
    ("ament", _from_ament),
    ("neuro_nodes", _from_registered),
)


@lru_cache(maxsize=512)
def _own(type_name: str) -> tuple[str, str, str] | None:
    """(own text, hash, source) of one type, or None."""
    for source, lookup in _SOURCES:
        found = lookup(type_name)
        if found is not None:
            return found[0], found[1], source
    return None


@lru_cache(maxsize=512)
def resolve_type(type_name: str) -> TypeInfo:
    """Full definition, hash and source of a message type (empty definition if unknown)."""
    type_name = normalize_type(type_name)
    root = _own(type_name)
    if root is None:
        return TypeInfo(type_name, "", "", "", "")
    text, digest, source = root
    parts = [text]
    seen = {type_name}
    stack = list(reversed(dependencies(text, type_name)))
    while stack:  # depth-first, dependencies in field order (as rosbags/rosbag2 do)
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        found = _own(dep)
        if found is None:  # an incomplete definition is worse than none
            return TypeInfo(type_name, "", "", digest, "")
        parts.append(f"{SEPARATOR}\nMSG: {short_type(dep)}\n{found[0]}")
        stack.extend(reversed(dependencies(found[0], dep)))
    return TypeInfo(type_name, "".join(parts), "ros2msg", digest, source)


def message_definition(type_name: str) -> str:
    """The full rosbag2-style ``ros2msg`` definition of a type ("" if unknown)."""
    return resolve_type(type_name).definition


def type_description_hash(type_name: str) -> str:
    """The RIHS01 type hash of a type ("" if unknown)."""
    return resolve_type(type_name).type_hash
