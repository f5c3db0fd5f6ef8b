"""Box worlds rendered analytically for the mapping tests: exact depth and exact SDF.

A scene is a room (the inside of an axis-aligned box) plus solid axis-aligned boxes. Depth is
the z-depth of the first hit of each pixel ray (slab intersection); the SDF is positive in
free space, negative inside the solid boxes and outside the room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuro_nodes.mapping.types import Scan
from neuro_nodes.perception.types import PinholeCamera


@dataclass(frozen=True)
class Box:
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance to the solid box (negative inside)."""
        c = (np.asarray(self.lo) + np.asarray(self.hi)) / 2
        h = (np.asarray(self.hi) - np.asarray(self.lo)) / 2
        q = np.abs(p - c) - h
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0)


@dataclass(frozen=True)
class BoxScene:
    room: Box
    solids: tuple[Box, ...] = ()

    def sdf(self, p: np.ndarray) -> np.ndarray:
        d = -self.room.sdf(p)
        for b in self.solids:
            d = np.minimum(d, b.sdf(p))
        return d

    def depth(self, camera: PinholeCamera, T_map_cam: np.ndarray) -> np.ndarray:
        """(H, W) float32 z-depth of the first surface along each pixel ray."""
        v, u = np.mgrid[0:camera.height, 0:camera.width]
        rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy,
                         np.ones(u.shape)], axis=-1).reshape(-1, 3)
        d = rays @ T_map_cam[:3, :3].T  # per unit z-depth
        o = T_map_cam[:3, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            t1 = (np.asarray(self.room.lo) - o) * inv
            t2 = (np.asarray(self.room.hi) - o) * inv
            t = np.nanmin(np.maximum(t1, t2), axis=1)  # exit of the room from inside
            for b in self.solids:
                a1 = (np.asarray(b.lo) - o) * inv
                a2 = (np.asarray(b.hi) - o) * inv
                t_near = np.nanmax(np.minimum(a1, a2), axis=1)
                t_far = np.nanmin(np.maximum(a1, a2), axis=1)
                hit = (t_near <= t_far) & (t_near > 0)
                t = np.where(hit & (t_near < t), t_near, t)
        return t.reshape(camera.height, camera.width).astype(np.float32)

    def scan(self, camera: PinholeCamera, T_map_cam: np.ndarray, stamp_s: float = 0.0,
             max_range_m: float = 10.0) -> Scan:
        return Scan.from_depth(self.depth(camera, T_map_cam), camera, T_map_cam, stamp_s,
                               max_range_m=max_range_m)


def look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, ...] = (0.0, 0.0, 1.0)
            ) -> np.ndarray:
    """T_map_cam of an optical frame (x right, y down, z forward) at ``eye`` facing ``target``."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1)
    T[:3, 3] = eye
    return T


ROOM = Box((-2.0, -2.0, 0.0), (2.0, 2.0, 2.5))
BOX_A = Box((0.6, -0.4, 0.0), (1.2, 0.4, 0.8))
CAMERA = PinholeCamera.from_fovy(160, 120, 58.0)


def orbit_poses(n: int, radius: float = 0.3, height: float = 1.2) -> list[np.ndarray]:
    """Cameras on a circle around the room centre, looking outwards and slightly down."""
    out = []
    for k in range(n):
        a = 2 * np.pi * k / n
        eye = np.array([radius * np.cos(a), radius * np.sin(a), height])
        target = eye + np.array([np.cos(a), np.sin(a), -0.35])
        out.append(look_at(eye, target))
    return out
