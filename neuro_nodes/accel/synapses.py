"""Synaptic layers run either event-driven or densely, with their operation counts.

A :class:`Synapse` wraps the torch module that :func:`~neuro_nodes.snn.import_nir` built for
an ``Affine``/``Linear``, ``Conv1d``/``Conv2d``, ``SumPool2d`` or ``AvgPool2d`` node:

* ``dense(x)`` runs the module itself (the reference computation; it costs the full fan-in
  of every output: :attr:`Synapse.dense_macs` multiply-accumulates per sample);
* ``events(...)`` runs the compiled event-driven kernel of :mod:`.kernels` on the nonzero
  inputs only and returns the number of synaptic operations actually accumulated (SOPs:
  (active input, output synapse) pairs; for a convolution the kernel taps that land inside
  the output, borders, padding and stride respected, times the output channels of the
  input's group; for pooling, the (event, window) pairs).

Bias terms are added once per output and step and are not counted as operations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from neuro_nodes.snn import SumPool2d

from .errors import AccelError
from .events import Events, unflat
from .kernels import (
    add_channel_bias,
    conv_events,
    conv_span_events,
    linear_events,
    pool_events,
    pool_lookup,
    tap_table,
)


def _leading_padding(padding: str | Sequence[int], kernel: Sequence[int],
                     dilation: Sequence[int]) -> list[int]:
    """Zero padding before the first input element per spatial axis, as torch pads
    ("same": half of ``d·(k − 1)``, rounded down; the output size covers the rest)."""
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * len(kernel)
        return [d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True)]
    return list(padding)


def _column_spans(cols: tuple[np.ndarray, np.ndarray, np.ndarray], wt3: np.ndarray, kh: int,
                  kw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Weights laid out for :func:`~.kernels.conv_span_events` (one group): the column taps
    of an input column ``j`` reach consecutive output columns from ``cmin[j]`` on, whose
    C_out-vectors are adjacent in the channels-last output; so for every column pattern
    (the (offset, tap) pairs, ``pid[j]``), input channel and row tap, one weight row of
    ``span`` floats covers them all (zero where a column is not reached, padded to a multiple
    of 16 floats: a loop that long vectorises)."""
    cn, ct, co = cols
    m = wt3.shape[2]
    patterns: dict[tuple[tuple[int, int], ...], int] = {}
    pid = np.zeros(cn.size, np.int64)
    cmin = np.zeros(cn.size, np.int64)
    for j in range(cn.size):
        taps = sorted((int(co[j, b]), int(ct[j, b])) for b in range(cn[j]))
        lo = taps[0][0] if taps else 0
        pid[j] = patterns.setdefault(tuple((o - lo, t) for o, t in taps), len(patterns))
        cmin[j] = lo
    reach = max((key[-1][0] + 1 for key in patterns if key), default=1)
    span = max(16, -(-reach * m // 16) * 16)
    cin = wt3.shape[1] // (kh * kw)
    wc = np.zeros((len(patterns), cin, kh, span), np.float32)
    w = wt3[0].reshape(cin, kh, kw, m)
    for key, p in patterns.items():
        for off, t in key:
            wc[p, :, :, off * m:(off + 1) * m] = w[:, :, t, :]
    return pid, cmin, wc.reshape(-1, span), span


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class Synapse:
    """Base: see the module docstring.  ``shape_in``/``shape_out`` are per-sample shapes,
    known after :meth:`bind` (from the graph's shapes or the first input)."""

    #: whether :meth:`events` accepts channels-last event indices
    takes_channels_last = True

    def __init__(self, name: str, primitive: str, module: nn.Module) -> None:
        self.name = name
        self.primitive = primitive
        self.module = module
        self.shape_in: tuple[int, ...] | None = None
        self.shape_out: tuple[int, ...] | None = None
        self.dense_macs = 0
        self.fan_in = 0
        #: keep the event-driven output buffer from step to step (no allocation and zeroing
        #: per step): set by the event backend when the only reader of the output is one
        #: neuron layer that zeroes it as it reads it (``NeuronOp.clears_input``)
        self.reuse = False
        self._buf: np.ndarray | None = None

    def drop_buffer(self) -> None:
        """Forget the reused buffer (after an error it may hold a half-read step)."""
        self._buf = None

    def _zeros(self, size: int) -> np.ndarray:
        """A zeroed float32 output buffer: the reused one, or a new one."""
        if not self.reuse:
            return np.zeros(size, np.float32)
        if self._buf is None or self._buf.size != size:
            self._buf = np.zeros(size, np.float32)
        return self._buf

    # -- shapes -------------------------------------------------------------------------
    def bind(self, shape_in: Sequence[int]) -> None:
        """Fix the per-sample input shape (output shape and dense MACs follow)."""
        shape_in = tuple(int(s) for s in shape_in)
        if shape_in == self.shape_in:
            return
        self._check_input(shape_in)
        with torch.inference_mode():  # forward(): no hooks
            y = self.module.forward(torch.zeros((1, *shape_in)))
        self.shape_in, self.shape_out = shape_in, tuple(y.shape[1:])
        self.fan_in = self._fan_in()
        self.dense_macs = self.fan_in * math.prod(self.shape_out)

    def _check_input(self, shape_in: tuple[int, ...]) -> None:
        raise NotImplementedError

    def _fan_in(self) -> int:
        raise NotImplementedError

    def _error(self, msg: str) -> AccelError:
        return AccelError(f"node '{self.name}' ({self.primitive}): {msg}", self.name,
                          self.primitive)

    # -- execution ----------------------------------------------------------------------
    def dense(self, x: Tensor) -> Tensor:
        return self.module(x)

    def events(self, events: Events, batch: int) -> tuple[Tensor, int]:
        """Output [B, *shape_out] from the input's events, and the SOPs."""
        raise NotImplementedError


class LinearSynapse(Synapse):
    """``Affine``/``Linear``: ``y = W x (+ b)``; an event adds one weight column."""

    takes_channels_last = False

    def __init__(self, name: str, primitive: str, module: nn.Linear) -> None:
        super().__init__(name, primitive, module)
        self.wt = np.ascontiguousarray(module.weight.detach().numpy().T, dtype=np.float32)
        self.bias = None if module.bias is None else module.bias.detach().clone()
        # added in numpy: the same float32 additions as torch's, without a torch call
        self.bias_np = None if self.bias is None else np.ascontiguousarray(
            self.bias.numpy(), dtype=np.float32)

    def _check_input(self, shape_in: tuple[int, ...]) -> None:
        n_in = self.wt.shape[0]
        if not shape_in or shape_in[-1] != n_in:
            raise self._error(f"expects {n_in} input features, receives shape {shape_in}")

    def _fan_in(self) -> int:
        return int(self.wt.shape[0])

    def events(self, events: Events, batch: int) -> tuple[Tensor, int]:
        rows = math.prod(self.shape_in[:-1]) if self.shape_in else 1
        n_out = self.wt.shape[1]
        out = np.zeros((batch * rows, n_out), np.float32)
        n_in = self.wt.shape[0]
        active = 0
        for b, (idx, val) in enumerate(events.samples):
            if rows == 1:
                linear_events(idx, val, self.wt, out[b])
            else:  # leading feature axes: one row of events per position
                for r in range(rows):
                    lo, hi = np.searchsorted(idx, [r * n_in, (r + 1) * n_in])
                    linear_events(idx[lo:hi] - r * n_in, val[lo:hi], self.wt,
                                  out[b * rows + r])
            active += idx.size
        if self.bias_np is not None:
            out += self.bias_np
        return unflat(out.reshape(batch, -1), (batch, *self.shape_out), False), active * n_out


class ConvSynapse(Synapse):
    """``Conv1d``/``Conv2d``: each event scatters its kernel into the output (transposed
    convolution restricted to the active inputs)."""

    def __init__(self, name: str, primitive: str, module: nn.Conv1d | nn.Conv2d) -> None:
        super().__init__(name, primitive, module)
        if module.padding_mode != "zeros":
            raise self._error(f"padding_mode={module.padding_mode!r} is not supported")
        w = module.weight.detach().numpy().astype(np.float32)
        self.two_d = w.ndim == 4
        if not self.two_d:  # 1-D as 2-D with height 1
            w = w[:, :, None, :]
        self.cout, self.cin_g, self.kh, self.kw = w.shape
        self.groups = int(module.groups)
        cout_g = self.cout // self.groups
        # [groups, C_in/groups·kh·kw, C_out/groups]: one contiguous weight vector per tap
        self.wt3 = np.ascontiguousarray(
            w.reshape(self.groups, cout_g, -1).transpose(0, 2, 1), dtype=np.float32)
        b = module.bias
        self.b = np.zeros(self.cout, np.float32) if b is None else b.detach().numpy().copy()
        self.has_bias = bool(np.any(self.b != 0))
        ksize = (self.kh, self.kw) if self.two_d else (self.kw,)
        stride, dil = tuple(module.stride), tuple(module.dilation)
        lead = _leading_padding(module.padding, ksize, dil)
        if not self.two_d:
            stride, dil, lead = (1, *stride), (1, *dil), [0, *lead]
        self.stride, self.dilation, self.pad = stride, dil, tuple(lead)

    def _check_input(self, shape_in: tuple[int, ...]) -> None:
        want = 3 if self.two_d else 2
        if len(shape_in) != want or shape_in[0] != self.cin_g * self.groups:
            layout = "[C, H, W]" if self.two_d else "[C, L]"
            raise self._error(f"expects input {layout} with C = {self.cin_g * self.groups}, "
                              f"receives shape {shape_in}")

    def _fan_in(self) -> int:
        return self.cin_g * self.kh * self.kw

    def bind(self, shape_in: Sequence[int]) -> None:
        super().bind(shape_in)
        H, W = (self.shape_in[1:] if self.two_d else (1, self.shape_in[1]))
        Ho, Wo = (self.shape_out[1:] if self.two_d else (1, self.shape_out[1]))
        self.rows = tap_table(H, Ho, self.kh, self.stride[0], self.pad[0], self.dilation[0])
        self.cols = tap_table(W, Wo, self.kw, self.stride[1], self.pad[1], self.dilation[1])
        self.spans = _column_spans(self.cols, self.wt3, self.kh, self.kw) if (
            self.groups == 1) else None

    def events(self, events: Events, batch: int) -> tuple[Tensor, int]:
        if self.two_d:
            C, H, W = self.shape_in
            _, Ho, Wo = self.shape_out
        else:
            (C, W), H, (_, Wo), Ho = self.shape_in, 1, self.shape_out, 1
        P = Ho * Wo
        if self.spans is not None:
            pid, cmin, wc, span = self.spans
            # ``span`` floats of slack after the batch's outputs (see conv_span_events)
            buf = self._zeros(batch * P * self.cout + span)
            pairs = 0
            for b, (idx, val) in enumerate(events.samples):
                pairs += conv_span_events(idx, val, wc, buf, b * P, C, H, W, events.cl,
                                          *self.rows, pid, cmin, self.cols[0], self.kh, Wo,
                                          self.cout)
        else:
            # one scratch position after the batch's outputs (see conv_events)
            buf = self._zeros((batch * P + 1) * self.cout)
            pairs = 0
            for b, (idx, val) in enumerate(events.samples):
                pairs += conv_events(idx, val, self.wt3, buf, b * P, batch * P, C, H, W,
                                     events.cl, self.kw, *self.rows, *self.cols, Wo)
        return self._output(buf, batch, P, Wo, pairs)

    def _output(self, buf: np.ndarray, batch: int, P: int, Wo: int,
                pairs: int) -> tuple[Tensor, int]:
        out = buf[:batch * P * self.cout]
        if self.reuse:
            buf[out.size:] = 0  # the slack / scratch, which no reader clears
        if self.has_bias:
            add_channel_bias(out, self.b)
        out = out.reshape(batch, P * self.cout)
        if self.two_d:
            y = unflat(out, (batch, *self.shape_out), cl=True)
        else:
            y = torch.from_numpy(out.reshape(batch, Wo, self.cout)).permute(0, 2, 1)
        return y, pairs * (self.cout // self.groups)


class PoolSynapse(Synapse):
    """``SumPool2d``/``AvgPool2d`` (sum, then one division by the window size, as torch's
    ``avg_pool2d`` with ``count_include_pad=True``)."""

    def __init__(self, name: str, primitive: str, module: nn.Module) -> None:
        super().__init__(name, primitive, module)
        if isinstance(module, SumPool2d):
            k, s, p = module.kernel_size, module.stride, module.padding
            self.divisor = None
        else:
            m: nn.AvgPool2d = module  # type: ignore[assignment]
            k, p = _pair(m.kernel_size), _pair(m.padding)
            s = _pair(m.stride) if m.stride is not None else k
            if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
                raise self._error("only ceil_mode=False, count_include_pad=True and no "
                                  "divisor_override are supported")
            self.divisor = float(k[0] * k[1])
        self.k, self.s, self.p = tuple(k), tuple(s), tuple(p)

    def _check_input(self, shape_in: tuple[int, ...]) -> None:
        if len(shape_in) != 3:
            raise self._error(f"expects input [C, H, W], receives shape {shape_in}")

    def bind(self, shape_in: Sequence[int]) -> None:
        super().bind(shape_in)
        (C, H, W), (_, Ho, Wo) = self.shape_in, self.shape_out
        rn, _, ro = tap_table(H, Ho, self.k[0], self.s[0], self.p[0], 1)
        cn, _, co = tap_table(W, Wo, self.k[1], self.s[1], self.p[1], 1)
        self.windows = (rn, ro, cn, co)
        # windows that do not overlap (stride >= kernel, the usual pooling): every input
        # reaches at most one window, so a table of its output index replaces the decode
        self._dest: dict[bool, np.ndarray] | None = None
        if rn.max(initial=0) <= 1 and cn.max(initial=0) <= 1:
            oy = np.where(rn > 0, ro[:, 0], -1)[None, :, None]
            ox = np.where(cn > 0, co[:, 0], -1)[None, None, :]
            c = np.arange(C)[:, None, None]
            inside = (oy >= 0) & (ox >= 0)
            nchw = np.where(inside, (c * Ho + oy) * Wo + ox, -1)  # [C, H, W]
            hwc = np.where(inside, (oy * Wo + ox) * C + c, -1).transpose(1, 2, 0)  # [H, W, C]
            self._dest = {False: np.ascontiguousarray(nchw.reshape(-1)),
                          True: np.ascontiguousarray(hwc.reshape(-1))}

    def _fan_in(self) -> int:
        return self.k[0] * self.k[1]

    def events(self, events: Events, batch: int) -> tuple[Tensor, int]:
        C, H, W = self.shape_in
        _, Ho, Wo = self.shape_out
        out = np.zeros((batch, C * Ho * Wo), np.float32)
        pairs = 0
        dest = None if self._dest is None else self._dest[events.cl]
        for b, (idx, val) in enumerate(events.samples):
            if dest is not None:
                pairs += pool_lookup(idx, val, dest, out[b])
            else:
                pairs += pool_events(idx, val, out[b], C, H, W, events.cl, *self.windows, Ho,
                                     Wo)
        if self.divisor is not None:  # float32 division, as torch's (checked bit for bit)
            out /= np.float32(self.divisor)
        return unflat(out, (batch, *self.shape_out), events.cl), pairs


def make_synapse(name: str, primitive: str, module: nn.Module) -> Synapse | None:
    """The :class:`Synapse` for ``module``, or None when it is not a synaptic layer."""
    if isinstance(module, nn.Linear):
        return LinearSynapse(name, primitive, module)
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return ConvSynapse(name, primitive, module)
    if isinstance(module, (SumPool2d, nn.AvgPool2d)):
        return PoolSynapse(name, primitive, module)
    return None
