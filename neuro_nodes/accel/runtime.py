"""A neuromorphic-accelerator runtime for NIR graphs: :class:`AccelModel`.

``AccelModel(graph_or_path, dt, backend="event")`` imports a NIR graph (or ``.nir`` file)
with :func:`neuro_nodes.snn.import_nir` and runs it step by step:

* ``backend="event"`` (:class:`EventBackend`): event-driven, as a neuromorphic core.  A
  synaptic layer (Affine/Linear, Conv1d/2d, SumPool2d/AvgPool2d) fed by spikes computes only
  the synapses of the inputs that are active this step (compiled scatter kernels,
  :mod:`.kernels`); a layer fed by real values (typically the first, encoding layer) runs
  densely and counts MACs.  Graph inputs are events when ``event_inputs=True``, dense when
  False, and with ``"auto"`` (default) events whenever every nonzero input value is exactly
  1 (binary event frames).  LIF, CubaLIF and IF layers update in one compiled pass each that
  lists their spikes (:mod:`.fused`), compiled from the equations that the step functions of
  :mod:`neuro_nodes.snn` use; other neurons run the step functions.
* ``backend="dense"`` (:class:`DenseBackend`): the reference, the imported
  :class:`~neuro_nodes.snn.GraphModule` itself (every synapse computed every step).
* ``backend="lava"``: Intel's Lava framework; needs ``lava-nc`` (:mod:`.lava`).

Both backends give the same spikes: the event-driven sums add the same float32 products in
another order, so membranes agree to float rounding (bit for bit where the sums are exact).

Streaming: ``step(x_t)`` advances one step (``x_t`` is ``[B, ...]``, a dict for several
inputs; the result likewise, a dict for several outputs) and keeps the state;
``reset()`` forgets it.  Batch: ``run(x)`` with ``x`` ``[T, B, ...]`` returns ``[T, B, ...]``
(continuing from the kept state).  ``counters()`` / ``reset_counters()`` give the per-layer
activity and operation counts (:mod:`.counters`), ``energy(profile)`` their energy
(:mod:`.energy`).  The graph's execution order, cycles and their one-step delay are those of
:class:`~neuro_nodes.snn.GraphModule`.

Bad graphs or inputs raise :class:`AccelError` naming the node and its NIR primitive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import nir
import numpy as np
import torch
from torch import Tensor

from neuro_nodes.snn import GraphModule, NIRImportError, import_nir, read_nir

from .counters import Counters, LayerCounters
from .energy import ChipProfile, EnergyEstimate, estimate
from .errors import AccelError, BackendUnavailable
from .events import Events
from .ops import AUTO, DENSE, EVENT, ModuleOp, NeuronOp, Op, SynapseOp, make_op, primitive_of
from .synapses import ConvSynapse

BACKENDS = ("event", "dense", "lava")
Backend = Literal["event", "dense", "lava"]
Inputs = Tensor | np.ndarray | Mapping[str, Tensor | np.ndarray]
Value = tuple[Tensor, int, Events | None]


def load_graph(graph_or_path: nir.NIRNode | str | Path) -> nir.NIRGraph:
    """A NIR graph from a graph, a node or a ``.nir`` path; AccelError if unreadable."""
    if isinstance(graph_or_path, (str, Path)):
        try:
            return read_nir(graph_or_path)
        except NIRImportError as e:
            msg = str(e)
            raise AccelError(msg, _node_from_message(msg), _primitive_from_message(msg)) from e
    if not isinstance(graph_or_path, nir.NIRNode):
        raise AccelError(f"expected a nir.NIRGraph or a path, got {type(graph_or_path).__name__}")
    return graph_or_path  # type: ignore[return-value]


def _node_from_message(msg: str) -> str | None:
    for quote in ("node '", "node(s) ['"):
        if quote in msg:
            return msg.split(quote, 1)[1].split("'", 1)[0]
    return None


def _primitive_from_message(msg: str) -> str | None:
    if "primitive '" in msg:
        return msg.split("primitive '", 1)[1].split("'", 1)[0]
    return None


class _Backend:
    """Common interface: ``step(dict) -> dict``, ``reset()``, counters."""

    name = "?"

    def step(self, xs: dict[str, Tensor]) -> dict[str, Tensor]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def layer_counters(self) -> dict[str, LayerCounters]:
        raise NotImplementedError


class EventBackend(_Backend):
    """Event-driven execution of an imported graph (see the module docstring)."""

    name = "event"

    def __init__(self, gm: GraphModule, event_inputs: bool | str = "auto",
                 fused_neurons: bool = True) -> None:
        if event_inputs not in (True, False, "auto"):
            raise ValueError(f"event_inputs: True, False or 'auto', got {event_inputs!r}")
        self.gm = gm
        back = set(gm.back_edges)
        self.order = gm.order
        self.inputs, self.outputs = list(gm.inputs), list(gm.outputs)
        self.fwd_in = {n: [a for a, b in gm.edges if b == n and (a, b) not in back]
                       for n in self.order}
        self.back_in = {n: [a for a, b in gm.edges if b == n and (a, b) in back]
                        for n in self.order}
        self.back_sources = sorted({a for a, _ in back})
        self.ops: dict[str, Op] = {n: make_op(n, gm.node(n), fused_neurons) for n in gm.names}
        # per node in order: (name, op or None for an output terminal, inputs, back inputs)
        self.plan = [(n, self.ops.get(n), tuple(self.fwd_in[n]), tuple(self.back_in[n]))
                     for n in self.order]
        self.input_kind = {True: EVENT, False: DENSE, "auto": AUTO}[event_inputs]
        self._share_buffers(gm)
        self.count = True
        self.reset()

    def _share_buffers(self, gm: GraphModule) -> None:
        """A convolution whose only reader is one neuron layer (its only input) keeps its
        output buffer, which that layer zeroes as it reads it (never a graph output, a
        back-edge source or a value read twice)."""
        readers: dict[str, list[str]] = {n: [] for n in self.order}
        for a, b in gm.edges:
            readers.setdefault(a, []).append(b)
        for n, op in self.ops.items():
            # 2-D only: its output tensor is the buffer itself, in the reader's memory order
            if not (isinstance(op, SynapseOp) and isinstance(op.syn, ConvSynapse)
                    and op.syn.two_d):
                continue
            if n in self.outputs or n in self.back_sources or len(readers.get(n, [])) != 1:
                continue
            reader = readers[n][0]
            rop = self.ops.get(reader)
            if (isinstance(rop, NeuronOp) and self.fwd_in[reader] == [n]
                    and not self.back_in[reader]):
                op.syn.reuse = rop.clears_input = True

    def _drop_buffers(self) -> None:
        for op in self.ops.values():
            if isinstance(op, SynapseOp):
                op.syn.drop_buffer()

    def reset(self) -> None:
        self.states: dict[str, Any] = {}
        self.prev: dict[str, Value] = {}

    def step(self, xs: dict[str, Tensor]) -> dict[str, Tensor]:
        vals: dict[str, Value] = {n: (xs[n], self.input_kind, None) for n in self.inputs}
        prev, states, count = self.prev, self.states, self.count
        for name, op, fwd, back in self.plan:
            if back or len(fwd) != 1:
                terms = [vals[a] for a in fwd]
                terms += [prev[a] for a in back if a in prev]
                x, kind, events = terms[0]
                if len(terms) > 1:
                    events = None
                    for t, k, _ in terms[1:]:
                        x = x + t
                        kind = max(kind, k)
            else:  # the usual chain: one input, nothing to sum
                x, kind, events = vals[fwd[0]]
            if op is None:  # an output terminal
                vals[name] = (x.contiguous(), kind, None)
                continue
            try:
                y, kind, events, states[name] = op.run(x, kind, events, states.get(name),
                                                       count)
            except BaseException as e:
                self._drop_buffers()  # a reused buffer may hold this step's sums
                if isinstance(e, (RuntimeError, ValueError, TypeError, IndexError)) and (
                        not isinstance(e, AccelError)):
                    raise op.error(f"fails on input shape {tuple(x.shape[1:])}: {e}") from e
                raise
            vals[name] = (y, kind, events)
        self.prev = {a: vals[a] for a in self.back_sources}
        return {o: vals[o][0] for o in self.outputs}

    def layer_counters(self) -> dict[str, LayerCounters]:
        return {n: op.counters for n, op in self.ops.items()}

    def bind_shapes(self, shapes: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]]) -> None:
        """Fix per-sample shapes from :meth:`GraphModule.infer_shapes`."""
        for n, op in self.ops.items():
            if n in shapes:
                if isinstance(op, SynapseOp):
                    op.syn.bind(shapes[n][0])
                elif isinstance(op, NeuronOp):
                    op.check_shape(tuple(shapes[n][0]))


class DenseBackend(_Backend):
    """The reference: the imported :class:`GraphModule`, counted with forward hooks."""

    name = "dense"

    def __init__(self, gm: GraphModule) -> None:
        self.gm = gm
        self.count = True
        # ops only for their counters and per-layer constants (nothing runs through them)
        self.ops: dict[str, Op] = {n: make_op(n, gm.node(n)) for n in gm.names}
        for n, op in self.ops.items():
            gm.node(n).register_forward_hook(self._hook(op))

    def _hook(self, op: Op):
        c = op.counters

        def hook(module: Any, args: tuple, out: Any) -> None:
            x = args[0]
            if isinstance(op, SynapseOp):
                if x.shape[1:] != op.syn.shape_in:
                    op.syn.bind(x.shape[1:])
                if self.count:
                    c.macs += op.syn.dense_macs * x.shape[0]
                    c.dense_macs += op.syn.dense_macs * x.shape[0]
                    c.dense_calls += 1
            elif isinstance(op, NeuronOp):
                z, state = out
                if c.neurons == 0:
                    op.check_shape(tuple(x.shape[1:]))
                    c.state_bytes = sum(s.numel() * s.element_size() for s in state
                                        ) // x.shape[0]
                if self.count:
                    c.neuron_updates += x.numel()
                    if op.spiking:
                        c.spikes += int(torch.count_nonzero(z))
            elif isinstance(op, ModuleOp) and op.makes_events and self.count:
                c.neurons = math.prod(x.shape[1:])
                c.spikes += int(torch.count_nonzero(out))

        return hook

    def reset(self) -> None:
        self.gm.reset()

    def step(self, xs: dict[str, Tensor]) -> dict[str, Tensor]:
        out = self.gm.step(xs)
        return out if isinstance(out, dict) else {self.gm.outputs[0]: out}

    def layer_counters(self) -> dict[str, LayerCounters]:
        return {n: op.counters for n, op in self.ops.items()}


class AccelModel:
    """A NIR graph on the accelerator runtime; see the module docstring.

    ``dt``: time step in seconds; None takes the graph's ``metadata["dt"]`` (graphs from
    :func:`~neuro_nodes.snn.export_nir`), an AccelError if it has none.
    ``event_inputs``: graph inputs are spikes (True), real values (False) or decided per
    step (``"auto"``: events when every nonzero value is 1).
    ``fused_neurons`` (event backend, default True): LIF, CubaLIF and IF layers update in
    one compiled pass that also lists the spikes, compiled from the same equations as the
    step functions (:mod:`.fused`; checked against them, bit for bit, on first use); False
    runs the step functions' torch operations instead (the slow reference).
    """

    def __init__(
        self,
        graph: nir.NIRNode | str | Path,
        dt: float | None = None,
        backend: Backend = "event",
        *,
        event_inputs: bool | str = "auto",
        fused_neurons: bool = True,
        name: str | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend: one of {BACKENDS}, got {backend!r}")
        if isinstance(graph, (str, Path)) and name is None:
            name = Path(graph).stem
        g = load_graph(graph)
        if dt is None:
            meta = g.metadata if isinstance(getattr(g, "metadata", None), dict) else {}
            if meta.get("dt") is None:
                raise AccelError("dt: the graph records no metadata['dt']; pass dt (seconds)")
            dt = float(meta["dt"])
        self.name = name or "model"
        self.dt = float(dt)
        self.backend_name = backend
        if backend == "lava":
            from .lava import LavaBackend

            self.graph = g
            self._backend: _Backend = LavaBackend(g, self.dt)
            return
        try:
            gm = import_nir(g, self.dt)
        except NIRImportError as e:
            msg = str(e)
            node = _node_from_message(msg)
            prim = _primitive_from_message(msg) or _primitive_in(g, node)
            raise AccelError(msg, node, prim) from e
        self.graph_module = gm
        self.inputs, self.outputs = list(gm.inputs), list(gm.outputs)
        self.input_shapes: dict[str, tuple[int, ...] | None] = {
            n: _declared_shape(g, n) for n in self.inputs}
        if backend == "event":
            eb = EventBackend(gm, event_inputs, fused_neurons)
            if all(s is not None for s in self.input_shapes.values()):
                eb.bind_shapes(gm.infer_shapes(self.input_shapes))  # type: ignore[arg-type]
            self._backend = eb
        else:
            self._backend = DenseBackend(gm)
        self._steps = 0
        self._sample_steps = 0

    # -- execution -----------------------------------------------------------------------
    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def counting(self) -> bool:
        """Whether steps update the counters (on by default; off saves a little time)."""
        return bool(getattr(self._backend, "count", False))

    @counting.setter
    def counting(self, on: bool) -> None:
        self._backend.count = bool(on)  # type: ignore[attr-defined]

    def _inputs(self, x: Inputs, batched_time: bool) -> dict[str, Tensor]:
        if not isinstance(x, Mapping):
            if len(self.inputs) != 1:
                raise AccelError(f"the graph has inputs {self.inputs}: pass a dict")
            x = {self.inputs[0]: x}
        missing = set(self.inputs) - set(x)
        if missing:
            raise AccelError(f"missing inputs {sorted(missing)}")
        out = {}
        lead = 2 if batched_time else 1
        for n in self.inputs:
            t = torch.as_tensor(x[n])
            if t.dtype != torch.float32:
                t = t.to(torch.float32)
            want = self.input_shapes.get(n)
            what = "[T, B, ...]" if batched_time else "[B, ...]"
            if t.dim() < lead or (want is not None and tuple(t.shape[lead:]) != want):
                exp = f"{what} with per-sample shape {want}" if want is not None else what
                raise AccelError(f"input '{n}': expected {exp}, got shape {tuple(t.shape)}",
                                 n, "Input")
            out[n] = t.contiguous()
        return out

    def _step(self, xs: dict[str, Tensor]) -> dict[str, Tensor]:
        with torch.inference_mode():
            return self._step_inside(xs)

    def _step_inside(self, xs: dict[str, Tensor]) -> dict[str, Tensor]:
        """:meth:`_step` within inference mode."""
        outs = self._backend.step(xs)
        self._steps += 1
        self._sample_steps += next(iter(xs.values())).shape[0]
        return outs

    def _pack(self, outs: dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        return outs[self.outputs[0]] if len(self.outputs) == 1 else outs

    def step(self, x: Inputs) -> Tensor | dict[str, Tensor]:
        """Advance one time step: ``x`` is ``[B, ...]`` (a dict for several inputs)."""
        return self._pack(self._step(self._inputs(x, batched_time=False)))

    def run(self, x: Inputs) -> Tensor | dict[str, Tensor]:
        """Run ``x`` shaped ``[T, B, ...]``; returns ``[T, B, ...]`` (state is kept)."""
        xs = self._inputs(x, batched_time=True)
        T = {v.shape[0] for v in xs.values()}
        if len(T) != 1:
            raise AccelError(f"inputs disagree on the number of steps: {sorted(T)}")
        seq: dict[str, list[Tensor]] = {o: [] for o in self.outputs}
        with torch.inference_mode():  # once for all steps
            for t in range(T.pop()):
                outs = self._step_inside({n: v[t] for n, v in xs.items()})
                for o in self.outputs:
                    seq[o].append(outs[o])
        return self._pack({o: torch.stack(v) for o, v in seq.items()})

    def reset(self) -> None:
        """Forget all state (membranes, delay lines, back-edge values)."""
        self._backend.reset()

    # -- counters and energy ---------------------------------------------------------------
    def counters(self) -> Counters:
        """A snapshot of the per-layer counters since the last :meth:`reset_counters`."""
        layers = {}
        for n, c in self._backend.layer_counters().items():
            snap = LayerCounters(**{**c.__dict__})
            snap.sample_steps = self._sample_steps
            layers[n] = snap
        return Counters(self._steps, self._sample_steps, layers)

    def reset_counters(self) -> None:
        for c in self._backend.layer_counters().values():
            c.clear()
        self._steps = 0
        self._sample_steps = 0

    def energy(self, profile: str | ChipProfile = "loihi") -> EnergyEstimate:
        """:func:`.energy.estimate` of the current counters."""
        return estimate(self.counters(), profile)

    def __repr__(self) -> str:
        return (f"AccelModel(name={self.name!r}, backend={self.backend!r}, dt={self.dt:g}, "
                f"inputs={self.inputs}, outputs={self.outputs})")


def _declared_shape(g: nir.NIRGraph, name: str) -> tuple[int, ...] | None:
    node = g.nodes.get(name) if isinstance(getattr(g, "nodes", None), dict) else None
    t = getattr(node, "input_type", None) or {}
    shape = t.get("input") if isinstance(t, dict) else None
    if shape is None:
        return None
    return tuple(int(v) for v in np.asarray(shape).reshape(-1))


def _primitive_in(g: Any, node: str | None) -> str | None:
    """The NIR primitive of ``node`` (``a.b`` for nested graphs), if it can be found."""
    if node is None:
        return None
    nodes = getattr(g, "nodes", None)
    if isinstance(nodes, dict):
        if node in nodes:
            return type(nodes[node]).__name__
        for key, sub in nodes.items():
            if node.startswith(f"{key}.") and isinstance(sub, nir.NIRGraph):
                return _primitive_in(sub, node[len(key) + 1:])
    return None


__all__ = [
    "BACKENDS", "AccelModel", "BackendUnavailable", "DenseBackend", "EventBackend", "load_graph",
    "primitive_of",
]
