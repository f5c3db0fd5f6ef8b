"""Neuron step functions against hand-computed cases; surrogates; multi-spike; SLTT."""

from __future__ import annotations

import math

import pytest
import torch

from neuro_nodes.snn import (
    DEFAULT_ALPHA,
    SURROGATES,
    CubaLICell,
    CubaLIFCell,
    CubaLIFParameters,
    CubaLIParameters,
    ICell,
    IFCell,
    IFParameters,
    IParameters,
    LICell,
    LIFCell,
    LIFParameters,
    LIParameters,
    MultiSpike,
    Threshold,
    cuba_lif_step,
    lif_step,
    multispike,
    spike,
)

D = torch.float64


def run(cell, xs, shape=(1,)):
    """Step ``cell`` over the scalar inputs ``xs``; return outputs and final state."""
    outs, state = [], None
    for x in xs:
        y, state = cell(torch.full(shape, x, dtype=D), state)
        outs.append(y.flatten()[0].item())
    return outs, state


def cell64(cls, p, dt):
    return cls(p, dt).double()


# dt = 1 ms, τ = 10 ms → dt/τ = 0.1; R = 10 → dt·R/τ = 1.
LIF_P = LIFParameters(tau_mem=1e-2, r=10.0, v_th=1.0)


def test_lif_matches_euler_equation_and_resets_to_zero():
    # v1 = 0.1·(10·0.5) = 0.5; v2 = 0.5 + 0.1·(−0.5 + 5) = 0.95; v3 = 0.95 + 0.405 = 1.355
    # > θ: spike, v = 0; v4 = 0.
    cell = cell64(LIFCell, LIF_P, 1e-3)
    z, state = run(cell, [0.5, 0.5, 0.5, 0.0])
    assert z == [0.0, 0.0, 1.0, 0.0]
    assert state.v.item() == pytest.approx(0.0)
    _, state = run(cell, [0.5, 0.5])
    assert state.v.item() == pytest.approx(0.95)


def test_lif_subtract_reset_leak_and_rest():
    p = LIFParameters(tau_mem=1e-2, r=10.0, v_th=1.0, reset="subtract")
    cell = cell64(LIFCell, p, 1e-3)
    z, state = run(cell, [0.5, 0.5, 0.5, 0.0])
    assert z == [0.0, 0.0, 1.0, 0.0]
    assert state.v.item() == pytest.approx((1.355 - 1.0) * 0.9)
    # At rest v = v_leak stays there without input; it decays towards v_leak otherwise.
    rest = cell64(LIFCell, LIFParameters(v_leak=0.2), 1e-3)
    _, state = run(rest, [0.0] * 5)
    assert state.v.item() == pytest.approx(0.2)
    v, _ = lif_step(torch.zeros(1, dtype=D), None, LIFParameters(v_leak=0.2, v_reset=0.0), 1e-3)
    assert v.item() == 0.0


def test_lif_custom_v_reset_and_per_neuron_params():
    p = LIFParameters(tau_mem=torch.tensor([1e-2, 2e-2]), r=torch.tensor([10.0, 20.0]),
                      v_th=torch.tensor([1.0, 0.1]), v_reset=torch.tensor([-0.5, -1.0]))
    cell = cell64(LIFCell, p, 1e-3)
    z, s = cell(torch.tensor([[0.5, 0.5]], dtype=D))
    # neuron 0: 0.5 ≤ 1 (no spike); neuron 1: 0.05·(20·0.5) = 0.5 > 0.1 → reset to −1
    assert z.tolist() == [[0.0, 1.0]]
    assert s.v[0].tolist() == pytest.approx([0.5, -1.0])


def test_threshold_is_strict():
    # IF with R = 1/dt adds x per step; v = θ exactly does not spike (as NIR, snnTorch).
    cell = cell64(IFCell, IFParameters(r=1e3, v_th=1.0), 1e-3)
    z, _ = run(cell, [0.5, 0.5, 0.25])
    assert z == [0.0, 0.0, 1.0]
    assert Threshold(1.0)(torch.tensor([0.5, 1.0, 1.5])).tolist() == [0.0, 0.0, 1.0]


