"""Event representations: counts, time surfaces, voxel grids, warping, IWE and contrast."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.representations import (
    count_image,
    image_of_warped_events,
    image_of_warped_events_torch,
    iwe_gradient_magnitude,
    iwe_variance,
    time_surface,
    voxel_grid,
    voxel_grid_torch,
    warp_events,
    warp_events_rotation,
)

W, H = 40, 30


def random_events(seed: int, n: int = 3000, width: int = W, height: int = H) -> EventArray:
    rng = np.random.default_rng(seed)
    return EventArray(
        np.sort(rng.integers(1_000_000, 51_000_000, n)),
        rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n),
        width, height,
    )


def one_event(t: int, x: int, y: int, p: int = 1) -> EventArray:
    return EventArray(np.array([t]), np.array([x]), np.array([y]), np.array([p]), W, H)


# ---------------------------------------------------------------------------- counts
def test_count_image_sums_and_channels() -> None:
    ev = random_events(0)
    counts = count_image(ev)
    assert counts.shape == (2, H, W) and counts.dtype == np.float32
    assert counts.sum() == len(ev)
    assert counts[1].sum() == ev.on_count and counts[0].sum() == ev.off_count
    flat = count_image(ev, polarity_channels=False)
    assert flat.shape == (H, W)
    np.testing.assert_array_equal(flat, counts.sum(0))
    i = 17
    assert counts[ev.p[i], ev.y[i], ev.x[i]] >= 1


# ---------------------------------------------------------------------------- time surface
def test_time_surface_value_and_decay() -> None:
    t_ref = 10_000_000
    ev = EventArray.concatenate([one_event(t_ref - 2_000_000, 3, 4, 1), one_event(t_ref, 5, 6, 0)])
    tau = 0.004
    ts = time_surface(ev, t_ref, tau)
    assert ts.shape == (2, H, W)
    assert ts[0, 6, 5] == pytest.approx(1.0)
    assert ts[1, 4, 3] == pytest.approx(np.exp(-0.002 / tau), rel=1e-6)
    assert np.count_nonzero(ts) == 2
    # Later events are ignored; the latest earlier event of a pixel counts.
    ev2 = EventArray.concatenate([
        one_event(1_000_000, 3, 4), one_event(3_000_000, 3, 4), one_event(t_ref + 5, 3, 4)
    ])
    merged = time_surface(ev2, t_ref, tau, polarity_channels=False)
    assert merged.shape == (H, W)
    assert merged[4, 3] == pytest.approx(np.exp(-0.007 / tau), rel=1e-6)
    # Against a per-pixel reference on random data.
    ev3 = random_events(1)
    got = time_surface(ev3, 30_000_000, 0.01)
    ref = np.zeros((2, H, W))
    for t, x, y, p in zip(ev3.t, ev3.x, ev3.y, ev3.p, strict=True):
        if t <= 30_000_000:
            ref[p, y, x] = np.exp(-(30_000_000 - int(t)) * 1e-9 / 0.01)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------------------- voxel grid
def test_voxel_grid_preserves_signed_sum_and_matches_torch() -> None:
    ev = random_events(2)
    grid = voxel_grid(ev, 5)
    assert grid.shape == (5, H, W) and grid.dtype == np.float32
    signed = int(ev.on_count) - int(ev.off_count)
    assert grid.sum(dtype=np.float64) == pytest.approx(signed, abs=1e-3)
    unsigned = voxel_grid(ev, 5, polarity_signed=False)
    assert unsigned.sum(dtype=np.float64) == pytest.approx(len(ev), rel=1e-6)
    np.testing.assert_allclose(unsigned.sum(0), count_image(ev, polarity_channels=False),
                               atol=1e-4)
    via_torch = voxel_grid(ev, 5, as_torch=True)
    assert isinstance(via_torch, torch.Tensor)
    np.testing.assert_allclose(via_torch.numpy(), grid, atol=1e-5)
    cols = ev.to_torch()
    direct = voxel_grid_torch(cols["t"], cols["x"], cols["y"], cols["p"], 5, W, H)
    np.testing.assert_allclose(direct.numpy(), grid, atol=1e-5)


def test_voxel_grid_bilinear_in_time() -> None:
    t0, t1, bins = 0, 4_000_000, 5  # bin centres every 1 ms
    events = EventArray.concatenate([
        one_event(t0, 1, 1, 1),  # first bin centre
        one_event(2_000_000, 2, 2, 1),  # centre of bin 2
        one_event(2_500_000, 3, 3, 0),  # halfway between bins 2 and 3, OFF
        one_event(t1, 4, 4, 1),  # last bin centre
        one_event(3_250_000, 5, 5, 1),  # 25 % of the way from bin 3 to bin 4
        one_event(t1 + 1, 6, 6, 1),  # outside the window: ignored
    ])
    grid = voxel_grid(events, bins, t0, t1)
    assert grid[0, 1, 1] == 1.0 and grid[:, 1, 1].sum() == 1.0
    assert grid[2, 2, 2] == 1.0 and grid[:, 2, 2].sum() == 1.0
    assert grid[2, 3, 3] == pytest.approx(-0.5) and grid[3, 3, 3] == pytest.approx(-0.5)
    assert grid[4, 4, 4] == 1.0 and grid[:, 4, 4].sum() == 1.0
    assert grid[3, 5, 5] == pytest.approx(0.75) and grid[4, 5, 5] == pytest.approx(0.25)
    assert grid[:, 6, 6].sum() == 0.0
    # Degenerate window: all events in the first bin; a single bin holds everything.
    same = voxel_grid(one_event(7, 1, 2), 3)
    assert same[0, 2, 1] == 1.0 and same.sum() == 1.0
    assert voxel_grid(random_events(3), 1).sum() == pytest.approx(
        float(count_image(random_events(3))[1].sum() - count_image(random_events(3))[0].sum()),
        abs=1e-3,
    )
    assert voxel_grid(EventArray.empty(W, H), 4).shape == (4, H, W)


# ---------------------------------------------------------------------------- warping and IWE
def test_iwe_zero_flow_equals_count_image() -> None:
    ev = random_events(4)
    t_s = (ev.t - ev.t[0]) * 1e-9
    xw, yw = warp_events(ev.x, ev.y, t_s, np.zeros(2), 0.02)
    expected = count_image(ev, polarity_channels=False)
    np.testing.assert_allclose(image_of_warped_events(xw, yw, W, H), expected, atol=1e-5)
    np.testing.assert_allclose(
        image_of_warped_events(xw, yw, W, H, bilinear=False), expected, atol=1e-5
    )
    iwe_t = image_of_warped_events_torch(torch.as_tensor(xw), torch.as_tensor(yw), W, H)
    np.testing.assert_allclose(iwe_t.numpy(), expected, atol=1e-9)


def test_iwe_bilinear_splat_and_dropping() -> None:
    iwe = image_of_warped_events(np.array([2.25, -0.5, 39.5]), np.array([3.5, 1.0, 29.0]),
                                 W, H, weights=np.array([2.0, 1.0, 1.0]))
    assert iwe[3, 2] == pytest.approx(2 * 0.75 * 0.5)
    assert iwe[3, 3] == pytest.approx(2 * 0.25 * 0.5)
    assert iwe[4, 2] == pytest.approx(2 * 0.75 * 0.5)
    assert iwe[4, 3] == pytest.approx(2 * 0.25 * 0.5)
    assert iwe[1, 0] == pytest.approx(0.5)  # the other half fell off the left edge
    assert iwe[29, 39] == pytest.approx(0.5)  # ... and off the right edge
    assert iwe.sum() == pytest.approx(3.0)
    xt, yt = torch.tensor([2.25, -0.5, 39.5]), torch.tensor([3.5, 1.0, 29.0])
    it = image_of_warped_events_torch(xt, yt, W, H, weights=torch.tensor([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(it.numpy(), iwe, atol=1e-6)


def test_warp_flow_forms() -> None:
    x, y = np.array([10.0, 20.0]), np.array([5.0, 6.0])
    t = np.array([0.0, 0.1])
    xw, yw = warp_events(x, y, t, np.array([10.0, -20.0]), 0.1)
    np.testing.assert_allclose(xw, [11.0, 20.0])
    np.testing.assert_allclose(yw, [3.0, 6.0])
    per_event = warp_events(x, y, t, np.array([[10.0, -20.0], [5.0, 5.0]]), 0.0)
    np.testing.assert_allclose(per_event[0], [10.0, 19.5])
    field = np.zeros((2, H, W))
    field[0, 5, 10] = 30.0
    dense = warp_events(x, y, t, field, 0.1)
    np.testing.assert_allclose(dense[0], [13.0, 20.0])
    disp = warp_events(x, y, t, np.array([1.0, -2.0]), 0.1, displacement_dt_s=0.1)
    np.testing.assert_allclose(disp[0], xw)
    np.testing.assert_allclose(disp[1], yw)
    with pytest.raises(ValueError):
        warp_events(x, y, t, np.zeros(3), 0.0)


def moving_dots(flow: tuple[float, float], seed: int = 5) -> tuple[np.ndarray, ...]:
    """Events of 25 random dots translating with ``flow`` px/s for 50 ms."""
    rng = np.random.default_rng(seed)
    dots = rng.uniform([8, 8], [W - 8, H - 8], (25, 2))
    k = rng.integers(0, 25, 4000)
    t = rng.uniform(0.0, 0.05, 4000)
    x = np.round(dots[k, 0] + flow[0] * t)
    y = np.round(dots[k, 1] + flow[1] * t)
    return x, y, t


def test_contrast_is_maximal_at_the_true_flow() -> None:
    true = (100.0, -60.0)
    x, y, t = moving_dots(true)
    candidates = np.arange(-160.0, 161.0, 20.0)
    best: dict[str, tuple[float, float]] = {}
    for name, objective in (("var", iwe_variance), ("grad", iwe_gradient_magnitude)):
        scores = np.array([
            [objective(image_of_warped_events(*warp_events(x, y, t, np.array([vx, vy]), 0.0),
                                              W, H)) for vx in candidates]
            for vy in candidates
        ])
        iy, ix = np.unravel_index(np.argmax(scores), scores.shape)
        best[name] = (candidates[ix], candidates[iy])
    assert best["var"] == true
    assert best["grad"] == true


def test_torch_iwe_gradient_matches_finite_differences() -> None:
    x, y, t = moving_dots((100.0, -60.0), seed=6)
    xt, yt, tt = (torch.as_tensor(a, dtype=torch.float64) for a in (x, y, t))

    def loss(flow: torch.Tensor) -> torch.Tensor:
        xw, yw = warp_events(xt, yt, tt, flow, 0.0)
        return iwe_variance(image_of_warped_events_torch(xw, yw, W, H))

    flow = torch.tensor([83.0, -41.0], dtype=torch.float64, requires_grad=True)
    value = loss(flow)
    (grad,) = torch.autograd.grad(value, flow)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    eps = 1e-3
    for i in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[i] = eps
        fd = (loss(flow.detach() + step) - loss(flow.detach() - step)) / (2 * eps)
        assert float(grad[i]) == pytest.approx(float(fd), rel=0.05, abs=1e-6)
    # Gradient ascent direction points towards the true flow from nearby.
    assert float(grad[0]) > 0 and float(grad[1]) < 0
    # Same IWE as numpy.
    xw, yw = warp_events(xt, yt, tt, flow.detach(), 0.0)
    np.testing.assert_allclose(
        image_of_warped_events_torch(xw, yw, W, H).numpy(),
        image_of_warped_events(xw.numpy(), yw.numpy(), W, H), atol=1e-4,
    )
    g = iwe_gradient_magnitude(image_of_warped_events_torch(xw, yw, W, H))
    assert isinstance(g, torch.Tensor)


def test_rotation_warp_round_trip_and_identity() -> None:
    k = np.array([[50.0, 0.0, 20.0], [0.0, 50.0, 15.0], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(7)
    x, y, t = rng.uniform(0, W, 200), rng.uniform(0, H, 200), rng.uniform(0, 0.05, 200)
    xw, yw = warp_events_rotation(x, y, t, np.zeros(3), k, 0.02)
    np.testing.assert_allclose(xw.numpy(), x, atol=1e-9)
    omega = np.array([0.3, -0.5, 1.2])
    # Warping to t_ref and back (with t and t_ref swapped per event) is the identity.
    xw, yw = warp_events_rotation(x, y, t, omega, k, 0.02)
    # Back from 0.02 to each event's own t: event times t' with 0.02 - t' = t - 0.02.
    xb, yb = warp_events_rotation(xw, yw, 0.02 + (0.02 - t), omega, k, 0.02)
    np.testing.assert_allclose(xb.numpy(), x, atol=1e-8)
    np.testing.assert_allclose(yb.numpy(), y, atol=1e-8)
    # Roll about the optical axis rotates image points about the principal point.
    xr, yr = warp_events_rotation(np.array([30.0]), np.array([15.0]), np.array([0.0]),
                                  np.array([0.0, 0.0, 1.0]), k, 0.1)
    angle = -0.1
    assert float(xr[0]) == pytest.approx(20.0 + 10.0 * np.cos(angle), abs=1e-9)
    assert float(yr[0]) == pytest.approx(15.0 + 10.0 * np.sin(angle), abs=1e-9)
    omega_t = torch.tensor(omega, requires_grad=True)
    xw, yw = warp_events_rotation(x, y, t, omega_t, k, 0.02)
    (xw.sum() + yw.sum()).backward()
    assert omega_t.grad is not None and torch.isfinite(omega_t.grad).all()


def test_objectives_on_simple_images() -> None:
    flat = np.ones((10, 10), np.float32)
    assert iwe_variance(flat) == 0.0
    assert iwe_gradient_magnitude(flat) == 0.0
    ramp = np.tile(np.arange(10.0), (10, 1))
    assert iwe_gradient_magnitude(ramp) == pytest.approx(1.0)
    spike = np.zeros((10, 10))
    spike[5, 5] = 10.0
    assert iwe_variance(spike) == pytest.approx(np.var(spike))
    batch = torch.stack([torch.as_tensor(spike), torch.as_tensor(ramp)])
    assert iwe_variance(batch).shape == (2,)
