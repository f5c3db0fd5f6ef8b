"""Metrics of optical flow and egomotion estimates against ground truth (pure numpy).

Flow (MVSEC/DSEC convention, Zhu et al. 2018): flow in px/s is turned into the displacement
over ``dt_frames`` frame periods (``d = flow * dt_frames * frame_period_s``; MVSEC's dt = 1
and dt = 4) and compared only where the window had events AND the ground truth is finite
(pixels where the estimate is NaN count as misses of the whole true displacement: a method
cannot improve its score by abstaining; :func:`flow_errors` reports the coverage too).

* AEE: mean endpoint error ``|d_est - d_gt|`` (px).
* %Out (``out3``): share (%) of those pixels with error > 3 px AND > 5 % of ``|d_gt|``.

Egomotion:

* angular-velocity RMS: ``sqrt(mean_k |omega_est,k - omega_gt,k|^2)`` (rad/s), and as % of the
  sequence's largest ``|omega_gt|`` (undefined, NaN, when the camera does not rotate);
* translation-direction error: angle (deg) between the unit vectors of estimated and true
  linear velocity, skipped where ``|v_gt|`` is below ``min_speed`` or the estimate is zero;
* windows per second: windows processed / total compute time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuro_nodes.events.event_array import EventArray


@dataclass(frozen=True)
class FlowErrors:
    """Flow metrics of one window (or pooled over many: see :func:`pool_flow`)."""

    aee: float  # px
    out3: float  # %
    n_pixels: int  # pixels evaluated (events + finite ground truth)
    coverage: float  # share of them with a finite estimate
    sum_epe: float = 0.0  # for pooling
    n_out: int = 0


def event_mask(events: EventArray) -> np.ndarray:
    """(H, W) bool: pixels with at least one event."""
    m = np.zeros((events.height, events.width), bool)
    m[events.y, events.x] = True
    return m


def flow_errors(est: np.ndarray | None, gt: np.ndarray, mask: np.ndarray,
                dt_frames: float, frame_period_s: float) -> FlowErrors:
    """AEE and %Out of (2, H, W) px/s flows over ``dt_frames`` frames, on ``mask`` pixels
    where ``gt`` is finite; NaN (or missing) estimates count as zero displacement."""
    gt = np.asarray(gt, np.float64)
    if gt.ndim != 3 or gt.shape[0] != 2:
        raise ValueError(f"ground-truth flow must be (2, H, W), got {gt.shape}")
    if mask.shape != gt.shape[1:]:
        raise ValueError(f"mask is {mask.shape}, flow {gt.shape[1:]}")
    valid = mask & np.all(np.isfinite(gt), axis=0)
    n = int(valid.sum())
    if n == 0:
        return FlowErrors(float("nan"), float("nan"), 0, float("nan"))
    scale = float(dt_frames) * float(frame_period_s)
    d_gt = gt[:, valid] * scale
    if est is None:
        d_est = np.zeros_like(d_gt)
        have = np.zeros(n, bool)
    else:
        e = np.asarray(est, np.float64)
        if e.shape != gt.shape:
            raise ValueError(f"estimated flow is {e.shape}, ground truth {gt.shape}")
        d_est = e[:, valid] * scale
        have = np.all(np.isfinite(d_est), axis=0)
        d_est = np.where(have, d_est, 0.0)
    epe = np.linalg.norm(d_est - d_gt, axis=0)
    mag = np.linalg.norm(d_gt, axis=0)
    out = (epe > 3.0) & (epe > 0.05 * mag)
    return FlowErrors(float(epe.mean()), 100.0 * float(out.mean()), n, float(have.mean()),
                      float(epe.sum()), int(out.sum()))


def pool_flow(items: list[FlowErrors]) -> FlowErrors:
    """Pixel-weighted pooling of per-window errors (how MVSEC tables average frames is a
    per-frame mean; :func:`mean_flow` gives that)."""
    n = sum(i.n_pixels for i in items)
    if n == 0:
        return FlowErrors(float("nan"), float("nan"), 0, float("nan"))
    s = sum(i.sum_epe for i in items)
    o = sum(i.n_out for i in items)
    cov = sum(i.coverage * i.n_pixels for i in items) / n
    return FlowErrors(s / n, 100.0 * o / n, n, cov, s, o)


def mean_flow(items: list[FlowErrors]) -> tuple[float, float]:
    """Per-window mean of (AEE, %Out) over windows that had pixels to evaluate."""
    ok = [i for i in items if i.n_pixels > 0]
    if not ok:
        return float("nan"), float("nan")
    return float(np.mean([i.aee for i in ok])), float(np.mean([i.out3 for i in ok]))


def omega_rms(est: np.ndarray, gt: np.ndarray) -> float:
    """RMS over windows of the angular-velocity error norm (rad/s); rows (K, 3)."""
    est, gt = np.asarray(est, np.float64), np.asarray(gt, np.float64)
    if est.shape != gt.shape or est.ndim != 2 or est.shape[1] != 3:
        raise ValueError(f"omega arrays must both be (K, 3), got {est.shape} and {gt.shape}")
    if len(est) == 0:
        return float("nan")
    return float(np.sqrt(np.mean(np.sum((est - gt) ** 2, axis=1))))


def omega_rms_pct(est: np.ndarray, gt: np.ndarray, max_omega: float) -> float:
    """:func:`omega_rms` as % of ``max_omega`` (the sequence's largest |omega|); NaN when the
    camera does not rotate (``max_omega`` ~ 0)."""
    if not max_omega > 1e-6:
        return float("nan")
    return 100.0 * omega_rms(est, gt) / float(max_omega)


def direction_errors_deg(est: np.ndarray, gt: np.ndarray, min_speed: float = 0.05,
                         ) -> np.ndarray:
    """Angle (deg) between estimated and true linear-velocity directions, per row, for rows
    where ``|gt| >= min_speed`` and the estimate is non-zero (others left out)."""
    est, gt = np.asarray(est, np.float64), np.asarray(gt, np.float64)
    if est.shape != gt.shape or est.ndim != 2 or est.shape[1] != 3:
        raise ValueError(f"velocity arrays must both be (K, 3), got {est.shape} and {gt.shape}")
    ne, ng = np.linalg.norm(est, axis=1), np.linalg.norm(gt, axis=1)
    ok = (ng >= min_speed) & (ne > 1e-12) & np.all(np.isfinite(est), axis=1)
    cos = np.sum(est[ok] * gt[ok], axis=1) / (ne[ok] * ng[ok])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def windows_per_s(compute_s: list[float] | np.ndarray) -> float:
    """Throughput: windows / total compute seconds."""
    total = float(np.sum(compute_s))
    return float(len(compute_s)) / total if total > 0 else float("nan")


__all__ = [
    "FlowErrors",
    "direction_errors_deg",
    "event_mask",
    "flow_errors",
    "mean_flow",
    "omega_rms",
    "omega_rms_pct",
    "pool_flow",
    "windows_per_s",
]
