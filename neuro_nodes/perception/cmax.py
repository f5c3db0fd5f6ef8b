"""Contrast-maximisation baseline (Gallego et al., CVPR 2018): rotation and patch-wise flow.

**Rotational egomotion.** The window's events are warped to ``t_ref`` by a constant angular
velocity ``omega`` (:func:`~neuro_nodes.events.representations.warp_events_rotation`), splatted
bilinearly into the image of warped events (IWE), smoothed by a Gaussian, and ``omega``
maximises the IWE's contrast (variance or mean squared gradient magnitude). The parameters
are scaled to pixels (``omega * duration * f``) so that one unit moves the image edge by
about one pixel over the window, which keeps L-BFGS well conditioned; it starts from the
previous window's estimate (warm start) and from zero if that is worse.

**Patch-wise flow.** The image is cut into ``patch_px`` squares; each patch with at least
``min_patch_events`` events gets one constant flow. All patch flows are optimised together
by L-BFGS on the contrast of the IWE of the events warped by their patch's flow, plus two
quadratic terms (in pixels of displacement at the window ends) that resolve the aperture
problem of patches seeing one edge direction: a pull towards each patch's start value and
a pull between neighbouring patches. The start value is the previous window's flow of the
patch (warm start) or, without one, the flow that this window's ``omega`` would cause. The
dense output repeats each patch's flow over its pixels (NaN where a patch had too few
events). Without the two terms, aperture patches drift along their edge. The weights were
chosen on TRAIN_SPECS only (sim.datasets.event_motion; dt = 1 AEE on 6dof-checker-x1-s108:
1.24 px at (0.002, 0.01), 0.85 at (0.0005, 0.003), 0.61 at (0.0001, 0.0005), 0.74 at
(0.00002, 0.0001)).

The contrast gain (``info["contrast_gain"]``) is the rotational objective at the estimate
divided by that at zero motion: what ``neuro eval --bag`` reports where there is no ground
truth.

===================== ========= ==========================================================
CMaxParams            default   meaning
===================== ========= ==========================================================
objective             variance  ``variance`` (Gallego 2018) or ``gradient`` (mean squared
                                Sobel gradient magnitude, Gallego 2019)
blur_sigma_px         1.0       Gaussian smoothing of the rotational IWE (px; 0 = none)
rotation_iterations   25        L-BFGS iterations (strong Wolfe line search) per window
max_events            30000     events used by the rotation (evenly subsampled above)
estimate_flow         True      also estimate patch-wise flow
patch_px              20        patch side (px)
min_patch_events      60        fewer events in a patch: no flow there (NaN)
flow_iterations       30        L-BFGS iterations of the patch flows per window
prior_weight          0.0001    pull of a patch flow to its start value (per px^2)
smooth_weight         0.0005    pull between neighbouring patch flows (per px^2)
===================== ========= ==========================================================
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from neuro_nodes.core.params import param, validated
from neuro_nodes.events.representations import (
    image_of_warped_events_torch,
    iwe_gradient_magnitude,
    iwe_variance,
    warp_events_rotation,
)
from neuro_nodes.perception.types import EventWindow, MotionEstimate, PinholeCamera

OBJECTIVES = ("variance", "gradient")


@dataclass(frozen=True)
class CMaxParams:
    """Contrast-maximisation baseline (table in the module docstring)."""

    objective: str = param("variance", "IWE contrast objective", choices=OBJECTIVES)
    blur_sigma_px: float = param(1.0, "Gaussian blur of the rotational IWE (px)", min=0.0,
                                 max=5.0)
    rotation_iterations: int = param(25, "L-BFGS iterations per window", min=1, max=500)
    max_events: int = param(30000, "Events used by the rotation at most", min=100,
                            max=10_000_000)
    estimate_flow: bool = param(True, "Also estimate patch-wise flow")
    patch_px: int = param(20, "Patch side (px)", min=4, max=512)
    min_patch_events: int = param(60, "Events a patch needs for a flow estimate", min=2,
                                  max=1_000_000)
    flow_iterations: int = param(30, "L-BFGS iterations of the patch flows per window",
                                 min=1, max=500)
    prior_weight: float = param(0.0001, "Pull of each patch flow to its start value "
                                "(per px^2 of displacement at the window ends)", min=0.0,
                                max=100.0)
    smooth_weight: float = param(0.0005, "Pull between neighbouring patch flows (per px^2)",
                                 min=0.0, max=100.0)


# ---------------------------------------------------------------------------------- rotation
def _gauss_kernel(sigma: float):  # noqa: ANN202 - torch tensor
    import torch

    r = max(1, int(math.ceil(2.5 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / sigma) ** 2)
    return k / k.sum()


def _blur(img, kernel):  # noqa: ANN001, ANN202 - torch tensors
    import torch.nn.functional as F  # noqa: N812

    if kernel is None:
        return img
    r = kernel.numel() // 2
    x = img[None, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r)), kernel.view(1, 1, -1, 1))
    return x[0, 0]


def _warp_rotation32(bx, by, t, omega, camera: PinholeCamera):  # noqa: ANN001, ANN202
    """:func:`warp_events_rotation` in float32 on precomputed bearings ``(bx, by, 1)``
    (Rodrigues per event, same formula; float32 halves the cost of each evaluation)."""
    import torch

    v = torch.stack([bx, by, torch.ones_like(bx)], dim=-1)
    a = t[:, None] * omega[None, :]  # rotation vectors: f' = exp(-[w] (0 - t)) f
    theta2 = (a * a).sum(-1, keepdim=True)
    small = theta2 < 1e-8
    th2 = torch.where(small, torch.ones_like(theta2), theta2)
    th = torch.sqrt(th2)
    sinc = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(th) / th)
    cosc = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(th)) / th2)
    cos_t = torch.where(small, 1.0 - theta2 / 2.0, torch.cos(th))
    rot = v * cos_t + torch.linalg.cross(a, v, dim=-1) * sinc \
        + a * (a * v).sum(-1, keepdim=True) * cosc
    return (camera.fx * rot[:, 0] / rot[:, 2] + camera.cx,
            camera.fy * rot[:, 1] / rot[:, 2] + camera.cy)


def rotation_objective(x, y, t, omega, camera: PinholeCamera, objective: str,  # noqa: ANN001, ANN201
                       kernel=None):  # noqa: ANN001
    """Contrast of the IWE of events ``(x, y, t - t_ref)`` warped by ``omega`` (torch;
    float64 reference path through :func:`warp_events_rotation`)."""
    xw, yw = warp_events_rotation(x, y, t, omega, camera.matrix, 0.0)
    iwe = _blur(image_of_warped_events_torch(xw, yw, camera.width, camera.height), kernel)
    return iwe_variance(iwe) if objective == "variance" else iwe_gradient_magnitude(iwe)


def estimate_rotation(window: EventWindow, params: CMaxParams,
                      init: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """``omega`` (3,) maximising the IWE contrast of ``window`` (module docstring)."""
    import torch

    ev = window.events
    cam = window.camera
    n = len(ev)
    idx = np.linspace(0, n - 1, params.max_events).astype(np.int64) if n > params.max_events \
        else slice(None)
    t_ref_ns = int(round(window.t_ref_s * 1e9))
    f32 = torch.float32
    bx = torch.as_tensor((ev.x[idx] - cam.cx) / cam.fx, dtype=f32)
    by = torch.as_tensor((ev.y[idx] - cam.cy) / cam.fy, dtype=f32)
    t = torch.as_tensor((ev.t[idx] - t_ref_ns).astype(np.float64) * 1e-9, dtype=f32)
    duration = max(window.t1_s - window.t0_s, 1e-6)
    scale = 1.0 / (duration * 0.5 * (cam.fx + cam.fy))  # pixel units -> rad/s
    kernel = _gauss_kernel(params.blur_sigma_px) if params.blur_sigma_px > 0 else None
    kernel = None if kernel is None else kernel.to(f32)

    def f(p: torch.Tensor) -> torch.Tensor:
        xw, yw = _warp_rotation32(bx, by, t, (p * scale).to(f32), cam)
        iwe = _blur(image_of_warped_events_torch(xw, yw, cam.width, cam.height), kernel)
        obj = iwe_variance(iwe) if params.objective == "variance" \
            else iwe_gradient_magnitude(iwe)
        return obj.to(torch.float64)

    with torch.no_grad():
        zero = torch.zeros(3, dtype=torch.float64)
        f0 = float(f(zero))
        start = zero
        if init is not None and np.all(np.isfinite(init)):
            cand = torch.as_tensor(np.asarray(init, np.float64) / scale)
            if float(f(cand)) > f0:
                start = cand
    p = start.clone().requires_grad_(True)
    norm = max(f0, 1e-12)  # objective scale-free for the line search's tolerances
    opt = torch.optim.LBFGS([p], lr=1.0, max_iter=params.rotation_iterations,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                            tolerance_change=1e-12)
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        evals += 1
        opt.zero_grad()
        loss = -f(p) / norm
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        best = float(f(p))
    omega = (p.detach() * scale).numpy().copy()
    if not np.all(np.isfinite(omega)) or best < f0:  # never worse than no motion
        omega, best = np.zeros(3), f0
    return omega, {"contrast_gain": best / norm, "evaluations": float(evals)}


def rotational_flow(omega: np.ndarray, camera: PinholeCamera, u: np.ndarray,
                    v: np.ndarray) -> np.ndarray:
    """Image velocity (2, ...) px/s of pixels ``(u, v)`` under camera rotation ``omega``."""
    wx, wy, wz = (float(a) for a in omega)
    x = (np.asarray(u, np.float64) - camera.cx) / camera.fx
    y = (np.asarray(v, np.float64) - camera.cy) / camera.fy
    fu = camera.fx * (x * y * wx - (1 + x * x) * wy + y * wz)
    fv = camera.fy * ((1 + y * y) * wx - x * y * wy - x * wz)
    return np.stack([fu, fv])


# ---------------------------------------------------------------------------------- patches
@dataclass(frozen=True)
class PatchGrid:
    """Square patches tiling a ``width`` x ``height`` image (the last ones may be cut)."""

    width: int
    height: int
    size: int

    @property
    def nx(self) -> int:
        return -(-self.width // self.size)

    @property
    def ny(self) -> int:
        return -(-self.height // self.size)

    @property
    def count(self) -> int:
        return self.nx * self.ny

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = self.size
        return (np.asarray(y, np.int64) // s) * self.nx + np.asarray(x, np.int64) // s

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        j, i = np.divmod(np.arange(self.count), self.nx)
        cx = np.minimum(i * self.size + 0.5 * (self.size - 1), self.width - 1)
        cy = np.minimum(j * self.size + 0.5 * (self.size - 1), self.height - 1)
        return cx.astype(np.float64), cy.astype(np.float64)

    def dense(self, per_patch: np.ndarray) -> np.ndarray:
        """(2, H, W) image repeating each patch's (P, 2) value over its pixels."""
        s = self.size
        img = per_patch.reshape(self.ny, self.nx, 2).transpose(2, 0, 1)
        img = np.repeat(np.repeat(img, s, axis=1), s, axis=2)
        return np.ascontiguousarray(img[:, :self.height, :self.width]).astype(np.float32)


