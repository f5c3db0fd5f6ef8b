"""What a scene builder hands to :class:`sim.world.SimWorld`: MJCF text plus scripted motion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.trajectories import Trajectory


@dataclass(frozen=True)
class SceneSpec:
    """A built scene.

    ``xml``: the MJCF model; ``mocap``: body name -> scripted trajectory of each mocap body
    (the world moves them and reports their analytic twists); ``params``: the builder's
    parameters; ``keyframe``: name of the keyframe ``reset`` applies (None: model defaults).
    """

    name: str
    xml: str
    mocap: Mapping[str, Trajectory] = field(default_factory=dict)
    params: Any = None
    keyframe: str | None = None


__all__ = ["SceneSpec"]
