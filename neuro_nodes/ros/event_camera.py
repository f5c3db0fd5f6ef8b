"""event_camera: publishes ``event_camera_msgs/EventPacket`` (+ ``CameraInfo``).

``source`` selects where events come from:

- ``file``: a rosbag2 recording (its event topic is forwarded unchanged, any encoding),
  or an event file (RAW, DAT, AEDAT4, HDF5, CSV, ECD text; re-encoded as ``encoding``),
  replayed at real time, x ``rate`` or as fast as possible (``rate`` 0), optionally looping;
- ``sim``: the event emulator (``sim_preset``) watching a textured plane that moves with
  ``sim_velocity_x/y`` and rotates at ``sim_angular_velocity``, rendered at ``sim_fps``;
- ``hardware``: an iniVation camera through dv-processing or a Prophesee camera through
  the Metavision SDK (``camera_vendor``, ``serial``); a missing SDK or camera stops the node
  with a message naming what is missing.

Packets are cut like metavision_driver's (``event_message_time_threshold``,
``event_message_size_threshold``); ``header.stamp`` is host time at publication.
Trigger events travel in the payload (bags: as recorded; files: re-encoded with the events).
An event file's IMU (AEDAT4) is published on ``imu`` as ``sensor_msgs/Imu`` in REP-145
units: angular velocity in rad/s (the file's deg/s x pi/180), linear acceleration in m/s^2
(the file's g x 9.80665), no orientation (``orientation_covariance[0] = -1``), stamped with
host time at publication like the packets (both paced by the same sensor clock). The size of
a file's sensor follows :mod:`neuro_nodes.events.geometry` (``width``/``height`` set it).
With ``loop`` false the end of the stream is reported on /diagnostics (``end_of_stream``) and
the node exits (exit 0) once subscribers have what was sent, unless ``at_end`` is ``idle``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from event_camera_msgs.msg import EventPacket
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Imu

from neuro_nodes.core.params import param
from neuro_nodes.events import packet_sources as sources
from neuro_nodes.events.emulator import PRESETS
from neuro_nodes.events.geometry import EVT_MAX_SIDE, user_size
from neuro_nodes.events.replay import ReplayClock
from neuro_nodes.events.sources import is_bag
from neuro_nodes.events.texture_scene import TextureSceneParams
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes
from neuro_nodes.ros.qos import EVENTS_PUB_OVERRIDES, EVENTS_PUB_QOS, LATCHED_QOS


@dataclasses.dataclass(frozen=True)
class EventCameraParams:
    source: str = param("file", "Where events come from", choices=("file", "sim", "hardware"),
                        read_only=True)
    path: str = param("", "source=file: rosbag2 folder or event file", read_only=True)
    bag_topic: str = param("", "source=file, bag: event topic; empty: the only one",
                           read_only=True)
    rate: float = param(1.0, "Replay speed (1 = real time, 0 = as fast as possible)",
                        min=0.0, max=1000.0)
    loop: bool = param(False, "source=file: start again at the end")
    frame_id: str = param("camera_optical_frame", "header.frame_id of packets and camera info")
    encoding: str = param("evt3", "Payload encoding when events are (re-)encoded",
                          choices=("evt3", "evt2"), read_only=True)
    event_message_time_threshold: float = param(
        1e-3, "Longest time span of one packet (s)", min=1e-5, max=1.0, read_only=True)
    event_message_size_threshold: int = param(
        1 << 20, "Largest payload of one packet (bytes)", min=64, max=1 << 26, read_only=True)
    camera_vendor: str = param("inivation", "source=hardware: camera SDK",
                               choices=("inivation", "prophesee"), read_only=True)
    serial: str = param("", "source=hardware: camera serial; empty: the first found",
                        read_only=True)
    sim_preset: str = param("clean", "source=sim: emulator noise preset",
                            choices=tuple(PRESETS), read_only=True)
    sim_fps: float = param(1000.0, "source=sim: frames rendered per second of sensor time",
                           min=10.0, max=100_000.0, read_only=True)
    sim_width: int = param(346, "source=sim: sensor width (px)", min=16, max=4096,
                           read_only=True)
    sim_height: int = param(260, "source=sim: sensor height (px)", min=16, max=4096,
                            read_only=True)
    sim_velocity_x: float = param(120.0, "source=sim: texture velocity x (px/s)",
                                  min=-1e4, max=1e4, read_only=True)
    sim_velocity_y: float = param(40.0, "source=sim: texture velocity y (px/s)",
                                  min=-1e4, max=1e4, read_only=True)
    sim_angular_velocity: float = param(0.0, "source=sim: texture rotation (rad/s)",
                                        min=-50.0, max=50.0, read_only=True)
    seed: int = param(0, "source=sim: texture and noise seed", min=0, read_only=True)
    wait_for_subscribers: int = param(
        0, "Start streaming once this many subscribers matched (events, and imu for files "
        "with an IMU; offline processing)", min=0, max=100, read_only=True)
    width: int = param(0, "source=file, event file: sensor width (px); 0: the file's, else "
                       "the camera its header names, else the events' extent", min=0,
                       max=EVT_MAX_SIDE, read_only=True)
    height: int = param(0, "source=file, event file: sensor height (px), with width", min=0,
                        max=EVT_MAX_SIDE, read_only=True)
    imu_frame_id: str = param("imu_link", "header.frame_id of the IMU samples of a file")
    at_end: str = param("exit", "source=file, loop false, at the end of the stream (reported "
                        "on /diagnostics): 'exit' (exit 0 once subscribers have it all) or "
                        "'idle' (stay up)", choices=("exit", "idle"), read_only=True)

    def validate(self) -> None:
        if self.source == "file" and not self.path:
            raise ValueError("parameter 'path' is empty: give the recording to replay")
        if bool(self.width) != bool(self.height):
            raise ValueError("parameters 'width' and 'height': give both, or neither (0)")


class EventCameraNode(NeuroNode[EventCameraParams]):
    params_type = EventCameraParams
    node_name = "event_camera"
    ports = (
        publishes("events", "event_camera_msgs/msg/EventPacket",
                  "event packets (bags: payload as recorded; otherwise `encoding`)",
                  "reliable, depth 1000 (best effort: -p qos_overrides./<ns>/events."
                  "publisher.reliability:=best_effort)"),
        publishes("camera_info", "sensor_msgs/msg/CameraInfo", "sensor size", "latched"),
        publishes("imu", "sensor_msgs/msg/Imu",
                  "event files with an IMU (AEDAT4): rad/s, m/s^2, no orientation",
                  "reliable, depth 1000"),
    )

    def __init__(self, **node_kwargs) -> None:
        super().__init__(self.node_name, **node_kwargs)
        self._has_imu = False
        self._make_packets = self._packet_factory()
        self._pub = self.create_publisher(EventPacket, "events", EVENTS_PUB_QOS,
                                          qos_overriding_options=EVENTS_PUB_OVERRIDES)
        self._info_pub = self.create_publisher(CameraInfo, "camera_info", LATCHED_QOS)
        self._imu_pub = self.create_publisher(Imu, "imu", IMU_QOS)
        self._imu_stamp_ns = 0
        self.finished = False  # run_node stops spinning once set (end of stream, at_end exit)
        self._info_size: tuple[int, int] | None = None
        self._replay_clock = ReplayClock(self._pace_rate())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _packet_factory(self):
        p = self.params
        packing = sources.Packetizing(p.encoding, p.event_message_time_threshold,
                                      p.event_message_size_threshold)
        if p.source == "hardware":
            from neuro_nodes.events.hardware import check_available

            check_available(p.camera_vendor)
            return lambda: sources.hardware_packets(p.camera_vendor, p.serial, packing)
        if p.source == "sim":
            scene = TextureSceneParams(p.sim_width, p.sim_height, p.sim_velocity_x,
                                       p.sim_velocity_y, p.sim_angular_velocity, seed=p.seed)
            emulator = dataclasses.replace(PRESETS[p.sim_preset], seed=p.seed)
            self.get_logger().info(f"emulating a {p.sim_width}x{p.sim_height} camera "
                                   f"({p.sim_preset}) at rate {p.rate}")
            return lambda: sources.sim_packets(scene, emulator, packing, p.sim_fps)
        path = Path(p.path)
        if is_bag(path):
            from neuro_nodes.events.sources import open_sources

            topic = open_sources(path, p.bag_topic or None)
            if len(topic) != 1:
                raise ValueError(f"{path}: {len(topic)} event topics "
                                 f"{[s.name for s in topic]}; choose one with bag_topic")
            name = topic[0].name
            self.get_logger().info(f"replaying {name} of {path} (rate {p.rate}, loop {p.loop})")
            return lambda: sources.bag_packets(path, name)
        from neuro_nodes.events.files import open_events

        size = user_size(p.width, p.height)
        reader = open_events(path, size)  # fail now, with the reason, if it cannot be read
        self._has_imu = reader.has_imu
        for text in reader.header_warnings:
            self.get_logger().warning(text)
        self.get_logger().info(f"replaying {path} as {p.encoding} (rate {p.rate}, loop {p.loop})")
        return lambda: sources.file_packets(path, packing, size, warn=self._size_warning)

    def _size_warning(self, text: str) -> None:
        self.get_logger().warning(text)
        self.health.count("size_grown")

    def _pace_rate(self) -> float:
        return 0.0 if self.params.source == "hardware" else self.params.rate

    def on_params_changed(self, old: EventCameraParams, new: EventCameraParams) -> None:
        if new.rate != old.rate:
            self._replay_clock = ReplayClock(self._pace_rate())

    def _run(self) -> None:
        pubs = [self._pub, self._imu_pub] if self._has_imu else [self._pub]
        while min(p.get_subscription_count() for p in pubs) < self.params.wait_for_subscribers:
            if self._stop.wait(0.05):
                return
        try:
            while not self._stop.is_set():
                for packet in self._make_packets():
                    if self._stop.wait(self._replay_clock.delay(packet.t_ns, time.monotonic())):
                        return
                    if isinstance(packet, sources.OutImu):
                        self._publish_imu(packet.samples)
                    else:
                        self._publish(packet)
                self._replay_clock.restart()
                if not (self.params.loop and self.params.source == "file"):
                    self._end_of_stream()
                    return
        except Exception as err:  # a corrupt file midway, an unplugged camera: report, stay up
            self.health.error("source_failed", str(err))
            self.get_logger().error(f"event source stopped: {err}")

    def _end_of_stream(self) -> None:
        """Say so on /diagnostics; with at_end exit, stop once subscribers have it all."""
        self.get_logger().info("end of stream")
        self.health.count("end_of_stream")
        self.conditions["stream"] = "end of stream (loop false)"
        if self.params.at_end == "exit":
            for pub in (self._pub, self._imu_pub):  # reliable subscribers get everything
                pub.wait_for_all_acked(Duration(seconds=5.0))
        self._diagnostics.publish()
        if self.params.at_end == "exit":
            # (the base class's diagnostics publisher: reliable, so this waits for delivery)
            self._diagnostics._pub.wait_for_all_acked(Duration(seconds=5.0))
            self.finished = True

    def _publish_imu(self, samples) -> None:
        # a batch goes out when its last sample is due: earlier ones are stamped back by
        # their sensor-time distance (at the replay rate), so stamps stay distinct and spaced
        # (never before the previous sample's stamp: a late batch must not reorder them)
        now_ns, rate = self.get_clock().now().nanoseconds, self.params.rate
        for k in range(len(samples)):
            msg = Imu()
            back_ns = (int(samples.t[-1]) - int(samples.t[k])) / rate if rate > 0 else 0
            self._imu_stamp_ns = max(now_ns - int(back_ns), self._imu_stamp_ns + 1)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(self._imu_stamp_ns, 10**9)
            msg.header.frame_id = self.params.imu_frame_id
            msg.orientation_covariance[0] = -1.0  # no orientation estimate (sensor_msgs/Imu)
            g, a = samples.gyro[k], samples.accel[k]
            msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = map(float, g)
            msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (
                map(float, a))
            self._imu_pub.publish(msg)
        self.health.count("imu", len(samples))

    def _publish(self, packet: sources.OutPacket) -> None:
        msg = EventPacket(encoding=packet.encoding, width=packet.width, height=packet.height,
                          time_base=packet.time_base, seq=self.health.counts["packets"],
                          events=packet.payload)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params.frame_id
        self._pub.publish(msg)
        self.health.count("packets")
        self.health.count("bytes", len(packet.payload))
        if self._info_size != (packet.width, packet.height):
            self._info_size = (packet.width, packet.height)
            info = CameraInfo(width=packet.width, height=packet.height)
            info.header = msg.header
            self._info_pub.publish(info)

    def destroy_node(self) -> None:
        if hasattr(self, "_thread"):  # absent when construction failed
            self._stop.set()
            self._thread.join(timeout=2.0)
        super().destroy_node()


NODE_CLASS = EventCameraNode
# IMU samples: reliable (recordable without loss; best-effort subscribers match too)
IMU_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def main(args=None) -> int:
    return run_node(EventCameraNode, args, done=lambda node: node.finished)


if __name__ == "__main__":
    raise SystemExit(main())
