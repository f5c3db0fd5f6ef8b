"""Import NIR graphs as an executable, multi-step :class:`GraphModule`.

``import_nir(graph_or_path, dt)`` maps every NIR primitive to a module::

    Affine/Linear → nn.Linear   Conv1d/Conv2d → nn.Conv1d/2d   Flatten → nn.Flatten
    SumPool2d → SumPool2d   AvgPool2d → nn.AvgPool2d   Scale → Scale   Threshold → Threshold
    LIF → LIFCell   CubaLIF → CubaLIFCell   IF → IFCell   LI → LICell   CubaLI → CubaLICell
    I → ICell   Delay → Delay(round(delay/dt) steps)   nested NIRGraph → inlined (its
    Input/Output nodes become plain wiring)

Time step.  NIR neurons are continuous-time (``τ·dv/dt = (v_leak − v) + R·I``); they run
here as their forward-Euler discretisation with the ``dt`` given, e.g. LIF becomes
``v ← v + dt/τ·((v_leak − v) + R·x)``, i.e. decay ``β = 1 − dt/τ``.  NIR files carry no dt:
a graph exported by snnTorch uses ``τ = dt/(1 − β)``, ``R = τ/dt``, ``v_leak = 0`` with
snnTorch's fixed ``dt = 1e-4``, so import it with ``dt=1e-4`` to get ``v = β·v + x`` back.
Graphs from :func:`export_nir` record their dt in ``metadata["dt"]``; importing with
another dt warns (it is allowed: the same continuous-time network, resampled).

Graphs with cycles (recurrent edges) run in topological order with a one-step delay on
each back edge (see :mod:`.graph`).  NIR's Flatten dims exclude the batch axis.  Shapes are
checked at import by a dry run when every Input's shape is known; every problem raises
:class:`NIRImportError` naming the node and its primitive.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from .cuba_li import CubaLICell, CubaLIParameters
from .cuba_lif import CubaLIFCell, CubaLIFParameters
from .delay import Delay
from .graph import GraphError, GraphModule
from .if_neuron import IFCell, IFParameters
from .integrator import ICell, IParameters
from .li import LICell, LIParameters
from .lif import LIFCell, LIFParameters
from .nir_errors import NIRImportError
from .pooling import SumPool2d
from .scale import Scale
from .threshold import Threshold

KNOWN_PRIMITIVES = frozenset(getattr(nir.ir, "__all_ir", ())) | {
    "Input", "Output", "NIRGraph", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "Flatten",
    "SumPool2d", "AvgPool2d", "Delay", "Threshold", "LIF", "CubaLIF", "IF", "LI", "CubaLI", "I",
}


def _t(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32))


def _int(v: Any) -> int:
    return int(np.asarray(v).reshape(-1)[0])


def _pair(v: Any) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _pad(v: Any, two: bool) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return v
    return _pair(v) if two else _int(v)


# -- primitive converters ------------------------------------------------------------------
def _affine(n: Any, dt: float) -> nn.Module:
    w = np.asarray(n.weight)
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D [out, in], got shape {w.shape}")
    has_bias = isinstance(n, nir.Affine)
    m = nn.Linear(w.shape[1], w.shape[0], bias=has_bias)
    with torch.no_grad():
        m.weight.copy_(_t(w))
        if has_bias:
            b = np.asarray(n.bias)
            if b.shape != (w.shape[0],):
                raise ValueError(f"bias shape {b.shape} does not match weight {w.shape}")
            m.bias.copy_(_t(b))
    return m


def _conv(n: Any, dt: float) -> nn.Module:
    w = np.asarray(n.weight)
    two = isinstance(n, nir.Conv2d)
    if w.ndim != (4 if two else 3):
        raise ValueError(f"weight has shape {w.shape}")
    groups = _int(n.groups)
    cls = nn.Conv2d if two else nn.Conv1d
    conv = _pair if two else _int
    m = cls(w.shape[1] * groups, w.shape[0], w.shape[2:], stride=conv(n.stride),
            padding=_pad(n.padding, two), dilation=conv(n.dilation), groups=groups, bias=True)
    with torch.no_grad():
        m.weight.copy_(_t(w))
        bias = np.zeros(w.shape[0]) if n.bias is None else np.asarray(n.bias).reshape(-1)
        m.bias.copy_(_t(np.broadcast_to(bias, (w.shape[0],))))
    return m


def _sumpool(n: Any, dt: float) -> nn.Module:
    return SumPool2d(_pair(n.kernel_size), _pair(n.stride), _pair(n.padding))


def _avgpool(n: Any, dt: float) -> nn.Module:
    return nn.AvgPool2d(_pair(n.kernel_size), _pair(n.stride), _pair(n.padding))


def _flatten(n: Any, dt: float) -> nn.Module:
    start, end = int(n.start_dim), int(n.end_dim)
    return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _delay(n: Any, dt: float) -> nn.Module:
    steps = np.asarray(n.delay, dtype=np.float64) / dt
    rounded = np.round(steps)
    if not np.allclose(steps, rounded, rtol=0, atol=1e-6 * max(1.0, float(np.abs(steps).max(
            initial=0)))):
        raise ValueError(f"delay {np.asarray(n.delay).tolist()} s is not a multiple of dt={dt}")
    if (rounded < 0).any():
        raise ValueError("delay must be >= 0")
    return Delay(torch.from_numpy(rounded.astype(np.int64)))


def _lif(n: Any, dt: float) -> nn.Module:
    return LIFCell(LIFParameters(tau_mem=_t(n.tau), r=_t(n.r), v_leak=_t(n.v_leak),
                                 v_th=_t(n.v_threshold), v_reset=_t(n.v_reset)), dt)


def _cuba_lif(n: Any, dt: float) -> nn.Module:
    return CubaLIFCell(CubaLIFParameters(
        tau_syn=_t(n.tau_syn), tau_mem=_t(n.tau_mem), r=_t(n.r), w_in=_t(n.w_in),
        v_leak=_t(n.v_leak), v_th=_t(n.v_threshold), v_reset=_t(n.v_reset)), dt)


def _if(n: Any, dt: float) -> nn.Module:
    return IFCell(IFParameters(r=_t(n.r), v_th=_t(n.v_threshold), v_reset=_t(n.v_reset)), dt)


def _li(n: Any, dt: float) -> nn.Module:
    return LICell(LIParameters(tau_mem=_t(n.tau), r=_t(n.r), v_leak=_t(n.v_leak)), dt)


def _cuba_li(n: Any, dt: float) -> nn.Module:
    return CubaLICell(CubaLIParameters(
        tau_syn=_t(n.tau_syn), tau_mem=_t(n.tau_mem), r=_t(n.r), w_in=_t(n.w_in),
        v_leak=_t(n.v_leak)), dt)


def _i(n: Any, dt: float) -> nn.Module:
    return ICell(IParameters(r=_t(n.r)), dt)


CONVERTERS: dict[type, Callable[[Any, float], nn.Module]] = {
    nir.Affine: _affine, nir.Linear: _affine,
    nir.Scale: lambda n, dt: Scale(_t(n.scale)),
    nir.Conv1d: _conv, nir.Conv2d: _conv,
    nir.SumPool2d: _sumpool, nir.AvgPool2d: _avgpool, nir.Flatten: _flatten,
    nir.Delay: _delay, nir.Threshold: lambda n, dt: Threshold(_t(n.threshold)),
    nir.LIF: _lif, nir.CubaLIF: _cuba_lif, nir.IF: _if, nir.LI: _li, nir.CubaLI: _cuba_li,
    nir.I: _i,
}


# -- reading and flattening -----------------------------------------------------------------
def _diagnose_file(path: Path) -> str | None:
    """Why ``path`` is not a readable NIR file, naming the offending node if possible."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return f"not an HDF5 file ({e})"
    with f:
        if "node" not in f:
            return "no 'node' group: not a NIR file"

        def walk(group: Any, where: str) -> str | None:
            if "type" not in group:
                return f"node '{where or '<root>'}' has no 'type'"
            kind = group["type"][()]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind not in KNOWN_PRIMITIVES:
                return f"node '{where or '<root>'}' has unknown NIR primitive '{kind}'"
            if kind == "NIRGraph":
                if "nodes" not in group or "edges" not in group:
                    return f"graph '{where or '<root>'}' lacks 'nodes' or 'edges'"
                for key, child in group["nodes"].items():
                    found = walk(child, f"{where}.{key}" if where else key)
                    if found:
                        return found
            return None

        return walk(f["node"], "")


