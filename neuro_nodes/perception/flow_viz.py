"""Optical flow as an rgb8 image: the Middlebury colour wheel (Baker et al., IJCV 2011).

Hue encodes direction, saturation the magnitude relative to ``max_flow``: zero flow is
white, flow of ``max_flow`` or more px/s is the fully saturated wheel colour (beyond it the
colour is darkened to 75 %, as the Middlebury ``flowToColor`` does). With the image axes of
the optical frame (x right, y down), flow to the right is red, down is yellow-orange, left
is cyan and up is blue-violet. Pixels without an estimate (NaN) are black.

The wheel has 55 hues: red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11,
blue-magenta 13, magenta-red 6 (the reference ``makeColorwheel``).
"""

from __future__ import annotations

import numpy as np

_SEGMENTS = (15, 6, 4, 11, 13, 6)  # RY, YG, GC, CB, BM, MR


def color_wheel() -> np.ndarray:
    """The (55, 3) float wheel in [0, 255], in the reference's order (red first)."""
    ry, yg, gc, cb, bm, mr = _SEGMENTS
    rows = []
    ramp = lambda n: np.floor(255 * np.arange(n) / n)  # noqa: E731 - the reference's ramp
    rows.append(np.stack([np.full(ry, 255.0), ramp(ry), np.zeros(ry)], 1))
    rows.append(np.stack([255 - ramp(yg), np.full(yg, 255.0), np.zeros(yg)], 1))
    rows.append(np.stack([np.zeros(gc), np.full(gc, 255.0), ramp(gc)], 1))
    rows.append(np.stack([np.zeros(cb), 255 - ramp(cb), np.full(cb, 255.0)], 1))
    rows.append(np.stack([ramp(bm), np.zeros(bm), np.full(bm, 255.0)], 1))
    rows.append(np.stack([np.full(mr, 255.0), np.zeros(mr), 255 - ramp(mr)], 1))
    return np.concatenate(rows)


_WHEEL = color_wheel()


def flow_to_rgb(flow: np.ndarray, max_flow: float = 0.0) -> np.ndarray:
    """``flow`` (2, H, W) px/s -> (H, W, 3) uint8.

    ``max_flow`` (px/s) is the magnitude shown fully saturated; 0 takes the largest finite
    magnitude of this image (the reference's per-image normalisation).
    """
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"flow: expected shape (2, H, W), got {flow.shape}")
    if not np.isfinite(max_flow) or max_flow < 0:
        raise ValueError(f"max_flow: must be finite and >= 0, got {max_flow}")
    u, v = flow[0].astype(np.float64), flow[1].astype(np.float64)
    known = np.isfinite(u) & np.isfinite(v)
    u, v = np.where(known, u, 0.0), np.where(known, v, 0.0)
    mag = np.hypot(u, v)
    scale = max_flow if max_flow > 0 else float(mag.max(initial=0.0))
    rad = mag / scale if scale > 0 else np.zeros_like(mag)
    n = len(_WHEEL)
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]; -1 and 1 both mean "to the right"
    fk = (angle + 1) / 2 * (n - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % n
    frac = (fk - k0)[..., None]
    col = ((1 - frac) * _WHEEL[k0 % n] + frac * _WHEEL[k1]) / 255.0
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    rgb = np.floor(255 * col).astype(np.uint8)
    rgb[~known] = 0
    return rgb


__all__ = ["color_wheel", "flow_to_rgb"]
