"""Simulated depth sequences with exact poses and the scene's exact signed distance (mapping).

A sequence is the mobile robot (:mod:`sim.scenes.mobile_robot`) in the room, moved
KINEMATICALLY (its free joint's pose is set per frame; no physics, no wheel slip) along a
smooth closed loop inside the room's clear disc, its ``depth_camera`` rendered at
``depth_hz`` (the sim bridge's 10 Hz depth rate and 346x260 image by default). Per frame:

* ``depth`` (H, W) float32 z-depth (m) as rendered (noise-free; ``+inf`` where nothing is
  seen), and the camera's :class:`~neuro_nodes.perception.types.PinholeCamera`;
* ``T_map_sensor`` (4, 4): the depth camera's OPTICAL frame (x right, y down, z forward) in
  the map (= MuJoCo world, z up). MuJoCo's camera looks along its -z with y up, so
  ``R_map_optical = R_mujoco_camera diag(1, -1, -1)`` (:data:`sim.frames.MUJOCO_CAMERA_TO_OPTICAL`,
  :meth:`sim.world.SimWorld.camera_pose`);
* ``stamp_s`` = frame index / ``depth_hz``.

The path (seeded start angle and direction): an ellipse of semi-axes ``path_radius`` and
``0.8 path_radius`` around the origin, one lap in ``lap_s``; the base's yaw is the path's
heading plus a slow look-around ``look_amplitude sin(2 pi t / look_period_s)``:

.. math::

    p(t) = (R \\cos\\theta, 0.8 R \\sin\\theta), \\quad
    \\theta = \\theta_0 + s\\,2\\pi t / T_{lap}, \\quad
    \\psi(t) = \\operatorname{atan2}(\\dot p_y, \\dot p_x) + A \\sin(2\\pi t / T_{look})

Depth noise (applied when the frames are read, from ``seed`` and the frame index, so the
same spec always gives the same noisy frames and the cache holds the clean render):
``z' = q round((z + n) / q)``, ``n ~ N(0, (a z^2)^2)`` (a Kinect-like axial noise growing
with the square of the range) and ``q`` the quantisation step.

Moving spec (``move=True``): half way through the sequence one room object (of
:data:`MOVABLE_CLASSES`) is teleported by ``move_distance`` (its body's model position
changes; it is kinematic) to the first of 16 horizontal directions that keeps it 5 cm clear
of everything else and out of the robot's loop. The move happens just before frame
``move_frame``; object and frame (in the middle quarter of the sequence) are those where the
object stays in view longest: the most pixels it covers at its worst over the
:data:`VIEW_BEFORE` frames before and the :data:`VIEW_AFTER` frames from the move on (as if
it had not moved). Recorded: the object's body, its world axis-aligned boxes before/after,
and ``old_surface_points``: points of the object's surface seen in the frame before the move
(clean depth, segmentation) that are free space after the move (true distance >= 0.10 m) and
whose ray in frame ``move_frame`` runs at least 0.10 m past them (so the first scan after
the move sees through them). :meth:`MappingSequence.scene_sdf`
gives the exact SDF before (``after_move=False``) or after the move.

=============== ========= ==============================================================
MappingSpec     default   meaning
=============== ========= ==============================================================
room_seed       0         room layout (:class:`sim.scenes.room.RoomParams` ``seed``)
seed            0         path start angle and direction, depth noise
n_frames        120       frames (one lap at the defaults)
depth_hz        10        frame rate (Hz): the bridge's depth rate
width, height   346, 260  depth image size: the bridge's default
path_radius     0.9       loop semi-axis R (m); the room keeps 1.6 m around the origin free
lap_s           12        time of one lap (s): 0.43 m/s, 0.52 rad/s mean turn rate
look_amplitude  0.5       look-around yaw amplitude A (rad)
look_period_s   4.0       look-around period (s)
noise_a         0.001     axial noise coefficient a (1/m): sigma = a z^2 (0 = none)
noise_quant_m   0.001     depth quantisation step q (m; 0 = none)
move            False     teleport one object half way (the clearing test)
move_distance   0.7       how far it moves (m)
=============== ========= ==============================================================

Splits: :data:`TEST_SPECS` (room seeds 0..2) and :data:`MOVING_SPEC` (room seed 0) are the
evaluation data, never used for tuning; :data:`TUNE_SPECS` (room seeds 100..102) are for
tuning mapper parameters. Rendered frames are cached as ``.npz`` under ``cache_dir``
(default ``~/.cache/neuro_nodes/mapping`` or ``$NEURO_MAPPING_CACHE``) keyed by a hash of
the render fields of the spec and :data:`CODE_VERSION` (bump it when generation changes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.mapping.types import MapBounds, Scan
from neuro_nodes.perception.types import PinholeCamera

#: Bump when the rendered data would change for the same spec.
CODE_VERSION = 2
#: The room's default mapping box (room half extents 4.0 x 3.5, height 2.8, plus margin).
ROOM_BOUNDS = MapBounds((-4.5, -4.0, -0.3), (4.5, 4.0, 3.1))
#: Old-surface points are kept only where they are free after the move by this much (m),
#: and where the move frame's ray passes this far beyond them.
FREE_MARGIN_M = 0.10
MAX_OLD_POINTS = 2000
#: The moved object is chosen to stay in view this many frames before / after the move.
VIEW_BEFORE, VIEW_AFTER = 4, 10
#: Fields that change the noise only (applied at read time), not the render.
_NOISE_FIELDS = ("noise_a", "noise_quant_m")
#: Objects the moving spec may teleport (compact ones, that fit elsewhere in the room).
MOVABLE_CLASSES = ("crate", "ball", "can", "capsule", "chair", "cone")


@dataclass(frozen=True)
class MappingSpec:
    """One simulated depth sequence (table in the module docstring)."""

    room_seed: int = 0
    seed: int = 0
    n_frames: int = 120
    depth_hz: float = 10.0
    width: int = 346
    height: int = 260
    path_radius: float = 0.9
    lap_s: float = 12.0
    look_amplitude: float = 0.5
    look_period_s: float = 4.0
    noise_a: float = 0.001
    noise_quant_m: float = 0.001
    move: bool = False
    move_distance: float = 0.7

    def __post_init__(self) -> None:
        if self.n_frames < 2 or self.depth_hz <= 0:
            raise ValueError(f"MappingSpec: need n_frames >= 2 and depth_hz > 0, got "
                             f"{self.n_frames}, {self.depth_hz}")
        if self.width < 8 or self.height < 8:
            raise ValueError(f"MappingSpec: image {self.width}x{self.height} is too small")
        if not 0.1 <= self.path_radius <= 1.2:
            raise ValueError(f"MappingSpec.path_radius {self.path_radius} must lie in "
                             f"[0.1, 1.2] m (inside the room's clear disc)")
        if self.lap_s <= 0 or self.look_period_s <= 0:
            raise ValueError("MappingSpec: lap_s and look_period_s must be positive")
        if self.noise_a < 0 or self.noise_quant_m < 0:
            raise ValueError("MappingSpec: noise_a and noise_quant_m must be >= 0")
        if self.move and self.move_distance < 0.5:
            raise ValueError("MappingSpec.move_distance must be at least 0.5 m")

    @property
    def name(self) -> str:
        return f"room-s{self.room_seed}" + ("-moving" if self.move else "") + (
            f"-p{self.seed}" if self.seed != self.room_seed else "")

    def key(self) -> str:
        """Hash of what the render depends on (not the noise, applied at read time)."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in _NOISE_FIELDS}
        blob = json.dumps({**fields, "code": CODE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: Evaluation sequences (never tune on them) and the clearing sequence.
TEST_SPECS: tuple[MappingSpec, ...] = tuple(MappingSpec(room_seed=s, seed=s) for s in range(3))
MOVING_SPEC = MappingSpec(room_seed=0, seed=0, move=True)
#: Sequences for tuning mapper parameters (rooms the test never uses).
TUNE_SPECS: tuple[MappingSpec, ...] = tuple(
    MappingSpec(room_seed=s, seed=s) for s in range(100, 103))
TRAIN_SPECS = TUNE_SPECS
TUNE_MOVING_SPEC = MappingSpec(room_seed=100, seed=100, move=True)
ALL_SPECS: tuple[MappingSpec, ...] = (*TEST_SPECS, MOVING_SPEC, *TUNE_SPECS, TUNE_MOVING_SPEC)


@dataclass(frozen=True)
class MovedObject:
    """The object the moving spec teleports (module docstring)."""

    body: str
    move_frame: int  # the first frame that sees it at its new place
    offset: np.ndarray  # (3,) world displacement (m)
    old_box: np.ndarray  # (2, 3) min, max corner (world, m) before the move
    new_box: np.ndarray  # (2, 3) after
    old_surface_points: np.ndarray  # (N, 3) world points, free after the move


@dataclass(frozen=True)
class MappingSequence:
    """The frames and ground truth of one :class:`MappingSpec` (module docstring)."""

    spec: MappingSpec
    camera: PinholeCamera
    depth: np.ndarray  # (F, H, W) float32, clean z-depth (m), inf where nothing is seen
    T_map_sensor: np.ndarray  # (F, 4, 4) optical frame in map
    stamps_s: np.ndarray  # (F,)
    moved: MovedObject | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def bounds(self) -> MapBounds:
        return ROOM_BOUNDS

    def __len__(self) -> int:
        return len(self.stamps_s)

    def noisy_depth(self, k: int) -> np.ndarray:
        """Frame ``k``'s depth with the spec's noise (deterministic in seed and ``k``)."""
        d = self.depth[k]
        s = self.spec
        if s.noise_a <= 0 and s.noise_quant_m <= 0:
            return d.copy()
        rng = np.random.default_rng([s.seed, 17, k])
        z = d.astype(np.float64)
        ok = np.isfinite(z)
        zn = z.copy()
        zn[ok] += rng.standard_normal(int(ok.sum())) * s.noise_a * z[ok] ** 2
        if s.noise_quant_m > 0:
            zn[ok] = np.round(zn[ok] / s.noise_quant_m) * s.noise_quant_m
        zn[ok] = np.maximum(zn[ok], 1e-3)
        return zn.astype(np.float32)

    def scan(self, k: int, *, noise: bool = True, stride: int = 1) -> Scan:
        """Frame ``k`` as a mapper input (noisy depth unless ``noise=False``)."""
        if not 0 <= k < len(self):
            raise IndexError(f"frame {k} out of range 0..{len(self) - 1}")
        d = self.noisy_depth(k) if noise else self.depth[k]
        return Scan.from_depth(d, self.camera, self.T_map_sensor[k], float(self.stamps_s[k]),
                               stride=stride)

    def scans(self, frames: range | None = None, *, noise: bool = True) -> Iterator[Scan]:
        for k in frames if frames is not None else range(len(self)):
            yield self.scan(k, noise=noise)

    def scene_sdf(self, *, after_move: bool = False) -> Any:
        """The exact :class:`sim.ground_truth.sdf.SceneSDF` of the scene: before the move
        (or of a static scene), or with ``after_move`` the state after it."""
        if after_move and self.moved is None:
            raise ValueError(f"{self.name} has no moved object (not a moving spec)")
        world = _world(self.spec)
        if after_move:
            _displace(world, self.moved.body, self.moved.offset)
        from sim.ground_truth.sdf import SceneSDF

        return SceneSDF(world.model, world.data)


# ---------------------------------------------------------------------------------- path
def path_pose(spec: MappingSpec, t_s: float) -> tuple[np.ndarray, float]:
    """Base position (x, y) and yaw (rad) at ``t_s`` (module docstring)."""
    rng = np.random.default_rng([spec.seed, 3])
    theta0 = float(rng.uniform(0, 2 * math.pi))
    sense = 1.0 if rng.random() < 0.5 else -1.0
    w = sense * 2 * math.pi / spec.lap_s
    th = theta0 + w * t_s
    r, ry = spec.path_radius, 0.8 * spec.path_radius
    pos = np.array([r * math.cos(th), ry * math.sin(th)])
    heading = math.atan2(ry * math.cos(th) * w, -r * math.sin(th) * w)
    yaw = heading + spec.look_amplitude * math.sin(2 * math.pi * t_s / spec.look_period_s)
    return pos, yaw


def _world(spec: MappingSpec) -> Any:
    from sim.scenes.mobile_robot import MobileRobotParams, mobile_robot_scene
    from sim.world import SimWorld

    return SimWorld(mobile_robot_scene(MobileRobotParams(room_seed=spec.room_seed)),
                    seed=spec.seed)


def _place_robot(world: Any, spec: MappingSpec, t_s: float) -> None:
    import mujoco

    from sim.scenes.mobile_robot import MobileRobotParams

    m, d = world.model, world.data
    j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "base_free")
    a = int(m.jnt_qposadr[j])
    (x, y), yaw = path_pose(spec, t_s)
    d.qpos[a:a + 7] = [x, y, MobileRobotParams().wheel_radius, math.cos(yaw / 2), 0.0, 0.0,
                       math.sin(yaw / 2)]
    d.qvel[:] = 0.0
    d.time = t_s
    mujoco.mj_forward(m, d)


def _displace(world: Any, body: str, offset: np.ndarray) -> None:
    """Teleport a static (joint-free) body by ``offset`` (its model position)."""
    import mujoco

    b = world.body_id(body)
    world.model.body_pos[b] = world.model.body_pos[b] + offset
    mujoco.mj_forward(world.model, world.data)


def _body_geoms(world: Any, body: str) -> np.ndarray:
    return np.flatnonzero(world.model.geom_bodyid == world.body_id(body))


def _body_box(world: Any, body: str) -> np.ndarray:
    """World axis-aligned box (2, 3) of a body's geoms (their local boxes' corners)."""
    m, d = world.model, world.data
    corners = []
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    for g in _body_geoms(world, body):
        c, h = m.geom_aabb[g, :3], m.geom_aabb[g, 3:]
        local = c + signs * h
        corners.append(local @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g])
    pts = np.concatenate(corners)
    return np.stack([pts.min(axis=0), pts.max(axis=0)])


