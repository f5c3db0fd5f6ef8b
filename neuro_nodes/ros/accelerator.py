"""accelerator: hosts NIR spiking networks and runs them event-driven, like a neuromorphic
chip on the robot, and says what they would cost on real neuromorphic hardware.

Loads every ``*.nir`` in ``model_dir`` by name (file stem), several at once, and reloads
added, changed and removed files every ``reload_period`` seconds; a file that fails to
load is reported (by graph node and primitive) while the other models keep serving.
``/accel/infer`` (neuro_interfaces/Infer) runs ``[T, B, ...]`` inputs; streaming: each
model listens on ``/accel/<model>/input`` (std_msgs/Float32MultiArray, one time step
``[B, ...]``, shape in ``layout.dim``) and answers on ``/accel/<model>/output`` with its
state kept between steps. ``/accel/energy`` (neuro_interfaces/EnergyReport) publishes,
per model, the counters and energy of the last window on the ``profile`` chip.

Bad input never stops the node: a ``model_dir`` that is missing or not a directory is
refused at start-up (exit 1); an input with NaN or Inf is refused with its reason (Infer:
``success=false``; streaming: counted) and counted as ``non_finite_input``; a profile
without a sourced figure (``speck``) keeps serving with NaN energies ("no figure") and says
so on /diagnostics and in the Infer message; a served file replaced by a broken one keeps
serving the last good version and says so (/diagnostics WARN naming file and error, Infer
message), until the file loads again.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from neuro_interfaces.msg import EnergyReport
from neuro_interfaces.srv import Infer
from std_msgs.msg import Float32MultiArray, MultiArrayDimension

from neuro_nodes.accel.energy import PROFILES, missing_figure
from neuro_nodes.accel.errors import AccelError, NonFiniteInput, check_finite
from neuro_nodes.accel.registry import ModelRegistry
from neuro_nodes.accel.report_window import ReportWindow
from neuro_nodes.core.params import param
from neuro_nodes.ros.energy_report import energy_report, price
from neuro_nodes.ros.node_base import NeuroNode, run_node
from neuro_nodes.ros.ports import publishes, service, subscribes
from neuro_nodes.ros.qos import RELIABLE_QOS


@dataclasses.dataclass(frozen=True)
class AcceleratorParams:
    model_dir: str = param("", "Directory of *.nir models (served by file stem)",
                           read_only=True)
    backend: str = param("event", "Runtime: event-driven, dense reference, or lava-nc",
                         choices=("event", "dense", "lava"), read_only=True)
    dt: float = param(0.0, "Time step (s); 0: each graph's metadata['dt']", min=0.0,
                      max=1.0, read_only=True)
    profile: str = param("loihi", "Chip profile of the energy estimates",
                         choices=tuple(PROFILES))
    energy_period: float = param(1.0, "Seconds between energy reports", min=0.05,
                                 max=3600.0, read_only=True)
    reload_period: float = param(2.0, "Seconds between model directory scans (0 = never)",
                                 min=0.0, max=3600.0, read_only=True)

    def validate(self) -> None:
        if not self.model_dir:
            raise ValueError("parameter 'model_dir' is empty: give the directory of *.nir files")


def to_array(msg: Float32MultiArray) -> np.ndarray:
    shape = [d.size for d in msg.layout.dim] or [len(msg.data)]
    return np.asarray(msg.data, dtype=np.float32).reshape(shape)


def from_array(a: np.ndarray) -> Float32MultiArray:
    msg = Float32MultiArray(data=a.astype(np.float32).ravel().tolist())
    stride = int(np.prod(a.shape))
    for i, size in enumerate(a.shape):
        msg.layout.dim.append(MultiArrayDimension(label=f"d{i}", size=int(size),
                                                  stride=stride))
        stride //= max(int(size), 1)
    return msg


class AcceleratorNode(NeuroNode[AcceleratorParams]):
    params_type = AcceleratorParams
    node_name = "accelerator"
    ports = (
        service("/accel/infer", "neuro_interfaces/srv/Infer", "run a model on [T, B, ...]"),
        subscribes("/accel/<model>/input", "std_msgs/msg/Float32MultiArray",
                   "one time step [B, ...] for streaming execution"),
        publishes("/accel/<model>/output", "std_msgs/msg/Float32MultiArray",
                  "the model's output for that step"),
        publishes("/accel/energy", "neuro_interfaces/msg/EnergyReport",
                  "per model: counters and energy over the last window", "reliable"),
    )

    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(self.node_name, **node_kwargs)
        p = self.params
        folder = Path(p.model_dir).expanduser()
        if not folder.exists():
            raise ValueError(f"model_dir: {folder}: no such directory")
        if not folder.is_dir():
            raise ValueError(f"model_dir: {folder}: not a directory (give the folder of the "
                             "*.nir files)")
        self.registry = ModelRegistry(p.model_dir, dt=p.dt or None, backend=p.backend,
                                      load=False)
        self._locks: dict[str, threading.Lock] = {}
        self._windows: dict[str, ReportWindow] = {}
        self._streams: dict[str, tuple[Any, Any]] = {}
        self._energy_pub = self.create_publisher(EnergyReport, "/accel/energy", RELIABLE_QOS)
        self.create_service(Infer, "/accel/infer", self._on_infer)
        self._check_profile()
        self._reload()
        if not len(self.registry):
            self.get_logger().info(f"no models in {folder} yet: watching it for *.nir files")
        self.create_timer(p.energy_period, self._publish_energy)
        if p.reload_period > 0:
            self.create_timer(p.reload_period, self._reload)

    # -- models -------------------------------------------------------------------------
    def _reload(self) -> None:
        report = self.registry.reload()
        for name in report.added + report.changed:
            if name in report.failed:
                self.health.error("model_load_failed", f"{name}: {report.failed[name]}")
                self.get_logger().error(f"model '{name}' not loaded: {report.failed[name]}")
            else:
                self.get_logger().info(f"serving model '{name}'")
        for name in report.removed:
            self.get_logger().info(f"model '{name}' removed")
        for key in [k for k in self.conditions if k.startswith("model")]:
            del self.conditions[key]
        if not self.registry.model_dir.is_dir():  # removed or replaced while serving
            self.conditions["model_dir"] = f"{self.registry.model_dir}: no longer a directory"
        for name, st in self.registry.status().items():
            if st["stale"]:  # a broken update: the last good version keeps serving
                self.conditions[f"model:{name}"] = (
                    f"{st['path']} failed to load ({st['error']}): serving its last good "
                    "version")
        served = set(self.registry.names())
        for name in served - set(self._streams):
            self._locks.setdefault(name, threading.Lock())
            self._windows.setdefault(name, ReportWindow())
            self._streams[name] = self._open_stream(name)
        for name in set(self._streams) - served:
            sub, pub = self._streams.pop(name)
            if sub is not None:
                self.destroy_subscription(sub)
                self.destroy_publisher(pub)

    def _open_stream(self, name: str) -> tuple[Any, Any]:
        """The streaming topics of ``name``; (None, None) when the file stem is not a valid
        topic name (the model is still served by /accel/infer)."""
        try:
            pub = self.create_publisher(Float32MultiArray, f"/accel/{name}/output", 10)
        except Exception as err:  # rclpy's InvalidTopicNameException and kin
            self.health.error("no_stream_topics", f"{name}: {err}")
            self.get_logger().warning(f"model '{name}': no streaming topics ({err})")
            return None, None
        sub = self.create_subscription(
            Float32MultiArray, f"/accel/{name}/input",
            lambda msg, n=name, out=pub: self._on_step(n, msg, out), 10)
        return sub, pub

    def _check_profile(self) -> None:
        reason = missing_figure(self.params.profile)
        if reason is None:
            self.conditions.pop("energy", None)
        else:
            self.conditions["energy"] = f"no energy figure: {reason}"
            self.get_logger().warning(f"energy reports carry NaN (no figure): {reason}")

    def on_params_changed(self, old: AcceleratorParams, new: AcceleratorParams) -> None:
        if old.profile != new.profile:
            self._publish_energy(old.profile)  # the window so far, on the profile it ran on
            self._check_profile()

    def _notes(self, name: str) -> str:
        """What an Infer answer must say besides its result (stale model, no energy)."""
        return "; ".join(v for k, v in sorted(self.conditions.items())
                         if k in (f"model:{name}", "energy"))

    def _harvest(self, name: str, model: Any, inferences: int = 0,
                 profile: str | None = None):
        """Move the model's counters into the report window; return them and their energy
        (NaN where the profile has no figure)."""
        counters = model.counters()
        energy = price(counters, profile or self.params.profile)
        self._windows[name].add(counters, energy, inferences)
        model.reset_counters()
        return counters, energy

    # -- requests -----------------------------------------------------------------------
    def _on_infer(self, req: Infer.Request, res: Infer.Response) -> Infer.Response:
        started = time.perf_counter()
        try:
            model = self.registry.get(req.model)
            x = torch.from_numpy(check_finite(np.asarray(req.input, dtype=np.float32).reshape(
                [int(s) for s in req.shape])))
            with self._locks[req.model]:
                self._harvest(req.model, model)  # streamed steps stay in the window
                if req.reset_state:
                    model.reset()
                y = model.run(x)
                counters, energy = self._harvest(req.model, model, inferences=1)
        except (AccelError, KeyError, ValueError, RuntimeError) as err:
            reason = "non_finite_input" if isinstance(err, NonFiniteInput) else "bad_request"
            self.health.error(reason, f"{req.model}: {type(err).__name__}: {err}")
            res.success, res.message = False, str(err)
            return res
        out = (y if isinstance(y, torch.Tensor) else next(iter(y.values()))).numpy()
        res.success, res.message = True, self._notes(req.model)
        res.output, res.shape = out.ravel().tolist(), [int(s) for s in out.shape]
        res.latency_s = time.perf_counter() - started
        res.energy = self._report(req.model, ReportWindow(
            time_steps=counters.steps, inferences=1, sops=energy.sops, macs=energy.macs,
            energy_j=energy.total_j, dense_energy_j=energy.dense_equivalent_j))
        self.health.count("inferences")
        self.health.count("busy_us", round(res.latency_s * 1e6))
        self.health.latency(res.latency_s)
        return res

    def _on_step(self, name: str, msg: Float32MultiArray, pub: Any) -> None:
        started = time.perf_counter()
        try:
            model = self.registry.get(name)
            with self._locks[name]:
                y = model.step(torch.from_numpy(check_finite(to_array(msg))))
        except (AccelError, KeyError, ValueError, RuntimeError) as err:
            reason = "non_finite_input" if isinstance(err, NonFiniteInput) else "bad_step"
            self.health.error(reason, f"/accel/{name}/input: {type(err).__name__}: {err}")
            return
        out = y if isinstance(y, torch.Tensor) else next(iter(y.values()))
        pub.publish(from_array(out.numpy()))
        self.health.count("steps")
        self.health.count("busy_us", round((time.perf_counter() - started) * 1e6))
        self.stamp_latency(started)

    # -- reports ------------------------------------------------------------------------
    def _report(self, name: str, window: ReportWindow,
                profile: str | None = None) -> EnergyReport:
        return energy_report(name, profile or self.params.profile, window,
                             self.get_clock().now().to_msg())

    def _publish_energy(self, profile: str | None = None) -> None:
        for name in self.registry.names():
            with self._locks[name]:
                self._harvest(name, self.registry.get(name), profile=profile)
                w, self._windows[name] = self._windows[name], ReportWindow()
            if w.time_steps:
                self._energy_pub.publish(self._report(name, w, profile))


NODE_CLASS = AcceleratorNode


def main(args=None) -> int:
    return run_node(AcceleratorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
