"""Compiled neuron updates of the event-driven runtime, compiled from the neuron equations.

The event backend updates ``LIF``, ``CubaLIF`` and ``IF`` layers (reset to ``v_reset``) in
one compiled call per layer and step, as a neuromorphic core does: it updates the state in
place, writes the spikes and lists them (address events for the next synaptic layer).  The
torch step functions need a dozen elementwise operations for the same, which on a small CPU
cost more than the event-driven synapses themselves.  ``AccelModel(...,
fused_neurons=False)`` runs the step functions instead (the reference, much slower).  When
the layer's input is the reused output buffer of the convolution before it
(``Synapse.reuse``), the pass also zeroes it as it reads it.

**One source for the equations.**  The arithmetic of every update is a function of
:mod:`neuro_nodes.snn.equations` (``leaky_integrate``, ``synaptic_current``, ``integrate``,
``shifted``, ``heaviside`` and the coefficients ``rate``, ``gain``), which the torch step
functions call as well; the loops below call those same functions and numba compiles them
together.  There is no second copy of an equation here: change one in ``equations.py`` and
both paths change (``tests/accel/test_accel_fused.py`` checks this).  numba's disk cache
keys a compiled function to its own source file only, so a kernel cached from here would
not notice an edited equation; :func:`kernels` therefore writes the equations and the loops
into one generated module whose file name carries a hash of its text (next to numba's
cache: ``__pycache__`` or ``NUMBA_CACHE_DIR``), and an edit gives a new file and a fresh
compile.  The per-layer coefficients (``dt/τ``, ``dt·R``) are computed by torch with the
same functions.

Each layer is still checked against its step function on its first input shape (a few
random steps, spikes and state compared bit for bit); on any difference it falls back to
the step function with a warning.  Per-neuron parameters whose values are all equal run a
scalar-parameter loop; otherwise every coefficient is broadcast to the neuron shape once, in
the memory order of the input.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from numba.cpython.unsafe.numbers import trailing_zeros
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
from neuro_nodes.snn import equations as eq
from neuro_nodes.snn.equations import (
    heaviside,
    integrate,
    leaky_integrate,
    shifted,
    synaptic_current,
)

from .events import Events, flat, unflat

F32 = np.float32
ONE = F32(1.0)
ZERO = F32(0.0)


# -- loops: compiled by kernels() together with the equations; not called as Python --------
# Arrays are [B, n] (a batch of flat samples in memory order): x, state, z; idx[b] receives
# the positions of sample b's spikes, counts[b] how many; ``clear``: zero x once read.
# One pass, 64 neurons at a time: update them, collect their spikes in a 64-bit mask, list
# the mask's bits.  Positions inside a block are unsigned (numba then adds no negative-index
# fix-up, and the 64-neuron loop vectorises).  The per-neuron helpers take and return
# scalars only (an array argument of an inlined helper costs reference counting per call).
def lif_neuron(x, v, c, r, vl, vth, vr):  # pragma: no cover - compiled
    """One LIF neuron, one step: the new membrane and whether it spiked."""
    vn = leaky_integrate(v, x, c, r, vl)
    s = heaviside(shifted(vn, vth))
    return (vr if s else vn), s


def cuba_lif_neuron(x, i, v, cs, w, cm, r, vl, vth, vr):  # pragma: no cover - compiled
    """One CubaLIF neuron, one step: the new current and membrane, whether it spiked."""
    ii = synaptic_current(i, x, cs, w)
    vn = leaky_integrate(v, ii, cm, r, vl)
    s = heaviside(shifted(vn, vth))
    return ii, (vr if s else vn), s


def if_neuron(x, v, g, vth, vr):  # pragma: no cover - compiled
    """One IF neuron, one step: the new membrane and whether it spiked."""
    vn = integrate(v, x, g)
    s = heaviside(shifted(vn, vth))
    return (vr if s else vn), s


def lif_scalar(x, v, z, idx, counts, clear, c, r, vl, vth, vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                v_new, s = lif_neuron(xx, v[b, q], c, r, vl, vth, vr)
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            v_new, s = lif_neuron(xx, v[b, p], c, r, vl, vth, vr)
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


def lif_array(x, v, z, idx, counts, clear, c, r, vl, vth, vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                v_new, s = lif_neuron(xx, v[b, q], c[q], r[q], vl[q], vth[q], vr[q])
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            v_new, s = lif_neuron(xx, v[b, p], c[p], r[p], vl[p], vth[p], vr[p])
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


def cuba_lif_scalar(x, i, v, z, idx, counts, clear, cs, w, cm, r, vl, vth,
                    vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                i_new, v_new, s = cuba_lif_neuron(xx, i[b, q], v[b, q], cs, w, cm, r, vl, vth, vr)
                i[b, q] = i_new
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            i_new, v_new, s = cuba_lif_neuron(xx, i[b, p], v[b, p], cs, w, cm, r, vl, vth, vr)
            i[b, p] = i_new
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


def cuba_lif_array(x, i, v, z, idx, counts, clear, cs, w, cm, r, vl, vth,
                   vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                i_new, v_new, s = cuba_lif_neuron(xx, i[b, q], v[b, q], cs[q], w[q], cm[q],
                                                  r[q], vl[q], vth[q], vr[q])
                i[b, q] = i_new
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            i_new, v_new, s = cuba_lif_neuron(xx, i[b, p], v[b, p], cs[p], w[p], cm[p], r[p],
                                              vl[p], vth[p], vr[p])
            i[b, p] = i_new
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


def if_scalar(x, v, z, idx, counts, clear, g, vth, vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                v_new, s = if_neuron(xx, v[b, q], g, vth, vr)
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            v_new, s = if_neuron(xx, v[b, p], g, vth, vr)
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


def if_array(x, v, z, idx, counts, clear, g, vth, vr):  # pragma: no cover - compiled
    B, n = x.shape
    one = np.uint64(1)
    for b in range(B):
        m = 0
        for blk in range(n // 64):
            base, mask = np.uint64(blk * 64), np.uint64(0)
            for j in range(64):
                q = base + np.uint64(j)
                xx = x[b, q]
                if clear:
                    x[b, q] = ZERO
                v_new, s = if_neuron(xx, v[b, q], g[q], vth[q], vr[q])
                v[b, q] = v_new
                z[b, q] = ONE if s else ZERO
                mask |= np.uint64(s) << np.uint64(j)
            while mask != 0:  # list the block's spikes, one step per set bit
                idx[b, m] = blk * 64 + trailing_zeros(mask)
                m += 1
                mask &= mask - one
        for p in range(n // 64 * 64, n):
            xx = x[b, p]
            if clear:
                x[b, p] = ZERO
            v_new, s = if_neuron(xx, v[b, p], g[p], vth[p], vr[p])
            v[b, p] = v_new
            z[b, p] = ONE if s else ZERO
            if s:
                idx[b, m] = p
                m += 1
        counts[b] = m


_HELPERS = (lif_neuron, cuba_lif_neuron, if_neuron)
_LOOPS = (lif_scalar, lif_array, cuba_lif_scalar, cuba_lif_array, if_scalar, if_array)
_HEADER = '''\
"""Generated by neuro_nodes.accel.fused from neuro_nodes/snn/equations.py and the loops of
neuro_nodes/accel/fused.py: do not edit (the file name is a hash of this text)."""
from __future__ import annotations

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from neuro_nodes.accel.kernels import jit

F32 = np.float32
ONE = F32(1.0)
ZERO = F32(0.0)
'''


# -- the generated module ----------------------------------------------------------------
def _function_source(fn: Any, name: str) -> str:
    """The source of ``fn`` as a top-level ``def name(...)``."""
    src = textwrap.dedent(inspect.getsource(fn))
    return re.sub(r"^def \w+\(", f"def {name}(", src, count=1, flags=re.M)


def kernel_source(equations: ModuleType = eq) -> str:
    """The text of the generated kernel module: the equations (every name in
    ``equations.__all__``, as they are now), then the loops, each compiled by numba."""
    parts = [_HEADER]
    for name in equations.__all__:
        parts += [_function_source(getattr(equations, name), name),
                  f"{name} = jit(inline=True)({name})\n"]
    for fn in _HELPERS:
        parts += [_function_source(fn, fn.__name__),
                  f"{fn.__name__} = jit(inline=True)({fn.__name__})\n"]
    for fn in _LOOPS:
        parts += [_function_source(fn, fn.__name__), f"{fn.__name__} = jit()({fn.__name__})\n"]
    return "\n\n".join(parts)


def _kernel_dir() -> Path:
    """Where generated modules go: beside numba's caches, else a temporary directory."""
    base = os.environ.get("NUMBA_CACHE_DIR")
    for d in ([Path(base) / "neuro_nodes"] if base else []) + [
            Path(__file__).resolve().parent / "__pycache__",
            Path(tempfile.gettempdir()) / f"neuro_nodes-kernels-{os.getuid()}"]:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(d, os.W_OK):
            return d
    raise OSError("no writable directory for the generated neuron kernels")


