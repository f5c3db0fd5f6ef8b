"""E-MoFlow online estimator: epipolar geometry, closed-form motion, the online loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.emoflow import (
    EMoFlowEstimator,
    EMoFlowParams,
    epipolar_residual,
    fit_motion,
    motion_field,
    rotational_flow,
)
from neuro_nodes.perception.types import EventWindow, ImuSamples, PinholeCamera

D = torch.float64
CAM = PinholeCamera.from_fovy(160, 120, 60.0)
OMEGA = np.array([0.3, -0.5, 0.2])
VEL = np.array([0.3, 0.1, 0.4])


def _hat(a: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]], dtype=D)


def _scene(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=D) * 1.2 - 0.6
    y = torch.rand(n, generator=g, dtype=D) * 0.9 - 0.45
    inv_z = 1.0 / (1.5 + 3.0 * torch.rand(n, generator=g, dtype=D))
    return x, y, inv_z


def test_motion_field_is_the_derivative_of_the_projection() -> None:
    """u = u_rot + d/Z matches a finite difference of projecting a static point."""
    x, y, inv_z = _scene(50, 0)
    w, v = torch.tensor(OMEGA, dtype=D), torch.tensor(VEL, dtype=D)
    p = torch.stack([x / inv_z, y / inv_z, 1.0 / inv_z], -1).numpy()
    h = 1e-6
    proj = []
    for tau in (-h, h):  # camera pose exp(tau [w]), position tau v: P_c = R^T (P - tau v)
        r = Rotation.from_rotvec(tau * OMEGA).as_matrix()
        pc = (p - tau * VEL) @ r
        proj.append(pc[:, :2] / pc[:, 2:])
    fd = torch.from_numpy((proj[1] - proj[0]) / (2 * h))
    assert torch.allclose(motion_field(w, v, inv_z, x, y), fd, atol=1e-6)


def test_epipolar_residual_vanishes_for_the_true_motion_only() -> None:
    x, y, inv_z = _scene(500, 1)
    w, v = torch.tensor(OMEGA, dtype=D), torch.tensor(VEL, dtype=D)
    u = motion_field(w, v, inv_z, x, y)
    vu = v / v.norm()
    r_true = epipolar_residual(u, x, y, w, vu)
    assert r_true.abs().max() < 1e-12  # any depth, any scale of v
    r_wrong_w = epipolar_residual(u, x, y, w + torch.tensor([0.0, 0.1, 0.0], dtype=D), vu)
    r_wrong_v = epipolar_residual(u, x, y, w, torch.tensor([1.0, 0.0, 0.0], dtype=D))
    scale = (u.norm(dim=1) * 0.5).mean()
    assert r_wrong_w.abs().mean() > 0.05 * scale
    assert r_wrong_v.abs().mean() > 0.05 * scale
    # Ma-Kosecka-Sastry form: u^T [v]x xb - xb^T s xb with s = (w^v^ + v^w^) / 2.
    s = 0.5 * (_hat(w) @ _hat(vu) + _hat(vu) @ _hat(w))
    xb = torch.stack([x, y, torch.ones_like(x)], -1)
    u3 = torch.cat([u, torch.zeros_like(x)[:, None]], -1)
    ma = (u3 * (xb @ _hat(vu).T)).sum(-1) - ((xb @ s) * xb).sum(-1)
    assert torch.allclose(ma, r_true, atol=1e-12)
    # Without rotation only the first term remains.
    assert torch.allclose((u3 * (xb @ _hat(vu).T)).sum(-1),
                          epipolar_residual(u, x, y, torch.zeros(3, dtype=D), vu), atol=1e-12)


def test_fit_motion_recovers_the_motion_of_an_exact_flow() -> None:
    x, y, inv_z = _scene(2000, 2)
    w, v = torch.tensor(OMEGA, dtype=D), torch.tensor(VEL, dtype=D)
    u = motion_field(w, v, inv_z, x, y)
    t = torch.linspace(0.0, 0.03, 2000, dtype=D)
    p = dataclasses.replace(EMoFlowParams(), irls_rounds=5, omega_ridge=0.0)
    w0 = torch.zeros(4, 3, dtype=D)
    v0 = -torch.tensor([[0.2, 0.2, 1.0]] * 4, dtype=D)  # wrong, and pointing backwards
    wc, vc, _ = fit_motion(x, y, t, u, 0.03, w0, v0, p, scale_px=CAM.fx * 0.03)
    assert torch.allclose(wc, w.expand(4, 3), atol=1e-4)
    vd = vc / vc.norm(dim=1, keepdim=True)
    assert torch.allclose(vd, (v / v.norm()).expand(4, 3), atol=1e-4)  # cheirality: sign too


def test_fit_motion_gyro_prior_weight_zero_disables_it() -> None:
    x, y, inv_z = _scene(1000, 3)
    u = rotational_flow(torch.tensor(OMEGA, dtype=D), x, y)  # pure rotation
    t = torch.linspace(0.0, 0.03, 1000, dtype=D)
    gyro = (torch.linspace(0.0, 0.03, 30, dtype=D), torch.tensor([[0.0, 0.0, 1.0]] * 30, dtype=D))
    v0 = torch.tensor([[0.0, 0.0, 1.0]] * 4, dtype=D)
    base = EMoFlowParams()
    on, _, _ = fit_motion(x, y, t, u, 0.03, torch.zeros(4, 3, dtype=D), v0,
                          dataclasses.replace(base, imu_weight=100.0), CAM.fx * 0.03, gyro)
    off, _, _ = fit_motion(x, y, t, u, 0.03, torch.zeros(4, 3, dtype=D), v0,
                           dataclasses.replace(base, imu_weight=0.0), CAM.fx * 0.03, gyro)
    assert (on[1] - gyro[1][0]).norm() < 0.05  # a strong prior wins over the events
    assert (off[1] - gyro[1][0]).norm() > 0.5


# ---------------------------------------------------------------------------- online loop
def _points(seed: int = 1000, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    px = rng.uniform(0, CAM.width - 1, n)
    py = rng.uniform(0, CAM.height - 1, n)
    # On a tilted plane n . P = 1 (depth 2.2 to 3.9 m): a smooth depth, like a wall.
    plane = np.array([0.1, 0.08, 0.35])
    z = 1.0 / (plane[0] * (px - CAM.cx) / CAM.fx + plane[1] * (py - CAM.cy) / CAM.fy + plane[2])
    pts = np.stack([(px - CAM.cx) / CAM.fx * z, (py - CAM.cy) / CAM.fy * z, z], -1)
    return pts, np.stack([px, py], -1)


def _window(t0: float, length: float = 0.08, n_events: int = 15000, seed: int = 0,
            imu: bool = True, omega: np.ndarray = OMEGA, vel: np.ndarray = VEL
            ) -> tuple[EventWindow, np.ndarray, np.ndarray]:
    """Events of static points seen by a camera with constant twist (omega, vel: OMEGA, VEL
    by default); the points are where they are at the window's middle. Returns the window,
    the points' pixels at t_ref and their exact flow (px/s)."""
    pts, pix = _points()
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(pts), n_events)
    t = np.sort(rng.uniform(t0, t0 + length, n_events))
    tau = t - (t0 + length / 2)
    rot = Rotation.from_rotvec(tau[:, None] * omega[None]).as_matrix()
    pc = np.einsum("nji,nj->ni", rot, pts[k] - tau[:, None] * vel[None])
    x = np.rint(CAM.fx * pc[:, 0] / pc[:, 2] + CAM.cx + rng.normal(0, 0.3, n_events))
    y = np.rint(CAM.fy * pc[:, 1] / pc[:, 2] + CAM.cy + rng.normal(0, 0.3, n_events))
    ok = (x >= 0) & (x < CAM.width) & (y >= 0) & (y < CAM.height)
    ev = EventArray((t[ok] * 1e9).astype(np.int64), x[ok].astype(np.int64),
                    y[ok].astype(np.int64), rng.integers(0, 2, int(ok.sum())),
                    CAM.width, CAM.height)
    gyro = ImuSamples(np.linspace(t0, t0 + length, 41), np.tile(omega, (41, 1))) if imu else None
    xn = torch.from_numpy((pix[:, 0] - CAM.cx) / CAM.fx)
    yn = torch.from_numpy((pix[:, 1] - CAM.cy) / CAM.fy)
    u = motion_field(torch.tensor(omega), torch.tensor(vel), torch.from_numpy(1 / pts[:, 2]),
                     xn, yn).numpy() * np.array([CAM.fx, CAM.fy])
    return EventWindow(ev, CAM, t0, t0 + length, imu=gyro), pix, u


