"""A textured room with objects of distinct classes, built procedurally as MJCF.

Layout: floor plane at z = 0 (x, y in ``[-half_x, half_x] x [-half_y, half_y]``), four wall
planes facing inward (``wall_0..3``), an optional ceiling plane; objects stand on the floor
outside a clear disc of ``clear_radius`` around the origin (where robots and cameras start),
placed by rejection sampling from ``seed``. Each object is one body ``obj_<class>_<i>``
(composed objects are several geoms of that body); the class table is
:data:`sim.scenes.classes.CLASS_NAMES`. Optional moving objects are mocap bodies circling
the origin (:func:`room_trajectories`); their geoms do not collide.

Lighting is two shadowless directional lights plus the ambient headlight; all materials are
matte, so a surface point's colour does not depend on the viewpoint.

=================== ======== =============================================================
parameter           default  meaning
=================== ======== =============================================================
half_x, half_y      4.0, 3.5 half extents of the floor (m)
height              2.8      wall height / ceiling height (m)
ceiling             True     close the room with a ceiling plane
floor_texture       checker  floor texture kind (:data:`sim.scenes.mjcf.TEXTURE_KINDS`)
wall_texture        grid     wall texture kind
tile_size           1.0      size of one texture repeat on floor/walls (m; 2x2 checks)
instances_per_class 1        objects per class (9 classes)
scale_jitter        0.15     objects are scaled by U(1 - j, 1 + j)
clear_radius        1.6      radius kept free of static objects around the origin (m)
free_objects        False    give static objects a free joint (they can fall/be pushed)
n_moving            0        scripted moving objects (crate, ball, can, ...)
moving_radius       1.1      radius of the moving objects' circle (m)
moving_speed        0.5      their speed along the circle (m/s)
moving_spin         0.8      their spin about z (rad/s)
light_diffuse       0.55     diffuse intensity of each directional light
seed                0        layout, texture and colour seed
timestep            0.002    physics timestep (s)
=================== ======== =============================================================
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.scenes.classes import (
    CLASS_NAMES,
    EXTRA_OBJECT_CLASSES,
    OBJECT_CLASSES,
    object_body_name,
)
from sim.scenes.mjcf import TEXTURE_KINDS, add_material, add_texture, new_model, sub, to_xml
from sim.scenes.spec import SceneSpec
from sim.trajectories import CircleTrajectory, Trajectory


@dataclass(frozen=True)
class RoomParams:
    """Room layout and appearance (table in the module docstring)."""

    half_x: float = param(4.0, "Half extent of the floor along x (m)", min=1.5, max=50.0)
    half_y: float = param(3.5, "Half extent of the floor along y (m)", min=1.5, max=50.0)
    height: float = param(2.8, "Wall height (m)", min=1.0, max=20.0)
    ceiling: bool = param(True, "Close the room with a ceiling plane")
    floor_texture: str = param("checker", "Floor texture kind", choices=TEXTURE_KINDS)
    wall_texture: str = param("grid", "Wall texture kind", choices=TEXTURE_KINDS)
    tile_size: float = param(1.0, "Size of one texture repeat on floor and walls (m)",
                             min=0.05, max=10.0)
    instances_per_class: int = param(1, "Objects per class", min=1, max=4)
    scale_jitter: float = param(0.15, "Relative object size jitter", min=0.0, max=0.5)
    clear_radius: float = param(1.6, "Radius around the origin kept free of static objects (m)",
                                min=0.0, max=20.0)
    free_objects: bool = param(False, "Static objects get a free joint")
    n_moving: int = param(0, "Scripted moving (mocap) objects", min=0, max=6)
    moving_radius: float = param(1.1, "Radius of the moving objects' circle (m)",
                                 min=0.3, max=20.0)
    moving_speed: float = param(0.5, "Speed of the moving objects (m/s)", min=0.0, max=10.0)
    moving_spin: float = param(0.8, "Spin rate of the moving objects about z (rad/s)",
                               min=-20.0, max=20.0)
    light_diffuse: float = param(0.55, "Diffuse intensity of each directional light",
                                 min=0.0, max=2.0)
    seed: int = param(0, "Layout, texture and colour seed", min=0, max=2**31 - 1)
    timestep: float = param(0.002, "Physics timestep (s)", min=1e-5, max=0.05)

    def validate(self) -> None:
        if self.moving_radius + 0.4 > min(self.half_x, self.half_y):
            raise ValueError("moving_radius leaves the room")


# ------------------------------------------------------------------ objects (one per class)
# Each adds geoms to a body whose origin is on the floor and returns its footprint radius.
Builder = Callable[[ET.Element, str, str, float], float]


def _geom(body: ET.Element, name: str, mat: str, **kw: object) -> None:
    sub(body, "geom", name=name, material=mat, **kw)


def _crate(b: ET.Element, n: str, m: str, u: float) -> float:
    s = 0.25 * u
    _geom(b, n, m, type="box", size=(s, s, s), pos=(0, 0, s))
    return s * math.sqrt(2)


def _ball(b: ET.Element, n: str, m: str, u: float) -> float:
    r = 0.2 * u
    _geom(b, n, m, type="sphere", size=(r,), pos=(0, 0, r))
    return r


def _can(b: ET.Element, n: str, m: str, u: float) -> float:
    r, h = 0.12 * u, 0.22 * u
    _geom(b, n, m, type="cylinder", size=(r, h), pos=(0, 0, h))
    return r


def _capsule(b: ET.Element, n: str, m: str, u: float) -> float:
    r, h = 0.1 * u, 0.3 * u
    _geom(b, n, m, type="capsule", size=(r,), fromto=(-h, 0, r, h, 0, r))
    return h + r


def _table(b: ET.Element, n: str, m: str, u: float) -> float:
    hx, hy, top = 0.5 * u, 0.35 * u, 0.75 * u
    _geom(b, f"{n}_top", m, type="box", size=(hx, hy, 0.025), pos=(0, 0, top - 0.025))
    for k, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        _geom(b, f"{n}_leg{k}", m, type="box", size=(0.03, 0.03, (top - 0.05) / 2),
              pos=(sx * (hx - 0.05), sy * (hy - 0.05), (top - 0.05) / 2))
    return math.hypot(hx, hy)


def _chair(b: ET.Element, n: str, m: str, u: float) -> float:
    s, seat = 0.22 * u, 0.45 * u
    _geom(b, f"{n}_seat", m, type="box", size=(s, s, 0.025), pos=(0, 0, seat))
    for k, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        _geom(b, f"{n}_leg{k}", m, type="cylinder", size=(0.02, (seat - 0.025) / 2),
              pos=(sx * (s - 0.03), sy * (s - 0.03), (seat - 0.025) / 2))
    _geom(b, f"{n}_back", m, type="box", size=(0.02, s, 0.25 * u),
          pos=(-(s - 0.02), 0, seat + 0.025 + 0.25 * u))
    return s * math.sqrt(2)


def _shelf(b: ET.Element, n: str, m: str, u: float) -> float:
    d, w, h = 0.2, 0.5 * u, 0.9 * u
    for k, sy in enumerate((1, -1)):
        _geom(b, f"{n}_side{k}", m, type="box", size=(d, 0.02, h), pos=(0, sy * (w - 0.02), h))
    for k, z in enumerate(np.linspace(0.05, 2 * h - 0.05, 5)):
        _geom(b, f"{n}_board{k}", m, type="box", size=(d, w - 0.04, 0.015), pos=(0, 0, z))
    _geom(b, f"{n}_back", m, type="box", size=(0.01, w - 0.04, h), pos=(-d + 0.01, 0, h))
    return math.hypot(d, w)


def _lamp(b: ET.Element, n: str, m: str, u: float) -> float:
    top = 1.5 * u
    _geom(b, f"{n}_base", m, type="cylinder", size=(0.15, 0.02), pos=(0, 0, 0.02))
    _geom(b, f"{n}_pole", m, type="capsule", size=(0.02,), fromto=(0, 0, 0.06, 0, 0, top - 0.1))
    _geom(b, f"{n}_bulb", m, type="sphere", size=(0.06,), pos=(0, 0, top - 0.08))
    _geom(b, f"{n}_shade", m, type="cylinder", size=(0.2, 0.1), pos=(0, 0, top))
    return 0.22


def _cone(b: ET.Element, n: str, m: str, u: float) -> float:
    _geom(b, f"{n}_base", m, type="box", size=(0.22, 0.22, 0.02), pos=(0, 0, 0.02))
    for k, r in enumerate((0.16, 0.12, 0.08, 0.045)):
        _geom(b, f"{n}_ring{k}", m, type="cylinder", size=(r * u, 0.06 * u),
              pos=(0, 0, 0.04 + (0.06 + 0.12 * k) * u))
    return 0.22 * math.sqrt(2)


OBJECT_BUILDERS: dict[str, Builder] = {
    "crate": _crate, "ball": _ball, "can": _can, "capsule": _capsule, "table": _table,
    "chair": _chair, "shelf": _shelf, "lamp": _lamp, "cone": _cone,
}
assert set(OBJECT_BUILDERS) == set(OBJECT_CLASSES)

_OBJECT_TEXTURES = ("checker", "grid", "speckle", "cross")
MOVING_CLASSES = ("crate", "ball", "can")


def _colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A light and a dark colour (good contrast for events and flow)."""
    light = 0.55 + 0.45 * rng.random(3)
    dark = 0.05 + 0.3 * rng.random(3)
    return light, dark


