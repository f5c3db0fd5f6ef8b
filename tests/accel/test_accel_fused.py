"""One source for the neuron equations: the compiled neuron kernels of the event backend are
compiled from neuro_nodes.snn.equations, which the torch step functions also call, so an
edited equation changes both paths together (and a divergence is caught, not served)."""

from __future__ import annotations

import pytest
import torch
from accel_nets import DT, make_graph, spikes

from neuro_nodes.accel import AccelModel
from neuro_nodes.accel import fused as fz
from neuro_nodes.accel.fused import FusedNeuron
from neuro_nodes.accel.ops import NeuronOp
from neuro_nodes.snn import (
    CubaLIFCell,
    CubaLIFParameters,
    IFCell,
    IFParameters,
    LIFCell,
    LIFParameters,
    equations,
)

SHAPE = (3, 4, 5)
GEN = torch.Generator().manual_seed(0)


# edited equations: an input coefficient doubled (no float literal: see equations.py)
def leaky_integrate(v, x, dt_tau, r, v_leak):
    return v + dt_tau * ((v_leak - v) + (r + r) * x)


def synaptic_current(i, x, dt_tau_syn, w_in):
    return i + dt_tau_syn * ((w_in + w_in) * x - i)


def integrate(v, x, dt_r):
    return v + (dt_r + dt_r) * x


CASES = {
    "LIF": (LIFCell(LIFParameters(tau_mem=torch.rand(SHAPE, generator=GEN) * 1e-2 + 1e-3, r=7.0,
                                  v_leak=0.05, v_th=0.4, v_reset=-0.1), DT),
            "leaky_integrate", leaky_integrate),
    "CubaLIF": (CubaLIFCell(CubaLIFParameters(tau_syn=3e-3, tau_mem=1e-2, r=5.0, w_in=2.0,
                                              v_th=0.4), DT),
                "synaptic_current", synaptic_current),
    "IF": (IFCell(IFParameters(r=torch.rand(SHAPE, generator=GEN) * 500, v_th=0.3), DT),
           "integrate", integrate),
}


def trajectory(cell, steps: int = 6) -> torch.Tensor:
    """Spikes of ``cell``'s step function over a fixed input sequence."""
    gen = torch.Generator().manual_seed(5)
    state, out = None, []
    for _ in range(steps):
        z, state = type(cell).step_fn(torch.rand((2, *SHAPE), generator=gen) * 0.5, state,
                                      cell.p, cell.dt)
        out.append(z)
    return torch.stack(out)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_an_edited_equation_changes_the_step_function_and_the_kernel_alike(kind, tmp_path,
                                                                            monkeypatch):
    cell, name, edited = CASES[kind]
    before = trajectory(cell)
    default_file = fz.kernels().__file__
    monkeypatch.setattr(equations, name, edited)
    after = trajectory(cell)
    assert not torch.equal(before, after)  # the step function follows the edit...
    mod = fz.kernels(directory=tmp_path)
    assert mod.__file__ != default_file  # a new generated module: no stale compiled kernel
    neuron = FusedNeuron(cell, cell.p, mod)
    assert neuron.check(SHAPE)  # ...and so does the compiled kernel, bit for bit


def test_a_kernel_that_disagrees_with_the_step_function_is_not_used(tmp_path, monkeypatch):
    """Kernels compiled from other equations than the step functions run: the runtime's
    first-use check finds the difference, warns and runs the step function instead."""
    monkeypatch.setattr(equations, "leaky_integrate", leaky_integrate)
    stale = fz.kernels(directory=tmp_path)
    monkeypatch.undo()
    graph, shape = make_graph("conv")
    monkeypatch.setattr(fz, "kernels", lambda *a, **k: stale)
    with pytest.warns(RuntimeWarning, match="differs from its step function"):
        model = AccelModel(graph, DT)
    x = spikes((8, 2, *shape), 0.3)
    dense = AccelModel(graph, DT, backend="dense")
    assert torch.equal(model.run(x), dense.run(x))
    ops = [op for op in model._backend.ops.values() if isinstance(op, NeuronOp)]
    lif_ops = [op for op in ops if op.primitive == "LIF"]
    assert lif_ops and all(op.fused is not None and op.fused.ok is False for op in lif_ops)


def test_the_default_event_backend_uses_the_compiled_neurons():
    graph, shape = make_graph("conv")
    model = AccelModel(graph, DT)
    ops = [op for op in model._backend.ops.values() if isinstance(op, NeuronOp)]
    assert ops and all(op.fused is not None and op.fused.ok for op in ops)
    reference = AccelModel(graph, DT, fused_neurons=False)
    assert all(op.fused is None for op in reference._backend.ops.values()
               if isinstance(op, NeuronOp))
    x = spikes((8, 2, *shape), 0.3)
    assert torch.equal(model.run(x), reference.run(x))


