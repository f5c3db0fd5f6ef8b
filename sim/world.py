"""``SimWorld``: one MuJoCo model and its state, stepped at a fixed timestep.

It owns the physics (``model``, ``data``), moves mocap bodies along their scripted
trajectories (:class:`sim.scenes.spec.SceneSpec.mocap`) and answers kinematic queries in the
world frame (= ``map`` = ``odom``, z up):

* ``body_pose(name)``/``site_pose``/``camera_pose`` -> :class:`sim.spatial.Pose`;
  ``camera_pose`` is the optical frame (z forward, x right, y down) unless ``optical=False``.
* ``body_twist(name)``/``camera_twist`` -> :class:`sim.spatial.Twist`: world-frame linear
  velocity of the frame's origin and angular velocity. MuJoCo reports no velocity for mocap
  bodies, so for them (and bodies welded to them) the trajectory's analytic twist is used.

After :meth:`step` the derived quantities (poses, sensors, contacts) are recomputed for the
new state (``mj_forward``), so every query and render sees the state at :attr:`time`.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.frames import MUJOCO_CAMERA_TO_OPTICAL
from sim.scenes.spec import SceneSpec
from sim.spatial import Pose, Twist, mat_to_quat
from sim.trajectories import Trajectory

_XBODY = mujoco.mjtObj.mjOBJ_XBODY
_SCALAR_JOINTS = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


class SimWorld:
    """A scene's physics with fixed-step time, reset and world-frame queries.

    ``scene`` is a :class:`SceneSpec` or bare MJCF text; ``init_qpos_noise`` adds
    ``U(-a, a)`` to hinge and slide joint positions at each :meth:`reset` (from the seed).
    """

    def __init__(self, scene: SceneSpec | str, *, seed: int = 0,
                 init_qpos_noise: float = 0.0) -> None:
        self.spec = scene if isinstance(scene, SceneSpec) else SceneSpec("custom", scene)
        self.model = mujoco.MjModel.from_xml_string(self.spec.xml)
        self.data = mujoco.MjData(self.model)
        self.init_qpos_noise = float(init_qpos_noise)
        self._mocap: dict[int, tuple[int, Trajectory]] = {}
        for name, traj in self.spec.mocap.items():
            bid = self.body_id(name)
            mid = int(self.model.body_mocapid[bid])
            if mid < 0:
                raise ValueError(f"body {name!r} has a trajectory but is not a mocap body")
            self._mocap[bid] = (mid, traj)
        self._driver = self._weld_roots()
        self.rng = np.random.default_rng(seed)
        self.reset(seed)

    # ------------------------------------------------------------------ time and stepping
    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Simulation time (s)."""
        return float(self.data.time)

    @property
    def time_ns(self) -> int:
        return round(self.data.time * 1e9)

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial state (the scene's keyframe, if any) at time 0."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        m, d = self.model, self.data
        if self.spec.keyframe is not None:
            mujoco.mj_resetDataKeyframe(m, d, self.key_id(self.spec.keyframe))
        else:
            mujoco.mj_resetData(m, d)
        if self.init_qpos_noise > 0:
            for j in range(m.njnt):
                if int(m.jnt_type[j]) in _SCALAR_JOINTS:
                    d.qpos[m.jnt_qposadr[j]] += self.rng.uniform(-1, 1) * self.init_qpos_noise
        self._set_mocap(0.0)
        mujoco.mj_forward(m, d)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (mocap bodies follow their trajectories)."""
        m, d = self.model, self.data
        for _ in range(int(n)):
            self._set_mocap(d.time)
            mujoco.mj_step(m, d)
        self._set_mocap(d.time)
        mujoco.mj_forward(m, d)

    def step_until(self, t: float) -> None:
        """Step until :attr:`time` reaches ``t`` (to within half a timestep)."""
        n = round((t - self.data.time) / self.timestep)
        if n > 0:
            self.step(n)

    def set_ctrl(self, ctrl: np.ndarray | dict[str, float]) -> None:
        """Set actuator controls: a full vector or ``{actuator name: value}``."""
        if isinstance(ctrl, dict):
            for name, value in ctrl.items():
                self.data.ctrl[self._id(mujoco.mjtObj.mjOBJ_ACTUATOR, name)] = value
        else:
            self.data.ctrl[:] = ctrl

    def _set_mocap(self, t: float) -> None:
        for mid, traj in self._mocap.values():
            pos, quat = traj.pose(t)
            self.data.mocap_pos[mid] = pos
            self.data.mocap_quat[mid] = quat

    # ------------------------------------------------------------------ names
    def _id(self, objtype: mujoco.mjtObj, name: str) -> int:
        i = mujoco.mj_name2id(self.model, objtype, name)
        if i < 0:
            raise KeyError(f"no {objtype.name[6:].lower()} named {name!r}")
        return int(i)

    def body_id(self, name: str) -> int:
        return self._id(mujoco.mjtObj.mjOBJ_BODY, name)

    def camera_id(self, name: str) -> int:
        return self._id(mujoco.mjtObj.mjOBJ_CAMERA, name)

    def site_id(self, name: str) -> int:
        return self._id(mujoco.mjtObj.mjOBJ_SITE, name)

    def key_id(self, name: str) -> int:
        return self._id(mujoco.mjtObj.mjOBJ_KEY, name)

    def names(self, objtype: mujoco.mjtObj, count: int) -> list[str]:
        return [mujoco.mj_id2name(self.model, objtype, i) or "" for i in range(count)]

    @property
    def camera_names(self) -> list[str]:
        return self.names(mujoco.mjtObj.mjOBJ_CAMERA, self.model.ncam)

    @property
    def body_names(self) -> list[str]:
        return self.names(mujoco.mjtObj.mjOBJ_BODY, self.model.nbody)

    # ------------------------------------------------------------------ poses
    def body_pose(self, name: str | int) -> Pose:
        b = self.body_id(name) if isinstance(name, str) else int(name)
        return Pose(self.data.xpos[b].copy(), self.data.xquat[b].copy())

    def site_pose(self, name: str) -> Pose:
        s = self.site_id(name)
        return Pose.from_matrix(self.data.site_xmat[s].reshape(3, 3), self.data.site_xpos[s])

    def camera_pose(self, name: str, *, optical: bool = True) -> Pose:
        """World pose of a camera's optical frame (or of MuJoCo's camera frame)."""
        c = self.camera_id(name)
        rot = self.data.cam_xmat[c].reshape(3, 3)
        if optical:
            rot = rot @ MUJOCO_CAMERA_TO_OPTICAL
        return Pose(self.data.cam_xpos[c].copy(), mat_to_quat(rot))

    # ------------------------------------------------------------------ twists
    def _weld_roots(self) -> np.ndarray:
        """Per body: the mocap body it is welded to (no joints in between), else -1."""
        m = self.model
        out = np.full(m.nbody, -1, dtype=np.int64)
        for b in range(1, m.nbody):
            a = b
            while a > 0 and m.body_jntnum[a] == 0 and a not in self._mocap:
                a = int(m.body_parentid[a])
            if a in self._mocap:
                out[b] = a
        return out

    def body_twist(self, name: str | int) -> Twist:
        """World-frame twist of a body's frame origin."""
        b = self.body_id(name) if isinstance(name, str) else int(name)
        root = int(self._driver[b])
        if root >= 0:
            lin, ang = self._mocap[root][1].twist(self.data.time)
            tw = Twist(np.asarray(lin, float), np.asarray(ang, float))
            return tw.at(self.data.xpos[root], self.data.xpos[b])
        res = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, _XBODY, b, res, 0)
        return Twist(res[3:].copy(), res[:3].copy())

    def body_twists(self) -> tuple[np.ndarray, np.ndarray]:
        """All bodies' world-frame (linear at origin, angular) velocities, (nbody, 3) each."""
        lin = np.zeros((self.model.nbody, 3))
        ang = np.zeros((self.model.nbody, 3))
        for b in range(1, self.model.nbody):
            tw = self.body_twist(b)
            lin[b], ang[b] = tw.linear, tw.angular
        return lin, ang

    def camera_twist(self, name: str) -> Twist:
        """World-frame twist of a camera (linear velocity of its optical centre)."""
        c = self.camera_id(name)
        b = int(self.model.cam_bodyid[c])
        return self.body_twist(b).at(self.data.xpos[b], self.data.cam_xpos[c])

    def site_twist(self, name: str) -> Twist:
        s = self.site_id(name)
        b = int(self.model.site_bodyid[s])
        return self.body_twist(b).at(self.data.xpos[b], self.data.site_xpos[s])


__all__ = ["SimWorld"]