def _aee(flow: np.ndarray, pix: np.ndarray, u: np.ndarray) -> float:
    xi, yi = np.rint(pix[:, 0]).astype(int), np.rint(pix[:, 1]).astype(int)
    return float(np.hypot(flow[0, yi, xi] - u[:, 0], flow[1, yi, xi] - u[:, 1]).mean())


def test_online_windows_warm_start_and_align_events() -> None:
    est = EMoFlowEstimator(CAM, EMoFlowParams(loss_events=6000))
    out = []
    for i in range(3):
        win, pix, u = _window(0.04 * i, seed=i)  # half-overlapping sliding windows
        e = est.process(win)
        out.append(e)
        assert e.flow is not None and e.flow.shape == (2, CAM.height, CAM.width)
        assert np.isfinite(e.flow).all()
        assert e.compute_s > 0
        assert e.t_ref_s == pytest.approx(win.t_ref_s)
    assert [e.info["cold"] for e in out] == [1.0, 0.0, 0.0]
    p = est.params
    assert [e.info["iterations"] for e in out] == [p.cold_iterations, p.iterations,
                                                   p.iterations]
    last = out[-1]
    zero_aee = float(np.hypot(u[:, 0], u[:, 1]).mean())
    xn = torch.from_numpy((pix[:, 0] - CAM.cx) / CAM.fx)
    yn = torch.from_numpy((pix[:, 1] - CAM.cy) / CAM.fy)
    u_rot = rotational_flow(torch.tensor(OMEGA), xn, yn).numpy() * np.array([CAM.fx, CAM.fy])
    rot_aee = float(np.hypot(*(u_rot - u).T).mean())  # what the gyro alone explains
    aee = _aee(last.flow, pix, u)
    assert aee < 0.2 * zero_aee
    assert aee < 0.6 * rot_aee, (aee, rot_aee)  # the INR adds the translational flow
    assert last.info["contrast_gain"] > 1.2
    assert np.linalg.norm(last.omega - OMEGA) < 0.025 * np.abs(OMEGA).max()
    assert last.velocity is not None and np.linalg.norm(last.velocity) == pytest.approx(1.0)
    cos = float(last.velocity @ VEL) / np.linalg.norm(VEL)
    assert np.degrees(np.arccos(min(1.0, cos))) < 15.0  # translation direction, sign included
    assert last.omega_covariance is not None and last.omega_covariance.shape == (3, 3)


