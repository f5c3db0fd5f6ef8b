"""Event-driven execution gives exactly the dense reference's results; streaming == batch."""

from __future__ import annotations

import pytest
import torch
from accel_nets import DT, NETS, dyadic_, make_graph, spikes
from torch import nn

from neuro_nodes.accel import AccelError, AccelModel
from neuro_nodes.accel.fused import FusedNeuron
from neuro_nodes.snn import (
    CubaLIFCell,
    CubaLIFParameters,
    IFCell,
    IFParameters,
    LIFCell,
    LIFParameters,
    SpikingSequential,
    export_nir,
    import_nir,
)

T, B = 12, 3


def reference(graph, x):
    """The snn GraphModule of the same graph: the dense reference."""
    gm = import_nir(graph, DT)
    with torch.no_grad():
        return gm(x)


@pytest.mark.parametrize("fused", [False, True], ids=["stepfn", "fused"])
@pytest.mark.parametrize("name", sorted(NETS))
def test_event_driven_equals_dense_exactly(name, fused):
    graph, shape = make_graph(name)
    x = spikes((T, B, *shape), 0.25)
    ref = reference(graph, x)
    event = AccelModel(graph, DT, fused_neurons=fused)
    dense = AccelModel(graph, DT, backend="dense")
    out_e, out_d = event.run(x), dense.run(x)
    assert torch.equal(out_d, ref)
    assert torch.equal(out_e, ref)  # every value, also real-valued outputs (LI)
    c = event.counters()
    assert c.sops > 0 and c.spikes > 0  # a real test: spikes flowed through event layers
    assert c.macs == 0  # binary input: nothing ran densely
    if name != "mlp":
        assert 0 < ref.float().mean() < 1  # outputs neither silent nor saturated


@pytest.mark.parametrize("name", ["conv", "recurrent"])
def test_spikes_equal_with_arbitrary_float_weights(name):
    """Weights off the binary grid: sums round differently, spikes still agree."""
    graph, shape = make_graph(name)
    for node in graph.nodes.values():  # perturb every weight by an irrational-ish amount
        if hasattr(node, "weight"):
            node.weight = node.weight * 1.0137 + 1e-3
    x = spikes((T, B, *shape), 0.3, seed=4)
    ref = reference(graph, x)
    out = AccelModel(graph, DT, fused_neurons=True).run(x)
    assert torch.equal(out, ref)


def test_real_valued_input_runs_the_first_layer_densely():
    graph, shape = make_graph("conv")
    gen = torch.Generator().manual_seed(3)
    x = torch.rand((T, B, *shape), generator=gen) * (torch.rand((T, B, *shape),
                                                                generator=gen) < 0.3)
    model = AccelModel(graph, DT)
    assert torch.equal(model.run(x), reference(graph, x))
    layers = model.counters().layers
    assert layers["0"].macs == layers["0"].dense_macs > 0 and layers["0"].sops == 0
    assert layers["2"].sops > 0 and layers["2"].macs == 0  # hidden layers stay event-driven
    # event_inputs=True forces events (values as weights), False forces dense
    forced = AccelModel(graph, DT, event_inputs=True)
    assert torch.equal(forced.run(x), reference(graph, x))
    assert forced.counters().layers["0"].macs == 0


def test_streaming_step_by_step_equals_batch():
    graph, shape = make_graph("recurrent")
    x = spikes((T, B, *shape), 0.3)
    batch = AccelModel(graph, DT).run(x)
    stream = AccelModel(graph, DT)
    steps = [stream.step(x[t]) for t in range(T)]
    assert torch.equal(torch.stack(steps), batch)
    # state is kept between calls: two halves equal the whole; reset() starts over
    halves = AccelModel(graph, DT, fused_neurons=True)
    assert torch.equal(torch.cat([halves.run(x[:5]), halves.run(x[5:])]), batch)
    halves.reset()
    assert torch.equal(halves.run(x), batch)
    assert stream.counters().steps == T and stream.counters().sample_steps == T * B


def test_numpy_input_and_graph_from_file(tmp_path):
    import nir

    graph, shape = make_graph("mlp")
    path = tmp_path / "mlp.nir"
    nir.write(path, graph)
    model = AccelModel(path)  # dt from the graph's metadata
    assert model.name == "mlp" and model.dt == DT
    x = spikes((T, B, *shape), 0.25)
    assert torch.equal(model.run(x.numpy()), reference(graph, x))


@pytest.mark.parametrize("cell", [
    LIFCell(LIFParameters(tau_mem=torch.rand(3, 4, 5) * 1e-2 + 1e-3, r=7.0, v_leak=0.05,
                          v_th=torch.rand(3, 4, 5), v_reset=-0.1), DT),
    CubaLIFCell(CubaLIFParameters(tau_syn=3e-3, tau_mem=torch.rand(3, 4, 5) * 1e-2 + 2e-3,
                                  r=5.0, w_in=2.0, v_leak=-0.02, v_th=0.4), DT),
    IFCell(IFParameters(r=torch.rand(3, 4, 5) * 500, v_th=0.3, v_reset=0.05), DT),
], ids=["LIF", "CubaLIF", "IF"])
def test_fused_neuron_update_is_bit_identical_to_the_step_function(cell):
    from neuro_nodes.accel.ops import compact_params

    for p in (cell.p, compact_params(cell.p)):
        assert FusedNeuron(cell, p).check((3, 4, 5))


def test_fused_falls_back_on_subtractive_reset():
    cell = LIFCell(LIFParameters(reset="subtract"), DT)
    assert not FusedNeuron.supports(cell, cell.p)


def test_bad_input_shape_names_the_input():
    graph, _ = make_graph("mlp")
    model = AccelModel(graph, DT)
    with pytest.raises(AccelError, match=r"input 'input'.*\(16,\).*\(2, 15\)") as e:
        model.step(torch.zeros(2, 15))
    assert e.value.node == "input" and e.value.primitive == "Input"
    with pytest.raises(AccelError, match="T, B"):
        model.run(torch.zeros(16))


def test_shapes_unknown_until_run_time_are_checked_at_the_node():
    import nir

    net = dyadic_(SpikingSequential(nn.Linear(4, 3), LIFCell()), torch.Generator())
    graph = export_nir(net, DT, (4,))
    graph.nodes["input"] = nir.Input(input_type={"input": None})
    graph.nodes["0"].input_type = {"input": None}
    model = AccelModel(graph, DT)
    with pytest.raises(AccelError, match=r"node '0' \(Affine\).*4 input features") as e:
        model.step(torch.ones(1, 5))
    assert e.value.node == "0"


@pytest.mark.parametrize("fused", [False, True], ids=["stepfn", "fused"])
def test_changing_the_batch_size_mid_stream_is_an_error_not_a_crash(fused):
    graph, shape = make_graph("conv")
    model = AccelModel(graph, DT, fused_neurons=fused)
    model.step(spikes((2, *shape), 0.3))
    with pytest.raises(AccelError, match="node '1'"):
        model.step(spikes((3, *shape), 0.3))
    model.reset()
    assert model.step(spikes((3, *shape), 0.3)).shape[0] == 3
