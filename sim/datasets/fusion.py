"""Object recognition from a moving camera, from events AND a point cloud (multimodal fusion).

Each sample is one object of :data:`~sim.datasets.pointclouds.CLASSIFICATION_CLASSES`
(11 classes) posed, cluttered and viewed exactly as a classification view of
:mod:`sim.datasets.pointclouds` (:class:`~sim.datasets.pointclouds.ObjectViewRenderer`, its
:class:`~sim.datasets.pointclouds.ObjectViewParams`), with two sensors on the camera:

* **events**: the camera TURNS about the vertical during the ``duration_s`` before the view
  (yaw rate ``~ U(omega_min, omega_max)`` rad/s, random sign, ending at the view pose), so
  the object sweeps across the image as when the robot turns towards it;
  ``frames`` gray renders at ``event_width x event_height`` feed the DVS emulator
  (:class:`neuro_nodes.events.emulator.EventEmulator`, ``clean`` preset with the contrast
  threshold below, seeded per sample); the events become a count grid ``(bins, 2, H, W)``
  (uint8: ON / OFF events per time bin and pixel, clipped at 255);
* **point cloud**: the depth view at the last pose (object points only, noisy as the
  classification set), at most ``max_points`` points.

The two modalities see the same object at the same moment, so they agree on the class;
each is imperfect on its own (the events see a low-resolution silhouette and edges, the cloud
a sparse partial surface), which is what fusion is for.

=============== ======== ===================================================================
FusionParams    default  meaning
=============== ======== ===================================================================
event_width     64       event sensor width (px), same field of view as the depth camera
event_height    48       event sensor height (px)
frames          12       gray renders over the motion (the first only sets the pixel state)
duration_s      0.15     length of the motion before the view (s)
omega_min       0.5      smallest yaw rate of the turn (rad/s)
omega_max       1.0      largest yaw rate of the turn (rad/s)
bins            5        time bins of the event grid
ambient         0.3      headlight ambient intensity of the gray renders
diffuse         0.7      headlight diffuse intensity of the gray renders
contrast        0.2      emulator contrast thresholds C+ = C- (log units)
max_points      512      points of the cloud at most (seeded subset)
=============== ======== ===================================================================

Splits: sample ``i`` of class ``c`` in a split has the view seed
``SPLIT_SEED_BASE[split] + FUSION_SEED_OFFSET + i`` (class as a second seed word), disjoint
from every point-cloud classification sample and across splits; :data:`FUSION_SIZES` per
class (train 100, val 20, test 40: 1100 / 220 / 440 samples). TEST is for the final
evaluation only. :func:`build` caches a split as ``.npz`` (``$NEURO_FUSION_CACHE`` or
``~/.cache/neuro_nodes/fusion``) keyed by split, size, parameters and :data:`CODE_VERSION`.

Degradations (:func:`degrade`, seeded; applied to TEST inputs by the evaluation, never in
training): ``events_noise`` (Poisson background events at ``rate`` per pixel and bin),
``events_dropout`` (each event kept with probability ``1 - rate``), ``events_blackout`` (no
events), ``cloud_noise`` (isotropic Gaussian jitter of ``rate`` m), ``cloud_dropout`` (each
point kept with probability ``1 - rate``), ``cloud_blackout`` (no points).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.datasets.pointclouds import (
    CLASSIFICATION_CLASSES,
    SPLIT_SEED_BASE,
    SPLITS,
    ObjectViewParams,
    ObjectViewRenderer,
)

CODE_VERSION = 1
#: View seeds of the fusion set start this far into each split's seed range.
FUSION_SEED_OFFSET = 500_000
#: Samples per class per split.
FUSION_SIZES: dict[str, int] = {"train": 100, "val": 20, "test": 40}
#: The evaluation's conditions: name -> (modality, kind, rate).
CONDITIONS: dict[str, tuple[str, str, float]] = {
    "clean": ("", "", 0.0),
    "events_noise": ("events", "noise", 0.3),
    "events_dropout": ("events", "dropout", 0.8),
    "events_blackout": ("events", "blackout", 1.0),
    "cloud_noise": ("cloud", "noise", 0.03),
    "cloud_dropout": ("cloud", "dropout", 0.9),
    "cloud_blackout": ("cloud", "blackout", 1.0),
}


@dataclass(frozen=True)
class FusionParams:
    """The event sensor and the motion (table in the module docstring)."""

    event_width: int = param(64, "Event sensor width (px)", min=8, max=1024)
    event_height: int = param(48, "Event sensor height (px)", min=8, max=1024)
    frames: int = param(12, "Gray renders over the motion", min=2, max=1000)
    duration_s: float = param(0.15, "Motion before the view (s)", min=0.001, max=10.0)
    omega_min: float = param(0.5, "Smallest yaw rate of the turn (rad/s)", min=0.0, max=20.0)
    omega_max: float = param(1.0, "Largest yaw rate of the turn (rad/s)", min=0.0, max=20.0)
    bins: int = param(5, "Time bins of the event grid", min=1, max=64)
    ambient: float = param(0.3, "Headlight ambient intensity of the gray renders", min=0.0,
                           max=1.0)
    diffuse: float = param(0.7, "Headlight diffuse intensity of the gray renders", min=0.0,
                           max=1.0)
    contrast: float = param(0.2, "Emulator contrast thresholds (log units)", min=0.02,
                            max=5.0)
    max_points: int = param(512, "Most points per cloud", min=16, max=100_000)

    def validate(self) -> None:
        if self.omega_min > self.omega_max:
            raise ValueError("FusionParams: omega_min exceeds omega_max")
        if self.bins > self.frames - 1:
            raise ValueError("FusionParams: more time bins than frame intervals")


@dataclass(frozen=True)
class FusionSet:
    """A split: ``events`` (S, bins, 2, H, W) uint8 counts, clouds concatenated (cloud ``i``
    is ``points[offsets[i]:offsets[i+1]]``, optical frame), ``labels`` (S,)."""

    split: str
    events: np.ndarray
    points: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    seeds: np.ndarray
    class_names: tuple[str, ...] = CLASSIFICATION_CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def cloud(self, i: int) -> np.ndarray:
        return self.points[self.offsets[i]:self.offsets[i + 1]]


def split_seeds(split: str, per_class: int | None = None) -> np.ndarray:
    if split not in SPLITS:
        raise ValueError(f"split: {split!r} is not one of {list(SPLITS)}")
    n = FUSION_SIZES[split] if per_class is None else int(per_class)
    if not 1 <= n <= FUSION_SEED_OFFSET:
        raise ValueError(f"samples per class must be in 1..{FUSION_SEED_OFFSET}, got {n}")
    return SPLIT_SEED_BASE[split] + FUSION_SEED_OFFSET + np.arange(n, dtype=np.int64)


class FusionRenderer:
    """Renders fusion samples (events over the orbit + the final depth view)."""

    def __init__(self, params: FusionParams | None = None,
                 views: ObjectViewParams | None = None) -> None:
        from sim.sensors.camera import CameraSensor

        self.params = p = validated(params or FusionParams())
        self.views = ObjectViewRenderer(dataclasses.replace(
            views or ObjectViewParams(), max_points=p.max_points))
        m = self.views.model
        # the depth scene has no lights; a bright headlight gives the gray images contrast
        m.vis.headlight.ambient[:] = p.ambient
        m.vis.headlight.diffuse[:] = p.diffuse
        self.gray = CameraSensor(m, "depth_camera", p.event_width, p.event_height)

    def sample(self, label: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(event grid (bins, 2, H, W) uint8, cloud (N, 3) float32) of one sample."""
        from neuro_nodes.events.emulator import PRESETS, EventEmulator

        p = self.params
        view = self.views.view(label, seed)
        eye, target = self.views.eye.copy(), self.views.target.copy()
        rng = np.random.default_rng([int(seed), label, 7])
        omega = rng.uniform(p.omega_min, p.omega_max) * rng.choice([-1.0, 1.0])
        emulator = EventEmulator(p.event_width, p.event_height, dataclasses.replace(
            PRESETS["clean"], contrast_threshold_pos=p.contrast,
            contrast_threshold_neg=p.contrast, seed=int(rng.integers(2**32))))
        gaze = target - eye
        times = np.linspace(-p.duration_s, 0.0, p.frames)
        grid = np.zeros((p.bins, 2, p.event_height, p.event_width), np.int32)
        for t in times:  # the camera turns about the vertical; it ends at the view pose
            a = omega * t
            c, s = math.cos(a), math.sin(a)
            look = np.array([c * gaze[0] - s * gaze[1], s * gaze[0] + c * gaze[1], gaze[2]])
            self.views.place_camera(eye, eye + look)
            ev = emulator.feed(self.gray.rgb(self.views.data), int(round((t + p.duration_s)
                                                                          * 1e9)))
            if len(ev.t):
                b = np.minimum((ev.t * p.bins / (p.duration_s * 1e9)).astype(np.int64),
                               p.bins - 1)
                np.add.at(grid, (b, ev.p.astype(np.int64), ev.y.astype(np.int64),
                                 ev.x.astype(np.int64)), 1)
        return np.minimum(grid, 255).astype(np.uint8), view.points

    def close(self) -> None:
        self.gray.close()
        self.views.close()

    def __enter__(self) -> FusionRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def generate(split: str, per_class: int | None = None, params: FusionParams | None = None,
             progress: bool = True) -> FusionSet:
    """Render a split (no cache)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    seeds = split_seeds(split, per_class)
    jobs = [(int(s), c) for s in seeds for c in range(len(CLASSIFICATION_CLASSES))]
    grids, clouds = [], []
    with FusionRenderer(params) as r, Progress(
            TextColumn(f"[bold blue]fusion {split}"), BarColumn(), MofNCompleteColumn(),
            disable=not progress, transient=True) as bar:
        task = bar.add_task("", total=len(jobs))
        for seed, c in jobs:
            g, pts = r.sample(c, seed)
            grids.append(g)
            clouds.append(pts)
            bar.advance(task)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in clouds])]).astype(np.int64)
    return FusionSet(split, np.stack(grids), np.concatenate(clouds).astype(np.float32),
                     offsets, np.array([c for _, c in jobs], np.int64),
                     np.array([s for s, _ in jobs], np.int64))


def default_cache_dir() -> Path:
    env = os.environ.get("NEURO_FUSION_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "neuro_nodes" / "fusion"


def cache_path(split: str, per_class: int | None = None, params: FusionParams | None = None,
               cache_dir: Path | str | None = None) -> Path:
    p = validated(params or FusionParams())
    n = len(split_seeds(split, per_class))
    blob = json.dumps({"split": split, "per_class": n, "params": dataclasses.asdict(p),
                       "code": CODE_VERSION}, sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / f"fusion-{split}-{key}.npz"


def build(split: str, per_class: int | None = None, params: FusionParams | None = None,
          cache_dir: Path | str | None = None, progress: bool = True) -> FusionSet:
    """The split from the cache, or rendered (progress bar, one-line summary) and cached."""
    path = cache_path(split, per_class, params, cache_dir)
    if path.exists():
        try:
            with np.load(path) as z:
                return FusionSet(split, z["events"], z["points"], z["offsets"], z["labels"],
                                 z["seeds"])
        except (OSError, ValueError, KeyError) as err:
            print(f"fusion: {path}: unreadable cache ({err}); regenerating")
    t0 = time.perf_counter()
    fs = generate(split, per_class, params, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, events=fs.events, points=fs.points, offsets=fs.offsets,
                        labels=fs.labels, seeds=fs.seeds)
    os.replace(tmp, path)
    if progress:
        ev = fs.events.reshape(len(fs), -1).sum(1)
        print(f"fusion {split}: {len(fs)} samples, events per sample median "
              f"{int(np.median(ev))}, points per cloud median "
              f"{int(np.median(np.diff(fs.offsets)))}, {time.perf_counter() - t0:.1f} s "
              f"-> {path}")
    return fs


def degrade(events: np.ndarray, cloud: np.ndarray, condition: str,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One sample's inputs under an evaluation condition (:data:`CONDITIONS`)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition: {condition!r} is not one of {list(CONDITIONS)}")
    modality, kind, rate = CONDITIONS[condition]
    if modality == "events":
        if kind == "blackout":
            events = np.zeros_like(events)
        elif kind == "dropout":
            events = rng.binomial(events.astype(np.int64), 1.0 - rate).astype(events.dtype)
        else:
            noise = rng.poisson(rate, events.shape)
            events = np.minimum(events.astype(np.int64) + noise, 255).astype(events.dtype)
    elif modality == "cloud":
        if kind == "blackout":
            cloud = cloud[:0]
        elif kind == "dropout":
            cloud = cloud[rng.random(len(cloud)) >= rate]
        else:
            cloud = (cloud + rng.normal(0.0, rate, cloud.shape)).astype(np.float32)
    return events, cloud


__all__ = ["CONDITIONS", "FUSION_SIZES", "FusionParams", "FusionRenderer", "FusionSet",
           "build", "cache_path", "degrade", "generate", "split_seeds"]
