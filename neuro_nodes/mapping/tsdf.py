"""TSDF baseline on open3d's ``t.geometry.VoxelBlockGrid``, with an ESDF for distance queries.

**Integration.** The map is a hash of voxel blocks (``block_resolution``^3 voxels of side
``voxel_size``; voxel ``(i, j, k)`` sits at ``(i, j, k) * voxel_size`` in the map frame).
A depth image updates every voxel of the chosen blocks that projects into a pixel with a
return: with the projective distance :math:`s = d(u, v) - z_c` of the voxel (camera z of the
voxel :math:`z_c`, measured depth :math:`d`), voxels with :math:`s \\ge -\\tau` (truncation
:math:`\\tau = \\text{trunc\\_voxels} \\cdot \\text{voxel\\_size}`) take the running average

.. math::  \\phi \\leftarrow \\frac{w \\phi + \\min(1, s/\\tau)}{w + 1},\\qquad
           w \\leftarrow \\min(w + 1, w_{max})

(open3d's update, then the weight is capped here). The cap turns the average into an
exponential one with rate :math:`1/(w_{max}+1)`, so a changed scene is re-learned: a voxel
inside an object that moved away (:math:`\\phi = -1` at worst) reads free
(:math:`\\phi > 0`) after the first :math:`n > \\ln 2 / \\ln(1 + 1/w_{max})` scans that see
through it (:func:`integration_budget_scans`; 4 for :math:`w_{max} = 4`). A surface that
appears grows at the same rate: after :math:`n` scans the zero crossing lies
:math:`\\tau \\rho^n / (1 - \\rho^n)` behind it (:math:`\\rho = w_{max}/(w_{max}+1)`; 10 cm
after 5 scans at the defaults). As in every projective TSDF, voxels deeper than
:math:`\\tau` behind a surface are never updated: the inside of an object that appears in
space seen free before keeps reading free beyond the band.

Blocks updated per scan: those around the returns (open3d's
``compute_unique_block_coordinates``), plus, with ``allocate_free_space``, the blocks that
rays from the sensor cross on their way to the surface (sampled every half block along a
sparse grid of pixels fine enough not to skip a block at ``max_range_m``), so free space
becomes observed and an object that moved away is carved out. Without it, only already
allocated blocks inside the view frustum are re-visited (clearing still works, but free space
far from surfaces stays unknown). Blocks outside the map bounds are never allocated.

**Point-only scans** (no ``depth``/``camera``) are projected into six virtual 90-degree
pinhole depth images (a cube map around the sensor, ``virtual_face_px`` square, nearest
return per pixel) and integrated like camera images. Each point's depth is exact; a pixel's
footprint smears it sideways by up to one pixel (1 deg at 96 px), which matters only on
surfaces seen at grazing angles.

**ESDF.** Recomputed at the first query after the map changed, or by
:meth:`TSDFMapper.update_esdf` (its cost is ``esdf_compute_s``; about 0.2-0.3 s of CPU for
the 9 x 8 x 3.4 m room at 5 cm, growing with the mapped volume), on a dense grid over the
allocated blocks (clipped to the bounds):
seeds are observed voxels within one voxel of a surface (:math:`|\\tau\\phi| <` voxel_size;
at grazing views, e.g. the floor from a low camera, the voxels behind the surface lie
beyond the band and this is the only trace of it) and observed voxels with an observed
6-neighbour of the other TSDF sign (both sides of the zero crossing). With the nearest
seed :math:`b(x)` by Euclidean distance transform (``scipy.ndimage.distance_transform_edt``),

.. math::  D(x) = \\sigma(x) \\min(|\\tau\\phi(x)|_{band},\\ \\|x - b(x)\\| + |\\tau\\phi(b)|)

clamped to ``esdf_max_distance_m``, where :math:`|\\tau\\phi|_{band}` counts only voxels in
the truncation band and the sign :math:`\\sigma` is the voxel's own TSDF sign where it is
observed and the nearest seed's sign where it is not (unobserved voxels deep inside objects
read negative). :meth:`TSDFMapper.query` interpolates :math:`D` trilinearly between voxels
and returns the analytic gradient of that interpolant. ``observed`` is True where the voxel
nearest the point has weight > 0 and the point is inside the bounds; elsewhere the
distance is the ESDF's extrapolation (``esdf_max_distance_m`` outside the allocated
region) and the gradient zero there.

===================== ======= =============================================================
TSDFParams            default meaning
===================== ======= =============================================================
voxel_size            0.05    voxel side (m)
block_resolution      8       voxels per block side
trunc_voxels          4.0     truncation :math:`\\tau` in voxels
max_weight            4.0     weight cap :math:`w_{max}` (a moved object clears in 4 scans)
max_range_m           5.0     returns beyond this depth (m) are ignored
depth_stride          1       integrate every n-th pixel of a depth image (intrinsics scaled)
block_count           4000    initial hash capacity in blocks (grows on demand; 4 KiB each)
allocate_free_space   True    allocate blocks along rays so free space becomes observed
virtual_face_px       96      side of the virtual cube-map depth images for point-only scans
min_mesh_weight       1.0     voxels lighter than this are left out of the mesh
esdf_max_distance_m   2.0     ESDF values are clamped to +/- this (m)
===================== ======= =============================================================
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from neuro_nodes.core.params import param, validated
from neuro_nodes.mapping.types import (
    DistanceQuery,
    MapBounds,
    Scan,
    TriangleMesh,
    UpdateStats,
)
from neuro_nodes.perception.types import PinholeCamera

METHOD = "tsdf"


@dataclass(frozen=True)
class TSDFParams:
    """TSDF/ESDF baseline (table in the module docstring)."""

    voxel_size: float = param(0.05, "Voxel side (m)", min=0.005, max=1.0, read_only=True)
    block_resolution: int = param(8, "Voxels per block side", min=2, max=32, read_only=True)
    trunc_voxels: float = param(4.0, "Truncation distance in voxels", min=1.0, max=50.0)
    max_weight: float = param(4.0, "Cap of the running-average weight (lower re-learns a "
                              "changed scene faster, higher averages more noise)", min=1.0,
                              max=10000.0)
    max_range_m: float = param(5.0, "Returns beyond this depth are ignored (m)", min=0.1,
                               max=100.0)
    depth_stride: int = param(1, "Integrate every n-th pixel of a depth image", min=1,
                              max=16)
    block_count: int = param(4000, "Initial hash capacity in blocks (grows on demand)",
                             min=16, max=10_000_000, read_only=True)
    allocate_free_space: bool = param(True, "Allocate blocks along rays so free space "
                                      "becomes observed (ESDF known region, clearing)")
    virtual_face_px: int = param(96, "Side of the virtual cube-map depth images that "
                                 "point-only scans are projected into (px)", min=8, max=2048)
    min_mesh_weight: float = param(1.0, "Voxels lighter than this are left out of the mesh",
                                   min=0.0, max=10000.0)
    esdf_max_distance_m: float = param(2.0, "ESDF values are clamped to +/- this (m)",
                                       min=0.01, max=100.0)

    def validate(self) -> None:
        if self.min_mesh_weight > self.max_weight:
            raise ValueError(f"min_mesh_weight {self.min_mesh_weight} exceeds max_weight "
                             f"{self.max_weight}: the mesh would always be empty")


@dataclass(frozen=True)
class _View:
    """One depth image to integrate: z-depth (m, 0 = no return), intrinsics, T_cam_map."""

    depth: np.ndarray  # (H, W) float32
    K: np.ndarray  # (3, 3) float64
    T_cam_map: np.ndarray  # (4, 4) float64


@dataclass
class _Esdf:
    """The dense ESDF cache: values at voxel positions ``(origin_index + ijk) * voxel``."""

    origin_index: np.ndarray  # (3,) int64
    distance: np.ndarray  # (X, Y, Z) float32
    observed: np.ndarray  # (X, Y, Z) bool


def _pack(keys: np.ndarray) -> np.ndarray:
    """Block keys (N, 3) int -> unique-able int64 (21 bits per axis)."""
    k = keys.astype(np.int64) + (1 << 20)
    return (k[:, 0] << 42) | (k[:, 1] << 21) | k[:, 2]


def _unpack(packed: np.ndarray) -> np.ndarray:
    mask = (1 << 21) - 1
    return (np.stack([packed >> 42, (packed >> 21) & mask, packed & mask], axis=1)
            - (1 << 20)).astype(np.int32)


def _check_pose(T: np.ndarray) -> np.ndarray:
    T = np.asarray(T, float)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise ValueError("T_map_sensor must be a finite 4x4 matrix")
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) <= 0 \
            or not np.allclose(T[3], [0, 0, 0, 1]):
        raise ValueError("T_map_sensor must be a rigid transform (orthonormal rotation, "
                         "last row 0 0 0 1)")
    return T


def _rigid_inverse(T: np.ndarray) -> np.ndarray:
    inv = np.eye(4)
    inv[:3, :3] = T[:3, :3].T
    inv[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return inv


# Rotations sensor <- face camera whose optical z looks along +x, -x, +y, -y, +z, -z.
def _face_rotations() -> list[np.ndarray]:
    out = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            z = np.zeros(3)
            z[axis] = sign
            helper = np.array([0.0, 0.0, 1.0]) if axis != 2 else np.array([0.0, 1.0, 0.0])
            x = np.cross(helper, z)
            x /= np.linalg.norm(x)
            y = np.cross(z, x)
            out.append(np.stack([x, y, z], axis=1))
    return out


_FACES = _face_rotations()


class TSDFMapper:
    """Voxel-block TSDF (open3d) with a lazily computed ESDF; implements ``Mapper``."""

    name = METHOD

    def __init__(self, bounds: MapBounds, params: TSDFParams | None = None) -> None:
        if not isinstance(bounds, MapBounds):
            raise ValueError(f"bounds must be a MapBounds, got {type(bounds).__name__}")
        self.bounds = bounds
        self.params = validated(params if params is not None else TSDFParams())
        self._lo = np.asarray(bounds.min_xyz, float)
        self._hi = np.asarray(bounds.max_xyz, float)
        self.reset()

    # ------------------------------------------------------------------------- map state
    @property
    def _trunc_m(self) -> float:
        return self.params.trunc_voxels * self.params.voxel_size

    @property
    def _block_m(self) -> float:
        return self.params.voxel_size * self.params.block_resolution

    def reset(self) -> None:
        import open3d as o3d
        import open3d.core as o3c

        p = self.params
        self._o3c = o3c
        self._vbg = o3d.t.geometry.VoxelBlockGrid(
            attr_names=("tsdf", "weight"), attr_dtypes=(o3c.float32, o3c.float32),
            attr_channels=((1), (1)), voxel_size=p.voxel_size,
            block_resolution=p.block_resolution, block_count=p.block_count,
            device=o3c.Device("CPU:0"))
        self._esdf: _Esdf | None = None
        self._dirty = True
        self.scans_integrated = 0
        self.esdf_compute_s = 0.0  # wall time of the last ESDF recomputation

    def _active(self) -> tuple[np.ndarray, np.ndarray]:
        """(buffer indices (K,), block keys (K, 3) int32) of the allocated blocks."""
        hm = self._vbg.hashmap()
        idx = hm.active_buf_indices().numpy().astype(np.int64)
        keys = hm.key_tensor().numpy()[idx].astype(np.int32)
        return idx, keys

    def _voxels(self, name: str) -> np.ndarray:
        """The (capacity, r, r, r) view [block, z, y, x] of an attribute (shares memory)."""
        r = self.params.block_resolution
        return self._vbg.attribute(name).numpy().reshape(-1, r, r, r)

    def memory_bytes(self) -> int:
        """Bytes of the allocated voxel blocks (tsdf + weight, float32 each)."""
        r = self.params.block_resolution
        return int(self._vbg.hashmap().size()) * r ** 3 * 2 * 4

    # ------------------------------------------------------------------------ integration
    def integrate(self, scan: Scan) -> UpdateStats:
        """Fuse one scan: its depth image if it has one, else its points (cube map)."""
        t0 = time.perf_counter()
        T = _check_pose(scan.T_map_sensor)
        views = self._views(scan, T)
        o3c = self._o3c
        used = 0
        blocks_updated = 0
        for view in views:
            if not np.any(view.depth > 0):  # open3d aborts on an image without returns
                continue
            keys = self._blocks_for(view)
            if len(keys) == 0:
                continue
            used += int(np.count_nonzero(view.depth > 0))
            block_coords = o3c.Tensor(keys)
            depth = self._o3d_image(view.depth)
            K = o3c.Tensor(view.K)
            E = o3c.Tensor(view.T_cam_map)
            self._vbg.integrate(block_coords, depth, K, E, 1.0, self.params.max_range_m,
                                self.params.trunc_voxels)
            buf, found = self._vbg.hashmap().find(block_coords)
            buf = buf.numpy()[found.numpy()].astype(np.int64)
            w = self._voxels("weight")
            w[buf] = np.minimum(w[buf], self.params.max_weight)
            blocks_updated += len(buf)
        self.scans_integrated += 1
        self._dirty = True
        return UpdateStats(time.perf_counter() - t0, used,
                           {"blocks_updated": float(blocks_updated),
                            "blocks_allocated": float(self._vbg.hashmap().size()),
                            "views": float(len(views))})

    @staticmethod
    def _o3d_image(depth: np.ndarray):  # noqa: ANN205 - open3d Image
        import open3d as o3d
        import open3d.core as o3c

        return o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(depth, np.float32)))

    def _views(self, scan: Scan, T_map_sensor: np.ndarray) -> list[_View]:
        p = self.params
        if scan.depth is not None and scan.camera is not None:
            cam: PinholeCamera = scan.camera
            d = np.asarray(scan.depth, np.float32)
            if d.shape != (cam.height, cam.width):
                raise ValueError(f"depth image is {d.shape}, camera is "
                                 f"{cam.height}x{cam.width}")
            s = p.depth_stride
            d = d[::s, ::s]
            d = np.where(np.isfinite(d) & (d > 0) & (d <= p.max_range_m), d, 0.0)
            K = np.array([[cam.fx / s, 0.0, cam.cx / s], [0.0, cam.fy / s, cam.cy / s],
                          [0.0, 0.0, 1.0]])
            return [_View(d.astype(np.float32), K, _rigid_inverse(T_map_sensor))]
        pts = np.asarray(scan.points)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"scan points must be (N, 3), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ValueError("scan points must be finite (leave out missing returns)")
        return self._cube_views(pts.astype(np.float64), T_map_sensor)

    def _cube_views(self, pts: np.ndarray, T_map_sensor: np.ndarray) -> list[_View]:
        """Points (sensor frame) -> up to six 90-degree virtual depth images."""
        n = self.params.virtual_face_px
        f = n / 2.0
        c = (n - 1) / 2.0
        K = np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])
        rng = np.linalg.norm(pts, axis=1)
        pts = pts[(rng > 1e-6)]
        axis = np.argmax(np.abs(pts), axis=1)
        face = 2 * axis + (pts[np.arange(len(pts)), axis] < 0)
        views = []
        for i, R in enumerate(_FACES):
            q = pts[face == i] @ R  # face-camera coordinates (R is sensor <- face)
            q = q[(q[:, 2] > 1e-6) & (q[:, 2] <= self.params.max_range_m)]
            if len(q) == 0:
                continue
            u = np.clip(np.floor(f * q[:, 0] / q[:, 2] + c + 0.5), 0, n - 1).astype(np.int64)
            v = np.clip(np.floor(f * q[:, 1] / q[:, 2] + c + 0.5), 0, n - 1).astype(np.int64)
            img = np.full(n * n, np.inf)
            np.minimum.at(img, v * n + u, q[:, 2])
            img[~np.isfinite(img)] = 0.0
            T_sensor_face = np.eye(4)
            T_sensor_face[:3, :3] = R
            views.append(_View(img.reshape(n, n).astype(np.float32), K,
                               _rigid_inverse(T_map_sensor @ T_sensor_face)))
        return views

    def _blocks_for(self, view: _View) -> np.ndarray:
        """Block keys (N, 3) int32 that ``view`` updates, inside the bounds."""
        p = self.params
        o3c = self._o3c
        surface = self._vbg.compute_unique_block_coordinates(
            self._o3d_image(view.depth), o3c.Tensor(view.K), o3c.Tensor(view.T_cam_map),
            1.0, p.max_range_m, p.trunc_voxels).numpy().reshape(-1, 3)
        extra = self._ray_blocks(view) if p.allocate_free_space else self._frustum_blocks(view)
        keys = _unpack(np.unique(_pack(np.concatenate([surface, extra]))))
        bm = self._block_m
        lo = keys * bm
        hi = lo + (p.block_resolution - 1) * p.voxel_size
        inside = np.all((hi >= self._lo) & (lo <= self._hi), axis=1)
        return np.ascontiguousarray(keys[inside], np.int32)

    def _ray_blocks(self, view: _View) -> np.ndarray:
        """Blocks crossed by rays of a sparse pixel grid up to the truncation band."""
        p = self.params
        bm = self._block_m
        H, W = view.depth.shape
        fx = view.K[0, 0]
        # neighbouring sampled rays are at most half a block apart at max range
        stride = max(1, int(0.5 * bm * fx / p.max_range_m))
        v, u = np.mgrid[stride // 2:H:stride, stride // 2:W:stride]
        d = view.depth[v, u]
        ok = d > self._trunc_m
        u, v, d = u[ok].astype(float), v[ok].astype(float), d[ok].astype(float)
        if len(d) == 0:
            return np.zeros((0, 3), np.int32)
        rays = np.stack([(u - view.K[0, 2]) / fx, (v - view.K[1, 2]) / view.K[1, 1],
                         np.ones_like(u)], axis=1)
        step = 0.5 * bm
        n_steps = int(np.ceil(d.max() / step))
        t = np.arange(n_steps + 1) * step  # z-depths sampled along each ray
        zs = np.minimum(t[None, :], (d - self._trunc_m)[:, None])  # stop before the band
        cam_pts = rays[:, None, :] * zs[:, :, None]
        T_map_cam = _rigid_inverse(view.T_cam_map)
        world = cam_pts.reshape(-1, 3) @ T_map_cam[:3, :3].T + T_map_cam[:3, 3]
        return np.floor(world / bm).astype(np.int32)

    def _frustum_blocks(self, view: _View) -> np.ndarray:
        """Allocated blocks whose centre lies in the view frustum (for clearing)."""
        _, keys = self._active()
        if len(keys) == 0:
            return np.zeros((0, 3), np.int32)
        centre = (keys + 0.5) * self._block_m
        c = centre @ view.T_cam_map[:3, :3].T + view.T_cam_map[:3, 3]
        z = c[:, 2]
        H, W = view.depth.shape
        margin = self._block_m
        with np.errstate(divide="ignore", invalid="ignore"):
            u = view.K[0, 0] * c[:, 0] / z + view.K[0, 2]
            v = view.K[1, 1] * c[:, 1] / z + view.K[1, 2]
        pad_u = view.K[0, 0] * margin / np.maximum(z, margin)
        pad_v = view.K[1, 1] * margin / np.maximum(z, margin)
        ok = (z > -margin) & (z < self.params.max_range_m + margin) \
            & (u > -pad_u) & (u < W + pad_u) & (v > -pad_v) & (v < H + pad_v)
        return keys[ok]

    # ---------------------------------------------------------------------------- ESDF
    def _dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Dense (tsdf, weight) over the allocated blocks clipped to bounds, + origin index."""
        idx, keys = self._active()
        if len(keys) == 0:
            return None
        r = self.params.block_resolution
        kmin = keys.min(axis=0)
        nb = keys.max(axis=0) - kmin + 1
        k = keys - kmin
        out = []
        for name, fill in (("tsdf", 1.0), ("weight", 0.0)):
            blocks = self._voxels(name)[idx].transpose(0, 3, 2, 1)  # [b, x, y, z]
            grid = np.full((nb[0], nb[1], nb[2], r, r, r), fill, np.float32)
            grid[k[:, 0], k[:, 1], k[:, 2]] = blocks
            out.append(grid.transpose(0, 3, 1, 4, 2, 5).reshape(nb[0] * r, nb[1] * r,
                                                                 nb[2] * r))
        origin = kmin.astype(np.int64) * r
        vs = self.params.voxel_size
        lo = np.maximum(origin, np.ceil(self._lo / vs - 1e-9).astype(np.int64))
        hi = np.minimum(origin + nb * r, np.floor(self._hi / vs + 1e-9).astype(np.int64) + 1)
        if np.any(hi - lo < 2):
            return None
        sl = tuple(slice(a, b) for a, b in zip(lo - origin, hi - origin, strict=True))
        return out[0][sl], out[1][sl], lo

    def _build_esdf(self) -> None:
        t0 = time.perf_counter()
        dense = self._dense()
        self._dirty = False
        if dense is None:
            self._esdf = None
            self.esdf_compute_s = time.perf_counter() - t0
            return
        tsdf, weight, origin = dense
        vs, tau, dmax = self.params.voxel_size, self._trunc_m, self.params.esdf_max_distance_m
        observed = weight > 0
        sdf = np.where(observed, tsdf * np.float32(tau), np.float32(tau))
        neg = observed & (tsdf < 0)
        # seeds: voxels within a voxel of a surface (a projective distance never
        # underestimates; at grazing views it is the only sign of the surface, as the voxels
        # behind it lie beyond the band) and both voxels of every pair straddling it
        seed = observed & (np.abs(sdf) < vs)
        for ax in range(3):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[ax], hi[ax] = slice(0, -1), slice(1, None)
            lo, hi = tuple(lo), tuple(hi)
            flip = observed[lo] & observed[hi] & (neg[lo] != neg[hi])
            seed[lo] |= flip
            seed[hi] |= flip
        if seed.any():
            # indices only (the distances follow from them at a third of scipy's cost)
            nearest = ndimage.distance_transform_edt(~seed, return_distances=False,
                                                     return_indices=True)
            sq = np.zeros(sdf.shape, np.float32)
            for ax, axis_index in enumerate(np.ogrid[tuple(slice(0, n) for n in sdf.shape)]):
                diff = (nearest[ax] - axis_index.astype(nearest.dtype)).astype(np.float32)
                sq += diff * diff
            seed_sdf = sdf[nearest[0], nearest[1], nearest[2]]
            del nearest
            magnitude = np.sqrt(sq) * np.float32(vs) + np.abs(seed_sdf)
            sign_unknown = seed_sdf < 0
        else:
            magnitude = np.full(sdf.shape, dmax, np.float32)
            sign_unknown = np.zeros(sdf.shape, bool)
        band = observed & (np.abs(tsdf) < 1.0)
        np.minimum(magnitude, np.abs(sdf), out=magnitude, where=band)
        negative = np.where(observed, neg, sign_unknown)
        np.negative(magnitude, out=magnitude, where=negative)
        distance = np.clip(magnitude, -dmax, dmax, out=magnitude)
        self._esdf = _Esdf(origin, distance, observed)
        self.esdf_compute_s = time.perf_counter() - t0

    def update_esdf(self) -> float:
        """Recompute the ESDF now if the map changed (else nothing); its cost in seconds.

        :meth:`query` does this itself; a node can call it after :meth:`integrate` to keep
        the recomputation off the query path.
        """
        if not self._dirty:
            return 0.0
        self._build_esdf()
        return self.esdf_compute_s

    def query(self, points: np.ndarray) -> DistanceQuery:
        """ESDF distance (trilinear), its analytic gradient and observedness at ``points``."""
        pts = np.asarray(points, float)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"query points must be (N, 3), got {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ValueError("query points must be finite")
        self.update_esdf()
        n = len(pts)
        dmax = self.params.esdf_max_distance_m
        distance = np.full(n, dmax, np.float32)
        gradient = np.zeros((n, 3), np.float32)
        observed = np.zeros(n, bool)
        e = self._esdf
        if e is None or n == 0:
            return DistanceQuery(distance, gradient, observed)
        vs = self.params.voxel_size
        shape = np.asarray(e.distance.shape)
        g = pts / vs - e.origin_index
        inside = np.all((g >= 0) & (g <= shape - 1), axis=1)
        gi = g[inside]
        i0 = np.minimum(np.floor(gi).astype(np.int64), shape - 2)
        f = gi - i0
        flat = e.distance.reshape(-1)
        sy, sz = shape[2], 1
        sx = shape[1] * shape[2]
        base = i0[:, 0] * sx + i0[:, 1] * sy + i0[:, 2] * sz
        c = {(a, b, cc): flat[base + a * sx + b * sy + cc * sz]
             for a in (0, 1) for b in (0, 1) for cc in (0, 1)}
        fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
        gx_, gy_, gz_ = 1 - fx, 1 - fy, 1 - fz
        # trilinear interpolant and its exact partial derivatives
        c00 = c[0, 0, 0] * gx_ + c[1, 0, 0] * fx
        c10 = c[0, 1, 0] * gx_ + c[1, 1, 0] * fx
        c01 = c[0, 0, 1] * gx_ + c[1, 0, 1] * fx
        c11 = c[0, 1, 1] * gx_ + c[1, 1, 1] * fx
        c0 = c00 * gy_ + c10 * fy
        c1 = c01 * gy_ + c11 * fy
        value = c0 * gz_ + c1 * fz
        dx = ((c[1, 0, 0] - c[0, 0, 0]) * gy_ * gz_ + (c[1, 1, 0] - c[0, 1, 0]) * fy * gz_
              + (c[1, 0, 1] - c[0, 0, 1]) * gy_ * fz + (c[1, 1, 1] - c[0, 1, 1]) * fy * fz)
        dy = (c10 - c00) * gz_ + (c11 - c01) * fz
        dz = c1 - c0
        distance[inside] = value
        gradient[inside] = np.stack([dx, dy, dz], axis=1) / vs
        near = np.minimum(np.floor(gi + 0.5).astype(np.int64), shape - 1)
        in_bounds = self.bounds.contains(pts[inside])
        observed[inside] = e.observed[near[:, 0], near[:, 1], near[:, 2]] & in_bounds
        return DistanceQuery(distance, gradient, observed)

    # ---------------------------------------------------------------------------- mesh
    def mesh(self) -> TriangleMesh:
        """open3d's marching cubes over the TSDF (voxels of weight >= ``min_mesh_weight``)."""
        empty = TriangleMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
        if self._vbg.hashmap().size() == 0:
            return empty
        try:
            m = self._vbg.extract_triangle_mesh(weight_threshold=self.params.min_mesh_weight)
        except RuntimeError as exc:  # open3d 0.20 raises instead of returning no triangles
            if "has shape {0}" in str(exc):
                return empty
            raise
        if "positions" not in m.vertex or "indices" not in m.triangle:
            return empty
        return TriangleMesh(m.vertex.positions.numpy().astype(np.float32),
                            m.triangle.indices.numpy().astype(np.int32))

    # ---------------------------------------------------------------------- save / load
    def save(self, path: Path) -> None:
        """One ``.npz`` at ``path``: method, params (JSON), bounds, block keys and voxels."""
        idx, keys = self._active()
        with open(Path(path), "wb") as fh:
            np.savez(fh, method=np.array(METHOD),
                     params=np.array(json.dumps(dataclasses.asdict(self.params))),
                     bounds_min=np.asarray(self.bounds.min_xyz, float),
                     bounds_max=np.asarray(self.bounds.max_xyz, float),
                     block_keys=keys, tsdf=self._voxels("tsdf")[idx],
                     weight=self._voxels("weight")[idx],
                     scans_integrated=np.array(self.scans_integrated))

    @classmethod
    def load(cls, path: Path) -> TSDFMapper:
        """Read a map written by :meth:`save`; ValueError if the file is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        except Exception as exc:  # zip/npz errors of a truncated or foreign file
            raise ValueError(f"{path}: not a readable map file ({exc})") from None
        need = ("method", "params", "bounds_min", "bounds_max", "block_keys", "tsdf",
                "weight")
        missing = [k for k in need if k not in data]
        if missing:
            raise ValueError(f"{path}: map file lacks {', '.join(missing)}")
        if str(data["method"]) != METHOD:
            raise ValueError(f"{path}: map of method {str(data['method'])!r}, not {METHOD!r}")
        try:
            raw = json.loads(str(data["params"]))
            params = TSDFParams(**raw)
            bounds = MapBounds(tuple(map(float, data["bounds_min"])),
                               tuple(map(float, data["bounds_max"])))
        except (TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: bad params or bounds in map file ({exc})") from None
        r = params.block_resolution
        keys, tsdf, weight = data["block_keys"], data["tsdf"], data["weight"]
        n = len(keys)
        if keys.shape != (n, 3) or not np.issubdtype(keys.dtype, np.integer) \
                or tsdf.shape != (n, r, r, r) or weight.shape != (n, r, r, r) \
                or tsdf.dtype != np.float32 or weight.dtype != np.float32:
            raise ValueError(f"{path}: block arrays have inconsistent shapes or types "
                             f"(keys {keys.shape}, tsdf {tsdf.shape}, weight "
                             f"{weight.shape}, resolution {r})")
        if not (np.all(np.isfinite(tsdf)) and np.all(np.isfinite(weight))):
            raise ValueError(f"{path}: voxel values are not finite")
        mapper = cls(bounds, params)
        if n:
            o3c = mapper._o3c
            buf, ok = mapper._vbg.hashmap().activate(o3c.Tensor(keys.astype(np.int32)))
            if not bool(ok.numpy().all()):
                raise ValueError(f"{path}: duplicate block keys")
            buf = buf.numpy().astype(np.int64)
            mapper._voxels("tsdf")[buf] = tsdf
            mapper._voxels("weight")[buf] = weight
        mapper.scans_integrated = int(data.get("scans_integrated", 0))
        return mapper


def integration_budget_scans(max_weight: float) -> int:
    """Scans after which a voxel at phi = -1 (weight at the cap) that now sees free space
    reads phi > 0: the least n with (w / (w + 1))^n < 1/2."""
    keep, n, left = max_weight / (max_weight + 1.0), 0, 1.0
    while left >= 0.5:
        left *= keep
        n += 1
    return n


__all__ = ["TSDFMapper", "TSDFParams", "integration_budget_scans"]
