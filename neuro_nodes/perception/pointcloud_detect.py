"""Objects from a segmented point cloud: Euclidean clusters per class, upright boxes, scores.

Input: points ``(N, 3)`` in the camera optical frame (x right, y down, z forward, metres),
a class per point (``-1``: no label, e.g. outside the segmentation model's voxel box), the
per-point class probabilities ``(N, C)`` and the class names.  For every object class (the
structure classes ``unknown``, ``floor``, ``wall``, ``ceiling`` are skipped)::

    clusters   connected components of the graph "two points of the class closer than
               cluster_tolerance_m" (single linkage, exact: scipy cKDTree pairs)
    box        upright: a yaw about the optical y axis (down, for a level camera) that
               puts the cluster's x, z closest to the sides of their bounding rectangle
               (below); extents along the box axes (size.x the longer side, size.y
               vertical, size.z across)
    score      mean probability of the class over the cluster's points

The yaw: a depth camera sees an object's near faces only, an L of points.  Neither the
principal axis of x, z (it lies between the two faces, up to 45 degrees off) nor the
smallest-area rectangle (for an L it ties between the faces and its diagonal) finds them;
the closeness criterion of L-shape fitting (Zhang et al., "Efficient L-shape fitting for
vehicle detection using laser scanners", IEEE IV 2017) does: over candidate angles (every
degree and the directions of the convex hull's edges, then every 0.05 degree within 2
degrees of the best) it maximises ``sum_i 1 / max(d_i, d0)``, ``d_i`` the distance of point
``i`` to the nearest side of the rectangle, ``d0`` = 1 cm (depth noise); the middle of the
angles where it saturates is the yaw.

Clusters under ``min_points`` are dropped; the ``max_detections`` largest are kept.  An
optional ``classify`` callback re-classifies each kept cluster (e.g. the classification
model on the cluster's points) and its probabilities ride along on the detection.

Parameters (:class:`DetectParams`)::

    field                default                              meaning
    cluster_tolerance_m  0.08                                 largest point gap in a cluster
    min_points           30                                   smallest cluster kept
    max_detections       32                                   most clusters kept (largest)
    ignore_classes       (unknown, floor, wall, ceiling)      classes never clustered
    oriented             True                                 yaw boxes, else axis-aligned
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError, cKDTree

from neuro_nodes.core.params import param, validated

#: Classes of the room's structure: large, connected, not objects.
STRUCTURE_CLASSES: tuple[str, ...] = ("unknown", "floor", "wall", "ceiling")
#: distance (m) under which a point counts as on a side of the box (closeness criterion)
CLOSENESS_D0_M = 0.01
#: points of a cluster that the yaw search looks at (taken evenly)
YAW_SEARCH_POINTS = 2000


@dataclasses.dataclass(frozen=True)
class DetectParams:
    """Clustering and box parameters (see the module docstring)."""

    cluster_tolerance_m: float = param(0.08, "largest gap between neighbouring points of one "
                                       "cluster (m)", min=1e-3, max=10.0)
    min_points: int = param(30, "clusters with fewer points are dropped", min=1,
                            max=10_000_000)
    max_detections: int = param(32, "most clusters kept (the largest)", min=1, max=100_000)
    ignore_classes: tuple[str, ...] = param(STRUCTURE_CLASSES, "classes never clustered "
                                            "(room structure)")
    oriented: bool = param(True, "upright boxes with a yaw about the optical y axis (L-shape "
                           "closeness of x, z); false: axis-aligned")


@dataclasses.dataclass
class Detection:
    """One object: an upright box in the cloud's frame and its supporting points."""

    class_id: int  # index into the segmentation classes
    class_name: str
    score: float  # mean probability of class_id over the points, in [0, 1]
    center: np.ndarray  # (3,) box centre (m)
    size: np.ndarray  # (3,) extent along the box axes: principal, vertical (y), across
    yaw: float  # rotation of the box about the optical y axis (rad, in [-pi/2, pi/2))
    indices: np.ndarray  # (M,) rows of the input points in the cluster
    class_probs: np.ndarray | None = None  # (K,) from the classify callback, if any

    @property
    def num_points(self) -> int:
        return len(self.indices)

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        """The box orientation (x, y, z, w): ``yaw`` about the y axis."""
        return (0.0, math.sin(self.yaw / 2), 0.0, math.cos(self.yaw / 2))

    def rotation(self) -> np.ndarray:
        """(3, 3): box axes (columns) in the cloud's frame."""
        return _yaw_rotation(self.yaw)


