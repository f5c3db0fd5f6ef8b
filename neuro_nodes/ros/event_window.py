"""Node-side input of the motion estimators: ``/events`` -> :class:`EventWindow` s.

:class:`EventInput` subscribes ``events`` (best effort, matching any publisher),
``camera_info`` (both a latched and a sensor-data subscription, so it gets a latched
driver's sample and a streaming simulator's alike) and, with ``use_imu``, ``imu``. Packets
are queued as they arrive and decoded in one ``decode_many`` call per :meth:`poll` (one
decoder per stream, as the codecs require);
:class:`~neuro_nodes.perception.windows.WindowCutter` cuts the events into windows of
``window_events`` events (the windows of
:func:`~neuro_nodes.perception.windows.fixed_count_windows`) or, with ``window_s`` > 0,
time slices. Bad packets (unknown encoding, impossible or oversized geometry, corrupt bytes) are
counted by reason in the node's Health and dropped; nothing raises into the executor.

Intrinsics: ``camera_info``'s K when it has one for the packets' size; else ``fx``, ``fy``,
``cx``, ``cy`` when ``fx`` > 0; else square pixels with the vertical field of view ``fovy``
(said on /diagnostics). Times: windows are on the events' sensor clock; a window's ROS stamp
is its ``t_ref_s`` mapped through the latest packet's ``header.stamp`` (sensor time of its
last event = that stamp), and IMU stamps are mapped back the same way.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from typing import Any

import numpy as np
from event_camera_msgs.msg import EventPacket
from sensor_msgs.msg import CameraInfo, Imu

from neuro_nodes.core.params import param
from neuro_nodes.events.codecs import CodecError, make_decoder
from neuro_nodes.events.packet_decode import decode_packets
from neuro_nodes.perception.types import EventWindow, PinholeCamera
from neuro_nodes.perception.windows import ImuBuffer, WindowCutter
from neuro_nodes.ros.ports import subscribes
from neuro_nodes.ros.qos import EVENTS_QOS, LATCHED_QOS, SENSOR_QOS

MAX_QUEUED_PACKETS = 1000  # decoded early when the estimator falls behind (bounds memory)
#: A time step backwards larger than this (s) is a new stream (a looped bag, a restart).
TIME_JUMP_S = 0.5

INPUT_PORTS = (
    subscribes("events", "event_camera_msgs/msg/EventPacket", "event packets (any encoding "
               "the codecs decode)", "best effort, depth 1000"),
    subscribes("camera_info", "sensor_msgs/msg/CameraInfo", "intrinsics K (else the fx/fy/"
               "cx/cy or fovy parameters)", "latched and sensor data"),
    subscribes("imu", "sensor_msgs/msg/Imu", "use_imu: gyro prior (rad/s, rotated into the "
               "optical frame by imu_rotation)", "sensor data"),
)


@dataclasses.dataclass(frozen=True)
class EventWindowParams:
    window_events: int = param(30000, "Events per window (used when window_s is 0)",
                               min=100, max=10_000_000, read_only=True)
    window_s: float = param(0.0, "Time slices of this length (s) instead of fixed counts "
                            "(method snn: 0 means 0.01)",
                            min=0.0, max=10.0, read_only=True)
    fx: float = param(0.0, "Fallback focal length x (px) when camera_info has no K; 0: fovy",
                      min=0.0, max=1e6)
    fy: float = param(0.0, "Fallback focal length y (px); 0: fx", min=0.0, max=1e6)
    cx: float = param(-1.0, "Fallback principal point x (px); < 0: image centre",
                      min=-1.0, max=1e6)
    cy: float = param(-1.0, "Fallback principal point y (px); < 0: image centre",
                      min=-1.0, max=1e6)
    fovy: float = param(60.0, "Fallback vertical field of view (deg) when neither K nor fx",
                        min=1.0, max=179.0)
    use_imu: bool = param(True, "Pass gyro samples from imu to the estimator", read_only=True)
    imu_rotation: tuple[float, ...] = param(
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        "Rotation IMU axes -> camera optical axes, row-major 3x3")
    max_backlog: int = param(4, "Windows kept when the estimator falls behind (older ones "
                             "are dropped and counted)", min=1, max=1000)
    max_frame_pixels: int = param(2048 * 2048, "Largest sensor (width x height) accepted; "
                                  "bigger packets are counted as frame_too_large",
                                  min=1, max=1 << 28, read_only=True)

    def validate(self) -> None:
        r = np.asarray(self.imu_rotation, dtype=float)
        if r.size != 9 or not np.allclose(r.reshape(3, 3) @ r.reshape(3, 3).T, np.eye(3),
                                          atol=1e-6):
            raise ValueError("imu_rotation: expected a row-major 3x3 rotation matrix "
                             f"(9 numbers, orthonormal), got {list(self.imu_rotation)}")


def camera_from_info(msg: CameraInfo) -> PinholeCamera | None:
    """The pinhole intrinsics of ``msg``, or None when it carries no K (size only)."""
    k = list(msg.k)
    if len(k) != 9 or k[0] <= 0 or k[4] <= 0 or msg.width <= 0 or msg.height <= 0:
        return None
    return PinholeCamera(float(k[0]), float(k[4]), float(k[2]), float(k[5]), int(msg.width),
                         int(msg.height))


def fallback_camera(p: EventWindowParams, width: int, height: int) -> PinholeCamera:
    if p.fx <= 0:
        return PinholeCamera.from_fovy(width, height, p.fovy)
    cx = p.cx if p.cx >= 0 else (width - 1) / 2.0
    cy = p.cy if p.cy >= 0 else (height - 1) / 2.0
    return PinholeCamera(p.fx, p.fy or p.fx, cx, cy, width, height)


@dataclasses.dataclass(frozen=True)
class StampedWindow:
    window: EventWindow
    stamp_ns: int  # t_ref on the ROS clock
    frame_id: str


class EventInput:
    """The subscriptions, decoder and window cutter of an estimator node."""

    def __init__(self, node: Any, params: EventWindowParams) -> None:
        self.node, self.params = node, params
        self.health = node.health
        self._decoder = None
        self._key: tuple[str, int, int] | None = None
        self._queued: list[EventPacket] = []
        self._pending_windows: list[StampedWindow] = []  # cut early (queue full, new stream)
        self._cutter = WindowCutter(params.window_events, params.window_s)
        self._info: PinholeCamera | None = None
        self.camera: PinholeCamera | None = None
        self._offset_ns: int | None = None  # ROS stamp - sensor time
        self._last_t_ns: int | None = None
        self._frame_id = ""
        self._imu = ImuBuffer(np.asarray(params.imu_rotation)) if params.use_imu else None
        #: set when the stream restarted or changed: the estimator must forget warm starts
        self.restarted = False
        node.create_subscription(EventPacket, "events", self._on_packet, EVENTS_QOS)
        node.create_subscription(CameraInfo, "camera_info", self._on_info, LATCHED_QOS)
        node.create_subscription(CameraInfo, "camera_info", self._on_info, SENSOR_QOS)
        if self._imu is not None:
            node.create_subscription(Imu, "imu", self._on_imu, SENSOR_QOS)

    # -- callbacks ----------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        cam = camera_from_info(msg)
        if cam is not None and cam != self._info:
            self._info = cam
            self.node.get_logger().info(f"intrinsics from camera_info: fx {cam.fx:.1f} fy "
                                        f"{cam.fy:.1f} cx {cam.cx:.1f} cy {cam.cy:.1f}")

    def _on_imu(self, msg: Imu) -> None:
        if self._offset_ns is None:
            return  # no sensor clock yet to put it on
        av = msg.angular_velocity
        gyro = np.array([av.x, av.y, av.z])
        if not np.isfinite(gyro).all():
            self.health.error("bad_imu", f"non-finite angular velocity {gyro.tolist()}")
            return
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self._imu.add((stamp - self._offset_ns) * 1e-9, gyro)
        self.health.count("imu")

    def _on_packet(self, msg: EventPacket) -> None:
        self.health.count("packets")
        key = (msg.encoding, int(msg.width), int(msg.height))
        if key != self._key:
            pixels = key[1] * key[2]
            if pixels > self.params.max_frame_pixels:
                self.health.error("frame_too_large", f"{msg.width}x{msg.height} = {pixels} "
                                  f"pixels > max_frame_pixels {self.params.max_frame_pixels}")
                return
            try:
                decoder = make_decoder(msg.encoding, msg.width, msg.height)
            except (CodecError, ValueError) as err:
                self.health.error("undecodable_packet", str(err))
                return
            if self._decoder is not None:  # by the decoder of their own stream
                self._pending_windows.extend(self._decode_queued())
            if self._key is not None:
                self.node.get_logger().info(f"new event stream {key} (was {self._key})")
            self._decoder, self._key = decoder, key
            self._restart()
        self._queued.append(msg)
        self._frame_id = msg.header.frame_id
        if len(self._queued) >= MAX_QUEUED_PACKETS:
            self._pending_windows.extend(self._decode_queued())

    def _restart(self) -> None:
        self._cutter.reset()
        self._last_t_ns = None
        if self._imu is not None:
            self._imu.clear()
        self.restarted = True

    # -- decoding and cutting -------------------------------------------------------------
    def poll(self) -> list[StampedWindow]:
        """Decode what is queued; the windows completed since the last call, oldest first."""
        out = self._pending_windows + self._decode_queued()
        self._pending_windows = []
        return out

    def _decode_queued(self) -> list[StampedWindow]:
        queued, self._queued = self._queued, []
        if not queued:
            return []
        result = decode_packets(self._decoder, queued)
        for failure in result.failures:
            self.health.error("decoder_failure", failure)
        if result.errors:
            self.health.error("corrupt_events", f"{result.errors} in packets {queued[0].seq}.."
                              f"{queued[-1].seq}", result.errors)
        ev = result.events
        if not len(ev):
            return []
        self.health.count("events", len(ev))
        last = queued[result.ok[-1]].header.stamp
        self._offset_ns = last.sec * 1_000_000_000 + last.nanosec - int(ev.t.max())
        if self._last_t_ns is not None and int(ev.t[0]) < self._last_t_ns - TIME_JUMP_S * 1e9:
            self.health.count("time_jumps")
            self._restart()
        self._last_t_ns = int(ev.t[-1])
        cam = self._camera(ev.width, ev.height)
        out = []
        for events, t0, t1 in self._cutter.push(ev):
            imu = None if self._imu is None else self._imu.between(t0, t1)
            window = EventWindow(events, cam, t0, t1, imu)
            out.append(StampedWindow(window, round(window.t_ref_s * 1e9) + self._offset_ns,
                                     self._frame_id))
        return out

    def _camera(self, width: int, height: int) -> PinholeCamera:
        info = self._info
        if info is not None and (info.width, info.height) == (width, height):
            self.node.conditions.pop("intrinsics", None)
            cam = info
        else:
            cam = fallback_camera(self.params, width, height)
            how = (f"fx {cam.fx:g}" if self.params.fx > 0 else f"fovy {self.params.fovy:g} deg")
            self.node.conditions["intrinsics"] = (
                f"no camera_info K for {width}x{height}: assumed from {how}")
        if cam != self.camera:
            self.camera = cam
        return cam

    def update_params(self, params: EventWindowParams) -> None:
        """Mutable parameters (intrinsics fallbacks, imu_rotation, max_backlog) changed."""
        self.params = params
        if self._imu is not None:
            self._imu.rotation = np.asarray(params.imu_rotation, dtype=float).reshape(3, 3)




# -- the shared node body of egomotion and optical_flow ----------------------------------
METHOD_CHOICES = ("cmax", "emoflow", "snn")
SNN_SLICE_S = 0.01  # method snn with window_s 0: 10 ms slices (flow at 100 Hz)


def estimator_factory(method: str):  # noqa: ANN201 - Callable[[PinholeCamera], MotionEstimator]
    """The registered constructor of ``method``; ValueError naming what is registered."""
    try:
        from neuro_nodes.perception.registry import METHODS
    except ImportError as err:
        raise ValueError(f"method '{method}': no estimator registry "
                         f"(neuro_nodes.perception.registry: {err})") from err
    if method not in METHODS:
        raise ValueError(f"method '{method}' is not available: registered methods are "
                         f"{sorted(METHODS)} (neuro_nodes/perception/registry.py)")
    return METHODS[method]


@dataclasses.dataclass(frozen=True)
class EstimatorNodeParams(EventWindowParams):
    method: str = param("cmax", "Estimator (neuro_nodes.perception.registry)",
                        choices=METHOD_CHOICES, read_only=True)
    poll_period: float = param(0.01, "Seconds between decoding the queued packets",
                               min=0.001, max=1.0, read_only=True)


class EstimatorNodeMixin:
    """Input, estimator lifetime, backlog and timing; subclasses publish (``_publish``).

    Mixed into a :class:`NeuroNode` whose params are an :class:`EstimatorNodeParams`. The
    estimator runs on its own thread, so the executor keeps taking packets and publishing
    /diagnostics while a window is being estimated (torch and numpy release the GIL); at
    most ``max_backlog`` windows wait for it, older ones are dropped and counted.
    """

    def _start_estimation(self) -> None:
        p = self.params
        self._factory = estimator_factory(p.method)  # missing method: fail at start-up
        try:  # and one that cannot be built (e.g. its model file is missing)
            self._factory(fallback_camera(p, 346, 260))
        except Exception as err:
            raise ValueError(f"method '{p.method}' cannot start: {type(err).__name__}: "
                             f"{err}") from err
        self._estimator = None
        self._estimator_camera: PinholeCamera | None = None
        if p.method == "snn" and p.window_s == 0:  # the dense SNN steps every 10 ms
            p = dataclasses.replace(p, window_s=SNN_SLICE_S)
        self.input = EventInput(self, p)
        self._work: deque[StampedWindow | None] = deque()  # None: the stream restarted
        self._wake = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._run_estimator, daemon=True,
                                        name="estimator")
        self._worker.start()
        self.create_timer(p.poll_period, self._on_poll)

    def on_params_changed(self, old, new) -> None:  # noqa: ANN001 - the node's params
        self.input.update_params(new)

    def _on_poll(self) -> None:
        windows = self.input.poll()
        restarted, self.input.restarted = self.input.restarted, False
        if not (windows or restarted):
            return
        with self._wake:
            if restarted:
                self._work.append(None)
            self._work.extend(windows)
            queued = [w for w in self._work if w is not None]
            excess = len(queued) - self.params.max_backlog
            if excess > 0:  # falling behind the stream: keep the newest
                self.health.count("windows_dropped", excess)
                drop = {id(w) for w in queued[:excess]}
                self._work = deque(w for w in self._work if w is None or id(w) not in drop)
            self._wake.notify()

    def _run_estimator(self) -> None:
        while True:
            with self._wake:
                while not self._work and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                item = self._work.popleft()
            if item is None:
                if self._estimator is not None:
                    self._estimator.reset()
                self._reset_track()
            else:
                self._process(item)

    def destroy_node(self) -> None:
        if hasattr(self, "_worker"):  # absent when construction failed
            with self._wake:
                self._stopping = True
                self._wake.notify()
            self._worker.join(timeout=5.0)  # a long estimate is abandoned (daemon thread)
        super().destroy_node()

    def _process(self, sw: StampedWindow) -> None:
        cam = sw.window.camera
        try:
            if self._estimator is None or cam != self._estimator_camera:
                self._estimator = self._factory(cam)
                self._estimator_camera = cam
            started = time.perf_counter()
            est = self._estimator.process(sw.window)
            compute = time.perf_counter() - started
        except Exception as err:  # an estimator failure loses this window, not the node
            self.health.error("estimator_failure", f"{type(err).__name__}: {err}")
            self.get_logger().error(f"{self.params.method} failed on a window: {err}")
            if self._estimator is not None:
                self._estimator.reset()
            return
        self.health.latency(compute)  # /diagnostics latency_*_ms: compute per window
        self.health.count("windows")  # windows_hz: windows per second
        try:
            self._publish(est, sw)
        except Exception as err:  # a malformed estimate loses this window, not the node
            self.health.error("publish_failure", f"{type(err).__name__}: {err}")

    def _reset_track(self) -> None:
        """The stream restarted or changed (subclasses drop what they integrate)."""

    def _publish(self, est, sw: StampedWindow) -> None:  # noqa: ANN001 - MotionEstimate
        raise NotImplementedError


__all__ = ["INPUT_PORTS", "METHOD_CHOICES", "EstimatorNodeMixin", "EstimatorNodeParams",
           "EventInput", "EventWindowParams", "ImuBuffer", "StampedWindow", "WindowCutter",
           "camera_from_info", "estimator_factory", "fallback_camera"]
