"""NIR export/import: round trips through files, recurrent graphs, errors naming the node."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir")

from neuro_nodes.snn import (  # noqa: E402
    CubaLICell,
    CubaLIFCell,
    CubaLIFParameters,
    CubaLIParameters,
    Delay,
    GraphModule,
    ICell,
    IFCell,
    IFParameters,
    IParameters,
    LICell,
    LIFCell,
    LIFParameters,
    LIParameters,
    MultiSpike,
    NIRExportError,
    NIRImportError,
    Recurrent,
    Scale,
    SpikingSequential,
    SumPool2d,
    Threshold,
    export_nir,
    import_nir,
)

DT = 1e-3
ALL_PRIMITIVES = {
    "Input", "Output", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d",
    "AvgPool2d", "Flatten", "Delay", "Threshold", "I", "IF", "LI", "LIF", "CubaLI", "CubaLIF",
}


def conv_net() -> SpikingSequential:
    torch.manual_seed(0)
    return SpikingSequential(
        nn.Conv2d(2, 4, 3, padding=1),
        LIFCell(LIFParameters(tau_mem=torch.tensor([1e-2, 2e-2, 5e-3, 1e-2]).view(4, 1, 1),
                              r=20.0, v_th=0.3, v_leak=0.01), DT),
        SumPool2d(2),
        nn.Conv2d(4, 4, 3, padding="same", bias=False),
        IFCell(IFParameters(r=500.0, v_th=0.2, v_reset=-0.1), DT),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 10),
        CubaLIFCell(CubaLIFParameters(tau_syn=4e-3, tau_mem=1e-2, r=20.0, v_th=0.1), DT),
        nn.Linear(10, 3, bias=False),
        LICell(LIParameters(tau_mem=2e-2, r=5.0), DT),
    )


def recurrent_net() -> SpikingSequential:
    torch.manual_seed(1)
    return SpikingSequential(
        nn.Conv1d(2, 3, 3, padding=1, stride=1),
        Threshold(torch.tensor([0.1, 0.0, -0.1]).view(3, 1)),
        nn.Flatten(),
        nn.Linear(18, 8),
        Recurrent(CubaLIFCell(CubaLIFParameters(tau_syn=3e-3, tau_mem=1e-2, r=30.0, v_th=0.2),
                              DT), nn.Linear(8, 8, bias=False)),
        Delay([0, 1, 2, 3, 0, 1, 2, 3]),
        Scale(torch.linspace(0.5, 1.5, 8)),
        Recurrent(LIFCell(LIFParameters(r=10.0, v_th=0.3), DT), 8),
        nn.Linear(8, 4),
        ICell(IParameters(r=50.0), DT),
        nn.Linear(4, 2),
        CubaLICell(CubaLIParameters(r=10.0), DT),
    )


@pytest.mark.parametrize(("make", "shape"), [(conv_net, (2, 8, 8)), (recurrent_net, (2, 6))])
def test_round_trip_through_file_is_identical(make, shape, tmp_path):
    net = make()
    graph = export_nir(net, DT, shape)
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    imported = import_nir(path, dt=DT)
    torch.manual_seed(2)
    x = (torch.rand(25, 3, *shape) * 2).round()  # spike-like input
    with torch.no_grad():
        ref = torch.stack([net.step(x[t]) for t in range(len(x))])
        out = imported(x)
        net.reset()
        ref_layerwise = net(x)
    assert out.shape == ref.shape
    assert torch.equal(out, ref)  # bit-identical, executed step by step like the graph
    # SpikingSequential.forward runs each layer over all T·B samples at once; a conv over a
    # bigger batch may round differently in the last bit, nothing more.
    assert torch.allclose(ref_layerwise, out, rtol=0, atol=1e-5)
    # …and exporting the imported graph again gives the same graph.
    again = export_nir(imported, DT, shape)
    assert set(again.nodes) == set(graph.nodes) and set(again.edges) == set(graph.edges)


def test_every_primitive_is_covered_and_recurrent_edges_exported():
    kinds = set()
    for make, shape in ((conv_net, (2, 8, 8)), (recurrent_net, (2, 6))):
        g = export_nir(make(), DT, shape)
        kinds |= {type(n).__name__ for n in g.nodes.values()}
    assert kinds == ALL_PRIMITIVES
    g = export_nir(recurrent_net(), DT, (2, 6))
    assert ("4.w_rec", "4.cell") in g.edges and ("4.cell", "4.w_rec") in g.edges
    assert g.metadata["dt"] == DT
    assert isinstance(g.nodes["4.cell"], nir.CubaLIF)
    assert g.nodes["4.cell"].v_threshold.shape == (8,)
    assert np.allclose(g.nodes["5"].delay, np.array([0, 1, 2, 3, 0, 1, 2, 3]) * DT)


def test_hand_built_recurrent_graph_runs_with_one_step_delay():
    rng = np.random.default_rng(0)
    w_in = rng.normal(size=(4, 3)).astype(np.float32)
    w_rec = rng.normal(size=(4, 4)).astype(np.float32) * 0.5
    tau, r = np.full(4, 1e-2, np.float32), np.full(4, 10.0, np.float32)
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(np.array([3])),
            "fc": nir.Linear(w_in),
            "lif": nir.LIF(tau=tau, r=r, v_leak=np.zeros(4, np.float32),
                           v_threshold=np.full(4, 0.5, np.float32)),
            "rec": nir.Linear(w_rec),
            "out": nir.Output(np.array([4])),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
    )
    gm = import_nir(graph, dt=DT)
    assert gm.back_edges == [("rec", "lif")]
    x = torch.rand(30, 2, 3) * 2
    z_out = gm(x)
    # by hand: v ← v + 0.1·(−v + 10·(W_in x_t + W_rec z_{t−1})), z = H(v − 0.5), reset to 0
    W, R = torch.from_numpy(w_in), torch.from_numpy(w_rec)
    v, z = torch.zeros(2, 4), torch.zeros(2, 4)
    for t in range(30):
        v = v + DT / 1e-2 * (-v + 10.0 * (x[t] @ W.T + z @ R.T))
        z = (v > 0.5).float()
        v = v * (1 - z)
        assert torch.equal(z_out[t], z), t
    assert z_out.any()


def test_nested_subgraph_is_inlined():
    rng = np.random.default_rng(1)
    n = 3
    lif = dict(tau=np.full(n, 1e-2, np.float32), r=np.full(n, 10.0, np.float32),
               v_leak=np.zeros(n, np.float32), v_threshold=np.full(n, 0.4, np.float32))
    w_rec = rng.normal(size=(n, n)).astype(np.float32)
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([n])), "lif": nir.LIF(**lif),
               "w_rec": nir.Linear(w_rec), "output": nir.Output(np.array([n]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    nested = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([n])), "rnn": sub, "out": nir.Output(np.array([n]))},
        edges=[("in", "rnn"), ("rnn", "out")], type_check=False,
    )
    flat = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([n])), "lif": nir.LIF(**lif),
               "w_rec": nir.Linear(w_rec), "out": nir.Output(np.array([n]))},
        edges=[("in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")],
    )
    a, b = import_nir(nested, DT), import_nir(flat, DT)
    assert a.back_edges == [("rnn.w_rec", "rnn.lif")]
    x = torch.rand(20, 2, n)
    assert torch.equal(a(x), b(x))


# -- errors ----------------------------------------------------------------------------------
def test_malformed_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(NIRImportError, match="bad.nir.*not an HDF5 file"):
        import_nir(bad, DT)
    with pytest.raises(NIRImportError, match="does not exist"):
        import_nir(tmp_path / "missing.nir", DT)


def test_file_with_unknown_primitive_names_the_node(tmp_path):
    path = tmp_path / "net.nir"
    nir.write(path, export_nir(SpikingSequential(nn.Linear(2, 3), LIFCell()), DT, (2,)))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/1/type"]
        f["node/nodes/1/type"] = "Bogus"
    with pytest.raises(NIRImportError, match=r"node '1'.*'Bogus'"):
        import_nir(path, DT)


@dataclasses.dataclass(eq=False)
class Mystery(nir.NIRNode):
    size: int

    def __post_init__(self):
        self.input_type = {"input": np.array([self.size])}
        self.output_type = {"output": np.array([self.size])}


def test_unknown_primitive_in_graph_names_the_node():
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([2])), "odd": Mystery(2), "out": nir.Output(np.array([2]))},
        edges=[("in", "odd"), ("odd", "out")], type_check=False,
    )
    with pytest.raises(NIRImportError, match=r"node 'odd'.*'Mystery'"):
        import_nir(graph, DT)


def _chain(*nodes, shape=(4,), edges=None):
    names = ["in", *[f"n{i}" for i in range(len(nodes))], "out"]
    all_nodes = {"in": nir.Input(np.array(shape)), **dict(zip(names[1:-1], nodes, strict=True)),
                 "out": nir.Output(np.array([0]))}
    return nir.NIRGraph(nodes=all_nodes, edges=edges or list(zip(names, names[1:], strict=False)),
                        type_check=False)


def test_shape_mismatch_names_the_node():
    w = np.ones((6, 4), np.float32)
    lif5 = nir.LIF(tau=np.full(5, 1e-2), r=np.ones(5), v_leak=np.zeros(5),
                   v_threshold=np.ones(5))
    with pytest.raises(NIRImportError, match=r"\(NIR LIF\).*node 'n1'"):
        import_nir(_chain(nir.Linear(w), lif5), DT)
    with pytest.raises(NIRImportError, match=r"node 'n0'"):  # weight wants 4 inputs, gets 3
        import_nir(_chain(nir.Affine(w, np.zeros(6, np.float32)), shape=(3,)), DT)
    # an Input that includes the batch axis gets a hint
    with pytest.raises(NIRImportError, match="batch axis"):
        import_nir(_chain(nir.Linear(w), nir.LIF(tau=np.full(6, 1e-2), r=np.ones(6),
                                                  v_leak=np.zeros(6), v_threshold=np.ones(6)),
                          shape=(1, 4)), DT)


def test_malformed_graph_errors_name_the_node():
    w = np.ones((4, 4), np.float32)
    with pytest.raises(NIRImportError, match="'ghost'"):
        import_nir(_chain(nir.Linear(w), edges=[("in", "n0"), ("n0", "ghost"), ("n0", "out")]),
                   DT)
    with pytest.raises(NIRImportError, match=r"node 'n0' \(Delay\).*multiple of dt"):
        import_nir(_chain(nir.Delay(np.full(4, 1.5e-3))), DT)
    with pytest.raises(NIRImportError, match=r"node 'n0' \(LIF\).*tau_mem"):
        import_nir(_chain(nir.LIF(tau=np.zeros(4), r=np.ones(4), v_leak=np.zeros(4),
                                  v_threshold=np.ones(4))), DT)
    with pytest.raises(NIRImportError, match="dt"):
        import_nir(_chain(nir.Linear(w)), 0.0)


def test_export_errors_name_the_module():
    with pytest.raises(NIRExportError, match=r"node '1' \(LIFCell\).*subtract"):
        export_nir(SpikingSequential(nn.Linear(2, 3), LIFCell(LIFParameters(reset="subtract"))),
                   DT, (2,))
    with pytest.raises(NIRExportError, match=r"node '1' \(MultiSpike\)"):
        export_nir(SpikingSequential(nn.Linear(2, 3), MultiSpike()), DT, (2,))
    with pytest.raises(NIRExportError, match=r"node '0'"):
        export_nir(SpikingSequential(nn.Linear(2, 3)), DT, (5,))


def test_import_warns_when_dt_differs_from_the_exported_one():
    graph = export_nir(SpikingSequential(nn.Linear(2, 3), LIFCell()), DT, (2,))
    with pytest.warns(UserWarning, match="exported with dt=0.001"):
        import_nir(graph, 2 * DT)


def test_imported_graph_is_a_streaming_module():
    net = recurrent_net()
    gm = import_nir(export_nir(net, DT, (2, 6)), DT)
    assert isinstance(gm, GraphModule)
    x = torch.rand(12, 2, 2, 6)
    full = gm(x)
    gm.reset()
    assert torch.equal(torch.cat([gm(x[:5]), gm(x[5:])]), full)