@dataclass(frozen=True)
class _Look:
    texture: str
    light: np.ndarray
    dark: np.ndarray
    scale: float


def _draw_look(rng: np.random.Generator, params: RoomParams) -> _Look:
    light, dark = _colour_pair(rng)
    kind = _OBJECT_TEXTURES[int(rng.integers(len(_OBJECT_TEXTURES)))]
    return _Look(kind, light, dark, 1.0 + params.scale_jitter * (2 * rng.random() - 1))


def _footprint(cls: str, look: _Look) -> float:
    return OBJECT_BUILDERS[cls](ET.Element("body"), "scratch", "scratch", look.scale)


def _add_object(asset: ET.Element, parent: ET.Element, cls: str, index: int, look: _Look, *,
                pos: tuple[float, float, float] = (0.0, 0.0, 0.0), yaw: float = 0.0,
                mocap: bool = False, free: bool = False) -> None:
    name = object_body_name(cls, index)
    add_texture(asset, f"tex_{name}", look.texture, look.light, look.dark, type_="cube",
                size=32, mark=look.dark, density=0.12)
    add_material(asset, f"mat_{name}", f"tex_{name}")
    quat = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    body = sub(parent, "body", name=name, pos=pos, quat=quat, mocap=True if mocap else None)
    if free:
        sub(body, "freejoint", name=f"{name}_free")
    OBJECT_BUILDERS[cls](body, f"{name}_geom", f"mat_{name}", look.scale)
    if mocap:
        for g in body.iter("geom"):
            g.set("contype", "0")
            g.set("conaffinity", "0")


