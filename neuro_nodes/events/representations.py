"""Dense representations of events for perception: counts, time surfaces, voxel grids, IWEs.

Everything here is pure numpy / torch (no ROS) and vectorised: scattering uses
``np.bincount(..., weights=...)`` or ``Tensor.index_add`` rather than per-event loops.

Conventions
-----------
* Images are ``H x W`` (row = y, column = x); polarity channels are indexed by the polarity
  value, so channel 0 holds OFF (p = 0) events and channel 1 holds ON (p = 1) events.
* Signed polarity is ``s = 2 p - 1``: +1 for ON, -1 for OFF.
* Timestamps of :class:`~neuro_nodes.events.event_array.EventArray` are int64 nanoseconds;
  the warping helpers take float seconds (subtract a reference time before converting, so
  that float64 keeps nanosecond resolution).

Contrast maximisation (Gallego et al., CVPR 2018): events ``e_k = (x_k, t_k)`` are warped
along a motion model to a reference time, ``x'_k = W(x_k, t_k; theta)``, and splatted into
an image of warped events (IWE) ``I(x; theta) = sum_k b_k delta(x - x'_k)``. The right motion
parameters align events triggered by the same edge, giving a sharp IWE with high contrast,
measured by e.g. :func:`iwe_variance` or :func:`iwe_gradient_magnitude`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from neuro_nodes.events.event_array import EventArray

if TYPE_CHECKING:
    import torch

__all__ = [
    "count_image",
    "time_surface",
    "voxel_grid",
    "voxel_grid_torch",
    "warp_events",
    "warp_events_rotation",
    "image_of_warped_events",
    "image_of_warped_events_torch",
    "iwe_variance",
    "iwe_gradient_magnitude",
]


def _pixel_index(events: EventArray) -> np.ndarray:
    return events.y.astype(np.int64) * events.width + events.x.astype(np.int64)


def _is_torch(a: Any) -> bool:
    return type(a).__module__.startswith("torch")


# ---------------------------------------------------------------------------- counts
def count_image(events: EventArray, *, polarity_channels: bool = True) -> np.ndarray:
    """Event counts per pixel as float32.

    ``C[p, y, x] = #{k : x_k = x, y_k = y, p_k = p}`` with shape ``(2, H, W)`` (channel 0 OFF,
    channel 1 ON) when ``polarity_channels``, else ``C[y, x] = sum_p C[p, y, x]``, ``(H, W)``.
    The counts sum to ``len(events)``.
    """
    h, w = events.height, events.width
    flat = _pixel_index(events)
    if polarity_channels:
        flat = flat + events.p.astype(np.int64) * (h * w)
        return np.bincount(flat, minlength=2 * h * w).astype(np.float32).reshape(2, h, w)
    return np.bincount(flat, minlength=h * w).astype(np.float32).reshape(h, w)


# ---------------------------------------------------------------------------- time surface
def _last_time_per_key(keys: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys and the largest ``t`` of each (one sort; no ufunc.at)."""
    order = np.lexsort((t, keys))  # by key, then by time
    ks = keys[order]
    last = np.flatnonzero(np.r_[ks[1:] != ks[:-1], True])
    return ks[last], t[order][last]


def time_surface(
    events: EventArray,
    t_ref_ns: int,
    tau_s: float,
    *,
    polarity_channels: bool = True,
) -> np.ndarray:
    """Exponentially decaying time surface (surface of active events) at ``t_ref_ns``.

    ``S[p, y, x] = exp(-(t_ref - t_last[p, y, x]) / tau)`` where ``t_last`` is the latest
    timestamp of an event at that pixel (and polarity) with ``t <= t_ref``; ``S = 0`` where
    there is none. Events after ``t_ref`` are ignored. Shape ``(2, H, W)`` (channel 0 OFF,
    channel 1 ON) or, without polarity channels, ``(H, W)`` using the latest event of either
    polarity. float32, values in ``(0, 1]``.
    """
    if not tau_s > 0:
        raise ValueError(f"tau_s must be positive, got {tau_s}")
    h, w = events.height, events.width
    channels = 2 if polarity_channels else 1
    out = np.zeros(channels * h * w, np.float32)
    past = events.t <= int(t_ref_ns)
    if np.any(past):
        keys = _pixel_index(events)[past]
        if polarity_channels:
            keys = keys + events.p[past].astype(np.int64) * (h * w)
        uniq, t_last = _last_time_per_key(keys, events.t[past])
        age_s = (int(t_ref_ns) - t_last).astype(np.float64) * 1e-9
        out[uniq] = np.exp(-age_s / tau_s)
    return out.reshape((2, h, w) if polarity_channels else (h, w))


