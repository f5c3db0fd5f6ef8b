"""Multi-step executor for a graph of layers and cells, cycles allowed (NIR's graph model).

A graph has named *input* terminals, named *output* terminals, named nodes (modules)
and directed edges.  A node's (or output's) input is the **sum** of the values on its
incoming edges.

Execution order, per time step:

1. Depth-first search from the inputs, in the order given, following each node's
   out-edges in edge-list order.  An edge into a node that is still on the DFS stack is
   a **back edge**: it closes a cycle.
2. Nodes run in reverse DFS post-order, a topological order of all other edges.
3. Forward edges carry the source's value from the *same* step; a back edge carries the
   source's value from the *previous* step (nothing, i.e. zero, at the first step).

So every cycle holds exactly one step of delay, on the edge that closes it; a
``lif → w_rec → lif`` loop behaves as :class:`~neuro_nodes.snn.recurrent.Recurrent`.
Every node must be reachable from an input.  Inputs are ``[T, B, ...]`` tensors (a dict
for several inputs); state is kept between calls (streaming) until ``reset()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .base import NeuronCell, StatefulModule
from .delay import Delay
from .recurrent import Recurrent
from .scale import Scale
from .sequential import _detach
from .threshold import Threshold

Edge = tuple[str, str]
_ELEMENTWISE = (NeuronCell, Recurrent, Delay, Threshold, Scale)


class GraphError(ValueError):
    """A malformed graph or a shape that does not fit; the message names the node
    (also in ``.node`` where there is one)."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