def add_room(asset: ET.Element, worldbody: ET.Element, params: RoomParams) -> None:
    """Add the room (textures, lights, floor, walls, objects) to a model being built."""
    p = validated(params)
    rng = np.random.default_rng(p.seed)
    hx, hy, h = p.half_x, p.half_y, p.height
    add_texture(asset, "tex_sky", "gradient", (0.6, 0.7, 0.8), (0.1, 0.1, 0.15),
                type_="skybox", size=256)
    fl, fd = _colour_pair(rng)
    add_texture(asset, "tex_floor", p.floor_texture, fl, fd, mark=fd, density=0.1)
    add_material(asset, "mat_floor", "tex_floor", texrepeat=(1 / p.tile_size,) * 2,
                 texuniform=True)
    sub(worldbody, "light", name="sun_0", directional=True, pos=(0, 0, h - 0.05),
        dir=(0.3, 0.2, -1.0), diffuse=(p.light_diffuse,) * 3, specular=(0, 0, 0),
        castshadow=False)
    sub(worldbody, "light", name="sun_1", directional=True, pos=(0, 0, h - 0.05),
        dir=(-0.25, -0.45, -1.0), diffuse=(0.6 * p.light_diffuse,) * 3, specular=(0, 0, 0),
        castshadow=False)
    sub(worldbody, "geom", name="floor", type="plane", size=(hx, hy, 0.1), material="mat_floor")
    walls = (((1, 0, 0), hx, hy), ((-1, 0, 0), hx, hy), ((0, 1, 0), hy, hx),
             ((0, -1, 0), hy, hx))
    for k, (n_out, dist, half_len) in enumerate(walls):
        wl, wd = _colour_pair(rng)
        add_texture(asset, f"tex_wall_{k}", p.wall_texture, wl, wd, mark=wd, density=0.1)
        add_material(asset, f"mat_wall_{k}", f"tex_wall_{k}",
                     texrepeat=(1 / p.tile_size,) * 2, texuniform=True)
        n_in = -np.asarray(n_out, dtype=float)
        x_axis = np.cross([0.0, 0.0, 1.0], n_in)  # x = y_up x normal, so x cross y = normal
        sub(worldbody, "geom", name=f"wall_{k}", type="plane", size=(half_len, h / 2, 0.1),
            pos=dist * np.asarray(n_out, dtype=float) + np.array([0, 0, h / 2]),
            xyaxes=(*x_axis, 0.0, 0.0, 1.0), material=f"mat_wall_{k}")
    if p.ceiling:
        cl, cd = _colour_pair(rng)
        add_texture(asset, "tex_ceiling", "checker", cl, cd)
        add_material(asset, "mat_ceiling", "tex_ceiling", texrepeat=(0.5 / p.tile_size,) * 2,
                     texuniform=True)
        sub(worldbody, "geom", name="ceiling", type="plane", size=(hx, hy, 0.1),
            pos=(0, 0, h), xyaxes=(1, 0, 0, 0, -1, 0), material="mat_ceiling")

    placed: list[tuple[float, float, float]] = []
    index = 0
    for _ in range(p.instances_per_class):
        for cls in OBJECT_CLASSES:
            look = _draw_look(rng, p)
            radius = _footprint(cls, look)
            x, y, yaw = _place(rng, placed, radius, p)
            placed.append((x, y, radius))
            _add_object(asset, worldbody, cls, index, look, pos=(x, y, 0.0), yaw=yaw,
                        free=p.free_objects)
            index += 1
    for k in range(p.n_moving):
        cls = MOVING_CLASSES[k % len(MOVING_CLASSES)]
        _add_object(asset, worldbody, cls, index, _draw_look(rng, p), mocap=True)
        index += 1