def estimate_patch_flow(window: EventWindow, params: CMaxParams, init: np.ndarray,
                        grid: PatchGrid) -> tuple[np.ndarray, dict[str, float]]:
    """(P, 2) constant flow per patch (px/s; NaN with too few events), from ``init``
    (P, 2); see the module docstring."""
    import torch

    ev = window.events
    cam = window.camera
    pid_all = grid.index(ev.x, ev.y)
    counts = np.bincount(pid_all, minlength=grid.count)
    active = np.flatnonzero(counts >= params.min_patch_events)
    out = np.full((grid.count, 2), np.nan)
    if active.size == 0:
        return out, {"patches": 0.0}
    compact = np.full(grid.count, -1, np.int64)
    compact[active] = np.arange(active.size)
    keep = compact[pid_all] >= 0
    pid = torch.as_tensor(compact[pid_all[keep]])
    t_ref_ns = int(round(window.t_ref_s * 1e9))
    x = torch.as_tensor(ev.x[keep].astype(np.float32))
    y = torch.as_tensor(ev.y[keep].astype(np.float32))
    dt = torch.as_tensor(((t_ref_ns - ev.t[keep]) * 1e-9).astype(np.float32))
    half = max(0.5 * (window.t1_s - window.t0_s), 1e-6)  # flow = d / half: d in px
    start = np.where(np.isfinite(init[active]), init[active], 0.0) * half
    kernel = _gauss_kernel(params.blur_sigma_px) if params.blur_sigma_px > 0 else None

    prior = torch.as_tensor(start)
    # neighbour pairs among the active patches (right and down), for the smoothness term
    gy, gx = np.divmod(active, grid.nx)
    pos = {int(a): i for i, a in enumerate(active)}
    pairs = [(i, pos[int(a) + 1]) for i, a in enumerate(active)
             if gx[i] + 1 < grid.nx and int(a) + 1 in pos]
    pairs += [(i, pos[int(a) + grid.nx]) for i, a in enumerate(active)
              if gy[i] + 1 < grid.ny and int(a) + grid.nx in pos]
    pi = torch.as_tensor(np.array([q[0] for q in pairs], np.int64))
    pj = torch.as_tensor(np.array([q[1] for q in pairs], np.int64))

    def penalty(d: torch.Tensor) -> torch.Tensor:
        pen = params.prior_weight * ((d - prior) ** 2).sum()
        if len(pairs):
            pen = pen + params.smooth_weight * ((d[pi] - d[pj]) ** 2).sum()
        return pen

    kernel = None if kernel is None else kernel.to(torch.float32)

    def f(d: torch.Tensor) -> torch.Tensor:
        v = (d[pid] / half).to(torch.float32)
        iwe = image_of_warped_events_torch(x + dt * v[:, 0], y + dt * v[:, 1], cam.width,
                                           cam.height)
        iwe = _blur(iwe, kernel)
        obj = iwe_variance(iwe) if params.objective == "variance" \
            else iwe_gradient_magnitude(iwe)
        return obj.to(torch.float64)

    d = torch.as_tensor(start).clone().requires_grad_(True)
    with torch.no_grad():
        norm = max(float(f(d)), 1e-12)
    opt = torch.optim.LBFGS([d], lr=1.0, max_iter=params.flow_iterations,
                            max_eval=params.flow_iterations + params.flow_iterations // 4,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                            tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = -f(d) / norm + penalty(d)
        loss.backward()
        return loss

    opt.step(closure)
    res = d.detach().numpy() / half
    bad = ~np.all(np.isfinite(res), axis=1)
    res[bad] = start[bad] / half
    out[active] = res
    with torch.no_grad():
        gain = float(f(d)) / norm
    return out, {"patches": float(active.size), "flow_contrast_gain": gain}


# ---------------------------------------------------------------------------------- estimator
class CMaxEstimator:
    """:class:`~neuro_nodes.perception.types.MotionEstimator` by contrast maximisation:
    ``omega`` and patch-wise ``flow`` (no linear velocity)."""

    name = "cmax"

    def __init__(self, camera: PinholeCamera, params: CMaxParams | None = None) -> None:
        self.camera = camera
        self.params = validated(params or CMaxParams())
        self.grid = PatchGrid(camera.width, camera.height, self.params.patch_px)
        self.reset()

    def reset(self) -> None:
        self._omega: np.ndarray | None = None
        self._flow: np.ndarray | None = None  # (P, 2)

    def process(self, window: EventWindow) -> MotionEstimate:
        t0 = time.perf_counter()
        p = self.params
        if len(window.events) < 10:
            return MotionEstimate(window.t_ref_s, omega=None, flow=None,
                                  compute_s=time.perf_counter() - t0,
                                  info={"events": float(len(window.events))})
        omega, info = estimate_rotation(window, p, self._omega)
        self._omega = omega
        flow = None
        if p.estimate_flow:
            cx, cy = self.grid.centres()
            init = rotational_flow(omega, window.camera, cx, cy).T  # (P, 2)
            if self._flow is not None:
                init = np.where(np.isfinite(self._flow), self._flow, init)
            per_patch, finfo = estimate_patch_flow(window, p, init, self.grid)
            info.update(finfo)
            self._flow = per_patch
            flow = self.grid.dense(per_patch)
        info["events"] = float(len(window.events))
        return MotionEstimate(window.t_ref_s, omega=omega, velocity=None, flow=flow,
                              compute_s=time.perf_counter() - t0, info=info)


__all__ = [
    "OBJECTIVES",
    "CMaxEstimator",
    "CMaxParams",
    "PatchGrid",
    "estimate_patch_flow",
    "estimate_rotation",
    "rotation_objective",
    "rotational_flow",
]
