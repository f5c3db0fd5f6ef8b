"""mapper: an online signed-distance map from depth (``method`` neural or tsdf) and its outputs.

Input: ``depth/image`` (``32FC1`` m or ``16UC1`` mm) with the intrinsics of
``depth/camera_info`` (else square pixels of vertical field of view ``fovy``, said on
/diagnostics as ``warn:intrinsics``), or with ``input`` points the cloud ``depth/points``
(xyz float32, sensor frame). The sensor pose comes from ``/tf`` + ``/tf_static`` (``pose_source``
tf: ``map_frame`` -> the message's frame at its stamp, interpolated;
:mod:`neuro_nodes.core.tf_tree`) or from ``odom`` (``pose_source`` odometry: the pose of the
base in ``map_frame``, times the fixed ``sensor_mount`` base -> sensor). At most
``update_rate_hz`` scans are integrated (on a worker thread, so queries are answered
meanwhile): when the mapper is busy only the newest scan waits, older ones are dropped and
counted (``scans_dropped``). The mapper is :func:`neuro_nodes.mapping.registry.make_mapper`
(``method``, its parameter overrides ``method_params``) over the box ``bounds_min`` ..
``bounds_max``, or the map file ``load_map``.

Outputs (``map_frame``, stamped with the last integrated scan): ``~/mesh``
(``visualization_msgs/Marker`` TRIANGLE_LIST of the zero level set, every ``mesh_period_s``),
``~/esdf_slice`` (``nav_msgs/OccupancyGrid`` at ``slice_height_m``, cells of
``slice_resolution_m``) and ``~/esdf_slice_image`` (the same slice's signed distance, m,
``32FC1``, NaN where unobserved, row 0 at the grid's origin = lowest y; occupancy from
:func:`neuro_nodes.mapping.esdf.occupancy_values` with ``robot_radius_m``), every
``slice_period_s``; ``~/esdf_points`` (``PointCloud2`` x, y, z, ``distance`` m: the
observed points of a 3D grid of ``points_resolution_m`` within ``points_max_distance_m`` of
a surface, every ``points_period_s``). Outputs are only recomputed when the map changed.
Services: ``~/query_distance``
(``neuro_interfaces/srv/QueryDistance``: distance and gradient at a batch of points; an
empty ``frame_id`` is ``map_frame``, another frame goes through TF and gets its gradients in
that frame; an unknown frame answers ``success`` false with the reason), ``~/save_map``
(``std_srvs/Trigger``: the map to ``save_map`` and its mesh to the same path with ``.ply``)
and ``~/reset``. A bad message (encoding, size, non-finite pose, missing TF) is counted by
reason, logged at most every 5 s and shown on /diagnostics; the node goes on.
/diagnostics also has ``integrated_hz`` (scans fused per second), ``scans_dropped``,
``latency_*_ms`` (the mapper's compute per integrated scan) and ``queries``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from nav_msgs.msg import OccupancyGrid, Odometry
from neuro_interfaces.srv import QueryDistance
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker

from neuro_nodes.core.params import param
from neuro_nodes.core.tf_tree import TfTree, TransformError, transform_matrix
from neuro_nodes.mapping import esdf, mesh_io
from neuro_nodes.mapping.registry import METHODS, load_map, make_mapper
from neuro_nodes.mapping.types import MapBounds, Scan
from neuro_nodes.perception.types import PinholeCamera
from neuro_nodes.ros import map_convert as mc
from neuro_nodes.ros.event_window import camera_from_info
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, service, subscribes
from neuro_nodes.ros.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS

#: base_link -> camera_optical_frame of the simulated mobile robot (x, y, z, qx, qy, qz, qw)
ROBOT_CAMERA_MOUNT = (0.17, 0.0, 0.16, -0.5, 0.5, -0.5, 0.5)
LOG_EVERY_S = 5.0
#: pose_source odometry: the tree's frames of the odometry's base and the mounted sensor
ODOM_BASE, ODOM_SENSOR = "mapper/odometry_base", "mapper/odometry_sensor"


@dataclasses.dataclass(frozen=True)
class MapperParams:
    method: str = param("tsdf", "Mapper (neuro_nodes.mapping.registry)",
                        choices=tuple(METHODS), read_only=True)
    method_params: str = param("", "Overrides of the mapper's parameters as a YAML mapping, "
                               "e.g. '{voxel_size: 0.04}'", read_only=True)
    bounds_min: tuple[float, ...] = param((-4.5, -4.0, -0.3), "Map box minimum x, y, z (m)",
                                          read_only=True)
    bounds_max: tuple[float, ...] = param((4.5, 4.0, 3.1), "Map box maximum x, y, z (m)",
                                          read_only=True)
    map_frame: str = param("map", "Frame of the map and its outputs", read_only=True)
    input: str = param("depth", "Scans from the depth image or the point cloud",
                       choices=("depth", "points"), read_only=True)
    pose_source: str = param("tf", "Sensor pose from /tf or from odom + sensor_mount",
                             choices=("tf", "odometry"), read_only=True)
    sensor_mount: tuple[float, ...] = param(ROBOT_CAMERA_MOUNT, "pose_source odometry: the "
                                            "sensor in the odometry's child frame (x, y, z, "
                                            "qx, qy, qz, qw)", read_only=True)
    fovy: float = param(58.0, "Vertical field of view (deg) of the depth camera when "
                        "depth/camera_info gives no K", min=1.0, max=179.0)
    update_rate_hz: float = param(5.0, "Most scans integrated per second", min=0.01,
                                  max=1000.0)
    max_range_m: float = param(6.0, "Returns beyond this z-depth (m) are left out",
                               min=0.1, max=100.0)
    pixel_stride: int = param(2, "Back-project every n-th pixel of a depth image", min=1,
                              max=64)
    tf_tolerance_s: float = param(0.05, "A scan up to this much newer (or older) than its "
                                  "TF samples takes the nearest one (s)", min=0.0, max=10.0,
                                  read_only=True)
    tf_wait_s: float = param(0.5, "How long (wall s) a scan waits for its TF to arrive",
                             min=0.0, max=10.0)
    slice_height_m: float = param(0.3, "Height of the ESDF slice (m, map z)", min=-100.0,
                                  max=100.0)
    slice_resolution_m: float = param(0.05, "Cell size of the ESDF slice (m)", min=0.005,
                                      max=5.0)
    robot_radius_m: float = param(0.25, "Slice occupancy: 100 inside obstacles, a ramp to 0 "
                                  "within this distance of them (m)", min=0.0, max=10.0)
    slice_period_s: float = param(2.0, "Seconds between ESDF slices; 0: none", min=0.0,
                                  max=3600.0)
    points_resolution_m: float = param(0.2, "Grid step of the 3D ESDF points (m)",
                                       min=0.01, max=5.0)
    points_max_distance_m: float = param(0.5, "3D ESDF points: only those at most this far "
                                         "from a surface (m)", min=0.01, max=100.0)
    points_period_s: float = param(10.0, "Seconds between 3D ESDF clouds; 0: none", min=0.0,
                                   max=3600.0)
    mesh_period_s: float = param(10.0, "Seconds between meshes; 0: none", min=0.0,
                                 max=3600.0)
    mesh_max_triangles: int = param(200_000, "Most triangles in ~/mesh (taken evenly)",
                                    min=1, max=10_000_000)
    load_map: str = param("", "Map file (.npz) to start from; empty: an empty map",
                          read_only=True)
    save_map: str = param("", "Where ~/save_map writes the map (.npz; the mesh goes to "
                          ".ply next to it)")

    def bounds(self) -> MapBounds:
        return MapBounds(tuple(self.bounds_min), tuple(self.bounds_max))

    def overrides(self) -> dict[str, Any]:
        if not self.method_params.strip():
            return {}
        value = yaml.safe_load(self.method_params)
        if not isinstance(value, dict):
            raise ValueError(f"method_params: expected a YAML mapping, got "
                             f"{self.method_params!r}")
        return value

    def validate(self) -> None:
        self.bounds()
        self.overrides()
        if len(self.sensor_mount) != 7:
            raise ValueError(f"sensor_mount: expected x, y, z, qx, qy, qz, qw, got "
                             f"{list(self.sensor_mount)}")
        transform_matrix(self.sensor_mount[:3], self.sensor_mount[3:])


@dataclasses.dataclass
class _Pending:
    header: Any  # std_msgs/Header of the scan
    data: np.ndarray  # depth image (H, W) m, or points (N, 3) in the sensor frame
    arrived: float  # time.monotonic()


class MapperNode(NeuroNode[MapperParams]):
    params_type = MapperParams
    node_name = "mapper"
    ports = (
        subscribes("depth/image", "sensor_msgs/msg/Image", "input depth: z-depth 32FC1 m or "
                   "16UC1 mm", "sensor data"),
        subscribes("depth/camera_info", "sensor_msgs/msg/CameraInfo", "intrinsics K of the "
                   "depth image (else fovy)", "latched and sensor data"),
        subscribes("depth/points", "sensor_msgs/msg/PointCloud2", "input points: xyz float32 "
                   "in the sensor frame", "sensor data"),
        subscribes("/tf", "tf2_msgs/msg/TFMessage", "pose_source tf: dynamic transforms"),
        subscribes("/tf_static", "tf2_msgs/msg/TFMessage", "static transforms", "latched"),
        subscribes("odom", "nav_msgs/msg/Odometry", "pose_source odometry: the base in the "
                   "map frame", "reliable, depth 10"),
        publishes("~/mesh", "visualization_msgs/msg/Marker", "TRIANGLE_LIST of the zero "
                  "level set", "reliable, depth 10"),
        publishes("~/esdf_slice", "nav_msgs/msg/OccupancyGrid", "ESDF slice at "
                  "slice_height_m: 100 occupied, 0 free, -1 unknown", "latched"),
        publishes("~/esdf_slice_image", "sensor_msgs/msg/Image", "the slice's signed "
                  "distance (m), 32FC1", "reliable, depth 10"),
        publishes("~/esdf_points", "sensor_msgs/msg/PointCloud2", "observed 3D ESDF: x, y, "
                  "z, distance (m)", "reliable, depth 10"),
        service("~/query_distance", "neuro_interfaces/srv/QueryDistance", "distance and "
                "gradient at points (frame_id empty: map_frame)"),
        service("~/save_map", "std_srvs/srv/Trigger", "write the map to save_map (+ .ply "
                "mesh)"),
        service("~/reset", "std_srvs/srv/Trigger", "forget the map"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        self.mapper = self._make_mapper(p)
        self._map_lock = threading.Lock()  # the mapper is used by the worker and services
        self._tf = TfTree(tolerance_s=p.tf_tolerance_s)
        self._tf_lock = threading.Lock()
        self._info: PinholeCamera | None = None
        self._pending: _Pending | None = None
        self._wake = threading.Condition()
        self._stopping = False
        # outputs carry the stamp of the last scan; a loaded map is shown at once
        self._last_stamp = self.get_clock().now().to_msg() if p.load_map else None
        self._due = {"mesh": 0.0, "slice": 0.0, "points": 0.0}  # time.monotonic()
        self._version = 0  # map changes (integrations, resets, loading)
        self._shown = {"mesh": -1, "slice": -1, "points": -1}  # version last published
        self._last_log: dict[str, float] = {}
        self._pubs = {
            "mesh": self.create_publisher(Marker, "~/mesh", RELIABLE_QOS),
            "slice": self.create_publisher(OccupancyGrid, "~/esdf_slice", LATCHED_QOS),
            "slice_image": self.create_publisher(Image, "~/esdf_slice_image", RELIABLE_QOS),
            "points": self.create_publisher(PointCloud2, "~/esdf_points", RELIABLE_QOS),
        }
        if p.input == "depth":
            self.create_subscription(Image, "depth/image", self._on_scan, SENSOR_QOS)
            for qos in (LATCHED_QOS, SENSOR_QOS):
                self.create_subscription(CameraInfo, "depth/camera_info", self._on_info, qos)
        else:
            self.create_subscription(PointCloud2, "depth/points", self._on_scan, SENSOR_QOS)
        self.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False),
                                 RELIABLE_QOS)
        self.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True),
                                 LATCHED_QOS)
        if p.pose_source == "odometry":
            m = p.sensor_mount
            self._tf.set_transform(ODOM_BASE, ODOM_SENSOR, m[:3], m[3:], 0.0, static=True)
            self.create_subscription(Odometry, "odom", self._on_odom, RELIABLE_QOS)
        self.create_service(QueryDistance, "~/query_distance", self._on_query)
        self.create_service(Trigger, "~/save_map", self._on_save)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self._outbox: dict[str, Any] = {}  # output kind -> its send(), newest only
        self._out_wake = threading.Condition()
        self._worker = threading.Thread(target=self._run, daemon=True, name="mapper")
        self._sender = threading.Thread(target=self._send_outputs, daemon=True,
                                        name="mapper-outputs")
        self._worker.start()
        self._sender.start()
        self.get_logger().info(f"mapping by {self.mapper.name} in {p.map_frame} "
                               f"{tuple(p.bounds_min)}..{tuple(p.bounds_max)}")

    @staticmethod
    def _make_mapper(p: MapperParams):  # noqa: ANN205 - a Mapper
        if not p.load_map:
            return make_mapper(p.method, p.bounds(), **p.overrides())
        mapper = load_map(Path(p.load_map))
        if mapper.name != p.method:
            raise ValueError(f"load_map {p.load_map} holds a {mapper.name} map but method "
                             f"is {p.method}")
        return mapper

    # -- problems: counted, logged throttled, on /diagnostics -------------------------------
    def _problem(self, reason: str, detail: str) -> None:
        self.health.error(reason, detail)
        now = time.monotonic()
        if now - self._last_log.get(reason, -1e9) >= LOG_EVERY_S:
            self._last_log[reason] = now
            self.get_logger().warning(f"{reason}: {detail}")

    # -- input callbacks (executor thread) ----------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        self._info = camera_from_info(msg)

    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        with self._tf_lock:
            refused = mc.add_tf(self._tf, msg, static=static)
        for reason in refused:
            self._problem("bad_tf", reason)

    def _on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        try:
            with self._tf_lock:
                self._tf.set_transform(self.params.map_frame, ODOM_BASE, [p.x, p.y, p.z],
                                       [q.x, q.y, q.z, q.w], mc.stamp_s(msg.header.stamp))
        except ValueError as err:
            self._problem("non_finite_pose", f"odometry: {err}")

    def _on_scan(self, msg: Any) -> None:
        self.health.count("scans")
        try:  # checked on arrival, so every bad message is counted, busy or not
            data = (mc.depth_image(msg) if isinstance(msg, Image) else mc.cloud_points(msg))
        except ValueError as err:
            self._problem("bad_image" if isinstance(msg, Image) else "bad_cloud", str(err))
            return
        with self._wake:
            if self._pending is not None:
                self.health.count("scans_dropped")
            self._pending = _Pending(msg.header, data, time.monotonic())
            self._wake.notify()

    # -- the worker: rate cap, scan assembly, integration, outputs -----------------------------
    def _run(self) -> None:
        next_at = 0.0
        while True:
            with self._wake:
                if self._stopping:
                    return
                wait = next_at - time.monotonic()
                item = self._pending if wait <= 0 else None
                if item is None:
                    self._wake.wait(timeout=min(0.1, max(0.005, wait)))
                self._pending = None if item is not None else self._pending
            if item is None:
                self._publish_due()  # outside the lock: callbacks keep queueing scans
                continue
            scan = self._scan(item)
            if scan == "wait":  # its TF is not there yet: back in line, unless newer came
                with self._wake:
                    if self._pending is None:
                        self._pending = item
                        self._wake.wait(timeout=0.02)
                    else:
                        self.health.count("scans_dropped")
                continue
            if scan is not None:
                next_at = time.monotonic() + 1.0 / self.params.update_rate_hz
                self._integrate(scan, item.header.stamp)
            self._publish_due()

    def _scan(self, item: _Pending) -> Scan | str | None:
        p = self.params
        stamp = mc.stamp_s(item.header.stamp)
        frame = ODOM_SENSOR if p.pose_source == "odometry" else item.header.frame_id
        try:
            with self._tf_lock:
                T = self._tf.lookup(p.map_frame, frame, stamp)
        except TransformError as err:
            if err.kind == "future" and time.monotonic() - item.arrived < p.tf_wait_s:
                return "wait"
            self._problem("missing_tf", str(err))
            return None
        if not np.isfinite(T).all():
            self._problem("non_finite_pose", f"{p.map_frame} -> {frame}")
            return None
        if p.input == "depth":
            depth = item.data
            cam = self._camera(depth.shape[1], depth.shape[0])
            return Scan.from_depth(depth, cam, T, stamp, max_range_m=p.max_range_m,
                                   stride=p.pixel_stride)
        pts = item.data
        keep = np.linalg.norm(pts, axis=1) <= p.max_range_m
        return Scan(pts[keep], T, stamp)

    def _camera(self, width: int, height: int) -> PinholeCamera:
        info = self._info
        if info is not None and (info.width, info.height) == (width, height):
            self.conditions.pop("intrinsics", None)
            return info
        self.conditions["intrinsics"] = (f"no depth/camera_info K for {width}x{height}: "
                                         f"assumed from fovy {self.params.fovy:g} deg")
        return PinholeCamera.from_fovy(width, height, self.params.fovy)

    def _integrate(self, scan: Scan, stamp: Any) -> None:
        try:
            with self._map_lock:
                stats = self.mapper.integrate(scan)
        except Exception as err:  # a mapper failure loses this scan, not the node
            self._problem("integrate_failure", f"{type(err).__name__}: {err}")
            return
        self._last_stamp = stamp
        self._version += 1
        self.health.latency(stats.compute_s)
        self.health.count("integrated")
        self.health.count("points_used", stats.points_used)

    def _publish_due(self) -> None:
        """Sample the outputs that are due (under the map lock, on this thread); their
        message conversion and publishing run on the output thread, so a big mesh does not
        hold up the next scan."""
        if self._last_stamp is None:
            return
        p, now = self.params, time.monotonic()
        for kind, period, sample in (("slice", p.slice_period_s, self._sample_slice),
                                     ("points", p.points_period_s, self._sample_points),
                                     ("mesh", p.mesh_period_s, self._sample_mesh)):
            if period > 0 and now >= self._due[kind] and self._shown[kind] != self._version:
                self._due[kind], self._shown[kind] = now + period, self._version
                try:
                    send = sample(p, self._last_stamp)
                except Exception as err:  # an output failure loses this output only
                    self._problem(f"{kind}_failure", f"{type(err).__name__}: {err}")
                    continue
                with self._out_wake:
                    self._outbox[kind] = send  # an older one not yet sent is replaced
                    self._out_wake.notify()

    def _send_outputs(self) -> None:
        while True:
            with self._out_wake:
                while not self._outbox and not self._stopping:
                    self._out_wake.wait()
                if self._stopping:
                    return
                kind, send = self._outbox.popitem()
            try:
                send()
                self.health.count(kind)
            except Exception as err:
                self._problem(f"{kind}_failure", f"{type(err).__name__}: {err}")

    def _sample_slice(self, p: MapperParams, stamp: Any):  # noqa: ANN202 - () -> None
        with self._map_lock:
            sl = esdf.esdf_slice(self.mapper, p.slice_height_m, p.slice_resolution_m)

        def send() -> None:
            self._pubs["slice"].publish(mc.occupancy_grid(
                esdf.occupancy_values(sl, p.robot_radius_m), sl.origin_xy, sl.resolution_m,
                p.slice_height_m, p.map_frame, stamp))
            shown = np.where(sl.observed, sl.distance, np.nan)  # NaN: not observed
            self._pubs["slice_image"].publish(mc.float_image(shown, p.map_frame, stamp))
        return send

    def _sample_points(self, p: MapperParams, stamp: Any):  # noqa: ANN202
        with self._map_lock:
            pts, dist = esdf.esdf_points(self.mapper, p.points_resolution_m,
                                         p.points_max_distance_m)
        return lambda: self._pubs["points"].publish(mc.distance_cloud(pts, dist, p.map_frame,
                                                                      stamp))

    def _sample_mesh(self, p: MapperParams, stamp: Any):  # noqa: ANN202
        with self._map_lock:
            mesh = self.mapper.mesh()
        return lambda: self._pubs["mesh"].publish(mc.mesh_marker(
            mesh, p.map_frame, stamp, max_triangles=p.mesh_max_triangles))

    # -- services (executor thread) ---------------------------------------------------------
    def _on_query(self, req: QueryDistance.Request,
                  res: QueryDistance.Response) -> QueryDistance.Response:
        frame = req.frame_id or self.params.map_frame
        try:
            points = mc.query_points(req.points)
            with self._tf_lock:
                T = self._tf.lookup(self.params.map_frame, frame)
        except TransformError as err:
            res.success, res.message = False, f"frame {frame!r}: {err}"
            self.health.error("query_bad_frame", res.message)
            return res
        in_map = points @ T[:3, :3].T + T[:3, 3]
        with self._map_lock:
            q = self.mapper.query(in_map)
        grad = np.asarray(q.gradient, np.float64) @ T[:3, :3]  # back into the query frame
        res.success, res.message = True, ""
        res.distances = np.asarray(q.distance, np.float32).tolist()
        res.gradients = mc.vectors(grad)
        res.observed = np.asarray(q.observed, bool).tolist()
        self.health.count("queries")
        self.health.count("query_points", len(points))
        return res

    def _on_save(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        if not self.params.save_map:
            res.success, res.message = False, "set the save_map parameter to a .npz path"
            return res
        path = Path(self.params.save_map)
        ply = path.with_suffix(".ply")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._map_lock:
                self.mapper.save(path)
                mesh = self.mapper.mesh()
            mesh_io.write_ply(mesh, ply)
        except Exception as err:
            res.success, res.message = False, f"saving to {path}: {type(err).__name__}: {err}"
            self._problem("save_failure", res.message)
            return res
        res.success = True
        res.message = f"map {path}, mesh {ply} ({len(mesh.triangles)} triangles)"
        self.get_logger().info(f"saved {res.message}")
        return res

    def _on_reset(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        with self._map_lock:
            self.mapper.reset()
            self._version += 1
        self.health.count("resets")
        res.success, res.message = True, "map reset"
        return res

    def destroy_node(self) -> None:
        if hasattr(self, "_worker"):
            with self._wake:
                self._stopping = True
                self._wake.notify()
            with self._out_wake:
                self._out_wake.notify()
            self._worker.join(timeout=10.0)
            self._sender.join(timeout=10.0)
        super().destroy_node()


NODE_CLASS = MapperNode


def main(args: Any = None) -> int:
    return run_node(MapperNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
