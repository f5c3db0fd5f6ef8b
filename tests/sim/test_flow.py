"""Ground-truth optical flow: warping frame t by the flow reproduces frame t + dt."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sim.ground_truth.flow import FlowGroundTruth
from sim.ground_truth.labels import GeomLabels
from sim.scenes.camera_rig import CameraRigParams, camera_rig_scene
from sim.scenes.mobile_robot import cmd_vel_to_ctrl, mobile_robot_scene
from sim.sensors.camera import CameraSensor
from sim.world import SimWorld

W, H = 173, 130  # half DAVIS346: fast, still a few px of motion


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64).mean(axis=-1)


def _photometric(world: SimWorld, camera: str, t0: float, dt: float,
                 mask_fn=None) -> dict[str, float]:
    """Mean |I1(p + s F dt) - I0(p)| for flow scales s, over pixels staying in view."""
    with CameraSensor(world.model, camera, W, H) as sensor:
        gt = FlowGroundTruth(world, camera, sensor=sensor)
        world.step_until(t0)
        f0 = gt.compute(dt=dt, rgb=True)
        i0 = _gray(f0.frame.rgb)
        world.step_until(t0 + dt)
        assert world.time == pytest.approx(t0 + dt)
        i1 = _gray(sensor.rgb(world.data))
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    mask = np.ones((H, W), bool) if mask_fn is None else mask_fn(f0.frame)
    out = {"disp_px": float(np.linalg.norm(f0.flow[mask], axis=-1).mean() * dt)}
    for scale in (0.0, 0.85, 1.0, 1.15):
        uu = u + scale * dt * f0.flow[..., 0]
        vv = v + scale * dt * f0.flow[..., 1]
        warped = ndimage.map_coordinates(i1, [vv, uu], order=1, mode="nearest")
        inside = mask & (uu >= 1) & (uu <= W - 2) & (vv >= 1) & (vv <= H - 2)
        out[f"err_{scale}"] = float(np.abs(warped - i0)[inside].mean())
    return out


def _assert_flow_explains_motion(res: dict[str, float], min_disp: float = 1.0) -> None:
    print(res)  # photometric error (0..255 gray levels): shown with pytest -s
    assert res["disp_px"] > min_disp
    assert res["err_1.0"] < 0.3 * res["err_0.0"]
    # the ground truth is the best of nearby flow fields
    assert res["err_1.0"] < res["err_0.85"] and res["err_1.0"] < res["err_1.15"]


@pytest.mark.parametrize(("motion", "backdrop", "params"), [
    ("pure_rotation", "wall", {"angular_speed": 0.6}),
    ("pure_rotation", "room", {"angular_speed": 0.6}),
    ("pure_translation", "room", {"linear_speed": 1.5}),
    ("mixed", "room", {"linear_speed": 1.0, "angular_speed": 0.5}),
])
def test_camera_rig_flow_warps_frames(motion: str, backdrop: str, params: dict) -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(motion=motion, backdrop=backdrop,
                                                      timestep=0.001, **params)))
    _assert_flow_explains_motion(_photometric(world, "camera", 0.3, 0.03))


def test_moving_object_flow_warps_frames() -> None:
    params = CameraRigParams(motion="static", n_moving=1, moving_speed=1.0, start=(0, 0, 0.8),
                             look_at=(1.1, 0, 0.2), timestep=0.001)
    world = SimWorld(camera_rig_scene(params))
    labels = GeomLabels.from_model(world.model)
    moving = max(labels.instances)  # the mocap object is the last object body

    def on_object(frame) -> np.ndarray:  # interior pixels (edges mix object and background)
        mask = labels.pixel_labels(frame.segmentation)[1] == moving
        return ndimage.binary_erosion(mask, iterations=2)

    res = _photometric(world, "camera", 0.2, 0.02, on_object)
    _assert_flow_explains_motion(res)


def test_static_camera_sees_zero_flow_off_moving_objects() -> None:
    params = CameraRigParams(motion="static", n_moving=1, start=(0, 0, 0.8),
                             look_at=(1.1, 0, 0.2))
    world = SimWorld(camera_rig_scene(params))
    with CameraSensor(world.model, "camera", W, H) as sensor:
        world.step_until(0.2)
        f = FlowGroundTruth(world, "camera", sensor=sensor).compute()
    body = world.model.geom_bodyid[np.maximum(f.frame.segmentation, 0)]
    static = (f.frame.segmentation < 0) | (world.model.body_mocapid[body] < 0)
    assert np.abs(f.flow[static]).max() < 1e-6
    assert np.abs(f.flow[~static]).max() > 10


def test_robot_camera_flow_while_turning() -> None:
    world = SimWorld(mobile_robot_scene())
    world.set_ctrl(cmd_vel_to_ctrl(0.2, 0.8))
    world.step_until(0.8)  # steady turning
    _assert_flow_explains_motion(_photometric(world, "camera", 0.8, 0.03))


def test_instantaneous_flow_is_the_small_dt_limit() -> None:
    world = SimWorld(camera_rig_scene(CameraRigParams(motion="mixed", n_moving=2)))
    with CameraSensor(world.model, "camera", W, H) as sensor:
        gt = FlowGroundTruth(world, "camera", sensor=sensor)
        world.step_until(0.5)
        inst = gt.compute(dt=0.0).flow
        fin = gt.compute(dt=1e-5).flow
    scale = np.abs(inst).max()
    assert scale > 10
    np.testing.assert_allclose(fin, inst, atol=1e-3 * scale)
