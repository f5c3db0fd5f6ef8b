"""recorder: writes topics to a rosbag2 (mcap by default), serialized bytes untouched.

Subscribes with ``raw=True`` (no deserialisation on the hot path) to the topics chosen
by name, regular expression or all, minus the excluded ones, as they appear (the graph
is polled every ``discovery_period``). Like ``ros2 bag record``, a topic is subscribed to
only once a publisher of it is known, with QoS adapted to the publishers' offers (best
effort if any publisher is, transient local only if all are) and a deep queue; when a
publisher appears whose offer the subscription cannot match (a best-effort one for a
reliable subscription, a volatile one for a latched one), it subscribes again. Offered
QoS profiles and full message definitions go into the bag. A topic whose type is not
installed here cannot be subscribed to by rclpy: it is reported, not recorded. At the
end, every selected topic that recorded nothing is reported as a warning with why.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.exceptions import InvalidTopicNameException
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.validate_topic_name import validate_topic_name

from neuro_nodes.bag.writer import BagWriter, message_definition
from neuro_nodes.core.params import param
from neuro_nodes.ros.interfaces import import_interface
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.qos_yaml import profiles_to_yaml

ALWAYS_EXCLUDED = ("/parameter_events", "/rosout")


@dataclasses.dataclass(frozen=True)
class RecorderParams:
    topics: tuple[str, ...] = param(("",), "Topics to record by name ('' entries ignored)",
                                    read_only=True)
    all_topics: bool = param(False, "Record every topic", read_only=True)
    regex: str = param("", "Also record topics matching this regular expression",
                       read_only=True)
    exclude: str = param("", "Never record topics matching this regular expression",
                         read_only=True)
    output: str = param("", "Bag folder to create (default rosbag2_<date>_<time>)",
                        read_only=True)
    storage: str = param("mcap", "Storage format", choices=("mcap", "sqlite3"), read_only=True)
    compression: str = param("none", "Chunk compression (mcap)", choices=("none", "zstd"),
                             read_only=True)
    max_bag_size: int = param(0, "Split into a new file after this many bytes (0 = never)",
                              min=0, read_only=True)
    max_bag_duration: float = param(0.0, "Split after this many seconds (0 = never)",
                                    min=0.0, read_only=True)
    queue_depth: int = param(2000, "Subscription queue depth", min=1, max=100_000,
                             read_only=True)
    discovery_period: float = param(0.05, "How often to look for new topics and publishers (s)",
                                    min=0.01, max=60.0, read_only=True)

    def validate(self) -> None:
        for topic in self.topics:
            if topic:
                check_topic_name(topic)
        for name in ("regex", "exclude"):
            try:
                re.compile(getattr(self, name))
            except re.error as err:
                raise ValueError(f"{name}: not a regular expression ({err})") from err
        if not (self.all_topics or self.regex or any(self.topics)):
            raise ValueError("nothing to record: give topics, regex or all_topics")


def check_topic_name(topic: str) -> None:
    """Raise ValueError with the reason when ``topic`` is not a valid ROS topic name."""
    try:
        validate_topic_name(topic)
    except InvalidTopicNameException as err:
        reason = str(err).splitlines()[0].removeprefix("Invalid topic name: ").rstrip(":")
        raise ValueError(f"topics: '{topic}' is not a valid topic name ({reason})") from None


def subscription_qos(offers: list[QoSProfile], depth: int) -> QoSProfile:
    """What rosbag2 subscribes with: best effort if any publisher is, latched if all are."""
    best_effort = any(q.reliability == ReliabilityPolicy.BEST_EFFORT for q in offers)
    latched = bool(offers) and all(
        q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def matches_all(current: QoSProfile, offers: list[QoSProfile]) -> bool:
    """Whether a subscription with ``current`` matches every offer (reliability, durability)."""
    return all(not (current.reliability == ReliabilityPolicy.RELIABLE
                    and q.reliability == ReliabilityPolicy.BEST_EFFORT)
               and not (current.durability == DurabilityPolicy.TRANSIENT_LOCAL
                        and q.durability == DurabilityPolicy.VOLATILE) for q in offers)


class RecorderNode(NeuroNode[RecorderParams]):
    params_type = RecorderParams
    node_name = "recorder"
    ports = ()

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        self.output = p.output or datetime.now().strftime("rosbag2_%Y_%m_%d-%H_%M_%S")
        self._writer = BagWriter(self.output, storage=p.storage,
                                 compression=None if p.compression == "none" else "zstd",
                                 max_bag_size=p.max_bag_size,
                                 max_bag_duration_s=p.max_bag_duration)
        self._wanted = {self.resolve_topic_name(t) for t in p.topics if t}
        self._regex = re.compile(p.regex) if p.regex else None
        self._exclude = re.compile(p.exclude) if p.exclude else None
        self._subs: dict[str, Any] = {}
        self._qos: dict[str, QoSProfile] = {}
        self._handles: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._seen: set[str] = set()
        self._skipped: set[str] = set()
        self._why_empty: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.create_timer(p.discovery_period, self._discover)
        self._discover()
        self.get_logger().info(f"recording to {self.output} ({p.storage})")

    def _selected(self, topic: str) -> bool:
        if topic in ALWAYS_EXCLUDED or (self._exclude and self._exclude.search(topic)):
            return False
        return (self.params.all_topics or topic in self._wanted
                or bool(self._regex and self._regex.search(topic)))

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self._skipped or not self._selected(topic):
                continue
            self._seen.add(topic)
            offers = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
            if not offers:  # subscribers only: the QoS to use is not known yet
                continue
            if topic in self._subs:
                if not matches_all(self._qos[topic], offers):
                    self._subscribe(topic, offers)  # a publisher it cannot match appeared
                continue
            type_name = types[0]
            try:
                self._types[topic] = import_interface(type_name)
            except (ImportError, AttributeError, ValueError):
                self._skipped.add(topic)
                self._why_empty[topic] = f"type {type_name} is not installed here"
                self.health.error("type_not_installed", f"{topic}: {type_name}")
                self.get_logger().warning(f"not recording {topic}: type {type_name} is not "
                                          "installed here")
                continue
            self._handles[topic] = self._writer.add_topic(
                topic, type_name, message_definition(type_name),
                offered_qos_profiles=profiles_to_yaml(offers))
            self._subscribe(topic, offers)
            self.get_logger().info(f"recording {topic} ({type_name})")

    def _subscribe(self, topic: str, offers: list[QoSProfile]) -> None:
        qos = subscription_qos(offers, self.params.queue_depth)
        if topic in self._subs:  # the old subscription goes first: no duplicates in the bag
            self.destroy_subscription(self._subs.pop(topic))
            self.get_logger().info(f"{topic}: subscribing again with "
                                   f"{qos.reliability.name.lower()}/"
                                   f"{qos.durability.name.lower()} for the new publishers")
        handle = self._handles[topic]
        events = SubscriptionEventCallbacks(
            incompatible_qos=lambda info, t=topic: self._on_incompatible(t, info))
        self._qos[topic] = qos
        self._subs[topic] = self.create_subscription(
            self._types[topic], topic,
            lambda data, h=handle, t=topic: self._on_message(h, t, data), qos, raw=True,
            event_callbacks=events)

    def _on_incompatible(self, topic: str, info: Any) -> None:
        policy = getattr(info.last_policy_kind, "name", str(info.last_policy_kind))
        self._why_empty[topic] = f"a publisher's QoS is incompatible ({policy})"
        self.health.error("incompatible_qos", f"{topic}: {policy}")

    def _on_message(self, handle: Any, topic: str, data: bytes) -> None:
        started = time.perf_counter()
        self._writer.write(handle, self.get_clock().now().nanoseconds, data)
        self.counts[topic] += 1
        self.health.count("messages")
        self.health.count("bytes", len(data))
        self.stamp_latency(started)

    def empty_topics(self) -> dict[str, str]:
        """Selected topics that recorded nothing -> why, as far as is known."""
        topics = (self._wanted | self._seen | set(self._handles)) - set(self.counts)
        out = {}
        for topic in topics:
            if topic in self._why_empty:
                out[topic] = self._why_empty[topic]
            elif topic in self._subs:
                out[topic] = "subscribed, but no message arrived"
            elif topic in self._seen:
                out[topic] = "no publisher appeared (only subscribers)"
            else:
                out[topic] = "the topic never appeared"
        return out

    def destroy_node(self) -> None:
        if hasattr(self, "_writer"):
            for sub in self._subs.values():
                self.destroy_subscription(sub)
            self._writer.close()
            width = max((len(t) for t in self.counts), default=5)
            lines = [f"  {t:<{width}}  {n:>9,}" for t, n in sorted(self.counts.items())]
            print(f"recorded {sum(self.counts.values()):,} messages on {len(self.counts)} "
                  f"topics to {self.output}\n" + "\n".join(lines), flush=True)
            for topic, reason in sorted(self.empty_topics().items()):
                print(f"warning: {topic}: 0 messages recorded ({reason})", file=sys.stderr,
                      flush=True)
        super().destroy_node()


NODE_CLASS = RecorderNode


def main(args=None) -> int:
    return run_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
