"""Procedural point-cloud datasets from depth renders: object classification and room segmentation.

Both sets are depth images of the mobile robot's depth camera (58 deg vertical field of
view, 346 x 260 px: :mod:`sim.scenes.mobile_robot`), back-projected to points in the
camera OPTICAL frame (x right, y down, z forward; :mod:`sim.sensors.pointcloud`), labelled
by the segmentation image through :class:`sim.ground_truth.labels.GeomLabels`.

**Classification** (``kind="classification"``): one object of :data:`CLASSIFICATION_CLASSES`
(the room's 9 :data:`~sim.scenes.classes.OBJECT_CLASSES` plus the
:data:`~sim.scenes.classes.EXTRA_OBJECT_CLASSES`, 11 in all) on a floor plane, seen as a
PARTIAL view. Per sample, from its seed:

* the object (built by the room's builders at size 1) is scaled uniformly by
  ``s ~ U(1 - j, 1 + j)``, turned by a yaw ``~ U(-pi, pi)`` and moved by ``U(-p, p)`` in x
  and y;
* up to ``max_clutter`` clutter primitives (box, sphere or cylinder, class ``unknown``) stand
  on the floor around it; they may occlude it;
* the camera stands at azimuth ``~ U(-pi, pi)``, horizontal distance
  ``rho ~ U(rho_min, rho_max)`` (raised to ``1.15 R / tan(fov_v / 2)`` for an object of
  bounding radius ``R``, so it fits the image), height ``~ U(h_min, h_max)``, and looks at the
  object's box centre plus a jitter of ``target_jitter`` times its half extents;
* the object's pixels (its instance in the segmentation image) become points; with
  ``context_m > 0`` floor and clutter points within that distance of them are kept too
  (``on_object`` False);
* a view with fewer than ``min_points`` object points is redrawn (a new viewpoint and clutter).

**Segmentation** (``kind="segmentation"``): the mobile robot in the room of a seed
(:func:`sim.scenes.mobile_robot.mobile_robot_scene`), placed kinematically at a position
uniform in a disc of ``disc_radius_m`` about the origin (inside the room's clear disc) with a
uniform yaw; every point carries its class as an index into :data:`SEGMENTATION_CLASSES`
(unknown, floor, wall, ceiling and the 9 room objects), for mIoU.

Depth noise (both sets, from the sample's seed): ``z' = q round((z + n) / q)``,
``n ~ N(0, (a z^2)^2)`` (Kinect-like axial noise, as :mod:`sim.datasets.mapping`); the
point moves along its pixel ray. Clouds larger than ``max_points`` keep a seeded random
subset of their points (without replacement); :func:`resample` makes fixed-size clouds.

============== ========= ==================================================================
ObjectViewParams default meaning
============== ========= ==================================================================
width, height  346, 260  depth image size (px): the robot's depth camera
fovy           58.0      vertical field of view (deg): the robot's depth camera
scale_jitter   0.2       uniform scale ``s ~ U(1 - j, 1 + j)``
position_m     0.5       object position ``x, y ~ U(-p, p)`` (m)
distance_min_m 0.8       smallest horizontal camera distance ``rho_min`` (m)
distance_max_m 3.0       largest horizontal camera distance ``rho_max`` (m)
height_min_m   0.2       lowest camera height ``h_min`` (m; the robot's camera is at 0.22)
height_max_m   1.6       highest camera height ``h_max`` (m)
target_jitter  0.15      look-at jitter, fraction of the object's half extents
max_clutter    2         clutter primitives per view: ``U{0..max_clutter}``
clutter_size_m 0.15      largest clutter half size (m; the smallest is 0.04)
context_m      0.0       keep floor/clutter points this close to the object (m; 0 = none)
noise_a        0.001     axial noise coefficient a (1/m): ``sigma = a z^2``
noise_quant_m  0.001     depth quantisation step q (m)
max_points     2048      stored points per cloud at most
min_points     128       fewest object points of an accepted view
============== ========= ==================================================================

============== ========= ==================================================================
RoomViewParams default   meaning
============== ========= ==================================================================
width, height  346, 260  depth image size (px): the robot's depth camera
disc_radius_m  1.2       robot positions are uniform in this disc about the origin (m)
views_per_room 8         views of each room
noise_a        0.001     axial noise coefficient a (1/m)
noise_quant_m  0.001     depth quantisation step q (m)
max_points     8192      stored points per cloud at most
============== ========= ==================================================================

Splits (fixed, disjoint seeds; :func:`split_seeds`): classification sample ``i`` of a split
has seed ``SPLIT_SEED_BASE[split] + i`` (the class is a second seed word), with
:data:`CLASSIFICATION_SIZES` samples per class (train 200, val 40, test 60: 2200 / 440 /
660 clouds); segmentation uses rooms :data:`SEGMENTATION_ROOMS` (train 200..219, val
250..254, test 300..309), disjoint from the mapping test rooms 0..2 and tuning rooms
100..102. TEST is for the final evaluation only, never for tuning.

:func:`build` renders a split (progress bar, one-line summary) and caches it as ``.npz``
under ``cache_dir`` (default ``~/.cache/neuro_nodes/pointclouds`` or
``$NEURO_POINTCLOUDS_CACHE``) keyed by a hash of the kind, split, size, parameters and
:data:`CODE_VERSION` (bump it when generation changes); :func:`load` reads it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.scenes.classes import CLASS_IDS, EXTRA_OBJECT_CLASSES, OBJECT_CLASSES

#: Per kind: bump when its generated data would change for the same split, size and
#: parameters (one kind's bump leaves the other kind's caches valid).
CODE_VERSION: dict[str, int] = {"classification": 1, "segmentation": 2}
KINDS = ("classification", "segmentation")
SPLITS = ("train", "val", "test")
#: The classification classes; a label is an index into this tuple.
CLASSIFICATION_CLASSES: tuple[str, ...] = OBJECT_CLASSES + EXTRA_OBJECT_CLASSES
#: The segmentation classes; a point label is an index into this tuple.
SEGMENTATION_CLASSES: tuple[str, ...] = ("unknown", "floor", "wall", "ceiling", *OBJECT_CLASSES)
#: Classification samples per class per split.
CLASSIFICATION_SIZES: dict[str, int] = {"train": 200, "val": 40, "test": 60}
#: Classification seeds of a split start here; a split holds fewer than SEED_STRIDE samples.
SEED_STRIDE = 1_000_000
SPLIT_SEED_BASE: dict[str, int] = {s: k * SEED_STRIDE for k, s in enumerate(SPLITS)}
#: Segmentation room seeds per split.
SEGMENTATION_ROOMS: dict[str, tuple[int, ...]] = {
    "train": tuple(range(200, 220)), "val": tuple(range(250, 255)),
    "test": tuple(range(300, 310))}
#: Redraws of a view whose object shows fewer than ``min_points`` points.
MAX_ATTEMPTS = 30
#: Where unused objects wait: straight below the floor plane, which hides them.
_STASH = (0.0, 0.0, -10.0)
_CLUTTER_TYPES = ("box", "sphere", "cylinder")


@dataclass(frozen=True)
class ObjectViewParams:
    """Classification views (table in the module docstring)."""

    width: int = param(346, "Depth image width (px)", min=16, max=4096)
    height: int = param(260, "Depth image height (px)", min=16, max=4096)
    fovy: float = param(58.0, "Vertical field of view (deg)", min=10.0, max=120.0)
    scale_jitter: float = param(0.2, "Uniform object scale jitter j", min=0.0, max=0.5)
    position_m: float = param(0.5, "Object position range p (m)", min=0.0, max=5.0)
    distance_min_m: float = param(0.8, "Smallest horizontal camera distance (m)",
                                  min=0.2, max=20.0)
    distance_max_m: float = param(3.0, "Largest horizontal camera distance (m)",
                                  min=0.2, max=20.0)
    height_min_m: float = param(0.2, "Lowest camera height (m)", min=0.05, max=5.0)
    height_max_m: float = param(1.6, "Highest camera height (m)", min=0.05, max=5.0)
    target_jitter: float = param(0.15, "Look-at jitter (fraction of half extents)",
                                 min=0.0, max=1.0)
    max_clutter: int = param(2, "Most clutter primitives per view", min=0, max=4)
    clutter_size_m: float = param(0.15, "Largest clutter half size (m)", min=0.04, max=0.5)
    context_m: float = param(0.0, "Keep floor/clutter points this close to the object (m)",
                             min=0.0, max=1.0)
    noise_a: float = param(0.001, "Axial depth noise coefficient a (1/m)", min=0.0, max=0.1)
    noise_quant_m: float = param(0.001, "Depth quantisation step (m)", min=0.0, max=0.1)
    max_points: int = param(2048, "Most stored points per cloud", min=16, max=1_000_000)
    min_points: int = param(128, "Fewest object points of an accepted view", min=1,
                            max=100_000)

    def validate(self) -> None:
        if self.distance_min_m > self.distance_max_m:
            raise ValueError("ObjectViewParams: distance_min_m exceeds distance_max_m")
        if self.height_min_m > self.height_max_m:
            raise ValueError("ObjectViewParams: height_min_m exceeds height_max_m")
        if self.min_points > self.max_points:
            raise ValueError("ObjectViewParams: min_points exceeds max_points")


@dataclass(frozen=True)
class RoomViewParams:
    """Segmentation views (table in the module docstring)."""

    width: int = param(346, "Depth image width (px)", min=16, max=4096)
    height: int = param(260, "Depth image height (px)", min=16, max=4096)
    disc_radius_m: float = param(1.2, "Robot positions lie in this disc (m)", min=0.0,
                                 max=1.3)
    views_per_room: int = param(8, "Views of each room", min=1, max=1000)
    noise_a: float = param(0.001, "Axial depth noise coefficient a (1/m)", min=0.0, max=0.1)
    noise_quant_m: float = param(0.001, "Depth quantisation step (m)", min=0.0, max=0.1)
    max_points: int = param(8192, "Most stored points per cloud", min=16, max=1_000_000)


# ---------------------------------------------------------------------------------- helpers
def noisy_depth(depth: np.ndarray, a: float, quant: float,
                rng: np.random.Generator) -> np.ndarray:
    """``depth`` with axial noise ``N(0, (a z^2)^2)`` and quantisation ``quant`` (finite
    pixels only; see the module docstring)."""
    z = depth.astype(np.float64)
    ok = np.isfinite(z) & (z > 0)
    if a > 0:
        z[ok] += rng.standard_normal(int(ok.sum())) * a * z[ok] ** 2
    if quant > 0:
        z[ok] = np.round(z[ok] / quant) * quant
    z[ok] = np.maximum(z[ok], 1e-3)
    return z.astype(np.float32)


def backproject(depth: np.ndarray, mask: np.ndarray,
                intrinsics: tuple[float, float, float, float]) -> np.ndarray:
    """Optical-frame points (N, 3) float32 of the ``mask`` pixels (row-major order)."""
    fx, fy, cx, cy = intrinsics
    v, u = np.nonzero(mask)
    z = depth[v, u].astype(np.float64)
    return np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1).astype(np.float32)


def _subsample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``limit`` of ``n`` items (all of them when n <= limit)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, limit, replace=False))


def resample(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (n,) of a fixed-size resampling of a cloud of ``len(points)`` points: a random
    subset without replacement when it has at least ``n``, else every point once plus random
    repeats (index the points, and their labels, with it)."""
    m = len(points)
    if n < 1:
        raise ValueError(f"resample: n must be >= 1, got {n}")
    if m == 0:
        raise ValueError("resample: the cloud is empty")
    if m >= n:
        return rng.choice(m, n, replace=False)
    return np.concatenate([rng.permutation(m), rng.choice(m, n - m, replace=True)])


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MuJoCo camera rotation (columns x right, y up, z backward) looking from eye to
    target with the world z up."""
    f = target - eye
    f = f / np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x = x / np.linalg.norm(x)  # the camera never looks straight down (heights vs distances)
    z = -f
    return np.stack([x, np.cross(z, x), z], axis=1)


def _geom_half_extents(gtype: int, size: np.ndarray) -> np.ndarray:
    """Half extents of a geom's local axis-aligned box."""
    import mujoco

    t = mujoco.mjtGeom
    r = size[0]
    if gtype == t.mjGEOM_SPHERE:
        return np.array([r, r, r])
    if gtype == t.mjGEOM_CAPSULE:
        return np.array([r, r, size[1] + r])
    if gtype == t.mjGEOM_CYLINDER:
        return np.array([r, r, size[1]])
    if gtype == t.mjGEOM_BOX:
        return size.copy()
    raise ValueError(f"object geoms must be primitives, got geom type {gtype}")


