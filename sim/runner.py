"""Steps a scene and produces its sensor and ground-truth outputs at their rates.

ROS-free: the sim bridge node converts the outputs to messages, ``neuro sim run`` and
the benchmark use the same loop. Each output carries its sim-time stamp (ns).

============== ======== =================================================================
rate (Hz)      default  output (0 disables)
============== ======== =================================================================
camera         20       RGB image of the scene camera (shares the event camera's render when
                        both fall due at the same step: keep events a multiple of it)
depth          10       depth image (m) and point cloud (camera optical frame)
events         100      event-camera frames fed to the emulator -> EventPacket payloads
imu            200      IMU sample with noise (scenes with an IMU)
joints         50       joint states
odometry       50       pose and twist of the base (also the odom -> base TF)
ground_truth   5        GT optical flow (px/s), depth, per-pixel class/instance, labelled points
clock          100      /clock
============== ======== =================================================================
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.frames import MAP_TO_ODOM, StaticTransform, camera_static_transforms
from sim.ground_truth.flow import FlowGroundTruth
from sim.ground_truth.labels import GeomLabels
from sim.ground_truth.poses import Odometry, odometry
from sim.ground_truth.sdf import SceneSDF
from sim.scenes import make_scene
from sim.sensors.camera import CameraSensor
from sim.sensors.event_camera import EventCameraParams, SimEventCamera
from sim.sensors.imu import SimImu
from sim.sensors.joints import JointStateReader
from sim.sensors.pointcloud import depth_to_points
from sim.spatial import Pose
from sim.world import SimWorld

#: with an event sink, how many frames emulation may lag behind rendering (bounds memory;
#: four chunks of the sim thread at 100 Hz events, slack for a descheduled thread)
MAX_PENDING_FRAMES = 8
_HANDED_OFF = object()  # a producer's result that is not an output (the sink got it)


@dataclasses.dataclass(frozen=True)
class SimRates:
    camera: float = param(20.0, "RGB image rate (Hz, 0 = off)", min=0.0, max=1000.0)
    depth: float = param(10.0, "Depth image + point cloud rate (Hz)", min=0.0, max=1000.0)
    events: float = param(100.0, "Event-camera frame rate fed to the emulator (Hz)",
                          min=0.0, max=10_000.0)
    imu: float = param(200.0, "IMU rate (Hz)", min=0.0, max=2000.0)
    joints: float = param(50.0, "Joint state rate (Hz)", min=0.0, max=1000.0)
    odometry: float = param(50.0, "Ground-truth odometry and TF rate (Hz)", min=0.0, max=1000.0)
    ground_truth: float = param(5.0, "GT flow/depth/labels rate (Hz)", min=0.0, max=1000.0)
    clock: float = param(100.0, "/clock rate (Hz)", min=0.0, max=10_000.0)


@dataclasses.dataclass(frozen=True)
class SceneRig:
    """Which bodies and cameras of a scene the outputs use."""

    base_body: str | None      # odometry/TF child body
    base_frame: str            # its TF frame name
    camera: str | None         # RGB/event camera
    depth_camera: str | None
    has_imu: bool
    static: tuple[StaticTransform, ...]


def scene_rig(name: str, params: Any) -> SceneRig:
    identity = Pose.identity()
    if name == "mobile_robot":
        from sim.scenes.mobile_robot import static_transforms

        return SceneRig("base_link", "base_link", "camera", "depth_camera", True,
                        tuple(static_transforms(params)))
    if name == "camera_rig":
        static = camera_static_transforms(identity)[1:]  # the rig body is camera_link itself
        return SceneRig("camera_rig", "camera_link", "camera", "camera", False, tuple(static))
    if name == "swimmer":
        return SceneRig("head", "base_link", "tracking", "tracking", False, ())
    return SceneRig(None, "base_link", None, None, False, ())


@dataclasses.dataclass(frozen=True)
class Output:
    kind: str   # camera, depth, events, imu, joints, odometry, ground_truth, clock
    t_ns: int
    data: Any


class SimRunner:
    """Owns a :class:`SimWorld` and its sensors; :meth:`advance` steps and emits outputs."""

    def __init__(self, scene: str, scene_overrides: dict[str, Any] | None = None, *,
                 rates: SimRates = SimRates(), width: int = 346, height: int = 260,
                 event_preset: str = "clean", seed: int = 0) -> None:
        self.scene_name = scene
        spec = make_scene(scene, **(scene_overrides or {}))
        self.world = SimWorld(spec, seed=seed)
        self.rig = scene_rig(scene, spec.params)
        self.rates = validated(rates)
        self.width, self.height = width, height
        model = self.world.model
        self._cam = self._depth = self._flow = self._events = self._imu = None
        if self.rig.camera is not None:
            self._cam = CameraSensor(model, self.rig.camera, width, height)
            self._depth = CameraSensor(model, self.rig.depth_camera, width, height)
            self._flow = FlowGroundTruth(self.world, self.rig.camera, width, height)
            if self.rates.events > 0:
                self._events = SimEventCamera(model, EventCameraParams(
                    camera=self.rig.camera, width=width, height=height, preset=event_preset,
                    seed=seed))
        if self.rig.has_imu:
            self._imu = SimImu(model)
        self._joints = JointStateReader(model)
        self.labels = GeomLabels.from_model(model)
        self._sdf: SceneSDF | None = None
        self._rgb_cache: tuple[int, np.ndarray] | None = None
        self._producers: dict[str, Callable[[], Any]] = {
            "clock": lambda: None,
            "odometry": self._odometry,
            "joints": lambda: self._joints.read(self.world.data),
        }
        if self._imu is not None:
            self._producers["imu"] = lambda: self._imu.read(self.world.data)
        if self._cam is not None:
            self._producers["camera"] = self._rgb
            self._producers["depth"] = self._depth_and_points
            self._producers["ground_truth"] = self._ground_truth
        self._event_sink: Callable[[Output], None] | None = None
        self._pending: deque[Future] = deque()
        if self._events is not None:
            # emulate on a worker thread while the next frames render (numpy and the GL
            # readback release the GIL): one worker keeps the frames in order; with a sink,
            # a second one encodes and hands over frame k while the first emulates k + 1
            self._emulation = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator")
            self._encoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
            self._producers["events"] = self._submit_events
        self._next_ns = {k: 0 for k in self._producers if getattr(self.rates, k) > 0}

    # -- control ----------------------------------------------------------------------------
    @property
    def time_ns(self) -> int:
        return self.world.time_ns

    def set_cmd_vel(self, v: float, omega: float) -> None:
        if self.scene_name != "mobile_robot":
            raise ValueError(f"scene '{self.scene_name}' takes no cmd_vel")
        from sim.scenes.mobile_robot import cmd_vel_to_ctrl

        self.world.set_ctrl(cmd_vel_to_ctrl(v, omega, self.world.spec.params))

    def set_joint_commands(self, values: np.ndarray) -> None:
        nu = self.world.model.nu
        if len(values) != nu:
            raise ValueError(f"expected {nu} joint commands, got {len(values)}")
        low, high = self.world.model.actuator_ctrlrange.T
        self.world.set_ctrl(np.clip(values, low, high))

    def set_rates(self, rates: SimRates) -> None:
        """Change output rates while running (an output with rate 0 stops)."""
        self.rates = validated(rates)
        now = self.time_ns
        self._next_ns = {k: self._next_ns.get(k, now) for k in self._producers
                         if getattr(self.rates, k) > 0}

    def set_event_sink(self, sink: Callable[[Output], None] | None) -> None:
        """Hand each frame's event payloads to ``sink`` on the emulation thread, in order,
        as soon as they are encoded, instead of returning them from :meth:`advance`: physics
        and rendering go on meanwhile (at most :data:`MAX_PENDING_FRAMES` ahead) and the
        sink's work (the bridge's messages and publishing) leaves the stepping thread too.
        :meth:`flush` waits for what is in flight."""
        self.flush()
        self._event_sink = sink

    def flush(self) -> None:
        """Wait until every frame handed to the event sink is through (raising its error)."""
        while self._pending:
            self._pending.popleft().result().result()  # emulated, then encoded and sunk

    def reset(self, seed: int | None = None) -> None:
        self.flush()  # frames of the old episode are fed before the emulator forgets it
        self.world.reset(seed)
        if self._events is not None:
            self._events.reset()
        self._next_ns = dict.fromkeys(self._next_ns, 0)

    def sdf(self) -> SceneSDF:
        """The exact signed distance of the scene geometry at the current state."""
        if self._sdf is None:
            self._sdf = SceneSDF(self.world.model, self.world.data)
        self._sdf.update(self.world.data)
        return self._sdf

    def static_transforms(self) -> list[StaticTransform]:
        return [StaticTransform("map", "odom", MAP_TO_ODOM), *self.rig.static]

    # -- stepping ---------------------------------------------------------------------------
    def advance(self, until_ns: int) -> list[Output]:
        """Step physics up to ``until_ns``, producing every output that falls due."""
        out: list[Output] = []
        dt_ns = round(self.world.timestep * 1e9)
        while self.world.time_ns + dt_ns // 2 < until_ns:
            self.world.step()
            now = self.world.time_ns
            for kind, due in self._next_ns.items():
                if now >= due:
                    data = self._producers[kind]()
                    if data is not _HANDED_OFF:
                        out.append(Output(kind, now, data))
                    self._next_ns[kind] = due + round(1e9 / getattr(self.rates, kind))
                    if self._next_ns[kind] <= now:  # fell behind: skip, never burst
                        self._next_ns[kind] = now + round(1e9 / getattr(self.rates, kind))
        return [Output(o.kind, o.t_ns, o.data.result()) if isinstance(o.data, Future) else o
                for o in out]

    # -- producers --------------------------------------------------------------------------
    def _submit_events(self) -> Future | object:
        rgb, t_ns, sink = self._rgb(), self.time_ns, self._event_sink
        if sink is None:  # advance() waits for it and returns the payloads
            return self._emulation.submit(self._events.feed, rgb, t_ns)
        cam = self._events

        def emulate() -> Future:
            events = cam.emulate(rgb, t_ns)
            return self._encoding.submit(
                lambda: sink(Output("events", t_ns, cam.packetize(events))))

        while self._pending and self._pending[0].done() and self._pending[0].result().done():
            self._pending.popleft().result().result()  # reap, raising a failure early
        self._pending.append(self._emulation.submit(emulate))
        while len(self._pending) > MAX_PENDING_FRAMES:
            self._pending.popleft().result().result()
        return _HANDED_OFF

    def _odometry(self) -> Odometry | None:
        if self.rig.base_body is None:
            return None
        return odometry(self.world, self.rig.base_body)

    def _rgb(self) -> np.ndarray:
        """The scene camera's image at this step, rendered once for camera and events."""
        if self._rgb_cache is None or self._rgb_cache[0] != self.time_ns:
            self._rgb_cache = (self.time_ns, self._cam.rgb(self.world.data))
        return self._rgb_cache[1]

    def _depth_and_points(self) -> tuple[np.ndarray, np.ndarray]:
        depth = self._depth.depth(self.world.data)
        return depth, depth_to_points(depth, self._depth.intrinsics)

    def _ground_truth(self) -> dict[str, np.ndarray]:
        frame = self._flow.compute()
        cls, inst = self.labels.pixel_labels(frame.frame.segmentation)
        return {"flow": frame.flow.astype(np.float32), "depth": frame.frame.depth,
                "class": cls, "instance": inst}

    def close(self) -> None:
        if self._events is not None:
            self._pending.clear()  # let what is in flight finish, without raising here
            self._emulation.shutdown(wait=True)  # before the encoder: it submits there
            self._encoding.shutdown(wait=True)
        for sensor in (self._cam, self._depth, self._flow, self._events):
            if sensor is not None:
                sensor.close()
