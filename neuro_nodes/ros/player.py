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
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from rclpy.duration import Duration
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger

from neuro_nodes.bag.reader import BagError, list_topics, read_messages
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

    def validate(self) -> None:
        if not self.path:
            raise ValueError("parameter 'path' is empty: give the bag folder to play")
        for item in self.remap:
            if item and ":=" not in item:
                raise ValueError(f"remap: expected 'from:=to', got '{item}'")


def recorded_qos(folder: Path) -> dict[str, str | list]:
    """topic -> offered_qos_profiles from metadata.yaml: YAML text (up to version 8), a list
    (version 9), or '' if none."""
    info = yaml.safe_load((folder / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    return {t["topic_metadata"]["name"]: t["topic_metadata"].get("offered_qos_profiles") or ""
            for t in info.get("topics_with_message_count") or []}


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

    def _play(self) -> None:
        try:
            while not self._stop.is_set():
                first_ns = None
                for raw in read_messages(self.folder, list(self._pubs)):
                    first_ns = raw.log_time_ns if first_ns is None else first_ns
                    if raw.log_time_ns - first_ns < self.params.start_offset * 1e9:
                        continue
                    if not self._wait_turn(raw.log_time_ns):
                        return
                    self._pubs[raw.topic].publish(raw.data)
                    self._bag_time_ns = raw.log_time_ns
                    self.health.count("messages")
                self._replay_clock.restart()
                if not self.params.loop:
                    break
        except BagError as err:  # truncated or corrupt: what was readable has been played
            self.health.error("bag_error", str(err))
            self.get_logger().error(str(err))
        for pub in self._pubs.values():  # reliable subscribers get everything before we go
            pub.wait_for_all_acked(Duration(seconds=5))
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
