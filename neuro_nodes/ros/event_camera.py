"""event_camera: publishes ``event_camera_msgs/EventPacket`` from a recording.

``source:=file`` replays the event topic of a rosbag2 recording (mcap or
sqlite3, EventPacket or the legacy ``event_array_msgs/EventArray``) at real
time, x ``rate`` or as fast as possible, optionally looping. The payload is
forwarded unchanged (any encoding), so downstream sees what the camera sent;
``header.stamp`` is set to host time at publication, as a driver does.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from event_camera_msgs.msg import EventPacket
from rclpy.serialization import deserialize_message

from neuro_nodes.bag.reader import BagError, list_topics, read_messages
from neuro_nodes.core.params import param
from neuro_nodes.events.replay import ReplayClock
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes
from neuro_nodes.ros.qos import EVENTS_QOS

EVENT_TYPES = ("event_camera_msgs/msg/EventPacket", "event_array_msgs/msg/EventArray")


@dataclasses.dataclass(frozen=True)
class EventCameraParams:
    source: str = param("file", "Where events come from (file: a rosbag2 recording)",
                        choices=("file",), read_only=True)
    path: str = param("", "Recording to replay (rosbag2 folder)", read_only=True)
    bag_topic: str = param("", "Event topic inside the recording; empty: the only one",
                           read_only=True)
    rate: float = param(1.0, "Replay speed (1 = real time, 0 = as fast as possible)",
                        min=0.0, max=1000.0)
    loop: bool = param(False, "Start again at the end of the recording")
    frame_id: str = param("camera_optical_frame", "header.frame_id of published packets")


class EventCameraNode(NeuroNode[EventCameraParams]):
    params_type = EventCameraParams
    node_name = "event_camera"
    ports = (
        publishes("events", "event_camera_msgs/msg/EventPacket",
                  "event packets, payload as recorded (evt3, evt2, libcaer, mono)",
                  "best effort, depth 1000"),
    )

    def __init__(self, **node_kwargs) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self._topic = self._pick_topic()
        self._pub = self.create_publisher(EventPacket, "events", EVENTS_QOS)
        self._replay_clock = ReplayClock(self.params.rate)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._replay, daemon=True)
        self._thread.start()
        self.get_logger().info(f"replaying {self._topic} of {self.params.path} "
                               f"(rate {self.params.rate}, loop {self.params.loop})")

    def _pick_topic(self) -> str:
        if not self.params.path:
            raise ValueError("parameter 'path' is empty: give the recording to replay")
        try:
            topics = [t for t in list_topics(self.params.path) if t.msgtype in EVENT_TYPES]
        except BagError as err:
            raise FileNotFoundError(str(err)) from err
        wanted = self.params.bag_topic
        names = [t.name for t in topics]
        if wanted:
            if wanted not in names:
                raise ValueError(f"{self.params.path}: no event topic '{wanted}' (has {names})")
            return wanted
        if len(names) != 1:
            raise ValueError(f"{self.params.path}: {len(names)} event topics {names}; "
                             "choose one with bag_topic")
        return names[0]

    def on_params_changed(self, old: EventCameraParams, new: EventCameraParams) -> None:
        if new.rate != old.rate:
            self._replay_clock = ReplayClock(new.rate)

    def _replay(self) -> None:
        while not self._stop.is_set():
            for raw in read_messages(self.params.path, [self._topic]):
                wait = self._replay_clock.delay(raw.log_time_ns, time.monotonic())
                if self._stop.wait(wait):
                    return
                self._publish(raw.data)
            self._replay_clock.restart()
            if not self.params.loop:
                self.get_logger().info("end of recording")
                return

    def _publish(self, data: bytes) -> None:
        try:
            msg = deserialize_message(data, EventPacket)
        except Exception as err:  # corrupt CDR in the recording: count and go on
            self.health.error("corrupt_message", str(err))
            return
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params.frame_id
        self._pub.publish(msg)
        self.health.count("packets")
        self.health.count("bytes", len(msg.events))

    def destroy_node(self) -> None:
        if hasattr(self, "_thread"):  # absent when construction failed
            self._stop.set()
            self._thread.join(timeout=2.0)
        super().destroy_node()


NODE_CLASS = EventCameraNode


def main(args=None) -> int:
    return run_node(EventCameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
