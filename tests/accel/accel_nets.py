"""Helpers of the accelerator-runtime tests: small spiking networks, built with neuro_nodes.snn and
exported to NIR.  Weights are multiples of 1/16 (|w| <= 1/2) unless said otherwise, so every
synaptic sum is exact in float32 whatever the order of accumulation: event-driven and dense
runs then agree bit for bit on every value, not only on the spikes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("nir")

from neuro_nodes.snn import (  # noqa: E402
    CubaLIFCell,
    CubaLIFParameters,
    Delay,
    IFCell,
    IFParameters,
    LICell,
    LIFCell,
    LIFParameters,
    LIParameters,
    Recurrent,
    Scale,
    SpikingSequential,
    SumPool2d,
    Threshold,
    export_nir,
)

DT = 1e-3


def dyadic_(model: nn.Module, gen: torch.Generator) -> nn.Module:
    """Set every weight and bias to a random multiple of 1/16 in [-1/2, 1/2]."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randint(-8, 9, p.shape, generator=gen).float() / 16)
    return model


def lif(shape, gen, **kw) -> LIFCell:
    """LIF with per-neuron τ and θ (exercises per-neuron parameters)."""
    tau = 5e-3 + 2e-2 * torch.rand(shape, generator=gen)
    v_th = 0.2 + 0.3 * torch.rand(shape, generator=gen)
    return LIFCell(LIFParameters(tau_mem=tau, r=kw.pop("r", 8.0), v_th=v_th, **kw), DT)


def mlp(gen: torch.Generator) -> SpikingSequential:
    return dyadic_(SpikingSequential(
        nn.Linear(16, 24), lif((24,), gen),
        nn.Linear(24, 10, bias=False),
        CubaLIFCell(CubaLIFParameters(tau_syn=4e-3, tau_mem=1e-2, r=6.0, w_in=3.0, v_th=0.3),
                    DT),
        nn.Linear(10, 5), LICell(LIParameters(tau_mem=2e-2, r=10.0), DT),
    ), gen)


def conv(gen: torch.Generator) -> SpikingSequential:
    return dyadic_(SpikingSequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1), lif((4, 8, 9), gen),
        nn.Conv2d(4, 6, 3, padding=1, groups=2), IFCell(IFParameters(r=400.0, v_th=0.3), DT),
        SumPool2d(2),
        nn.Conv2d(6, 4, 3, padding="same", dilation=2, bias=False), lif((4, 4, 4), gen),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 6), lif((6,), gen),
    ), gen)


def conv1d(gen: torch.Generator) -> SpikingSequential:
    return dyadic_(SpikingSequential(
        nn.Conv1d(3, 5, 3, stride=2, padding=1), lif((5, 10), gen),
        nn.Conv1d(5, 4, 3, dilation=2), IFCell(IFParameters(r=300.0, v_th=0.25), DT),
        nn.Flatten(), nn.Linear(24, 6), lif((6,), gen),
    ), gen)


def recurrent(gen: torch.Generator) -> SpikingSequential:
    return dyadic_(SpikingSequential(
        nn.Linear(8, 12), Recurrent(lif((12,), gen), nn.Linear(12, 12, bias=False)),
        nn.Linear(12, 4), lif((4,), gen),
    ), gen)


def misc(gen: torch.Generator) -> SpikingSequential:
    """Threshold, Delay and Scale between synaptic layers."""
    return dyadic_(SpikingSequential(
        nn.Linear(10, 12), Threshold(0.1), Delay(2), Scale(torch.full((12,), 0.5)),
        nn.Linear(12, 5), lif((5,), gen),
    ), gen)


def pools(gen: torch.Generator) -> SpikingSequential:
    """Overlapping pooling windows (each event in several windows), window borders that
    leave inputs out (stride > kernel), and non-overlapping windows on channels-last input."""
    return dyadic_(SpikingSequential(
        SumPool2d(3, stride=2, padding=1), lif((2, 8, 9), gen),
        nn.Conv2d(2, 4, 3, padding=1), lif((4, 8, 9), gen),
        nn.AvgPool2d(3, stride=2, padding=1), lif((4, 4, 5), gen),
        SumPool2d(1, stride=2), nn.Flatten(), nn.Linear(24, 6), lif((6,), gen),
    ), gen)


NETS = {
    "mlp": (mlp, (16,)),
    "conv": (conv, (2, 16, 18)),
    "conv1d": (conv1d, (3, 20)),
    "recurrent": (recurrent, (8,)),
    "misc": (misc, (10,)),
    "pools": (pools, (2, 16, 18)),
}


def make_graph(name: str, seed: int = 0):
    """(NIR graph, per-sample input shape) of the named test network."""
    build, shape = NETS[name]
    gen = torch.Generator().manual_seed(seed)
    return export_nir(build(gen), DT, shape), shape


def spikes(shape, p: float, seed: int = 1) -> torch.Tensor:
    """Random binary events with probability ``p`` per entry."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < p).float()
