"""QoS profiles <-> rosbag2's ``offered_qos_profiles`` YAML text."""

from __future__ import annotations

from typing import Any

import yaml
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

_NEVER = {"sec": 9223372036, "nsec": 854775807}


def _policy_name(policy: Any) -> str:
    return policy.name.lower()


def profiles_to_yaml(profiles: list[QoSProfile]) -> str:
    """The text rosbag2 stores per topic: one entry per publisher."""
    entries = []
    for q in profiles:
        entries.append({
            "history": _policy_name(q.history), "depth": int(q.depth),
            "reliability": _policy_name(q.reliability),
            "durability": _policy_name(q.durability),
            "deadline": _NEVER, "lifespan": _NEVER,
            "liveliness": _policy_name(q.liveliness),
            "liveliness_lease_duration": _NEVER,
            "avoid_ros_namespace_conventions": False,
        })
    return yaml.safe_dump(entries, sort_keys=False) if entries else ""


def _enum(enum: Any, value: Any, default: Any) -> Any:
    if isinstance(value, int):  # rosbag2 of Humble stores numbers
        try:
            return enum(value)
        except ValueError:
            return default
    try:
        return enum[str(value).upper()]
    except KeyError:
        return default


def profile_from_yaml(text: str | list, default_depth: int = 1000) -> QoSProfile | None:
    """A profile to replay a topic with, from its recorded offers (None if there are none).

    Like ``ros2 bag play``: reliable and transient-local only if every recorded publisher
    offered it, so that subscribers of any kind still match.
    """
    if isinstance(text, list):  # bag version 9 metadata stores the list itself
        entries = text
    else:
        try:
            entries = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            return None
    if not entries or not isinstance(entries, list):
        return None
    reliable = all(_enum(ReliabilityPolicy, e.get("reliability"), ReliabilityPolicy.RELIABLE)
                   == ReliabilityPolicy.RELIABLE for e in entries)
    latched = all(_enum(DurabilityPolicy, e.get("durability"), DurabilityPolicy.VOLATILE)
                  == DurabilityPolicy.TRANSIENT_LOCAL for e in entries)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=default_depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        liveliness=LivelinessPolicy.AUTOMATIC)


def profile_from_override(spec: dict[str, Any], depth: int = 1000) -> QoSProfile:
    """``{reliability: best_effort, durability: volatile, depth: 10, history: keep_last}``."""
    return QoSProfile(
        history=_enum(HistoryPolicy, spec.get("history", "keep_last"), HistoryPolicy.KEEP_LAST),
        depth=int(spec.get("depth", depth)),
        reliability=_enum(ReliabilityPolicy, spec.get("reliability", "reliable"),
                          ReliabilityPolicy.RELIABLE),
        durability=_enum(DurabilityPolicy, spec.get("durability", "volatile"),
                         DurabilityPolicy.VOLATILE))
