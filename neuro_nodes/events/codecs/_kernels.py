"""Vectorised building blocks of the word-stream decoders (EVT 2.0/3.0, libcaer_cmp).

These formats are state machines: a word sets the current row, column base, polarity or
clock, and later words emit events against that state. Instead of a per-word loop, state is
forward-filled with one cumulative sum: each state-setting word contributes the *change* it
makes, bit-packed into its own field of a uint64, so the running sum holds every field's
current value at every word (fields never interfere because each running value fits its
field; wrap-around of the uint64 in between cancels out).
"""

from __future__ import annotations

import numpy as np

#: Number of set bits of every 12-bit mask.
POPCOUNT12 = np.array([bin(i).count("1") for i in range(1 << 12)], dtype=np.int64)


def packed_ffill(
    n: int,
    init: int,
    fields: list[tuple[np.ndarray, np.ndarray, int, int]],
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Forward-fill bit-packed state over ``n`` words.

    ``fields`` holds ``(positions, values, shift, bits)``: the words at ``positions`` (ascending,
    disjoint between fields) set the ``bits``-wide field at ``shift`` to ``values``, which must
    fit the field. ``init`` is the packed state before word 0. Returns the packed state
    *after* each word (uint64), in ``out[:n]`` if given (a reusable scratch buffer).
    """
    acc = np.zeros(n, dtype=np.uint64) if out is None else out[:n]
    if out is not None:
        acc.fill(0)
    if n == 0:
        return acc
    for pos, values, shift, bits in fields:
        if pos.size == 0:
            continue
        v = values.astype(np.int64)
        delta = np.empty_like(v)
        delta[0] = v[0] - ((init >> shift) & ((1 << bits) - 1))
        np.subtract(v[1:], v[:-1], out=delta[1:])
        delta <<= shift
        acc[pos] = delta.view(np.uint64)
    acc[:1] += np.uint64(init)  # array op: wrapping is intended, no overflow warning
    return np.cumsum(acc, out=acc)


def unwrap_counter(
    raw: np.ndarray, last_raw: int | None, epoch: int, bits: int, tolerance: int
) -> tuple[np.ndarray, int, int]:
    """Unwrap a ``bits``-wide clock counter seen at successive TIME_HIGH words.

    A backward step of at least half the period is a wrap; one of at most ``tolerance`` ticks
    is jitter (kept, not counted); anything in between is an error (counted, no wrap).
    Returns the unwrapped values (int64), the new epoch and the error count.
    """
    raw = raw.astype(np.int64)
    period, half = 1 << bits, 1 << (bits - 1)
    prev = np.empty_like(raw)
    prev[0] = raw[0] if last_raw is None else last_raw
    prev[1:] = raw[:-1]
    back = prev - raw
    wraps = back >= half
    errors = int(np.count_nonzero((back > tolerance) & ~wraps))
    epochs = np.cumsum(wraps) + epoch
    return epochs * period + raw, int(epochs[-1]), errors


def vector_bases(
    types: np.ndarray,
    words: np.ndarray,
    base_code: int,
    increments: dict[int, int],
    base: int,
    polarity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Column base and polarity at each vector word of a word stream.

    ``base_code`` words set base (bits 10..0) and polarity (bit 11); a vector word of type
    ``c`` in ``increments`` emits at base + bit and then advances the base by
    ``increments[c]``. ``base``/``polarity`` are the state before the stream.
    Returns (positions of vector words, their base, their polarity, base after, polarity after).
    """
    codes = [base_code, *increments]
    sel = types == codes[0]
    for c in codes[1:]:
        sel |= types == c
    pos = np.flatnonzero(sel)
    tv = types[pos]
    wv = words[pos]
    inc_table = np.zeros(16, dtype=np.int64)
    for c, k in increments.items():
        inc_table[c] = k
    inc = inc_table[tv]
    before = np.cumsum(inc)
    total = int(before[-1]) if before.size else 0
    before -= inc  # increments strictly before each word
    # boolean-mask indexing is slow on irregular masks: index once, then gather
    at_base = (tv == base_code).nonzero()[0]
    at_vec = (tv != base_code).nonzero()[0]
    rank = np.zeros(tv.size, dtype=np.intp)
    rank[at_base] = 1
    np.cumsum(rank, out=rank)
    wb = wv[at_base]
    base_vals = np.concatenate(([base], (wb & 0x7FF).astype(np.int64)))
    base_pols = np.concatenate(([polarity], ((wb >> 11) & 1).astype(np.int64)))
    base_ref = np.concatenate(([0], before[at_base]))
    r = rank[at_vec]
    vec_base = base_vals[r]
    vec_base += before[at_vec]
    vec_base -= base_ref[r]
    end_base = int(base_vals[-1]) + total - int(base_ref[-1])
    return pos[at_vec], vec_base, base_pols[r], end_base, int(base_pols[-1])


def _bits_table() -> np.ndarray:
    m = np.arange(1 << 12)[:, None]
    b = np.arange(16)[None, :]
    return ((m >> b) & 1).astype(bool) & (b < 12)


#: ``BITS16[m]``: the 12 bits of mask m as booleans, padded to 16 columns (cheap divmod).
BITS16 = _bits_table()


def expand_masks(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand 12-bit event masks: (index of the mask word, bit index) per set bit, in order."""
    k = np.flatnonzero(BITS16[masks])
    return k >> 4, k & 15


def merge(a: np.ndarray, at_a: np.ndarray, b: np.ndarray, at_b: np.ndarray) -> np.ndarray:
    """Interleave ``a`` and ``b`` into a new array at positions ``at_a``/``at_b``."""
    out = np.empty(a.size + b.size, dtype=a.dtype)
    out[at_a] = a
    out[at_b] = b
    return out