_MODULES: dict[tuple[str, str], ModuleType] = {}
_LATEST: dict[tuple[Any, ...], ModuleType] = {}  # by the equation function objects in use


def kernels(equations: ModuleType = eq, directory: str | Path | None = None) -> ModuleType:
    """The compiled neuron loops of the current ``equations`` (see the module docstring):
    a module with ``lif_scalar``, ``lif_array``, ``cuba_lif_scalar``, ... (compiled on first
    call, cached on disk)."""
    fast = (equations, *(getattr(equations, n) for n in equations.__all__), directory)
    if fast in _LATEST:  # the same functions as last time: no source to read and hash
        return _LATEST[fast]
    src = kernel_source(equations)
    digest = hashlib.sha256(src.encode()).hexdigest()[:16]
    d = Path(directory) if directory is not None else _kernel_dir()
    key = (digest, str(d))
    if key in _MODULES:
        _LATEST[fast] = _MODULES[key]
        return _MODULES[key]
    path = d / f"neuron_kernels_{digest}.py"
    if not path.is_file() or path.read_text() != src:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(src)
        os.replace(tmp, path)  # atomic: a concurrent process sees the old or the new file
    name = f"neuro_nodes.accel._neuron_kernels_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _MODULES[key] = _LATEST[fast] = mod
    return mod


