"""Joint states (``sensor_msgs/JointState``) of a model's hinge and slide joints.

``position`` is ``qpos`` (rad or m), ``velocity`` is ``qvel``, ``effort`` the actuator force
on the joint's dof (``qfrc_actuator``, N m or N). Free and ball joints are not listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

_SCALAR = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


@dataclass(frozen=True)
class JointStates:
    t_ns: int
    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


def scalar_joints(model: mujoco.MjModel) -> list[str]:
    """Names of the hinge and slide joints, in model order."""
    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}"
            for j in range(model.njnt) if int(model.jnt_type[j]) in _SCALAR]


class JointStateReader:
    """Reads the named joints (default: all hinge/slide joints) from ``MjData``."""

    def __init__(self, model: mujoco.MjModel, names: Sequence[str] | None = None) -> None:
        self.names = tuple(names) if names is not None else tuple(scalar_joints(model))
        ids = []
        for n in self.names:
            j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)
            if j < 0:
                raise KeyError(f"no joint named {n!r}")
            if int(model.jnt_type[j]) not in _SCALAR:
                raise ValueError(f"joint {n!r} is not a hinge or slide joint")
            ids.append(j)
        self._qpos = np.array([model.jnt_qposadr[j] for j in ids], dtype=np.int64)
        self._dof = np.array([model.jnt_dofadr[j] for j in ids], dtype=np.int64)

    def read(self, data: mujoco.MjData) -> JointStates:
        return JointStates(round(data.time * 1e9), self.names, data.qpos[self._qpos].copy(),
                           data.qvel[self._dof].copy(), data.qfrc_actuator[self._dof].copy())


__all__ = ["JointStateReader", "JointStates", "scalar_joints"]
