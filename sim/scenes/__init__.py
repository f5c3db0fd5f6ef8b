"""Procedural MJCF scenes: each module builds XML from a frozen params dataclass.

``make_scene(name, **overrides)`` builds any of :data:`SCENES` with validated overrides of
its parameters; the result is a :class:`sim.scenes.spec.SceneSpec` for
:class:`sim.world.SimWorld`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neuro_nodes.core.params import replace_validated
from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene
from sim.scenes.classes import CLASS_NAMES, OBJECT_CLASSES
from sim.scenes.mobile_robot import MobileRobotParams, mobile_robot_scene
from sim.scenes.room import RoomParams, room_scene
from sim.scenes.spec import SceneSpec
from sim.scenes.swimmer import SwimmerParams, swimmer_scene

#: name -> (params type, builder)
SCENES: dict[str, tuple[type, Callable[[Any], SceneSpec]]] = {
    "room": (RoomParams, room_scene),
    "camera_rig": (CameraRigParams, camera_rig_scene),
    "mobile_robot": (MobileRobotParams, mobile_robot_scene),
    "swimmer": (SwimmerParams, swimmer_scene),
}


def make_scene(name: str, **overrides: Any) -> SceneSpec:
    """Build scene ``name`` with parameter overrides (validated; ValueError says why not)."""
    if name not in SCENES:
        raise ValueError(f"unknown scene {name!r}; expected one of {sorted(SCENES)}")
    params_type, build = SCENES[name]
    return build(replace_validated(params_type(), overrides))


__all__ = ["CLASS_NAMES", "OBJECT_CLASSES", "SCENES", "SceneSpec", "make_scene"]
