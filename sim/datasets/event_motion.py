"""Simulated event sequences with exact egomotion and optical-flow ground truth.

A sequence is the MuJoCo camera rig (:mod:`sim.scenes.camera_rig`) on a seeded
sum-of-sines trajectory, rendered at ``render_hz`` and turned into events by
:class:`sim.sensors.event_camera.SimEventCamera` (``clean`` preset). Ground truth, all in
the camera OPTICAL frame (x right, y down, z forward; :mod:`neuro_nodes.perception.types`):

* ``gt_omega``/``gt_velocity`` (K, 3) at ``imu_hz``: the trajectory's exact world twist
  rotated into the optical axes, ``w_opt = R_opt^T w``, ``v_opt = R_opt^T v`` with
  ``R_opt = R_rig R_link_optical`` (:data:`sim.frames.LINK_TO_OPTICAL`);
* ``flow`` (F, 2, H, W) px/s: :class:`sim.ground_truth.flow.FlowGroundTruth` (instantaneous,
  from depth + twist) at ``flow_hz`` frame times; ``depth`` (F, H, W) m at the same times;
* ``imu``: the gyro, ``gt_omega`` + seeded white noise and a constant bias
  (:class:`ImuSpec`), sampled at ``imu_hz``.

``flow_hz`` is also the "frame" of the MVSEC-style dt = 1 / dt = 4 metrics
(:data:`FRAME_PERIOD_S`). The seed changes the trajectory phases, the look-at direction,
the emulator's mismatch and the gyro noise; ``texture`` the backdrop. The train and test
splits use disjoint seeds and textures: :data:`TEST_SPECS` is never used for tuning.

=============== ========= ==============================================================
SequenceSpec    default   meaning
=============== ========= ==============================================================
motion          6dof      ``rotation``, ``translation`` or ``6dof``
texture         checker   backdrop texture (:data:`sim.scenes.mjcf.TEXTURE_KINDS`)
speed           1.0       scale on the peak rates: 0.6 rad/s and 0.5 m/s per axis at 1.0
duration_s      1.0       length (s)
seed            0         trajectory phases, view direction, emulator and gyro noise
backdrop        wall      ``wall`` (textured plane at 2.5 m) or ``room``
width, height   346, 260  sensor size (DAVIS346)
render_hz       500       rendered frames per second fed to the emulator
flow_hz         30        ground-truth flow frames per second (= the metrics' frame)
imu_hz          1000      gyro / twist samples per second
contrast_thres  0.4       emulator C+/C- (``clean`` preset otherwise): the rig's textures
hold                      are 9:1 in intensity, far above real scenes, and C = 0.2 gave
                          11 events per edge crossing and 30k-event windows of ~1 px
                          motion (no contrast to maximise)
=============== ========= ==============================================================

Sequences are cached as ``.npz`` under ``cache_dir`` (default
``~/.cache/neuro_nodes/event_motion``, or ``$NEURO_EVENT_MOTION_CACHE``) keyed by a hash of
the spec and :data:`CODE_VERSION`; bump it when generation changes.
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

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.types import EventWindow, ImuSamples, PinholeCamera

#: Bump when the generated data would change for the same spec.
CODE_VERSION = 2
MOTIONS = ("rotation", "translation", "6dof")
_RIG_MOTION = {"rotation": "pure_rotation", "translation": "pure_translation",
               "6dof": "mixed"}
BASE_ANGULAR_SPEED = 0.6  # rad/s per axis at speed 1
BASE_LINEAR_SPEED = 0.5  # m/s per axis at speed 1
#: Gyro noise of the simulated IMU: white noise std per sample (rad/s) and bias std (rad/s).
GYRO_NOISE_STD = 0.003
GYRO_BIAS_STD = 0.002
#: Texture repeat per texture kind (m): texels of a few pixels at the wall's 2.5 m.
TILE_SIZE = {"checker": 1.0, "grid": 1.0, "speckle": 2.0, "gradient": 1.0, "cross": 1.0}


@dataclass(frozen=True)
class SequenceSpec:
    """One simulated sequence (table in the module docstring)."""

    motion: str = "6dof"
    texture: str = "checker"
    speed: float = 1.0
    duration_s: float = 1.0
    seed: int = 0
    backdrop: str = "wall"
    width: int = 346
    height: int = 260
    render_hz: float = 500.0
    flow_hz: float = 30.0
    imu_hz: float = 1000.0
    contrast_threshold: float = 0.4

    def __post_init__(self) -> None:
        from sim.scenes.mjcf import TEXTURE_KINDS

        if self.motion not in MOTIONS:
            raise ValueError(f"SequenceSpec.motion: {self.motion!r} is not one of {MOTIONS}")
        if self.texture not in TEXTURE_KINDS:
            raise ValueError(f"SequenceSpec.texture: {self.texture!r} is not one of "
                             f"{TEXTURE_KINDS}")
        if self.backdrop not in ("wall", "room"):
            raise ValueError(f"SequenceSpec.backdrop: {self.backdrop!r} is not wall or room")
        if not (self.speed > 0 and self.duration_s > 0):
            raise ValueError("SequenceSpec: speed and duration_s must be positive")
        if not (self.render_hz >= self.flow_hz > 0 and self.imu_hz > 0):
            raise ValueError("SequenceSpec: need render_hz >= flow_hz > 0 and imu_hz > 0")

    @property
    def name(self) -> str:
        return f"{self.motion}-{self.texture}-x{self.speed:g}-s{self.seed}"

    def key(self) -> str:
        blob = json.dumps({**dataclasses.asdict(self), "code": CODE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MotionSequence:
    """Events and ground truth of one :class:`SequenceSpec` (module docstring)."""

    spec: SequenceSpec
    events: EventArray
    camera: PinholeCamera
    gt_t_s: np.ndarray  # (K,)
    gt_omega: np.ndarray  # (K, 3) rad/s, optical frame
    gt_velocity: np.ndarray  # (K, 3) m/s, optical frame
    flow_t_s: np.ndarray  # (F,)
    flow: np.ndarray  # (F, 2, H, W) px/s, NaN where undefined
    depth: np.ndarray  # (F, H, W) m (z-depth), inf where nothing is seen
    imu: ImuSamples | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def frame_period_s(self) -> float:
        """The "frame" of the dt = 1 / dt = 4 flow metrics."""
        return 1.0 / self.spec.flow_hz

    def omega_at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Ground-truth angular velocity interpolated at ``t_s``."""
        return _interp_rows(self.gt_t_s, self.gt_omega, t_s)

    def velocity_at(self, t_s: float | np.ndarray) -> np.ndarray:
        return _interp_rows(self.gt_t_s, self.gt_velocity, t_s)

    def flow_at(self, t_s: float) -> np.ndarray:
        """(2, H, W) ground-truth flow linearly interpolated between the two flow frames
        around ``t_s`` (NaN where either is undefined; clamped at the ends)."""
        ft = self.flow_t_s
        if t_s <= ft[0]:
            return self.flow[0].copy()
        if t_s >= ft[-1]:
            return self.flow[-1].copy()
        i = int(np.searchsorted(ft, t_s, side="right")) - 1
        a = (t_s - ft[i]) / (ft[i + 1] - ft[i])
        return ((1.0 - a) * self.flow[i] + a * self.flow[i + 1]).astype(np.float32)


