"""Semantic class and instance of every geom, pixel and point.

Geoms are classified once per model by the naming rules of :mod:`sim.scenes.classes`
(object bodies ``obj_<class>_<i>``, stuff geoms ``floor``/``wall_*``/...). A segmentation
image (geom id per pixel, -1 for none) then maps to class and instance images by lookup, and
the points of :func:`sim.sensors.pointcloud.depth_to_points` (valid pixels, row-major) take the
labels of their pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim.scenes.classes import CLASS_IDS, CLASS_NAMES, parse_object_body, stuff_class
from sim.sensors.pointcloud import valid_depth


@dataclass(frozen=True)
class GeomLabels:
    """Per geom: ``class_id``, ``instance_id`` (0 = none) and ``body_id``; ``instances``
    maps instance id -> object body name."""

    class_id: np.ndarray
    instance_id: np.ndarray
    body_id: np.ndarray
    instances: dict[int, str]

    @staticmethod
    def from_model(model: mujoco.MjModel) -> GeomLabels:
        nbody = model.nbody
        body_names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or ""
                      for b in range(nbody)]
        body_class = np.zeros(nbody, np.int32)
        body_instance = np.zeros(nbody, np.int32)
        instances: dict[int, str] = {}
        for b in range(1, nbody):  # parents come before children
            cls = parse_object_body(body_names[b])
            if cls is not None:
                body_class[b] = CLASS_IDS[cls]
                body_instance[b] = len(instances) + 1
                instances[int(body_instance[b])] = body_names[b]
            else:
                parent = int(model.body_parentid[b])
                body_class[b], body_instance[b] = body_class[parent], body_instance[parent]
        cls_out = np.zeros(model.ngeom, np.int32)
        inst_out = np.zeros(model.ngeom, np.int32)
        for g in range(model.ngeom):
            b = int(model.geom_bodyid[g])
            if body_class[b]:
                cls_out[g], inst_out[g] = body_class[b], body_instance[b]
                continue
            stuff = stuff_class(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or "")
            cls_out[g] = CLASS_IDS[stuff] if stuff else 0
        return GeomLabels(cls_out, inst_out, model.geom_bodyid.astype(np.int32).copy(),
                          instances)

    def class_names(self) -> dict[int, str]:
        return dict(CLASS_NAMES)

    def pixel_labels(self, segmentation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class and instance images (int32) of a geom-id segmentation image."""
        seg = np.asarray(segmentation)
        hit = seg >= 0
        cls = np.zeros(seg.shape, np.int32)
        inst = np.zeros(seg.shape, np.int32)
        cls[hit] = self.class_id[seg[hit]]
        inst[hit] = self.instance_id[seg[hit]]
        return cls, inst

    def point_labels(self, segmentation: np.ndarray,
                     depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class and instance of each point of ``depth_to_points(depth, ...)`` (same order)."""
        cls, inst = self.pixel_labels(segmentation)
        ok = valid_depth(depth)
        return cls[ok], inst[ok]


__all__ = ["GeomLabels"]