# -- the layer ------------------------------------------------------------------------------
class FusedNeuron:
    """A compiled update for one LIF / CubaLIF / IF layer; see the module docstring.

    ``run(x, state) -> (z, state, events)``; ``state`` is the cell's state NamedTuple over
    arrays updated in place (None: the initial state).  ``kernels_module``: a module from
    :func:`kernels` (default: that of the current equations)."""

    def __init__(self, cell: NeuronCell, p: Any, kernels_module: ModuleType | None = None
                 ) -> None:
        dt = cell.dt
        self.cell = cell
        self.p = p
        if isinstance(cell, LIFCell):
            self.kind = "LIF"
            consts = [eq.rate(dt, p.tau_mem), p.r, p.v_leak, p.v_th, p.v_reset]
        elif isinstance(cell, CubaLIFCell):
            self.kind = "CubaLIF"
            consts = [eq.rate(dt, p.tau_syn), p.w_in, eq.rate(dt, p.tau_mem), p.r, p.v_leak,
                      p.v_th, p.v_reset]
        else:
            self.kind = "IF"
            consts = [eq.gain(dt, p.r), p.v_th, p.v_reset]
        self.consts = [torch.as_tensor(c, dtype=torch.float32).detach() for c in consts]
        self.scalar = all(c.dim() == 0 for c in self.consts)
        mod = kernels_module if kernels_module is not None else kernels()
        name = {"LIF": "lif", "CubaLIF": "cuba_lif", "IF": "if"}[self.kind]
        self._kernel = getattr(mod, f"{name}_{'scalar' if self.scalar else 'array'}")
        self._arrays: dict[tuple[tuple[int, ...], bool], list[Any]] = {}
        self._last: tuple[Any, list[np.ndarray]] | None = None
        self._ones = np.ones(0, F32)
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

    def run(self, x: Tensor, state: Any, clear: bool = False) -> tuple[Tensor, Any, Events]:
        """One step; ``clear``: also zero ``x`` (in place) once read."""
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
            arrays = [flat(s)[0] for s in state]
        if arrays[0].shape != xa.shape:  # the kernels do not check bounds
            raise ValueError(f"the state holds {arrays[0].size} neurons but the input "
                             f"{xa.size} (batch size changed? call reset())")
        batch, n = xa.shape
        z = np.empty_like(xa)
        idx = np.empty((batch, n), np.int64)
        counts = np.empty(batch, np.int64)
        self._kernel(xa, *arrays, z, idx, counts, clear, *self._params(tuple(x.shape[1:]), cl))
        self._last = (state, arrays)
        if self._ones.size < n:
            self._ones = np.ones(n, F32)
        ones = self._ones
        events = Events([(idx[b, :k], ones[:k]) for b, k in enumerate(counts.tolist())],
                        True, cl)
        return unflat(z, tuple(x.shape), cl), state, events

    def check(self, shape: tuple[int, ...], seed: int = 0) -> bool:
        """Compare with the step function over a few random steps of inputs ``[2, *shape]``
        (bit for bit, spikes, spike lists and state); sets and returns :attr:`ok`."""
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
            z, state, events = self.run(x.clone(), state)
            ok = ok and torch.equal(z, z_ref) and all(
                torch.equal(a, b) for a, b in zip(state, ref_state, strict=True))
            za, _ = flat(z)
            ok = ok and all(np.array_equal(idx, np.flatnonzero(row))
                            for (idx, _), row in zip(events.samples, za, strict=True))
        self.ok = ok
        if not ok:
            warnings.warn(f"fused {self.kind} update differs from its step function: using the "
                          "step function", RuntimeWarning, stacklevel=3)
        return ok
