"""Signed distance of the scene geometry, analytic from the MuJoCo geoms (numpy).

The scene SDF is the minimum over the selected geoms of each geom's signed distance
(negative inside), evaluated in the geom's frame at its current pose; the gradient is that
of the nearest geom. Per geom type:

========= ================================================================== ==========
type      distance                                                           exact?
========= ================================================================== ==========
plane     height above the plane: the *half-space* below it is solid         yes (*)
sphere    ``|p| - r``                                                        yes
capsule   distance to the segment ``z in [-h, h]`` minus ``r``               yes
cylinder  capped cylinder (radius r, half height h)                          yes
box       box of half extents ``b``                                          yes
ellipsoid ``k0 (k0 - 1) / k1`` (``k0 = |p/a|``, ``k1 = |p/a^2|``)               bound
mesh,     not supported: skipped (listed in ``SceneSDF.skipped``)            --
hfield,
sdf
========= ================================================================== ==========

(*) A plane is infinite (as in MuJoCo collisions), whatever its visual size: the room's
walls, floor and ceiling are planes, so everything outside the room counts as solid.

Outside all geoms the minimum is the exact distance to the union of the geoms. Inside an
overlap of geoms it is only a bound (the true depth below the union's surface can be larger),
and the gradient is discontinuous on medial surfaces (where two geoms are equally near).
The default geom selection is the static and moving scene (classes floor, wall, ceiling and
objects; not robots, swimmers or invisible helper geoms); call :meth:`SceneSDF.update` after
the world moves.
"""

from __future__ import annotations

from collections.abc import Iterable

import mujoco
import numpy as np

from sim.ground_truth.labels import GeomLabels
from sim.scenes.classes import CLASS_IDS

_T = mujoco.mjtGeom
SUPPORTED = {int(_T.mjGEOM_PLANE), int(_T.mjGEOM_SPHERE), int(_T.mjGEOM_CAPSULE),
             int(_T.mjGEOM_CYLINDER), int(_T.mjGEOM_BOX), int(_T.mjGEOM_ELLIPSOID)}
SCENE_CLASSES = tuple(c for c in CLASS_IDS if c not in ("unknown", "robot", "swimmer"))


def _norm(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=-1)


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = _norm(v)[..., None]
    return np.where(n > 1e-12, v / np.maximum(n, 1e-300), fallback)


