"""Interop with snnTorch through NIR: identical spikes in both directions.

snnTorch (1.0) quirks worked around here:

* Its NIR export and import hard-code ``dt = 1e-4``: ``τ = dt/(1 − β)``, ``R = τ/dt``,
  ``v_leak = 0`` on export, ``β = 1 − dt/τ`` on import.  A NIR file has no dt, so our side
  must use ``dt = 1e-4`` too, or the decay comes out different.
* ``export_to_nir`` traces the model with nirtorch and keeps the sample's batch axis in
  the Input shape unless told ``ignore_dims=[0]``.
* Its exporter needs ``beta`` and ``threshold`` as per-neuron tensors (a scalar threshold
  gives a 0-d ``v_threshold`` next to a per-neuron ``tau``, which ``nir.LIF`` rejects) and
  ``init_hidden=True`` (the tracer runs ``nn.Sequential``).  Only ``reset_mechanism="zero"``
  matches NIR's reset to ``v_reset = 0``; snnTorch's delayed reset only delays the
  *membrane* reset, not the spikes, so spikes agree.
* Its importer requires one threshold per layer (``np.unique(v_threshold).size == 1``) and
  rescales the threshold unless ``R·dt/τ = 1``; so our exported LIF layers use a uniform θ
  and ``R = τ/dt`` (per-neuron τ is fine).
* For a recurrent layer (``RLeaky``) snnTorch adds the recurrent bias already at t = 0
  (``W·0 + b``) while a NIR back edge carries nothing at the first step, so spikes agree
  exactly for a bias-free recurrent weight only.  And ``RLeaky``'s default
  ``reset_delay=True`` with ``reset_mechanism="zero"`` zeroes the membrane *after*
  integrating the step following a spike (that step's input is lost: a one-step
  refractory period), unlike ``Leaky``; ``reset_delay=False`` (what snnTorch's own NIR
  importer builds) is NIR's LIF.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")
pytest.importorskip("nir")

from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from neuro_nodes.snn import (  # noqa: E402
    LIFCell,
    LIFParameters,
    SpikingSequential,
    export_nir,
    import_nir,
)

SNNTORCH_DT = 1e-4
T, B, N_IN, N_H, N_OUT = 50, 8, 5, 16, 4


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nirtorch's deprecation of extract_nir_graph
        yield


def _leaky(n: int, output: bool = False) -> nn.Module:
    return snn.Leaky(beta=torch.rand(n) * 0.5 + 0.45, threshold=torch.rand(n) * 0.5 + 0.5,
                     init_hidden=True, reset_mechanism="zero", output=output)


def test_snntorch_export_runs_identically_here():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_H), _leaky(N_H), nn.Linear(N_H, N_OUT),
                        _leaky(N_OUT, output=True))
    graph = export_to_nir(net, torch.zeros(1, N_IN), ignore_dims=[0])
    ours = import_nir(graph, dt=SNNTORCH_DT)
    x = torch.rand(T, B, N_IN) * 3
    snn_utils.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t])[0] for t in range(T)])
        out = ours(x)
    assert 0.02 < ref.mean().item() < 0.5  # a real test: neither silent nor saturated
    assert torch.equal(out, ref)


def test_our_export_runs_identically_in_snntorch():
    torch.manual_seed(0)

    def lif(n: int) -> LIFCell:
        beta = torch.rand(n) * 0.5 + 0.45
        tau = SNNTORCH_DT / (1 - beta)
        p = LIFParameters(tau_mem=tau, r=tau / SNNTORCH_DT, v_th=0.5)
        return LIFCell(p, SNNTORCH_DT)

    l2 = nn.Linear(N_H, N_OUT)
    with torch.no_grad():
        l2.weight.mul_(3)
    ours = SpikingSequential(nn.Linear(N_IN, N_H), lif(N_H), l2, lif(N_OUT))
    theirs = import_from_nir(export_nir(ours, SNNTORCH_DT, (N_IN,)))
    x = torch.rand(T, B, N_IN) * 3
    with torch.no_grad():
        ref = ours(x)
        state, out = None, []
        for t in range(T):
            z, state = theirs(x[t], state)
            out.append(z)
    out = torch.stack(out)
    assert 0.02 < ref.mean().item() < 0.5
    assert torch.equal(out, ref)


def test_snntorch_recurrent_layer_runs_identically_here():
    torch.manual_seed(0)
    rleaky = snn.RLeaky(beta=torch.rand(N_H) * 0.5 + 0.45, threshold=torch.full((N_H,), 0.5),
                        linear_features=N_H, init_hidden=True, reset_mechanism="zero",
                        reset_delay=False)
    with torch.no_grad():
        rleaky.recurrent.bias.zero_()  # see the module docstring: bias at t = 0
    net = nn.Sequential(nn.Linear(N_IN, N_H), rleaky)
    ours = import_nir(export_to_nir(net, torch.zeros(1, N_IN), ignore_dims=[0]), SNNTORCH_DT)
    assert ours.back_edges == [("1.w_rec", "1.lif")]
    x = torch.rand(T, B, N_IN) * 2
    snn_utils.reset(net)
    with torch.no_grad():
        ref = torch.stack([net(x[t]) for t in range(T)])
        out = ours(x)
    assert 0.02 < ref.mean().item() < 0.5
    assert torch.equal(out, ref)