# ---------------------------------------------------------------------------------- views
@dataclass(frozen=True)
class ObjectView:
    """One classification view: points in the optical frame and their ground truth."""

    points: np.ndarray  # (N, 3) float32
    on_object: np.ndarray  # (N,) bool; False for kept floor/clutter context points
    label: int  # index into CLASSIFICATION_CLASSES
    T_world_camera: np.ndarray  # (4, 4) optical frame in the world
    attempts: int  # views drawn until one showed enough of the object


class ObjectViewRenderer:
    """Renders classification views: one MuJoCo model holds every class's object and the
    clutter; a view poses one object (the others wait below the floor) and the camera.
    Call :meth:`close` (or use ``with``)."""

    def __init__(self, params: ObjectViewParams | None = None) -> None:
        import sim.gl

        sim.gl.configure()
        import mujoco

        from sim.ground_truth.labels import GeomLabels
        from sim.sensors.camera import CameraSensor

        self.params = p = validated(params or ObjectViewParams())
        self.model = mujoco.MjModel.from_xml_string(self._xml(p))
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._bodies = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"obj_{c}_{k}")
                        for k, c in enumerate(CLASSIFICATION_CLASSES)]
        self._clutter = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"clutter_{k}")
                         for k in range(p.max_clutter)]
        self._body_geoms = {b: np.flatnonzero(m.geom_bodyid == b)
                            for b in self._bodies + self._clutter}
        self._size0 = m.geom_size.copy()
        self._pos0 = m.geom_pos.copy()
        self._viewer = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "viewer")
        self.labels = GeomLabels.from_model(m)
        self._instance = [int(self.labels.instance_id[self._body_geoms[b][0]])
                          for b in self._bodies]
        self.sensor = CameraSensor(m, "depth_camera", p.width, p.height)

    @staticmethod
    def _xml(p: ObjectViewParams) -> str:
        from sim.scenes.mjcf import add_material, new_model, sub, to_xml
        from sim.scenes.room import EXTRA_OBJECT_BUILDERS, OBJECT_BUILDERS

        builders = {**OBJECT_BUILDERS, **EXTRA_OBJECT_BUILDERS}
        root, asset, world = new_model("pointcloud_objects", timestep=0.002,
                                       offwidth=p.width, offheight=p.height)
        # a fixed extent pins MuJoCo's near/far planes (0.01 / 50 extents): 0.02 m, 100 m
        sub(root, "statistic", extent=2.0, center=(0.0, 0.0, 0.5))
        add_material(asset, "mat_floor", rgba=(0.5, 0.5, 0.5, 1.0))
        add_material(asset, "mat_object", rgba=(0.8, 0.6, 0.3, 1.0))
        add_material(asset, "mat_clutter", rgba=(0.3, 0.5, 0.8, 1.0))
        sub(world, "geom", name="floor", type="plane", size=(40.0, 40.0, 0.1),
            material="mat_floor")
        for k, cls in enumerate(CLASSIFICATION_CLASSES):
            body = sub(world, "body", name=f"obj_{cls}_{k}", pos=_STASH)
            builders[cls](body, f"obj_{cls}_{k}_geom", "mat_object", 1.0)
        for k in range(p.max_clutter):
            body = sub(world, "body", name=f"clutter_{k}", pos=_STASH)
            for gtype in _CLUTTER_TYPES:  # one of them is shown per view, at unit size
                sub(body, "geom", name=f"clutter_{k}_{gtype}", type=gtype, material="mat_clutter",
                    size=(1.0, 1.0, 1.0) if gtype == "box" else (1.0, 1.0))
        viewer = sub(world, "body", name="viewer", mocap=True, pos=(0.0, 0.0, 1.0))
        sub(viewer, "camera", name="depth_camera", fovy=p.fovy)
        return to_xml(root)

    # ------------------------------------------------------------------ posing
    def _reset(self) -> None:
        m = self.model
        m.geom_size[:] = self._size0
        m.geom_pos[:] = self._pos0
        for b in self._bodies + self._clutter:
            m.body_pos[b] = _STASH
            m.body_quat[b] = (1.0, 0.0, 0.0, 0.0)

    def _box(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        """World axis-aligned box (centre, half extents) of a body's geoms (posed data)."""
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for g in self._body_geoms[body]:
            half = _geom_half_extents(int(self.model.geom_type[g]), self.model.geom_size[g])
            rot = self.data.geom_xmat[g].reshape(3, 3)
            ext = np.abs(rot) @ half
            lo = np.minimum(lo, self.data.geom_xpos[g] - ext)
            hi = np.maximum(hi, self.data.geom_xpos[g] + ext)
        return 0.5 * (lo + hi), 0.5 * (hi - lo)

    def _pose_object(self, label: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                           np.ndarray]:
        import mujoco

        p, m = self.params, self.model
        body = self._bodies[label]
        s = 1.0 + p.scale_jitter * (2 * rng.random() - 1)
        geoms = self._body_geoms[body]
        m.geom_size[geoms] = self._size0[geoms] * s
        m.geom_pos[geoms] = self._pos0[geoms] * s
        yaw = rng.uniform(-math.pi, math.pi)
        x, y = rng.uniform(-p.position_m, p.position_m, 2)
        m.body_pos[body] = (x, y, 0.0)
        m.body_quat[body] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        mujoco.mj_forward(m, self.data)
        return self._box(body)

    def _pose_clutter(self, centre: np.ndarray, half: np.ndarray,
                      rng: np.random.Generator) -> None:
        p, m = self.params, self.model
        n = int(rng.integers(0, p.max_clutter + 1))
        reach = float(np.hypot(half[0], half[1]))
        for k in range(n):
            body = self._clutter[k]
            geoms = self._body_geoms[body]
            pick = int(rng.integers(len(_CLUTTER_TYPES)))
            size = rng.uniform(0.04, p.clutter_size_m, 3)
            for j, g in enumerate(geoms):  # the unpicked shapes shrink to nothing below
                m.geom_size[g] = size if j == pick else 1e-4
            radius = float(np.hypot(size[0], size[1]))
            a = rng.uniform(-math.pi, math.pi)
            r = reach + radius + rng.uniform(0.05, 0.6)
            # stands on the floor: z = its half height (sphere: radius, cylinder: size[1])
            half_z = {"box": size[2], "sphere": size[0], "cylinder": size[1]}[_CLUTTER_TYPES[pick]]
            m.body_pos[body] = (centre[0] + r * math.cos(a), centre[1] + r * math.sin(a), half_z)
            yaw = rng.uniform(-math.pi, math.pi)
            m.body_quat[body] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    def _pose_camera(self, centre: np.ndarray, half: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        target = centre + p.target_jitter * half * rng.uniform(-1, 1, 3)
        fit = 1.15 * float(np.linalg.norm(half)) / math.tan(math.radians(p.fovy) / 2)
        lo = max(p.distance_min_m, fit)
        rho = rng.uniform(lo, max(lo, p.distance_max_m))
        az = rng.uniform(-math.pi, math.pi)
        eye = np.array([target[0] + rho * math.cos(az), target[1] + rho * math.sin(az),
                        rng.uniform(p.height_min_m, p.height_max_m)])
        self.place_camera(eye, target)
        return eye, target

    def place_camera(self, eye: np.ndarray, target: np.ndarray) -> None:
        """Put the camera at ``eye`` (world, m) looking at ``target``, world z up."""
        import mujoco

        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, _look_at(np.asarray(eye, float),
                                           np.asarray(target, float)).reshape(-1))
        self.data.mocap_pos[0] = eye
        self.data.mocap_quat[0] = quat
        mujoco.mj_forward(self.model, self.data)

    def camera_matrix(self) -> np.ndarray:
        """(4, 4) world pose of the camera's optical frame (x right, y down, z forward)."""
        from sim.frames import MUJOCO_CAMERA_TO_OPTICAL

        c = self.sensor.camera_id
        T = np.eye(4)
        T[:3, :3] = self.data.cam_xmat[c].reshape(3, 3) @ MUJOCO_CAMERA_TO_OPTICAL
        T[:3, 3] = self.data.cam_xpos[c]
        return T

    def view(self, label: int, seed: int) -> ObjectView:
        """The view of class ``label`` (index into :data:`CLASSIFICATION_CLASSES`) drawn from
        ``seed``; the model stays posed as seen (see :meth:`scene_sdf`), and ``eye`` /
        ``target`` hold the camera position and look-at point (world, m)."""
        if not 0 <= label < len(CLASSIFICATION_CLASSES):
            raise ValueError(f"label {label} out of range 0..{len(CLASSIFICATION_CLASSES) - 1}")
        p = self.params
        rng = np.random.default_rng([int(seed), label, 1])
        self._reset()
        centre, half = self._pose_object(label, rng)
        attempts = 0
        while True:
            attempts += 1
            self._pose_clutter(centre, half, rng)
            self.eye, self.target = self._pose_camera(centre, half, rng)
            frame = self.sensor.render(self.data, rgb=False)
            _, inst = self.labels.pixel_labels(frame.segmentation)
            mask = (inst == self._instance[label]) & np.isfinite(frame.depth)
            if int(mask.sum()) >= p.min_points:
                break
            if attempts == MAX_ATTEMPTS:
                raise ValueError(f"class {CLASSIFICATION_CLASSES[label]!r} seed {seed}: no "
                                 f"view in {MAX_ATTEMPTS} showed {p.min_points} object points")
        depth = noisy_depth(frame.depth, p.noise_a, p.noise_quant_m,
                            np.random.default_rng([int(seed), label, 2]))
        intr = self.sensor.intrinsics
        pts = backproject(depth, mask, intr)
        pick = np.random.default_rng([int(seed), label, 3])
        pts = pts[_subsample(len(pts), p.max_points, pick)]
        on = np.ones(len(pts), bool)
        if p.context_m > 0:
            from scipy.spatial import cKDTree

            other = np.isfinite(depth) & ~mask
            ctx = backproject(depth, other, intr)
            near = cKDTree(pts).query(ctx, distance_upper_bound=p.context_m)[0] < p.context_m
            ctx = ctx[near]
            ctx = ctx[_subsample(len(ctx), max(p.max_points - len(pts), 0), pick)]
            pts = np.concatenate([pts, ctx])
            on = np.concatenate([on, np.zeros(len(ctx), bool)])
        return ObjectView(pts, on, label, self.camera_matrix(), attempts)

    def scene_sdf(self) -> Any:
        """The exact :class:`sim.ground_truth.sdf.SceneSDF` of the scene as last posed."""
        from sim.ground_truth.sdf import SceneSDF

        return SceneSDF(self.model, self.data)

    def object_geoms(self, label: int) -> np.ndarray:
        return self._body_geoms[self._bodies[label]].copy()

    def close(self) -> None:
        self.sensor.close()

    def __enter__(self) -> ObjectViewRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RoomView:
    """One segmentation view: points in the optical frame and their class indices."""

    points: np.ndarray  # (N, 3) float32
    point_labels: np.ndarray  # (N,) int16, index into SEGMENTATION_CLASSES
    T_world_camera: np.ndarray  # (4, 4)


class RoomViewRenderer:
    """Renders the mobile robot's depth camera in the room of ``room_seed`` from random
    poses in the clear disc. Call :meth:`close` (or use ``with``)."""

    def __init__(self, room_seed: int, params: RoomViewParams | None = None) -> None:
        import sim.gl

        sim.gl.configure()
        from sim.ground_truth.labels import GeomLabels
        from sim.scenes.mobile_robot import DEPTH_CAMERA, MobileRobotParams, mobile_robot_scene
        from sim.sensors.camera import CameraSensor
        from sim.world import SimWorld

        self.params = p = validated(params or RoomViewParams())
        self.room_seed = int(room_seed)
        self.world = SimWorld(mobile_robot_scene(MobileRobotParams(room_seed=self.room_seed)),
                              seed=self.room_seed)
        self.sensor = CameraSensor(self.world.model, DEPTH_CAMERA, p.width, p.height)
        self.labels = GeomLabels.from_model(self.world.model)
        lut = np.zeros(max(CLASS_IDS.values()) + 1, np.int16)  # global id -> index
        for i, name in enumerate(SEGMENTATION_CLASSES):
            lut[CLASS_IDS[name]] = i
        self._lut = lut
        self._wheel_radius = MobileRobotParams().wheel_radius
        self._camera = DEPTH_CAMERA

    def _place(self, rng: np.random.Generator) -> None:
        import mujoco

        m, d = self.world.model, self.world.data
        r = self.params.disc_radius_m * math.sqrt(rng.random())
        a, yaw = rng.uniform(-math.pi, math.pi, 2)
        j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "base_free")
        q = int(m.jnt_qposadr[j])
        d.qpos[q:q + 7] = [r * math.cos(a), r * math.sin(a), self._wheel_radius,
                           math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        d.qvel[:] = 0.0
        mujoco.mj_forward(m, d)

    def view(self, k: int) -> RoomView:
        """View ``k`` of this room (seeded by the room seed and ``k``)."""
        p = self.params
        self._place(np.random.default_rng([self.room_seed, k, 1]))
        frame = self.sensor.render(self.world.data, rgb=False)
        depth = noisy_depth(frame.depth, p.noise_a, p.noise_quant_m,
                            np.random.default_rng([self.room_seed, k, 2]))
        cls, _ = self.labels.pixel_labels(frame.segmentation)
        ok = np.isfinite(depth)
        pts = backproject(depth, ok, self.sensor.intrinsics)
        lab = self._lut[cls[ok]]
        keep = _subsample(len(pts), p.max_points, np.random.default_rng([self.room_seed, k, 3]))
        return RoomView(pts[keep], lab[keep], self.world.camera_pose(self._camera).matrix)

    def scene_sdf(self) -> Any:
        from sim.ground_truth.sdf import SceneSDF

        return SceneSDF(self.world.model, self.world.data)

    def close(self) -> None:
        self.sensor.close()

    def __enter__(self) -> RoomViewRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------- sets
@dataclass(frozen=True)
class CloudSet:
    """Clouds of one split, concatenated: cloud ``i`` is ``points[offsets[i]:offsets[i+1]]``.

    Classification sets fill ``labels`` (S,) and ``on_object`` (M,); segmentation sets fill
    ``point_labels`` (M,). ``seeds`` (S,) are the sample seeds (classification) or room seeds
    (segmentation); ``class_names`` is the table the labels index."""

    kind: str
    split: str
    points: np.ndarray  # (M, 3) float32, optical frame
    offsets: np.ndarray  # (S + 1,) int64
    class_names: tuple[str, ...]
    T_world_camera: np.ndarray  # (S, 4, 4)
    seeds: np.ndarray  # (S,) int64
    labels: np.ndarray | None = None  # (S,) int64
    on_object: np.ndarray | None = None  # (M,) bool
    point_labels: np.ndarray | None = None  # (M,) int16
    params: str = "{}"  # JSON of the generating parameters

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def class_ids(self) -> np.ndarray:
        """Global :data:`sim.scenes.classes.CLASS_IDS` of the class table."""
        return np.array([CLASS_IDS[c] for c in self.class_names], np.int64)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def cloud(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(f"cloud {i} out of range 0..{len(self) - 1}")
        return self.points[self.offsets[i]:self.offsets[i + 1]]

    def cloud_point_labels(self, i: int) -> np.ndarray:
        if self.point_labels is None:
            raise ValueError(f"a {self.kind} set has no per-point labels")
        return self.point_labels[self.offsets[i]:self.offsets[i + 1]]

    def fixed_size(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Every cloud resampled to ``n`` points (:func:`resample`, seeded): points
        (S, n, 3) and labels: (S,) for classification, (S, n) for segmentation."""
        rng = np.random.default_rng(seed)
        out = np.empty((len(self), n, 3), np.float32)
        per_point = np.empty((len(self), n), np.int16) if self.point_labels is not None else None
        for i in range(len(self)):
            idx = resample(self.cloud(i), n, rng)
            out[i] = self.cloud(i)[idx]
            if per_point is not None:
                per_point[i] = self.cloud_point_labels(i)[idx]
        return out, (per_point if per_point is not None else self.labels)


def split_seeds(split: str, samples_per_class: int | None = None) -> np.ndarray:
    """Classification sample seeds of ``split`` (disjoint across splits)."""
    _check_split(split)
    n = CLASSIFICATION_SIZES[split] if samples_per_class is None else int(samples_per_class)
    if not 1 <= n < SEED_STRIDE:
        raise ValueError(f"samples_per_class must lie in 1..{SEED_STRIDE - 1}, got {n}")
    return SPLIT_SEED_BASE[split] + np.arange(n, dtype=np.int64)


def _check_split(split: str, kind: str = "classification") -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def mapping_rooms() -> set[int]:
    """Room seeds of the mapping evaluation and tuning sequences (:mod:`sim.datasets.mapping`),
    which the segmentation splits never use."""
    from sim.datasets.mapping import ALL_SPECS

    return {s.room_seed for s in ALL_SPECS}


def default_cache_dir() -> Path:
    env = os.environ.get("NEURO_POINTCLOUDS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "neuro_nodes" / "pointclouds"


def _params_for(kind: str, params: ObjectViewParams | RoomViewParams | None) -> Any:
    want = ObjectViewParams if kind == "classification" else RoomViewParams
    if params is None:
        return want()
    if not isinstance(params, want):
        raise ValueError(f"a {kind} set takes {want.__name__}, got {type(params).__name__}")
    return validated(params)


def _size_of(kind: str, split: str, size: int | Sequence[int] | None) -> Any:
    if kind == "classification":
        return int(split_seeds(split, size)[-1] - SPLIT_SEED_BASE[split] + 1)
    rooms = SEGMENTATION_ROOMS[split] if size is None else tuple(int(r) for r in size)
    if not rooms:
        raise ValueError("segmentation: no rooms given")
    other = {r for s, rs in SEGMENTATION_ROOMS.items() if s != split for r in rs}
    if other & set(rooms) or mapping_rooms() & set(rooms):
        raise ValueError(f"segmentation {split}: rooms {sorted(rooms)} overlap another split "
                         f"or the mapping test/tuning rooms")
    return rooms


def cache_path(split: str, *, kind: str = "classification",
               params: ObjectViewParams | RoomViewParams | None = None,
               size: int | Sequence[int] | None = None,
               cache_dir: Path | str | None = None) -> Path:
    """Where :func:`build` caches a set (key: kind, split, size, parameters, code version)."""
    _check_split(split, kind)
    p = _params_for(kind, params)
    blob = json.dumps({"kind": kind, "split": split, "size": _size_of(kind, split, size),
                       "params": dataclasses.asdict(p), "code": CODE_VERSION[kind]}, sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"{kind}-{split}-{key}.npz"


def generate(split: str, *, kind: str = "classification",
             params: ObjectViewParams | RoomViewParams | None = None,
             size: int | Sequence[int] | None = None, progress: bool = True) -> CloudSet:
    """Render a split (no cache). ``size``: samples per class (classification) or the room
    seeds (segmentation); None = the split's default."""
    _check_split(split, kind)
    p = _params_for(kind, params)
    n_size = _size_of(kind, split, size)
    if kind == "classification":
        seeds = split_seeds(split, n_size)
        jobs: list[tuple[int, int]] = [(int(s), c) for s in seeds
                                       for c in range(len(CLASSIFICATION_CLASSES))]
    else:
        jobs = [(r, k) for r in n_size for k in range(p.views_per_room)]
    clouds: list[np.ndarray] = []
    extra: list[np.ndarray] = []
    poses, labels, job_seeds = [], [], []
    with _progress(f"{kind}/{split}", len(jobs), progress) as advance:
        if kind == "classification":
            with ObjectViewRenderer(p) as renderer:
                for seed, c in jobs:
                    v = renderer.view(c, seed)
                    clouds.append(v.points)
                    extra.append(v.on_object)
                    poses.append(v.T_world_camera)
                    labels.append(c)
                    job_seeds.append(seed)
                    advance()
        else:
            for room in n_size:
                with RoomViewRenderer(room, p) as renderer:
                    for k in range(p.views_per_room):
                        v = renderer.view(k)
                        clouds.append(v.points)
                        extra.append(v.point_labels)
                        poses.append(v.T_world_camera)
                        job_seeds.append(room)
                        advance()
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in clouds])]).astype(np.int64)
    common = dict(kind=kind, split=split, points=np.concatenate(clouds).astype(np.float32),
                  offsets=offsets, T_world_camera=np.stack(poses),
                  seeds=np.asarray(job_seeds, np.int64),
                  params=json.dumps(dataclasses.asdict(p), sort_keys=True))
    if kind == "classification":
        return CloudSet(class_names=CLASSIFICATION_CLASSES, labels=np.asarray(labels, np.int64),
                        on_object=np.concatenate(extra), **common)
    return CloudSet(class_names=SEGMENTATION_CLASSES,
                    point_labels=np.concatenate(extra).astype(np.int16), **common)


