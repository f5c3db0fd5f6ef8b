"""An N-link planar swimmer in a fluid (after dm_control's ``swimmer``), built procedurally.

The head body ``head`` moves in the plane (slide joints ``rootx``/``rooty``, hinge
``rootz``); links ``segment_1..segment_{N-1}`` hang behind it (towards +y of the head), each
on a hinge ``joint_i`` about z, limited to +-360/N degrees and driven by the motor
``motor_i`` (control in [-1, 1], torque ``gear * ctrl``). The head faces -y (its nose).

Propulsion comes from MuJoCo's inertia-box fluid model (``<option density viscosity>``):
each link carries an invisible flat "inertial" box (thin across the link), so moving sideways
is resisted far more than moving along the link, and a travelling wave of joint torques
(:func:`travelling_wave`) pushes the swimmer head first. Contacts are disabled; the floor
is only a visual (and ground-truth) reference at z = 0.

================ ========= ===============================================================
parameter        default   meaning
================ ========= ===============================================================
n_links          6         number of links N (head included), 3..12
link_length      0.1       length of each link (m)
link_radius      0.01      radius of the visual capsules (m)
link_mass        0.01      mass of each link's inertial box (kg)
plate_size       (.001,    half extents of the inertial box (across, along the link,
                  .05,     vertical) (m): sets the anisotropic drag
                  .01)
density          3000      fluid density (kg/m^3)
viscosity        0.0       fluid viscosity (Pa s)
gear             5e-4      motor torque per unit control (N m)
joint_damping    0.0       hinge damping (N m s/rad)
armature         1e-6      hinge armature (kg m^2)
floor_texture    grid      floor texture kind
timestep         0.002     physics timestep (s)
================ ========= ===============================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.scenes.mjcf import TEXTURE_KINDS, add_material, add_texture, new_model, sub, to_xml
from sim.scenes.spec import SceneSpec

HEAD = "head"


@dataclass(frozen=True)
class SwimmerParams:
    """Swimmer body, fluid and motors (table in the module docstring)."""

    n_links: int = param(6, "Number of links, head included", min=3, max=12)
    link_length: float = param(0.1, "Length of each link (m)", min=0.01, max=2.0)
    link_radius: float = param(0.01, "Radius of the visual capsules (m)", min=0.001, max=0.5)
    link_mass: float = param(0.01, "Mass of each link (kg)", min=1e-4, max=100.0)
    plate_size: tuple[float, ...] = param(
        (0.001, 0.05, 0.01), "Inertial box half extents: across, along, vertical (m)")
    density: float = param(3000.0, "Fluid density (kg/m^3)", min=0.0, max=1e5)
    viscosity: float = param(0.0, "Fluid viscosity (Pa s)", min=0.0, max=1e3)
    gear: float = param(5e-4, "Motor torque per unit control (N m)", min=1e-7, max=1e3)
    joint_damping: float = param(0.0, "Hinge damping (N m s/rad)", min=0.0, max=1e3)
    armature: float = param(1e-6, "Hinge armature (kg m^2)", min=0.0, max=1e3)
    floor_texture: str = param("grid", "Floor texture kind", choices=TEXTURE_KINDS)
    timestep: float = param(0.002, "Physics timestep (s)", min=1e-5, max=0.05)

    def validate(self) -> None:
        if len(self.plate_size) != 3:
            raise ValueError("plate_size has 3 elements")


def joint_names(params: SwimmerParams) -> list[str]:
    return [f"joint_{i}" for i in range(1, params.n_links)]


def travelling_wave(t: float, n_joints: int, *, frequency: float = 1.0,
                    wavelength: float = 1.0, amplitude: float = 1.0) -> np.ndarray:
    """Motor controls of a wave travelling from head to tail: ``A sin(2 pi (f t - i/(lambda
    n)))`` for joint i (``wavelength`` in body lengths)."""
    i = np.arange(n_joints)
    return amplitude * np.sin(2 * math.pi * (frequency * t - i / (wavelength * n_joints)))


def swimmer_xml(params: SwimmerParams | None = None) -> str:
    p = validated(params or SwimmerParams())
    root, asset, worldbody = new_model("swimmer", timestep=p.timestep, density=p.density,
                                       viscosity=p.viscosity)
    option = root.find("option")
    assert option is not None
    sub(option, "flag", contact="disable")
    add_texture(asset, "tex_sky", "gradient", (0.4, 0.6, 0.8), (0.0, 0.0, 0.0),
                type_="skybox", size=256)
    add_texture(asset, "tex_floor", p.floor_texture, (0.1, 0.2, 0.3), (0.2, 0.3, 0.4),
                mark=(0.8, 0.8, 0.8))
    add_material(asset, "mat_floor", "tex_floor", texrepeat=(4, 4), texuniform=True)
    add_material(asset, "mat_self", rgba=(0.7, 0.5, 0.3, 1.0))
    add_material(asset, "mat_nose", rgba=(0.9, 0.2, 0.2, 1.0))
    sub(worldbody, "light", name="sun", directional=True, pos=(0, 0, 3), dir=(0, 0, -1),
        diffuse=(0.7, 0.7, 0.7), specular=(0, 0, 0), castshadow=False)
    sub(worldbody, "geom", name="floor", type="plane", size=(3, 3, 0.1), material="mat_floor")
    half = p.link_length / 2
    r = p.link_radius

    def link_geoms(body: object, name: str) -> None:
        sub(body, "geom", name=f"swimmer_{name}", type="capsule", size=(r,),
            fromto=(0, half, 0, 0, -half, 0), material="mat_self", mass=0.0)
        sub(body, "geom", name=f"swimmer_{name}_inertial", type="box", size=p.plate_size,
            mass=p.link_mass, rgba=(0, 0, 0, 0), group=3)

    body = sub(worldbody, "body", name=HEAD, pos=(0, 0, 0.05))
    for name, typ, axis in (("rootx", "slide", (1, 0, 0)), ("rooty", "slide", (0, 1, 0)),
                            ("rootz", "hinge", (0, 0, 1))):
        sub(body, "joint", name=name, type=typ, axis=axis, pos=(0, -half, 0))
    link_geoms(body, "head")
    sub(body, "geom", name="swimmer_nose", type="sphere", size=(0.4 * r,),
        pos=(0, -half - 0.01, 0), material="mat_nose", mass=0.0)
    sub(body, "site", name="head", pos=(0, -half, 0), size=(0.01,), group=5)
    sub(body, "camera", name="tracking", pos=(0, -0.2, 0.6), xyaxes=(1, 0, 0, 0, 1, 1),
        mode="trackcom", fovy=60)
    actuators = []
    limit = 2 * math.pi / p.n_links
    for i in range(1, p.n_links):
        body = sub(body, "body", name=f"segment_{i}", pos=(0, p.link_length, 0))
        sub(body, "joint", name=f"joint_{i}", type="hinge", axis=(0, 0, 1), pos=(0, -half, 0),
            range=(-limit, limit), damping=p.joint_damping, armature=p.armature,
            solreflimit=(0.05, 1.0), solimplimit=(0.0, 0.8, 0.1))
        link_geoms(body, f"segment_{i}")
        actuators.append(f"joint_{i}")
    act = sub(root, "actuator")
    for i, joint in enumerate(actuators, start=1):
        sub(act, "motor", name=f"motor_{i}", joint=joint, gear=(p.gear,), ctrlrange=(-1, 1))
    sensors = sub(root, "sensor")
    sub(sensors, "framepos", name="head_pos", objtype="site", objname="head")
    sub(sensors, "velocimeter", name="head_vel", site="head")
    return to_xml(root)


def swimmer_scene(params: SwimmerParams | None = None) -> SceneSpec:
    p = validated(params or SwimmerParams())
    return SceneSpec("swimmer", swimmer_xml(p), {}, p)


__all__ = ["HEAD", "SwimmerParams", "joint_names", "swimmer_scene", "swimmer_xml",
           "travelling_wave"]
