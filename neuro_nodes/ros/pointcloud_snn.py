"""pointcloud_snn: segments depth point clouds with the E-3DSNN spiking network, finds the
objects in them and says what the inference would cost on a neuromorphic chip.

Input ``points`` (``PointCloud2``, float32 x, y, z in the camera optical frame: x right,
y down, z forward; other fields ignored; clouds over ``max_points`` are subsampled, seeded).
The segmentation model (``seg_model``, :mod:`neuro_nodes.perception.pointcloud_model`; empty:
the shipped ``config/models/pointcloud_seg``) labels every point; objects are the Euclidean
clusters of each object class with upright boxes (yaw about the optical y axis,
:mod:`neuro_nodes.perception.pointcloud_detect`); with ``classify_clusters`` the classification
model (``cls_model``) re-classifies each cluster. Outputs, in the cloud's frame and stamp:
``labels`` (x, y, z float32 + ``label`` INT32: the segmentation class index, -1 outside the
model's voxel box), ``detections``, ``class_probabilities`` (one per detection, ``source``
naming it), ``markers`` (DELETEALL, then a CUBE and a TEXT per box) and, every
``energy_every`` clouds, ``energy`` per model (SOPs, MACs, energy on ``energy_profile``, the
dense network's energy from its MAC count). Inference runs on a worker thread; while it is
busy only the newest cloud waits (older ones: ``clouds_dropped``). A bad cloud (no x/y/z,
non-float32, too short for its point_step, empty, all NaN, nothing in the voxel box) is
counted by reason, logged at most every 5 s and shown on /diagnostics; the node goes on. A
missing model file stops the start-up with its path (exit 1).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from neuro_interfaces.msg import ClassProbabilities, Detection3DArray, EnergyReport
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from neuro_nodes.accel.counters import Counters
from neuro_nodes.accel.energy import PROFILES, missing_figure
from neuro_nodes.accel.report_window import ReportWindow
from neuro_nodes.core.params import param, validated
from neuro_nodes.perception import pointcloud_model as pcm
from neuro_nodes.perception.pointcloud_detect import STRUCTURE_CLASSES, DetectParams, detect
from neuro_nodes.ros import map_convert as mc
from neuro_nodes.ros import pointcloud_convert as pc
from neuro_nodes.ros.energy_report import energy_report, price
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, subscribes
from neuro_nodes.ros.qos import RELIABLE_QOS, SENSOR_QOS

LOG_EVERY_S = 5.0


@dataclasses.dataclass(frozen=True)
class PointCloudSnnParams:
    seg_model: str = param("", "Segmentation model (.json); empty: the shipped "
                           "config/models/pointcloud_seg", read_only=True)
    cls_model: str = param("", "Classification model (.json) of the clusters; empty: the "
                           "shipped config/models/pointcloud_cls", read_only=True)
    classify_clusters: bool = param(True, "Re-classify each detection with cls_model "
                                    "(class_probabilities)", read_only=True)
    backend: str = param("", "Sparse convolution backend; empty: the model's own",
                         choices=("", "torch", "spconv"), read_only=True)
    threads: int = param(2, "torch CPU threads of the inference (torch's setting is "
                         "per process)", min=1, max=256, read_only=True)
    max_points: int = param(10000, "Larger clouds are randomly subsampled to this many "
                            "points (seeded)", min=1, max=10_000_000)
    seed: int = param(0, "Seed of the subsampling", min=0, max=1_000_000_000)
    cluster_tolerance_m: float = param(0.08, "Largest gap between neighbouring points of one "
                                       "object (m)", min=1e-3, max=10.0)
    min_cluster_points: int = param(30, "Objects with fewer points are dropped", min=1,
                                    max=10_000_000)
    max_detections: int = param(32, "Most objects per cloud (the largest)", min=1,
                                max=100_000)
    ignore_classes: tuple[str, ...] = param(STRUCTURE_CLASSES, "Segmentation classes that "
                                            "are not objects")
    oriented_boxes: bool = param(True, "Boxes yawed about the optical y axis; false: "
                                 "axis-aligned")
    energy_profile: str = param("cmos45nm", "Chip profile of the energy reports",
                                choices=tuple(PROFILES))
    energy_every: int = param(1, "Clouds per energy report", min=1, max=1_000_000)

    def detect_params(self) -> DetectParams:
        return validated(DetectParams(self.cluster_tolerance_m, self.min_cluster_points,
                                      self.max_detections, tuple(self.ignore_classes),
                                      self.oriented_boxes))

    def validate(self) -> None:
        self.detect_params()


def load_model(path: str, task: str, backend: str) -> pcm.PointCloudModel:
    """``path`` or the shipped model of ``task``; ValueError naming a missing file."""
    file = Path(path).expanduser() if path else pcm.default_model_path(task)
    if not file.with_suffix(".json").is_file():
        shipped = "" if path else (" (the shipped model is not there: train it with 'neuro "
                                   "train pointcloud' or give the file)")
        raise ValueError(f"{task} model {file.with_suffix('.json')}: no such file{shipped}")
    model = pcm.load(file, backend=backend or None)
    if model.task != task:
        raise ValueError(f"{file}: a {model.task} model where a {task} model is needed")
    return model


class PointCloudSnnNode(NeuroNode[PointCloudSnnParams]):
    params_type = PointCloudSnnParams
    node_name = "pointcloud_snn"
    ports = (
        subscribes("points", "sensor_msgs/msg/PointCloud2", "input cloud: x, y, z float32 in "
                   "the camera optical frame", "sensor data"),
        publishes("labels", "sensor_msgs/msg/PointCloud2", "x, y, z + label INT32 (class "
                  "index, -1 outside the voxel box)", "reliable, depth 10"),
        publishes("detections", "neuro_interfaces/msg/Detection3DArray", "objects: upright "
                  "boxes, class, score, points", "reliable, depth 10"),
        publishes("class_probabilities", "neuro_interfaces/msg/ClassProbabilities",
                  "classify_clusters: one per detection", "reliable, depth 10"),
        publishes("markers", "visualization_msgs/msg/MarkerArray", "DELETEALL, then a CUBE "
                  "and a TEXT per detection", "reliable, depth 10"),
        publishes("energy", "neuro_interfaces/msg/EnergyReport", "per model, every "
                  "energy_every clouds", "reliable, depth 10"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        torch.set_num_threads(p.threads)
        self.seg = load_model(p.seg_model, "segmentation", p.backend)
        self.cls = load_model(p.cls_model, "classification", p.backend) \
            if p.classify_clusters else None
        self._names = {"seg": Path(p.seg_model or pcm.SHIPPED["segmentation"]).stem,
                       "cls": Path(p.cls_model or pcm.SHIPPED["classification"]).stem}
        self._windows = {"seg": ReportWindow(), "cls": ReportWindow()}
        self._window_profile = p.energy_profile  # the profile the windows are priced on
        self._pubs = {
            "labels": self.create_publisher(PointCloud2, "labels", RELIABLE_QOS),
            "detections": self.create_publisher(Detection3DArray, "detections", RELIABLE_QOS),
            "probs": self.create_publisher(ClassProbabilities, "class_probabilities",
                                           RELIABLE_QOS),
            "markers": self.create_publisher(MarkerArray, "markers", RELIABLE_QOS),
            "energy": self.create_publisher(EnergyReport, "energy", RELIABLE_QOS),
        }
        self._check_profile()
        self._last_log: dict[str, float] = {}
        self._pending: tuple[Any, np.ndarray] | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self.create_subscription(PointCloud2, "points", self._on_cloud, SENSOR_QOS)
        self._worker = threading.Thread(target=self._run, daemon=True, name="pointcloud_snn")
        self._worker.start()
        classify = f", clusters by {self._names['cls']}" if self.cls else ""
        self.get_logger().info(f"segmenting with {self._names['seg']} "
                               f"({len(self.seg.class_names)} classes){classify}")

    def _problem(self, reason: str, detail: str) -> None:
        self.health.error(reason, detail)
        now = time.monotonic()
        if now - self._last_log.get(reason, -1e9) >= LOG_EVERY_S:
            self._last_log[reason] = now
            self.get_logger().warning(f"{reason}: {detail}")

    def _check_profile(self) -> None:
        reason = missing_figure(self.params.energy_profile)
        if reason is None:
            self.conditions.pop("energy", None)
        else:
            self.conditions["energy"] = f"no energy figure: {reason}"

    def on_params_changed(self, old: PointCloudSnnParams, new: PointCloudSnnParams) -> None:
        self._check_profile()

    # -- executor thread: check the cloud, queue it (newest only) ---------------------------
    def _on_cloud(self, msg: PointCloud2) -> None:
        self.health.count("clouds")
        try:
            pts = mc.cloud_points(msg)
        except ValueError as err:
            self._problem("bad_cloud", str(err))
            return
        if len(pts) == 0:
            n = msg.width * msg.height
            if n == 0:
                self._problem("empty_cloud", "the cloud has no points")
            else:
                self._problem("no_finite_points", f"none of its {n} points is finite")
            return
        with self._wake:
            if self._pending is not None:
                self.health.count("clouds_dropped")
            self._pending = (msg.header, pts)
            self._wake.notify()

    # -- worker thread: inference, detections, outputs --------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                (header, pts), self._pending = self._pending, None
            try:
                self._process(header, pts)
            except Exception as err:  # a failed inference loses this cloud, not the node
                self._problem("inference_failure", f"{type(err).__name__}: {err}")

    def _process(self, header: Any, pts: np.ndarray) -> None:
        started, p = time.perf_counter(), self.params
        if p.energy_profile != self._window_profile:  # report the window on its own profile
            self._publish_energy()
            self._window_profile = p.energy_profile
        if len(pts) > p.max_points:
            rng = np.random.default_rng(p.seed)
            pts = pts[np.sort(rng.choice(len(pts), p.max_points, replace=False))]
        try:
            pred = self.seg.predict(pts, count=True)
        except ValueError as err:
            if "voxel box" not in str(err):
                raise
            # finite points, but none inside the voxel box
            self._problem("nothing_in_box", str(err))
            self._publish(header, pts, np.full(len(pts), pc.NO_LABEL), [])  # boxes vanish
            return
        self._account("seg", pred.counters, 1)
        dets = detect(pts, pred.point_labels, pred.point_probs, self.seg.class_names,
                      p.detect_params(), self._classify if self.cls else None)
        self._publish(header, pts, pred.point_labels, dets)
        self.health.count("inferences")
        self.health.count("detections", len(dets))
        self.stamp_latency(started)
        if self._windows["seg"].inferences >= p.energy_every:
            self._publish_energy()

    def _classify(self, points: np.ndarray) -> np.ndarray:
        pred = self.cls.predict(points, count=True)
        self._account("cls", pred.counters, 1)
        return pred.class_probs

    def _account(self, key: str, counters: Counters, inferences: int) -> None:
        self._windows[key].add(counters, price(counters, self._window_profile), inferences)

    def _publish(self, header: Any, pts: np.ndarray, labels: np.ndarray, dets: list) -> None:
        self._pubs["labels"].publish(pc.label_cloud(pts, labels, header))
        self._pubs["detections"].publish(pc.detections_msg(dets, header))
        for i, d in enumerate(dets):
            if d.class_probs is not None:
                self._pubs["probs"].publish(pc.class_probabilities(
                    d.class_probs, self.cls.class_names, header,
                    f"{self._names['cls']}: detections[{i}] ({d.class_name})"))
        self._pubs["markers"].publish(pc.markers(dets, header))

    def _publish_energy(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for key, window in self._windows.items():
            if window.inferences:
                self._pubs["energy"].publish(energy_report(
                    self._names[key], self._window_profile, window, stamp))
            self._windows[key] = ReportWindow()

    def destroy_node(self) -> None:
        if hasattr(self, "_worker"):
            with self._wake:
                self._stopping = True
                self._wake.notify()
            self._worker.join(timeout=10.0)
        super().destroy_node()


NODE_CLASS = PointCloudSnnNode


def main(args: Any = None) -> int:
    return run_node(PointCloudSnnNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
