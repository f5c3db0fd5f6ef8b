"""``neuro eval mapping``: every mapper on the same simulated depth sequences, against the
scene's exact signed distance.

Per static sequence (:data:`sim.datasets.mapping.TEST_SPECS` unless one is named) each
method gets a fresh mapper over the room's bounds and integrates the same noisy frames in
order; then, on evaluation points and true surface points drawn once per sequence from the
noise-free frames with fixed seeds (:mod:`neuro_nodes.mapping.metrics`, identical for all
methods):

================= ===========================================================================
key               meaning
================= ===========================================================================
sdf_l1_near_m     mean |d_hat - d| at near-surface points (|d| <= 0.10 m)
sdf_l1_free_m     the same in visible free space (d > 0.10 m)
observed_near     share of near points the mapper calls observed
chamfer_m         (accuracy + completion) / 2 of the final mesh (accuracy_m, completion_m)
completion_ratio  share of true surface points within 5 cm of the mesh (precision_ratio:
                  share of mesh samples within 5 cm of the true surface)
update_hz         1 / mean ``compute_s`` of the ``integrate`` calls (update_ms_median too);
                  each method first takes one scan into a throwaway mapper (warm_up_ms), so
                  one-off costs such as JIT compilation are not counted
query_ms_10k      median over repeats of a 10k-point distance+gradient query (uniform in the
                  bounds, fixed seed) after one warm-up; first_query_ms_10k is that warm-up
                  (it includes lazy work, e.g. the TSDF's ESDF rebuild after an update)
memory_mb         ``memory_bytes()`` / 2^20 after the last frame
mesh_s            wall time of ``mesh()``
clear_updates     moving spec: scans after the move until 90 % of the old surface points read
                  more than half their true (free) distance; None = not within the budget
                  (10 scans); clear_updates_half: until half of them do
================= ===========================================================================

The overall value of a key is the mean over sequences (per sequence under ``sequences``).
Methods asked for but not registered, or that cannot start (e.g. their module is absent),
are skipped with a note, never faked.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuro_nodes.mapping import metrics as M
from neuro_nodes.mapping.registry import METHODS, make_mapper
from neuro_nodes.mapping.types import Mapper
from sim.datasets.mapping import MappingSequence

QUERY_POINTS = 10_000
QUERY_REPEATS = 7
#: Updates after the move within which clearing is looked for (the goal is 5).
CLEAR_BUDGET = 10


@dataclass(frozen=True)
class EvalConfig:
    """How much of each sequence is used (``quick`` shrinks everything for a smoke test)."""

    frames: int | None = None  # first N frames of each static sequence (None: all)
    pixels_per_frame: int = 500
    mesh_samples: int = 50_000
    surface_samples: int = 30_000
    pre_move_frames: int | None = None  # frames before the move (None: all)
    clear_budget: int = CLEAR_BUDGET
    noise: bool = True

    @staticmethod
    def quick(frames: int | None = None, noise: bool = True) -> EvalConfig:
        return EvalConfig(frames=frames or 15, pixels_per_frame=150, mesh_samples=10_000,
                          surface_samples=5_000, pre_move_frames=8, clear_budget=5,
                          noise=noise)


@dataclass(frozen=True)
class Truth:
    """What one static sequence is scored against (shared by all methods)."""

    frames: range
    points: M.EvalPoints
    surface: np.ndarray
    distance: Callable[[np.ndarray], np.ndarray]
    query_points: np.ndarray


def split_methods(text: str) -> tuple[list[str], list[str]]:
    """(registered, unknown) method names of a comma-separated list."""
    asked = [m.strip() for m in text.split(",") if m.strip()]
    return [m for m in asked if m in METHODS], [m for m in asked if m not in METHODS]


def parse_overrides(items: list[str], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``["tsdf.voxel_size=0.04", ...]`` -> ``{"tsdf": {"voxel_size": 0.04}}`` (values as
    JSON where they parse, else strings); ValueError for a malformed item."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        head, eq, text = item.partition("=")
        method, dot, key = head.partition(".")
        if not (eq and dot and method and key):
            raise ValueError(f"--param {item!r}: expected METHOD.KEY=VALUE")
        if method not in methods:
            raise ValueError(f"--param {item!r}: method {method!r} is not being run "
                             f"({', '.join(methods)})")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out.setdefault(method, {})[key] = tuple(value) if isinstance(value, list) else value
    return {m: _coerced(m, changes) for m, changes in out.items()}


#: Each method's parameter dataclass (module, class), to coerce and check overrides early.
_PARAMS = {"neural": ("neuro_nodes.mapping.neural_sdf", "NeuralSDFParams"),
           "tsdf": ("neuro_nodes.mapping.tsdf", "TSDFParams")}


def _coerced(method: str, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` coerced to the field types (7 -> 7.0 for a float) and range-checked;
    ValueError for an unknown or out-of-range parameter. Unchanged when the method's module
    cannot be imported (starting the mapper then fails with a note)."""
    import importlib

    from neuro_nodes.core.params import replace_validated

    if method not in _PARAMS:
        return changes
    module, name = _PARAMS[method]
    try:
        params_type = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return changes
    try:
        checked = replace_validated(params_type(), changes)
    except ValueError as err:
        raise ValueError(f"--param {method}: {err}") from None
    return {k: getattr(checked, k) for k in changes}


