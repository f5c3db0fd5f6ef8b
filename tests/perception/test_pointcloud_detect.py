"""Objects from a segmented cloud: clusters per object class, upright boxes, scores,
structure classes skipped, min_points, re-classification of the clusters kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuro_nodes.perception.pointcloud_detect import (
    DetectParams,
    detect,
    euclidean_clusters,
    upright_box,
)

CLASSES = ("unknown", "floor", "wall", "ceiling", "table", "chair", "lamp")
TABLE, CHAIR, FLOOR = 4, 5, 1


def solid_box(rng: np.random.Generator, n: int, center, size, yaw: float = 0.0) -> np.ndarray:
    """``n`` points filling a box yawed about the optical y axis; the 8 corners included,
    so the true extent is reached exactly."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5)
                        for z in (-0.5, 0.5)])
    local = np.r_[corners, rng.uniform(-0.5, 0.5, (n - 8, 3))] * size
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return local @ rot.T + center


def scene(rng: np.random.Generator):
    """A chair (axis-aligned), a yawed table, a 30-point speck of chair, a floor under all
    of them that touches them, and unlabelled points; the chair and the table share the
    floor's component, so only per-class clustering separates them."""
    chair = solid_box(rng, 2000, (-0.8, 0.2, 2.0), (0.4, 0.6, 0.3))
    table = solid_box(rng, 3000, (0.9, 0.25, 3.0), (0.8, 0.5, 0.3), yaw=0.6)
    speck = solid_box(rng, 30, (0.0, 0.3, 1.2), (0.04, 0.04, 0.04))
    gx, gz = np.meshgrid(np.arange(-2, 2, 0.05), np.arange(1, 4, 0.05))  # 80 x 60
    floor = np.c_[gx.ravel(), np.full(gx.size, 0.5), gz.ravel()]
    far = rng.uniform(-1, 1, (200, 3)) + (0, 0, 8)
    pts = np.r_[chair, table, speck, floor, far]
    labels = np.r_[np.full(2000, CHAIR), np.full(3000, TABLE), np.full(30, CHAIR),
                   np.full(len(floor), FLOOR), np.full(200, -1)]
    probs = np.zeros((len(pts), len(CLASSES)), np.float32)
    probs[np.arange(len(pts)), np.maximum(labels, 0)] = 0.9
    probs[2000:5000:2, TABLE] = 0.5  # the table's mean probability: 0.7
    return pts, labels, probs


def test_two_objects_get_their_boxes_and_structure_is_ignored() -> None:
    pts, labels, probs = scene(np.random.default_rng(0))
    dets = detect(pts, labels, probs, CLASSES, DetectParams(min_points=31))
    assert [(d.class_name, d.num_points) for d in dets] == [("table", 3000), ("chair", 2000)]
    table, chair = dets
    np.testing.assert_allclose(chair.center, (-0.8, 0.2, 2.0), atol=1e-9)
    np.testing.assert_allclose(chair.size, (0.4, 0.6, 0.3), atol=1e-9)
    assert chair.yaw == pytest.approx(0.0, abs=0.05) and chair.score == pytest.approx(0.9)
    np.testing.assert_array_equal(np.sort(chair.indices), np.arange(2000))
    # the yawed table: the smallest upright box is the table's own, longer side first
    assert table.yaw == pytest.approx(0.6, abs=1e-9)
    np.testing.assert_allclose(table.center, (0.9, 0.25, 3.0), atol=1e-9)
    np.testing.assert_allclose(table.size, (0.8, 0.5, 0.3), atol=1e-9)
    assert table.score == pytest.approx(0.7, abs=1e-6)
    assert table.class_id == TABLE and table.class_probs is None
    # the quaternion is the yaw about y: it turns the box's x axis onto the long side
    qx, qy, qz, qw = table.quaternion
    assert (qx, qz) == (0.0, 0.0) and qw ** 2 + qy ** 2 == pytest.approx(1.0)
    axis = table.rotation()[:, 0]
    np.testing.assert_allclose(axis, (math.cos(0.6), 0, -math.sin(0.6)), atol=1e-9)


