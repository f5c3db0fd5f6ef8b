"""sim_bridge: steps a MuJoCo scene and publishes its sensors, TF and ground truth.

Publishes ``/clock`` (sim time; run other nodes with ``use_sim_time:=true``), the scene
camera (``/camera/image_raw``, ``/camera/camera_info``), ``/depth/image`` (32FC1, m) with
``/depth/camera_info`` (the depth camera's own intrinsics: its field of view differs),
``/depth/points`` (xyz, camera optical frame), ``/events`` (EventPacket, evt3, from the
emulator), ``/imu``, ``/joint_states``, ``/tf`` and ``/tf_static``
(``map -> odom -> base_link -> camera_link -> camera_optical_frame``) and ground truth
(``/ground_truth/odom``, ``/ground_truth/camera_twist``, ``/ground_truth/flow`` 32FC2 px/s,
``/ground_truth/depth``, ``/ground_truth/class`` and ``/ground_truth/instance`` 32SC1,
``/ground_truth/points`` with ``class``/``instance`` fields, ``/ground_truth/query_distance``
for the exact signed distance of the scene). ``/ground_truth/camera_twist`` (``TwistStamped``, frame
``camera_optical_frame``, with the odometry) is the camera's true twist in the conventions of
``/egomotion``: angular rad/s and linear m/s (metric) of the optical centre, in optical axes;
the camera rig's is its trajectory's analytic twist, a robot's comes from MuJoCo's body
velocities through the static camera mount. Takes ``/cmd_vel`` (mobile_robot) and
``/joint_commands`` (swimmer); ``~/reset``, ``~/pause`` and ``~/step`` control time. Runs at
``real_time_factor`` x real time, or as fast as possible with 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import yaml
from event_camera_msgs.msg import EventPacket
from geometry_msgs.msg import Twist, TwistStamped, Vector3
from nav_msgs.msg import Odometry as OdometryMsg
from neuro_interfaces.srv import QueryDistance, StepSimulation
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState, PointCloud2
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger
from tf2_msgs.msg import TFMessage

from neuro_nodes.core.params import param
from neuro_nodes.events.emulator import PRESETS
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, service, subscribes
from neuro_nodes.ros.qos import EVENTS_PUB_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from sim.frames import frame_in
from sim.ground_truth.poses import camera_twist
from sim.ros import convert
from sim.runner import Output, SimRates, SimRunner
from sim.scenes import SCENES
from sim.sim_thread import SimThread

OPTICAL = "camera_optical_frame"

# output kind -> (topic, type, QoS)
TOPICS: dict[str, tuple[str, type, Any]] = {
    "clock": ("/clock", Clock, RELIABLE_QOS),
    "image": ("/camera/image_raw", Image, SENSOR_QOS),
    # latched (reliable, transient local): it matches latched and sensor-data subscribers
    # alike, as event_camera's /camera_info does, so a late joiner has K at once
    "camera_info": ("/camera/camera_info", CameraInfo, LATCHED_QOS),
    "depth": ("/depth/image", Image, SENSOR_QOS),
    "depth_info": ("/depth/camera_info", CameraInfo, LATCHED_QOS),
    "points": ("/depth/points", PointCloud2, SENSOR_QOS),
    "events": ("/events", EventPacket, EVENTS_PUB_QOS),  # reliable: recordable losslessly
    "imu": ("/imu", Imu, SENSOR_QOS),
    "joints": ("/joint_states", JointState, SENSOR_QOS),
    "tf": ("/tf", TFMessage, RELIABLE_QOS),
    "tf_static": ("/tf_static", TFMessage, LATCHED_QOS),
    "odom": ("/ground_truth/odom", OdometryMsg, RELIABLE_QOS),
    "camera_twist": ("/ground_truth/camera_twist", TwistStamped, RELIABLE_QOS),
    "gt_flow": ("/ground_truth/flow", Image, SENSOR_QOS),
    "gt_depth": ("/ground_truth/depth", Image, SENSOR_QOS),
    "gt_class": ("/ground_truth/class", Image, SENSOR_QOS),
    "gt_instance": ("/ground_truth/instance", Image, SENSOR_QOS),
    "gt_points": ("/ground_truth/points", PointCloud2, SENSOR_QOS),
}


@dataclasses.dataclass(frozen=True)
class SimBridgeParams(SimRates):
    scene: str = param("mobile_robot", "Scene to simulate", choices=tuple(SCENES),
                       read_only=True)
    scene_params: str = param("", "Scene parameter overrides as a YAML mapping, "
                              "e.g. '{n_links: 8}'", read_only=True)
    real_time_factor: float = param(1.0, "Sim time per wall time (0 = as fast as possible)",
                                    min=0.0, max=100.0)
    width: int = param(346, "Camera width (px)", min=16, max=4096, read_only=True)
    height: int = param(260, "Camera height (px)", min=16, max=4096, read_only=True)
    event_preset: str = param("clean", "Event emulator preset", choices=tuple(PRESETS),
                              read_only=True)
    seed: int = param(0, "Scene layout, noise and emulator seed", min=0, read_only=True)
    start_paused: bool = param(False, "Start paused (advance with ~/step or ~/pause false)",
                               read_only=True)
    duration: float = param(0.0, "Pause when sim time reaches this (s); 0 = run forever",
                            min=0.0, max=1e7)

    def overrides(self) -> dict[str, Any]:
        if not self.scene_params.strip():
            return {}
        value = yaml.safe_load(self.scene_params)
        if not isinstance(value, dict):
            raise ValueError(f"scene_params: expected a YAML mapping, got {self.scene_params!r}")
        return value


class SimBridgeNode(NeuroNode[SimBridgeParams]):
    params_type = SimBridgeParams
    node_name = "sim_bridge"
    ports = (
        *(publishes(topic, f"{t.__module__.split('.')[0]}/msg/{t.__name__}", kind, "")
          for kind, (topic, t, _q) in TOPICS.items()),
        subscribes("/cmd_vel", "geometry_msgs/msg/Twist", "mobile_robot: (v, omega) command"),
        subscribes("/joint_commands", "std_msgs/msg/Float64MultiArray",
                   "swimmer: one torque per actuator (clipped to its range)"),
        service("~/reset", "std_srvs/srv/Trigger", "reset the scene to its initial state"),
        service("~/pause", "std_srvs/srv/SetBool", "pause (true) or resume (false)"),
        service("~/step", "neuro_interfaces/srv/StepSimulation", "advance N physics steps"),
        service("/ground_truth/query_distance", "neuro_interfaces/srv/QueryDistance",
                "exact signed distance and gradient of the scene at points (map frame)"),
    )

    def __init__(self, *, tap: Callable[[str, Any, int], None] | None = None,
                 **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        p.overrides()  # a malformed scene_params fails here, with its reason
        self._tap = tap
        self._pubs = {k: self.create_publisher(t, topic, q) for k, (topic, t, q) in
                      TOPICS.items()}
        self.create_subscription(Twist, "/cmd_vel", self._on_cmd_vel, 10)
        self.create_subscription(Float64MultiArray, "/joint_commands", self._on_joints, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(StepSimulation, "~/step", self._on_step)
        self.create_service(QueryDistance, "/ground_truth/query_distance", self._on_query)
        self.sim = SimThread(self._make_runner, self._publish,
                             rtf=lambda: self.params.real_time_factor,
                             end_ns=lambda: round(self.params.duration * 1e9),
                             on_error=self._on_sim_error, paused=p.start_paused)
        self.runner = self.sim.runner
        self.finished = self.sim.finished
        self._publish_static()
        self.get_logger().info(f"simulating {p.scene} at real-time factor "
                               f"{p.real_time_factor or 'max'}")

    def on_params_changed(self, old: SimBridgeParams, new: SimBridgeParams) -> None:
        names = [f.name for f in dataclasses.fields(SimRates)]
        if any(getattr(old, n) != getattr(new, n) for n in names):
            with self.sim.lock:
                self.runner.set_rates(SimRates(**{n: getattr(new, n) for n in names}))

    # -- publishing ---------------------------------------------------------------------
    def _send(self, kind: str, msg: Any, t_ns: int) -> None:
        self._pubs[kind].publish(msg)
        if self._tap is not None:
            self._tap(TOPICS[kind][0], msg, t_ns)

    def _publish_static(self) -> None:
        t = self.runner.time_ns
        msg = TFMessage(transforms=[convert.static_transform(t, e)
                                    for e in self.runner.static_transforms()])
        self._send("tf_static", msg, t)

    def _publish(self, out: Output) -> None:
        t, data, r = out.t_ns, out.data, self.runner
        if out.kind == "clock":
            self._send("clock", Clock(clock=convert.stamp(t)), t)
        elif out.kind == "camera":
            self._send("image", convert.image(t, OPTICAL, data, "rgb8"), t)
            self._send("camera_info", convert.camera_info(
                t, OPTICAL, r.width, r.height, r._cam.intrinsics), t)
        elif out.kind == "depth":
            depth, points = data
            self._send("depth", convert.image(t, OPTICAL, depth, "32FC1"), t)
            self._send("depth_info", convert.camera_info(
                t, OPTICAL, r.width, r.height, r._depth.intrinsics), t)
            self._send("points", convert.point_cloud(t, OPTICAL, points), t)
        elif out.kind == "events":
            for p in data:
                msg = EventPacket(encoding=p.encoding, width=p.width, height=p.height,
                                  time_base=p.time_base, events=p.events)
                msg.header.stamp, msg.header.frame_id = convert.stamp(t), OPTICAL
                self._send("events", msg, t)
                self.health.count("event_packets")
        elif out.kind == "imu":
            self._send("imu", convert.imu(data, r.rig.base_frame), t)
        elif out.kind == "joints":
            self._send("joints", convert.joint_state(data), t)
        elif out.kind == "odometry" and data is not None:
            self._send("odom", convert.odometry(data, r.rig.base_frame), t)
            tf = convert.transform(t, "odom", r.rig.base_frame, data.pose)
            self._send("tf", TFMessage(transforms=[tf]), t)
            if self._camera_in_base is not None:
                tw = camera_twist(data, self._camera_in_base)
                msg = TwistStamped()
                msg.header.stamp, msg.header.frame_id = convert.stamp(data.t_ns), OPTICAL
                msg.twist.linear, msg.twist.angular = convert.vec(tw.linear), convert.vec(
                    tw.angular)
                self._send("camera_twist", msg, t)
        elif out.kind == "ground_truth":
            self._publish_ground_truth(t, data)
        self.health.count(out.kind)

    def _publish_ground_truth(self, t: int, gt: dict[str, np.ndarray]) -> None:
        from sim.sensors.pointcloud import depth_to_points, valid_depth

        self._send("gt_flow", convert.image(t, OPTICAL, gt["flow"], "32FC2"), t)
        self._send("gt_depth", convert.image(t, OPTICAL, gt["depth"], "32FC1"), t)
        self._send("gt_class", convert.image(t, OPTICAL, gt["class"], "32SC1"), t)
        self._send("gt_instance", convert.image(t, OPTICAL, gt["instance"], "32SC1"), t)
        ok = valid_depth(gt["depth"])
        points = depth_to_points(gt["depth"], self.runner._flow.sensor.intrinsics)
        self._send("gt_points", convert.point_cloud(
            t, OPTICAL, points, {"class": gt["class"][ok], "instance": gt["instance"][ok]}), t)

    # -- the simulation thread ----------------------------------------------------------
    def _make_runner(self) -> SimRunner:
        p = self.params
        rates = SimRates(**{f.name: getattr(p, f.name) for f in dataclasses.fields(SimRates)})
        runner = SimRunner(p.scene, p.overrides(), rates=rates, width=p.width, height=p.height,
                           event_preset=p.event_preset, seed=p.seed)
        # set here, on the simulation thread, before its first output reaches _publish
        # (SimThread returns, and __init__ goes on, only after outputs may have started)
        self.runner, rig = runner, runner.rig
        self._camera_in_base = (frame_in(rig.static, rig.base_frame, OPTICAL)
                                if rig.camera is not None else None)
        return runner

    def _on_sim_error(self, err: Exception) -> None:
        self.health.error("simulation_failed", f"{type(err).__name__}: {err}")
        self.get_logger().error(f"simulation stopped: {type(err).__name__}: {err}")

    # -- commands and services ------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        try:
            with self.sim.lock:
                self.runner.set_cmd_vel(msg.linear.x, msg.angular.z)
        except ValueError as err:
            self.health.error("bad_command", str(err))

    def _on_joints(self, msg: Float64MultiArray) -> None:
        try:
            with self.sim.lock:
                self.runner.set_joint_commands(np.asarray(msg.data, dtype=float))
        except ValueError as err:
            self.health.error("bad_command", str(err))

    def _on_reset(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        self.sim.call(self.runner.reset)
        self._publish_static()
        res.success, res.message = True, "reset"
        return res

    def _on_pause(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        (self.sim.paused.set if req.data else self.sim.paused.clear)()
        res.success, res.message = True, "paused" if req.data else "running"
        return res

    def _on_step(self, req: StepSimulation.Request,
                 res: StepSimulation.Response) -> StepSimulation.Response:
        if not self.sim.paused.is_set():
            res.success, res.message = False, "pause the simulation before stepping it"
            return res
        t_ns = self.sim.step(req.steps)
        res.success, res.message = True, f"stepped {req.steps}"
        res.sim_time = convert.stamp(t_ns)
        return res

    def _on_query(self, req: QueryDistance.Request,
                  res: QueryDistance.Response) -> QueryDistance.Response:
        if req.frame_id not in ("", "map", "odom"):
            res.success, res.message = False, f"frame '{req.frame_id}' unsupported: use map"
            return res
        points = np.array([[p.x, p.y, p.z] for p in req.points], dtype=float).reshape(-1, 3)
        dist, grad = self.sim.call(lambda: self.runner.sdf().distance_and_gradient(points))
        res.success, res.message = True, ""
        res.distances = dist.astype(np.float32).tolist()
        res.gradients = [Vector3(x=float(g[0]), y=float(g[1]), z=float(g[2])) for g in grad]
        res.observed = [True] * len(points)
        return res

    def destroy_node(self) -> None:
        if hasattr(self, "sim"):
            self.sim.stop()
        super().destroy_node()


NODE_CLASS = SimBridgeNode


def main(args=None) -> int:
    return run_node(SimBridgeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
