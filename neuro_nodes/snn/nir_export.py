"""Export to NIR (Neuromorphic Intermediate Representation, package ``nir``).

``export_nir(model, dt, input_shape)`` turns a :class:`SpikingSequential` (nested
sequentials are flattened), a :class:`GraphModule` or a single module into a
``nir.NIRGraph``.  Shapes exclude batch and time; ``input_shape`` is one sample's shape.

Time step.  NIR neurons are continuous-time, ``τ·dv/dt = (v_leak − v) + R·I``, and carry
no dt; our cells are their forward-Euler discretisation with step ``dt``, so the cells'
τ, R, v_leak, θ, v_reset are written as they are and ``dt`` only converts delays
(``delay = k·dt`` seconds).  The graph's metadata records ``{"dt": dt}``; a consumer must
use the same dt (snnTorch's importer assumes ``dt = 1e-4``).  For a snnTorch-style
``v = β·v + x`` use τ = dt/(1 − β), R = τ/dt, v_leak = 0.

Mapping::

    nn.Linear → Affine (bias) | Linear      nn.Conv1d/2d → Conv1d/2d   nn.Flatten → Flatten
    SumPool2d → SumPool2d   nn.AvgPool2d → AvgPool2d   Scale → Scale   Threshold → Threshold
    LIFCell → LIF   CubaLIFCell → CubaLIF   IFCell → IF   LICell → LI   CubaLICell → CubaLI
    ICell → I   Delay → Delay   Recurrent(cell, w_rec) → nodes "<i>.cell", "<i>.w_rec" with
    edges cell → w_rec → cell (the back edge; as snnTorch's RLeaky export)

Not exportable (NIRExportError): reset="subtract" (NIR resets to v_reset), MultiSpike and
any other module.  Surrogate and SLTT settings are training-only and not written.
Neuron parameters are broadcast to the neuron shape, as NIR requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import nir
import numpy as np
from torch import Tensor, nn

from .base import NeuronCell
from .cuba_li import CubaLICell
from .cuba_lif import CubaLIFCell
from .delay import Delay
from .graph import GraphError, GraphModule
from .if_neuron import IFCell
from .integrator import ICell
from .li import LICell
from .lif import LIFCell
from .nir_errors import NIRExportError
from .pooling import SumPool2d
from .recurrent import Recurrent
from .scale import Scale
from .sequential import SpikingSequential
from .threshold import Threshold

Shape = tuple[int, ...]


def _np(t: Any, shape: Shape | None = None) -> np.ndarray:
    a = t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)
    a = a.astype(np.float32)
    return np.broadcast_to(a, shape).copy() if shape is not None else a.copy()


def _chain(modules: Sequence[tuple[str, nn.Module]]) -> GraphModule:
    """A SpikingSequential's layers as a graph "input" → ... → "output"."""
    nodes: dict[str, nn.Module] = {}
    edges: list[tuple[str, str]] = []
    last = "input"
    for name, m in modules:
        if isinstance(m, Recurrent):
            cell, w = f"{name}.cell", f"{name}.w_rec"
            nodes[cell], nodes[w] = m.cell, m.w_rec
            edges += [(last, cell), (cell, w), (w, cell)]
            last = cell
        else:
            nodes[name] = m
            edges.append((last, name))
            last = name
    edges.append((last, "output"))
    return GraphModule(nodes, edges, ["input"], ["output"])


