"""Render events as a colour image for people (RViz, Foxglove).

Each pixel shows the polarity of its latest events in the window: ON in
``on_color``, OFF in ``off_color``, both mixed in proportion, on ``background``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuro_nodes.core.params import param


@dataclasses.dataclass(frozen=True)
class RenderParams:
    on_color: tuple[int, ...] = param((255, 64, 64), "RGB colour of ON events")
    off_color: tuple[int, ...] = param((64, 128, 255), "RGB colour of OFF events")
    background: tuple[int, ...] = param((0, 0, 0), "RGB colour of pixels without events")

    def validate(self) -> None:
        for name in ("on_color", "off_color", "background"):
            value = getattr(self, name)
            if len(value) != 3 or not all(0 <= int(c) <= 255 for c in value):
                raise ValueError(f"{name}: expected three values in [0, 255], got {list(value)}")


def render_polarity(x: np.ndarray, y: np.ndarray, p: np.ndarray, width: int, height: int,
                    params: RenderParams = RenderParams()) -> np.ndarray:
    """HxWx3 uint8 image of events (x, y, polarity); coordinates must be in range."""
    flat = y.astype(np.int64) * width + x.astype(np.int64)
    on = np.bincount(flat[p > 0], minlength=width * height)
    total = np.bincount(flat, minlength=width * height)
    # uint8 frame; colours are computed in float only for the pixels that have events
    image = np.empty((width * height, 3), dtype=np.uint8)
    image[:] = np.asarray(params.background, np.float32).round().astype(np.uint8)
    hit = total > 0
    share_on = (on[hit] / total[hit])[:, None].astype(np.float32)
    image[hit] = (share_on * np.asarray(params.on_color, np.float32) + (1.0 - share_on)
                  * np.asarray(params.off_color, np.float32)).round().astype(np.uint8)
    return image.reshape(height, width, 3)