def _box(p: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.abs(p) - b
    qpos = np.maximum(q, 0.0)
    outside = _norm(qpos)
    d = outside + np.minimum(q.max(axis=-1), 0.0)
    sign = np.where(p >= 0, 1.0, -1.0)
    g_out = sign * qpos / np.maximum(outside, 1e-300)[..., None]
    g_in = sign * (np.arange(3) == q.argmax(axis=-1)[..., None])
    return d, np.where((outside > 0)[..., None], g_out, g_in)


def _geom_sdf(gtype: int, size: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (G, N) and gradient (G, N, 3) in the frames of G geoms of one type, for
    local points ``p`` (G, N, 3) and sizes ``size`` (G, 1, 3)."""
    ez = np.array([0.0, 0.0, 1.0])
    ex = np.array([1.0, 0.0, 0.0])
    if gtype == _T.mjGEOM_PLANE:
        return p[..., 2].copy(), np.broadcast_to(ez, p.shape).copy()
    if gtype == _T.mjGEOM_SPHERE:
        return _norm(p) - size[..., 0], _unit(p, ez)
    if gtype == _T.mjGEOM_CAPSULE:
        q = p.copy()
        q[..., 2] -= np.clip(p[..., 2], -size[..., 1], size[..., 1])
        return _norm(q) - size[..., 0], _unit(q, ex)
    if gtype == _T.mjGEOM_CYLINDER:
        r, h = size[..., 0], size[..., 1]
        rho = np.hypot(p[..., 0], p[..., 1])
        radial = p.copy()
        radial[..., 2] = 0.0
        radial = _unit(radial, ex)
        dr, dz = rho - r, np.abs(p[..., 2]) - h
        sz = np.where(p[..., 2] >= 0, 1.0, -1.0)[..., None] * ez
        a, b = np.maximum(dr, 0.0), np.maximum(dz, 0.0)
        outside = np.hypot(a, b)
        d = outside + np.minimum(np.maximum(dr, dz), 0.0)
        g_out = (a[..., None] * radial + b[..., None] * sz) / np.maximum(outside, 1e-300)[
            ..., None]
        g_in = np.where((dr > dz)[..., None], radial, sz)
        return d, np.where((outside > 0)[..., None], g_out, g_in)
    if gtype == _T.mjGEOM_BOX:
        return _box(p, size)
    if gtype == _T.mjGEOM_ELLIPSOID:
        k0 = _norm(p / size)
        k1 = _norm(p / size**2)
        d = k0 * (k0 - 1.0) / np.maximum(k1, 1e-300)
        return d, _unit(p / size**2, ez)
    raise ValueError(f"unsupported geom type {gtype}")


class SceneSDF:
    """Signed distance and gradient of a set of geoms (see the module docstring)."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData,
                 geoms: Iterable[int] | None = None) -> None:
        self.model = model
        if geoms is None:
            geoms = self.default_geoms(model)
        geoms = list(geoms)
        self.skipped = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or f"geom{g}"
                        for g in geoms if int(model.geom_type[g]) not in SUPPORTED]
        self.geoms = np.array([g for g in geoms if int(model.geom_type[g]) in SUPPORTED],
                              dtype=np.int64)
        types = model.geom_type[self.geoms].astype(int)
        self._groups = [(t, np.flatnonzero(types == t)) for t in sorted(set(types.tolist()))]
        self._size = model.geom_size[self.geoms].astype(np.float64).copy()
        self.update(data)

    @staticmethod
    def default_geoms(model: mujoco.MjModel,
                      classes: Iterable[str] = SCENE_CLASSES) -> list[int]:
        """Geoms of the given classes, visible (group < 3)."""
        labels = GeomLabels.from_model(model)
        wanted = {CLASS_IDS[c] for c in classes}
        return [g for g in range(model.ngeom)
                if int(labels.class_id[g]) in wanted and model.geom_group[g] < 3]

    def update(self, data: mujoco.MjData) -> None:
        """Take the geoms' current poses from ``data`` (after ``mj_forward``)."""
        self._pos = data.geom_xpos[self.geoms].copy()
        self._rot = data.geom_xmat[self.geoms].reshape(-1, 3, 3).copy()

    def distance_and_gradient(self, points: np.ndarray, *,
                              chunk: int = 16384) -> tuple[np.ndarray, np.ndarray]:
        """Signed distance (N,) and its world-frame gradient (N, 3) at world points."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        dist = np.empty(len(pts))
        grad = np.empty((len(pts), 3))
        for a in range(0, len(pts), chunk):
            dist[a:a + chunk], grad[a:a + chunk], _ = self._evaluate(pts[a:a + chunk])
        return dist, grad

    def _evaluate(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        best = np.full(len(pts), np.inf)
        grad = np.zeros((len(pts), 3))
        nearest = np.full(len(pts), -1, dtype=np.int64)
        rows = np.arange(len(pts))
        for gtype, idx in self._groups:
            rot = self._rot[idx]  # (G, 3, 3)
            local = (pts[None] - self._pos[idx][:, None]) @ rot
            d, gl = _geom_sdf(gtype, self._size[idx][:, None], local)
            k = d.argmin(axis=0)
            dk = d[k, rows]
            closer = dk < best
            best = np.where(closer, dk, best)
            gw = np.einsum("nj,nij->ni", gl[k, rows], rot[k])  # rot @ grad_local
            grad[closer] = gw[closer]
            nearest[closer] = self.geoms[idx][k[closer]]
        return best, grad, nearest

    def distance(self, points: np.ndarray) -> np.ndarray:
        return self.distance_and_gradient(points)[0]

    def gradient(self, points: np.ndarray) -> np.ndarray:
        return self.distance_and_gradient(points)[1]

    def nearest_geom(self, points: np.ndarray) -> np.ndarray:
        """Id of the nearest geom per point (the one whose distance is the minimum)."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return self._evaluate(pts)[2]


__all__ = ["SCENE_CLASSES", "SUPPORTED", "SceneSDF"]