def _interp_rows(t: np.ndarray, rows: np.ndarray, t_s: float | np.ndarray) -> np.ndarray:
    q = np.atleast_1d(np.asarray(t_s, np.float64))
    out = np.stack([np.interp(q, t, rows[:, j]) for j in range(rows.shape[1])], axis=-1)
    return out[0] if np.ndim(t_s) == 0 else out


# ---------------------------------------------------------------------------------- splits
#: Textures of the train split (tuning/training) and of the test split (evaluation only).
#: (``cross`` is left out: on the wall it gives almost no events.)
TRAIN_TEXTURES = ("checker", "gradient")
TEST_TEXTURES = ("grid", "speckle")
SPEEDS = (1.0, 2.0)


def _split(textures: tuple[str, ...], seed0: int, per_texture: bool) -> tuple[SequenceSpec, ...]:
    """Every motion at every speed: once (textures alternating) or once per texture."""
    specs = []
    seed = seed0
    for motion in MOTIONS:
        for speed in SPEEDS:
            for tex in (textures if per_texture else (textures[seed % len(textures)],)):
                specs.append(SequenceSpec(motion=motion, texture=tex, speed=speed, seed=seed))
                seed += 1
    return tuple(specs)


#: 12 train sequences (seeds 100-111) and 6 test sequences (seeds 0-5), disjoint textures.
TRAIN_SPECS: tuple[SequenceSpec, ...] = _split(TRAIN_TEXTURES, 100, per_texture=True)
TEST_SPECS: tuple[SequenceSpec, ...] = _split(TEST_TEXTURES, 0, per_texture=False)

#: More training sequences for learned models (seeds 1100-1129, training textures only):
#: every motion at the test speeds and between and beyond them, once per training texture.
EXTRA_TRAIN_SPEEDS = (0.5, 1.0, 1.5, 2.0, 2.5)
EXTRA_TRAIN_SPECS: tuple[SequenceSpec, ...] = tuple(
    SequenceSpec(motion=m, texture=tex, speed=v, seed=1100 + 10 * i + 2 * j + k)
    for i, m in enumerate(MOTIONS) for j, v in enumerate(EXTRA_TRAIN_SPEEDS)
    for k, tex in enumerate(TRAIN_TEXTURES))