def test_a_gap_or_a_jump_back_resets_the_warm_start() -> None:
    p = EMoFlowParams(loss_events=2000, cold_iterations=3, iterations=2, max_gap_s=0.1)
    est = EMoFlowEstimator(CAM, p)
    assert est.process(_window(0.0)[0]).info["cold"] == 1.0
    assert est.process(_window(0.05)[0]).info["cold"] == 0.0
    assert est.process(_window(0.5)[0]).info["cold"] == 1.0  # gap > max_gap_s
    assert est.process(_window(0.0)[0]).info["cold"] == 1.0  # back in time
    est.reset()
    assert est.process(_window(0.05)[0]).info["cold"] == 1.0


def test_too_few_events_are_skipped_and_the_motion_held() -> None:
    est = EMoFlowEstimator(CAM, EMoFlowParams(loss_events=2000, cold_iterations=3))
    first = est.process(_window(0.0)[0])
    tiny = _window(0.08, n_events=50)[0]
    e = est.process(tiny)
    assert e.info["skipped"] == 1.0
    assert e.flow is None
    assert e.omega is not None and np.allclose(e.omega, first.omega, atol=0.05)
    fresh = EMoFlowEstimator(CAM, EMoFlowParams())
    assert fresh.process(tiny).omega is None  # nothing to hold yet


