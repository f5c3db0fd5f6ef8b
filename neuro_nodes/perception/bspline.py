"""Uniform cubic B-splines over a time window (pure torch): the egomotion trajectory model.

A spline with ``M >= 4`` control points ``c_0..c_{M-1}`` (each a ``D``-vector) spans the
window ``[t0, t1]`` with ``M - 3`` segments of equal length ``h = (t1 - t0) / (M - 3)``.
On segment ``i`` (``t in [t0 + i h, t0 + (i+1) h)``, local ``s = (t - t0)/h - i in [0, 1)``)

    ``p(t) = sum_{j=0..3} B_j(s) c_{i+j}``,
    ``B_0 = (1-s)^3/6``, ``B_1 = (3s^3 - 6s^2 + 4)/6``, ``B_2 = (-3s^3 + 3s^2 + 3s + 1)/6``,
    ``B_3 = s^3/6``.

The basis sums to one (partition of unity), is non-negative, and the curve is C2 (the
uniform cubic B-spline basis has continuous first and second derivatives at the knots).
Any cubic polynomial is reproduced exactly. Times outside the window use the first/last
segment's polynomial (clamped ``s`` would make the curve flat; extrapolating the cubic keeps
warm starts smooth, and callers only evaluate slightly outside).
"""

from __future__ import annotations

import torch

__all__ = ["basis", "basis_derivative", "evaluate", "derivative", "fit", "design_matrix",
           "resample"]


def basis(s: torch.Tensor) -> torch.Tensor:
    """The four cubic basis weights at local parameters ``s`` (N,) -> (N, 4)."""
    s2 = s * s
    s3 = s2 * s
    return torch.stack(
        [(1 - s) ** 3, 3 * s3 - 6 * s2 + 4, -3 * s3 + 3 * s2 + 3 * s + 1, s3], dim=-1
    ) / 6.0


def basis_derivative(s: torch.Tensor, order: int = 1) -> torch.Tensor:
    """d^order B_j / ds^order at ``s`` (N,) -> (N, 4); order 1 or 2."""
    if order == 1:
        s2 = s * s
        return torch.stack(
            [-3 * (1 - s) ** 2, 9 * s2 - 12 * s, -9 * s2 + 6 * s + 3, 3 * s2], dim=-1
        ) / 6.0
    if order == 2:
        return torch.stack([6 * (1 - s), 18 * s - 12, -18 * s + 6, 6 * s], dim=-1) / 6.0
    raise ValueError(f"derivative order must be 1 or 2, got {order}")


def _segments(t: torch.Tensor, n_ctrl: int, t0: float, t1: float) -> tuple[torch.Tensor,
                                                                            torch.Tensor, float]:
    if n_ctrl < 4:
        raise ValueError(f"a cubic B-spline needs at least 4 control points, got {n_ctrl}")
    if not t1 > t0:
        raise ValueError(f"spline window is empty: t1 ({t1}) <= t0 ({t0})")
    n_seg = n_ctrl - 3
    h = (t1 - t0) / n_seg
    u = (t - t0) / h
    i = torch.clamp(torch.floor(u.detach()), 0, n_seg - 1).to(torch.int64)
    return i, u - i.to(u.dtype), h


def design_matrix(t: torch.Tensor, n_ctrl: int, t0: float, t1: float, order: int = 0
                  ) -> torch.Tensor:
    """Matrix ``A`` (N, M) with ``p^(order)(t) = A @ ctrl`` (order 0, 1 or 2, d/dt)."""
    i, s, h = _segments(t, n_ctrl, t0, t1)
    w = basis(s) if order == 0 else basis_derivative(s, order) / h**order
    a = torch.zeros(t.shape[0], n_ctrl, dtype=w.dtype, device=w.device)
    cols = i[:, None] + torch.arange(4, device=t.device)[None, :]
    return a.scatter_add(1, cols, w)


def evaluate(ctrl: torch.Tensor, t: torch.Tensor, t0: float, t1: float) -> torch.Tensor:
    """Spline value at times ``t`` (N,): ``ctrl`` (M, D) -> (N, D); differentiable in ctrl."""
    i, s, _ = _segments(t, ctrl.shape[0], t0, t1)
    w = basis(s).to(ctrl.dtype)  # (N, 4)
    idx = i[:, None] + torch.arange(4, device=t.device)[None, :]  # (N, 4)
    return (w[:, :, None] * ctrl[idx]).sum(1)


def derivative(ctrl: torch.Tensor, t: torch.Tensor, t0: float, t1: float, order: int = 1
               ) -> torch.Tensor:
    """d^order p / dt^order at ``t`` (N,) -> (N, D)."""
    i, s, h = _segments(t, ctrl.shape[0], t0, t1)
    w = (basis_derivative(s, order) / h**order).to(ctrl.dtype)
    idx = i[:, None] + torch.arange(4, device=t.device)[None, :]
    return (w[:, :, None] * ctrl[idx]).sum(1)


def fit(t: torch.Tensor, values: torch.Tensor, n_ctrl: int, t0: float, t1: float,
        ridge: float = 1e-9) -> torch.Tensor:
    """Least-squares control points (M, D) for samples ``values`` (N, D) at ``t`` (N,).

    A tiny ridge keeps the normal equations solvable when samples miss a segment (then the
    missing control points stay near zero instead of blowing up).
    """
    a = design_matrix(t, n_ctrl, t0, t1).to(values.dtype)
    ata = a.T @ a + ridge * torch.eye(n_ctrl, dtype=values.dtype, device=values.device)
    return torch.linalg.solve(ata, a.T @ values)


def resample(ctrl: torch.Tensor, old: tuple[float, float], new: tuple[float, float],
             n_samples: int = 32) -> torch.Tensor:
    """Control points for window ``new`` that follow the spline of window ``old``.

    The warm start of a sliding window: the old curve is sampled over the new window, as it
    is inside the old window and continued linearly (end value and end slope) beyond its
    ends (extrapolating the cubic over a whole window runs away), and fitted again. Same
    number of control points.
    """
    c = ctrl.detach().to(torch.float64)
    t = torch.linspace(new[0], new[1], n_samples, dtype=torch.float64)
    tc = torch.clamp(t, old[0], old[1])
    vals = evaluate(c, tc, *old) + (t - tc)[:, None] * derivative(c, tc, *old)
    return fit(t, vals, ctrl.shape[0], *new).to(ctrl.dtype)
