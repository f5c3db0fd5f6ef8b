"""recorder: writes topics to a rosbag2 (mcap by default), serialized bytes untouched.

Subscribes with ``raw=True`` (no deserialisation on the hot path) to the topics chosen
by name, regular expression or all, minus the excluded ones, as they appear; QoS follows
the publishers (best effort if any publisher is, like ``ros2 bag record``), with a deep
queue. Offered QoS profiles and full message definitions go into the bag. A topic whose
type is not installed here cannot be subscribed to by rclpy: it is reported, not recorded.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from datetime import datetime
from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

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
    discovery_period: float = param(0.2, "How often to look for new topics (s)", min=0.01,
                                    max=60.0, read_only=True)

    def validate(self) -> None:
        for name in ("regex", "exclude"):
            try:
                re.compile(getattr(self, name))
            except re.error as err:
                raise ValueError(f"{name}: not a regular expression ({err})") from err
        if not (self.all_topics or self.regex or any(self.topics)):
            raise ValueError("nothing to record: give topics, regex or all_topics")


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
        self._wanted = {t for t in p.topics if t}
        self._regex = re.compile(p.regex) if p.regex else None
        self._exclude = re.compile(p.exclude) if p.exclude else None
        self._subs: dict[str, Any] = {}
        self._skipped: set[str] = set()
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
            if topic in self._subs or topic in self._skipped or not self._selected(topic):
                continue
            type_name = types[0]
            try:
                msg_type = import_interface(type_name)
            except (ImportError, AttributeError, ValueError):
                self._skipped.add(topic)
                self.health.error("type_not_installed", f"{topic}: {type_name}")
                self.get_logger().warning(f"not recording {topic}: type {type_name} is not "
                                          "installed here")
                continue
            offers = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
            handle = self._writer.add_topic(topic, type_name, message_definition(type_name),
                                            offered_qos_profiles=profiles_to_yaml(offers))
            self._subs[topic] = self.create_subscription(
                msg_type, topic, lambda data, h=handle, t=topic: self._on_message(h, t, data),
                self._subscription_qos(offers), raw=True)
            self.get_logger().info(f"recording {topic} ({type_name})")

    def _subscription_qos(self, offers: list[QoSProfile]) -> QoSProfile:
        best_effort = any(q.reliability == ReliabilityPolicy.BEST_EFFORT for q in offers)
        latched = bool(offers) and all(
            q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offers)
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=self.params.queue_depth,
            reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
            else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
            else DurabilityPolicy.VOLATILE)

    def _on_message(self, handle: Any, topic: str, data: bytes) -> None:
        started = time.perf_counter()
        self._writer.write(handle, self.get_clock().now().nanoseconds, data)
        self.counts[topic] += 1
        self.health.count("messages")
        self.health.count("bytes", len(data))
        self.stamp_latency(started)

    def destroy_node(self) -> None:
        if hasattr(self, "_writer"):
            for sub in self._subs.values():
                self.destroy_subscription(sub)
            self._writer.close()
            width = max((len(t) for t in self.counts), default=5)
            lines = [f"  {t:<{width}}  {n:>9,}" for t, n in sorted(self.counts.items())]
            print(f"recorded {sum(self.counts.values()):,} messages on {len(self.counts)} "
                  f"topics to {self.output}\n" + "\n".join(lines), flush=True)
        super().destroy_node()


NODE_CLASS = RecorderNode


def main(args=None) -> int:
    return run_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
