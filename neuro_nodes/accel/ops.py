"""Node executors of the event-driven engine: synapses, neurons and plain layers.

Each graph node becomes an op with ``run(x, kind, events, state, count) -> (y, kind, events,
state)``: ``x`` is the node's summed input ``[B, ...]``, ``events`` its :class:`Events` when
already known (spikes listed by a fused neuron update, passed through a Flatten), else None,
and ``kind`` what the runtime knows of its values:

* ``EVENT``: sparse spikes or spike-derived values (from spiking neurons or Threshold,
  possibly flattened, delayed, scaled or pooled): synapses run event-driven;
* ``AUTO``: a graph input in ``event_inputs="auto"`` mode: event-driven when every nonzero
  value is exactly 1 (binary events), else dense;
* ``DENSE``: real-valued (currents, membrane outputs of LI/I/CubaLI, real-valued input):
  synapses run the dense module and count MACs.

Neurons run the step functions of :mod:`neuro_nodes.snn` (``step_fn`` of the imported cell)
or, with ``fused=True`` (the event backend's default) for LIF, CubaLIF and IF layers, the
checked compiled update of :mod:`.fused`, compiled from the same equations.  Their parameters
are taken once from the cell; a per-neuron parameter tensor whose values are all equal is
kept as a 0-d tensor (broadcasting gives the same float32 results per element, with less
memory traffic), and per-neuron tensors are kept in the memory order of the input
(channels-last after a convolution).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from neuro_nodes.snn import (
    CubaLICell,
    CubaLIFCell,
    Delay,
    ICell,
    IFCell,
    LICell,
    LIFCell,
    NeuronCell,
    Scale,
    SumPool2d,
    Threshold,
)

from .counters import LayerCounters
from .errors import AccelError
from .events import Events, gather, is_channels_last
from .fused import FusedNeuron
from .synapses import PoolSynapse, Synapse, make_synapse

Result = tuple[Tensor, int, Events | None, Any]

EVENT, AUTO, DENSE = 0, 1, 2
SPIKING = (LIFCell, CubaLIFCell, IFCell)

_PRIMITIVES: list[tuple[type, str]] = [
    (nn.Conv1d, "Conv1d"), (nn.Conv2d, "Conv2d"), (SumPool2d, "SumPool2d"),
    (nn.AvgPool2d, "AvgPool2d"), (nn.Flatten, "Flatten"), (Delay, "Delay"), (Scale, "Scale"),
    (Threshold, "Threshold"), (LIFCell, "LIF"), (CubaLIFCell, "CubaLIF"), (IFCell, "IF"),
    (LICell, "LI"), (CubaLICell, "CubaLI"), (ICell, "I"),
]


def primitive_of(m: nn.Module) -> str:
    """The NIR primitive name of an imported module."""
    if isinstance(m, nn.Linear):
        return "Affine" if m.bias is not None else "Linear"
    for cls, name in _PRIMITIVES:
        if isinstance(m, cls):
            return name
    return type(m).__name__


def _state_bytes(state: Any, batch: int) -> int:
    if isinstance(state, Tensor):
        return state.numel() * state.element_size() // max(batch, 1)
    if isinstance(state, (tuple, list)):
        return sum(_state_bytes(s, batch) for s in state)
    return 0


def compact_params(p: Any) -> Any:
    """``p`` with every tensor field whose elements are all equal as a 0-d tensor."""
    changes = {}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if isinstance(v, Tensor) and v.dim() > 0 and v.numel() > 0:
            first = v.reshape(-1)[0]
            if bool((v == first).all()):
                changes[f.name] = first.detach().clone()
    return dataclasses.replace(p, **changes) if changes else p


class Op:
    """Base executor; ``counters`` holds the node's :class:`LayerCounters`."""

    role = "other"

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name = name
        self.module = module
        self.primitive = primitive_of(module)
        self.counters = LayerCounters(name, self.primitive, self.role)
        params = [*module.parameters(), *module.buffers()]
        self.counters.param_bytes = sum(t.numel() * t.element_size() for t in params)

    def run(self, x: Tensor, kind: int, events: Events | None, state: Any,
            count: bool) -> Result:
        raise NotImplementedError

    def error(self, msg: str) -> AccelError:
        return AccelError(f"node '{self.name}' ({self.primitive}): {msg}", self.name,
                          self.primitive)


class SynapseOp(Op):
    role = "synapse"

    def __init__(self, name: str, module: nn.Module, synapse: Synapse) -> None:
        super().__init__(name, module)
        self.syn = synapse
        self.keeps_events = isinstance(synapse, PoolSynapse)

    def run(self, x: Tensor, kind: int, events: Events | None, state: Any,
            count: bool) -> Result:
        syn = self.syn
        if x.shape[1:] != syn.shape_in:
            syn.bind(x.shape[1:])
        batch = x.shape[0]
        c = self.counters
        if kind != DENSE:
            if events is None or (events.cl and not syn.takes_channels_last):
                events = gather(x if syn.takes_channels_last else x.contiguous())
            if kind == EVENT or events.binary:
                y, sops = syn.events(events, batch)
                if count:
                    c.sops += sops
                    c.event_calls += 1
                    c.dense_macs += syn.dense_macs * batch
                return y, (EVENT if self.keeps_events else DENSE), None, state
        y = syn.dense(x)
        if count:
            c.macs += syn.dense_macs * batch
            c.dense_calls += 1
            c.dense_macs += syn.dense_macs * batch
        return y, DENSE, None, state


