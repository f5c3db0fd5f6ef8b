"""ESDF slices, occupancy values and 3D ESDF points, from a TSDF map of an analytic box world."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_scene import CAMERA, ROOM, Box, BoxScene, look_at

from neuro_nodes.mapping.esdf import DistanceSlice, esdf_points, esdf_slice, occupancy_values
from neuro_nodes.mapping.tsdf import TSDFMapper, TSDFParams
from neuro_nodes.mapping.types import MapBounds

BOUNDS = MapBounds((-2.3, -2.3, -0.3), (2.3, 2.3, 2.8))
# an obstacle off the diagonal, so that swapping rows and columns would miss it
PILLAR = Box((0.6, -1.0, 0.0), (0.9, -0.7, 2.5))
SCENE = BoxScene(ROOM, (PILLAR,))


@pytest.fixture(scope="module")
def mapper() -> TSDFMapper:
    m = TSDFMapper(BOUNDS, TSDFParams())
    views = [((-1.0, 0.2, 1.0), yaw) for yaw in np.linspace(-1.3, 0.3, 6)]
    views += [((1.0, 0.5, 1.0), yaw) for yaw in (2.7, 3.2, 3.7)]
    for eye, yaw in views:
        target = np.asarray(eye) + [np.cos(yaw), np.sin(yaw), -0.3]
        m.integrate(SCENE.scan(CAMERA, look_at(np.asarray(eye), target)))
    return m


def test_slice_puts_a_known_obstacle_in_the_right_cell(mapper):
    s = esdf_slice(mapper, 0.5, 0.1)
    assert s.distance.shape == (46, 46) and s.observed.shape == (46, 46)
    assert s.origin_xy == (-2.3, -2.3)
    # the cell just inside the pillar's face x = 0.6 at y = -0.85: centre (0.65, -0.85)
    col, row = round((0.65 + 2.3) / 0.1 - 0.5), round((-0.85 + 2.3) / 0.1 - 0.5)
    np.testing.assert_allclose(s.cell_centres()[row, col], [0.65, -0.85, 0.5], atol=1e-9)
    assert s.observed[row, col] and s.distance[row, col] < 0
    occ = occupancy_values(s, robot_radius_m=0.2)
    assert occ[row, col] == 100
    assert occ[col, row] == 0 and s.distance[col, row] > 0.2  # (x, y) = (-0.85, 0.65): free
    # the slice is the mapper's query at the cell centres, row-major along +y
    q = mapper.query(s.cell_centres().reshape(-1, 3))
    np.testing.assert_array_equal(s.distance.ravel(), q.distance)
    np.testing.assert_array_equal(s.observed.ravel(), q.observed)


def test_slice_distances_follow_the_scene(mapper):
    s = esdf_slice(mapper, 1.0, 0.05, xy_bounds=(-0.5, -1.5, 0.5, 0.0))
    assert s.distance.shape == (30, 20)
    c = s.cell_centres().reshape(-1, 3)
    truth = SCENE.sdf(c).reshape(s.distance.shape)
    ok = s.observed & (np.abs(truth) < 0.8)
    assert ok.sum() > 200
    assert np.median(np.abs(s.distance - truth)[ok]) < 0.03


def test_occupancy_mapping():
    d = np.array([[-0.3, 0.0, 0.05, 0.1, 0.19, 0.2, 1.5, 0.1]], np.float32)
    obs = np.array([[True] * 7 + [False]])
    occ = occupancy_values(DistanceSlice(d, obs, (0.0, 0.0), 0.1, 0.0), robot_radius_m=0.2)
    assert occ.dtype == np.int8
    np.testing.assert_array_equal(occ, [[100, 100, 75, 50, 5, 0, 0, -1]])
    hard = occupancy_values(DistanceSlice(d, obs, (0.0, 0.0), 0.1, 0.0), robot_radius_m=0.0)
    np.testing.assert_array_equal(hard, [[100, 100, 0, 0, 0, 0, 0, -1]])


def test_esdf_points_are_observed_and_within_range(mapper):
    pts, dist = esdf_points(mapper, 0.1, 0.5)
    assert pts.dtype == np.float32 and dist.dtype == np.float32 and len(pts) == len(dist)
    assert len(pts) > 1000 and np.all(np.abs(dist) <= 0.5)
    q = mapper.query(pts.astype(float))
    assert q.observed.all()
    np.testing.assert_allclose(q.distance, dist, atol=1e-5)
    assert np.median(np.abs(dist - SCENE.sdf(pts.astype(float)))) < 0.03
    # grid points are cell centres of a 0.1 m grid starting at the bounds' corner
    cell = (pts - np.asarray(BOUNDS.min_xyz)) / 0.1 - 0.5
    np.testing.assert_allclose(cell, np.round(cell), atol=1e-3)


def test_bad_arguments_raise_value_error(mapper):
    with pytest.raises(ValueError, match="resolution"):
        esdf_slice(mapper, 0.5, 0.0)
    with pytest.raises(ValueError, match="xy_bounds"):
        esdf_slice(mapper, 0.5, 0.1, xy_bounds=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="z_m"):
        esdf_slice(mapper, float("nan"), 0.1)
    with pytest.raises(ValueError, match="max_distance"):
        esdf_points(mapper, 0.1, -1.0)
    s = esdf_slice(mapper, 0.5, 0.5)
    with pytest.raises(ValueError, match="robot_radius"):
        occupancy_values(s, robot_radius_m=-0.1)
