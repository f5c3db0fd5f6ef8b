"""A free-flying camera on a scripted 6-DoF trajectory, in the room or before a textured wall.

The rig is a mocap body ``camera_rig`` whose frame is a REP-103 ``camera_link`` (x forward,
z up); it carries the MuJoCo camera ``camera`` looking along its +x (no geoms, so it is
invisible and absent from ground-truth geometry). Its motion is
:class:`sim.trajectories.SinusoidTrajectory` about a base pose at ``start`` looking at
``look_at``: ``pure_rotation``, ``pure_translation``, ``mixed`` or ``static``, each axis
peaking at ``linear_speed``/``angular_speed``. ``camera_rig_trajectory(params)`` is the pure
function ``pose(t)``/``twist(t)`` (exact ground truth).

``backdrop="room"`` is :mod:`sim.scenes.room` (floor and wall textures = ``texture``);
``backdrop="wall"`` is a single textured wall plane ``wall_0`` at ``wall_distance`` along the
base view direction, large enough to fill the view during the motion.

=============== ================ ========================================================
parameter       default          meaning
=============== ================ ========================================================
backdrop        room             ``room`` or ``wall``
texture         checker          texture kind of walls/floor/backdrop
tile_size       0.5              size of one texture repeat (m)
motion          mixed            trajectory kind (:data:`sim.trajectories.MOTION_KINDS`)
linear_speed    0.5              peak speed per axis (m/s)
angular_speed   0.6              peak angular rate per axis (rad/s)
start           (0, 0, 1.2)      base position of the rig (m)
look_at         (4, 0, 1.0)      point the base orientation looks at (m)
fovy            60               vertical field of view (deg)
wall_distance   2.5              distance of the backdrop wall (m; backdrop ``wall``)
n_moving        0                moving objects (room backdrop only; see room)
moving_speed    0.5              their speed (m/s)
moving_spin     0.8              their spin about z (rad/s)
seed            0                room layout/colour seed
timestep        0.002            physics timestep (s)
=============== ================ ========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.frames import MUJOCO_CAMERA_XYAXES
from sim.scenes.mjcf import TEXTURE_KINDS, add_material, add_texture, new_model, sub, to_xml
from sim.scenes.room import RoomParams, add_room, room_trajectories
from sim.scenes.spec import SceneSpec
from sim.trajectories import MOTION_KINDS, SinusoidTrajectory, Trajectory, look_at_quaternion

RIG_BODY = "camera_rig"
CAMERA = "camera"


@dataclass(frozen=True)
class CameraRigParams:
    """Camera rig scene (table in the module docstring)."""

    backdrop: str = param("room", "Scene around the camera", choices=("room", "wall"))
    texture: str = param("checker", "Texture kind of walls/floor/backdrop", choices=TEXTURE_KINDS)
    tile_size: float = param(0.5, "Size of one texture repeat (m)", min=0.02, max=10.0)
    motion: str = param("mixed", "Trajectory kind", choices=MOTION_KINDS)
    linear_speed: float = param(0.5, "Peak speed per axis (m/s)", min=0.0, max=20.0)
    angular_speed: float = param(0.6, "Peak angular rate per axis (rad/s)", min=0.0, max=20.0)
    start: tuple[float, ...] = param((0.0, 0.0, 1.2), "Base position of the rig (m)")
    look_at: tuple[float, ...] = param((4.0, 0.0, 1.0), "Point the base orientation faces (m)")
    fovy: float = param(60.0, "Vertical field of view (deg)", min=5.0, max=170.0)
    wall_distance: float = param(2.5, "Backdrop wall distance (m)", min=0.3, max=50.0)
    n_moving: int = param(0, "Moving objects (room backdrop)", min=0, max=6)
    moving_speed: float = param(0.5, "Speed of the moving objects (m/s)", min=0.0, max=10.0)
    moving_spin: float = param(0.8, "Spin rate of the moving objects about z (rad/s)",
                               min=-20.0, max=20.0)
    seed: int = param(0, "Room layout and colour seed", min=0, max=2**31 - 1)
    timestep: float = param(0.002, "Physics timestep (s)", min=1e-5, max=0.05)

    def validate(self) -> None:
        if len(self.start) != 3 or len(self.look_at) != 3:
            raise ValueError("start and look_at are 3-vectors")
        if np.allclose(self.start, self.look_at):
            raise ValueError("look_at must differ from start")


def room_params(p: CameraRigParams) -> RoomParams:
    return RoomParams(floor_texture=p.texture, wall_texture=p.texture, tile_size=p.tile_size,
                      n_moving=p.n_moving, moving_speed=p.moving_speed,
                      moving_spin=p.moving_spin, seed=p.seed,
                      timestep=p.timestep)


def camera_rig_trajectory(params: CameraRigParams) -> SinusoidTrajectory:
    """The rig's scripted motion: ``pose(t)`` and its analytic ``twist(t)``."""
    p = validated(params)
    q0 = look_at_quaternion(np.asarray(p.start), np.asarray(p.look_at))
    return SinusoidTrajectory.from_speed(np.asarray(p.start), q0, p.motion, p.linear_speed,
                                         p.angular_speed)