def _dfs(inputs: Sequence[str], succ: Mapping[str, list[str]]) -> tuple[list[str], set[Edge]]:
    """Post-order of the nodes reachable from ``inputs`` and the back edges found."""
    color: dict[str, int] = {}  # 1 = on the stack, 2 = done
    post: list[str] = []
    back: set[Edge] = set()
    for root in inputs:
        if root in color:
            continue
        color[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                c = color.get(nxt)
                if c is None:
                    color[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
                    break
                if c == 1:
                    back.add((node, nxt))
            else:
                color[node] = 2
                post.append(node)
                stack.pop()
    return post, back


class GraphModule(nn.Module):
    """Executes ``nodes`` wired by ``edges`` step by step; see the module docstring."""

    def __init__(
        self,
        nodes: Mapping[str, nn.Module],
        edges: Sequence[Edge],
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        super().__init__()
        self.names = list(nodes)
        self.layers = nn.ModuleList(nodes[n] for n in self.names)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.edges = [(str(a), str(b)) for a, b in edges]
        self._index = {n: i for i, n in enumerate(self.names)}
        self._validate()
        succ: dict[str, list[str]] = {n: [] for n in self._all_names()}
        for a, b in self.edges:
            succ[a].append(b)
        post, back = _dfs(self.inputs, succ)
        unreachable = [n for n in self._all_names() if n not in set(post)]
        if unreachable:
            raise GraphError(f"node(s) {unreachable} not reachable from any input {self.inputs}")
        self.back_edges = [e for e in self.edges if e in back]
        self._order = [n for n in reversed(post) if n not in self.inputs]
        self._fwd_in = {n: [a for a, b in self.edges if b == n and (a, b) not in back]
                        for n in self._order}
        self._back_in = {n: [a for a, b in self.edges if b == n and (a, b) in back]
                         for n in self._order}
        self._back_sources = sorted({a for a, _ in self.back_edges})
        self.state: dict[str, Any] | None = None

    # -- structure ---------------------------------------------------------------------
    def _all_names(self) -> list[str]:
        return [*self.inputs, *self.names, *self.outputs]

    def _validate(self) -> None:
        seen: set[str] = set()
        for n in self._all_names():
            if n in seen:
                raise GraphError(f"node name '{n}' is used twice")
            seen.add(n)
        if not self.inputs:
            raise GraphError("the graph has no input")
        if not self.outputs:
            raise GraphError("the graph has no output")
        done: set[Edge] = set()
        for a, b in self.edges:
            for end in (a, b):
                if end not in seen:
                    raise GraphError(f"edge ('{a}', '{b}') names a node '{end}' not in the graph")
            if a in self.outputs:
                raise GraphError(f"edge ('{a}', '{b}') leaves output '{a}'")
            if b in self.inputs:
                raise GraphError(f"edge ('{a}', '{b}') enters input '{b}'")
            if (a, b) in done:
                raise GraphError(f"edge ('{a}', '{b}') appears twice")
            done.add((a, b))
        for o in self.outputs:
            if not any(b == o for _, b in self.edges):
                raise GraphError(f"output '{o}' has no incoming edge")

    def node(self, name: str) -> nn.Module:
        """The module of node ``name``."""
        return self.layers[self._index[name]]

    @property
    def order(self) -> list[str]:
        """Execution order (nodes and outputs) within one step."""
        return list(self._order)

    # -- execution ---------------------------------------------------------------------
    def _step(
        self, xs: Mapping[str, Tensor], state: Mapping[str, Any] | None,
        record: dict[str, tuple[list[tuple[str, Tensor]], Tensor]] | None = None,
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        node_states = dict(state["nodes"]) if state else {}
        prev = state["prev"] if state else {}
        vals: dict[str, Tensor] = dict(xs)
        for name in self._order:
            terms = [(a, vals[a]) for a in self._fwd_in[name]]
            terms += [(a, prev[a]) for a in self._back_in[name] if a in prev]
            x = terms[0][1]
            for _, t in terms[1:]:
                x = x + t
            if name in self._index:
                m = self.layers[self._index[name]]
                if record is not None:
                    y = self._checked_call(name, m, terms, node_states)
                elif isinstance(m, StatefulModule):
                    y, node_states[name] = m(x, node_states.get(name))
                else:
                    y = m(x)
            else:
                y = x
            if record is not None:
                record[name] = (terms, y)
            vals[name] = y
        new_prev = {a: vals[a] for a in self._back_sources}
        return {o: vals[o] for o in self.outputs}, {"nodes": node_states, "prev": new_prev}

    def _checked_call(
        self, name: str, m: nn.Module, terms: list[tuple[str, Tensor]], node_states: dict
    ) -> Tensor:
        shapes = {a: tuple(t.shape[1:]) for a, t in terms}
        if len(set(shapes.values())) > 1:
            raise GraphError(f"node '{name}': incoming shapes differ: {shapes}", name)
        x = terms[0][1]
        for _, t in terms[1:]:
            x = x + t
        try:
            if isinstance(m, StatefulModule):
                y, node_states[name] = m(x, node_states.get(name))
            else:
                y = m(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            raise GraphError(
                f"node '{name}' ({type(m).__name__}) fails on input shape "
                f"{tuple(x.shape[1:])}: {e}", name
            ) from e
        if isinstance(m, _ELEMENTWISE) and y.shape != x.shape:
            raise GraphError(
                f"node '{name}' ({type(m).__name__}): its parameters have shape "
                f"{tuple(y.shape[1:])} but its input has shape {tuple(x.shape[1:])}", name
            )
        return y

    def infer_shapes(
        self, input_shapes: Mapping[str, Sequence[int]]
    ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
        """``{name: (input shape, output shape)}`` without the batch axis, by a dry run of
        two steps on zeros (the second exercises back edges).  GraphError names the node
        whose shapes do not fit."""
        shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        ref = next(iter(self.parameters()), None)
        ref = ref if ref is not None else next(iter(self.buffers()), torch.zeros(()))
        xs = {n: torch.zeros((1, *map(int, input_shapes[n])), dtype=ref.dtype, device=ref.device)
              for n in self.inputs}
        state = None
        with torch.no_grad():
            for _ in range(2):
                record: dict = {}
                _, state = self._step(xs, state, record)
                for name, (terms, y) in record.items():
                    shapes[name] = (tuple(terms[0][1].shape[1:]), tuple(y.shape[1:]))
        for n in self.inputs:
            shapes[n] = (tuple(xs[n].shape[1:]),) * 2
        return shapes

    def _as_inputs(self, x: Tensor | Mapping[str, Tensor]) -> dict[str, Tensor]:
        if isinstance(x, Tensor):
            if len(self.inputs) != 1:
                raise ValueError(f"the graph has inputs {self.inputs}: pass a dict")
            return {self.inputs[0]: x}
        missing = set(self.inputs) - set(x)
        if missing:
            raise ValueError(f"missing inputs {sorted(missing)}")
        return {n: x[n] for n in self.inputs}

    def step(self, x: Tensor | Mapping[str, Tensor]) -> Tensor | dict[str, Tensor]:
        """Advance one time step: inputs ``[B, ...]``."""
        outs, self.state = self._step(self._as_inputs(x), self.state)
        return outs[self.outputs[0]] if len(self.outputs) == 1 else outs

    def forward(self, x: Tensor | Mapping[str, Tensor]) -> Tensor | dict[str, Tensor]:
        """Run inputs shaped ``[T, B, ...]``; outputs ``[T, B, ...]`` (a dict if several)."""
        xs = self._as_inputs(x)
        T = {v.shape[0] for v in xs.values()}
        if len(T) != 1:
            raise ValueError(f"inputs disagree on the number of steps: {sorted(T)}")
        seq: dict[str, list[Tensor]] = {o: [] for o in self.outputs}
        for t in range(T.pop()):
            outs, self.state = self._step({n: v[t] for n, v in xs.items()}, self.state)
            for o in self.outputs:
                seq[o].append(outs[o])
        stacked = {o: torch.stack(v) for o, v in seq.items()}
        return stacked[self.outputs[0]] if len(self.outputs) == 1 else stacked

    def reset(self) -> None:
        """Forget all state (membranes, delay lines, back-edge values)."""
        self.state = None

    def detach(self) -> None:
        """Detach the kept state from the autograd graph (truncated BPTT)."""
        if self.state is not None:
            self.state = {
                "nodes": {k: _detach(v) for k, v in self.state["nodes"].items()},
                "prev": {k: v.detach() for k, v in self.state["prev"].items()},
            }

    def extra_repr(self) -> str:
        return f"inputs={self.inputs}, outputs={self.outputs}, edges={self.edges}"
