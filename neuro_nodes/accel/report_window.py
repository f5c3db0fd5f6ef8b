"""Accumulates counters and energy over a reporting window (the accelerator node's
``/accel/energy`` reports), across inferences and streamed steps."""

from __future__ import annotations

import dataclasses

from neuro_nodes.accel.counters import Counters
from neuro_nodes.accel.energy import EnergyEstimate


@dataclasses.dataclass
class LayerTotals:
    neurons: int = 0
    spikes: int = 0
    sops: int = 0
    macs: int = 0
    memory_bytes: int = 0
    sample_steps: int = 0

    @property
    def firing_rate(self) -> float:
        denom = self.neurons * self.sample_steps
        return self.spikes / denom if denom else 0.0


@dataclasses.dataclass
class ReportWindow:
    time_steps: int = 0
    inferences: int = 0
    sops: int = 0
    macs: int = 0
    energy_j: float = 0.0
    dense_energy_j: float = 0.0
    layers: dict[str, LayerTotals] = dataclasses.field(default_factory=dict)

    def add(self, counters: Counters, energy: EnergyEstimate, inferences: int = 0) -> None:
        self.time_steps += counters.steps
        self.inferences += inferences
        self.sops += energy.sops
        self.macs += energy.macs
        self.energy_j += energy.total_j
        self.dense_energy_j += energy.dense_equivalent_j
        for name, layer in counters.layers.items():
            totals = self.layers.setdefault(name, LayerTotals())
            totals.neurons = layer.neurons
            totals.memory_bytes = layer.memory_bytes
            totals.spikes += layer.spikes
            totals.sops += layer.sops
            totals.macs += layer.macs
            totals.sample_steps += layer.sample_steps
