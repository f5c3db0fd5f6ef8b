"""A differential-drive robot with an event/RGB camera, a depth camera and an IMU, in the room.

Body ``base_link`` (free joint; REP-103: x forward, y left, z up; origin at the wheel axle
centre) carries a chassis box, two driven wheels (hinges ``wheel_left``/``wheel_right`` about
the base y axis, velocity actuators of the same names whose control is the wheel's target
angular velocity in rad/s) and a frictionless rear caster ball (``condim=1``, ``priority=1`` so the
floor's friction does not apply), so the robot
rests on three points with its centre of mass inside the triangle.

Sensors: the site ``camera_link`` carries the cameras ``camera`` (RGB/events) and
``depth_camera``, both looking along the link's +x; the site ``imu`` carries the MuJoCo
``accelerometer`` ``imu_accel`` (specific force, m/s^2, +9.81 up at rest) and ``gyro``
``imu_gyro`` (rad/s), both in the site (= base_link) axes.

``cmd_vel_to_ctrl(v, w)`` maps a ``geometry_msgs/Twist`` (linear.x = v m/s, angular.z = w
rad/s, counter-clockwise positive) to wheel speeds ``((v - w b/2)/r, (v + w b/2)/r)``,
scaled down together if one exceeds ``max_wheel_speed`` (the turn radius is kept).

================ ============== ==========================================================
parameter        default        meaning
================ ============== ==========================================================
wheel_radius     0.06           wheel radius r (m)
wheel_width      0.03           wheel width (m)
wheel_separation 0.34           distance between the wheels' mid-planes b (m)
chassis_half     (.2, .14, .05) chassis box half extents (m)
chassis_mass     4.0            chassis mass (kg)
wheel_mass       0.3            mass of each wheel (kg)
caster_radius    0.025          caster ball radius (m)
caster_x         -0.2           caster position along x (m, behind the axle)
wheel_kv         10.0           velocity-actuator gain (N m per rad/s)
max_wheel_torque 5.0            actuator torque limit (N m)
max_wheel_speed  25.0           wheel speed limit (rad/s)
camera_pos       (.17, 0, .16)  camera_link position in base_link (m)
camera_fovy      60.0           RGB/event camera vertical field of view (deg)
depth_fovy       58.0           depth camera vertical field of view (deg)
imu_pos          (0, 0, .05)    IMU site position in base_link (m)
start            (0, 0, 0)      start pose x, y (m), yaw (rad)
room_seed        0              room layout seed
n_moving         0              moving objects in the room
timestep         0.002          physics timestep (s)
================ ============== ==========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from sim.frames import MUJOCO_CAMERA_XYAXES, StaticTransform, camera_static_transforms
from sim.scenes.mjcf import add_material, new_model, sub, to_xml
from sim.scenes.room import RoomParams, add_room, room_trajectories
from sim.scenes.spec import SceneSpec
from sim.spatial import Pose

BASE = "base_link"
CAMERA = "camera"
DEPTH_CAMERA = "depth_camera"
WHEELS = ("wheel_left", "wheel_right")
ACCEL, GYRO = "imu_accel", "imu_gyro"


@dataclass(frozen=True)
class MobileRobotParams:
    """Differential-drive robot (table in the module docstring)."""

    wheel_radius: float = param(0.06, "Wheel radius (m)", min=0.01, max=1.0)
    wheel_width: float = param(0.03, "Wheel width (m)", min=0.005, max=0.5)
    wheel_separation: float = param(0.34, "Distance between the wheel mid-planes (m)",
                                    min=0.05, max=3.0)
    chassis_half: tuple[float, ...] = param((0.2, 0.14, 0.05), "Chassis half extents (m)")
    chassis_mass: float = param(4.0, "Chassis mass (kg)", min=0.01, max=1000.0)
    wheel_mass: float = param(0.3, "Mass of one wheel (kg)", min=0.001, max=100.0)
    caster_radius: float = param(0.025, "Caster ball radius (m)", min=0.005, max=0.5)
    caster_x: float = param(-0.2, "Caster position along x (m)", min=-3.0, max=3.0)
    wheel_kv: float = param(10.0, "Velocity actuator gain (N m s/rad)", min=1e-3, max=1e3)
    max_wheel_torque: float = param(5.0, "Actuator torque limit (N m)", min=1e-3, max=1e4)
    max_wheel_speed: float = param(25.0, "Wheel speed limit (rad/s)", min=0.1, max=1e3)
    camera_pos: tuple[float, ...] = param((0.17, 0.0, 0.16), "camera_link in base_link (m)")
    camera_fovy: float = param(60.0, "RGB/event camera vertical FOV (deg)", min=5.0, max=170.0)
    depth_fovy: float = param(58.0, "Depth camera vertical FOV (deg)", min=5.0, max=170.0)
    imu_pos: tuple[float, ...] = param((0.0, 0.0, 0.05), "IMU site in base_link (m)")
    start: tuple[float, ...] = param((0.0, 0.0, 0.0), "Start x, y (m), yaw (rad)")
    room_seed: int = param(0, "Room layout seed", min=0, max=2**31 - 1)
    n_moving: int = param(0, "Moving objects in the room", min=0, max=6)
    timestep: float = param(0.002, "Physics timestep (s)", min=1e-5, max=0.05)

    def validate(self) -> None:
        for name in ("chassis_half", "camera_pos", "imu_pos", "start"):
            if len(getattr(self, name)) != 3:
                raise ValueError(f"{name} must have 3 elements")
        if self.caster_radius > self.wheel_radius:
            raise ValueError("caster_radius must not exceed wheel_radius")


def cmd_vel_to_ctrl(v: float, omega: float,
                    params: MobileRobotParams | None = None) -> np.ndarray:
    """Wheel target speeds (left, right) in rad/s for forward speed ``v`` and yaw rate
    ``omega`` (REP-103: counter-clockwise positive)."""
    p = params or MobileRobotParams()
    half = 0.5 * p.wheel_separation
    ctrl = np.array([(v - omega * half), (v + omega * half)]) / p.wheel_radius
    peak = float(np.max(np.abs(ctrl)))
    if peak > p.max_wheel_speed:
        ctrl *= p.max_wheel_speed / peak
    return ctrl


def static_transforms(params: MobileRobotParams | None = None) -> list[StaticTransform]:
    """``base_link -> camera_link -> camera_optical_frame`` (the depth camera shares them)."""
    p = params or MobileRobotParams()
    return camera_static_transforms(Pose(np.asarray(p.camera_pos, float),
                                         np.array([1.0, 0.0, 0.0, 0.0])))


def mobile_robot_xml(params: MobileRobotParams | None = None) -> str:
    p = validated(params or MobileRobotParams())
    root, asset, worldbody = new_model("mobile_robot", timestep=p.timestep)
    add_room(asset, worldbody, RoomParams(seed=p.room_seed, n_moving=p.n_moving,
                                          timestep=p.timestep))
    add_material(asset, "mat_robot", rgba=(0.85, 0.45, 0.1, 1.0))
    add_material(asset, "mat_wheel", rgba=(0.1, 0.1, 0.1, 1.0))
    r = p.wheel_radius
    x0, y0, yaw = p.start
    base = sub(worldbody, "body", name=BASE, pos=(x0, y0, r),
               quat=(math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)))
    sub(base, "freejoint", name="base_free")
    hx, hy, hz = p.chassis_half
    cx = 0.35 * p.caster_x  # centre of mass between axle and caster
    sub(base, "geom", name="robot_chassis", type="box", size=(hx, hy, hz),
        pos=(cx, 0, hz * 0.6), mass=p.chassis_mass, material="mat_robot")
    sub(base, "geom", name="robot_caster", type="sphere", size=(p.caster_radius,),
        pos=(p.caster_x, 0, -r + p.caster_radius), condim=1, priority=1, mass=0.05,
        material="mat_wheel")
    for name, side in zip(WHEELS, (1.0, -1.0), strict=True):
        wheel = sub(base, "body", name=name, pos=(0, side * p.wheel_separation / 2, 0))
        sub(wheel, "joint", name=name, type="hinge", axis=(0, 1, 0), damping=0.01,
            armature=0.005)
        # visual cylinder; a sphere of the same radius collides (one smooth rolling contact)
        sub(wheel, "geom", name=f"robot_{name}", type="cylinder",
            size=(r, p.wheel_width / 2), zaxis=(0, 1, 0), mass=p.wheel_mass,
            contype=0, conaffinity=0, material="mat_wheel")
        sub(wheel, "geom", name=f"robot_{name}_contact", type="sphere", size=(r,), mass=0.0,
            friction=(1.2,), condim=3, group=3)
    sub(base, "site", name="camera_link", pos=p.camera_pos, size=(0.01,), group=5)
    sub(base, "camera", name=CAMERA, pos=p.camera_pos, xyaxes=MUJOCO_CAMERA_XYAXES,
        fovy=p.camera_fovy)
    sub(base, "camera", name=DEPTH_CAMERA, pos=p.camera_pos, xyaxes=MUJOCO_CAMERA_XYAXES,
        fovy=p.depth_fovy)
    sub(base, "site", name="imu", pos=p.imu_pos, size=(0.01,), group=5)
    actuators = sub(root, "actuator")
    for name in WHEELS:
        sub(actuators, "velocity", name=name, joint=name, kv=p.wheel_kv,
            ctrlrange=(-p.max_wheel_speed, p.max_wheel_speed),
            forcerange=(-p.max_wheel_torque, p.max_wheel_torque))
    sensors = sub(root, "sensor")
    sub(sensors, "accelerometer", name=ACCEL, site="imu")
    sub(sensors, "gyro", name=GYRO, site="imu")
    return to_xml(root)


def mobile_robot_scene(params: MobileRobotParams | None = None) -> SceneSpec:
    p = validated(params or MobileRobotParams())
    mocap = room_trajectories(RoomParams(seed=p.room_seed, n_moving=p.n_moving))
    return SceneSpec("mobile_robot", mobile_robot_xml(p), mocap, p)


__all__ = [
    "ACCEL",
    "BASE",
    "CAMERA",
    "DEPTH_CAMERA",
    "GYRO",
    "WHEELS",
    "MobileRobotParams",
    "cmd_vel_to_ctrl",
    "mobile_robot_scene",
    "mobile_robot_xml",
    "static_transforms",
]