def test_a_depth_view_of_two_faces_gets_the_box_orientation() -> None:
    """A camera sees an L of a yawed box (its two near faces): the box follows the faces,
    where the L's principal axis would lie between them."""
    rng = np.random.default_rng(4)
    yaw, (sx, sz) = -0.4, (0.6, 0.6)
    u = rng.uniform(-0.5, 0.5, 800)
    h = rng.uniform(-0.2, 0.2, 1600)
    local = np.r_[np.c_[u * sx, h[:800], np.full(800, -sz / 2)],  # near face along x
                  np.c_[np.full(800, -sx / 2), h[800:], u * sz]]  # near face along z
    pts = local @ np.array(
        [[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]]).T
    _, size, got = upright_box(pts + (0.0, 0.0, 2.5))
    assert abs((got - yaw + math.pi / 4) % (math.pi / 2) - math.pi / 4) < 0.01, got
    np.testing.assert_allclose(np.sort(size[[0, 2]]), (sx, sz), atol=0.01)


def test_min_points_is_inclusive_and_ignore_classes_is_a_parameter() -> None:
    pts, labels, probs = scene(np.random.default_rng(1))
    kept = detect(pts, labels, probs, CLASSES, DetectParams(min_points=30))
    assert sorted(d.num_points for d in kept) == [30, 2000, 3000]
    speck = next(d for d in kept if d.num_points == 30)
    np.testing.assert_allclose(speck.center, (0.0, 0.3, 1.2), atol=1e-9)
    # the floor becomes an object once it is not ignored (and it is the largest)
    all_classes = detect(pts, labels, probs, CLASSES, DetectParams(min_points=31,
                                                                   ignore_classes=("wall",)))
    assert [d.class_name for d in all_classes] == ["floor", "table", "chair"]
    assert all_classes[0].num_points == 4800
    assert all_classes[0].size[1] == pytest.approx(0.0)  # a flat floor: no height


def test_reclassification_callback_sees_each_kept_cluster() -> None:
    pts, labels, probs = scene(np.random.default_rng(2))
    seen: list[np.ndarray] = []

    def classify(cluster: np.ndarray) -> np.ndarray:
        seen.append(cluster)
        return np.array([0.2, 0.8]) if len(cluster) == 3000 else np.array([0.6, 0.4])

    dets = detect(pts, labels, probs, CLASSES, DetectParams(min_points=31), classify)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], pts[dets[0].indices])
    np.testing.assert_allclose(dets[0].class_probs, (0.2, 0.8))
    np.testing.assert_allclose(dets[1].class_probs, (0.6, 0.4))
    # only the max_detections largest are kept, and only those are classified
    seen.clear()
    one = detect(pts, labels, probs, CLASSES, DetectParams(min_points=31, max_detections=1),
                 classify)
    assert [d.num_points for d in one] == [3000] and len(seen) == 1


def test_axis_aligned_boxes_when_not_oriented() -> None:
    rng = np.random.default_rng(3)
    table = solid_box(rng, 3000, (0.0, 0.0, 2.0), (0.8, 0.5, 0.3), yaw=0.6)
    center, size, yaw = upright_box(table, oriented=False)
    assert yaw == 0.0
    np.testing.assert_allclose(size, table.max(0) - table.min(0))
    np.testing.assert_allclose(center, (table.max(0) + table.min(0)) / 2)


def test_euclidean_clusters_link_by_the_tolerance() -> None:
    chain = np.c_[np.arange(20) * 0.05, np.zeros(20), np.zeros(20)]
    assert len(np.unique(euclidean_clusters(chain, 0.06))) == 1
    assert len(np.unique(euclidean_clusters(chain, 0.04))) == 20
    two = np.r_[chain, chain + (2.0, 0, 0)]
    c = euclidean_clusters(two, 0.06)
    assert len(np.unique(c)) == 2 and len(set(c[:20])) == 1 and c[0] != c[20]
    assert euclidean_clusters(np.zeros((0, 3)), 0.1).shape == (0,)


def test_mismatched_inputs_are_refused() -> None:
    pts = np.zeros((5, 3))
    with pytest.raises(ValueError, match="labels"):
        detect(pts, np.zeros(4, int), np.zeros((5, len(CLASSES))), CLASSES)
    with pytest.raises(ValueError, match="probs"):
        detect(pts, np.zeros(5, int), np.zeros((5, 2)), CLASSES)
    with pytest.raises(ValueError, match="points"):
        detect(np.zeros((5, 2)), np.zeros(5, int), np.zeros((5, len(CLASSES))), CLASSES)
    assert detect(np.zeros((0, 3)), np.zeros(0, int), np.zeros((0, len(CLASSES))),
                  CLASSES) == []
