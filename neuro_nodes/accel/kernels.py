"""Compiled (numba) kernels of the event-driven synaptic layers.

Every kernel works on one sample.  The input of a synaptic layer is first turned into an
*event list* (flat indices and values of its nonzero entries, :func:`gather_events`), as a
neuromorphic core receives address events; the layer then accumulates, for each event, only
the synapses that leave it:

* Linear: ``out += v · Wᵀ[j]`` (one weight column per active input ``j``);
* Conv (1-D as 2-D with height 1): each event ``(c, i, j)`` reaches the output positions
  ``(oy, ox)`` with ``oy·s_h − p_h + k_y·d_h = i`` (and likewise for x) inside the output,
  i.e. the taps of a transposed convolution restricted to the active inputs, borders,
  padding and stride respected; each (event, tap) pair adds one weight vector to the output
  channels of the event's group at that position (the output is channels-last, ``[Ho, Wo,
  C]``, so that vector is contiguous).  With one group (:func:`conv_span_events`) the
  column taps of an event's row tap reach adjacent positions, and one pre-arranged weight
  row adds them all in one vectorised loop;
* Sum/average pooling: each event adds its value to every pooling window containing it
  (non-overlapping windows: through a table of each input's window, :func:`pool_lookup`).

Inputs are flat per sample in memory order: ``[C, H, W]`` (NCHW) or, with ``cl=True``,
``[H, W, C]`` (channels-last, as the convolution outputs and the neurons after them).

Accumulation is in float32, in event order; a dense layer sums the same products in
another order, so results agree with it to float rounding (exactly where the sums are exact,
e.g. weights on a coarse binary grid).  A kernel compiles on its first call and is cached
on disk (``__pycache__`` or ``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

_warned = False


def jit(inline: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(cache=True, nogil=True)`` (``inline="always"``: a helper inlined into
    its callers); without the disk cache where none can be written (one warning per
    process)."""
    opts = {"nogil": True, "inline": "always" if inline else "never"}

    def wrap(fn: Callable[..., Any]) -> Any:
        global _warned
        try:
            return numba.njit(cache=True, **opts)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if not _warned:
                _warned = True
                warnings.warn(f"numba cache unavailable, kernels are compiled in every "
                              f"process: {exc}", RuntimeWarning, stacklevel=2)
            return numba.njit(cache=False, **opts)(fn)

    return wrap


@jit()
def gather_events(x):  # pragma: no cover - compiled
    """Flat indices (int64) and values (float32) of the nonzero entries of the 1-D float32
    ``x``, and whether every one of them is exactly 1 (binary spikes).  Branch-free: a
    64-bit mask per block of 64 entries, then one step per set bit (count trailing
    zeros), so the cost does not depend on how predictable the spike pattern is."""
    n = x.size
    idx = np.empty(n, np.int64)
    k = 0
    one = np.uint64(1)
    nb = n // 64
    for b in range(nb):
        base = b * 64
        m = np.uint64(0)
        for j in range(64):
            m |= np.uint64(x[base + j] != 0) << np.uint64(j)
        while m != 0:
            idx[k] = base + trailing_zeros(m)
            k += 1
            m &= m - one
    for i in range(nb * 64, n):
        if x[i] != 0:
            idx[k] = i
            k += 1
    idx = idx[:k].copy()
    val = np.empty(k, np.float32)
    binary = True
    for q in range(k):
        v = x[idx[q]]
        val[q] = v
        binary = binary and v == 1
    return idx, val, binary


@jit()
def linear_events(idx, val, wt, out):  # pragma: no cover - compiled
    """``out[o] += val[k] · wt[idx[k], o]`` for every event ``k``; ``wt`` is ``Wᵀ`` [in, out]."""
    n_out = out.size
    n = idx.size
    k = 0
    while k + 4 <= n:  # four events per pass over the outputs: each output is loaded and
        j0, j1, j2, j3 = idx[k], idx[k + 1], idx[k + 2], idx[k + 3]  # stored once for
        v0, v1, v2, v3 = val[k], val[k + 1], val[k + 2], val[k + 3]  # four products,
        for o in range(n_out):  # still added in event order (the same float32 sums)
            out[o] = (((out[o] + v0 * wt[j0, o]) + v1 * wt[j1, o]) + v2 * wt[j2, o]) + (
                v3 * wt[j3, o])
        k += 4
    for q in range(k, n):
        j = idx[q]  # 2-D indexing, not a row view per event (reference counting)
        v = val[q]
        for o in range(n_out):
            out[o] += v * wt[j, o]


