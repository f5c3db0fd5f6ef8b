"""E-MoFlow-style joint egomotion + optical flow, online (sliding windows with warm starts).

After *E-MoFlow* (egomotion as a continuous B-spline, flow as an implicit neural
representation, tied by the differential epipolar constraint, trained by event alignment,
no depth and no ground truth), changed to run on a live stream: each window gets a fixed,
small iteration budget, starting from the previous window's state (INR weights kept, spline
control points re-fitted to the new window by :func:`bspline.resample`).

Model (camera optical frame, x right, y down, z forward; normalised coordinates
``x = (x_px - cx)/fx``, ``y = (y_px - cy)/fy``, ``xb = (x, y, 1)``):

- ``omega(t)``, ``v(t)``: cubic B-splines over the window (:mod:`.bspline`); ``v`` only up
  to scale (normalised to a unit mean square over the events' times; the direction at
  ``t_ref`` is returned as a unit vector).
- flow ``u(x, y, t)`` (px/s), with ``g`` = :class:`.inr.FourierFlowField` output x
  ``disp_scale_px / T`` (``T`` the window length: one output unit is ``disp_scale_px``
  over the window):

  * ``flow_model="residual"`` (default): ``u = u_rot(omega(t), x) + g(x, y, t)``. The INR
    holds the derotated flow, so the contrast's gradient reaches the omega spline directly
    (as in rotational CMax) and the epipolar term asks ``g`` to be translational. With the
    INR as the whole flow, omega only sees the events through the INR and, within a few
    iterations per window, settles in a wrong rotation/translation trade-off (TRAIN
    sequences: flow error about 2x, omega error 10-50x worse without the gyro).
  * ``flow_model="free"``: ``u = g`` (the published split); motion in closed form.

Differential epipolar constraint. A static point ``P`` (depth ``Z``) seen by a camera moving
with ``(omega, v)`` moves as ``dP/dt = -v - omega x P``; projecting, its normalised image
velocity is ``u = u_rot(omega, x) + (1/Z) d(v, x)`` with

    ``u_rot = (x y w_x - (1 + x^2) w_y + y w_z,  (1 + y^2) w_x - x y w_y - x w_z)``,
    ``d = (v_z x - v_x,  v_z y - v_y)``  (the translational field direction; 0 at the FOE).

The derotated flow ``a = u - u_rot`` is therefore parallel to ``d`` whatever the depth, so

    ``r = d_x a_y - d_y a_x = a3 . (v x xb) = 0``  (``a3 = (a_x, a_y, 0)``),

which, expanded, is Ma-Kosecka-Sastry's ``u^T [v]_x xb - xb^T s xb = 0`` with
``s = 0.5 ([w]_x [v]_x + [v]_x [w]_x)`` (their sign convention, ``dP/dt = [w]_x P + v``,
flips both ``w`` and ``v``, which leaves ``s`` unchanged and flips the first term).
``r`` is linear in ``omega`` for fixed ``v`` and linear in ``v`` for fixed ``omega``. It is
scaled to pixels over the window (``r * f * T``) and penalised with a Huber loss. Depth
positivity (``a . d > 0``, cheirality) fixes the sign of ``v``.

One iteration, ``residual``: an Adam step on the INR weights and omega's control points
for ``-contrast(IWE of the events warped by u to t_ref) + epipolar_weight * mean Huber(r)
+ imu_weight * gyro prior (or search_weight * search prior, below) + spline_smooth *
control-point differences`` (all residuals in
pixels over the window), then ``v`` in closed form (:func:`fit_direction`: the smallest
generalised eigenvector of the Sampson-weighted, ``1/|d|^2``, IRLS normal matrix).
``free``: an Adam step on the INR for contrast + epipolar term, then (omega, v) in closed
form (:func:`fit_motion`: omega by weighted least squares with the gyro rows, v as above,
and one joint Gauss-Newton step, since alternating alone crawls along the w_y/v_x
trade-off). The omega covariance is ``sigma^2 (J^T W J)^-1`` of the epipolar residuals.

IMU: where ``window.imu`` has samples, omega's control points start from a fit to the gyro
in every window (a warm start that follows fast turns) and the gyro prior is added
(``imu_weight = 0`` ignores the IMU completely).

Events-only start (no gyro samples, or ``imu_weight = 0``; ``residual`` model). Adam moves
omega by about ``omega_lr`` per iteration, so from a cold start (omega = 0) or after a fast
turn the few iterations cannot reach the rotation (TRAIN 6-DoF: omega RMS 66 % of max
|omega|). Before the iterations, a rotational contrast maximisation on ``search_events``
events shifts omega's spline by a constant ``dw``: the events are warped by the
rotational flow alone (the INR's share left out: with it, the search follows the INR's side
of the rotation/translation trade-off and omega drifts along it), on an IWE scaled by each of
``search_scales`` (coarse to fine; blurred by ``iwe_blur_sigma`` px at that scale, which
widens the basin), by L-BFGS (strong Wolfe) over ``dw`` in pixel units per axis (one unit
moves the events that axis moves most by about a pixel over the window; roll moves them
less than pan and tilt). It starts from the better (by contrast) of the warm start and of
omega = 0 at ``t_ref``; when zero wins (the motion jumped), and after a reset, it runs
``2 x search_iterations`` per scale. The result then stands in for the gyro: a prior of
weight ``search_weight`` (as ``imu_weight``, weaker) pulls omega towards it, which bounds
the drift along the trade-off that a fronto-parallel wall hardly constrains. On TRAIN 6-DoF
(no IMU) omega RMS went from 66 % to 32 % of max |omega| and the AEE from 4.9 to 1.8 px;
omega is then about as good as rotational CMax's (19-21 % on 6dof-checker-x1-s108).

Speed: the loss uses ``loss_events`` events spread evenly over the window (not all 30k:
the contrast of 4k events already fixes a smooth flow: on TRAIN 6-DoF sequences 8k
events and 6 iterations lowered the AEE by about 10 % for 1.5x the compute, 3k raised it
by 30 %; the motion step uses ``motion_events`` of those), float32 for the INR and IWE,
and ``iterations`` per window (``cold_iterations`` after a reset). The contrast of the
blurred IWE has a hand-written backward (:class:`_BlurredIweVariance`: one scatter, one
blur forward, one blur and one gather backward, where autograd traced four splats and every
blur tap; 3.4 -> 1.5 ms per evaluation of 4k events), the blur sums symmetric tap pairs,
the event-only parts of :func:`fit_direction` are built once per window, and Adam uses its
``foreach`` kernels. TRAIN 6-DoF with the gyro (40-window cap as ``neuro eval``): 4 warm /
10 cold iterations gave AEE 1.67 px against 1.82 for 5 / 20 (omega RMS 0.64 % against
0.53 %). The dense flow is evaluated on a grid every ``flow_stride`` px and bilinearly
upsampled. ``compute_s`` is the wall time of :meth:`EMoFlowEstimator.process`.

================== ======== ==============================================================
parameter          default  meaning
================== ======== ==============================================================
iterations         4        optimisation iterations per window when warm (was 5: TRAIN
                            AEE unchanged within 1 %, 20 % less compute)
cold_iterations    10       iterations for the first window after a reset (was 20: TRAIN
                            AEE 8 % lower, the cold window 2x cheaper)
loss_events        4000     events used by the loss (evenly spaced subset; all if fewer)
motion_events      1000     events (subset of those) used by the closed-form motion step
min_events         500      fewer events: the window is skipped (previous motion held)
flow_model         residual ``residual`` (u = u_rot(omega) + INR) or ``free`` (u = INR)
omega_lr           0.01     Adam learning rate of omega's control points (rad/s; residual)
lr                 0.01     Adam learning rate of the INR weights
n_ctrl             4        B-spline control points per window (4 = one cubic segment)
disp_scale_px      10.0     INR output unit, as a displacement over the window (px)
objective          variance contrast: ``variance`` or ``gradient`` (of the IWE)
iwe_blur_sigma     1.0      Gaussian blur of the IWE (px; 0 = none), widens the basin
epipolar_weight    0.2      weight of the Huber epipolar term against the contrast
huber_delta_px     0.5      Huber transition of the epipolar residual (px over the window)
irls_rounds        1        closed-form motion rounds per iteration
d_min              0.05     floor of ``|d|`` in the Sampson normalisation
imu_weight         10.0     weight of the gyro prior (0 ignores the IMU): residual model,
                            0.5 w (f T |omega - gyro|)^2 per sample, mean over samples
                            (px^2 like the Huber term); free model, relative to the
                            epipolar weight of all events
spline_smooth      1.0      penalty on squared differences of consecutive control points
                            (omega and v), relative to all events: motion varies slowly
omega_ridge        1e-3     pull of omega towards the warm start, relative to all events
min_translation_px 0.3      median derotated flow below this (px over window): v = 0
restart_below_gain 1.0      a warm window ending below this contrast gain (worse than no
                            motion for 1.0) is redone from a reset (0 = never)
max_gap_s          0.5      a gap between windows longer than this resets warm starts
spatial_sigma      1.0      Fourier bandwidth in x, y (cycles per half-image)
temporal_sigma     0.3      Fourier bandwidth in t (cycles per half-window)
n_features         16       Fourier features
hidden             32       MLP width (two hidden layers)
search             True     events-only start: rotational contrast search before the
                            iterations when the window has no gyro (residual model)
search_events      2000     events (evenly spaced subset of the loss events) it uses
search_scales      0.25,0.5 IWE scales of the search, coarse to fine (0.25 alone: roll
                            left at a third of the truth on a fast turn)
search_iterations  4        L-BFGS iterations per scale (x2 after a reset or a jump; 8
                            each time cost 2x and gained nothing on TRAIN)
search_min_gain    0.005    the search's shift is kept only if it raises the contrast (at
                            the finest scale) by this fraction over its start; else the
                            start stays. Against spurious |omega| on a static camera's noise
                            events: 0.02 kept the libcaer bag at |omega| 0.0005 rad/s (0.01
                            at 0.005) but raised the TRAIN 6-DoF no-IMU AEE by 20 %
search_weight      1.0      pull of omega to the search result (as imu_weight)
flow_stride        8        dense flow grid step (px) before bilinear upsampling
num_threads        1        torch CPU threads (0 = leave torch's setting)
seed               0        INR initialisation seed
================== ======== ==============================================================
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from neuro_nodes.core.params import param
from neuro_nodes.events.representations import (
    image_of_warped_events_torch,
    iwe_gradient_magnitude,
    iwe_variance,
)
from neuro_nodes.perception import bspline
from neuro_nodes.perception.inr import FourierFlowField
from neuro_nodes.perception.types import EventWindow, MotionEstimate, PinholeCamera

__all__ = [
    "EMoFlowParams",
    "EMoFlowEstimator",
    "rotational_flow",
    "translational_direction",
    "epipolar_residual",
    "motion_field",
]


@dataclasses.dataclass(frozen=True)
class EMoFlowParams:
    """E-MoFlow online estimator (table in the module docstring)."""

    iterations: int = param(4, "Optimisation iterations per window (warm)", min=1, max=10000)
    cold_iterations: int = param(10, "Iterations for the first window after a reset",
                                 min=1, max=100000)
    loss_events: int = param(4000, "Events used by the loss (evenly spaced subset)",
                             min=100, max=10_000_000)
    min_events: int = param(500, "Fewer events: window skipped", min=1, max=10_000_000)
    motion_events: int = param(1000, "Events used by the closed-form motion step", min=50,
                               max=10_000_000)
    flow_model: str = param("residual", "INR = whole flow, or flow minus the omega spline's",
                            choices=("residual", "free"))
    omega_lr: float = param(0.01, "Adam learning rate of omega (residual model, rad/s)",
                            min=1e-6, max=10.0)
    lr: float = param(0.01, "Adam learning rate of the INR", min=1e-6, max=1.0)
    n_ctrl: int = param(4, "B-spline control points per window", min=4, max=64)
    disp_scale_px: float = param(10.0, "INR output unit (px over the window)", min=0.01,
                                 max=1e4)
    objective: str = param("variance", "Contrast of the IWE", choices=("variance", "gradient"))
    iwe_blur_sigma: float = param(1.0, "Gaussian blur of the IWE (px, 0 = none)", min=0.0,
                                  max=10.0)
    epipolar_weight: float = param(0.2, "Weight of the Huber epipolar term", min=0.0, max=1e4)
    huber_delta_px: float = param(0.5, "Huber transition (px over the window)", min=1e-4,
                                  max=1e3)
    irls_rounds: int = param(1, "omega/v alternations per iteration", min=1, max=50)
    d_min: float = param(0.05, "Floor of |d| in the Sampson normalisation", min=1e-6, max=10.0)
    imu_weight: float = param(10.0, "Gyro prior weight relative to all events (0 = off)",
                              min=0.0, max=1e6)
    spline_smooth: float = param(1.0, "Penalty on control-point differences", min=0.0,
                                 max=1e6)
    omega_ridge: float = param(1e-3, "Pull of omega towards the warm start", min=0.0, max=1e6)
    min_translation_px: float = param(0.3, "Median derotated flow below this: v = 0",
                                      min=0.0, max=1e4)
    restart_below_gain: float = param(1.0, "Warm result below this contrast gain: redo cold",
                                      min=0.0, max=100.0)
    max_gap_s: float = param(0.5, "A longer gap between windows resets warm starts",
                             min=0.0, max=1e6)
    spatial_sigma: float = param(1.0, "Fourier bandwidth in x, y", min=0.0, max=100.0)
    temporal_sigma: float = param(0.3, "Fourier bandwidth in t", min=0.0, max=100.0)
    n_features: int = param(16, "Fourier features", min=1, max=1024)
    hidden: int = param(32, "MLP width", min=1, max=1024)
    search: bool = param(True, "Without gyro: coarse rotational contrast search first")
    search_events: int = param(2000, "Events used by the rotational search", min=50,
                               max=10_000_000)
    search_scales: tuple[float, ...] = param((0.25, 0.5),
                                             "IWE scales of the search, coarse to fine")
    search_iterations: int = param(4, "L-BFGS iterations of the search per scale (x2 cold)", min=1,
                                   max=1000)
    search_min_gain: float = param(0.005, "Search result kept only if it raises the contrast "
                                   "over its start by this fraction", min=0.0, max=10.0)
    search_weight: float = param(1.0, "Pull of omega to the search's result (as imu_weight)",
                                 min=0.0, max=1e6)
    flow_stride: int = param(8, "Dense flow grid step (px)", min=1, max=64)
    num_threads: int = param(1, "torch CPU threads (0 = unchanged)", min=0, max=256)
    seed: int = param(0, "INR initialisation seed", min=0)


# ---------------------------------------------------------------------------- geometry
def rotational_flow(omega: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Normalised image velocity (N, 2) of a rotating camera; ``omega`` (3,) or (N, 3)."""
    w = omega.expand(x.shape[0], 3) if omega.dim() == 1 else omega
    ux = x * y * w[:, 0] - (1 + x * x) * w[:, 1] + y * w[:, 2]
    uy = (1 + y * y) * w[:, 0] - x * y * w[:, 1] - x * w[:, 2]
    return torch.stack([ux, uy], -1)


