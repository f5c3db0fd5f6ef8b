"""The ROS-free TF tree: chains, interpolation in time, and the lookups it must refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuro_nodes.core.tf_tree import (
    TfTree,
    TransformError,
    invert,
    quaternion_to_matrix,
    transform_matrix,
)


def yaw_q(yaw: float) -> np.ndarray:
    return np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])


def robot_tree() -> TfTree:
    """map -> odom (static) -> base_link (dynamic) -> camera_link -> camera_optical_frame."""
    tf = TfTree(tolerance_s=0.01)
    tf.set_transform("map", "odom", [1.0, 0.0, 0.0], yaw_q(0.0), 0.0, static=True)
    tf.set_transform("base_link", "camera_link", [0.2, 0.0, 0.3], yaw_q(0.0), 0.0, static=True)
    # optical: z forward = link x, x right = link -y, y down = link -z
    tf.set_transform("camera_link", "camera_optical_frame", [0, 0, 0],
                     [-0.5, 0.5, -0.5, 0.5], 0.0, static=True)
    tf.set_transform("odom", "base_link", [0.0, 0.0, 0.0], yaw_q(0.0), 0.0)
    tf.set_transform("odom", "base_link", [2.0, 0.0, 0.0], yaw_q(math.pi / 2), 1.0)
    return tf


def test_quaternion_matrix_is_a_rotation_and_matches_a_known_yaw() -> None:
    r = quaternion_to_matrix(yaw_q(math.pi / 2))
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    r = quaternion_to_matrix(rng.normal(size=4))  # unnormalised input is normalised
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="quaternion"):
        quaternion_to_matrix([0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="quaternion"):
        quaternion_to_matrix([np.nan, 0.0, 0.0, 1.0])


def test_chain_composes_static_and_dynamic_edges() -> None:
    tf = robot_tree()
    T = tf.lookup("map", "camera_optical_frame", 1.0)
    # at t=1 the base is at odom (2, 0) facing +y; map = odom + (1, 0, 0)
    np.testing.assert_allclose(T[:3, 3], [3.0, 0.2, 0.3], atol=1e-12)
    # the optical z axis (forward) points along the base's heading, +y of the map
    np.testing.assert_allclose(T[:3, 2], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(T[:3, 1], [0.0, 0.0, -1.0], atol=1e-12)  # y down
    # the inverse direction is the inverse matrix, and a frame to itself is identity
    np.testing.assert_allclose(tf.lookup("camera_optical_frame", "map", 1.0), invert(T),
                               atol=1e-12)
    np.testing.assert_array_equal(tf.lookup("odom", "odom"), np.eye(4))


def test_lookup_between_siblings_goes_through_the_common_ancestor() -> None:
    tf = robot_tree()
    tf.set_transform("odom", "landmark", [5.0, 0.0, 0.0], yaw_q(0.0), 0.0, static=True)
    T = tf.lookup("base_link", "landmark", 1.0)  # base at (2,0) facing +y
    np.testing.assert_allclose(T[:3, 3], [0.0, -3.0, 0.0], atol=1e-12)


def test_dynamic_edge_interpolates_translation_and_slerps_rotation() -> None:
    tf = robot_tree()
    T = tf.lookup("odom", "base_link", 0.25)
    np.testing.assert_allclose(T[:3, 3], [0.5, 0.0, 0.0], atol=1e-12)
    yaw = math.atan2(T[1, 0], T[0, 0])
    assert yaw == pytest.approx(math.pi / 8, abs=1e-9)  # a quarter of the way to pi/2
    # None: the newest sample of each edge
    np.testing.assert_allclose(tf.lookup("odom", "base_link")[:3, 3], [2.0, 0.0, 0.0])


def test_out_of_order_samples_are_sorted_in() -> None:
    tf = TfTree()
    for t in (0.0, 2.0, 1.0):
        tf.set_transform("odom", "base", [t, 0.0, 0.0], yaw_q(0.0), t)
    assert tf.lookup("odom", "base", 1.5)[0, 3] == pytest.approx(1.5)
    assert tf.lookup("odom", "base", 0.5)[0, 3] == pytest.approx(0.5)


def test_lookups_outside_the_data_fail_with_the_reason() -> None:
    tf = robot_tree()
    assert tf.lookup("odom", "base_link", 1.005)[0, 3] == pytest.approx(2.0)  # in tolerance
    with pytest.raises(TransformError, match="no transform at") as err:
        tf.lookup("map", "base_link", 1.5)
    assert err.value.kind == "future"
    with pytest.raises(TransformError) as err:
        tf.lookup("map", "base_link", -1.0)
    assert err.value.kind == "past"
    with pytest.raises(TransformError, match="'nowhere' is not in the TF tree") as err:
        tf.lookup("map", "nowhere")
    assert err.value.kind == "unknown_frame"
    tf.set_transform("world", "island", [0, 0, 0], yaw_q(0.0), 0.0, static=True)
    with pytest.raises(TransformError, match="no TF chain") as err:
        tf.lookup("map", "island")
    assert err.value.kind == "no_chain"


def test_history_is_bounded_and_old_times_are_forgotten() -> None:
    tf = TfTree(history=10, tolerance_s=0.0)
    for k in range(50):
        tf.set_transform("odom", "base", [k, 0.0, 0.0], yaw_q(0.0), float(k))
    assert tf.lookup("odom", "base", 45.5)[0, 3] == pytest.approx(45.5)
    with pytest.raises(TransformError):
        tf.lookup("odom", "base", 30.0)


def test_bad_edges_are_refused() -> None:
    tf = robot_tree()
    with pytest.raises(ValueError, match="loop"):
        tf.set_transform("camera_optical_frame", "map", [0, 0, 0], yaw_q(0.0), 0.0)
    with pytest.raises(ValueError, match="two different frame names"):
        tf.set_transform("map", "map", [0, 0, 0], yaw_q(0.0), 0.0)
    with pytest.raises(ValueError, match="translation must be finite"):
        tf.set_transform("map", "x", [np.nan, 0, 0], yaw_q(0.0), 0.0)
    with pytest.raises(ValueError, match="quaternion"):
        tf.set_transform("map", "x", [0, 0, 0], [0, 0, 0, 0], 0.0)


def test_transform_matrix_round_trip() -> None:
    T = transform_matrix([1.0, 2.0, 3.0], yaw_q(0.7))
    np.testing.assert_allclose(T @ invert(T), np.eye(4), atol=1e-12)