def euclidean_clusters(points: np.ndarray, tolerance: float) -> np.ndarray:
    """(N,) cluster index of each point: connected components of the pairs closer than
    ``tolerance``, numbered from 0."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    n = len(pts)
    if n == 0:
        return np.zeros(0, np.int64)
    pairs = cKDTree(pts).query_pairs(tolerance, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _closeness_angle(xz: np.ndarray) -> float:
    """Direction angle in the (x, z) plane of one side of the rectangle that the points
    lie closest to the sides of (module docstring)."""
    xz = xz[np.linspace(0, len(xz) - 1, min(len(xz), YAW_SEARCH_POINTS)).astype(np.int64)]
    angles = np.deg2rad(np.arange(90.0))
    try:
        hull = xz[ConvexHull(xz).vertices]
        edges = np.roll(hull, -1, axis=0) - hull
        angles = np.r_[angles, np.arctan2(edges[:, 1], edges[:, 0]) % (math.pi / 2)]
    except (QhullError, ValueError):  # collinear or too few points: the grid alone
        pass

    def closeness(angles: np.ndarray) -> np.ndarray:
        c, s = np.cos(angles), np.sin(angles)
        d = np.minimum(_to_sides(xz[:, :1] * c + xz[:, 1:] * s),
                       _to_sides(xz[:, 1:] * c - xz[:, :1] * s))
        return (1.0 / np.maximum(d, CLOSENESS_D0_M)).sum(0)

    angle = angles[np.argmax(closeness(angles))]
    # within d0 the score saturates: a plateau of angles around the faces' direction; its
    # middle is the estimate
    fine = angle + np.deg2rad(np.arange(-2.0, 2.0001, 0.05))
    score = closeness(fine)
    return float(fine[score >= score.max() * (1 - 1e-9)].mean())


def _to_sides(u: np.ndarray) -> np.ndarray:
    """(points, angles): each coordinate's distance to the nearer end of its range."""
    return np.minimum(u - u.min(0), u.max(0) - u)


def _yaw_rotation(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def upright_box(points: np.ndarray, oriented: bool = True) -> tuple[np.ndarray, np.ndarray,
                                                                     float]:
    """Centre (3,), size (3,) and yaw about y of the upright box around the points whose
    sides they lie closest to (``oriented``), or of the box along the frame's axes."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    yaw = 0.0
    if oriented and len(pts) >= 2:
        theta = _closeness_angle(pts[:, [0, 2]])
        # the box's x axis (cos yaw, 0, -sin yaw) points along theta in the (x, z) plane
        yaw = -theta
    local = pts @ _yaw_rotation(yaw)  # coordinates along the box axes
    if oriented and np.ptp(local[:, 0]) < np.ptp(local[:, 2]):  # the longer side is x
        yaw -= math.pi / 2
    yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2  # a box is symmetric under pi
    rot = _yaw_rotation(yaw)
    local = pts @ rot
    lo, hi = local.min(0), local.max(0)
    return rot @ ((lo + hi) / 2), hi - lo, yaw


def detect(points: np.ndarray, labels: np.ndarray, probs: np.ndarray,
           class_names: Sequence[str], params: DetectParams | None = None,
           classify: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Detection]:
    """Detections of a segmented cloud, largest first (module docstring).

    ``classify(cluster_points (M, 3)) -> probabilities (K,)`` re-classifies each kept
    cluster."""
    p = validated(params or DetectParams())
    pts = np.asarray(points, np.float64)
    lab = np.asarray(labels).reshape(-1)
    pr = np.asarray(probs, np.float32)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points: expected shape (N, 3), got {pts.shape}")
    if len(lab) != len(pts) or pr.shape != (len(pts), len(class_names)):
        raise ValueError(f"labels {lab.shape} and probs {pr.shape} must match {len(pts)} "
                         f"points and {len(class_names)} classes")
    ignored = set(p.ignore_classes)
    found: list[Detection] = []
    for cid, name in enumerate(class_names):
        if name in ignored:
            continue
        rows = np.flatnonzero(lab == cid)
        if len(rows) < p.min_points:
            continue
        cluster = euclidean_clusters(pts[rows], p.cluster_tolerance_m)
        sizes = np.bincount(cluster)
        for k in np.flatnonzero(sizes >= p.min_points):
            idx = rows[cluster == k]
            center, size, yaw = upright_box(pts[idx], p.oriented)
            found.append(Detection(cid, name, float(pr[idx, cid].mean()), center, size, yaw,
                                   idx))
    found.sort(key=lambda d: (-d.num_points, d.class_id))
    found = found[:p.max_detections]
    if classify is not None:
        for d in found:
            d.class_probs = np.asarray(classify(pts[d.indices]), np.float32)
    return found


__all__ = ["STRUCTURE_CLASSES", "DetectParams", "Detection", "detect", "euclidean_clusters",
           "upright_box"]