# ---------------------------------------------------------------------------- voxel grid
def _voxel_window(t: np.ndarray, t0_ns: int | None, t1_ns: int | None) -> tuple[int, int]:
    t0 = int(t.min()) if t0_ns is None else int(t0_ns)
    t1 = int(t.max()) if t1_ns is None else int(t1_ns)
    if t1 < t0:
        raise ValueError(f"voxel grid window is empty: t1 ({t1}) < t0 ({t0})")
    return t0, t1


def voxel_grid(
    events: EventArray,
    num_bins: int,
    t0_ns: int | None = None,
    t1_ns: int | None = None,
    *,
    polarity_signed: bool = True,
    as_torch: bool = False,
    device: Any = None,
) -> np.ndarray | torch.Tensor:
    """Voxel grid of Zhu et al. (CVPR 2019), as used by E-RAFT: events spread over time bins.

    With ``B = num_bins`` and the window ``[t0, t1]`` (default: first and last event), each
    event gets the normalised time ``t*_k = (B - 1) (t_k - t0) / (t1 - t0)`` in ``[0, B-1]``
    (all ``t*_k = 0`` when ``t1 == t0``) and is spread *bilinearly in time* over the two
    nearest bins:

        ``V[b, y, x] = sum_k s_k max(0, 1 - |b - t*_k|) [x_k = x, y_k = y]``

    with ``s_k = 2 p_k - 1`` (``polarity_signed``) or ``s_k = 1``. An event on a bin centre
    falls entirely into that bin, one halfway between two bins splits 50/50, and the weights
    of every event sum to 1, so ``V.sum() == sum_k s_k``. Events outside ``[t0, t1]`` are
    ignored. Returns float32 ``(B, H, W)``: numpy, or a torch tensor on ``device`` when
    ``as_torch`` (computed by :func:`voxel_grid_torch`).
    """
    if int(num_bins) < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    if as_torch:
        import torch

        cols = events.to_torch(coord_dtype=torch.int64)
        return voxel_grid_torch(
            cols["t"].to(device), cols["x"].to(device), cols["y"].to(device),
            cols["p"].to(device), num_bins, events.width, events.height, t0_ns, t1_ns,
            polarity_signed=polarity_signed,
        )
    b, h, w = int(num_bins), events.height, events.width
    if not len(events):
        return np.zeros((b, h, w), np.float32)
    t0, t1 = _voxel_window(events.t, t0_ns, t1_ns)
    inside = (events.t >= t0) & (events.t <= t1)
    t = events.t[inside]
    flat = _pixel_index(events)[inside]
    value = (
        events.p[inside].astype(np.float64) * 2.0 - 1.0
        if polarity_signed
        else np.ones(t.size, np.float64)
    )
    span = t1 - t0
    tn = (t - t0).astype(np.float64) * ((b - 1) / span) if span > 0 else np.zeros(t.size)
    lo = np.minimum(np.floor(tn).astype(np.int64), b - 1)
    frac = tn - lo  # in [0, 1); 0 at the last bin centre
    hi = np.minimum(lo + 1, b - 1)
    n = b * h * w
    grid = np.bincount(lo * (h * w) + flat, weights=value * (1.0 - frac), minlength=n)
    grid += np.bincount(hi * (h * w) + flat, weights=value * frac, minlength=n)
    return grid.astype(np.float32).reshape(b, h, w)


