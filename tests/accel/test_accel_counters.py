"""Operation counts and energy against hand counts and brute force."""

from __future__ import annotations

import dataclasses
import itertools

import nir
import numpy as np
import pytest
import torch
from torch import nn

from neuro_nodes.accel import PROFILES, AccelModel, EnergyUnavailable, estimate
from neuro_nodes.snn import SpikingSequential, SumPool2d, export_nir

pJ = 1e-12


def tiny_graph() -> nir.NIRGraph:
    """Linear 4→3 → LIF → Linear 3→2 → LIF.  τ = R = 1 and dt = 1 make the LIF memoryless:
    v' = v + 1·((0 − v) + x) = x exactly (weights are 0/1), so it spikes when x > θ."""
    w1 = np.array([[1, 1, 0, 0],
                   [0, 1, 1, 0],
                   [0, 0, 1, 1]], np.float32)
    w2 = np.array([[1, 1, 0],
                   [0, 1, 1]], np.float32)

    def lif(n, th):
        return nir.LIF(tau=np.ones(n), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.full(n, th), v_reset=np.zeros(n))

    return nir.NIRGraph(
        nodes={"in": nir.Input(np.array([4])), "fc1": nir.Linear(w1), "lif1": lif(3, 1.5),
               "fc2": nir.Linear(w2), "lif2": lif(2, 0.5), "out": nir.Output(np.array([2]))},
        edges=[("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
               ("lif2", "out")],
    )


# input spikes, one sample, 3 steps
X = torch.tensor([[[1, 1, 0, 0]],
                  [[0, 1, 1, 1]],
                  [[0, 0, 0, 0]]], dtype=torch.float32)


@pytest.mark.parametrize("fused", [False, True], ids=["stepfn", "fused"])
def test_hand_count_of_spikes_sops_and_energy(fused):
    model = AccelModel(tiny_graph(), dt=1.0, fused_neurons=fused)
    out = model.run(X)
    # step 0: in [1,1,0,0]: 2 active inputs → fc1 SOPs 2·3 = 6; v1 = W1·x = [2,1,0] > 1.5
    #         → lif1 spikes [1,0,0] → fc2 SOPs 1·2 = 2; v2 = [1,0] > 0.5 → lif2 [1,0]
    # step 1: in [0,1,1,1]: 3 active → fc1 SOPs 3·3 = 9; v1 = [1,2,2] → spikes [0,1,1]
    #         → fc2 SOPs 2·2 = 4; v2 = [1,2] → lif2 [1,1]
    # step 2: no input: 0 SOPs; v1 = [0,0,0], v2 = [0,0]: no spikes
    assert out.squeeze(1).tolist() == [[1, 0], [1, 1], [0, 0]]
    c = model.counters()
    L = c.layers
    assert (L["fc1"].sops, L["fc2"].sops, c.sops) == (6 + 9 + 0, 2 + 4 + 0, 21)
    assert c.macs == 0  # binary input: no dense layer
    assert (L["lif1"].spikes, L["lif2"].spikes) == (1 + 2, 1 + 2)
    assert (L["lif1"].neurons, L["lif2"].neurons) == (3, 2)
    assert L["lif1"].firing_rate == pytest.approx(3 / (3 * 3))  # spikes / (neurons · steps)
    assert L["lif2"].firing_rate == pytest.approx(3 / (2 * 3))
    # dense network: every step (4·3 + 3·2) = 18 MACs, 3 steps → 54
    assert (L["fc1"].dense_macs, L["fc2"].dense_macs, c.dense_macs) == (36, 18, 54)
    # memory: fc1 12 weights, fc2 6 weights (float32); lif: 5 parameters per neuron + v
    assert (L["fc1"].param_bytes, L["fc2"].param_bytes) == (12 * 4, 6 * 4)
    assert L["lif1"].state_bytes == 3 * 4

    # Loihi: 21 SOPs × 23.6 pJ = 495.6 pJ; TrueNorth 21 × 26 pJ = 546 pJ;
    # 45 nm CMOS: 21 accumulates × 0.9 pJ = 18.9 pJ; dense equivalent 54 MACs × 4.6 pJ
    e = model.energy("loihi")
    assert e.total_j == pytest.approx(495.6 * pJ)
    assert e.per_layer["fc1"] == pytest.approx(15 * 23.6 * pJ)
    assert e.dense_equivalent_j == pytest.approx(248.4 * pJ)
    assert model.energy("truenorth").total_j == pytest.approx(546 * pJ)
    cmos = estimate(c, "cmos45nm")
    assert (cmos.total_j, cmos.dense_equivalent_j) == (pytest.approx(18.9 * pJ),
                                                       pytest.approx(248.4 * pJ))
    assert sum(e.per_layer.values()) == pytest.approx(e.total_j)

    model.reset_counters()
    assert model.counters().sops == 0 and model.counters().steps == 0


def test_hand_count_with_real_valued_input_counts_macs():
    model = AccelModel(tiny_graph(), dt=1.0)
    x = X.clone()
    x[0, 0, 0] = 0.5  # not binary: fc1 runs densely at step 0 (auto mode)
    model.run(x)
    L = model.counters().layers
    # step 0 dense: 4·3 = 12 MACs; steps 1, 2 binary: 9 + 0 SOPs
    assert (L["fc1"].macs, L["fc1"].sops) == (12, 9)
    # 45 nm: 9 SOPs × 0.9 pJ + 12 MACs × 4.6 pJ (+ fc2's SOPs × 0.9 pJ)
    e = model.energy("cmos45nm")
    assert e.per_layer["fc1"] == pytest.approx(9 * 0.9 * pJ + 12 * 4.6 * pJ)


def test_dense_backend_counts_macs_and_the_same_spikes():
    event = AccelModel(tiny_graph(), dt=1.0)
    dense = AccelModel(tiny_graph(), dt=1.0, backend="dense")
    event.run(X)
    dense.run(X)
    ce, cd = event.counters(), dense.counters()
    assert cd.macs == cd.dense_macs == ce.dense_macs == 54 and cd.sops == 0
    assert {n: c.spikes for n, c in cd.layers.items()} == {
        n: c.spikes for n, c in ce.layers.items()}


def brute_force_conv_sops(x: np.ndarray, w_shape, stride, padding, dilation, groups) -> int:
    """Count (active input, output synapse) pairs straight from the definition: for every
    output (co, oy, ox) and tap (ci of its group, ky, kx), the input it reads."""
    cout, cin_g, kh, kw = w_shape
    c_in, H, W = x.shape
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    count = 0
    for co, oy, ox in itertools.product(range(cout), range(Ho), range(Wo)):
        g = co // (cout // groups)
        for ci, ky, kx in itertools.product(range(cin_g), range(kh), range(kw)):
            i = oy * stride[0] - padding[0] + ky * dilation[0]
            j = ox * stride[1] - padding[1] + kx * dilation[1]
            if 0 <= i < H and 0 <= j < W and x[g * cin_g + ci, i, j] != 0:
                count += 1
    return count


@pytest.mark.parametrize("cin,cout,k,stride,padding,dilation,groups", [
    (2, 3, (3, 3), (2, 2), (1, 1), (1, 1), 1),
    (2, 4, (3, 2), (1, 2), (0, 1), (1, 1), 2),
    (3, 3, (2, 3), (3, 1), (2, 0), (2, 1), 3),
    (1, 2, (5, 5), (2, 3), (2, 2), (1, 1), 1),
])
def test_conv_sops_equal_a_brute_force_count(cin, cout, k, stride, padding, dilation, groups):
    gen = torch.Generator().manual_seed(7)
    conv = nn.Conv2d(cin, cout, k, stride, padding, dilation, groups)
    shape = (cin, 9, 11)
    graph = export_nir(SpikingSequential(conv), 1e-3, shape)
    model = AccelModel(graph, 1e-3)
    x = (torch.rand((1, 1, *shape), generator=gen) < 0.3).float()
    x[0, 0, :, 0, 0] = 1  # a corner and a border: taps falling off the input
    x[0, 0, :, -1, -1] = 1
    out = model.run(x)
    with torch.no_grad():
        ref = conv(x[0])
    assert torch.allclose(out[0], ref, atol=1e-5)
    want = brute_force_conv_sops(x[0, 0].numpy(), conv.weight.shape, stride, padding, dilation,
                                 groups)
    assert model.counters().sops == want > 0


def test_pool_sops_count_event_window_pairs():
    shape = (2, 7, 8)
    graph = export_nir(SpikingSequential(SumPool2d(3, 2, 1)), 1e-3, shape)
    model = AccelModel(graph, 1e-3)
    x = (torch.rand((1, 1, *shape), generator=torch.Generator().manual_seed(2)) < 0.4).float()
    model.run(x)
    # windows containing each active input, from the definition
    want = 0
    for _, i, j in zip(*np.nonzero(x[0, 0].numpy()), strict=True):
        for oy, ox in itertools.product(range(4), range(4)):
            if oy * 2 - 1 <= i < oy * 2 + 2 and ox * 2 - 1 <= j < ox * 2 + 2:
                want += 1
    assert model.counters().sops == want > 0


def test_profiles_carry_sources_and_refuse_missing_numbers():
    for p in PROFILES.values():
        assert p.e_sop_source and p.e_mac_source
    assert "Horowitz" in PROFILES["cmos45nm"].e_mac_source
    assert "Davies et al. 2018" in PROFILES["loihi"].e_sop_source
    assert "Merolla" in PROFILES["truenorth"].e_sop_source
    model = AccelModel(tiny_graph(), dt=1.0)
    model.run(X)
    with pytest.raises(EnergyUnavailable, match="speck"):
        model.energy("speck")
    with pytest.raises(ValueError, match="unknown chip profile"):
        model.energy("nope")
    speck = dataclasses.replace(PROFILES["speck"], e_sop_j=1e-12, e_sop_source="my measurement")
    assert model.energy(speck).total_j == pytest.approx(21 * 1e-12)
