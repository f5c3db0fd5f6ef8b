"""The Middlebury colour wheel: directions, magnitudes, unknown pixels, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_nodes.perception.flow_viz import color_wheel, flow_to_rgb


def one_pixel(u: float, v: float, max_flow: float = 1.0) -> tuple[int, int, int]:
    return tuple(int(c) for c in flow_to_rgb(np.array([[[u]], [[v]]]), max_flow)[0, 0])


def test_wheel_is_the_reference_55_hues() -> None:
    wheel = color_wheel()
    assert wheel.shape == (55, 3)
    # segment starts of makeColorwheel: red, yellow, green, cyan, blue, magenta
    for k, rgb in ((0, (255, 0, 0)), (15, (255, 255, 0)), (21, (0, 255, 0)),
                   (25, (0, 255, 255)), (36, (0, 0, 255)), (49, (255, 0, 255))):
        assert tuple(wheel[k]) == rgb, k


def test_directions_in_optical_axes_and_zero_is_white() -> None:
    assert one_pixel(1, 0) == (255, 0, 0)  # right: red
    assert one_pixel(-1, 0) == (0, 209, 255)  # left: hue 27, cyan-blue
    assert one_pixel(0, 1) == (255, 229, 0)  # down: hue 13.5, yellow-orange
    assert one_pixel(0, -1) == (88, 0, 255)  # up: hue 40.5, blue-violet
    assert one_pixel(0, 0) == (255, 255, 255)


def test_magnitude_sets_saturation_and_beyond_max_darkens() -> None:
    half, full, over = one_pixel(0.5, 0), one_pixel(1, 0), one_pixel(2, 0)
    assert half == (255, 127, 127)  # 1 - 0.5 (1 - 0) = 0.5 -> floor(127.5)
    assert full == (255, 0, 0)
    assert over == (191, 0, 0)  # 0.75 x 255 = 191.25
    # max_flow 0: the largest magnitude of the image is fully saturated
    img = flow_to_rgb(np.array([[[10.0, 5.0]], [[0.0, 0.0]]]))
    assert tuple(img[0, 0]) == (255, 0, 0) and tuple(img[0, 1]) == (255, 127, 127)


def test_nan_is_black_and_other_pixels_unaffected() -> None:
    flow = np.zeros((2, 4, 5), np.float32)
    flow[0, 1, 2] = np.nan
    flow[1, 3, 4] = np.inf
    img = flow_to_rgb(flow, 3.0)
    assert img.shape == (4, 5, 3) and img.dtype == np.uint8
    assert tuple(img[1, 2]) == (0, 0, 0) and tuple(img[3, 4]) == (0, 0, 0)
    assert (img[0] == 255).all()
    assert (flow_to_rgb(np.full((2, 3, 3), np.nan)) == 0).all()  # all unknown: no division


@pytest.mark.parametrize("shape", [(3, 4, 4), (4, 4), (2, 4)])
def test_bad_shape_is_refused_with_the_shape(shape) -> None:
    with pytest.raises(ValueError, match=r"flow: expected shape \(2, H, W\)"):
        flow_to_rgb(np.zeros(shape))


def test_bad_max_flow_is_refused() -> None:
    with pytest.raises(ValueError, match="max_flow"):
        flow_to_rgb(np.zeros((2, 2, 2)), -1.0)
