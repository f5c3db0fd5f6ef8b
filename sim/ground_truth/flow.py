"""Dense ground-truth optical flow (px/s) of a camera, from depth, segmentation and twists.

Per pixel ``(u, v)`` with z-depth ``Z`` and geom (hence body ``b``): back-project to the
optical-frame ray ``x = ((u - cx)/fx, (v - cy)/fy, 1)`` and the world point
``P = p_c + Z R_c x``. The point moves with its body (world twist ``(v_b, w_b)`` at the
body origin ``o_b``), the camera with its own twist ``(v_c, w_c)``:

* ``dt == 0`` (instantaneous, exact derivative): the point's velocity in the optical frame
  is ``X' = R_c^T (v_b + w_b x (P - o_b) - v_c) - Z (w_c' x x)`` (``w_c'`` = ``R_c^T w_c``)
  and the flow is ``(fx (X'_x - x_x X'_z) / Z, fy (X'_y - x_y X'_z) / Z)``.
* ``dt > 0`` (finite): the point and the camera move rigidly for ``dt`` at their constant
  twists (``P' = o_b + v_b dt + Exp(w_b dt)(P - o_b)``, ``R_c' = Exp(w_c dt) R_c``,
  ``p_c' = p_c + v_c dt``); the flow is the re-projected displacement divided by ``dt``:
  what warping a frame at ``t`` onto the frame at ``t + dt`` needs.

Pixels that see no geometry (``Z = +inf``, the sky) are points at infinity: only the camera
rotation moves them, and the formulas above are evaluated with inverse depth ``1/Z = 0``.
Static geometry belongs to the world body (zero twist). Flow is ``float32`` HxWx2 (``32FC2``,
channel 0 = u along columns, 1 = v along rows); pixels whose point would end behind the
camera get NaN (finite ``dt`` only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.sensors.camera import CameraFrame, CameraSensor
from sim.sensors.pointcloud import pixel_grid
from sim.spatial import Pose, Twist, quat_from_rotvec, quat_to_mat
from sim.world import SimWorld

Intrinsics = tuple[float, float, float, float]


def optical_flow(depth: np.ndarray, segmentation: np.ndarray, intrinsics: Intrinsics,
                 camera_pose: Pose, camera_twist: Twist, geom_body: np.ndarray,
                 body_pos: np.ndarray, body_lin: np.ndarray, body_ang: np.ndarray, *,
                 dt: float = 0.0) -> np.ndarray:
    """Flow (HxWx2 float32, px/s) of an optical-frame camera; see the module docstring.

    ``geom_body`` maps geom id -> body id; ``body_pos``/``body_lin``/``body_ang`` (nbody x 3)
    are the bodies' world origins and world twists (``SimWorld.body_twists``).
    """
    fx, fy, cx, cy = intrinsics
    h, w = depth.shape
    u, v = pixel_grid(w, h)
    ray = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1)  # HxWx3
    z = depth.astype(np.float64)
    finite = np.isfinite(z) & (z > 0)
    inv_z = np.where(finite, 1.0 / np.where(finite, z, 1.0), 0.0)
    seg = np.asarray(segmentation)
    body = np.where((seg >= 0) & finite, np.asarray(geom_body)[np.maximum(seg, 0)], 0)
    rc = camera_pose.rotation
    pc = camera_pose.position
    ob, vb, wb = body_pos[body], body_lin[body], body_ang[body]  # HxWx3 each
    d_world = ray @ rc.T  # R_c x: world direction of the ray, per unit depth

    if dt <= 0.0:
        # q = X'/Z = inv_z R_c^T (v_b + w_b x (P - o_b) - v_c) - w_c' x x, with
        # inv_z (P - o_b) = d_world + inv_z (p_c - o_b)
        rel = np.cross(wb, d_world + inv_z[..., None] * (pc - ob))
        lin = inv_z[..., None] * (vb - camera_twist.linear) + rel
        q = lin @ rc - np.cross(rc.T @ camera_twist.angular, ray)
        flow = np.stack([fx * (q[..., 0] - ray[..., 0] * q[..., 2]),
                         fy * (q[..., 1] - ray[..., 1] * q[..., 2])], axis=-1)
        return flow.astype(np.float32)

    # finite motion, homogeneous in inverse depth: s = inv_z (P' - p_c')
    rot_b = quat_to_mat(quat_from_rotvec(body_ang * dt))[body]  # HxWx3x3
    arm = d_world + inv_z[..., None] * (pc - ob)  # inv_z (P - o_b)
    s = (inv_z[..., None] * (ob + vb * dt - pc - camera_twist.linear * dt)
         + np.einsum("...ij,...j->...i", rot_b, arm))
    rc_new = quat_to_mat(quat_from_rotvec(camera_twist.angular * dt)) @ rc
    xc = s @ rc_new  # R_c'^T s
    zc = xc[..., 2]
    ahead = zc > 1e-12
    safe = np.where(ahead, zc, 1.0)
    u1 = fx * xc[..., 0] / safe + cx
    v1 = fy * xc[..., 1] / safe + cy
    flow = np.stack([(u1 - u) / dt, (v1 - v) / dt], axis=-1)
    flow[~ahead] = np.nan
    return flow.astype(np.float32)


@dataclass(frozen=True)
class FlowFrame:
    """Rendered images at one instant and the flow computed from them."""

    t_ns: int
    flow: np.ndarray
    frame: CameraFrame


class FlowGroundTruth:
    """Renders depth and segmentation of a world's camera and computes its flow."""

    def __init__(self, world: SimWorld, camera: str, width: int = 346, height: int = 260,
                 sensor: CameraSensor | None = None) -> None:
        self.world = world
        self.camera = camera
        self.sensor = sensor or CameraSensor(world.model, camera, width, height)

    def compute(self, *, dt: float = 0.0, rgb: bool = False) -> FlowFrame:
        """Flow at the world's current time (``dt``: see :func:`optical_flow`)."""
        w = self.world
        frame = self.sensor.render(w.data, rgb=rgb, depth=True, segmentation=True)
        assert frame.depth is not None and frame.segmentation is not None
        lin, ang = w.body_twists()
        flow = optical_flow(frame.depth, frame.segmentation, self.sensor.intrinsics,
                            w.camera_pose(self.camera), w.camera_twist(self.camera),
                            w.model.geom_bodyid, w.data.xpos.copy(), lin, ang, dt=dt)
        return FlowFrame(frame.t_ns, flow, frame)

    def close(self) -> None:
        self.sensor.close()


__all__ = ["FlowFrame", "FlowGroundTruth", "optical_flow"]