#: Validation split for model selection (seeds 1000-1005, training textures alternating):
#: every motion at the test speeds; never trained on, and never a test texture or seed.
VAL_SPECS: tuple[SequenceSpec, ...] = _split(TRAIN_TEXTURES, 1000, per_texture=False)


def quick(spec: SequenceSpec, duration_s: float = 0.25) -> SequenceSpec:
    """A short version of ``spec`` (tests, ``--quick``)."""
    return dataclasses.replace(spec, duration_s=min(spec.duration_s, duration_s))


# ---------------------------------------------------------------------------------- making
def default_cache_dir() -> Path:
    env = os.environ.get("NEURO_EVENT_MOTION_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "neuro_nodes" / "event_motion"


def _scene(spec: SequenceSpec):  # noqa: ANN202 - SceneSpec and trajectory
    from sim.scenes.camera_rig import RIG_BODY, CameraRigParams, camera_rig_scene
    from sim.trajectories import SinusoidTrajectory, look_at_quaternion

    rng = np.random.default_rng([spec.seed, 7])
    start = np.array([0.0, 0.0, 1.2])
    look = np.array([4.0, *rng.uniform(-0.6, 0.6, 2)]) + np.array([0.0, 0.0, 1.0])
    params = CameraRigParams(backdrop=spec.backdrop, texture=spec.texture,
                             motion=_RIG_MOTION[spec.motion],
                             linear_speed=BASE_LINEAR_SPEED * spec.speed,
                             angular_speed=BASE_ANGULAR_SPEED * spec.speed,
                             start=tuple(start), look_at=tuple(look), seed=spec.seed,
                             tile_size=TILE_SIZE[spec.texture])
    scene = camera_rig_scene(params)
    base = SinusoidTrajectory.from_speed(start, look_at_quaternion(start, look),
                                         params.motion, params.linear_speed,
                                         params.angular_speed)
    # seeded phases: different seeds give different motions from the same kind
    traj = dataclasses.replace(base, phases_lin=tuple(rng.uniform(0, 2 * math.pi, 3)),
                               phases_ang=tuple(rng.uniform(0, 2 * math.pi, 3)))
    return dataclasses.replace(scene, mocap={**scene.mocap, RIG_BODY: traj}), traj


def optical_twist(traj, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The rig trajectory's exact (omega, velocity) in the optical frame at ``t_s`` (K,).

    The camera sits at the rig origin, so the rig's world twist is the camera's; rotating it
    by ``R_opt^T`` (``R_opt = R_rig R_link_optical``) expresses it in optical axes.
    """
    from sim.frames import LINK_TO_OPTICAL
    from sim.spatial import quat_to_mat

    r_lo = LINK_TO_OPTICAL.rotation
    omega = np.empty((len(t_s), 3))
    vel = np.empty((len(t_s), 3))
    for k, t in enumerate(t_s):
        _, q = traj.pose(float(t))
        lin, ang = traj.twist(float(t))
        r_opt = quat_to_mat(q) @ r_lo
        omega[k] = r_opt.T @ ang
        vel[k] = r_opt.T @ lin
    return omega, vel


def generate(spec: SequenceSpec) -> MotionSequence:
    """Render, emulate and compute ground truth for ``spec`` (no cache)."""
    import sim.gl

    sim.gl.configure()
    from neuro_nodes.events.emulator import PRESETS
    from sim.ground_truth.flow import FlowGroundTruth
    from sim.scenes.camera_rig import CAMERA
    from sim.sensors.camera import CameraSensor
    from sim.sensors.event_camera import EventCameraParams, SimEventCamera
    from sim.world import SimWorld

    scene, traj = _scene(spec)
    world = SimWorld(scene, seed=spec.seed)
    w, h = spec.width, spec.height
    emu = dataclasses.replace(PRESETS["clean"], seed=spec.seed,
                              contrast_threshold_pos=spec.contrast_threshold,
                              contrast_threshold_neg=spec.contrast_threshold)
    cam = SimEventCamera(world.model, EventCameraParams(width=w, height=h, preset="clean",
                                                        seed=spec.seed), emulator=emu)
    sensor = CameraSensor(world.model, CAMERA, w, h)
    gt = FlowGroundTruth(world, CAMERA, w, h, sensor=sensor)
    fx, fy, cx, cy = sensor.intrinsics
    camera = PinholeCamera(fx, fy, cx, cy, w, h)
    n_render = int(round(spec.duration_s * spec.render_hz))
    render_t = np.arange(n_render + 1) / spec.render_hz
    n_flow = int(math.floor(spec.duration_s * spec.flow_hz + 1e-9)) + 1
    # flow frames on the nearest rendered frame; their times are the world's (the physics
    # clock is quantised to its timestep)
    flow_due = {int(round(i / spec.flow_hz * spec.render_hz)): i for i in range(n_flow)}
    flow_t = np.empty(n_flow)
    flows = np.empty((len(flow_t), 2, h, w), np.float32)
    depths = np.empty((len(flow_t), h, w), np.float32)
    chunks: list[EventArray] = []
    try:
        for k, t in enumerate(render_t):
            world.step_until(float(t))
            ev = cam.emulate(sensor.rgb(world.data), world.time_ns)
            if len(ev):
                chunks.append(ev)
            if k in flow_due:
                i = flow_due[k]
                flow_t[i] = world.time
                ff = gt.compute(dt=0.0)
                flows[i] = np.moveaxis(ff.flow, -1, 0)
                depths[i] = ff.frame.depth
    finally:
        sensor.close()
        cam.close()
    events = EventArray.concatenate(chunks) if chunks else EventArray.empty(w, h)
    gt_t = np.arange(int(round(spec.duration_s * spec.imu_hz)) + 1) / spec.imu_hz
    omega, vel = optical_twist(traj, gt_t)
    rng = np.random.default_rng([spec.seed, 11])
    gyro = (omega + rng.normal(0.0, GYRO_BIAS_STD, 3)
            + rng.normal(0.0, GYRO_NOISE_STD, omega.shape))
    return MotionSequence(spec, events, camera, gt_t, omega, vel, flow_t, flows, depths,
                          ImuSamples(gt_t.copy(), gyro))


def _save(seq: MotionSequence, path: Path) -> None:
    c = seq.camera
    e = seq.events
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez_compressed(
        tmp, t=e.t, x=e.x, y=e.y, p=e.p,
        camera=np.array([c.fx, c.fy, c.cx, c.cy, c.width, c.height], np.float64),
        gt_t_s=seq.gt_t_s, gt_omega=seq.gt_omega, gt_velocity=seq.gt_velocity,
        flow_t_s=seq.flow_t_s, flow=seq.flow, depth=seq.depth,
        imu_t=seq.imu.t_s if seq.imu else np.zeros(0),
        imu_gyro=seq.imu.gyro if seq.imu else np.zeros((0, 3)),
        spec=np.array(json.dumps(dataclasses.asdict(seq.spec))))
    os.replace(tmp, path)  # atomic: parallel makers never see half a file


def _load(spec: SequenceSpec, path: Path) -> MotionSequence:
    with np.load(path) as z:
        fx, fy, cx, cy, w, h = z["camera"]
        camera = PinholeCamera(float(fx), float(fy), float(cx), float(cy), int(w), int(h))
        events = EventArray(z["t"], z["x"], z["y"], z["p"], int(w), int(h))
        imu = ImuSamples(z["imu_t"], z["imu_gyro"]) if z["imu_t"].size else None
        return MotionSequence(spec, events, camera, z["gt_t_s"], z["gt_omega"],
                              z["gt_velocity"], z["flow_t_s"], z["flow"], z["depth"], imu)


def make_sequence(spec: SequenceSpec, cache_dir: Path | str | None = None) -> MotionSequence:
    """The sequence of ``spec``, from the cache when there (else generated and cached)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"{spec.name}-{spec.key()}.npz"
    if path.exists():
        try:
            return _load(spec, path)
        except (OSError, ValueError, KeyError) as err:  # a damaged cache file: regenerate
            print(f"event_motion: {path}: unreadable cache ({err}); regenerating")
    seq = generate(spec)
    root.mkdir(parents=True, exist_ok=True)
    _save(seq, path)
    return seq


# ---------------------------------------------------------------------------------- windows
def windows(seq: MotionSequence, n_events: int = 30000,
            stride: int | None = None) -> Iterator[EventWindow]:
    """Fixed-count windows of ``n_events`` events every ``stride`` events (default: no
    overlap), with the gyro samples inside each window."""
    from neuro_nodes.perception.windows import fixed_count_windows

    yield from fixed_count_windows(seq.events, seq.camera, n_events, stride, imu=seq.imu)


__all__ = [
    "CODE_VERSION",
    "EXTRA_TRAIN_SPECS",
    "MOTIONS",
    "TEST_SPECS",
    "TRAIN_SPECS",
    "VAL_SPECS",
    "MotionSequence",
    "SequenceSpec",
    "default_cache_dir",
    "generate",
    "make_sequence",
    "optical_twist",
    "quick",
    "windows",
]