def camera_rig_xml(params: CameraRigParams | None = None) -> str:
    p = validated(params or CameraRigParams())
    root, asset, worldbody = new_model("camera_rig", timestep=p.timestep)
    if p.backdrop == "room":
        add_room(asset, worldbody, room_params(p))
    else:
        start, target = np.asarray(p.start, float), np.asarray(p.look_at, float)
        fwd = (target - start) / np.linalg.norm(target - start)
        centre = start + p.wall_distance * fwd
        half = 4.0 * p.wall_distance * math.tan(math.radians(p.fovy) / 2) + 2.0
        x_axis = np.cross([0.0, 0.0, 1.0], -fwd)
        if np.linalg.norm(x_axis) < 1e-9:
            x_axis = np.array([1.0, 0.0, 0.0])
        x_axis /= np.linalg.norm(x_axis)
        y_axis = np.cross(-fwd, x_axis)
        add_texture(asset, "tex_wall_0", p.texture, (0.9, 0.85, 0.7), (0.1, 0.15, 0.2),
                    mark=(0.1, 0.1, 0.1), density=0.15)
        add_material(asset, "mat_wall_0", "tex_wall_0", texrepeat=(1 / p.tile_size,) * 2,
                     texuniform=True)
        sub(worldbody, "light", name="sun_0", directional=True, pos=start, dir=fwd,
            diffuse=(0.6, 0.6, 0.6), specular=(0, 0, 0), castshadow=False)
        sub(worldbody, "geom", name="wall_0", type="plane", size=(half, half, 0.1), pos=centre,
            xyaxes=(*x_axis, *y_axis), material="mat_wall_0")
    pos, quat = camera_rig_trajectory(p).pose(0.0)
    rig = sub(worldbody, "body", name=RIG_BODY, mocap=True, pos=pos, quat=quat)
    sub(rig, "camera", name=CAMERA, pos=(0, 0, 0), xyaxes=MUJOCO_CAMERA_XYAXES, fovy=p.fovy)
    return to_xml(root)


def camera_rig_scene(params: CameraRigParams | None = None) -> SceneSpec:
    p = validated(params or CameraRigParams())
    mocap: dict[str, Trajectory] = {RIG_BODY: camera_rig_trajectory(p)}
    if p.backdrop == "room":
        mocap.update(room_trajectories(room_params(p)))
    return SceneSpec("camera_rig", camera_rig_xml(p), mocap, p)


__all__ = [
    "CAMERA",
    "RIG_BODY",
    "CameraRigParams",
    "camera_rig_scene",
    "camera_rig_trajectory",
    "camera_rig_xml",
]
