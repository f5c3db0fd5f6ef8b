"""Delay, pooling, recurrent layer, multi-step containers (streaming, reset), graph executor."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuro_nodes.snn import (
    Delay,
    GraphError,
    GraphModule,
    IFCell,
    IFParameters,
    LIFCell,
    LIFParameters,
    Recurrent,
    Scale,
    SpikingSequential,
    SumPool2d,
)


def _lif(**kw) -> LIFCell:
    return LIFCell(LIFParameters(tau_mem=1e-2, r=10.0, **kw), dt=1e-3)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_delay_shifts_by_exactly_k_steps(k):
    torch.manual_seed(0)
    x = torch.randn(10, 2, 4)
    y = SpikingSequential(Delay(k))(x)
    assert torch.equal(y[k:], x[: 10 - k])
    assert torch.equal(y[:k], torch.zeros_like(y[:k]))


def test_delay_per_neuron_and_streaming():
    torch.manual_seed(0)
    steps = [0, 1, 2, 5]
    x = torch.randn(12, 3, 4)
    net = SpikingSequential(Delay(steps))
    y = net(x)
    for j, k in enumerate(steps):
        assert torch.equal(y[k:, :, j], x[: 12 - k, :, j])
        assert not y[:k, :, j].any()
    net.reset()
    chunks = torch.cat([net(x[:4]), net(x[4:5]), net(x[5:])])
    assert torch.equal(chunks, y)
    with pytest.raises(ValueError):
        Delay([-1, 2])
    with pytest.raises(ValueError):
        Delay(torch.tensor([1.5]))


def test_sumpool_sums_blocks():
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    y = SumPool2d(2)(x)
    assert torch.equal(y, x.reshape(1, 2, 2, 2, 2, 2).sum(dim=(3, 5)))
    yp = SumPool2d(3, stride=1, padding=1)(torch.ones(1, 1, 3, 3))
    assert yp[0, 0].tolist() == [[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]
    scaled = Scale(torch.tensor([1.0, 2.0]))(torch.ones(3, 2))
    assert torch.equal(scaled, torch.tensor([[1.0, 2.0]] * 3))


def test_recurrent_layer_matches_manual_loop():
    torch.manual_seed(0)
    w = nn.Linear(5, 5, bias=False)
    layer = Recurrent(_lif(v_th=0.3), w)
    x = torch.rand(20, 2, 5)
    z_seq = SpikingSequential(layer)(x)
    v, z = torch.zeros(2, 5), torch.zeros(2, 5)
    with torch.no_grad():
        for t in range(20):
            v = v + 0.1 * (-v + 10.0 * (x[t] + w(z)))
            z = (v > 0.3).float()
            v = torch.where(z > 0, torch.zeros_like(v), v)
            assert torch.allclose(z_seq[t], z), t
    assert z_seq.any() and not z_seq.all()


def test_sequential_streaming_reset_and_step():
    torch.manual_seed(0)
    net = SpikingSequential(
        nn.Conv2d(1, 3, 3, padding=1), _lif(v_th=0.2), SumPool2d(2), nn.Flatten(),
        nn.Linear(12, 4), IFCell(IFParameters(r=1e3, v_th=1.0)),
    )
    x = torch.rand(9, 2, 1, 4, 4)
    full = net(x)
    assert full.shape == (9, 2, 4)
    net.reset()
    assert torch.equal(torch.cat([net(x[:3]), net(x[3:])]), full)
    net.reset()
    assert torch.equal(torch.stack([net.step(x[t]) for t in range(9)]), full)
    net.reset()
    assert torch.equal(net(x), full)
    with pytest.raises(ValueError, match=r"\[T, B"):
        net(torch.ones(3))


def test_truncated_bptt_detach_between_chunks():
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)
    net = SpikingSequential(lin, _lif(v_th=0.2))
    net(torch.rand(5, 2, 3)).sum().backward()
    net.detach()
    net(torch.rand(5, 2, 3)).sum().backward()  # would fail if the graph were still attached
    assert lin.weight.grad is not None


def test_graph_back_edge_is_one_step_late():
    torch.manual_seed(0)
    w = nn.Linear(5, 5, bias=False)
    lif = _lif(v_th=0.3)
    gm = GraphModule({"lif": lif, "w": w}, [("in", "lif"), ("lif", "w"), ("w", "lif"),
                                              ("lif", "out")], ["in"], ["out"])
    assert gm.back_edges == [("w", "lif")]
    assert gm.order.index("lif") < gm.order.index("w")
    ref = SpikingSequential(Recurrent(lif, w))
    x = torch.rand(15, 2, 5)
    assert torch.equal(gm(x), ref(x))


def test_graph_sums_incoming_edges_and_multiple_io():
    a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    gm = GraphModule({"a": a, "b": b}, [("x", "a"), ("y", "b"), ("a", "o1"), ("b", "o1"),
                                        ("a", "o2")], ["x", "y"], ["o1", "o2"])
    x, y = torch.rand(4, 2, 2), torch.rand(4, 2, 2)
    out = gm({"x": x, "y": y})
    assert torch.allclose(out["o1"], a(x) + b(y)) and torch.allclose(out["o2"], a(x))
    with pytest.raises(ValueError, match="pass a dict"):
        gm(x)


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([("in", "a"), ("a", "zz"), ("a", "out")], "'zz'"),
        ([("in", "out"), ("a", "out")], "not reachable"),
        ([("in", "a"), ("in", "a"), ("a", "out")], "twice"),
        ([("in", "a")], "output 'out' has no incoming"),
    ],
)
def test_graph_rejects_malformed_wiring(edges, match):
    with pytest.raises(GraphError, match=match):
        GraphModule({"a": nn.Linear(2, 2)}, edges, ["in"], ["out"])


def test_graph_infer_shapes_names_the_node():
    gm = GraphModule({"a": nn.Linear(2, 3), "lif": _lif()},
                     [("in", "a"), ("a", "lif"), ("lif", "out")], ["in"], ["out"])
    assert gm.infer_shapes({"in": (2,)})["lif"] == ((3,), (3,))
    with pytest.raises(GraphError, match="node 'a'"):
        gm.infer_shapes({"in": (5,)})
