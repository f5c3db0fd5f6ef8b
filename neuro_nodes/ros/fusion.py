"""fusion: the object's class from events AND its point cloud (the IEMF-trained fusion network,
:mod:`neuro_nodes.perception.fusion`), answering on through a dead sensor.

Inputs: ``events`` (``EventPacket``, any encoding the codecs decode): the events of the last
``window_s`` (sensor clock) become the network's count grid, pixels scaled from the camera's
resolution to the grid's (:class:`~neuro_nodes.perception.fusion.inputs.SlidingEventGrid`);
``points`` (``PointCloud2``, x, y, z float32: the object's points in the camera optical
frame, as in training; the finite ones within ``max_range_m``, at most ``max_points``,
seeded). A modality is live while its last good message is under ``stale_after_s`` old (on
the node's clock: sim time with ``use_sim_time``). Every ``1 / rate_hz`` s the node answers
from the live ones: ``class_probabilities`` from the fused head when both are live, else from
the live modality's own head, ``source`` saying which and why, e.g. ``fused (events+cloud)``
or ``cloud only: events stale 2.3 s`` (``missing``: never received);
``events/class_probabilities`` and ``cloud/class_probabilities``: each live modality's own
head (its top probability is that modality's confidence). With both stale nothing is
published (counted: ``no_live_modality``). /diagnostics: the node's status WARNs while a
modality is stale or missing (``warn:events``, ``warn:cloud``); counts ``events_messages``,
``cloud_messages``, ``*_bad`` and errors by reason; and one status per modality
(``<node>: events``, ``<node>: cloud``: ``state`` live / stale / missing, ``age_s``,
``messages``, ``bad_messages``). A bad message (an undecodable packet; a cloud without
float32 x/y/z, too short for its point_step, or with no usable point) is counted, logged at
most every 5 s and never stops the node, nor makes its modality live. A missing or unreadable
model stops the start-up naming the file (exit 1).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from event_camera_msgs.msg import EventPacket
from neuro_interfaces.msg import ClassProbabilities
from rclpy.qos import QoSProfile
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from neuro_nodes.core.params import param
from neuro_nodes.events.codecs import CodecError, make_decoder
from neuro_nodes.events.packet_decode import decode_packets
from neuro_nodes.perception.fusion import model as fm
from neuro_nodes.perception.fusion.answer import answer
from neuro_nodes.perception.fusion.inputs import WINDOW_S, SlidingEventGrid, prepare_cloud
from neuro_nodes.perception.fusion.liveness import Liveness, source
from neuro_nodes.ros import map_convert as mc
from neuro_nodes.ros.diagnostics import DIAGNOSTICS_TOPIC
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.pointcloud_convert import class_probabilities
from neuro_nodes.ros.ports import publishes, subscribes
from neuro_nodes.ros.qos import EVENTS_QOS, RELIABLE_QOS, SENSOR_QOS

LOG_EVERY_S = 5.0
MAX_QUEUED_PACKETS = 1000  # decoded before the next answer when they pile up (bounds memory)


@dataclasses.dataclass(frozen=True)
class FusionNodeParams:
    model: str = param("", "Fusion model (.json); empty: the shipped config/models/fusion",
                       read_only=True)
    rate_hz: float = param(10.0, "Answers per second", min=0.1, max=1000.0, read_only=True)
    stale_after_s: float = param(0.5, "A modality whose last good message is older is stale: "
                                 "answered without", min=0.001, max=1e6)
    window_s: float = param(WINDOW_S, "Events of this last span (s, sensor clock) form the "
                            "grid (the training set's: 0.15)", min=0.001, max=10.0,
                            read_only=True)
    max_points: int = param(512, "Larger clouds are subsampled to this many points (seeded)",
                            min=1, max=10_000_000)
    max_range_m: float = param(0.0, "Points farther from the sensor are dropped (m); 0: none",
                               min=0.0, max=1e4)
    seed: int = param(0, "Seed of the subsampling", min=0, max=1_000_000_000)
    threads: int = param(2, "torch CPU threads of the inference (torch's setting is per "
                         "process)", min=1, max=256, read_only=True)


def load_model(path: str) -> tuple[fm.FusionNet, list[str]]:
    """``path`` or the shipped model, and its class names; ValueError naming the file."""
    file = (Path(path).expanduser() if path else fm.default_model_path()).with_suffix(".json")
    if not file.is_file():
        shipped = "" if path else " (the shipped model is not there: train it with 'neuro " \
                                  "train fusion' or give the file)"
        raise ValueError(f"fusion model {file}: no such file{shipped}")
    net, meta = fm.load(file)
    names = meta.get("class_names")
    if not isinstance(names, list) or len(names) != net.params.num_classes:
        raise ValueError(f"{file}: class_names must name its {net.params.num_classes} classes")
    return net, [str(n) for n in names]


class FusionNode(NeuroNode[FusionNodeParams]):
    params_type = FusionNodeParams
    node_name = "fusion"
    ports = (
        subscribes("events", "event_camera_msgs/msg/EventPacket", "event packets (any "
                   "encoding the codecs decode)", "best effort, depth 1000"),
        subscribes("points", "sensor_msgs/msg/PointCloud2", "the object's points: x, y, z "
                   "float32 in the camera optical frame", "sensor data"),
        publishes("class_probabilities", "neuro_interfaces/msg/ClassProbabilities", "fused "
                  "head, or the live modality's; source names it and what is stale",
                  "reliable, depth 10"),
        publishes("events/class_probabilities", "neuro_interfaces/msg/ClassProbabilities",
                  "the event head, while events are live", "reliable, depth 10"),
        publishes("cloud/class_probabilities", "neuro_interfaces/msg/ClassProbabilities",
                  "the cloud head, while the cloud is live", "reliable, depth 10"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        torch.set_num_threads(p.threads)
        self.net, self.class_names = load_model(p.model)
        self._name = Path(p.model or fm.default_model_path()).stem
        self.grid = SlidingEventGrid(p.window_s)
        self._decoder = None
        self._key: tuple[str, int, int] | None = None
        self._queued: list[tuple[EventPacket, float]] = []  # (packet, arrival on our clock)
        self._cloud: np.ndarray | None = None
        self.liveness = Liveness(fm.MODALITIES, p.stale_after_s)
        self._frame = {m: "" for m in fm.MODALITIES}
        self._last_log: dict[str, float] = {}
        self._pubs = {k: self.create_publisher(ClassProbabilities, topic, RELIABLE_QOS)
                      for k, topic in (("fused", "class_probabilities"),
                                       ("events", "events/class_probabilities"),
                                       ("cloud", "cloud/class_probabilities"))}
        self._diag = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC,
                                           QoSProfile(depth=10))
        self.create_subscription(EventPacket, "events", self._on_packet, EVENTS_QOS)
        self.create_subscription(PointCloud2, "points", self._on_cloud, SENSOR_QOS)
        self.create_timer(1.0 / p.rate_hz, self._on_tick)
        self.create_timer(1.0, self._publish_modalities)
        self.get_logger().info(f"fusing events and clouds with {self._name} "
                               f"({len(self.class_names)} classes) at {p.rate_hz:g} Hz")

    def on_params_changed(self, old: FusionNodeParams, new: FusionNodeParams) -> None:
        self.liveness.stale_after_s = new.stale_after_s

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _problem(self, reason: str, detail: str, modality: str = "", n: int = 1) -> None:
        """Counted by reason (``n`` times), and as a bad message of ``modality`` if given."""
        self.health.error(reason, detail, n)
        if modality:
            self.health.count(f"{modality}_bad")
        now = time.monotonic()
        if now - self._last_log.get(reason, -1e9) >= LOG_EVERY_S:
            self._last_log[reason] = now
            self.get_logger().warning(f"{reason}: {detail}")

    # -- inputs (executor thread) -------------------------------------------------------
    def _on_packet(self, msg: EventPacket) -> None:
        self.health.count("events_messages")
        key = (msg.encoding, int(msg.width), int(msg.height))
        if key != self._key:
            self._decode_queued()  # by the decoder of their own stream
            try:
                decoder = make_decoder(*key)
            except (CodecError, ValueError) as err:
                self._problem("undecodable_packet", str(err), "events")
                return
            self._decoder, self._key = decoder, key
            self.grid.reset()
        self._queued.append((msg, self._now()))
        if len(self._queued) >= MAX_QUEUED_PACKETS:
            self._decode_queued()

    def _decode_queued(self) -> None:
        queued, self._queued = self._queued, []
        if not queued:
            return
        result = decode_packets(self._decoder, [m for m, _ in queued])
        for failure in result.failures:
            self._problem("decoder_failure", failure, "events")
        if not result.ok:
            return
        if result.errors:
            self._problem("corrupt_events", f"{result.errors} in packets {queued[0][0].seq}.."
                          f"{queued[-1][0].seq}", n=result.errors)
            if not len(result.events):
                return  # nothing but garbage: the sensor is not shown to be alive
        self.grid.push(result.events)
        self.health.count("events", len(result.events))
        last = queued[result.ok[-1]]
        self.liveness.seen("events", last[1])
        self._frame["events"] = last[0].header.frame_id

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.health.count("cloud_messages")
        p = self.params
        try:
            pts = prepare_cloud(mc.cloud_points(msg), p.max_points, p.max_range_m, p.seed)
        except ValueError as err:
            self._problem("bad_cloud", str(err), "cloud")
            return
        if len(pts) == 0:
            self._problem("no_usable_points", f"none of its {msg.width * msg.height} points "
                          f"is finite and within max_range_m {p.max_range_m:g}", "cloud")
            return
        self._cloud = pts
        self.liveness.seen("cloud", self._now())
        self._frame["cloud"] = msg.header.frame_id

    # -- answers ------------------------------------------------------------------------
    def _on_tick(self) -> None:
        started = time.perf_counter()
        self._decode_queued()
        states = self.liveness.states(self._now())
        for m, s in states.items():
            if s.live:
                self.conditions.pop(m, None)
            else:
                self.conditions[m] = str(s)
        live = {m for m, s in states.items() if s.live}
        if not live:
            self.health.count("no_live_modality")
            return
        try:
            ans = answer(self.net, self.grid.grid() if "events" in live else None,
                         self._cloud if "cloud" in live else None)
        except Exception as err:  # a failed inference loses this answer, not the node
            self._problem("inference_failure", f"{type(err).__name__}: {err}")
            return
        head = ans.prediction.head
        header = Header(stamp=self.get_clock().now().to_msg(),
                        frame_id=self._frame["cloud" if "cloud" in live else "events"])
        self._pubs["fused"].publish(class_probabilities(
            ans.prediction.probabilities, self.class_names, header, source(head, states)))
        for m, probs in ans.heads.items():
            self._pubs[m].publish(class_probabilities(
                probs, self.class_names, header,
                f"{m} head (confidence {ans.prediction.confidences[m]:.2f})"))
        self.health.count(f"answers_{head}")
        self.stamp_latency(started)

    def _publish_modalities(self) -> None:
        now = self.get_clock().now()
        name = self.get_fully_qualified_name()
        out = DiagnosticArray()
        out.header.stamp = now.to_msg()
        counts = self.health.counts
        for m, s in self.liveness.states(now.nanoseconds * 1e-9).items():
            values = {"state": s.state, "age_s": "" if s.age_s is None else f"{s.age_s:.3f}",
                      "messages": counts[f"{m}_messages"], "bad_messages": counts[f"{m}_bad"]}
            out.status.append(DiagnosticStatus(
                level=DiagnosticStatus.OK if s.live else DiagnosticStatus.WARN,
                name=f"{name.lstrip('/')}: {m}", hardware_id=name,
                message=s.state if s.age_s is None else
                f"{s.state}, last good message {s.age_s:.1f} s ago",
                values=[KeyValue(key=k, value=str(v)) for k, v in values.items()]))
        self._diag.publish(out)


NODE_CLASS = FusionNode


def main(args: Any = None) -> int:
    return run_node(FusionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