def voxel_grid_torch(
    t_ns: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    p: torch.Tensor,
    num_bins: int,
    width: int,
    height: int,
    t0_ns: int | None = None,
    t1_ns: int | None = None,
    *,
    polarity_signed: bool = True,
) -> torch.Tensor:
    """:func:`voxel_grid` on tensors (any device): int64 ``t_ns``, integer ``x``/``y``/``p``.

    Same equation and conventions; float32 ``(num_bins, height, width)`` on the device of
    ``t_ns``.
    """
    import torch

    b, h, w = int(num_bins), int(height), int(width)
    if b < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    dev = t_ns.device
    grid = torch.zeros(b * h * w, dtype=torch.float64, device=dev)
    if t_ns.numel() == 0:
        return grid.to(torch.float32).reshape(b, h, w)
    t0 = int(t_ns.min()) if t0_ns is None else int(t0_ns)
    t1 = int(t_ns.max()) if t1_ns is None else int(t1_ns)
    if t1 < t0:
        raise ValueError(f"voxel grid window is empty: t1 ({t1}) < t0 ({t0})")
    inside = (t_ns >= t0) & (t_ns <= t1)
    t = t_ns[inside].to(torch.int64)
    flat = y[inside].to(torch.int64) * w + x[inside].to(torch.int64)
    if polarity_signed:
        value = p[inside].to(torch.float64) * 2.0 - 1.0
    else:
        value = torch.ones(t.numel(), dtype=torch.float64, device=dev)
    span = t1 - t0
    if span > 0:
        tn = (t - t0).to(torch.float64) * ((b - 1) / span)
    else:
        tn = torch.zeros(t.numel(), dtype=torch.float64, device=dev)
    lo = torch.clamp(torch.floor(tn).to(torch.int64), max=b - 1)
    frac = tn - lo
    hi = torch.clamp(lo + 1, max=b - 1)
    grid.index_add_(0, lo * (h * w) + flat, value * (1.0 - frac))
    grid.index_add_(0, hi * (h * w) + flat, value * frac)
    return grid.to(torch.float32).reshape(b, h, w)


# ---------------------------------------------------------------------------- warping
def warp_events(
    x: Any,
    y: Any,
    t_s: Any,
    flow: Any,
    t_ref_s: float = 0.0,
    *,
    displacement_dt_s: float | None = None,
) -> tuple[Any, Any]:
    """Warp events along optical flow to the reference time ``t_ref_s``.

    ``x'_k = x_k + (t_ref - t_k) v_x``, ``y'_k = y_k + (t_ref - t_k) v_y`` (constant velocity
    over the window: the position the moving point will have, or had, at ``t_ref``).

    ``flow`` (pixels per second) is one of: shape ``(2,)``, one velocity for all events;
    ``(N, 2)``, a velocity per event; ``(2, H, W)``, a dense flow field looked up at each
    event's pixel (``x``/``y`` rounded to the nearest integer and clipped to the image).
    With ``displacement_dt_s``, ``flow`` is a displacement in pixels over that duration
    instead (``v = d / dt``), as produced by e.g. E-RAFT.

    Works on numpy arrays (returns float64 arrays) and on torch tensors (returns tensors,
    differentiable with respect to ``flow``, ``x``, ``y`` and ``t_s``).
    """
    torch_mode = any(_is_torch(a) for a in (x, y, t_s, flow))
    if torch_mode:
        import torch

        def as_arr(a: Any) -> Any:
            if not torch.is_tensor(a):
                a = torch.as_tensor(np.asarray(a, dtype=np.float64))
            return a if a.is_floating_point() else a.to(torch.float64)
    else:
        def as_arr(a: Any) -> Any:
            return np.asarray(a, dtype=np.float64)

    xf, yf, tf, fl = as_arr(x), as_arr(y), as_arr(t_s), as_arr(flow)
    if displacement_dt_s is not None:
        if not displacement_dt_s > 0:
            raise ValueError(f"displacement_dt_s must be positive, got {displacement_dt_s}")
        fl = fl / float(displacement_dt_s)
    if fl.ndim == 1 and fl.shape[0] == 2:
        vx, vy = fl[0], fl[1]
    elif fl.ndim == 2 and fl.shape[1] == 2:
        vx, vy = fl[:, 0], fl[:, 1]
    elif fl.ndim == 3 and fl.shape[0] == 2:
        h, w = fl.shape[1], fl.shape[2]
        if torch_mode:
            xi = torch.clamp(torch.round(xf.detach()).to(torch.int64), 0, w - 1)
            yi = torch.clamp(torch.round(yf.detach()).to(torch.int64), 0, h - 1)
        else:
            xi = np.clip(np.rint(xf), 0, w - 1).astype(np.int64)
            yi = np.clip(np.rint(yf), 0, h - 1).astype(np.int64)
        vx, vy = fl[0, yi, xi], fl[1, yi, xi]
    else:
        raise ValueError(f"flow must have shape (2,), (N, 2) or (2, H, W), got {tuple(fl.shape)}")
    dt = t_ref_s - tf
    return xf + dt * vx, yf + dt * vy