class _progress:
    """A rich progress bar (or nothing) whose context value advances it by one."""

    def __init__(self, title: str, total: int, enabled: bool) -> None:
        self.title, self.total, self.enabled = title, total, enabled

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn(f"[bold blue]pointclouds {self.title}"), BarColumn(),
                             MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
        self._bar.__enter__()
        task = self._bar.add_task("", total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)


def _save(cs: CloudSet, path: Path) -> None:
    arrays = {k: v for k, v in dict(
        points=cs.points, offsets=cs.offsets, T_world_camera=cs.T_world_camera,
        seeds=cs.seeds, labels=cs.labels, on_object=cs.on_object,
        point_labels=cs.point_labels).items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, kind=np.array(cs.kind), split=np.array(cs.split),
                        class_names=np.array(cs.class_names), params=np.array(cs.params),
                        **arrays)
    os.replace(tmp, path)  # atomic: parallel builders never see half a file


def _read(path: Path) -> CloudSet:
    with np.load(path, allow_pickle=False) as z:
        get = {k: z[k] for k in z.files}
    return CloudSet(kind=str(get["kind"]), split=str(get["split"]), points=get["points"],
                    offsets=get["offsets"], class_names=tuple(str(c) for c in get["class_names"]),
                    T_world_camera=get["T_world_camera"], seeds=get["seeds"],
                    labels=get.get("labels"), on_object=get.get("on_object"),
                    point_labels=get.get("point_labels"), params=str(get["params"]))


