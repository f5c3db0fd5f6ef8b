"""Point-cloud SNN latency: the pure-torch sparse convolution vs spconv, per 10k-point cloud.

Everything is measured in one process, on the same clouds, in the same run::

    neuro bench pointcloud [--quick] [--json]      (or python -m benchmarks.pointcloud)

Clouds: views of the mobile robot's depth camera (346 x 260) in the TEST rooms of
:mod:`sim.datasets.pointclouds`, keeping ``10_000`` points each (as ``neuro eval
pointcloud``'s latency row), rendered here, not cached.

Networks: the shipped ``config/models/pointcloud_{cls,seg}.json`` when present; otherwise an
untrained network of the shipped architecture (:func:`sim.train.pointcloud.network_params`,
its voxel box and class table), which has the same cost per voxel but not the trained
activity, so SOP-dependent numbers differ (the output says which was used).

Timed: ``PointCloudModel.predict`` (Spike Voxel Coding + network + softmax) of each cloud on
the ``torch`` and ``spconv`` backends, interleaved, after one warm-up pass each; the median
over clouds x repeats; voxelisation alone is timed too (it is the same for both backends).
``speedup_spconv_vs_torch`` is the torch time over the spconv time (> 1: spconv faster).
The backends' outputs are compared on every cloud (``agreement``): spconv 2.3.8's CPU
submanifold conv has been seen to return wrong sums now and then with more than one torch
thread, so a disagreement here is a finding, not noise.

Threads: torch's own count (``OMP_NUM_THREADS`` sets it).  On a machine that runs something
else (a training job), more threads than free cores make every pass 10-100x slower
(OpenMP's waiting threads): compare runs at the same thread count and load average, both
printed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any

import numpy as np
import torch

from benchmarks import machine as shared_machine
from benchmarks import suite_main

POINTS = 10_000
TASKS = ("segmentation", "classification")
BACKENDS = ("torch", "spconv")


def _log(msg: str) -> None:
    print(f"[bench pointcloud] {msg}", file=sys.stderr, flush=True)


def clouds(n: int) -> list[np.ndarray]:
    """``n`` views of ``POINTS`` points, two per TEST room."""
    import sim  # noqa: F401  (chooses the GL backend before mujoco loads)
    from sim.datasets import pointclouds as pc

    out: list[np.ndarray] = []
    params = pc.RoomViewParams(max_points=POINTS)
    for room in pc.SEGMENTATION_ROOMS["test"]:
        with pc.RoomViewRenderer(room, params) as r:
            out += [r.view(k).points for k in range(min(2, n - len(out)))]
        if len(out) >= n:
            break
    return out


def model_for(task: str) -> tuple[Any, str, bool]:
    """(model, where it came from, trained?): the shipped model, else an untrained one."""
    from neuro_nodes.perception.e3dsnn import E3DSNN
    from neuro_nodes.perception.pointcloud_model import PointCloudModel, default_model_path, load
    from sim.datasets import pointclouds as pc
    from sim.train import pointcloud as tp

    path = default_model_path(task)
    why = f"{path} missing"
    if path.exists():
        try:
            return load(path, backend="torch"), str(path), True
        except ValueError as err:
            why = f"{path} unreadable ({err})".splitlines()[0]
    names = pc.CLASSIFICATION_CLASSES if task == "classification" else pc.SEGMENTATION_CLASSES
    vox = tp.CLASSIFICATION_VOXELS if task == "classification" else tp.SEGMENTATION_VOXELS
    torch.manual_seed(0)
    net = E3DSNN(tp.network_params(task, len(names)))
    return (PointCloudModel(task, net, vox, names),
            f"untrained network of the shipped architecture ({why})", False)


def _median_ms(times: list[float]) -> float:
    return round(1e3 * float(np.median(times)), 3)


def time_task(model: Any, data: list[np.ndarray], backends: tuple[str, ...],
              repeats: int) -> dict[str, Any]:
    """Interleaved predict() timings per backend, voxelisation alone, and agreement."""
    from neuro_nodes.perception.voxelize import voxelize

    models = {b: model.with_backend(b) for b in backends}
    for m in models.values():  # warm-up: first-call allocations, spconv's lazy set-up
        m.predict(data[0])
    times: dict[str, list[float]] = {b: [] for b in backends}
    vox_times: list[float] = []
    voxels = []
    for c in data:
        for _ in range(repeats):
            for b, m in models.items():
                t0 = time.perf_counter()
                m.predict(c)
                times[b].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            svc = voxelize(c, model.voxelize)
            vox_times.append(time.perf_counter() - t0)
        voxels.append(len(svc.voxels.coords))
    out: dict[str, Any] = {
        "ms": {b: {"median": _median_ms(t), "p90": round(1e3 * float(np.percentile(t, 90)), 3)}
               for b, t in times.items()},
        "voxelize_ms": _median_ms(vox_times), "voxels": int(np.median(voxels)),
        "runs": len(vox_times)}
    if "spconv" in models:
        out["speedup_spconv_vs_torch"] = round(
            out["ms"]["torch"]["median"] / out["ms"]["spconv"]["median"], 3)
        diff, same = 0.0, []
        for c in data:
            a, s = models["torch"].predict(c), models["spconv"].predict(c)
            if model.task == "classification":
                diff = max(diff, float(np.abs(a.class_probs - s.class_probs).max()))
                same.append(float(np.argmax(a.class_probs) == np.argmax(s.class_probs)))
            else:
                diff = max(diff, float(np.abs(a.point_probs - s.point_probs).max()))
                same.append(float((a.point_labels == s.point_labels).mean()))
        out["agreement"] = {"max_prob_diff": diff, "label_agreement": float(np.mean(same))}
    return out


def run(quick: bool = False) -> dict[str, Any]:
    n_clouds, repeats = (2, 2) if quick else (6, 5)
    have_spconv = importlib.util.find_spec("spconv") is not None
    backends = BACKENDS if have_spconv else ("torch",)
    out: dict[str, Any] = {
        "quick": quick, "machine": {**shared_machine("spconv"), "torch": torch.__version__,
                                    "torch_threads": torch.get_num_threads()},
        "points": POINTS, "clouds": n_clouds, "repeats": repeats, "backends": list(backends),
        "models": {}, "tasks": {}, "notes": []}
    if not have_spconv:
        out["notes"].append("spconv not installed (pip install spconv==2.3.8): torch only")
    _log(f"rendering {n_clouds} room views of {POINTS} points")
    data = clouds(n_clouds)
    for task in TASKS:
        model, source, trained = model_for(task)
        out["models"][task] = {"source": source, "trained": trained,
                               "parameters": model.num_parameters}
        _log(f"{task}: {len(backends)} backends x {n_clouds} clouds x {repeats} repeats")
        out["tasks"][task] = time_task(model, data, backends, repeats)
    out["load_average"] = os.getloadavg()[0]  # what else ran meanwhile
    return out


def table(res: dict[str, Any]) -> str:
    m = res["machine"]
    backends = res["backends"]
    lines = [f"machine: {m['cpu']} x{m['cpu_count']}, torch {m['torch']} "
             f"({m['torch_threads']} threads), spconv {m['spconv']}, load average "
             f"{res['load_average']:.2f}",
             f"{res['clouds']} room views of {res['points']} points, {res['repeats']} repeats "
             "each, median ms of predict() (voxelise + network)", "",
             f"{'task':16s}{'voxels':>8s}{'voxelise':>10s}" + "".join(
                 f"{b:>10s}" for b in backends) + (
                 f"{'spconv/torch':>14s}{'max dprob':>11s}{'labels =':>10s}"
                 if "spconv" in backends else "")]
    for task, r in res["tasks"].items():
        line = f"{task:16s}{r['voxels']:8d}{r['voxelize_ms']:10.1f}" + "".join(
            f"{r['ms'][b]['median']:10.1f}" for b in backends)
        if "spconv" in backends:
            a = r["agreement"]
            line += (f"{r['speedup_spconv_vs_torch']:13.2f}x{a['max_prob_diff']:11.1e}"
                     f"{100 * a['label_agreement']:9.1f}%")
        lines.append(line)
    lines.append("")
    for task, info in res["models"].items():
        lines.append(f"{task} model: {info['source']}, {info['parameters']} parameters")
    lines += [f"note: {n}" for n in res["notes"]]
    seg, cls = res["tasks"]["segmentation"], res["tasks"]["classification"]
    summary = (f"bench pointcloud: per {res['points']}-point cloud, segmentation "
               f"{seg['ms']['torch']['median']:.1f} ms, classification "
               f"{cls['ms']['torch']['median']:.1f} ms on torch")
    if "spconv" in backends:
        summary += (f"; spconv speed-up {seg['speedup_spconv_vs_torch']:.2f}x / "
                    f"{cls['speedup_spconv_vs_torch']:.2f}x")
    untrained = [t for t, i in res["models"].items() if not i["trained"]]
    summary += (f"; UNTRAINED {' and '.join(untrained)} model (no shipped one)" if untrained
                else "; shipped models")
    lines.append(summary)
    return "\n".join(lines)


if __name__ == "__main__":
    suite_main(__name__)
