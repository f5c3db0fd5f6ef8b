"""render_polarity: exact colours, a uint8 frame (no float frame of the full sensor)."""

from __future__ import annotations

import numpy as np

from neuro_nodes.events.render import RenderParams, render_polarity


def test_colours_mix_by_polarity_share_on_a_uint8_frame() -> None:
    params = RenderParams(on_color=(255, 0, 0), off_color=(0, 0, 255), background=(7, 8, 9))
    x = np.array([0, 1, 1, 1, 1], np.uint16)
    y = np.array([0, 2, 2, 2, 2], np.uint16)
    p = np.array([1, 1, 0, 0, 0], np.uint8)  # (1, 2): one ON of four
    image = render_polarity(x, y, p, 4, 3, params)
    assert image.dtype == np.uint8 and image.shape == (3, 4, 3)
    assert image[0, 0].tolist() == [255, 0, 0]
    assert image[2, 1].tolist() == [64, 0, 191]  # 0.25 * 255 = 63.75, 0.75 * 255 = 191.25
    untouched = np.ones((3, 4), bool)
    untouched[0, 0] = untouched[2, 1] = False
    assert (image[untouched] == [7, 8, 9]).all()


def test_no_events_give_the_background() -> None:
    empty = np.zeros(0, np.uint16)
    image = render_polarity(empty, empty, empty.astype(np.uint8), 5, 2)
    assert image.shape == (2, 5, 3) and not image.any()