def test_if_integrates_without_leak():
    cell = cell64(IFCell, IFParameters(r=1e3, v_th=1.0), 1e-3)
    z, state = run(cell, [0.4, 0.4, 0.4, 0.3])
    assert z == [0.0, 0.0, 1.0, 0.0]
    assert state.v.item() == pytest.approx(0.3)


def test_cuba_lif_new_current_first():
    # dt/τ_syn = 0.5, dt/τ_mem = 0.1, R = 10: i = 0.5, 0.25, 0.125; v = 0.5, 0.7, 0.755
    p = CubaLIFParameters(tau_syn=2e-3, tau_mem=1e-2, r=10.0, v_th=0.72)
    cell = cell64(CubaLIFCell, p, 1e-3)
    z, state = run(cell, [1.0, 0.0])
    assert z == [0.0, 0.0]
    assert (state.i.item(), state.v.item()) == pytest.approx((0.25, 0.7))
    z, state = run(cell, [1.0, 0.0, 0.0])
    assert z == [0.0, 0.0, 1.0]
    assert (state.i.item(), state.v.item()) == pytest.approx((0.125, 0.0))
    # w_in scales the input onto the current
    _, s = cuba_lif_step(torch.ones(1, dtype=D), None,
                         CubaLIFParameters(tau_syn=2e-3, w_in=3.0), 1e-3)
    assert s.i.item() == pytest.approx(1.5)


def test_li_cuba_li_and_i_outputs_are_the_membrane():
    li = cell64(LICell, LIParameters(tau_mem=1e-2, r=10.0), 1e-3)
    v, _ = run(li, [0.5, 0.5, 0.5, 0.0])
    assert v == pytest.approx([0.5, 0.95, 1.355, 1.2195])
    cli = cell64(CubaLICell, CubaLIParameters(tau_syn=2e-3, tau_mem=1e-2, r=10.0), 1e-3)
    v, _ = run(cli, [1.0, 0.0, 0.0])
    assert v == pytest.approx([0.5, 0.7, 0.755])
    integ = cell64(ICell, IParameters(r=2.0), 0.5)
    v, _ = run(integ, [1.0, -0.5, 0.0])
    assert v == pytest.approx([1.0, 0.5, 0.5])


def test_parameter_validation():
    with pytest.raises(ValueError, match="tau_mem"):
        LIFCell(LIFParameters(tau_mem=0.0))
    with pytest.raises(ValueError, match="tau_syn"):
        CubaLIFCell(CubaLIFParameters(tau_syn=torch.tensor([1e-3, -1e-3])))
    with pytest.raises(ValueError, match="reset"):
        LIFCell(LIFParameters(reset="hard"))
    with pytest.raises(ValueError, match="surrogate"):
        LIFCell(LIFParameters(surrogate="sigmoidish"))
    with pytest.raises(ValueError, match="dt"):
        LIFCell(LIFParameters(), dt=0.0)
    with pytest.raises(ValueError, match="finite"):
        LIFCell(LIFParameters(v_th=float("nan")))


def test_cells_follow_dtype_and_keep_per_neuron_buffers():
    cell = LIFCell(LIFParameters(tau_mem=torch.tensor([1e-2, 2e-2, 3e-2])))
    assert cell.p.tau_mem.dtype == torch.float32
    cell = cell.double()
    z, s = cell(torch.ones(4, 3, dtype=D))
    assert z.shape == (4, 3) and s.v.dtype == D and cell.p.tau_mem.dtype == D
    assert "p_tau_mem" in cell.state_dict()


# -- surrogates -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_forward_is_heaviside_and_gradient_peaks_at_threshold(name):
    x = torch.linspace(-2, 2, 401, dtype=D, requires_grad=True)  # x = v − θ; x[200] = 0
    z = spike(x, name)
    assert torch.equal(z, (x > 0).to(D))
    (g,) = torch.autograd.grad(z.sum(), x)
    assert g.shape == x.shape
    a = DEFAULT_ALPHA[name]
    peak = {"atan": a / 2, "fast_sigmoid": 1.0, "rectangular": a}[name]
    assert g[200].item() == pytest.approx(peak)
    assert g.max().item() == pytest.approx(peak)
    assert torch.allclose(g, g.flip(0))  # symmetric about the threshold
    right = g[200:]
    assert bool((right[1:] <= right[:-1]).all())  # non-increasing away from it
    assert right[-1].item() < peak


