"""A camera's offscreen buffer is its own size, and its images are those of the scene's
default 1280x960 buffer, pixel for pixel."""

from __future__ import annotations

import mujoco
import numpy as np

from sim.scenes import make_scene
from sim.sensors.camera import CameraSensor
from sim.world import SimWorld


def test_offscreen_buffer_is_the_camera_size_and_images_are_unchanged() -> None:
    world = SimWorld(make_scene("mobile_robot"))
    model = world.model
    default = mujoco.Renderer(model, 260, 346)  # the scene's own 1280x960 buffer
    assert default._mjr_context.offWidth == model.vis.global_.offwidth == 1280
    world.set_ctrl(np.array([1.0, 1.5]))
    with CameraSensor(model, "camera", 346, 260) as cam:
        assert (cam._renderer._mjr_context.offWidth, cam._renderer._mjr_context.offHeight) == (
            346, 260)
        assert model.vis.global_.offwidth == 1280  # the model is left as it was
        cid = cam.camera_id
        for _ in range(5):
            world.step(50)
            default.update_scene(world.data, camera=cid)
            np.testing.assert_array_equal(cam.rgb(world.data), default.render())
            depth = cam.depth(world.data)
            default.enable_depth_rendering()
            ref = default.render()
            default.disable_depth_rendering()
            seen = np.isfinite(depth)
            np.testing.assert_array_equal(depth[seen], ref[seen])
    default.close()


def test_camera_larger_than_the_scene_buffer() -> None:
    world = SimWorld(make_scene("mobile_robot"))
    with CameraSensor(world.model, "camera", 1600, 1200) as cam:
        assert cam.rgb(world.data).shape == (1200, 1600, 3)
