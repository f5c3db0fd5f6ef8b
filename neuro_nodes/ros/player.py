"""player: publishes a rosbag2's messages with their recorded timing (``neuro bag play``).

Serialized bytes are published as recorded (no deserialisation), at ``rate`` x the
recorded pace, optionally looping, from ``start_offset`` seconds in, for chosen topics,
renamed by ``remap`` (``from:=to``). ``clock_hz`` > 0 publishes ``/clock`` with the bag's
time so nodes with ``use_sim_time`` follow it. QoS: as recorded (reliable/latched only if
every recorded publisher was), or per topic from ``qos_overrides`` (a YAML file
``{topic: {reliability, durability, depth, history}}``). The legacy
``event_array_msgs/msg/EventArray`` (not installed here, same wire layout) is published as
``event_camera_msgs/msg/EventPacket``. Services ``~/pause``, ``~/resume``,
``~/toggle_paused`` and ``~/play_next`` (std_srvs/Trigger) control playback.

Starting: the publishers are created first; then, with ``wait_for_subscribers`` N > 0, the
first message waits until every played topic's publisher has matched at least N
subscriptions (DDS matching, what ``Publisher.get_subscription_count()`` counts; a
subscriber that matched has been discovered both ways, so it gets the first message), for
at most ``wait_timeout`` s (then the player fails: exit 1, naming the topics); then it
sleeps ``delay`` s (before every loop, like rosbag2's ``--delay``). Reliable topics are
flow-controlled: after every half history depth of messages the player waits (at most
1 s) until all subscribers acknowledged them, so that ``rate`` 0 does not overwrite what a
reliable subscriber has not taken yet. At the end it waits up to ``wait_for_all_acked``
ms for every reliable subscriber to acknowledge everything (rosbag2's
``--wait-for-all-acked``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from rclpy.duration import Duration
from rclpy.qos import ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger

from neuro_nodes.bag.reader import (
    BagError,
    list_topics,
    read_messages,
    recorded_duration_s,
    recorded_qos,
)
from neuro_nodes.core.params import param
from neuro_nodes.events.replay import ReplayClock
from neuro_nodes.ros.interfaces import import_interface
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, service
from neuro_nodes.ros.qos import RELIABLE_QOS
from neuro_nodes.ros.qos_yaml import profile_from_override, profile_from_yaml

# recorded type -> installed type with the same wire layout
LEGACY_TYPES = {"event_array_msgs/msg/EventArray": "event_camera_msgs/msg/EventPacket"}


@dataclasses.dataclass(frozen=True)
class PlayerParams:
    path: str = param("", "Bag folder to play", read_only=True)
    rate: float = param(1.0, "Playback speed (1 = as recorded, 0 = as fast as possible)",
                        min=0.0, max=1000.0)
    loop: bool = param(False, "Start again at the end")
    start_offset: float = param(0.0, "Skip this many seconds from the start", min=0.0,
                                read_only=True)
    topics: tuple[str, ...] = param(("",), "Only these topics ('' entries ignored; none: all)",
                                    read_only=True)
    remap: tuple[str, ...] = param(("",), "Topic renames 'from:=to'", read_only=True)
    clock_hz: float = param(0.0, "Publish /clock at this rate from bag time (0 = off)",
                            min=0.0, max=10_000.0, read_only=True)
    qos_overrides: str = param("", "YAML file of per-topic QoS overrides", read_only=True)
    start_paused: bool = param(False, "Start paused", read_only=True)
    delay: float = param(0.0, "Sleep this many seconds before playing (each loop)", min=0.0,
                         max=3600.0, read_only=True)
    wait_for_subscribers: int = param(0, "Before playing, wait until every played topic has "
                                      "this many matched subscriptions (0 = don't wait)",
                                      min=0, max=1000, read_only=True)
    wait_timeout: float = param(30.0, "Give up waiting for subscribers after this many "
                                "seconds (0 = wait forever)", min=0.0, read_only=True)
    wait_for_all_acked: int = param(5000, "At the end, wait up to this many ms until "
                                    "reliable subscribers acknowledged every message",
                                    min=0, max=3_600_000, read_only=True)

    def validate(self) -> None:
        if not self.path:
            raise ValueError("parameter 'path' is empty: give the bag folder to play")
        for item in self.remap:
            if item and ":=" not in item:
                raise ValueError(f"remap: expected 'from:=to', got '{item}'")


_ACK_BATCH_TIMEOUT = Duration(seconds=1)  # a stalled reliable subscriber slows, not stops, play


class PlayerNode(NeuroNode[PlayerParams]):
    params_type = PlayerParams
    node_name = "player"
    ports = (
        publishes("<recorded topics>", "<recorded types>", "the bag's messages, remapped"),
        publishes("/clock", "rosgraph_msgs/msg/Clock", "bag time, when clock_hz > 0"),
        service("~/pause", "std_srvs/srv/Trigger", "pause playback"),
        service("~/resume", "std_srvs/srv/Trigger", "resume playback"),
        service("~/toggle_paused", "std_srvs/srv/Trigger", "pause or resume"),
        service("~/play_next", "std_srvs/srv/Trigger", "publish the next message (paused)"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        self.folder = Path(p.path)
        try:
            available = list_topics(self.folder)
        except BagError as err:
            raise FileNotFoundError(str(err)) from err
        wanted = {t for t in p.topics if t}
        duration = recorded_duration_s(self.folder)
        if duration is not None and p.start_offset > duration:
            raise ValueError(f"start_offset {p.start_offset:g} s is past the end of "
                             f"{self.folder} (its duration is {duration:.3f} s)")
        remaps = dict(item.split(":=", 1) for item in p.remap if item)
        overrides = yaml.safe_load(Path(p.qos_overrides).read_text()) if p.qos_overrides else {}
        qos_text = recorded_qos(self.folder)
        self._pubs: dict[str, Any] = {}
        for topic in available:
            if wanted and topic.name not in wanted:
                continue
            type_name = LEGACY_TYPES.get(topic.msgtype, topic.msgtype)
            try:
                msg_type = import_interface(type_name)
            except (ImportError, AttributeError, ValueError):
                self.health.error("type_not_installed", f"{topic.name}: {type_name}")
                self.get_logger().warning(f"skipping {topic.name}: type {type_name} is not "
                                          "installed here")
                continue
            qos = (profile_from_override(overrides[topic.name]) if topic.name in overrides
                   else profile_from_yaml(qos_text.get(topic.name, "")) or RELIABLE_QOS)
            self._pubs[topic.name] = self.create_publisher(
                msg_type, remaps.get(topic.name, topic.name), qos)
        if not self._pubs:
            raise ValueError(f"{self.folder}: no topic to play (topics {wanted or 'all'})")
        self._clock_pub = self.create_publisher(Clock, "/clock", 10) if p.clock_hz else None
        self._bag_time_ns = 0
        self._paused = threading.Event()
        if p.start_paused:
            self._paused.set()
        self._next = threading.Semaphore(0)
        self._replay_clock = ReplayClock(p.rate)
        self._stop = threading.Event()
        self.finished = threading.Event()
        self.failure = ""  # why playback failed (the command exits 1), '' when it did not
        for name, handler in (("~/pause", lambda: self._paused.set()),
                              ("~/resume", self._resume),
                              ("~/toggle_paused", lambda: self._resume() if
                               self._paused.is_set() else self._paused.set()),
                              ("~/play_next", lambda: self._next.release())):
            self.create_service(Trigger, name, self._trigger(handler))
        if self._clock_pub is not None:
            self.create_timer(1.0 / p.clock_hz, self._publish_clock)
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()
        self.get_logger().info(f"playing {len(self._pubs)} topics of {self.folder} "
                               f"at rate {p.rate}")

    def _trigger(self, handler):
        def serve(_req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
            handler()
            res.success, res.message = True, "paused" if self._paused.is_set() else "playing"
            return res
        return serve

    def _resume(self) -> None:
        self._replay_clock.restart()
        self._paused.clear()

    def on_params_changed(self, old: PlayerParams, new: PlayerParams) -> None:
        if new.rate != old.rate:
            self._replay_clock = ReplayClock(new.rate)

    def _publish_clock(self) -> None:
        if self._bag_time_ns:
            self._clock_pub.publish(Clock(clock=_stamp(self._bag_time_ns)))

    def _wait_for_subscribers(self) -> bool:
        """Block until every topic has ``wait_for_subscribers`` matches; False on timeout."""
        p = self.params
        deadline = time.monotonic() + p.wait_timeout if p.wait_timeout else None
        while True:
            short = {t: pub.get_subscription_count() for t, pub in self._pubs.items()
                     if pub.get_subscription_count() < p.wait_for_subscribers}
            if not short:
                return True
            if (deadline is not None and time.monotonic() >= deadline) or self._stop.wait(0.01):
                have = ", ".join(f"{t} has {n}" for t, n in sorted(short.items()))
                self.failure = (f"waited {p.wait_timeout:g} s for {p.wait_for_subscribers} "
                                f"subscriber(s) per topic: {have}")
                return False

    def _play(self) -> None:
        p = self.params
        if p.wait_for_subscribers and not self._wait_for_subscribers():
            self.get_logger().error(self.failure)
            self.finished.set()
            return
        reliable = {t: max(1, pub.qos_profile.depth // 2) for t, pub in self._pubs.items()
                    if pub.qos_profile.reliability == ReliabilityPolicy.RELIABLE}
        unacked = dict.fromkeys(reliable, 0)
        try:
            while not self._stop.is_set():
                if p.delay and self._stop.wait(p.delay):
                    break
                self._replay_clock.restart()
                first_ns = None
                for raw in read_messages(self.folder, list(self._pubs)):
                    first_ns = raw.log_time_ns if first_ns is None else first_ns
                    if raw.log_time_ns - first_ns < p.start_offset * 1e9:
                        continue
                    if not self._wait_turn(raw.log_time_ns):
                        return
                    pub = self._pubs[raw.topic]
                    pub.publish(raw.data)
                    self._bag_time_ns = raw.log_time_ns
                    self.health.count("messages")
                    if raw.topic in reliable:  # don't overwrite what is not acknowledged
                        unacked[raw.topic] += 1
                        if unacked[raw.topic] >= reliable[raw.topic]:
                            pub.wait_for_all_acked(_ACK_BATCH_TIMEOUT)
                            unacked[raw.topic] = 0
                if not p.loop:
                    break
        except BagError as err:  # truncated or corrupt: what was readable has been played
            self.health.error("bag_error", str(err))
            self.get_logger().error(str(err))
        for pub in self._pubs.values():  # reliable subscribers get everything before we go
            pub.wait_for_all_acked(Duration(nanoseconds=p.wait_for_all_acked * 1_000_000))
        self.finished.set()
        self.get_logger().info("end of bag")

    def _wait_turn(self, log_time_ns: int) -> bool:
        """Block until this message is due (or stepped while paused); False when stopping."""
        while self._paused.is_set():
            if self._next.acquire(timeout=0.05):
                return True
            if self._stop.is_set():
                return False
        return not self._stop.wait(self._replay_clock.delay(log_time_ns, time.monotonic()))

    def destroy_node(self) -> None:
        if hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join(timeout=5.0)
        super().destroy_node()


def _stamp(t_ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


NODE_CLASS = PlayerNode


def main(args=None) -> int:
    return run_node(PlayerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
