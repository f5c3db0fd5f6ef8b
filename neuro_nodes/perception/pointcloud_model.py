"""A trained point-cloud network (:mod:`.e3dsnn`) with its voxelisation, classes and files.

One :class:`PointCloudModel` serves one task:

* ``"classification"``: a cloud of ONE object (a cluster, a partial view) -> class
  probabilities; voxelised in the ``normalised`` box (scale invariant);
* ``"segmentation"``: a scene cloud in the camera's optical frame (x right, y down,
  z forward, metres) -> a class per point; voxelised in a ``metric`` box of that frame.

Files: ``<name>.json`` (task, class names, :class:`~.voxelize.VoxelizeParams`,
:class:`~.e3dsnn.E3DSNNParams`, training metadata) beside ``<name>.pt`` (the state dict,
read with ``weights_only=True``: a model file cannot run code).  :func:`load` raises
ValueError naming the file and what is wrong.  The shipped models are
``config/models/pointcloud_cls`` and ``config/models/pointcloud_seg``
(:func:`default_model_path`).

Energy: :meth:`PointCloudModel.predict` with ``count=True`` returns the pass's
:class:`~neuro_nodes.accel.counters.Counters`; :func:`neuro_nodes.accel.energy.estimate`
prices them on a chip profile (``cmos45nm``: 0.9 pJ per accumulate, 4.6 pJ per MAC).
:meth:`PointCloudModel.ann_twin` is the same architecture and weights with ReLU instead of
multi-spike neurons; its MAC count depends only on the architecture and the active sites,
so it is the energy reference on the same input.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuro_nodes.accel.counters import Counters
from neuro_nodes.core.params import validated

from .e3dsnn import E3DSNN, E3DSNNParams
from .voxelize import VoxelizeParams, voxelize

TASKS = ("classification", "segmentation")
SHIPPED = {"classification": "pointcloud_cls", "segmentation": "pointcloud_seg"}


@dataclass
class Prediction:
    """One cloud's result. Classification fills ``class_probs``; segmentation fills
    ``point_labels`` / ``point_probs`` (points outside the box: label -1, probs 0)."""

    class_probs: np.ndarray | None  # (C,) float32
    point_labels: np.ndarray | None  # (N,) int64, -1 outside the voxel box
    point_probs: np.ndarray | None  # (N, C) float32
    voxels: int  # active voxels at full resolution
    counters: Counters | None  # SOPs / MACs of this pass (count=True)
    ms: float  # wall time of voxelisation + network


@dataclass
class PointCloudModel:
    task: str
    net: E3DSNN
    voxelize: VoxelizeParams
    class_names: tuple[str, ...]
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task: {self.task!r} is not one of {list(TASKS)}")
        want = "normalised" if self.task == "classification" else "metric"
        if self.voxelize.mode != want:
            raise ValueError(f"a {self.task} model voxelises in the {want!r} box, "
                             f"got mode={self.voxelize.mode!r}")
        p = self.net.params
        n = p.num_classes if self.task == "classification" else p.num_seg_classes
        if n != len(self.class_names):
            raise ValueError(f"{len(self.class_names)} class names for a network with {n} "
                             f"{self.task} outputs")
        if p.max_spikes != self.voxelize.max_spikes:
            raise ValueError(f"voxelize.max_spikes {self.voxelize.max_spikes} differs from the "
                             f"network's {p.max_spikes}")
        self.net.eval()

    @property
    def num_parameters(self) -> int:
        return sum(int(t.numel()) for t in self.net.parameters())

    def ann_twin(self) -> PointCloudModel:
        """The same architecture and weights with ReLU neurons (the energy reference)."""
        net = E3DSNN(dataclasses.replace(self.net.params, ann=True))
        net.load_state_dict(self.net.state_dict())
        return dataclasses.replace(self, net=net, meta={**self.meta, "ann_twin": True})

    def with_backend(self, backend: str) -> PointCloudModel:
        """The same model on another sparse-conv backend (``torch`` or ``spconv``)."""
        net = E3DSNN(dataclasses.replace(self.net.params, backend=backend))
        net.load_state_dict(self.net.state_dict())
        return dataclasses.replace(self, net=net)

    @torch.no_grad()
    def predict(self, points: np.ndarray | Tensor, *, count: bool = False) -> Prediction:
        """Run one cloud ``(N, 3)`` (metres; the optical frame for segmentation)."""
        t0 = time.perf_counter()
        pts = np.asarray(points, np.float64) if not isinstance(points, Tensor) else points
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"points: expected shape (N, 3), got {tuple(pts.shape)}")
        finite = np.isfinite(np.asarray(pts)).all(1)
        if len(pts) == 0 or not finite.any():
            raise ValueError("points: the cloud has no finite point")
        svc = voxelize(pts[finite], self.voxelize)
        if len(svc.voxels.coords) == 0:
            raise ValueError("points: no point falls inside the model's voxel box")
        out = self.net(svc, count=count)
        probs_c = labels = probs_p = None
        if self.task == "classification":
            probs_c = torch.softmax(out.logits[0], 0).numpy().astype(np.float32)
        else:
            # softmax once per voxel: every point of a voxel has its voxel's logits
            vox_probs = torch.softmax(out.voxel_logits, 1).numpy().astype(np.float32)
            vox_labels = out.voxel_logits.argmax(1).numpy()
            p2v = svc.point_to_voxel.numpy()
            inside = p2v >= 0
            rows = np.flatnonzero(finite)[inside]
            probs_p = np.zeros((len(pts), len(self.class_names)), np.float32)
            probs_p[rows] = vox_probs[p2v[inside]]
            labels = np.full(len(pts), -1, np.int64)
            labels[rows] = vox_labels[p2v[inside]]
        return Prediction(probs_c, labels, probs_p, len(svc.voxels.coords), out.counters,
                          1e3 * (time.perf_counter() - t0))


# ------------------------------------------------------------------------------------ files
def default_model_path(task: str) -> Path:
    """The shipped model of ``task``: ``config/models/pointcloud_{cls,seg}.json``."""
    from neuro_nodes.paths import data_dir

    if task not in TASKS:
        raise ValueError(f"task: {task!r} is not one of {list(TASKS)}")
    return data_dir("config") / "models" / f"{SHIPPED[task]}.json"


def save(model: PointCloudModel, path: Path | str) -> Path:
    """Write ``path`` (``.json``) and its ``.pt``; returns the json path."""
    js = Path(path).with_suffix(".json")
    js.parent.mkdir(parents=True, exist_ok=True)
    info = {"task": model.task, "class_names": list(model.class_names),
            "voxelize": dataclasses.asdict(model.voxelize),
            "network": dataclasses.asdict(model.net.params),
            "parameters": model.num_parameters, "weights": js.with_suffix(".pt").name,
            **model.meta}
    torch.save(model.net.state_dict(), js.with_suffix(".pt"))
    js.write_text(json.dumps(info, indent=1) + "\n")
    return js


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def load(path: Path | str, *, backend: str | None = None) -> PointCloudModel:
    """Read a model (``.json`` or ``.pt`` path); ``backend`` overrides the stored one."""
    js = Path(path).with_suffix(".json")
    try:
        info = json.loads(js.read_text())
    except FileNotFoundError:
        raise ValueError(f"{js}: no such model file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{js}: not valid JSON: {e}") from None
    if not isinstance(info, dict):
        raise ValueError(f"{js}: expected a JSON object")
    try:
        net_params = _tuples(dict(info["network"]))
        if backend is not None:
            net_params["backend"] = backend
        net_p = validated(E3DSNNParams(**net_params))
        vox = validated(VoxelizeParams(**_tuples(dict(info["voxelize"]))))
        task, names = str(info["task"]), tuple(str(c) for c in info["class_names"])
    except KeyError as e:
        raise ValueError(f"{js}: field {e} missing") from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"{js}: bad model description: {e}") from None
    pt = js.with_suffix(".pt")
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{pt}: missing (each model json needs its weights)") from None
    except Exception as e:  # torch raises several types for damaged files
        raise ValueError(f"{pt}: unreadable weights: {e}") from None
    net = E3DSNN(net_p)
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"{pt}: weights do not fit {js.name}'s network: {e}") from None
    meta = {k: v for k, v in info.items()
            if k not in ("task", "class_names", "voxelize", "network", "weights")}
    try:
        return PointCloudModel(task, net, vox, names, meta)
    except ValueError as e:
        raise ValueError(f"{js}: {e}") from None


__all__ = ["SHIPPED", "TASKS", "PointCloudModel", "Prediction", "default_model_path", "load",
           "save"]
