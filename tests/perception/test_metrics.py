"""Flow and egomotion metrics against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.perception.metrics import (
    direction_errors_deg,
    event_mask,
    flow_errors,
    mean_flow,
    omega_rms,
    omega_rms_pct,
    pool_flow,
    windows_per_s,
)


def test_aee_and_out3_hand_computed() -> None:
    # 1x4 image; frame period 0.1 s, dt = 1: displacement = flow * 0.1
    gt = np.zeros((2, 1, 4))
    gt[0] = [10.0, 100.0, 100.0, np.nan]  # d_gt = 1, 10, 10 px (last: undefined)
    est = np.zeros((2, 1, 4))
    est[0] = [10.0, 60.0, 100.0, 0.0]
    est[1] = [0.0, 0.0, 35.0, 0.0]  # errors: 0, 4, 3.5 px
    mask = np.array([[True, True, True, True]])
    e = flow_errors(est, gt, mask, 1, 0.1)
    assert e.n_pixels == 3
    assert e.aee == pytest.approx((0.0 + 4.0 + 3.5) / 3)
    # 4 > 3 and 4 > 0.5 -> out; 3.5 > 3 and > 0.5 -> out
    assert e.out3 == pytest.approx(200.0 / 3)
    # dt = 4 multiplies the displacements by 4
    e4 = flow_errors(est, gt, mask, 4, 0.1)
    assert e4.aee == pytest.approx(4 * (7.5 / 3))
    # only pixels with events count
    e1 = flow_errors(est, gt, np.array([[True, False, False, False]]), 1, 0.1)
    assert e1.aee == 0.0 and e1.out3 == 0.0 and e1.n_pixels == 1


def test_out3_needs_both_thresholds() -> None:
    gt = np.zeros((2, 1, 2))
    gt[0] = [1000.0, 10.0]  # d = 100 px and 1 px
    est = gt.copy()
    est[0] += [40.0, 0.0]  # 4 px error on 100 px: > 3 px but < 5 % -> in
    est[1] += [0.0, 25.0]  # 2.5 px error on 1 px: > 5 % but < 3 px -> in
    e = flow_errors(est, gt, np.ones((1, 2), bool), 1, 0.1)
    assert e.out3 == 0.0
    assert e.aee == pytest.approx((4.0 + 2.5) / 2)


def test_nan_estimate_counts_as_zero_displacement() -> None:
    gt = np.zeros((2, 1, 2))
    gt[1] = [30.0, 40.0]
    est = np.full((2, 1, 2), np.nan)
    est[:, 0, 0] = [0.0, 30.0]
    e = flow_errors(est, gt, np.ones((1, 2), bool), 1, 0.1)
    assert e.aee == pytest.approx(4.0 / 2) and e.coverage == 0.5
    assert flow_errors(None, gt, np.ones((1, 2), bool), 1, 0.1).aee == pytest.approx(3.5)


def test_pooling_and_means() -> None:
    gt = np.zeros((2, 1, 3))
    gt[0] = 10.0
    a = flow_errors(gt + 10.0 * np.array([1, 0])[:, None, None], gt, np.ones((1, 3), bool),
                    1, 1.0)  # 10 px error on |d| = 10 px: out
    b = flow_errors(gt, gt, np.array([[True, False, False]]), 1, 1.0)  # 0 px, one pixel
    assert a.aee == pytest.approx(10.0) and a.out3 == pytest.approx(100.0)
    p = pool_flow([a, b])
    assert p.aee == pytest.approx(30.0 / 4) and p.out3 == pytest.approx(75.0)
    assert mean_flow([a, b]) == (pytest.approx(5.0), pytest.approx(50.0))


def test_event_mask() -> None:
    ev = EventArray(np.array([0, 1, 2]), np.array([0, 2, 2]), np.array([1, 0, 0]),
                    np.array([1, 0, 1]), 3, 2)
    m = event_mask(ev)
    assert m.tolist() == [[False, False, True], [True, False, False]]


def test_omega_rms_hand_computed() -> None:
    gt = np.array([[0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    est = np.array([[0.0, 0.0, 1.3], [0.4, 2.0, 0.0]])  # errors 0.3 and 0.4
    assert omega_rms(est, gt) == pytest.approx(math.sqrt((0.09 + 0.16) / 2))
    assert omega_rms_pct(est, gt, 2.0) == pytest.approx(100 * math.sqrt(0.125) / 2)
    assert math.isnan(omega_rms_pct(est, gt, 0.0))
    with pytest.raises(ValueError, match="omega"):
        omega_rms(est[:, :2], gt[:, :2])


def test_direction_error_hand_computed() -> None:
    gt = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.01, 0.0, 0.0], [1.0, 0, 0]])
    est = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, -0.5], [1.0, 0.0, 0.0], [0.0, 0, 0]])
    ang = direction_errors_deg(est, gt, min_speed=0.05)
    # third row: too slow; fourth: no estimate
    np.testing.assert_allclose(ang, [45.0, 180.0])


def test_windows_per_s() -> None:
    assert windows_per_s([0.1, 0.3]) == pytest.approx(5.0)
    assert math.isnan(windows_per_s([]))