def _rot_rows(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows R0, R1 (N, 3) with ``u_rot = (R0 . w, R1 . w)``."""
    one = torch.ones_like(x)
    r0 = torch.stack([x * y, -(one + x * x), y], -1)
    r1 = torch.stack([one + y * y, -x * y, -x], -1)
    return r0, r1


def translational_direction(v: torch.Tensor, x: torch.Tensor, y: torch.Tensor
                            ) -> torch.Tensor:
    """``d = (v_z x - v_x, v_z y - v_y)`` (N, 2): the translational flow is ``d / Z``."""
    vv = v.expand(x.shape[0], 3) if v.dim() == 1 else v
    return torch.stack([vv[:, 2] * x - vv[:, 0], vv[:, 2] * y - vv[:, 1]], -1)


def motion_field(omega: torch.Tensor, v: torch.Tensor, inv_depth: torch.Tensor,
                 x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact instantaneous normalised flow (N, 2) of static points at depths ``1/inv_depth``."""
    return rotational_flow(omega, x, y) + inv_depth[:, None] * translational_direction(v, x, y)


def epipolar_residual(u: torch.Tensor, x: torch.Tensor, y: torch.Tensor, omega: torch.Tensor,
                      v: torch.Tensor) -> torch.Tensor:
    """Differential epipolar residual ``r = d x (u - u_rot)`` (N,), normalised units.

    Zero for the flow of any static scene under ``(omega, v)``, whatever the depths (module
    docstring); linear in ``v`` and affine in ``omega``.
    """
    a = u - rotational_flow(omega, x, y)
    d = translational_direction(v, x, y)
    return d[:, 0] * a[:, 1] - d[:, 1] * a[:, 0]


def _min_generalised_eigvec(m: torch.Tensor, n: torch.Tensor, prev: torch.Tensor
                            ) -> torch.Tensor:
    """``argmin theta^T m theta`` subject to ``theta^T n theta = 1`` (n positive definite),
    with the sign of ``prev`` (so the direction does not flip between iterations)."""
    chol = torch.linalg.cholesky(n + 1e-9 * torch.eye(n.shape[0], dtype=n.dtype))
    li = torch.linalg.solve_triangular(chol, torch.eye(n.shape[0], dtype=n.dtype), upper=False)
    _, vecs = torch.linalg.eigh(li @ m @ li.T)
    theta = li.T @ vecs[:, 0]
    if float(theta @ n @ prev.reshape(-1)) < 0:
        theta = -theta
    return theta.reshape(prev.shape)


def _huber(r: torch.Tensor, delta: float) -> torch.Tensor:
    ar = r.abs()
    return torch.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def _gauss_kernel(sigma: float) -> torch.Tensor | None:
    if sigma <= 0:
        return None
    rad = max(1, int(math.ceil(2.5 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-rad, rad + 1, dtype=torch.float32) / sigma) ** 2)
    return (k / k.sum()).reshape(1, 1, -1)


def _blur(img: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
    """Separable Gaussian blur with zero padding (a symmetric operator: its own transpose).

    Shifted sums of symmetric tap pairs: a 1-channel conv2d is several times slower on CPU.
    """
    if kernel is None:
        return img
    k = kernel.reshape(-1).to(img.dtype)
    rad = k.shape[0] // 2
    h, w = img.shape
    a = F.pad(img, (rad, rad))
    out = a[:, rad:rad + w] * k[rad]
    for i in range(rad):
        out = out + k[i] * (a[:, i:i + w] + a[:, 2 * rad - i:2 * rad - i + w])
    a = F.pad(out, (0, 0, rad, rad))
    res = a[rad:rad + h] * k[rad]
    for i in range(rad):
        res = res + k[i] * (a[i:i + h] + a[2 * rad - i:2 * rad - i + h])
    return res


class _BlurredIweVariance(torch.autograd.Function):
    """Variance of the blurred bilinear IWE of ``(xw, yw)``, with a hand-written backward.

    ``C = mean((K*I - mean(K*I))^2)``; ``dC/dI = K*(2 (K*I - mean)/n_pixels)`` (K symmetric),
    and each event's gradient is the bilinear derivative of that map at its position. One
    scatter forward and one gather backward, where autograd would trace the four splats
    and every blur tap (3x the cost).
    """

    @staticmethod
    def forward(ctx, xw: torch.Tensor, yw: torch.Tensor, width: int,  # noqa: ANN001
                height: int, kernel: torch.Tensor | None) -> torch.Tensor:
        w, h = int(width), int(height)
        x0 = torch.floor(xw)
        y0 = torch.floor(yw)
        fx, fy = xw - x0, yw - y0
        x0i, y0i = x0.to(torch.int64), y0.to(torch.int64)
        idx = torch.empty(4, xw.shape[0], dtype=torch.int64)
        for j, (dx, dy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
            xc, yc = x0i + dx, y0i + dy
            ok = (xc >= 0) & (xc < w) & (yc >= 0) & (yc < h)
            idx[j] = torch.where(ok, yc * w + xc, w * h)  # off the image: a dump slot
        gx, gy = 1.0 - fx, 1.0 - fy
        wgt = torch.stack([gx * gy, fx * gy, gx * fy, fx * fy])
        flat = torch.zeros(w * h + 1, dtype=xw.dtype).index_add_(0, idx.reshape(-1),
                                                                 wgt.reshape(-1))
        b = _blur(flat[:-1].reshape(h, w), kernel)
        centred = b - b.mean()
        ctx.save_for_backward(idx, fx, fy, centred)
        ctx.kernel = kernel
        return (centred * centred).mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN205
        idx, fx, fy, centred = ctx.saved_tensors
        g_img = _blur(centred * (2.0 / centred.numel()), ctx.kernel) * grad
        g = torch.cat([g_img.reshape(-1), g_img.new_zeros(1)])[idx]  # (4, N)
        gx = (1.0 - fy) * (g[1] - g[0]) + fy * (g[3] - g[2])
        gy = (1.0 - fx) * (g[2] - g[0]) + fx * (g[3] - g[1])
        return gx, gy, None, None, None


def _omega_rows(xn: torch.Tensor, yn: torch.Tensor, a_mat: torch.Tensor, v_k: torch.Tensor
                ) -> torch.Tensor:
    """Rows (N, 3M) of ``d r / d (omega control points)`` (``r`` is affine in omega)."""
    r0, r1 = _rot_rows(xn, yn)
    d = translational_direction(v_k, xn, yn)
    beta = d[:, 0:1] * r1 - d[:, 1:2] * r0
    return -(a_mat[:, :, None] * beta[:, None, :]).reshape(xn.shape[0], -1)


def _irls(u_n: torch.Tensor, xn: torch.Tensor, yn: torch.Tensor, w_k: torch.Tensor,
          v_k: torch.Tensor, delta_px: float, scale_px: float) -> torch.Tensor:
    """Huber IRLS weights ``min(1, delta / |r|)`` of the epipolar residuals (px)."""
    r = epipolar_residual(u_n, xn, yn, w_k, v_k)
    return torch.clamp(delta_px / (r.abs() * scale_px + 1e-12), max=1.0)


@dataclasses.dataclass(frozen=True)
class _DirectionTerms:
    """The parts of :func:`fit_direction`'s normal equations fixed by the events alone
    (built once per window, reused by every iteration)."""

    a_mat: torch.Tensor  # (N, M) spline design matrix at the events' times
    smooth: torch.Tensor  # (3M, 3M) control-point difference penalty
    norm_v: torch.Tensor  # (3M, 3M) mean square of v over the events' times
    xb: torch.Tensor  # (N, 3) bearings (x, y, 1)

    @staticmethod
    def build(xn: torch.Tensor, yn: torch.Tensor, t: torch.Tensor, m: int, length: float
              ) -> _DirectionTerms:
        eye3 = torch.eye(3, dtype=torch.float64)
        a_mat = bspline.design_matrix(t, m, 0.0, length)
        diff = torch.diff(torch.eye(m, dtype=torch.float64), dim=0)
        # Normalised by the mean square of v over the events' times, not by its control
        # points: a stacked unit vector lets v(t) shrink to ~0 over most of the window, where
        # every residual vanishes (a degenerate "solution").
        return _DirectionTerms(a_mat, torch.kron(diff.T @ diff, eye3),
                               torch.kron(a_mat.T @ a_mat / a_mat.shape[0], eye3),
                               torch.stack([xn, yn, torch.ones_like(xn)], -1))


def fit_direction(xn: torch.Tensor, yn: torch.Tensor, t: torch.Tensor, a_n: torch.Tensor,
                  length: float, v_ctrl: torch.Tensor, params: EMoFlowParams, scale_px: float,
                  terms: _DirectionTerms | None = None) -> torch.Tensor:
    """v control points for a derotated flow ``a_n`` (N, 2), normalised units.

    ``r_k = v(t_k) . (xb_k x a3_k)`` is linear in the control points: minimise the
    Sampson-weighted (``1/|d|^2``) Huber-IRLS sum of squares plus the smoothness penalty
    subject to a unit mean square of ``v`` over the events' times (a generalised
    eigenproblem), ``params.irls_rounds`` times; cheirality fixes the sign. ``terms``: the
    event-only parts, when the caller already has them for these events.
    """
    p = params
    m = v_ctrl.shape[0]
    tm = terms if terms is not None else _DirectionTerms.build(xn, yn, t, m, length)
    a_mat = tm.a_mat
    a3 = torch.cat([a_n, torch.zeros_like(a_n[:, :1])], -1)
    c = torch.linalg.cross(tm.xb, a3, dim=-1)
    phi_v = (a_mat[:, :, None] * c[:, None, :]).reshape(-1, 3 * m)
    vc = v_ctrl
    zero = torch.zeros(3, dtype=torch.float64)
    for _ in range(p.irls_rounds):
        v_k = a_mat @ vc
        d = translational_direction(v_k, xn, yn)
        wt = _irls(a_n, xn, yn, zero, v_k, p.huber_delta_px, scale_px)
        wt = wt / torch.clamp((d * d).sum(-1), min=p.d_min**2)
        mv = phi_v.T @ (wt[:, None] * phi_v)
        mv = mv + (p.spline_smooth * float((wt * (a_n * a_n).sum(-1)).sum())) * tm.smooth
        vc = _min_generalised_eigvec(mv, tm.norm_v, vc)
    d = translational_direction(a_mat @ vc, xn, yn)
    if float((a_n * d).sum()) < 0:  # cheirality: a = d / Z with Z > 0
        vc = -vc
    return vc


def fit_motion(xn: torch.Tensor, yn: torch.Tensor, t: torch.Tensor, u_n: torch.Tensor,
               length: float, w_ctrl: torch.Tensor, v_ctrl: torch.Tensor,
               params: EMoFlowParams, scale_px: float,
               imu: tuple[torch.Tensor, torch.Tensor] | None = None,
               w_prior: torch.Tensor | None = None,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spline motion for a flow, in closed form (IRLS on the Huber epipolar residual).

    ``xn``, ``yn`` (N,) normalised coordinates, ``t`` (N,) times from the window start (s),
    ``u_n`` (N, 2) normalised flow (1/s), ``w_ctrl``/``v_ctrl`` (M, 3) the start;
    ``scale_px`` turns residuals into pixels over the window (``f * length``). ``imu`` =
    (times from the window start, gyro (K, 3)). Alternates ``params.irls_rounds`` times: omega
    control points by weighted least squares (IRLS weights, smoothness, ridge towards
    ``w_prior``, gyro rows), then v control points as the generalised smallest eigenvector
    (Sampson-weighted), then fixes the sign of v by cheirality. Returns (w_ctrl, v_ctrl,
    omega normal matrix without priors, for the covariance). float64.
    """
    p = params
    m = w_ctrl.shape[0]
    eye3 = torch.eye(3, dtype=torch.float64)
    a_mat = bspline.design_matrix(t, m, 0.0, length)  # (N, M)
    r0, r1 = _rot_rows(xn, yn)
    # v is normalised by its mean square over the events' times, not by its control
    # points: a stacked unit vector lets v(t) shrink to ~0 over most of the window,
    # where every residual vanishes (a degenerate "solution").
    diff = torch.diff(torch.eye(m, dtype=torch.float64), dim=0)  # (M-1, M)
    smooth = torch.kron(diff.T @ diff, eye3)
    norm_v = torch.kron(a_mat.T @ a_mat / a_mat.shape[0], eye3)
    prior = (w_ctrl if w_prior is None else w_prior).reshape(-1)
    xb = torch.stack([xn, yn, torch.ones_like(xn)], -1)
    alpha_rows = None
    if imu is not None:
        ai = bspline.design_matrix(imu[0], m, 0.0, length)
        phi_i = torch.kron(ai, eye3)  # (3K, 3M)
        alpha_rows = (phi_i.T @ phi_i / ai.shape[0], phi_i.T @ imu[1].reshape(-1) / ai.shape[0])
    wc, vc = w_ctrl, v_ctrl
    ata = torch.eye(3 * m, dtype=torch.float64)
    for _ in range(p.irls_rounds):
        v_k = a_mat @ vc
        d = translational_direction(v_k, xn, yn)
        r = epipolar_residual(u_n, xn, yn, a_mat @ wc, v_k)
        irls = torch.clamp(p.huber_delta_px / (r.abs() * scale_px + 1e-12), max=1.0)
        # omega step: r = alpha - beta . w(t_k), w(t_k) = A_k W
        alpha = d[:, 0] * u_n[:, 1] - d[:, 1] * u_n[:, 0]
        beta = d[:, 0:1] * r1 - d[:, 1:2] * r0  # (N, 3)
        phi = (a_mat[:, :, None] * beta[:, None, :]).reshape(-1, 3 * m)
        ata = phi.T @ (irls[:, None] * phi)
        total = float((irls * (d * d).sum(-1)).sum()) + 1e-12  # weight of all events
        ata_w = ata + (p.omega_ridge * total) * torch.eye(3 * m, dtype=torch.float64) + \
            (p.spline_smooth * total) * smooth
        atb_w = phi.T @ (irls * alpha) + (p.omega_ridge * total) * prior
        if alpha_rows is not None and p.imu_weight > 0:
            ata_w = ata_w + (p.imu_weight * total) * alpha_rows[0]
            atb_w = atb_w + (p.imu_weight * total) * alpha_rows[1]
        wc = torch.linalg.solve(ata_w, atb_w).reshape(m, 3)
        # v step: r = v(t_k) . c_k with c_k = xb x a3
        a = u_n - rotational_flow(a_mat @ wc, xn, yn)
        a3 = torch.cat([a, torch.zeros_like(a[:, :1])], -1)
        c = torch.linalg.cross(xb, a3, dim=-1)
        wt = irls / torch.clamp((d * d).sum(-1), min=p.d_min**2)
        phi_v = (a_mat[:, :, None] * c[:, None, :]).reshape(-1, 3 * m)
        mv = phi_v.T @ (wt[:, None] * phi_v)
        mv = mv + (p.spline_smooth * float((wt * (a * a).sum(-1)).sum())) * smooth
        vc = _min_generalised_eigvec(mv, norm_v, vc)
        # Joint Gauss-Newton step on (omega, v): alternating alone converges slowly where
        # rotation and translation trade off (w_y against v_x, w_x against v_y).
        v_k = a_mat @ vc
        d = translational_direction(v_k, xn, yn)
        wt = irls / torch.clamp((d * d).sum(-1), min=p.d_min**2)
        a = u_n - rotational_flow(a_mat @ wc, xn, yn)
        a3 = torch.cat([a, torch.zeros_like(a[:, :1])], -1)
        c = torch.linalg.cross(xb, a3, dim=-1)
        beta = d[:, 0:1] * r1 - d[:, 1:2] * r0
        r = (v_k * c).sum(-1)
        jac = torch.cat([-(a_mat[:, :, None] * beta[:, None, :]).reshape(-1, 3 * m),
                         (a_mat[:, :, None] * c[:, None, :]).reshape(-1, 3 * m)], 1)
        tot = float((wt * ((d * d).sum(-1))).sum()) + 1e-12
        hess = jac.T @ (wt[:, None] * jac)
        grad = jac.T @ (wt * r)
        pw = (p.omega_ridge * tot) * torch.eye(3 * m, dtype=torch.float64) + \
            (p.spline_smooth * tot) * smooth
        bw = (p.omega_ridge * tot) * prior
        if alpha_rows is not None and p.imu_weight > 0:
            pw = pw + (p.imu_weight * tot) * alpha_rows[0]
            bw = bw + (p.imu_weight * tot) * alpha_rows[1]
        hess[:3 * m, :3 * m] += pw
        grad[:3 * m] += pw @ wc.reshape(-1) - bw
        sv = float(wt.sum() * (a * a).sum(-1).mean()) * p.spline_smooth
        hess[3 * m:, 3 * m:] += sv * smooth
        grad[3 * m:] += sv * smooth @ vc.reshape(-1)
        nv = norm_v @ vc.reshape(-1)  # gauge: no step along the scale of v
        hess[3 * m:, 3 * m:] += float(hess.diagonal().mean()) * torch.outer(nv, nv)
        hess += 1e-6 * float(hess.diagonal().mean()) * torch.eye(6 * m, dtype=torch.float64)
        step = torch.linalg.solve(hess, -grad)
        wc = wc + step[:3 * m].reshape(m, 3)
        vc = vc + step[3 * m:].reshape(m, 3)
        vc = vc / torch.sqrt(vc.reshape(-1) @ norm_v @ vc.reshape(-1))
    # Cheirality: the derotated flow points along +d where depths are positive.
    d = translational_direction(a_mat @ vc, xn, yn)
    a = u_n - rotational_flow(a_mat @ wc, xn, yn)
    if float((a * d).sum()) < 0:
        vc = -vc
    return wc, vc, ata


# ---------------------------------------------------------------------------- estimator
@dataclasses.dataclass
class _Window:
    """Per-window tensors for the loss (subset of the events)."""

    x: torch.Tensor  # px, float32
    y: torch.Tensor
    dt: torch.Tensor  # t_ref - t (s), float32
    z: torch.Tensor  # INR inputs (N, 3)
    xn: torch.Tensor  # normalised coordinates, float64
    yn: torch.Tensor
    t: torch.Tensor  # event times (s) relative to t0 of the window, float64
    var0: float  # contrast of the unwarped IWE


class EMoFlowEstimator:
    """Online E-MoFlow: ``process(window)`` in time order (see the module docstring)."""

    name = "emoflow"

    def __init__(self, camera: PinholeCamera, params: EMoFlowParams | None = None) -> None:
        self.camera = camera
        self.params = params or EMoFlowParams()
        p = self.params
        if not p.search_scales or not all(0.0 < float(k) <= 1.0 for k in p.search_scales):
            raise ValueError(f"EMoFlowParams.search_scales must be a non-empty tuple of "
                             f"scales in (0, 1], got {p.search_scales!r}")
        if p.num_threads > 0:
            torch.set_num_threads(p.num_threads)
        self._kernel = _gauss_kernel(p.iwe_blur_sigma)
        self._f = 0.5 * (camera.fx + camera.fy)
        self.reset()

    # -- state
    def reset(self) -> None:
        p = self.params
        self.inr = FourierFlowField(p.n_features, p.hidden, 2, p.spatial_sigma,
                                    p.temporal_sigma, seed=p.seed)
        self.opt = torch.optim.Adam(self.inr.parameters(), lr=p.lr, foreach=True)
        self._w_ctrl = torch.zeros(p.n_ctrl, 3, dtype=torch.float64)
        v0 = torch.zeros(p.n_ctrl, 3, dtype=torch.float64)
        v0[:, 2] = 1.0
        self._v_ctrl = v0  # v(t) = (0, 0, 1): unit mean square
        self._span: tuple[float, float] | None = None  # previous window (t0, t1), seconds

    # -- helpers
    def _prepare(self, window: EventWindow) -> tuple[_Window, float]:
        p, cam = self.params, self.camera
        ev = window.events
        n = len(ev)
        idx = (np.linspace(0, n - 1, p.loss_events).round().astype(np.int64)
               if n > p.loss_events else np.arange(n))
        x = ev.x[idx].astype(np.float64)
        y = ev.y[idx].astype(np.float64)
        t_rel = (ev.t[idx] - ev.t[idx[0]]).astype(np.float64) * 1e-9 + (
            ev.t[idx[0]] * 1e-9 - window.t0_s)  # relative first: keeps ns resolution
        length = window.t1_s - window.t0_s
        dt = 0.5 * length - t_rel
        z = np.stack([2 * x / cam.width - 1, 2 * y / cam.height - 1, -dt / (0.5 * length)], -1)
        xt = torch.from_numpy(x).float()
        yt = torch.from_numpy(y).float()
        with torch.no_grad():
            if p.objective == "variance":
                var0 = float(_BlurredIweVariance.apply(xt, yt, cam.width, cam.height,
                                                       self._kernel)) + 1e-12
            else:
                img0 = image_of_warped_events_torch(xt, yt, cam.width, cam.height)
                var0 = float(self._contrast(img0)) + 1e-12
        return _Window(
            x=xt, y=yt, dt=torch.from_numpy(dt).float(), z=torch.from_numpy(z).float(),
            xn=torch.from_numpy((x - cam.cx) / cam.fx), yn=torch.from_numpy((y - cam.cy) / cam.fy),
            t=torch.from_numpy(t_rel), var0=var0,
        ), length

    def _contrast(self, img: torch.Tensor) -> torch.Tensor:
        img = _blur(img, self._kernel)
        return iwe_variance(img) if self.params.objective == "variance" else \
            iwe_gradient_magnitude(img)

    def _flow_px(self, z: torch.Tensor, length: float) -> torch.Tensor:
        return self.inr(z) * (self.params.disp_scale_px / length)

    def _imu_rows(self, window: EventWindow) -> tuple[torch.Tensor, torch.Tensor] | None:
        imu = window.imu
        if imu is None or self.params.imu_weight <= 0 or len(imu.t_s) == 0:
            return None
        t = np.asarray(imu.t_s, np.float64)
        g = np.asarray(imu.gyro, np.float64).reshape(-1, 3)
        inside = (t >= window.t0_s) & (t <= window.t1_s)
        if not inside.any():  # no sample inside: the nearest one stands for the window
            inside = np.zeros(t.shape, bool)
            inside[int(np.argmin(np.abs(t - window.t_ref_s)))] = True
        return (torch.from_numpy(np.clip(t[inside], window.t0_s, window.t1_s) - window.t0_s),
                torch.from_numpy(g[inside]))

    def _iterate_free(self, win: _Window, length: float, iters: int, a_mat: torch.Tensor,
                      sub: torch.Tensor, imu: tuple[torch.Tensor, torch.Tensor] | None,
                      w_prior: torch.Tensor) -> torch.Tensor | None:
        """``flow_model="free"``: the INR is the whole flow; motion in closed form."""
        p, cam = self.params, self.camera
        scale = self._f * length
        fnorm = torch.tensor([cam.fx, cam.fy], dtype=torch.float32)
        xnf, ynf = win.xn.float(), win.yn.float()
        ata = None
        for _ in range(iters):
            w_k = (a_mat @ self._w_ctrl).float()
            v_k = (a_mat @ self._v_ctrl).float()
            u_px = self._flow_px(win.z, length)
            c = self._warp_contrast(win, u_px)
            u_n = u_px / fnorm
            r = epipolar_residual(u_n, xnf, ynf, w_k, v_k) * scale
            loss = -c + p.epipolar_weight * _huber(r, p.huber_delta_px).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self._contrast_gain = float(c.detach())
            # The motion for this step's flow (before the Adam update: saves a forward pass),
            # on an evenly spaced subset of the loss events.
            u_m = u_n.detach()[sub].double()
            self._w_ctrl, self._v_ctrl, ata = fit_motion(
                win.xn[sub], win.yn[sub], win.t[sub], u_m, length, self._w_ctrl, self._v_ctrl,
                p, scale, imu, w_prior)
        return ata

    def _iterate_residual(self, win: _Window, length: float, iters: int, a_mat: torch.Tensor,
                          sub: torch.Tensor, imu: tuple[torch.Tensor, torch.Tensor] | None,
                          imu_weight: float) -> torch.Tensor | None:
        """``flow_model="residual"``: flow = rotational flow of the omega spline + INR.

        omega's control points and the INR weights descend the same loss (contrast, Huber
        epipolar residual of the INR part, gyro prior); v in closed form each iteration.
        """
        p, cam = self.params, self.camera
        scale = self._f * length
        fnorm = torch.tensor([cam.fx, cam.fy], dtype=torch.float32)
        xnf, ynf = win.xn.float(), win.yn.float()
        af = a_mat.float()
        w_param = self._w_ctrl.float().clone().requires_grad_(True)
        opt_w = torch.optim.Adam([w_param], lr=p.omega_lr, foreach=True)
        xs, ys, ts = win.xn[sub], win.yn[sub], win.t[sub]
        terms = _DirectionTerms.build(xs, ys, ts, p.n_ctrl, length)
        imu_a = imu_g = None
        if imu is not None:
            imu_a = bspline.design_matrix(imu[0], p.n_ctrl, 0.0, length).float()
            imu_g = imu[1].float()
        for _ in range(iters):
            w_k = af @ w_param
            v_k = (a_mat @ self._v_ctrl).float()
            g_px = self._flow_px(win.z, length)
            u_px = rotational_flow(w_k, xnf, ynf) * fnorm + g_px
            c = self._warp_contrast(win, u_px)
            g_n = g_px / fnorm
            d = translational_direction(v_k, xnf, ynf)
            r = (d[:, 0] * g_n[:, 1] - d[:, 1] * g_n[:, 0]) * scale
            loss = -c + p.epipolar_weight * _huber(r, p.huber_delta_px).mean()
            if imu_a is not None and imu_g is not None:
                dw = (imu_a @ w_param - imu_g) * scale
                loss = loss + imu_weight * 0.5 * (dw * dw).sum(-1).mean()
            if p.spline_smooth > 0:
                dc = torch.diff(w_param, dim=0) * scale
                loss = loss + p.spline_smooth * 0.5 * (dc * dc).sum(-1).mean()
            self.opt.zero_grad(set_to_none=True)
            opt_w.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            opt_w.step()
            self._contrast_gain = float(c.detach())
            self._w_ctrl = w_param.detach().double()
            self._v_ctrl = fit_direction(xs, ys, ts, g_n.detach()[sub].double(), length,
                                         self._v_ctrl, p, scale, terms)
        # The epipolar normal matrix of omega for the final flow: its covariance.
        with torch.no_grad():
            u_n = (rotational_flow(af[sub] @ w_param, xnf[sub], ynf[sub])
                   + self._flow_px(win.z[sub], length) / fnorm).double()
        rows = _omega_rows(win.xn[sub], win.yn[sub], a_mat[sub], a_mat[sub] @ self._v_ctrl)
        wt = _irls(u_n, win.xn[sub], win.yn[sub], a_mat[sub] @ self._w_ctrl,
                   a_mat[sub] @ self._v_ctrl, p.huber_delta_px, scale)
        return rows.T @ (wt[:, None] * rows)

    def _warp_contrast(self, win: _Window, u_px: torch.Tensor) -> torch.Tensor:
        """Contrast of the events warped to t_ref by ``u_px``, relative to no warp."""
        xw = win.x + win.dt * u_px[:, 0]
        yw = win.y + win.dt * u_px[:, 1]
        if self.params.objective == "variance":
            c = _BlurredIweVariance.apply(xw, yw, self.camera.width, self.camera.height,
                                          self._kernel)
        else:
            c = self._contrast(image_of_warped_events_torch(xw, yw, self.camera.width,
                                                            self.camera.height))
        return c / win.var0

    def _search_rotation(self, win: _Window, length: float, a_mat: torch.Tensor,
                         cold: bool) -> None:
        """Events only: shift omega's spline by the constant that maximises the contrast of
        a coarse IWE (module docstring, "Events-only start"), from the warm start and from
        zero; the best of the two at the coarsest scale is refined at the finer ones."""
        p, cam = self.params, self.camera
        n = win.x.shape[0]
        k = torch.from_numpy(np.linspace(0, n - 1, min(n, p.search_events)).round()
                             .astype(np.int64))
        x, y, dt = win.x[k], win.y[k], win.dt[k]
        xn, yn = win.xn[k].float(), win.yn[k].float()
        w_k = (a_mat[k] @ self._w_ctrl).float()
        fnorm = torch.tensor([cam.fx, cam.fy], dtype=torch.float32)
        # Rotation only (the INR's flow left out): with it, the search follows the INR's
        # share of a rotation/translation trade-off and omega drifts along it.
        u0 = rotational_flow(w_k, xn, yn) * fnorm
        x0, y0 = x + dt * u0[:, 0], y + dt * u0[:, 1]
        r0, r1 = _rot_rows(xn, yn)
        # Offsets in pixels: one unit of each axis moves the events it moves most (over the
        # window) by about one pixel, which keeps L-BFGS well scaled (roll moves the image
        # less than pan and tilt).
        reach = torch.sqrt(r0 * r0 + r1 * r1).amax(0).double().clamp(min=1e-3)
        unit = 1.0 / (self._f * length * reach)  # (3,) rad/s per unit
        jx = (dt * cam.fx)[:, None] * r0 * unit.float()
        jy = (dt * cam.fy)[:, None] * r1 * unit.float()
        w_ref = (bspline.design_matrix(torch.tensor([0.5 * length], dtype=torch.float64),
                                       p.n_ctrl, 0.0, length) @ self._w_ctrl)[0].float()
        starts = [torch.zeros(3)]
        if float(w_ref.norm()) > 0:
            starts.append(-w_ref / unit.float())  # omega = 0 at t_ref
        best = None
        for si, scale in enumerate(p.search_scales):
            w = max(2, int(round(cam.width * scale)))
            h = max(2, int(round(cam.height * scale)))
            sx, sy = w / cam.width, h / cam.height

            def contrast(q: torch.Tensor, sx: float = sx, sy: float = sy, w: int = w,
                         h: int = h) -> torch.Tensor:
                xw = (x0 + jx @ q + 0.5) * sx - 0.5
                yw = (y0 + jy @ q + 0.5) * sy - 0.5
                return _BlurredIweVariance.apply(xw, yw, w, h, self._kernel)

            if si == 0 and len(starts) > 1:  # the better of the two starts goes on
                with torch.no_grad():
                    best = max(starts, key=lambda q: float(contrast(q)))
                # Zero beats the warm start: the motion jumped, search as from cold.
                cold = cold or best is starts[1]
            if best is None:
                best = starts[0]
            if si == 0:
                best_start = best
            results = []
            for q0 in [best]:
                q = q0.clone().requires_grad_(True)
                with torch.no_grad():
                    norm = float(contrast(q)) + 1e-12
                opt = torch.optim.LBFGS([q], lr=1.0,
                                        max_iter=p.search_iterations * (2 if cold else 1),
                                        line_search_fn="strong_wolfe",
                                        tolerance_grad=1e-9, tolerance_change=1e-12)

                def closure(q: torch.Tensor = q, opt: torch.optim.LBFGS = opt,
                            norm: float = norm,
                            contrast=contrast) -> torch.Tensor:  # noqa: ANN001
                    opt.zero_grad()
                    loss = -contrast(q) / norm
                    loss.backward()
                    return loss

                opt.step(closure)
                with torch.no_grad():
                    value = float(contrast(q))
                if math.isfinite(value) and bool(torch.isfinite(q).all()):
                    results.append((value, q.detach()))
                else:
                    results.append((norm, q0))
            best = max(results, key=lambda r: r[0])[1]
            if si == 0:
                chosen = best_start
        # A shift that hardly raises the contrast over its start fits noise (a static camera
        # sees only noise events): keep the start.
        with torch.no_grad():
            if float(contrast(best)) < (1.0 + p.search_min_gain) * float(contrast(chosen)):
                best = chosen
        self._w_ctrl = self._w_ctrl + (best.double() * unit)[None, :]

    # -- main entry
    def _run(self, window: EventWindow, length: float, cold: bool
             ) -> tuple[_Window, torch.Tensor | None, int]:
        """Warm start (or reset), then the window's iterations."""
        p = self.params
        if cold:
            self.reset()
        elif self._span is not None:
            new = (window.t0_s, window.t1_s)
            self._w_ctrl = bspline.resample(self._w_ctrl, self._span, new)
            self._v_ctrl = bspline.resample(self._v_ctrl, self._span, new)
        win, _ = self._prepare(window)
        imu = self._imu_rows(window)
        if imu is not None:  # the gyro initialises omega (it tracks fast turns at once)
            self._w_ctrl = bspline.fit(imu[0], imu[1], p.n_ctrl, 0.0, length, ridge=1e-3)
        w_prior = self._w_ctrl.clone()
        iters = p.cold_iterations if cold else p.iterations
        self._contrast_gain = 0.0
        a_mat = bspline.design_matrix(win.t, p.n_ctrl, 0.0, length)
        prior, prior_weight = imu, p.imu_weight
        if imu is None and p.search and p.flow_model == "residual":
            self._search_rotation(win, length, a_mat, cold)
            w_prior = self._w_ctrl.clone()
            # The search's omega stands in for the gyro (a weaker pull): it bounds the drift
            # along the rotation/translation trade-off that the contrast hardly sees.
            if p.search_weight > 0:
                ts = torch.linspace(0.0, length, 2 * p.n_ctrl, dtype=torch.float64)
                prior = (ts, bspline.design_matrix(ts, p.n_ctrl, 0.0, length) @ self._w_ctrl)
                prior_weight = p.search_weight
        n = win.x.shape[0]
        sub = torch.from_numpy(np.linspace(0, n - 1, min(n, p.motion_events)).round()
                               .astype(np.int64))
        if p.flow_model == "residual":
            ata = self._iterate_residual(win, length, iters, a_mat, sub, prior, prior_weight)
        else:
            ata = self._iterate_free(win, length, iters, a_mat, sub, imu, w_prior)
        return win, ata, iters

    def process(self, window: EventWindow) -> MotionEstimate:
        start = time.perf_counter()
        p = self.params
        length = window.t1_s - window.t0_s
        if len(window.events) < p.min_events or not length > 0:
            return self._held(window, start)  # too few events, or an empty window
        cold = self._span is None or not (
            self._span[0] <= window.t0_s <= self._span[1] + p.max_gap_s)
        win, ata, iters = self._run(window, length, cold)
        if not cold and self._contrast_gain < p.restart_below_gain:
            # The warm start ended worse than no motion at all (it drifted, or the motion
            # jumped): start this window again from scratch.
            cold = True
            win, ata, iters = self._run(window, length, cold)
        self._span = (window.t0_s, window.t1_s)
        return self._estimate(window, win, length, start, self._contrast_gain, ata, cold, iters)

    def _estimate(self, window: EventWindow, win: _Window, length: float, start: float,
                  contrast: float, ata: torch.Tensor | None, cold: bool, iters: int
                  ) -> MotionEstimate:
        p, cam = self.params, self.camera
        tr = torch.tensor([0.5 * length], dtype=torch.float64)
        a_ref = bspline.design_matrix(tr, p.n_ctrl, 0.0, length)
        omega = (a_ref @ self._w_ctrl)[0]
        v = (a_ref @ self._v_ctrl)[0]
        fnorm = torch.tensor([cam.fx, cam.fy], dtype=torch.float64)
        with torch.no_grad():
            a_mat = bspline.design_matrix(win.t, p.n_ctrl, 0.0, length)
            u_n = self._flow_px(win.z, length).double() / fnorm
            if p.flow_model == "residual":  # the INR holds the derotated flow
                u_n = u_n + rotational_flow(a_mat @ self._w_ctrl, win.xn, win.yn)
            dero = u_n - rotational_flow(a_mat @ self._w_ctrl, win.xn, win.yn)
            trans_px = float(dero.norm(dim=-1).median()) * self._f * length
            r = epipolar_residual(u_n, win.xn, win.yn, a_mat @ self._w_ctrl,
                                  a_mat @ self._v_ctrl)
            flow = self._dense_flow(length)
        velocity = (v / v.norm()).numpy() if trans_px >= p.min_translation_px and v.norm() > 0 \
            else np.zeros(3)
        cov = None
        if ata is not None:
            sigma2 = float((r * r).mean())
            j = torch.kron(a_ref, torch.eye(3, dtype=torch.float64))  # (3, 3M)
            try:
                cov = (sigma2 * j @ torch.linalg.pinv(ata) @ j.T).numpy()
            except RuntimeError:  # singular normal matrix: no covariance
                cov = None
        return MotionEstimate(
            t_ref_s=window.t_ref_s, omega=omega.numpy().copy(), velocity=velocity,
            velocity_is_direction=True, flow=flow, compute_s=time.perf_counter() - start,
            omega_covariance=cov,
            info={"contrast_gain": contrast, "iterations": float(iters), "cold": float(cold),
                  "translation_px": trans_px,
                  "epipolar_rms_px": float((r * r).mean().sqrt()) * self._f * length},
        )

    def _dense_flow(self, length: float) -> np.ndarray:
        cam, s = self.camera, self.params.flow_stride
        gw = max(2, int(math.ceil((cam.width - 1) / s)) + 1)
        gh = max(2, int(math.ceil((cam.height - 1) / s)) + 1)
        xs = torch.linspace(-1.0, 1.0 - 2.0 / cam.width, gw)
        ys = torch.linspace(-1.0, 1.0 - 2.0 / cam.height, gh)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        z = torch.stack([gx.reshape(-1), gy.reshape(-1), torch.zeros(gx.numel())], -1)
        flow = self._flow_px(z, length)
        if self.params.flow_model == "residual":  # plus the rotational flow at t_ref
            tr = torch.tensor([0.5 * length], dtype=torch.float64)
            w_ref = (bspline.design_matrix(tr, self.params.n_ctrl, 0.0, length)
                     @ self._w_ctrl)[0].float()
            xn = ((gx.reshape(-1) + 1) * 0.5 * cam.width - cam.cx) / cam.fx
            yn = ((gy.reshape(-1) + 1) * 0.5 * cam.height - cam.cy) / cam.fy
            flow = flow + rotational_flow(w_ref, xn, yn) * torch.tensor([cam.fx, cam.fy])
        grid = flow.T.reshape(1, 2, gh, gw)
        full = F.interpolate(grid, size=(cam.height, cam.width), mode="bilinear",
                             align_corners=True)
        return full[0].numpy().astype(np.float32)

    def _held(self, window: EventWindow, start: float) -> MotionEstimate:
        """A window that cannot be used: hold the previous motion, say so in ``info``."""
        omega = None
        if self._span is not None:
            s0, s1 = self._span
            tr = torch.tensor([min(max(window.t_ref_s, s0), s1) - s0], dtype=torch.float64)
            omega = (bspline.design_matrix(tr, self.params.n_ctrl, 0.0, s1 - s0)
                     @ self._w_ctrl)[0].numpy().copy()
        return MotionEstimate(t_ref_s=window.t_ref_s, omega=omega,
                              compute_s=time.perf_counter() - start,
                              info={"skipped": 1.0, "n_events": float(len(window.events))})