class NeuronOp(Op):
    """A neuron layer: ``step_fn(x, state, p, dt)`` of the imported cell."""

    role = "neuron"

    def __init__(self, name: str, cell: NeuronCell, fused: bool = False) -> None:
        super().__init__(name, cell)
        self.step_fn: Callable[..., Any] = type(cell).step_fn
        self.dt = cell.dt
        full = cell.p
        self.param_shape = torch.broadcast_shapes(*(
            tuple(getattr(full, f.name).shape) for f in dataclasses.fields(full)
            if isinstance(getattr(full, f.name), Tensor)))
        self.p = compact_params(full)
        self._p_cl: Any = None
        self.spiking = isinstance(cell, SPIKING)
        self.fused = FusedNeuron(cell, self.p) if fused and FusedNeuron.supports(
            cell, self.p) else None
        self._checked: tuple[int, ...] | None = None
        #: zero the input once read: it is the reused output buffer of the one synapse
        #: feeding this layer (set by the event backend, see ``Synapse.reuse``)
        self.clears_input = False

    def check_shape(self, shape: tuple[int, ...]) -> None:
        try:
            ok = torch.broadcast_shapes(self.param_shape, shape) == shape
        except RuntimeError:
            ok = False
        if not ok:
            raise self.error(f"its parameters have shape {tuple(self.param_shape)} but its "
                             f"input has shape {shape}")
        self._checked = shape
        self.counters.neurons = math.prod(shape)
        if self.fused is not None and self.fused.ok is None:
            self.fused.check(shape)

    def _params_for(self, x: Tensor) -> Any:
        """The parameters in ``x``'s memory order (channels-last copies made once)."""
        if not is_channels_last(x):
            return self.p
        if self._p_cl is None:
            changes = {}
            for f in dataclasses.fields(self.p):
                v = getattr(self.p, f.name)
                if isinstance(v, Tensor) and v.dim() == 3:
                    changes[f.name] = v.unsqueeze(0).contiguous(
                        memory_format=torch.channels_last).squeeze(0)
            self._p_cl = dataclasses.replace(self.p, **changes)
        return self._p_cl

    def run(self, x: Tensor, kind: int, events: Events | None, state: Any,
            count: bool) -> Result:
        if x.shape[1:] != self._checked:
            self.check_shape(tuple(x.shape[1:]))
        first = state is None
        c = self.counters
        if self.fused is not None and self.fused.ok:
            z, state, out_events = self.fused.run(x, state, self.clears_input)
            if count:
                c.spikes += out_events.count
        else:
            z, state = self.step_fn(x, state, self._params_for(x), self.dt)
            if self.clears_input:
                x.zero_()
            out_events = None
            if count and self.spiking:
                c.spikes += int(torch.count_nonzero(z))
        if first:
            c.state_bytes = _state_bytes(state, x.shape[0])
        if count:
            c.neuron_updates += x.numel()
        return z, (EVENT if self.spiking else DENSE), out_events, state


class ModuleOp(Op):
    """Flatten, Delay, Scale, Threshold: the imported module itself."""

    def __init__(self, name: str, module: nn.Module) -> None:
        super().__init__(name, module)
        self.stateful = isinstance(module, Delay)
        self.makes_events = isinstance(module, Threshold)
        self.keeps_order = isinstance(module, nn.Flatten)
        # a flatten is called as a tensor method (no module-call overhead)
        self._flatten = (module.start_dim, module.end_dim) if self.keeps_order else None

    def run(self, x: Tensor, kind: int, events: Events | None, state: Any,
            count: bool) -> Result:
        if self.stateful:
            first = state is None
            y, state = self.module(x, state)
            if first:
                self.counters.state_bytes = _state_bytes(state, x.shape[0])
        elif self._flatten is not None:
            y = x.flatten(*self._flatten)
        else:
            y = self.module(x)
        if self.makes_events:
            if count:
                self.counters.neurons = math.prod(x.shape[1:])
                self.counters.spikes += int(torch.count_nonzero(y))
            return y, EVENT, None, state
        # a flatten of a C-contiguous tensor keeps every sample's flat memory order
        keep = self.keeps_order and events is not None and not events.cl and x.is_contiguous()
        return y, kind, (events if keep else None), state


def make_op(name: str, module: nn.Module, fused: bool = False) -> Op:
    synapse = make_synapse(name, primitive_of(module), module)
    if synapse is not None:
        return SynapseOp(name, module, synapse)
    if isinstance(module, NeuronCell):
        return NeuronOp(name, module, fused)
    return ModuleOp(name, module)