def start_mapper(name: str, seq: MappingSequence, notes: list[str],
                 params: dict[str, Any] | None = None) -> Mapper | None:
    """A fresh mapper (parameter overrides ``params``), or None with a note when it cannot
    start (a bad override included)."""
    try:
        return make_mapper(name, seq.bounds, **(params or {}))
    except (ImportError, ValueError, OSError, RuntimeError, TypeError) as err:
        notes.append(f"{name}: cannot start ({type(err).__name__}: {err}), skipped")
        return None


def warm_up(name: str, seq: MappingSequence, params: dict[str, Any] | None = None) -> float:
    """Wall time (ms) of one scan into a throwaway mapper: one-off costs (JIT compilation,
    first allocations) that the timed runs then do not count."""
    mapper = make_mapper(name, seq.bounds, **(params or {}))
    t0 = time.perf_counter()
    mapper.integrate(seq.scan(0))
    mapper.query(np.zeros((10, 3)) + np.asarray(seq.bounds.min_xyz) + 0.5 * seq.bounds.size)
    return 1e3 * (time.perf_counter() - t0)


def truth_for(seq: MappingSequence, cfg: EvalConfig) -> Truth:
    n = len(seq) if cfg.frames is None else min(cfg.frames, len(seq))
    frames = range(n)
    clean = [seq.scan(k, noise=False) for k in frames]
    sdf = seq.scene_sdf()
    points = M.sample_eval_points(clean, sdf.distance, pixels_per_frame=cfg.pixels_per_frame,
                                  seed=0)
    surface = M.surface_points(clean, cfg.surface_samples, seed=0)
    lo, hi = np.asarray(seq.bounds.min_xyz), np.asarray(seq.bounds.max_xyz)
    q = np.random.default_rng(5).uniform(lo, hi, (QUERY_POINTS, 3))
    return Truth(frames, points, surface, sdf.distance, q)


def _query_timing(mapper: Mapper, points: np.ndarray) -> tuple[float, float, float]:
    """(first, median, max of the repeats) wall time (ms) of a query at ``points``."""
    t0 = time.perf_counter()
    mapper.query(points)
    first = 1e3 * (time.perf_counter() - t0)
    times = []
    for _ in range(QUERY_REPEATS):
        t0 = time.perf_counter()
        mapper.query(points)
        times.append(1e3 * (time.perf_counter() - t0))
    return first, float(np.median(times)), float(np.max(times))


