"""Uniform cubic B-spline: partition of unity, C2 continuity, exact cubic fit, warm start."""

from __future__ import annotations

import pytest
import torch

from neuro_nodes.perception import bspline

D = torch.float64


def test_basis_is_a_non_negative_partition_of_unity() -> None:
    s = torch.linspace(0.0, 1.0, 101, dtype=D)
    b = bspline.basis(s)
    assert torch.allclose(b.sum(-1), torch.ones(101, dtype=D), atol=1e-14)
    assert (b >= 0).all()
    # Derivatives of a partition of unity sum to zero.
    zero = torch.zeros(101, dtype=D)
    assert torch.allclose(bspline.basis_derivative(s).sum(-1), zero, atol=1e-13)
    assert torch.allclose(bspline.basis_derivative(s, 2).sum(-1), zero, atol=1e-13)


def test_design_matrix_rows_sum_to_one_and_match_evaluate() -> None:
    t = torch.linspace(0.2, 0.5, 50, dtype=D)
    a = bspline.design_matrix(t, 7, 0.2, 0.5)
    assert torch.allclose(a.sum(1), torch.ones(50, dtype=D), atol=1e-13)
    ctrl = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=D)
    assert torch.allclose(a @ ctrl, bspline.evaluate(ctrl, t, 0.2, 0.5), atol=1e-13)
    ad = bspline.design_matrix(t, 7, 0.2, 0.5, order=1)
    assert torch.allclose(ad @ ctrl, bspline.derivative(ctrl, t, 0.2, 0.5), atol=1e-12)


@pytest.mark.parametrize("order", [0, 1, 2])
def test_curve_is_c2_at_the_knots(order: int) -> None:
    ctrl = torch.randn(8, 2, generator=torch.Generator().manual_seed(2), dtype=D)
    t0, t1 = 1.0, 2.0
    h = (t1 - t0) / 5
    eps = 1e-9
    for k in range(1, 5):  # interior knots
        knot = t0 + k * h
        tt = torch.tensor([knot - eps, knot + eps], dtype=D)
        f = (bspline.evaluate(ctrl, tt, t0, t1) if order == 0
             else bspline.derivative(ctrl, tt, t0, t1, order))
        assert torch.allclose(f[0], f[1], atol=1e-6), (order, k, f)
    # The third derivative is not continuous in general: the test can tell the difference.
    b3 = torch.tensor([[-1.0, 3.0, -3.0, 1.0]], dtype=D)  # d^3 B / ds^3, constant per segment
    assert not torch.allclose((b3 @ ctrl[0:4]), (b3 @ ctrl[1:5]))


def test_a_cubic_polynomial_is_fitted_exactly() -> None:
    t0, t1 = -0.3, 0.7
    t = torch.linspace(t0, t1, 200, dtype=D)
    poly = torch.stack([1.0 - 2.0 * t + 0.5 * t**2 + 3.0 * t**3, 0.2 + 4.0 * t**3], dim=-1)
    ctrl = bspline.fit(t, poly, 6, t0, t1)
    tq = torch.linspace(t0, t1, 777, dtype=D)
    want = torch.stack([1.0 - 2.0 * tq + 0.5 * tq**2 + 3.0 * tq**3, 0.2 + 4.0 * tq**3], -1)
    assert torch.allclose(bspline.evaluate(ctrl, tq, t0, t1), want, atol=1e-7)
    dwant = torch.stack([-2.0 + tq + 9.0 * tq**2, 12.0 * tq**2], -1)
    assert torch.allclose(bspline.derivative(ctrl, tq, t0, t1), dwant, atol=1e-6)
    # A quartic is not reproducible: the fit leaves a residual (the test can fail).
    quartic = (t**4)[:, None]
    c4 = bspline.fit(t, quartic, 4, t0, t1)
    assert (bspline.evaluate(c4, t, t0, t1) - quartic).abs().max() > 1e-3


def test_resample_follows_the_old_curve_over_the_overlap() -> None:
    t = torch.linspace(0.0, 1.0, 100, dtype=D)
    vals = torch.stack([torch.sin(2 * t), t**2], -1)
    ctrl = bspline.fit(t, vals, 6, 0.0, 1.0)
    new = bspline.resample(ctrl, (0.0, 1.0), (0.5, 1.5))
    tq = torch.linspace(0.5, 1.0, 20, dtype=D)
    err = bspline.evaluate(new, tq, 0.5, 1.5) - bspline.evaluate(ctrl, tq, 0.0, 1.0)
    assert err.abs().max() < 0.05


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least 4 control points"):
        bspline.evaluate(torch.zeros(3, 1), torch.zeros(2), 0.0, 1.0)
    with pytest.raises(ValueError, match="window is empty"):
        bspline.evaluate(torch.zeros(4, 1), torch.zeros(2), 1.0, 1.0)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        bspline.basis_derivative(torch.zeros(2), 3)
