"""RGB, depth and segmentation images of a MuJoCo camera (``mujoco.Renderer``), and its
pinhole intrinsics.

Image conventions (ROS ``sensor_msgs/Image``/``CameraInfo``, OpenCV):

* row 0 is the top of the image; pixel ``(u, v)`` = (column, row) has its centre at integer
  coordinates, so the principal point of a symmetric MuJoCo camera is
  ``((W - 1) / 2, (H - 1) / 2)``; pixels are square: ``fy = (H / 2) / tan(fovy / 2)``, ``fx = fy``.
* RGB: ``uint8`` HxWx3 (``rgb8``).
* depth: ``float32`` HxW, metres along the optical axis (z-depth, ``32FC1``); pixels that see
  no geometry (sky) are ``+inf`` (REP-118: too far).
* segmentation: ``int32`` HxW geom id, ``-1`` where no geom is seen.

Only cameras defined by ``fovy`` are supported (not MuJoCo's ``sensorsize``/``focal`` form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

_GEOM = int(mujoco.mjtObj.mjOBJ_GEOM)


def camera_index(model: mujoco.MjModel, camera: str | int) -> int:
    if isinstance(camera, str):
        cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cid < 0:
            raise KeyError(f"no camera named {camera!r}")
        return int(cid)
    if not 0 <= int(camera) < model.ncam:
        raise KeyError(f"camera id {camera} out of range")
    return int(camera)


def intrinsics(model: mujoco.MjModel, camera: str | int, width: int,
               height: int) -> tuple[float, float, float, float]:
    """Pinhole ``(fx, fy, cx, cy)`` in pixels of a MuJoCo camera rendered at ``width`` x
    ``height`` (see the module docstring for the pixel convention)."""
    c = camera_index(model, camera)
    if np.any(model.cam_sensorsize[c] > 0):
        raise NotImplementedError("cameras defined by sensorsize/focal are not supported")
    fy = 0.5 * height / math.tan(math.radians(float(model.cam_fovy[c])) / 2)
    return fy, fy, (width - 1) / 2.0, (height - 1) / 2.0


def camera_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """The 3x3 ``K`` of ``CameraInfo``."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class CameraFrame:
    """Images rendered at one instant (any of them None when not requested)."""

    t_ns: int
    rgb: np.ndarray | None
    depth: np.ndarray | None
    segmentation: np.ndarray | None


class CameraSensor:
    """Renders one named camera at a fixed size; call :meth:`close` (or use ``with``)."""

    def __init__(self, model: mujoco.MjModel, camera: str | int, width: int = 346,
                 height: int = 260) -> None:
        self.model = model
        self.camera_id = camera_index(model, camera)
        self.camera = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, self.camera_id)
        self.width, self.height = int(width), int(height)
        self.intrinsics = intrinsics(model, self.camera_id, self.width, self.height)
        # this renderer's offscreen buffer is only as large as its images: llvmpipe clears
        # the whole buffer on every render, and the scenes' 1280x960 default costs ~7 % of
        # a 346x260 frame (the images are identical)
        vis = model.vis.global_
        saved = vis.offwidth, vis.offheight
        vis.offwidth, vis.offheight = self.width, self.height
        try:
            self._renderer = mujoco.Renderer(model, self.height, self.width)
        except Exception as err:  # no GL context: say which backends to install
            from sim.gl import no_backend_error

            raise no_backend_error(err) from err
        finally:
            vis.offwidth, vis.offheight = saved

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name of the camera matrix
        return camera_matrix(*self.intrinsics)

    @property
    def far(self) -> float:
        return float(self.model.vis.map.zfar * self.model.stat.extent)

    def _update(self, data: mujoco.MjData) -> None:
        self._renderer.update_scene(data, camera=self.camera_id)

    def _rgb(self) -> np.ndarray:
        self._renderer.disable_depth_rendering()
        self._renderer.disable_segmentation_rendering()
        return self._renderer.render()

    def _depth(self) -> np.ndarray:
        self._renderer.enable_depth_rendering()
        depth = self._renderer.render()
        self._renderer.disable_depth_rendering()
        depth[depth >= self.far * (1 - 1e-5)] = np.inf
        return depth

    def _segmentation(self) -> np.ndarray:
        self._renderer.enable_segmentation_rendering()
        seg = self._renderer.render()
        self._renderer.disable_segmentation_rendering()
        return np.where(seg[..., 1] == _GEOM, seg[..., 0], -1).astype(np.int32)

    def rgb(self, data: mujoco.MjData) -> np.ndarray:
        self._update(data)
        return self._rgb()

    def depth(self, data: mujoco.MjData) -> np.ndarray:
        self._update(data)
        return self._depth()

    def segmentation(self, data: mujoco.MjData) -> np.ndarray:
        self._update(data)
        return self._segmentation()

    def render(self, data: mujoco.MjData, *, rgb: bool = True, depth: bool = True,
               segmentation: bool = True) -> CameraFrame:
        """The requested images of one scene update (one instant)."""
        self._update(data)
        return CameraFrame(
            t_ns=round(data.time * 1e9),
            rgb=self._rgb() if rgb else None,
            depth=self._depth() if depth else None,
            segmentation=self._segmentation() if segmentation else None,
        )

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> CameraSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["CameraFrame", "CameraSensor", "camera_index", "camera_matrix", "intrinsics"]