def evaluate_static(mapper: Mapper, seq: MappingSequence, truth: Truth, cfg: EvalConfig,
                    advance: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Integrate the sequence's frames and score the final map."""
    compute = []
    for k in truth.frames:
        compute.append(mapper.integrate(seq.scan(k, noise=cfg.noise)).compute_s)
        advance()
    near = mapper.query(truth.points.near)
    free = mapper.query(truth.points.free)
    first, q_med, q_max = _query_timing(mapper, truth.query_points)
    t0 = time.perf_counter()
    mesh = mapper.mesh()
    mesh_s = time.perf_counter() - t0
    mm = M.mesh_metrics(mesh, truth.distance, truth.surface, n_mesh_samples=cfg.mesh_samples,
                        seed=0)
    c = np.asarray(compute)
    return {
        "frames": len(c),
        "sdf_l1_near_m": M.sdf_l1(near.distance, truth.points.near_true),
        "sdf_l1_free_m": M.sdf_l1(free.distance, truth.points.free_true),
        "observed_near": float(np.mean(near.observed)),
        "observed_free": float(np.mean(free.observed)),
        "near_points": len(truth.points.near_true),
        "free_points": len(truth.points.free_true),
        **mm,
        "mesh_triangles": len(mesh.triangles),
        "mesh_s": mesh_s,
        "update_hz": float(1.0 / c.mean()),
        "update_ms_median": float(1e3 * np.median(c)),
        "update_ms_max": float(1e3 * c.max()),
        "query_ms_10k": q_med,
        "query_ms_10k_max": q_max,
        "first_query_ms_10k": first,
        "memory_mb": mapper.memory_bytes() / 2**20,
    }


def evaluate_clearing(mapper: Mapper, seq: MappingSequence, cfg: EvalConfig,
                      advance: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Map the moving sequence up to the move, then count the updates until the old
    surface points clear (:func:`neuro_nodes.mapping.metrics.clear_updates`)."""
    mv = seq.moved
    if mv is None:
        raise ValueError(f"{seq.name} is not a moving sequence")
    true_after = seq.scene_sdf(after_move=True).distance(mv.old_surface_points)
    start = 0 if cfg.pre_move_frames is None else max(0, mv.move_frame - cfg.pre_move_frames)
    for k in range(start, mv.move_frame):
        mapper.integrate(seq.scan(k, noise=cfg.noise))
        advance()
    before = mapper.query(mv.old_surface_points).distance
    estimates, fractions = [], []
    for k in range(mv.move_frame, min(len(seq), mv.move_frame + cfg.clear_budget)):
        mapper.integrate(seq.scan(k, noise=cfg.noise))
        advance()
        est = mapper.query(mv.old_surface_points).distance
        estimates.append(est)
        fractions.append(M.cleared_fraction(est, true_after))
    return {"sequence": seq.name, "object": mv.body, "move_frame": mv.move_frame,
            "pre_move_frames": mv.move_frame - start, "old_points": len(true_after),
            "old_surface_l1_before_m": float(np.mean(np.abs(before))),
            "clear_updates": M.clear_updates(estimates, true_after),
            "clear_updates_half": M.clear_updates(estimates, true_after, fraction=0.5),
            "cleared_fraction": fractions}


def summarise(per_seq: dict[str, dict[str, Any]],
              clearing: dict[str, Any] | None) -> dict[str, Any]:
    """Means over sequences of every numeric key, the clearing result, and per sequence."""
    out: dict[str, Any] = {}
    rows = list(per_seq.values())
    if rows:
        for key, value in rows[0].items():
            if isinstance(value, (int, float)):
                vals = [float(r[key]) for r in rows]
                out[key] = float(np.mean(vals)) if all(np.isfinite(vals)) else None
        out["frames"] = int(sum(r["frames"] for r in rows))
    out["clear_updates"] = clearing["clear_updates"] if clearing else None
    out["clear_updates_half"] = clearing["clear_updates_half"] if clearing else None
    out["clearing"] = clearing
    out["sequences"] = per_seq
    return clean_json(out)


def clean_json(v: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python (json.dumps-safe)."""
    if isinstance(v, dict):
        return {k: clean_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean_json(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


__all__ = [
    "CLEAR_BUDGET",
    "EvalConfig",
    "Truth",
    "clean_json",
    "evaluate_clearing",
    "evaluate_static",
    "parse_overrides",
    "split_methods",
    "start_mapper",
    "summarise",
    "truth_for",
    "warm_up",
]
