"""A profile without a sourced figure gives "no figure" (NaN), never an invented 0."""

from __future__ import annotations

import math

import pytest
import torch
from accel_nets import make_graph

from neuro_nodes.accel import AccelModel
from neuro_nodes.accel.energy import estimate, missing_figure, no_figure


def test_no_figure_keeps_the_counters_and_says_why() -> None:
    graph, _ = make_graph("mlp", 0)
    model = AccelModel(graph)
    model.run((torch.rand(5, 2, 16) < 0.3).float())
    counters = model.counters()
    assert missing_figure("loihi") is None
    reason = missing_figure("speck")
    assert reason and "speck" in reason and "synaptic operation" in reason
    e = no_figure(counters, "speck")
    assert math.isnan(e.total_j) and math.isnan(e.dense_equivalent_j)
    assert e.sops == counters.sops > 0 and e.sources["missing"] == reason
    assert set(e.per_layer) == set(counters.layers)
    with pytest.raises(ValueError, match="has every figure"):
        no_figure(counters, "loihi")
    assert estimate(counters, "loihi").total_j > 0