def _place(rng: np.random.Generator, placed: list[tuple[float, float, float]], radius: float,
           p: RoomParams) -> tuple[float, float, float]:
    margin = 0.1
    lim_x, lim_y = p.half_x - radius - margin, p.half_y - radius - margin
    for _ in range(5000):
        x, y = rng.uniform(-lim_x, lim_x), rng.uniform(-lim_y, lim_y)
        if math.hypot(x, y) < p.clear_radius + radius:
            continue
        if all(math.hypot(x - a, y - b) > r + radius + margin for a, b, r in placed):
            return x, y, float(rng.uniform(-math.pi, math.pi))
    raise ValueError("room too small for its objects: enlarge it or lower instances_per_class")


# ------------------------------------------------------------------ extra object classes
# Built only by the point-cloud dataset (sim.scenes.classes.EXTRA_OBJECT_CLASSES); the room
# never places them, so its seeded layout does not depend on them.
def _bottle(b: ET.Element, n: str, m: str, u: float) -> float:
    r, h = 0.06 * u, 0.1 * u  # body radius, half height
    _geom(b, f"{n}_body", m, type="cylinder", size=(r, h), pos=(0, 0, h))
    _geom(b, f"{n}_shoulder", m, type="sphere", size=(r,), pos=(0, 0, 2 * h))
    neck = 0.05 * u
    _geom(b, f"{n}_neck", m, type="cylinder", size=(0.022 * u, neck),
          pos=(0, 0, 2 * h + 0.8 * r + neck))
    return r


def _bench(b: ET.Element, n: str, m: str, u: float) -> float:
    hx, hy, seat = 0.6 * u, 0.18 * u, 0.42 * u
    _geom(b, f"{n}_seat", m, type="box", size=(hx, hy, 0.03), pos=(0, 0, seat - 0.03))
    for k, sx in enumerate((1, -1)):  # two slab legs across the seat
        _geom(b, f"{n}_leg{k}", m, type="box", size=(0.03, hy - 0.02, (seat - 0.06) / 2),
              pos=(sx * (hx - 0.1), 0, (seat - 0.06) / 2))
    return math.hypot(hx, hy)


EXTRA_OBJECT_BUILDERS: dict[str, Builder] = {"bottle": _bottle, "bench": _bench}
assert set(EXTRA_OBJECT_BUILDERS) == set(EXTRA_OBJECT_CLASSES)


def room_trajectories(params: RoomParams) -> dict[str, Trajectory]:
    """Scripted trajectories of the moving objects (body name -> trajectory)."""
    p = params
    n_static = p.instances_per_class * len(OBJECT_CLASSES)
    out: dict[str, Trajectory] = {}
    for k in range(p.n_moving):
        cls = MOVING_CLASSES[k % len(MOVING_CLASSES)]
        out[object_body_name(cls, n_static + k)] = CircleTrajectory(  # origin just above floor
            center=(0.0, 0.0, 0.02), radius=p.moving_radius,
            rate=p.moving_speed / p.moving_radius * (1 if k % 2 == 0 else -1),
            spin=p.moving_spin, phase=2 * math.pi * k / max(p.n_moving, 1))
    return out


def room_xml(params: RoomParams | None = None) -> str:
    """MJCF of the room alone."""
    p = validated(params or RoomParams())
    root, asset, worldbody = new_model("room", timestep=p.timestep)
    add_room(asset, worldbody, p)
    return to_xml(root)


def room_scene(params: RoomParams | None = None) -> SceneSpec:
    p = validated(params or RoomParams())
    return SceneSpec("room", room_xml(p), room_trajectories(p), p)


__all__ = [
    "CLASS_NAMES",
    "EXTRA_OBJECT_BUILDERS",
    "MOVING_CLASSES",
    "OBJECT_BUILDERS",
    "RoomParams",
    "add_room",
    "room_scene",
    "room_trajectories",
    "room_xml",
]