def test_without_imu_the_gyro_is_not_used() -> None:
    p = EMoFlowParams(loss_events=2000, cold_iterations=5, iterations=2)
    with_imu = EMoFlowEstimator(CAM, p).process(_window(0.0)[0])
    no_imu = EMoFlowEstimator(CAM, p).process(_window(0.0, imu=False)[0])
    off = EMoFlowEstimator(CAM, dataclasses.replace(p, imu_weight=0.0)).process(_window(0.0)[0])
    assert np.linalg.norm(with_imu.omega - OMEGA) < 0.05
    assert np.allclose(no_imu.omega, off.omega, atol=1e-9)  # weight 0 = no IMU at all


def test_free_flow_model_aligns_events_with_closed_form_motion() -> None:
    """The original E-MoFlow split: the INR is the whole flow, motion by fit_motion."""
    est = EMoFlowEstimator(CAM, EMoFlowParams(loss_events=6000, flow_model="free"))
    for i in range(3):
        win, pix, u = _window(0.04 * i, seed=i)
        e = est.process(win)
    zero_aee = float(np.hypot(u[:, 0], u[:, 1]).mean())
    assert _aee(e.flow, pix, u) < 0.2 * zero_aee
    assert np.linalg.norm(e.omega - OMEGA) < 0.015 * np.abs(OMEGA).max()


def test_registered_as_emoflow() -> None:
    from neuro_nodes.perception.registry import make_estimator

    est = make_estimator("emoflow", CAM)
    assert isinstance(est, EMoFlowEstimator) and est.name == "emoflow"


@pytest.mark.parametrize("restart", [1.0, 0.0])
def test_a_warm_start_worse_than_no_motion_is_redone_cold(restart: float) -> None:
    # search=False: the events-only rotational search would rescue this warm start itself
    # (test_events_only_cold_start_finds_a_fast_rotation); here the restart is under test.
    p = EMoFlowParams(loss_events=2000, cold_iterations=3, iterations=2,
                      restart_below_gain=restart, search=False)
    est = EMoFlowEstimator(CAM, p)
    est.process(_window(0.0, imu=False)[0])
    est._w_ctrl = torch.full((p.n_ctrl, 3), 5.0, dtype=D)  # a warm start far off (drifted)
    e = est.process(_window(0.04, seed=1, imu=False)[0])
    assert e.info["cold"] == (1.0 if restart else 0.0)
    if restart:
        assert e.info["contrast_gain"] > 1.0
        assert np.linalg.norm(e.omega) < 2.0


FAST_OMEGA = np.array([0.8, -1.6, 0.6])  # 13 px of rotational flow at the edge per window


@pytest.mark.parametrize("search", [True, False])
def test_events_only_cold_start_finds_a_fast_rotation(search: bool) -> None:
    """No gyro, a cold start on a fast turn (plus a little translation, as on the 6-DoF
    TRAIN sequences): the rotational search puts omega in the contrast's basin; without it,
    the cold iterations from omega = 0 stay far off."""
    p = EMoFlowParams(search=search)
    est = EMoFlowEstimator(CAM, p)
    vel = np.array([0.1, 0.05, 0.15])
    out = [est.process(_window(0.08 * i, seed=i, imu=False, omega=FAST_OMEGA, vel=vel)[0])
           for i in range(2)]
    assert out[0].info["cold"] == 1.0 and out[1].info["cold"] == 0.0
    err = [float(np.linalg.norm(e.omega - FAST_OMEGA)) / np.abs(FAST_OMEGA).max() for e in out]
    if search:
        assert max(err) < 0.12, err  # cold window and the warm one after it
        est._w_ctrl = torch.full((p.n_ctrl, 3), 5.0, dtype=D)  # a warm start far off
        e = est.process(_window(0.16, seed=2, imu=False, omega=FAST_OMEGA, vel=vel)[0])
        assert e.info["cold"] == 0.0  # the search's start from zero finds it, no restart
        assert np.linalg.norm(e.omega - FAST_OMEGA) < 0.12 * np.abs(FAST_OMEGA).max()
    else:
        assert err[0] > 0.2, err


@pytest.mark.parametrize("scales", [(), (0.0,), (0.25, 2.0)])
def test_bad_search_scales_are_refused(scales: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="search_scales"):
        EMoFlowEstimator(CAM, EMoFlowParams(search_scales=scales))