def read_nir(path: str | Path) -> nir.NIRGraph:
    """``nir.read`` with failures turned into :class:`NIRImportError` naming the file
    and, where it can be found, the node."""
    path = Path(path)
    if not path.is_file():
        raise NIRImportError(f"NIR file '{path}' does not exist")
    try:
        return nir.read(path)
    except (OSError, KeyError, ValueError, TypeError, AssertionError, AttributeError) as e:
        detail = _diagnose_file(path) or f"{type(e).__name__}: {e}"
        raise NIRImportError(f"cannot read NIR file '{path}': {detail}") from e


def _flatten_graph(
    g: nir.NIRGraph, prefix: str = ""
) -> tuple[dict[str, Any], list[tuple[str, str]], set[str]]:
    """Inline nested graphs as ``"<sub>.<node>"``; return nodes, edges and the names of
    the nested Input/Output nodes ('ports', plain wiring to remove)."""
    where = prefix[:-1] or "<root>"
    if not isinstance(getattr(g, "nodes", None), dict) or not isinstance(
        getattr(g, "edges", None), (list, tuple)
    ):
        raise NIRImportError(f"graph '{where}' has no nodes dict or edge list")
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ports: set[str] = set()
    entry: dict[str, str | None] = {}
    exit_: dict[str, str | None] = {}
    for key, node in g.nodes.items():
        name = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_ports = _flatten_graph(node, f"{name}.")
            ins = [f"{name}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [f"{name}.{k}" for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            nodes.update(sub_nodes)
            edges += sub_edges
            ports |= sub_ports | set(ins) | set(outs)
            entry[name] = ins[0] if len(ins) == 1 else None
            exit_[name] = outs[0] if len(outs) == 1 else None
        else:
            nodes[name] = node
    for edge in g.edges:
        if len(edge) != 2:
            raise NIRImportError(f"malformed edge {edge!r} in graph '{where}'")
        a, b = (f"{prefix}{e.decode() if isinstance(e, bytes) else e}" for e in edge)
        if a in exit_:
            if exit_[a] is None:
                raise NIRImportError(f"edge ('{a}', '{b}'): subgraph '{a}' has no single Output")
            a = exit_[a]
        if b in entry:
            if entry[b] is None:
                raise NIRImportError(f"edge ('{a}', '{b}'): subgraph '{b}' has no single Input")
            b = entry[b]
        edges.append((a, b))
    return nodes, edges, ports


def _rewire(edges: list[tuple[str, str]], ports: set[str]) -> list[tuple[str, str]]:
    """Remove pass-through port names: connect each port's sources to its targets."""
    for p in sorted(ports):
        sources = [a for a, b in edges if b == p]
        new: list[tuple[str, str]] = []
        for a, b in edges:
            if b == p:
                continue
            if a == p:
                new += [(s, b) for s in sources]
            else:
                new.append((a, b))
        edges = new
    return edges


def _shape(t: Any) -> tuple[int, ...] | None:
    if t is None:
        return None
    return tuple(int(v) for v in np.asarray(t).reshape(-1))


def import_nir(graph_or_path: nir.NIRNode | str | Path, dt: float) -> GraphModule:
    """An executable :class:`GraphModule` for a NIR graph (or file), neurons discretised
    with time step ``dt`` seconds; see the module docstring."""
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise NIRImportError(f"dt: must be a positive number of seconds, got {dt!r}")
    g = read_nir(graph_or_path) if isinstance(graph_or_path, (str, Path)) else graph_or_path
    if not isinstance(g, nir.NIRGraph):
        if not isinstance(g, nir.NIRNode):
            raise NIRImportError(f"expected a nir.NIRGraph, got {type(g).__name__}")
        try:
            g = nir.NIRGraph.from_list(g)
        except (ValueError, TypeError, AttributeError, AssertionError) as e:
            raise NIRImportError(f"cannot wrap the {type(g).__name__} node in a graph: {e}") from e
    meta_dt = g.metadata.get("dt") if isinstance(g.metadata, dict) else None
    if meta_dt is not None and not np.isclose(float(meta_dt), dt, rtol=1e-9, atol=0):
        warnings.warn(
            f"the graph was exported with dt={float(meta_dt):g} s but is imported with "
            f"dt={dt:g} s: neuron decays and delays change accordingly", stacklevel=2)
    nodes, edges, ports = _flatten_graph(g)
    for p in ports:
        nodes.pop(p, None)
    edges = _rewire(edges, ports)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    modules: dict[str, nn.Module] = {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output)):
            continue
        conv = CONVERTERS.get(type(node))
        if conv is None:
            raise NIRImportError(
                f"node '{name}': unsupported NIR primitive '{type(node).__name__}' "
                f"(supported: {sorted(c.__name__ for c in CONVERTERS)})"
            )
        try:
            modules[name] = conv(node, float(dt))
        except (ValueError, TypeError, AttributeError, AssertionError, RuntimeError) as e:
            raise NIRImportError(f"node '{name}' ({type(node).__name__}): {e}") from e
    try:
        gm = GraphModule(modules, edges, inputs, outputs)
    except GraphError as e:
        raise NIRImportError(str(e)) from e
    _check_shapes(gm, nodes)
    return gm


