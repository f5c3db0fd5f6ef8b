"""Sparse 3D convolution on active voxels: submanifold and strided (E-3DSNN's SSC).

A :class:`SparseVoxels` holds ``M`` active sites ``coords`` (``[b, x, y, z]``, int32, unique,
sorted by their linear key) of a grid ``spatial_shape = (S0, S1, S2)`` per batch item, and
their features ``(M, C)``.  Two convolutions, with a weight ``W`` of shape
``(K³, C_in, C_out)`` (kernel offsets ``k = (kx, ky, kz)`` in ``itertools.product`` order)::

    submanifold (odd K, outputs only at the active input sites A):
        y_o = b + Σ_k  W_k · x_{o + k - K//2}          o ∈ A,  terms with an inactive input = 0
    strided (kernel K, stride s, padding p):
        y_o = b + Σ_k  W_k · x_{o·s - p + k}            o active iff some term has an active input
        output shape  S' = (S + 2p - K) // s + 1

Both equal a dense ``conv3d`` (cross-correlation, weight ``(C_out, C_in, kx, ky, kz)``) on the
zero-filled grid, read at the output sites; the submanifold one never dilates the active set,
which is what keeps a deep network sparse.

Backends (:data:`BACKENDS`):

* ``"torch"`` (default, pure torch): neighbours by a hash of coordinates: linear keys
  ``((b·S0 + x)·S1 + y)·S2 + z`` of the grid padded by the kernel's reach, so that a
  neighbour's key is the site's key plus a constant per offset and no query can alias
  another site; all ``M·K³`` queries go through one ``torch.searchsorted``.  The rule book
  (per output site, the input row at each offset, or a zero row) is cached on the tensor
  and reused by every layer at that resolution; the convolution is one gather and one
  matmul ``(M, K³·C_in) · (K³·C_in, C_out)``, its backward recomputes the gather.
* ``"spconv"``: spconv 2.x's CPU build (optional; ``pip install spconv==2.3.8``), the same
  weight viewed as spconv's ``(C_out, K, K, K, C_in)``; its rule books are cached too.
  Inference only on the CPU (its CPU build has no backward pass); float32 only (its CPU
  float64 results are wrong, kernel ≥ 3); run on one torch thread (with more, its
  submanifold conv is sometimes wrong).

Costs for synaptic-operation counts: :func:`fan_out` (how many output sites each input site
reaches) and :func:`pair_count` (input-output pairs), from the torch rule book (the spconv
backend's outputs are the same sites, so the counts hold for it too).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import torch
from torch import Tensor, nn

BACKENDS = ("torch", "spconv")


def _keys(coords: Tensor, shape: tuple[int, int, int]) -> Tensor:
    c = coords.to(torch.int64)
    return ((c[:, 0] * shape[0] + c[:, 1]) * shape[1] + c[:, 2]) * shape[2] + c[:, 3]


class _one_thread:
    """``torch.set_num_threads(1)`` inside the block, the previous count after it."""

    def __enter__(self) -> None:
        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.saved)


@dataclasses.dataclass
class SparseVoxels:
    """Active sites and their features; build with :meth:`create` (validates and sorts)."""

    coords: Tensor  # (M, 4) int32 [batch, x, y, z], unique, sorted by linear key
    features: Tensor  # (M, C)
    spatial_shape: tuple[int, int, int]
    batch_size: int
    keys: Tensor  # (M,) int64 sorted linear keys of coords
    cache: dict[Any, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, coords: Tensor, features: Tensor, spatial_shape: tuple[int, int, int] |
               list[int], batch_size: int) -> SparseVoxels:
        """Check ``coords`` (unique, inside the grid) and sort sites by their linear key."""
        shape = tuple(int(s) for s in spatial_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"spatial_shape: three positive sizes expected, got {spatial_shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if coords.ndim != 2 or coords.shape[1] != 4:
            raise ValueError("coords: expected shape (M, 4) [b, x, y, z], "
                             f"got {tuple(coords.shape)}")
        if coords.dtype.is_floating_point:
            raise ValueError(f"coords: integer dtype expected, got {coords.dtype}")
        if features.ndim != 2 or features.shape[0] != coords.shape[0]:
            raise ValueError(f"features: expected shape ({coords.shape[0]}, C), "
                             f"got {tuple(features.shape)}")
        coords = coords.to(torch.int32)
        if len(coords):
            lo, hi = coords.min(0).values, coords.max(0).values
            limit = (batch_size, *shape)
            if (lo < 0).any() or any(int(hi[i]) >= limit[i] for i in range(4)):
                raise ValueError(f"coords: outside batch {batch_size} x grid {shape} "
                                 f"(min {lo.tolist()}, max {hi.tolist()})")
        keys = _keys(coords, shape)
        keys, order = torch.sort(keys)
        if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
            raise ValueError("coords: duplicate sites")
        return cls(coords[order].contiguous(), features[order], shape, int(batch_size), keys)

    def padded_to(self, multiple: int) -> SparseVoxels:
        """The same sites in a grid whose sizes are rounded up to a multiple of ``multiple``
        (so that every site has a parent after ``log2(multiple)`` 2x2x2 stride-2 convs;
        growing the grid keeps the key order)."""
        shape = tuple(-(-s // multiple) * multiple for s in self.spatial_shape)
        if shape == self.spatial_shape:
            return self
        return SparseVoxels(self.coords, self.features, shape, self.batch_size,
                            _keys(self.coords, shape))

    def replace(self, features: Tensor) -> SparseVoxels:
        """The same sites (and cached rule books) with new features."""
        if features.shape[0] != self.coords.shape[0]:
            raise ValueError(f"features: {features.shape[0]} rows for {len(self.coords)} sites")
        return dataclasses.replace(self, features=features)

    def lookup(self, coords: Tensor) -> Tensor:
        """Index of each ``[b, x, y, z]`` row among the active sites, -1 where inactive or
        outside the grid."""
        shape = self.spatial_shape
        c = coords.to(torch.int64)
        inside = ((c >= 0).all(1) & (c[:, 0] < self.batch_size) & (c[:, 1] < shape[0])
                  & (c[:, 2] < shape[1]) & (c[:, 3] < shape[2]))
        if len(self.keys) == 0:
            return torch.full((len(c),), -1, dtype=torch.int64)
        k = _keys(c.clamp(min=0), shape)
        pos = torch.searchsorted(self.keys, k).clamp(max=len(self.keys) - 1)
        found = inside & (self.keys[pos] == k)
        return torch.where(found, pos, torch.full_like(pos, -1))

    def dense(self) -> Tensor:
        """The zero-filled grid ``(B, C, S0, S1, S2)`` (for tests and small grids)."""
        out = self.features.new_zeros(self.batch_size, self.features.shape[1], *self.spatial_shape)
        c = self.coords.to(torch.int64)
        out[c[:, 0], :, c[:, 1], c[:, 2], c[:, 3]] = self.features
        return out


@dataclasses.dataclass(frozen=True)
class RuleBook:
    """Per output site, the input site at each kernel offset: ``neighbours[o, k]`` is the
    input row feeding output ``o`` through offset ``k``, or ``n_in`` where there is none (a
    zero row appended to the inputs, so a convolution is one gather and one matmul)."""

    neighbours: Tensor  # (n_out, K³) int64 in [0, n_in]
    n_in: int

    @property
    def n_out(self) -> int:
        return self.neighbours.shape[0]

    def fan_out(self) -> Tensor:
        """How many output sites each input site reaches (int64, ``(n_in,)``)."""
        counts = torch.bincount(self.neighbours.reshape(-1), minlength=self.n_in + 1)
        return counts[: self.n_in]

    def pair_count(self) -> int:
        """(input, output) pairs: the terms of the convolution that are not zero."""
        return int((self.neighbours < self.n_in).sum())


def _offsets(kernel: int) -> Tensor:
    return torch.tensor(list(itertools.product(range(kernel), repeat=3)), dtype=torch.int64)


def _padded_keys(coords: Tensor, shape: tuple[int, ...], lo: int) -> Tensor:
    """Linear keys of ``coords`` shifted by ``lo`` in a grid of size ``shape`` (padded),
    so that every neighbour query is itself a valid key and cannot alias another site."""
    c = coords.to(torch.int64)
    return (((c[:, 0] * shape[0] + c[:, 1] + lo) * shape[1] + c[:, 2] + lo) * shape[2]
            + c[:, 3] + lo)


def _offset_keys(kernel: int, shape: tuple[int, ...], shift: int) -> Tensor:
    off = _offsets(kernel) - shift
    return (off[:, 0] * shape[1] + off[:, 1]) * shape[2] + off[:, 2]


def _gather_table(site_keys: Tensor, query: Tensor) -> Tensor:
    """Index of each query key among the sorted ``site_keys``, ``len(site_keys)`` if absent."""
    n = len(site_keys)
    if n == 0:
        return torch.zeros(query.shape, dtype=torch.int64)
    pos = torch.searchsorted(site_keys, query)
    hit = site_keys[pos.clamp(max=n - 1)] == query
    return torch.where(hit, pos, n)


def submanifold_rulebook(x: SparseVoxels, kernel: int) -> RuleBook:
    """Rule book of a submanifold conv (odd ``kernel``), cached on ``x``: one
    ``searchsorted`` of all ``M·K³`` neighbour keys in a grid padded by ``K//2``."""
    key = ("subm", kernel)
    book = x.cache.get(key)
    if book is not None:
        return book
    half = kernel // 2
    padded = tuple(s + 2 * half for s in x.spatial_shape)
    keys = _padded_keys(x.coords, padded, half)  # sorted: the order of x.keys
    query = keys[:, None] + _offset_keys(kernel, padded, half)[None, :]
    book = RuleBook(_gather_table(keys, query), len(keys))
    x.cache[key] = book
    return book


