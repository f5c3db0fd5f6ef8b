"""The IEMF rule (neuro_nodes.perception.fusion.iemf) against its published definition."""

from __future__ import annotations

import math

import pytest
import torch

from neuro_nodes.perception.fusion.iemf import (
    iemf_coefficient,
    modulate_gradients,
    true_class_score,
)


def test_true_class_score_sums_the_true_class_probabilities() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    y = torch.tensor([0, 1])
    p = torch.softmax(logits, 1)
    assert float(true_class_score(logits, y)) == pytest.approx(float(p[0, 0] + p[1, 1]))


def test_coefficient_is_one_plus_tanh_of_one_minus_the_ratio() -> None:
    y = torch.tensor([0, 1, 2, 0])
    fused = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)) * 3
    a = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    b = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    ratio = (float(true_class_score(a, y)) + float(true_class_score(b, y))) / 2 / float(
        true_class_score(fused, y))
    assert iemf_coefficient([a, b], fused, y) == pytest.approx(1 + math.tanh(1 - ratio))


def test_weak_unimodal_heads_boost_and_strong_ones_do_not() -> None:
    y = torch.tensor([0, 1, 2])
    sure = torch.eye(3) * 10  # the fused head is right and certain
    unsure = torch.zeros(3, 3)  # unimodal heads at chance
    assert iemf_coefficient([unsure, unsure], sure, y) > 1.5
    # unimodal heads as good as the fusion: ratio 1, no boost
    assert iemf_coefficient([sure, sure], sure, y) == pytest.approx(1.0)
    # better than the fusion: ratio > 1, the fusion step shrinks
    assert iemf_coefficient([sure, sure], unsure, y) < 1.0
    with pytest.raises(ValueError):
        iemf_coefficient([], sure, y)


def test_modulation_scales_the_gradient_and_adds_noise_of_its_spread() -> None:
    w = torch.nn.Parameter(torch.zeros(200, 50))
    g = torch.randn(200, 50, generator=torch.Generator().manual_seed(3))
    w.grad = g.clone()
    modulate_gradients([w], 1.5, noise=0.0)
    torch.testing.assert_close(w.grad, 1.5 * g)
    w.grad = g.clone()
    modulate_gradients([w], 1.5, noise=1.0, generator=torch.Generator().manual_seed(4))
    residual = w.grad - 1.5 * g
    assert float(residual.mean()) == pytest.approx(0.0, abs=0.02)
    assert float(residual.std()) == pytest.approx(float(g.std()), rel=0.05)
    b = torch.nn.Parameter(torch.zeros(3))  # no gradient: left alone
    modulate_gradients([b], 2.0)
    assert b.grad is None