def test_the_kernel_lists_exactly_the_spikes_it_writes():
    cell = LIFCell(LIFParameters(tau_mem=5e-3, r=20.0, v_th=0.5), DT)
    neuron = FusedNeuron(cell, cell.p)
    gen = torch.Generator().manual_seed(2)
    state = None
    for _ in range(5):  # 130 neurons: two full blocks of 64 and a remainder
        x = torch.rand((3, 130), generator=gen)
        z, state, events = neuron.run(x, state)
        for b, (idx, val) in enumerate(events.samples):
            assert idx.tolist() == torch.nonzero(z[b]).flatten().tolist()
            assert val.tolist() == [1.0] * idx.size
    assert events.binary and not events.cl and events.count == int(z.sum())


@pytest.mark.parametrize("fused", [True, False], ids=["compiled", "stepfn"])
def test_reused_conv_buffers_are_zeroed_by_their_reader_and_survive_errors(fused):
    """A convolution read only by one neuron layer keeps its output buffer, which the layer
    zeroes as it reads it: results stay those of the dense reference, step after step and
    after an error in the middle of a step."""
    graph, shape = make_graph("conv")
    model = AccelModel(graph, DT, fused_neurons=fused)
    ops = model._backend.ops
    shared = [n for n, op in ops.items() if getattr(getattr(op, "syn", None), "reuse", False)]
    assert shared == ["0", "2", "5"]  # each conv, read by one LIF/IF layer
    assert all(ops[str(int(n) + 1)].clears_input for n in shared)
    x = spikes((12, 2, *shape), 0.3)
    dense = AccelModel(graph, DT, backend="dense")
    assert torch.equal(model.run(x), dense.run(x))
    with pytest.raises(Exception, match="node '1'"):  # the conv ran, its reader failed
        model.step(spikes((3, *shape), 0.3))
    model.reset()
    dense.reset()
    assert torch.equal(model.run(x), dense.run(x))


def test_a_conv_read_twice_or_returned_keeps_fresh_buffers():
    import nir

    graph, shape = make_graph("conv")
    graph.nodes["out2"] = nir.Output(output_type={"output": None})
    graph.edges.append(("0", "out2"))  # conv '0' is now also a graph output
    model = AccelModel(graph, DT)
    assert not model._backend.ops["0"].syn.reuse and model._backend.ops["2"].syn.reuse
    x = spikes((6, 2, *shape), 0.3)
    out = model.run(x)
    ref = AccelModel(graph, DT, backend="dense").run(x)
    assert torch.equal(out["out2"], ref["out2"]) and torch.equal(out["output"], ref["output"])


@pytest.mark.parametrize("cl", [False, True], ids=["nchw", "channels_last"])
def test_conv_scatter_takes_events_in_any_order(cl):
    """The scatter decodes event positions incrementally (events come sorted); events in
    another order give the same sums."""
    import numpy as np

    from neuro_nodes.accel.events import Events

    graph, shape = make_graph("conv")
    model = AccelModel(graph, DT)
    syn = model._backend.ops["0"].syn  # Conv2d(2, 4, 3, stride 2, padding 1)
    syn.reuse = False  # nothing reads (and zeroes) the outputs here
    n = int(np.prod(shape))
    rng = np.random.default_rng(3)
    idx = np.sort(rng.choice(n, size=60, replace=False)).astype(np.int64)
    val = np.ones(idx.size, np.float32)
    y_sorted, sops = syn.events(Events([(idx, val)], True, cl), 1)
    y_sorted = y_sorted.clone()
    shuffled = rng.permutation(idx.size)
    y_any, sops_any = syn.events(Events([(idx[shuffled], val[shuffled])], True, cl), 1)
    assert sops == sops_any > 0 and torch.equal(y_sorted, y_any)
    # and both are the dense convolution of the same input
    x = torch.zeros(n)
    x[torch.from_numpy(idx)] = 1.0
    x = x.reshape(1, shape[1], shape[2], shape[0]).permute(0, 3, 1, 2) if cl else x.reshape(
        1, *shape)
    assert torch.equal(y_sorted, syn.dense(x))


def test_linear_scatter_adds_in_event_order_bit_for_bit():
    """The Linear kernel takes events four at a time; each output still receives the same
    float32 products in event order (so any weights give the sums of a plain loop)."""
    import numpy as np

    from neuro_nodes.accel.kernels import linear_events

    rng = np.random.default_rng(0)
    wt = rng.standard_normal((300, 10)).astype(np.float32)
    for n in (0, 1, 3, 4, 5, 17, 250):
        idx = np.sort(rng.choice(300, n, replace=False)).astype(np.int64)
        val = rng.random(n).astype(np.float32)
        out = np.zeros(10, np.float32)
        linear_events(idx, val, wt, out)
        ref = np.zeros(10, np.float32)
        for j, v in zip(idx, val, strict=True):
            ref = ref + v * wt[j]
        assert np.array_equal(out, ref), n