@jit(inline=True)
def _div(e, d, inv):  # pragma: no cover - compiled
    """``e // d`` for 0 <= e < 2**40 from ``inv = 1.0 / d`` (a multiply and a correction
    instead of a 64-bit integer division, several times slower on common CPUs)."""
    q = np.int64(e * inv)
    if q * d > e:
        q -= 1
    elif (q + 1) * d <= e:
        q += 1
    return q


@jit(inline=True)
def _decode(e, C, W, HW, cl, inv_c, inv_w, inv_hw):  # pragma: no cover - compiled
    """(c, i, j) of flat index ``e`` of a [C, H, W] (or, ``cl``, [H, W, C]) sample."""
    if cl:
        pos = _div(e, C, inv_c)
        c = e - pos * C
        i = _div(pos, W, inv_w)
        return c, i, pos - i * W
    c = _div(e, HW, inv_hw)
    r = e - c * HW
    i = _div(r, W, inv_w)
    return c, i, r - i * W


def tap_table(n_in: int, n_out: int, k: int, stride: int, pad: int, dil: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every input coordinate ``i`` along one axis: the taps ``t`` and output
    coordinates ``o`` with ``o·stride − pad + t·dil = i`` and ``0 <= o < n_out`` (count,
    taps [n_in, k], outputs [n_in, k]); so the scatter needs no division."""
    count = np.zeros(n_in, np.int64)
    taps = np.zeros((n_in, k), np.int64)
    outs = np.zeros((n_in, k), np.int64)
    for i in range(n_in):
        for t in range(k):
            num = i + pad - t * dil
            if num >= 0 and num % stride == 0 and num // stride < n_out:
                taps[i, count[i]] = t
                outs[i, count[i]] = num // stride
                count[i] += 1
    return count, taps, outs


@jit()
def conv_events(idx, val, wt3, out, base, scratch, C, H, W, cl, kw, rn, rt, ro, cn, ct, co,
                Wo):  # pragma: no cover - compiled
    """Event-driven 2-D convolution of one sample.  ``wt3`` [groups, C_in/groups·kh·kw,
    C_out/groups] holds the weights per group and tap; ``out`` (flat, channels-last, zeros on
    entry) receives the sums from output position ``base`` on (``base + Ho·Wo`` positions of
    C_out); ``rn, rt, ro`` / ``cn, ct, co`` are the row / column :func:`tap_table`.

    Branch-free in the taps: every event visits the most taps any input has along each axis
    (e.g. 2 × 2 for a stride-2 3 × 3 kernel, where an input has 1 or 2 per axis by the parity
    of its coordinate: a trip count that the branch predictor misses half the time); a tap
    that does not exist adds its (valid, unrelated) weights to output position ``scratch``,
    which the caller discards.  Returns the number of real (event, tap) pairs; each pair adds
    one weight vector of C_out/groups synapses."""
    groups, n_col, m = wt3.shape
    ka, kb = 0, 0
    for i in range(rn.size):
        ka = max(ka, rn[i])
    for j in range(cn.size):
        kb = max(kb, cn[j])
    # [position, (group,) channel] views: the innermost index runs from 0 (numba adds no
    # negative-index fix-up, so the weight-vector loop vectorises); one group: 2-D views
    if groups == 1:
        return _conv_body(idx, val, wt3[0], out.reshape(out.size // m, m), base, scratch,
                          ka, kb, C, H, W, cl, kw, rn, rt, ro, cn, ct, co, Wo, 0)
    out3 = out.reshape(out.size // (groups * m), groups, m)
    pairs = 0
    for g in range(groups):  # the events of each group's input channels, into its outputs
        pairs += _conv_body(idx, val, wt3[g], out3[:, g, :], base, scratch, ka, kb, C, H, W,
                            cl, kw, rn, rt, ro, cn, ct, co, Wo,
                            g * (n_col // (rt.shape[1] * kw)))
    return pairs


@jit(inline=True)
def _conv_body(idx, val, w2, out2, base, scratch, ka, kb, C, H, W, cl, kw, rn, rt, ro, cn, ct,
               co, Wo, c0):  # pragma: no cover - compiled
    """The scatter of the events of channels ``c0 .. c0 + C_in/groups`` (one group)."""
    n_col, m = w2.shape
    khw = rt.shape[1] * kw
    cin_g = n_col // khw
    inv_c, inv_w, inv_hw = 1.0 / C, 1.0 / W, 1.0 / (H * W)
    pairs = 0
    for k in range(idx.size):
        c, i, j = _decode(idx[k], C, W, H * W, cl, inv_c, inv_w, inv_hw)
        c -= c0
        if c < 0 or c >= cin_g:
            continue
        base_col = c * khw
        v = val[k]
        ni, nj = rn[i], cn[j]
        for a in range(ka):
            row_col = base_col + rt[i, a] * kw
            row_out = base + ro[i, a] * Wo
            row_ok = a < ni
            for b in range(kb):
                col = row_col + ct[j, b]
                pos = row_out + co[j, b] if row_ok & (b < nj) else scratch
                for q in range(m):
                    out2[pos, q] += v * w2[col, q]
        pairs += ni * nj
    return pairs


@jit()
def conv_span_events(idx, val, wc, out, base, C, H, W, cl, rn, rt, ro, pid, cmin, cn, kh, Wo,
                     m):  # pragma: no cover - compiled
    """Event-driven 2-D convolution of one sample, one group (C_out = ``m``), with the
    column taps of an event fused: for each of its row taps, one loop of ``wc.shape[1]``
    floats adds the weight row of its column pattern (``pid``, ``cmin``, ``wc`` from
    ``synapses._column_spans``) to the adjacent output vectors from column ``cmin[j]`` on.
    ``out`` is flat channels-last from position ``base`` on, with ``wc.shape[1]`` floats
    of slack at its end (the zero weights of a pattern may reach past the last output; they
    add exact zeros).  Returns the number of real (event, tap) pairs."""
    span = wc.shape[1]
    inv_c = 1.0 / C
    pow2 = C & (C - 1) == 0  # channels-last position by a shift
    shift = 0
    while (1 << shift) < C:
        shift += 1
    pairs = 0
    # incremental decoding: events come in increasing index order, so the row of an event
    # is found by stepping on from the last one's (a division per event costs more than
    # the scatter); a "row" is W entries: (channel, y) without cl, y with cl (positions)
    row, row_c, row_start = 0, 0, 0
    for k in range(idx.size):
        e = idx[k]
        if cl:
            key = e >> shift if pow2 else _div(e, C, inv_c)
            c = e - key * C
        else:
            key = e
        if key < row_start:  # not increasing after all: start over from the first row
            row, row_c, row_start = 0, 0, 0
        while key >= row_start + W:
            row_start += W
            row += 1
            if not cl and row == H:
                row = 0
                row_c += 1
        i, j = row, key - row_start
        if not cl:
            c = row_c
        v = val[k]
        prow = (pid[j] * C + c) * kh
        ni = rn[i]
        for a in range(ni):
            wrow = prow + rt[i, a]
            # an unsigned index: numba adds no negative-index fix-up, the loop vectorises
            o = np.uint64(((base + ro[i, a] * Wo) + cmin[j]) * m)
            for q in range(span):
                out[o + np.uint64(q)] += v * wc[wrow, q]
        pairs += ni * cn[j]
    return pairs


@jit()
def add_channel_bias(out, bias):  # pragma: no cover - compiled
    """``out`` [positions·C] (channels-last) += ``bias`` [C] at every position."""
    C = bias.size
    for p in range(out.size // C):
        for c in range(C):
            out[p * C + c] += bias[c]


@jit()
def pool_events(idx, val, out, C, H, W, cl, rn, ro, cn, co, Ho,
                Wo):  # pragma: no cover - compiled
    """Event-driven sum pooling of one sample into ``out`` (flat, the input's layout, zeros
    on entry): every event adds its value to each window that contains it (``rn, ro`` /
    ``cn, co``: the windows of each input row / column, from :func:`tap_table`).  Returns the
    number of (event, window) pairs."""
    inv_c, inv_w, inv_hw = 1.0 / C, 1.0 / W, 1.0 / (H * W)
    pairs = 0
    for k in range(idx.size):
        c, i, j = _decode(idx[k], C, W, H * W, cl, inv_c, inv_w, inv_hw)
        v = val[k]
        nj = cn[j]
        for a in range(rn[i]):
            oy = ro[i, a]
            for b in range(nj):
                if cl:
                    out[(oy * Wo + co[j, b]) * C + c] += v
                else:
                    out[(c * Ho + oy) * Wo + co[j, b]] += v
            pairs += nj
    return pairs


@jit()
def pool_lookup(idx, val, dest, out):  # pragma: no cover - compiled
    """Pooling with windows that do not overlap: every event adds its value to the output
    ``dest[index]`` of its one window (-1: in none).  Returns the number of (event,
    window) pairs."""
    pairs = 0
    for k in range(idx.size):
        d = dest[idx[k]]
        if d >= 0:
            out[d] += val[k]
            pairs += 1
    return pairs