def _check_shapes(gm: GraphModule, nodes: dict[str, Any]) -> None:
    in_shapes = {n: _shape(nodes[n].input_type.get("input")) for n in gm.inputs}
    if any(s is None for s in in_shapes.values()):
        return  # shapes unknown until run time
    try:
        shapes = gm.infer_shapes(in_shapes)  # type: ignore[arg-type]
    except GraphError as e:
        prim = f" (NIR {type(nodes[e.node]).__name__})" if e.node in nodes else ""
        raise NIRImportError(f"shape mismatch{prim}: {e}") from e
    for name, (actual_in, _) in shapes.items():
        node = nodes[name]
        if name in gm.inputs:
            continue
        if isinstance(node, nir.Output):
            declared, actual, what = _shape(node.output_type.get("output")), actual_in, "output"
        else:
            declared = _shape((node.input_type or {}).get("input"))
            actual, what = actual_in, "input"
        if declared is not None and declared != actual:
            hint = ""
            if in_shapes and any(len(s) and s[0] == 1 for s in in_shapes.values()):
                hint = " (does an Input shape include the batch axis? NIR shapes exclude it)"
            raise NIRImportError(
                f"shape mismatch at node '{name}' ({type(node).__name__}): declared {what} "
                f"shape {declared}, but it receives {actual}{hint}"
            )