# ---------------------------------------------------------------------------------- making
def default_cache_dir() -> Path:
    env = os.environ.get("NEURO_MAPPING_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "neuro_nodes" / "mapping"


def _render(world: Any, sensor: Any, spec: MappingSpec, k: int) -> tuple[np.ndarray, np.ndarray]:
    from sim.scenes.mobile_robot import DEPTH_CAMERA

    _place_robot(world, spec, k / spec.depth_hz)
    return sensor.depth(world.data), world.camera_pose(DEPTH_CAMERA).matrix


def generate(spec: MappingSpec) -> MappingSequence:
    """Render ``spec`` and compute its ground truth (no cache)."""
    import sim.gl

    sim.gl.configure()
    from sim.scenes.mobile_robot import DEPTH_CAMERA
    from sim.sensors.camera import CameraSensor

    world = _world(spec)
    sensor = CameraSensor(world.model, DEPTH_CAMERA, spec.width, spec.height)
    camera = PinholeCamera(*sensor.intrinsics, spec.width, spec.height)
    n = spec.n_frames
    depth = np.empty((n, spec.height, spec.width), np.float32)
    poses = np.empty((n, 4, 4))
    moved = None
    try:
        for k in range(n):
            depth[k], poses[k] = _render(world, sensor, spec, k)
        if spec.move:
            moved = _make_move(world, sensor, spec, camera, depth, poses)
            for k in range(moved.move_frame, n):
                depth[k], poses[k] = _render(world, sensor, spec, k)
    finally:
        sensor.close()
    stamps = np.arange(n) / spec.depth_hz
    return MappingSequence(spec, camera, depth, poses, stamps, moved)


def _make_move(world: Any, sensor: Any, spec: MappingSpec, camera: PinholeCamera,
               depth: np.ndarray, poses: np.ndarray) -> MovedObject:
    """Pick the object, the frame and the displacement; leave ``world`` moved."""
    from sim.ground_truth.sdf import SceneSDF
    from sim.scenes.classes import parse_object_body
    from sim.scenes.mobile_robot import DEPTH_CAMERA

    m = world.model
    bodies = sorted(b for b in world.body_names if parse_object_body(b) in MOVABLE_CLASSES)
    geom_body = np.full(m.ngeom, -1)
    for i, b in enumerate(bodies):
        geom_body[_body_geoms(world, b)] = i
    n = spec.n_frames
    lo, hi = max(VIEW_BEFORE, n // 2 - n // 8), min(n - VIEW_AFTER, n // 2 + n // 8)
    if hi < lo:
        raise ValueError(f"{spec.name}: too few frames ({n}) for a move half way")
    first, last = lo - VIEW_BEFORE, hi + VIEW_AFTER
    counts = np.zeros((last - first, len(bodies)), np.int64)
    segs = {}
    for i, k in enumerate(range(first, last)):
        _place_robot(world, spec, k / spec.depth_hz)
        seg = sensor.segmentation(world.data)
        segs[k] = seg
        ids = geom_body[seg[seg >= 0]]
        counts[i] = np.bincount(ids[ids >= 0], minlength=len(bodies))
    # the object (and move frame) that stays in view longest around the move: the least
    # pixels it covers over the frames VIEW_BEFORE before to VIEW_AFTER after, at its best
    score = np.stack([counts[k - VIEW_BEFORE - first:k + VIEW_AFTER - first].min(axis=0)
                      for k in range(lo, hi + 1)])
    i_frame, i_body = np.unravel_index(int(score.argmax()), score.shape)
    body = bodies[int(i_body)]
    move_frame = lo + int(i_frame)
    seen_frame = move_frame - 1
    old_box = _body_box(world, body)
    # the displacement: the first of 16 horizontal directions that keeps the object clear
    # of the other geoms (and the walls) and out of the robot's loop
    own = set(_body_geoms(world, body).tolist())
    others = SceneSDF(m, world.data,
                      [g for g in SceneSDF.default_geoms(m) if g not in own])
    centre = old_box.mean(axis=0)
    half = 0.5 * (old_box[1] - old_box[0])
    signs = np.array([[sx, sy, sz] for sx in (-1, 0, 1) for sy in (-1, 0, 1)
                      for sz in (-1, 0, 1)], float)
    start = math.atan2(centre[1], centre[0])
    offset = None
    for j in range(16):
        a = start + math.pi / 2 + 2 * math.pi * j / 16  # sideways first, outward/inward later
        off = spec.move_distance * np.array([math.cos(a), math.sin(a), 0.0])
        probe = centre + off + signs * (half + 0.05)
        probe[:, 2] = np.clip(probe[:, 2], 0.1, None)  # the floor is no obstacle
        if np.hypot(*(centre + off)[:2]) - np.hypot(*half[:2]) < spec.path_radius + 0.45:
            continue
        if np.all(others.distance(probe) > 0.05):
            offset = off
            break
    if offset is None:
        raise ValueError(f"{spec.name}: no free place to move {body} to")
    sdf_before = SceneSDF(m, world.data)
    _displace(world, body, offset)
    new_box = _body_box(world, body)
    sdf_after = SceneSDF(m, world.data)
    # the old surface as the frame before the move saw it
    seg = segs[seen_frame]
    mask = np.isin(seg, list(own)) & np.isfinite(depth[seen_frame])
    pts_map = _backproject(depth[seen_frame], camera, poses[seen_frame], mask)
    on_surface = np.abs(sdf_before.distance(pts_map)) < 0.01
    pts_map = pts_map[on_surface]
    free_after = sdf_after.distance(pts_map) >= FREE_MARGIN_M
    pts_map = pts_map[free_after]
    # ... whose ray in the move frame passes well beyond them
    _place_robot(world, spec, move_frame / spec.depth_hz)
    d_after = sensor.depth(world.data)
    t_after = world.camera_pose(DEPTH_CAMERA).matrix
    keep = _seen_through(pts_map, d_after, camera, t_after, FREE_MARGIN_M)
    pts_map = pts_map[keep]
    if len(pts_map) > MAX_OLD_POINTS:
        rng = np.random.default_rng([spec.seed, 23])
        pts_map = pts_map[np.sort(rng.choice(len(pts_map), MAX_OLD_POINTS, replace=False))]
    if len(pts_map) < 50:
        raise ValueError(f"{spec.name}: only {len(pts_map)} old-surface points of {body} are "
                         f"seen free after the move")
    return MovedObject(body, move_frame, offset, old_box, new_box, pts_map)


def _backproject(depth: np.ndarray, camera: PinholeCamera, T: np.ndarray,
                 mask: np.ndarray) -> np.ndarray:
    v, u = np.nonzero(mask)
    z = depth[v, u].astype(np.float64)
    p = np.stack([(u - camera.cx) / camera.fx * z, (v - camera.cy) / camera.fy * z, z], 1)
    return p @ T[:3, :3].T + T[:3, 3]


def _seen_through(points: np.ndarray, depth: np.ndarray, camera: PinholeCamera,
                  T: np.ndarray, margin: float) -> np.ndarray:
    """Which map ``points`` project into the image with the measured surface at least
    ``margin`` beyond them along z."""
    R, t = T[:3, :3], T[:3, 3]
    p = (points - t) @ R
    z = p[:, 2]
    ok = z > 0.05
    u = np.rint(camera.fx * p[:, 0] / np.where(ok, z, 1) + camera.cx).astype(np.int64)
    v = np.rint(camera.fy * p[:, 1] / np.where(ok, z, 1) + camera.cy).astype(np.int64)
    ok &= (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
    out = np.zeros(len(points), bool)
    out[ok] = depth[v[ok], u[ok]] > z[ok] + margin
    return out


# ---------------------------------------------------------------------------------- cache
def _save(seq: MappingSequence, path: Path) -> None:
    c = seq.camera
    extra: dict[str, Any] = {}
    if seq.moved is not None:
        mv = seq.moved
        extra = dict(moved_body=np.array(mv.body), move_frame=np.array(mv.move_frame),
                     move_offset=mv.offset, old_box=mv.old_box, new_box=mv.new_box,
                     old_surface_points=mv.old_surface_points)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(
        tmp, depth=seq.depth, T_map_sensor=seq.T_map_sensor, stamps_s=seq.stamps_s,
        camera=np.array([c.fx, c.fy, c.cx, c.cy, c.width, c.height], np.float64),
        spec=np.array(json.dumps(dataclasses.asdict(seq.spec))), **extra)
    os.replace(tmp, path)  # atomic: parallel makers never see half a file


def _load(spec: MappingSpec, path: Path) -> MappingSequence:
    with np.load(path, allow_pickle=False) as z:
        fx, fy, cx, cy, w, h = z["camera"]
        camera = PinholeCamera(float(fx), float(fy), float(cx), float(cy), int(w), int(h))
        moved = None
        if spec.move:
            moved = MovedObject(str(z["moved_body"]), int(z["move_frame"]), z["move_offset"],
                                z["old_box"], z["new_box"], z["old_surface_points"])
        if z["depth"].shape != (spec.n_frames, spec.height, spec.width):
            raise ValueError(f"depth has shape {z['depth'].shape}")
        return MappingSequence(spec, camera, z["depth"], z["T_map_sensor"], z["stamps_s"],
                               moved)


def make_sequence(spec: MappingSpec, cache_dir: Path | str | None = None) -> MappingSequence:
    """The sequence of ``spec``, from the cache when there (else rendered and cached)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"{spec.name}-{spec.key()}.npz"
    if path.exists():
        try:
            return _load(spec, path)
        except (OSError, ValueError, KeyError) as err:  # a damaged cache file: regenerate
            print(f"mapping dataset: {path}: unreadable cache ({err}); regenerating")
    seq = generate(spec)
    root.mkdir(parents=True, exist_ok=True)
    _save(seq, path)
    return seq


def spec_by_name(name: str) -> MappingSpec:
    """A named spec of :data:`ALL_SPECS` (ValueError listing them otherwise)."""
    for s in ALL_SPECS:
        if s.name == name:
            return s
    raise ValueError(f"unknown mapping sequence {name!r}; known: "
                     f"{', '.join(s.name for s in ALL_SPECS)}")


__all__ = [
    "ALL_SPECS",
    "CODE_VERSION",
    "MOVING_SPEC",
    "ROOM_BOUNDS",
    "TEST_SPECS",
    "TRAIN_SPECS",
    "TUNE_MOVING_SPEC",
    "TUNE_SPECS",
    "MappingSequence",
    "MappingSpec",
    "MovedObject",
    "default_cache_dir",
    "generate",
    "make_sequence",
    "path_pose",
    "spec_by_name",
]
