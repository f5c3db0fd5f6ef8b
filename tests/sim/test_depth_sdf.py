"""Depth, point clouds, labels and the scene SDF agree with each other and with geometry."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from sim.ground_truth.labels import GeomLabels
from sim.ground_truth.sdf import SceneSDF
from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene
from sim.scenes.classes import CLASS_IDS
from sim.scenes.mobile_robot import mobile_robot_scene
from sim.sensors.camera import CameraSensor, intrinsics
from sim.sensors.pointcloud import depth_to_points, points_to_depth, project
from sim.world import SimWorld


def test_intrinsics_follow_fovy_and_pixel_centres() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(fovy=60.0)))
    fx, fy, cx, cy = intrinsics(world.model, "camera", 640, 480)
    assert fy == pytest.approx(240 / np.tan(np.radians(30)))
    assert fx == fy and (cx, cy) == (319.5, 239.5)


def test_depth_point_cloud_round_trip() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(motion="mixed")))
    world.step_until(0.4)
    with CameraSensor(world.model, "camera", 160, 120) as cam:
        depth = cam.depth(world.data)
    assert depth.dtype == np.float32 and np.isfinite(depth).all()  # closed room
    pts = depth_to_points(depth, cam.intrinsics)
    assert pts.dtype == np.float32 and pts.shape == (160 * 120, 3)
    v, u = np.mgrid[0:120, 0:160]
    np.testing.assert_allclose(project(pts, cam.intrinsics),
                               np.stack([u.ravel(), v.ravel()], 1), atol=1e-3)
    np.testing.assert_allclose(points_to_depth(pts, cam.intrinsics, 160, 120), depth,
                               rtol=1e-6)
    organized = depth_to_points(depth, cam.intrinsics, organized=True)
    assert organized.shape == (120, 160, 3)


def test_depth_points_lie_on_the_scene_surface() -> None:
    """Depth + intrinsics + camera pose put every point on a geom surface (SDF ~ 0)."""
    world = SimWorld(camera_rig_scene(CameraRigParams(motion="mixed", n_moving=2)))
    world.step_until(0.7)
    sdf = SceneSDF(world.model, world.data)
    with CameraSensor(world.model, "camera", 160, 120) as cam:
        frame = cam.render(world.data, rgb=False)
    pts = world.camera_pose("camera").apply(depth_to_points(frame.depth, cam.intrinsics))
    dist = np.abs(sdf.distance(pts))
    assert np.median(dist) < 1e-4 and np.percentile(dist, 95) < 2e-3
    # and the nearest geom is the one the segmentation saw (away from edges)
    seen = frame.segmentation[np.isfinite(frame.depth)]
    assert np.mean(sdf.nearest_geom(pts) == seen) > 0.97


def test_pixel_and_point_labels() -> None:
    world = SimWorld(mobile_robot_scene())
    labels = GeomLabels.from_model(world.model)
    with CameraSensor(world.model, "camera", 160, 120) as cam:
        frame = cam.render(world.data, rgb=False)
    cls, inst = labels.pixel_labels(frame.segmentation)
    seen = set(np.unique(cls).tolist())
    assert CLASS_IDS["floor"] in seen and CLASS_IDS["wall"] in seen
    assert CLASS_IDS["robot"] not in seen  # the camera does not see its own body
    is_object = (cls >= CLASS_IDS["crate"]) & (cls <= CLASS_IDS["cone"])
    assert np.all((inst > 0) == is_object)
    pcls, pinst = labels.point_labels(frame.segmentation, frame.depth)
    assert len(pcls) == len(depth_to_points(frame.depth, cam.intrinsics))
    # every object class id maps to an object body
    for i, name in labels.instances.items():
        assert name.startswith("obj_") and i > 0


def _one_geom_world(geom: str) -> tuple[mujoco.MjModel, mujoco.MjData]:
    xml = f"""<mujoco><worldbody>
      <body name="obj_crate_0" pos="0.3 -0.2 0.5" euler="0.3 0.5 -0.7">{geom}</body>
    </worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def _local(data: mujoco.MjData, pts: np.ndarray) -> np.ndarray:
    return (pts - data.geom_xpos[0]) @ data.geom_xmat[0].reshape(3, 3)


def test_sdf_box_is_exact(rng: np.random.Generator) -> None:
    b = np.array([0.3, 0.2, 0.1])
    model, data = _one_geom_world(f'<geom type="box" size="{b[0]} {b[1]} {b[2]}"/>')
    sdf = SceneSDF(model, data, [0])
    pts = data.geom_xpos[0] + rng.uniform(-0.6, 0.6, (4000, 3))
    p = _local(data, pts)
    q = np.abs(p) - b
    expected = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)
    d, g = sdf.distance_and_gradient(pts)
    np.testing.assert_allclose(d, expected, atol=1e-12)
    inside = np.all(np.abs(p) < b, axis=1)
    assert inside.any() and (d[inside] < 0).all() and (d[~inside] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-9)
    # a face centre nudged out along its normal is at exactly the nudge
    face = data.geom_xpos[0] + data.geom_xmat[0].reshape(3, 3) @ np.array([0, 0, b[2] + 0.05])
    assert sdf.distance(face)[0] == pytest.approx(0.05)


@pytest.mark.parametrize(("geom", "exact"), [
    ('<geom type="sphere" size="0.25"/>', lambda p: np.linalg.norm(p, axis=1) - 0.25),
    ('<geom type="capsule" size="0.1 0.3"/>',
     lambda p: np.linalg.norm(p - np.c_[0 * p[:, :2], np.clip(p[:, 2], -0.3, 0.3)], axis=1)
     - 0.1),
    ('<geom type="cylinder" size="0.2 0.15"/>', None),
])
def test_sdf_primitives(geom: str, exact, rng: np.random.Generator) -> None:
    model, data = _one_geom_world(geom)
    sdf = SceneSDF(model, data, [0])
    pts = data.geom_xpos[0] + rng.uniform(-0.5, 0.5, (4000, 3))
    d, g = sdf.distance_and_gradient(pts)
    if exact is not None:
        np.testing.assert_allclose(d, exact(_local(data, pts)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-9)
    # gradient = finite difference of the distance (away from medial surfaces)
    h = 1e-6
    fd = np.stack([(sdf.distance(pts + h * e) - sdf.distance(pts - h * e)) / (2 * h)
                   for e in np.eye(3)], axis=1)
    agree = np.linalg.norm(fd - g, axis=1) < 1e-4
    assert agree.mean() > 0.98
    # stepping along -gradient by the distance lands on the surface (outside points)
    out = d > 0
    on_surface = sdf.distance(pts[out] - d[out, None] * g[out])
    assert np.abs(on_surface).max() < 1e-9


def test_sdf_scene_sign_and_planes() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams()))
    sdf = SceneSDF(world.model, world.data)
    assert sdf.skipped == []
    # inside the room near the floor: distance = height; below the floor: negative
    d = sdf.distance(np.array([[0.0, 0.0, 0.3], [0.0, 0.0, -0.2]]))
    np.testing.assert_allclose(d, [0.3, -0.2], atol=1e-12)
    # a point inside an object is negative
    crate = world.body_pose("obj_crate_0").position + np.array([0, 0, 0.1])
    assert sdf.distance(crate)[0] < 0