def build(split: str, *, kind: str = "classification",
          params: ObjectViewParams | RoomViewParams | None = None,
          size: int | Sequence[int] | None = None, cache_dir: Path | str | None = None,
          progress: bool = True, force: bool = False) -> CloudSet:
    """The set of ``split`` from the cache, or rendered (with a progress bar), cached and
    summarised in one line. ``force`` renders again even when cached."""
    path = cache_path(split, kind=kind, params=params, size=size, cache_dir=cache_dir)
    if path.exists() and not force:
        try:
            return _read(path)
        except (OSError, ValueError, KeyError) as err:  # a damaged cache file: regenerate
            print(f"pointclouds: {path}: unreadable cache ({err}); regenerating")
    t0 = time.perf_counter()
    cs = generate(split, kind=kind, params=params, size=size, progress=progress)
    dt = time.perf_counter() - t0
    _save(cs, path)
    if progress:
        n = cs.sizes
        print(f"pointclouds {kind}/{split}: {len(cs)} clouds, {len(cs.points)} points "
              f"(per cloud median {int(np.median(n))}, min {n.min()}, max {n.max()}), "
              f"{dt:.1f} s ({len(cs) / dt:.1f} clouds/s) -> {path}")
    return cs


def load(split: str, *, kind: str = "classification",
         params: ObjectViewParams | RoomViewParams | None = None,
         size: int | Sequence[int] | None = None,
         cache_dir: Path | str | None = None) -> CloudSet:
    """The cached set of ``split`` (FileNotFoundError naming :func:`build` if absent)."""
    path = cache_path(split, kind=kind, params=params, size=size, cache_dir=cache_dir)
    if not path.exists():
        raise FileNotFoundError(f"no cached {kind} set {split!r} at {path}: run "
                                f"sim.datasets.pointclouds.build({split!r}, kind={kind!r}) first")
    return _read(path)


__all__ = [
    "CLASSIFICATION_CLASSES",
    "CLASSIFICATION_SIZES",
    "CODE_VERSION",
    "KINDS",
    "SEGMENTATION_CLASSES",
    "SEGMENTATION_ROOMS",
    "SPLITS",
    "SPLIT_SEED_BASE",
    "CloudSet",
    "ObjectView",
    "ObjectViewParams",
    "ObjectViewRenderer",
    "RoomView",
    "RoomViewParams",
    "RoomViewRenderer",
    "backproject",
    "build",
    "cache_path",
    "default_cache_dir",
    "generate",
    "load",
    "noisy_depth",
    "resample",
    "split_seeds",
]