def strided_output_shape(shape: tuple[int, ...], kernel: int, stride: int,
                         padding: int) -> tuple[int, int, int]:
    """``(S + 2p - K) // s + 1`` per axis (ValueError when an axis has no output)."""
    out = tuple((s + 2 * padding - kernel) // stride + 1 for s in shape)
    if min(out) < 1:
        raise ValueError(f"strided conv: kernel {kernel}, stride {stride}, padding {padding} "
                         f"leave no output for the grid {tuple(shape)}")
    return out  # type: ignore[return-value]


def strided_rulebook(x: SparseVoxels, kernel: int, stride: int,
                     padding: int) -> tuple[RuleBook, Tensor, tuple[int, int, int]]:
    """Rule book, output coords and output shape of a strided conv, cached on ``x``."""
    key = ("strided", kernel, stride, padding)
    hit = x.cache.get(key)
    if hit is not None:
        return hit
    out_shape = strided_output_shape(x.spatial_shape, kernel, stride, padding)
    base = x.coords.to(torch.int64)
    if kernel == stride and padding == 0:
        # non-overlapping windows: each input reaches exactly one output, o = floor(i / s);
        # inputs past the last full window (S not a multiple of s) reach none
        o = torch.div(base[:, 1:], stride, rounding_mode="floor")
        ok = (o < torch.tensor(out_shape)).all(1)
        cand = torch.cat([base[ok, :1], o[ok]], 1)
    else:
        # every (input, offset): o = (i + p - k) / s where that is an integer inside the grid
        num = base[:, None, 1:] + padding - _offsets(kernel)[None]
        o = torch.div(num, stride, rounding_mode="floor")
        ok = ((num - o * stride) == 0).all(2) & (o >= 0).all(2) & (
            o < torch.tensor(out_shape)).all(2)
        b = base[:, None, :1].expand(-1, num.shape[1], -1)
        cand = torch.cat([b, o], 2)[ok]
    out_keys = torch.unique(_keys(cand, out_shape))  # sorted
    out_coords = _unkey(out_keys, out_shape)
    # the inputs of output o sit at o·s - p + k: look them up in the grid padded by p
    padded = tuple(s + 2 * padding for s in x.spatial_shape)
    in_keys = _padded_keys(x.coords, padded, padding)
    scaled = out_coords.to(torch.int64)
    scaled[:, 1:] *= stride
    query = _padded_keys(scaled, padded, 0)[:, None] + _offset_keys(kernel, padded, 0)[None, :]
    book = RuleBook(_gather_table(in_keys, query), len(in_keys))
    x.cache[key] = (book, out_coords, out_shape)
    return x.cache[key]


def _unkey(keys: Tensor, shape: tuple[int, int, int]) -> Tensor:
    z = keys % shape[2]
    r = keys // shape[2]
    y = r % shape[1]
    r = r // shape[1]
    xx = r % shape[0]
    b = r // shape[0]
    return torch.stack([b, xx, y, z], 1).to(torch.int32)


class _GatherConv(torch.autograd.Function):
    """``y = [x; 0][nbr] · W``: one gather and one matmul; backward recomputes the gathered
    columns instead of keeping them (they are ``K³`` times the input's size)."""

    @staticmethod
    def forward(ctx: Any, feats: Tensor, weight: Tensor, nbr: Tensor) -> Tensor:
        ctx.save_for_backward(feats, weight, nbr)
        return _columns(feats, nbr) @ weight

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        feats, weight, nbr = ctx.saved_tensors
        g_feats = g_weight = None
        if ctx.needs_input_grad[1]:
            g_weight = _columns(feats, nbr).T @ grad
        if ctx.needs_input_grad[0]:
            c_in = feats.shape[1]
            g_cols = (grad @ weight.T).reshape(-1, c_in)
            g_pad = feats.new_zeros(len(feats) + 1, c_in).index_add_(0, nbr.reshape(-1), g_cols)
            g_feats = g_pad[:-1]
        return g_feats, g_weight, None


def _columns(feats: Tensor, nbr: Tensor) -> Tensor:
    padded = torch.cat([feats, feats.new_zeros(1, feats.shape[1])])
    return padded.index_select(0, nbr.reshape(-1)).reshape(nbr.shape[0], -1)


def _apply(book: RuleBook, feats: Tensor, weight: Tensor) -> Tensor:
    """``weight`` ``(K³, C_in, C_out)`` applied through ``book`` to ``feats`` ``(n_in, C_in)``."""
    w = weight.reshape(-1, weight.shape[2])
    if book.n_out == 0 or book.n_in == 0:
        return feats.new_zeros(book.n_out, weight.shape[2]) + 0 * w.sum()  # keeps the graph
    return _GatherConv.apply(feats, w, book.neighbours)


def fan_out(x: SparseVoxels, kernel: int, stride: int = 1, padding: int = 0,
            submanifold: bool = True) -> Tensor:
    """How many output sites each input site of ``x`` reaches (int64, ``(M,)``)."""
    book = (submanifold_rulebook(x, kernel) if submanifold
            else strided_rulebook(x, kernel, stride, padding)[0])
    return book.fan_out()


def pair_count(x: SparseVoxels, kernel: int, stride: int = 1, padding: int = 0,
               submanifold: bool = True) -> int:
    """(input site, output site) pairs of that convolution on ``x``."""
    book = (submanifold_rulebook(x, kernel) if submanifold
            else strided_rulebook(x, kernel, stride, padding)[0])
    return book.pair_count()


class SparseConv3d(nn.Module):
    """A submanifold (``submanifold=True``, odd kernel, stride 1) or strided sparse 3D conv.

    ``weight`` has shape ``(K³, C_in, C_out)``; ``backend`` is ``"torch"`` or ``"spconv"``
    (module docstring).  Input and output are :class:`SparseVoxels`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *,
                 stride: int = 1, padding: int = 0, submanifold: bool = True,
                 bias: bool = False, backend: str = "torch") -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be >= 1, got {in_channels} -> {out_channels}")
        if kernel_size < 1 or stride < 1 or padding < 0:
            raise ValueError(f"kernel_size {kernel_size} and stride {stride} must be >= 1, "
                             f"padding {padding} >= 0")
        if submanifold and (kernel_size % 2 == 0 or stride != 1 or padding not in (0,)):
            raise ValueError("submanifold conv: odd kernel_size, stride 1 and padding 0 "
                             "(the output sites are the input sites), got "
                             f"k={kernel_size}, s={stride}, p={padding}")
        if backend not in BACKENDS:
            raise ValueError(f"backend: {backend!r} is not one of {list(BACKENDS)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.submanifold = submanifold
        self.backend = backend
        k = kernel_size
        # stored in spconv's layout (C_out, kx, ky, kz, C_in), so that spconv runs on the
        # parameter itself and state dicts are interchangeable; see kernel_weight()
        self.weight = nn.Parameter(torch.empty(out_channels, k, k, k, in_channels))
        bound = 1.0 / math.sqrt(k ** 3 * in_channels)  # kaiming-uniform(a=√5) as nn.Conv3d
        nn.init.uniform_(self.weight, -bound, bound)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._spconv: list[nn.Module] = []  # kept out of the module tree: shares self.weight
        if backend == "spconv":
            self._spconv.append(self._make_spconv())

    def _make_spconv(self) -> nn.Module:
        try:
            import spconv.pytorch as spconv
        except ImportError as exc:
            raise ValueError("backend 'spconv' needs spconv 2.x (pip install spconv==2.3.8): "
                             f"{exc}") from None
        cls = spconv.SubMConv3d if self.submanifold else spconv.SparseConv3d
        key = f"subm{self.kernel_size}" if self.submanifold else None
        m = cls(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                padding=self.padding, bias=False, indice_key=key)
        del m.weight
        return m

    def extra_repr(self) -> str:
        kind = ("submanifold" if self.submanifold
                else f"stride={self.stride}, padding={self.padding}")
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"{kind}, bias={self.bias is not None}, backend={self.backend}")

    def kernel_weight(self) -> Tensor:
        """The weight as ``(K³, C_in, C_out)``, offsets in ``itertools.product`` order."""
        return self.weight.permute(1, 2, 3, 4, 0).reshape(
            self.kernel_size ** 3, self.in_channels, self.out_channels)

    def fan_out(self, x: SparseVoxels) -> Tensor:
        """Output sites each input site reaches (for synaptic-operation counts)."""
        return fan_out(x, self.kernel_size, self.stride, self.padding, self.submanifold)

    def forward(self, x: SparseVoxels) -> SparseVoxels:
        if x.features.ndim != 2 or x.features.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: features {tuple(x.features.shape)}, "
                             f"expected (sites, {self.in_channels})")
        feats = x.features.to(self.weight.dtype)
        if self.backend == "spconv" and len(x.coords):  # spconv rejects empty inputs
            out = self._forward_spconv(x, feats)
        elif self.submanifold:
            book = submanifold_rulebook(x, self.kernel_size)
            out = x.replace(_apply(book, feats, self.kernel_weight()))
        else:
            book, coords, shape = strided_rulebook(x, self.kernel_size, self.stride, self.padding)
            y = _apply(book, feats, self.kernel_weight())
            out = SparseVoxels(coords, y, shape, x.batch_size, _keys(coords, shape))
        if self.bias is not None:
            out = out.replace(out.features + self.bias)
        return out

    def _forward_spconv(self, x: SparseVoxels, feats: Tensor) -> SparseVoxels:
        import spconv.pytorch as spconv

        if torch.get_num_threads() > 1:
            # spconv 2.3.8's CPU submanifold conv is sometimes wrong with several torch
            # threads (7 of 60 calls off by > 1e-4 with 2 threads; 0 of 60 with one)
            with _one_thread():
                return self._forward_spconv(x, feats)
        if feats.dtype != torch.float32:
            # spconv 2.3.8's CPU kernels give wrong float64 results (off by ~0.1 for a
            # 3x3x3 conv, measured against conv3d); float32 matches to 1e-7
            raise ValueError(f"backend 'spconv': float32 features only, got {feats.dtype}")
        if self.kernel_size == 1 and self.submanifold:
            # spconv's own 1x1 path reads the weight memory as (C_in, C_out), not its
            # (C_out, 1, 1, 1, C_in) layout: a plain matmul is that conv anyway
            return x.replace(feats @ self.kernel_weight()[0])
        m = self._spconv[0]
        m.weight = self.weight  # the parameter itself (a temporary copy gave wrong results)
        t = x.cache.get("spconv")
        if t is None:  # one tensor per site set: its indice_dict keeps spconv's rule books
            t = spconv.SparseConvTensor(feats, x.coords, list(x.spatial_shape), x.batch_size)
            x.cache["spconv"] = t
        else:
            t = t.replace_feature(feats)
        y = m(t)
        if self.submanifold:
            return x.replace(y.features)
        shape = tuple(int(s) for s in y.spatial_shape)
        keys, order = torch.sort(_keys(y.indices, shape))
        return SparseVoxels(y.indices[order].to(torch.int32).contiguous(), y.features[order],
                            shape, x.batch_size, keys)