def test_surrogate_closed_forms():
    x = torch.tensor([0.3], dtype=D, requires_grad=True)
    (g,) = torch.autograd.grad(spike(x, "atan", 3.0).sum(), x)
    assert g.item() == pytest.approx(1.5 / (1 + (math.pi / 2 * 3.0 * 0.3) ** 2))
    (g,) = torch.autograd.grad(spike(x, "fast_sigmoid", 5.0).sum(), x)
    assert g.item() == pytest.approx(1 / (1 + 5.0 * 0.3) ** 2)
    (g,) = torch.autograd.grad(spike(x, "rectangular", 2.0).sum(), x)
    assert g.item() == 0.0  # |0.3| ≥ 1/(2·2)
    (g,) = torch.autograd.grad(spike(x, "rectangular", 1.0).sum(), x)
    assert g.item() == 1.0
    with pytest.raises(ValueError, match="unknown surrogate"):
        spike(x, "nope")


def test_surrogate_reaches_inputs_through_a_lif_step():
    x = torch.full((2, 3), 5.0, requires_grad=True)  # v = 0.5·... near θ
    for name in SURROGATES:
        p = LIFParameters(tau_mem=1e-2, r=20.0, v_th=1.0, surrogate=name)
        z, _ = lif_step(x * 0.1, None, p, 1e-3)  # v = 0.1·20·0.5 = 1.0 = θ
        (g,) = torch.autograd.grad(z.sum(), x)
        assert g.shape == x.shape and bool((g > 0).all())


# -- multi-spike ----------------------------------------------------------------------------
def test_multispike_values_and_straight_through_gradient():
    u = torch.tensor([-1.0, 0.2, 0.49, 0.5, 1.5, 2.5, 3.7, 4.0, 9.0], requires_grad=True)
    s = multispike(u)
    assert s.tolist() == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    (g,) = torch.autograd.grad((s * torch.arange(1.0, 10.0)).sum(), u)
    assert g.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0, 0.0]
    m = MultiSpike(max_spikes=2)
    assert m(torch.tensor([1.2, 1.6, 3.0])).tolist() == [1.0, 2.0, 2.0]
    with pytest.raises(ValueError):
        MultiSpike(0)


# -- SLTT -----------------------------------------------------------------------------------
def _graph_size(t: torch.Tensor) -> int:
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo += [nxt for nxt, _ in fn.next_functions]
    return len(seen)


def _run_lif(T: int, sltt: bool) -> tuple[torch.Tensor, torch.nn.Linear]:
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 6)
    cell = LIFCell(LIFParameters(tau_mem=1e-2, r=10.0, v_th=0.5, sltt=sltt))
    x = torch.rand(T, 3, 4)
    state = None
    for t in range(T):
        z, state = cell(lin(x[t]), state)
    return state.v, lin


def test_sltt_graph_does_not_grow_with_T_and_gradient_reaches_weights():
    sizes = {T: _graph_size(_run_lif(T, sltt=True)[0]) for T in (2, 10, 40)}
    assert len(set(sizes.values())) == 1, sizes
    bptt = [_graph_size(_run_lif(T, sltt=False)[0]) for T in (2, 10, 40)]
    assert bptt[0] < bptt[1] < bptt[2]
    v, lin = _run_lif(40, sltt=True)
    v.sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_sltt_online_training_per_step_backward():
    # SLTT lets each step backpropagate on its own (no retain_graph): memory flat in T.
    for cls, p in ((LIFCell, LIFParameters(r=10.0, v_th=0.5, sltt=True)),
                   (CubaLIFCell, CubaLIFParameters(r=10.0, v_th=0.2, sltt=True))):
        torch.manual_seed(1)
        lin = torch.nn.Linear(4, 6)
        cell = cls(p)
        state = None
        for _ in range(20):
            y, state = cell(lin(torch.rand(3, 4)), state)
            (state.v.sum() + y.sum()).backward()
        assert lin.weight.grad.abs().sum() > 0
