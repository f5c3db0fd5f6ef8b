"""Per-layer activity and cost counters over a window of time steps.

For every graph node the runtime accumulates, from the last ``reset_counters()`` on:

* ``neurons``: neurons per sample (neuron layers; 0 elsewhere);
* ``spikes``: spikes emitted (spiking neuron and Threshold layers), all samples together;
* ``firing_rate``: spikes per neuron per time step (per sample):
  ``spikes / (neurons · sample_steps)``;
* ``sops``: synaptic operations actually accumulated event-driven, i.e. (active input,
  output synapse) pairs: ``active inputs × out_features`` for Linear; for a convolution the
  kernel taps each active input reaches inside the output (borders, padding and stride
  respected) times the output channels of its group; for pooling the (event, window) pairs;
* ``macs``: multiply-accumulates of layers run densely (real-valued input): the full fan-in
  of every output, ``fan_in × outputs`` per sample and step;
* ``dense_macs``: what the same layer costs in the equivalent dense network over the same
  steps (``fan_in × outputs``, every step, whatever the activity), for comparisons;
* ``param_bytes`` (weights, biases, neuron parameters as stored) and ``state_bytes`` (neuron
  and delay state per sample); ``memory_bytes`` is their sum.

``sample_steps`` counts time steps times batch size (a step of a batch of 4 counts 4).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class LayerCounters:
    """Counters of one graph node (see the module docstring)."""

    name: str
    primitive: str
    role: str  # "synapse", "neuron" or "other"
    neurons: int = 0
    spikes: int = 0
    sops: int = 0
    macs: int = 0
    dense_macs: int = 0
    neuron_updates: int = 0
    event_calls: int = 0
    dense_calls: int = 0
    param_bytes: int = 0
    state_bytes: int = 0
    sample_steps: int = 0

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per time step (per sample); 0 for non-neuron layers."""
        if not self.neurons or not self.sample_steps:
            return 0.0
        return self.spikes / (self.neurons * self.sample_steps)

    @property
    def memory_bytes(self) -> int:
        return self.param_bytes + self.state_bytes

    def clear(self) -> None:
        """Zero the activity counters (sizes and memory stay)."""
        for f in ("spikes", "sops", "macs", "dense_macs", "neuron_updates", "event_calls",
                  "dense_calls", "sample_steps"):
            setattr(self, f, 0)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["firing_rate"] = self.firing_rate
        d["memory_bytes"] = self.memory_bytes
        return d


@dataclasses.dataclass
class Counters:
    """A snapshot of every layer's counters, plus totals."""

    steps: int
    sample_steps: int
    layers: dict[str, LayerCounters]

    def _sum(self, field: str) -> int:
        return sum(getattr(c, field) for c in self.layers.values())

    @property
    def sops(self) -> int:
        return self._sum("sops")

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def dense_macs(self) -> int:
        return self._sum("dense_macs")

    @property
    def spikes(self) -> int:
        return self._sum("spikes")

    @property
    def neurons(self) -> int:
        return self._sum("neurons")

    @property
    def neuron_updates(self) -> int:
        return self._sum("neuron_updates")

    @property
    def memory_bytes(self) -> int:
        return self._sum("memory_bytes")

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per step over all neuron layers."""
        n = self.neurons
        return self.spikes / (n * self.sample_steps) if n and self.sample_steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps, "sample_steps": self.sample_steps, "sops": self.sops,
            "macs": self.macs, "dense_macs": self.dense_macs, "spikes": self.spikes,
            "neurons": self.neurons, "firing_rate": self.firing_rate,
            "memory_bytes": self.memory_bytes,
            "layers": {k: v.to_dict() for k, v in self.layers.items()},
        }

    def table(self) -> str:
        """A text table, one row per layer."""
        head = (f"{'layer':16s} {'primitive':10s} {'neurons':>9s} {'spikes':>9s} {'rate':>7s} "
                f"{'SOPs':>11s} {'MACs':>11s} {'dense MACs':>11s} {'memory B':>10s}")
        rows = [head]
        for c in self.layers.values():
            rows.append(f"{c.name:16s} {c.primitive:10s} {c.neurons:9d} {c.spikes:9d} "
                        f"{c.firing_rate:7.4f} {c.sops:11d} {c.macs:11d} {c.dense_macs:11d} "
                        f"{c.memory_bytes:10d}")
        rows.append(f"{'total':27s} {self.neurons:9d} {self.spikes:9d} {self.firing_rate:7.4f} "
                    f"{self.sops:11d} {self.macs:11d} {self.dense_macs:11d} "
                    f"{self.memory_bytes:10d}")
        return "\n".join(rows)
