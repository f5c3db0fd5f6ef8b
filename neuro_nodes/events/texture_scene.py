"""A textured plane moving in front of a camera: frames for the emulator, with exact flow.

The image at time t is the texture seen through the similarity transform
``p_tex = R(-θ(t)) (p - c - v t) + c`` (rotation ``θ(t) = ω t`` about the image centre
``c``, then translation ``v t``), so every pixel moves with the flow
``u(p) = v + ω × (p - c - v t)`` in px/s. Texture: smooth random blobs plus edges, seeded.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from neuro_nodes.core.params import param


@dataclasses.dataclass(frozen=True)
class TextureSceneParams:
    width: int = param(346, "Image width (px)", min=16, max=4096)
    height: int = param(260, "Image height (px)", min=16, max=4096)
    velocity_x: float = param(120.0, "Horizontal image velocity (px/s)", min=-1e4, max=1e4)
    velocity_y: float = param(40.0, "Vertical image velocity (px/s)", min=-1e4, max=1e4)
    angular_velocity: float = param(0.0, "In-plane rotation rate (rad/s)", min=-50.0, max=50.0)
    texture_scale: float = param(6.0, "Blob size of the texture (px)", min=0.5, max=100.0)
    seed: int = param(0, "Texture seed", min=0)


class TextureScene:
    """Renders ``frame(t_s)`` (HxW float32 in [0, 1]) and ``flow(t_s)`` (2xHxW px/s)."""

    def __init__(self, params: TextureSceneParams = TextureSceneParams()) -> None:
        self.params = params
        rng = np.random.default_rng(params.seed)
        side = 2 * max(params.width, params.height)  # room to move before wrapping
        noise = ndimage.gaussian_filter(rng.random((side, side)), params.texture_scale)
        noise = (noise - noise.min()) / (np.ptp(noise) + 1e-12)
        edges = (ndimage.gaussian_filter(rng.random((side, side)), 4 * params.texture_scale)
                 > 0.5).astype(np.float32)
        self._texture = (0.15 + 0.6 * noise + 0.25 * edges).astype(np.float32)
        ys, xs = np.mgrid[0:params.height, 0:params.width].astype(np.float32)
        self._xs, self._ys = xs, ys
        self._centre = np.array([(params.width - 1) / 2, (params.height - 1) / 2], np.float32)

    def _texture_coords(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        theta = p.angular_velocity * t_s
        dx = self._xs - self._centre[0] - p.velocity_x * t_s
        dy = self._ys - self._centre[1] - p.velocity_y * t_s
        c, s = np.cos(-theta), np.sin(-theta)
        return c * dx - s * dy + self._centre[0], s * dx + c * dy + self._centre[1]

    def frame(self, t_s: float) -> np.ndarray:
        u, v = self._texture_coords(t_s)
        return ndimage.map_coordinates(self._texture, [v, u], order=1, mode="grid-wrap")

    def flow(self, t_s: float) -> np.ndarray:
        """Image-plane velocity of every pixel at ``t_s`` (px/s), channels (u, v)."""
        p = self.params
        rx = self._xs - self._centre[0] - p.velocity_x * t_s
        ry = self._ys - self._centre[1] - p.velocity_y * t_s
        w = p.angular_velocity
        return np.stack([p.velocity_x - w * ry, p.velocity_y + w * rx]).astype(np.float32)
