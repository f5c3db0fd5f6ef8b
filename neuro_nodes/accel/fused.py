"""Optional fused neuron updates (``AccelModel(..., fused_neurons=True)``).

The default event-driven runtime updates neurons with the step functions of
:mod:`neuro_nodes.snn`: a dozen elementwise torch operations per layer and step, which on a
small CPU cost more than the event-driven synapses themselves (e.g. ~0.6 ms for 180 k LIF
neurons on 2 cores against ~25 µs for one compiled pass).  A neuromorphic core updates its
neurons in one pass and emits the spikes as address events; this module does the same for
``LIF``, ``CubaLIF`` and ``IF`` layers (reset to ``v_reset``), in one compiled loop that
updates the state in place and writes the spikes, then lists the spikes for the next
synaptic layer.

The loop performs the step function's float32 operations in the same order, so results are
bit-identical; the per-layer constants (``dt/τ``, ``dt·R``) are even computed by torch with
the step function's own expressions.  This is a *second implementation* of the neuron
equations all the same, so each fused layer is checked against its step function on its
first input (a few random steps of that shape, state compared bit for bit); on any
difference it falls back to the step function with a warning.

Per-neuron parameters whose values are all equal run a scalar-parameter loop; otherwise
every constant is broadcast to the neuron shape once, in the memory order of the input.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuro_nodes.snn import (
    CubaLIFCell,
    CubaLIFState,
    IFCell,
    IFState,
    LIFCell,
    LIFState,
    NeuronCell,
)

from .events import Events, flat, gather, unflat
from .kernels import jit

F32 = np.float32


# -- kernels (one sample or a whole batch: flat arrays in memory order) ---------------------
@jit()
def lif_scalar(x, v, z, c, r, vl, vth, vr):  # pragma: no cover - compiled
    for k in range(x.size):
        vv = v[k]
        vn = vv + c * ((vl - vv) + r * x[k])
        s = (vn - vth) > 0
        z[k] = F32(1.0) if s else F32(0.0)
        v[k] = vr if s else vn


@jit()
def lif_array(x, v, z, c, r, vl, vth, vr):  # pragma: no cover - compiled
    n = c.size
    for b in range(x.size // n):
        for p in range(n):
            k = b * n + p
            vv = v[k]
            vn = vv + c[p] * ((vl[p] - vv) + r[p] * x[k])
            s = (vn - vth[p]) > 0
            z[k] = F32(1.0) if s else F32(0.0)
            v[k] = vr[p] if s else vn


@jit()
def cuba_lif_scalar(x, i, v, z, cs, w, cm, r, vl, vth, vr):  # pragma: no cover - compiled
    for k in range(x.size):
        ii = i[k]
        ii = ii + cs * (w * x[k] - ii)
        i[k] = ii
        vv = v[k]
        vn = vv + cm * ((vl - vv) + r * ii)
        s = (vn - vth) > 0
        z[k] = F32(1.0) if s else F32(0.0)
        v[k] = vr if s else vn


@jit()
def cuba_lif_array(x, i, v, z, cs, w, cm, r, vl, vth, vr):  # pragma: no cover - compiled
    n = cs.size
    for b in range(x.size // n):
        for p in range(n):
            k = b * n + p
            ii = i[k]
            ii = ii + cs[p] * (w[p] * x[k] - ii)
            i[k] = ii
            vv = v[k]
            vn = vv + cm[p] * ((vl[p] - vv) + r[p] * ii)
            s = (vn - vth[p]) > 0
            z[k] = F32(1.0) if s else F32(0.0)
            v[k] = vr[p] if s else vn


@jit()
def if_scalar(x, v, z, g, vth, vr):  # pragma: no cover - compiled
    for k in range(x.size):
        vn = v[k] + g * x[k]
        s = (vn - vth) > 0
        z[k] = F32(1.0) if s else F32(0.0)
        v[k] = vr if s else vn


@jit()
def if_array(x, v, z, g, vth, vr):  # pragma: no cover - compiled
    n = g.size
    for b in range(x.size // n):
        for p in range(n):
            k = b * n + p
            vn = v[k] + g[p] * x[k]
            s = (vn - vth[p]) > 0
            z[k] = F32(1.0) if s else F32(0.0)
            v[k] = vr[p] if s else vn


# -- the layer ------------------------------------------------------------------------------
class FusedNeuron:
    """A compiled update for one LIF / CubaLIF / IF layer; see the module docstring.

    ``run(x, state) -> (z, state, events)``; ``state`` is the cell's state NamedTuple over
    arrays updated in place (None: the initial state)."""

    def __init__(self, cell: NeuronCell, p: Any) -> None:
        dt = cell.dt
        self.cell = cell
        self.p = p
        if isinstance(cell, LIFCell):
            self.kind = "LIF"
            consts = [dt / p.tau_mem, p.r, p.v_leak, p.v_th, p.v_reset]
        elif isinstance(cell, CubaLIFCell):
            self.kind = "CubaLIF"
            consts = [dt / p.tau_syn, p.w_in, dt / p.tau_mem, p.r, p.v_leak, p.v_th, p.v_reset]
        else:
            self.kind = "IF"
            consts = [dt * p.r, p.v_th, p.v_reset]
        self.consts = [torch.as_tensor(c, dtype=torch.float32).detach() for c in consts]
        self.scalar = all(c.dim() == 0 for c in self.consts)
        self._kernel = {"LIF": (lif_scalar, lif_array),
                        "CubaLIF": (cuba_lif_scalar, cuba_lif_array),
                        "IF": (if_scalar, if_array)}[self.kind][0 if self.scalar else 1]
        self._arrays: dict[tuple[tuple[int, ...], bool], list[Any]] = {}
        self._last: tuple[Any, list[np.ndarray]] | None = None
        self.ok: bool | None = None  # checked against the step function on first use

    @staticmethod
    def supports(cell: NeuronCell, p: Any) -> bool:
        return (isinstance(cell, (LIFCell, CubaLIFCell, IFCell))
                and getattr(p, "reset", "zero") == "zero")

    def _params(self, shape: tuple[int, ...], cl: bool) -> list[Any]:
        """The constants as float32 scalars, or as flat arrays in the memory order of one
        sample (channels-last if ``cl``); made once per shape and layout."""
        key = (shape, cl)
        if key not in self._arrays:
            if self.scalar:
                self._arrays[key] = [F32(c.item()) for c in self.consts]
            else:
                arrs = []
                for c in self.consts:
                    full = torch.broadcast_to(c, shape).unsqueeze(0)
                    if cl:
                        full = full.permute(0, 2, 3, 1)
                    arrs.append(np.ascontiguousarray(full.numpy(), dtype=F32).reshape(-1))
                self._arrays[key] = arrs
        return self._arrays[key]

    def _initial(self, x: Tensor, cl: bool) -> tuple[Any, ...]:
        """The initial state (the step function's: ``i = 0``, ``v = 0 + v_leak`` or 0), as
        tensors over numpy arrays in ``x``'s memory order (numpy: no torch thread pool)."""
        b, n = x.shape[0], x[0].numel()
        params = self._params(tuple(x.shape[1:]), cl)

        def tensor(value: Any) -> Tensor:
            a = np.empty((b, n), F32)
            a[:] = F32(0) + value  # 0 + v_leak, as the step function's initial()
            return unflat(a, tuple(x.shape), cl)

        if self.kind == "LIF":
            return LIFState(tensor(params[2]))
        if self.kind == "CubaLIF":
            return CubaLIFState(tensor(F32(0)), tensor(params[4]))
        return IFState(tensor(F32(0)))

    def run(self, x: Tensor, state: Any) -> tuple[Tensor, Any, Events]:
        xa, cl = flat(x)
        if state is not None and self._last is not None and state is self._last[0]:
            arrays = self._last[1]  # the arrays this update wrote last step
        else:
            if state is None:
                state = self._initial(x, cl)
            # state tensors in the input's memory order (no copy when they already are),
            # then flat numpy views of them, updated in place
            fmt = torch.channels_last if cl else torch.contiguous_format
            state = type(state)(*(s.contiguous(memory_format=fmt) for s in state))
            arrays = [flat(s)[0].reshape(-1) for s in state]
        if any(a.size != xa.size for a in arrays):  # the kernels do not check bounds
            raise ValueError(f"the state holds {arrays[0].size} neurons but the input "
                             f"{xa.size} (batch size changed? call reset())")
        z = np.empty_like(xa)
        self._kernel(xa.reshape(-1), *arrays, z.reshape(-1),
                     *self._params(tuple(x.shape[1:]), cl))
        self._last = (state, arrays)
        zt = unflat(z, tuple(x.shape), cl)
        return zt, state, gather(zt)

    def check(self, shape: tuple[int, ...], seed: int = 0) -> bool:
        """Compare with the step function over a few random steps of inputs ``[2, *shape]``
        (bit for bit, spikes and state); sets and returns :attr:`ok`."""
        gen = torch.Generator().manual_seed(seed)
        step = type(self.cell).step_fn
        ref_state: Any = None
        state: Any = None
        ok = True
        for scale in (0.0, 1.0, 10.0, 100.0, 1.0):
            x = torch.randn((2, *shape), generator=gen) * scale
            z_ref, ref_state = step(x, ref_state, self.p, self.cell.dt)
            if state is not None:
                state = type(state)(*(s.clone() for s in state))
            z, state, _ = self.run(x.clone(), state)
            ok = ok and torch.equal(z, z_ref) and all(
                torch.equal(a, b) for a, b in zip(state, ref_state, strict=True))
        self.ok = ok
        if not ok:
            warnings.warn(f"fused {self.kind} update differs from its step function: using the "
                          "step function", RuntimeWarning, stacklevel=3)
        return ok