def _flat(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    out: list[tuple[str, nn.Module]] = []
    for i, m in enumerate(model):
        name = f"{prefix}{i}"
        if isinstance(m, nn.Sequential):
            out += _flat(m, f"{name}_")
        elif not isinstance(m, nn.Identity):
            out.append((name, m))
    return out


def as_graph(model: nn.Module) -> GraphModule:
    """``model`` as a :class:`GraphModule` sharing its modules."""
    if isinstance(model, GraphModule):
        return model
    if isinstance(model, (SpikingSequential, nn.Sequential)):
        modules = _flat(model)
        if not modules:
            raise NIRExportError("the model has no layers")
        return _chain(modules)
    return _chain([("0", model)])


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _neuron(name: str, m: NeuronCell, shape: Shape) -> nir.NIRNode:
    p = m.p
    if getattr(p, "reset", "zero") != "zero":
        raise NIRExportError(
            f"node '{name}' ({type(m).__name__}): reset={p.reset!r} has no NIR equivalent "
            "(NIR neurons reset to v_reset); use reset='zero'"
        )
    if isinstance(m, LIFCell):
        return nir.LIF(tau=_np(p.tau_mem, shape), r=_np(p.r, shape), v_leak=_np(p.v_leak, shape),
                       v_threshold=_np(p.v_th, shape), v_reset=_np(p.v_reset, shape))
    if isinstance(m, CubaLIFCell):
        return nir.CubaLIF(
            tau_syn=_np(p.tau_syn, shape), tau_mem=_np(p.tau_mem, shape), r=_np(p.r, shape),
            v_leak=_np(p.v_leak, shape), v_threshold=_np(p.v_th, shape),
            v_reset=_np(p.v_reset, shape), w_in=_np(p.w_in, shape))
    if isinstance(m, IFCell):
        return nir.IF(r=_np(p.r, shape), v_threshold=_np(p.v_th, shape),
                      v_reset=_np(p.v_reset, shape))
    if isinstance(m, LICell):
        return nir.LI(tau=_np(p.tau_mem, shape), r=_np(p.r, shape), v_leak=_np(p.v_leak, shape))
    if isinstance(m, CubaLICell):
        return nir.CubaLI(
            tau_syn=_np(p.tau_syn, shape), tau_mem=_np(p.tau_mem, shape), r=_np(p.r, shape),
            v_leak=_np(p.v_leak, shape), w_in=_np(p.w_in, shape))
    if isinstance(m, ICell):
        return nir.I(r=_np(p.r, shape))
    raise NIRExportError(f"node '{name}' ({type(m).__name__}): no NIR primitive for this cell")


def _flatten_dim(name: str, d: int, ndim: int) -> int:
    """torch Flatten dim (batch = 0) → NIR dim (batch excluded)."""
    d = d % (ndim + 1)
    if d == 0:
        raise NIRExportError(f"node '{name}' (Flatten): flattening the batch axis is not allowed")
    return d - 1


def module_to_nir(name: str, m: nn.Module, shape: Shape, dt: float) -> nir.NIRNode:
    """The NIR node for module ``m`` whose input (one sample) has ``shape``."""
    if isinstance(m, NeuronCell):
        return _neuron(name, m, shape)
    if isinstance(m, nn.Linear):
        w = _np(m.weight)
        return nir.Affine(weight=w, bias=_np(m.bias)) if m.bias is not None else nir.Linear(w)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        if m.padding_mode != "zeros":
            raise NIRExportError(
                f"node '{name}' ({type(m).__name__}): padding_mode={m.padding_mode!r} "
                "has no NIR equivalent"
            )
        bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32)
        if isinstance(m, nn.Conv1d):
            pad = m.padding if isinstance(m.padding, str) else int(m.padding[0])
            return nir.Conv1d(input_shape=int(shape[-1]), weight=_np(m.weight),
                              stride=int(m.stride[0]), padding=pad,
                              dilation=int(m.dilation[0]), groups=m.groups, bias=bias)
        pad2 = m.padding if isinstance(m.padding, str) else _pair(m.padding)
        return nir.Conv2d(input_shape=(int(shape[-2]), int(shape[-1])), weight=_np(m.weight),
                          stride=_pair(m.stride), padding=pad2, dilation=_pair(m.dilation),
                          groups=m.groups, bias=bias)
    if isinstance(m, SumPool2d):
        return nir.SumPool2d(kernel_size=np.array(m.kernel_size), stride=np.array(m.stride),
                             padding=np.array(m.padding))
    if isinstance(m, nn.AvgPool2d):
        pad = _pair(m.padding)
        if m.ceil_mode or m.divisor_override is not None or (any(pad) and not m.count_include_pad):
            raise NIRExportError(
                f"node '{name}' (AvgPool2d): only ceil_mode=False, divisor_override=None "
                "and count_include_pad=True (with padding) are exportable"
            )
        k = _pair(m.kernel_size)
        s = _pair(m.stride) if m.stride is not None else k
        return nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(pad))
    if isinstance(m, nn.Flatten):
        n = len(shape)
        start = _flatten_dim(name, m.start_dim, n)
        end = _flatten_dim(name, m.end_dim, n)
        return nir.Flatten(input_type=np.array(shape), start_dim=start,
                           end_dim=-1 if end == n - 1 else end)
    if isinstance(m, Scale):
        return nir.Scale(scale=_np(m.scale, shape))
    if isinstance(m, Threshold):
        return nir.Threshold(threshold=_np(m.v_th, shape))
    if isinstance(m, Delay):
        steps = np.broadcast_to(m.steps.cpu().numpy(), shape).astype(np.float64)
        return nir.Delay(delay=steps * dt)
    raise NIRExportError(f"node '{name}' ({type(m).__name__}): no NIR primitive for this module")


def export_nir(
    model: nn.Module, dt: float, input_shape: Sequence[int] | Mapping[str, Sequence[int]]
) -> nir.NIRGraph:
    """The NIR graph of ``model`` run with time step ``dt`` (s) on one sample of
    ``input_shape`` (a dict per input for a multi-input :class:`GraphModule`)."""
    if not dt > 0:
        raise NIRExportError(f"dt: must be > 0, got {dt}")
    graph = as_graph(model)
    if isinstance(input_shape, Mapping):
        shapes_in = {k: tuple(map(int, v)) for k, v in input_shape.items()}
    else:
        if len(graph.inputs) != 1:
            raise NIRExportError(f"the graph has inputs {graph.inputs}: give a shape for each")
        shapes_in = {graph.inputs[0]: tuple(map(int, input_shape))}
    try:
        shapes = graph.infer_shapes(shapes_in)
    except GraphError as e:
        raise NIRExportError(str(e)) from e
    nodes: dict[str, nir.NIRNode] = {}
    for n in graph.inputs:
        nodes[n] = nir.Input(input_type=np.array(shapes[n][0]))
    for n in graph.names:
        in_shape, out_shape = shapes[n]
        node = module_to_nir(n, graph.node(n), in_shape, dt)
        node.input_type = {"input": np.array(in_shape)}
        node.output_type = {"output": np.array(out_shape)}
        nodes[n] = node
    for n in graph.outputs:
        nodes[n] = nir.Output(output_type=np.array(shapes[n][0]))
    out = nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata={"dt": float(dt)},
                       type_check=False)
    try:
        out.check_types()
    except (ValueError, NotImplementedError) as e:  # pragma: no cover - a bug here
        raise NIRExportError(f"exported graph fails NIR's type check: {e}") from e
    return out