def warp_events_rotation(
    x: Any,
    y: Any,
    t_s: Any,
    omega: Any,
    camera_matrix: Any,
    t_ref_s: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp events of a purely rotating camera to ``t_ref_s`` (rotational egomotion CMax).

    ``omega`` is the camera's angular velocity (rad/s, camera frame: x right, y down,
    z forward), constant over the window. A static scene point seen along the bearing
    ``f_k = K^-1 (x_k, y_k, 1)^T`` at ``t_k`` is seen at ``t_ref`` along
    ``f'_k = exp(-[omega]_x (t_ref - t_k)) f_k`` (Rodrigues' formula), and
    ``(x'_k, y'_k, 1)^T ~ K f'_k``. ``K`` is the 3x3 pinhole camera matrix (undistorted
    coordinates). Torch only (inputs are converted); differentiable with respect to
    ``omega``. Returns float64 tensors.
    """
    import torch

    def as_t(a: Any) -> torch.Tensor:
        if torch.is_tensor(a):
            return a if a.dtype == torch.float64 else a.to(torch.float64)
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    xf, yf, tf, om, k = as_t(x), as_t(y), as_t(t_s), as_t(omega), as_t(camera_matrix)
    fx, fy, cx, cy, skew = k[0, 0], k[1, 1], k[0, 2], k[1, 2], k[0, 1]
    by = (yf - cy) / fy
    bx = (xf - cx - skew * by) / fx
    v = torch.stack([bx, by, torch.ones_like(bx)], dim=-1)  # (N, 3) bearings, z = 1
    a = -(t_ref_s - tf)[:, None] * om[None, :]  # rotation vectors (N, 3)
    theta2 = (a * a).sum(-1, keepdim=True)
    small = theta2 < 1e-8
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta_safe = torch.sqrt(theta2_safe)
    sinc = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta_safe) / theta_safe)
    cosc = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta_safe)) / theta2_safe)
    cos_t = torch.where(small, 1.0 - theta2 / 2.0, torch.cos(theta_safe))
    rot = (
        v * cos_t
        + torch.linalg.cross(a, v, dim=-1) * sinc
        + a * (a * v).sum(-1, keepdim=True) * cosc
    )
    u = rot[:, 0] / rot[:, 2]
    w = rot[:, 1] / rot[:, 2]
    return fx * u + skew * w + cx, fy * w + cy


# ---------------------------------------------------------------------------- IWE
def image_of_warped_events(
    xw: np.ndarray,
    yw: np.ndarray,
    width: int,
    height: int,
    *,
    weights: np.ndarray | None = None,
    bilinear: bool = True,
) -> np.ndarray:
    """Image of warped events (IWE): splat float coordinates into an ``(H, W)`` float32 image.

    Bilinear: ``I(x, y) = sum_k b_k max(0, 1 - |x - x'_k|) max(0, 1 - |y - y'_k|)``, i.e.
    each event's weight ``b_k`` (default 1) goes to its four neighbouring pixels; corners
    outside the image are dropped (their share is lost). Otherwise nearest-pixel splatting
    (``round``). With integer coordinates both equal :func:`count_image` without polarity.
    """
    w, h = int(width), int(height)
    xw = np.asarray(xw, dtype=np.float64)
    yw = np.asarray(yw, dtype=np.float64)
    b = np.ones(xw.shape, np.float64) if weights is None else np.asarray(weights, np.float64)
    n = w * h
    if not bilinear:
        xi, yi = np.rint(xw), np.rint(yw)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        flat = yi[ok].astype(np.int64) * w + xi[ok].astype(np.int64)
        return np.bincount(flat, weights=b[ok], minlength=n).astype(np.float32).reshape(h, w)
    x0 = np.floor(xw)
    y0 = np.floor(yw)
    fx, fy = xw - x0, yw - y0
    # Events whose whole 2x2 footprint is outside contribute nothing; skip them up front.
    near = (x0 >= -1) & (x0 < w) & (y0 >= -1) & (y0 < h)
    if not np.all(near):
        x0, y0, fx, fy, b = x0[near], y0[near], fx[near], fy[near], b[near]
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    image = np.zeros(n, np.float64)
    for dx, dy, wgt in (
        (0, 0, (1.0 - fx) * (1.0 - fy)),
        (1, 0, fx * (1.0 - fy)),
        (0, 1, (1.0 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xc, yc = x0 + dx, y0 + dy
        ok = (xc >= 0) & (xc < w) & (yc >= 0) & (yc < h)
        image += np.bincount(yc[ok] * w + xc[ok], weights=(b * wgt)[ok], minlength=n)
    return image.astype(np.float32).reshape(h, w)


def image_of_warped_events_torch(
    xw: torch.Tensor,
    yw: torch.Tensor,
    width: int,
    height: int,
    *,
    weights: torch.Tensor | None = None,
    bilinear: bool = True,
) -> torch.Tensor:
    """:func:`image_of_warped_events` in torch, differentiable for contrast maximisation.

    The bilinear weights are differentiable in ``xw``/``yw`` (and the result in
    ``weights``), so ``d objective / d motion`` flows back through the warp. The image has
    the dtype of ``xw`` and lives on its device. Nearest splatting (``bilinear=False``) has
    no gradient with respect to the coordinates.
    """
    import torch

    w, h = int(width), int(height)
    dtype = xw.dtype if xw.is_floating_point() else torch.float32
    xw = xw.to(dtype)
    yw = yw.to(dtype)
    b = torch.ones_like(xw) if weights is None else weights.to(dtype)
    image = torch.zeros(w * h, dtype=dtype, device=xw.device)
    if not bilinear:
        xi = torch.round(xw.detach()).to(torch.int64)
        yi = torch.round(yw.detach()).to(torch.int64)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = torch.where(ok, yi * w + xi, torch.zeros_like(xi))
        return image.index_add(0, idx, b * ok.to(dtype)).reshape(h, w)
    x0 = torch.floor(xw.detach())
    y0 = torch.floor(yw.detach())
    fx, fy = xw - x0, yw - y0
    x0i, y0i = x0.to(torch.int64), y0.to(torch.int64)
    for dx, dy, wgt in (
        (0, 0, (1.0 - fx) * (1.0 - fy)),
        (1, 0, fx * (1.0 - fy)),
        (0, 1, (1.0 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xc, yc = x0i + dx, y0i + dy
        ok = (xc >= 0) & (xc < w) & (yc >= 0) & (yc < h)
        idx = torch.where(ok, yc * w + xc, torch.zeros_like(xc))
        image = image.index_add(0, idx, b * wgt * ok.to(dtype))
    return image.reshape(h, w)


# ---------------------------------------------------------------------------- objectives
def iwe_variance(iwe: Any) -> Any:
    """Contrast as the image variance (Gallego et al. 2018).

    ``Var(I) = 1/|Omega| sum_x (I(x) - mu_I)^2`` over the last two axes (``(..., H, W)``).
    Returns a float for numpy input, a (differentiable) tensor for torch input.
    """
    if _is_torch(iwe):
        d = iwe - iwe.mean(dim=(-2, -1), keepdim=True)
        return (d * d).mean(dim=(-2, -1))
    d = iwe - iwe.mean(axis=(-2, -1), keepdims=True)
    out = (d * d).mean(axis=(-2, -1))
    return _scalar(out)


def _scalar(out: Any) -> Any:
    if isinstance(out, np.ndarray | np.floating) and np.ndim(out) == 0:
        return float(out)
    return out


def iwe_gradient_magnitude(iwe: Any) -> Any:
    """Contrast as the mean squared gradient magnitude (Gallego et al. 2019, "Focus is all
    you need"): ``G(I) = 1/|Omega| sum_x ||grad I(x)||^2`` with 3x3 Sobel derivatives
    (normalised by 1/8, so a unit ramp has unit gradient) over the interior pixels of the
    last two axes. Float for numpy input, tensor for torch input.
    """
    a = iwe
    gx = (
        (a[..., :-2, 2:] + 2.0 * a[..., 1:-1, 2:] + a[..., 2:, 2:])
        - (a[..., :-2, :-2] + 2.0 * a[..., 1:-1, :-2] + a[..., 2:, :-2])
    ) / 8.0
    gy = (
        (a[..., 2:, :-2] + 2.0 * a[..., 2:, 1:-1] + a[..., 2:, 2:])
        - (a[..., :-2, :-2] + 2.0 * a[..., :-2, 1:-1] + a[..., :-2, 2:])
    ) / 8.0
    g2 = gx * gx + gy * gy
    out = g2.mean(dim=(-2, -1)) if _is_torch(iwe) else g2.mean(axis=(-2, -1))
    return _scalar(out)
