"""Temporally dense optical flow from a small recurrent spiking network (issue 10, item 3).

After *Event-based Temporally Dense Optical Flow Estimation with Sequential Neural
Networks*: the network sees event counts per polarity in 10 ms bins and predicts flow after
every bin, keeping its state across bins, though it was trained with ground truth ten times
sparser (:mod:`sim.train.dense_flow`).

Network (``build_network``), all from :mod:`neuro_nodes.snn` so it exports to NIR::

    counts (2, H/p, W/p) → Conv 3x3 s2 → LIF → Conv 3x3 s(d) → LIF ⟲ Conv 3x3 (recurrent)
                         → Conv 3x3 → LI  = flow / flow_scale on a grid of cells of 2^d·p px

with d = ``downsample`` stride-2 convolutions in all (d = 1: the recurrent layer and the
flow grid stay at the first layer's 2p px; d = 2: 4p px).

Input encoding (``encode_bins``): the events of each bin counted per polarity over p x p
pixel blocks, n, then ``input_gain``·log(1 + n) (``encoding = log``: the count of a block
grows with the texture's contrast as much as with the speed, so the log keeps texture
from swamping motion) or ``input_gain``·n (``linear``).  Decoding (``upsample_flow``):
LI output x flow_scale (px/s), bilinear between cell centres up to the camera resolution.

================ ========= =============================================================
DenseFlowConfig  default   meaning
================ ========= =============================================================
width, height    346, 260  sensor size the model was trained for (px)
pool             4         input pooling p (px)
downsample       2         stride-2 convolutions d: flow cells of 2^d·p px
bin_s            0.01      time bin = network step (s)
channels         16        channels of the encoder LIF layer
hidden           48        channels of the recurrent LIF layer
tau_fast_s       0.01      shortest LIF membrane τ (s)
tau_enc_s        0.05      longest encoder LIF τ (s); τ spread geometrically per channel
tau_rec_s        0.1       longest recurrent LIF τ (s)
tau_out_s        0.02      LI readout τ (s)
encoding         log       ``log``: gain·log(1 + n); ``linear``: gain·n
input_gain       1.0       scale of the encoded counts
flow_scale       200       px/s per unit of readout
================ ========= =============================================================

:class:`DenseFlowSNNEstimator` runs the exported NIR graph on the accelerator runtime
(:class:`neuro_nodes.accel.AccelModel`), so SOPs and energy come from its counters.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from neuro_nodes.core.params import param
from neuro_nodes.events.event_array import EventArray

from .types import EventWindow, MotionEstimate, PinholeCamera

MODEL_NAME = "dense_flow"
#: Bins whose events make a cell "seen" (its flow is defined; the training loss uses it).
VALID_BINS = 5
ENCODINGS = ("log", "linear")


@dataclasses.dataclass(frozen=True)
class DenseFlowConfig:
    """Shape and neuron constants of the network; stored beside the model in its json."""

    width: int = param(346, "sensor width the model was trained for (px)", min=8)
    height: int = param(260, "sensor height the model was trained for (px)", min=8)
    pool: int = param(4, "input pooling: events summed over pool x pool pixels", min=1)
    downsample: int = param(2, "stride-2 convolutions: flow cells of 2**downsample * pool px",
                            min=1, max=2)
    bin_s: float = param(0.01, "time bin = network step (s)", min=1e-4)
    channels: int = param(16, "channels of the first (encoder) LIF layer", min=1)
    hidden: int = param(48, "channels of the recurrent LIF layer", min=1)
    tau_fast_s: float = param(0.01, "shortest membrane time constant of the LIF layers (s)",
                              min=1e-4)
    tau_enc_s: float = param(0.05, "longest membrane time constant of the encoder LIF (s)",
                             min=1e-4)
    tau_rec_s: float = param(0.1, "longest membrane time constant of the recurrent LIF (s)",
                             min=1e-4)
    tau_out_s: float = param(0.02, "time constant of the LI readout (s)", min=1e-4)
    encoding: str = param("log", "per-bin counts n fed as input_gain*log(1+n) or *n",
                          choices=ENCODINGS)
    input_gain: float = param(1.0, "scale of the encoded per-bin event counts", min=0.0)
    flow_scale: float = param(200.0, "px/s per unit of readout", min=1e-6)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"DenseFlowConfig.encoding: {self.encoding!r} is not one of "
                             f"{ENCODINGS}")
        if self.downsample not in (1, 2):
            raise ValueError(f"DenseFlowConfig.downsample: must be 1 or 2, got "
                             f"{self.downsample}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (2, math.ceil(self.height / self.pool), math.ceil(self.width / self.pool))

    @property
    def output_shape(self) -> tuple[int, int, int]:
        _, h, w = self.input_shape
        for _ in range(self.downsample):  # conv 3x3, stride 2, padding 1
            h, w = (h + 1) // 2, (w + 1) // 2
        return (2, h, w)

    @property
    def stride(self) -> int:
        """Pooled input pixels per flow cell."""
        return 2 ** self.downsample

    @property
    def cell_px(self) -> int:
        return self.pool * self.stride

    def cell_centre(self, i: np.ndarray | float) -> np.ndarray | float:
        """Pixel coordinate of output cell ``i``'s centre (same along x and y)."""
        return self.cell_px * np.asarray(i) + (self.pool - 1) / 2.0


def build_network(cfg: DenseFlowConfig) -> Any:
    """The spiking network (a :class:`neuro_nodes.snn.SpikingSequential`), untrained."""
    import torch
    from torch import nn

    from neuro_nodes.snn import (
        LICell,
        LIFCell,
        LIFParameters,
        LIParameters,
        Recurrent,
        SpikingSequential,
    )

    dt = cfg.bin_s
    c, h = cfg.channels, cfg.hidden

    def lif(n: int, tau_max: float) -> LIFParameters:
        # per-channel τ from tau_fast (τ = dt: this bin only) to tau_max: comparing fast and
        # slow channels of one place tells which way an edge moves (a Reichardt detector);
        # R = τ/dt: v ← β·v + input (snnTorch's form), a spike's weight reaches v whole
        tau = torch.from_numpy(np.geomspace(cfg.tau_fast_s, tau_max, n)).float()
        tau = tau.reshape(n, 1, 1)
        return LIFParameters(tau_mem=tau, r=tau / dt)

    return SpikingSequential(
        nn.Conv2d(2, c, 3, stride=2, padding=1),
        LIFCell(lif(c, cfg.tau_enc_s), dt),
        nn.Conv2d(c, h, 3, stride=2 if cfg.downsample == 2 else 1, padding=1),
        Recurrent(LIFCell(lif(h, cfg.tau_rec_s), dt),
                  nn.Conv2d(h, h, 3, padding=1, bias=False)),
        nn.Conv2d(h, 2, 3, padding=1),
        LICell(LIParameters(tau_mem=cfg.tau_out_s), dt),  # R = 1: settles at its input
    )


# -- encoding / decoding -------------------------------------------------------------------
def encode_bins(
    t_ns: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray,
    t0_ns: int, n_bins: int, cfg: DenseFlowConfig,
) -> np.ndarray:
    """``(n_bins, 2, H/p, W/p)`` float32: events of bin k = [t0 + k·bin, t0 + (k+1)·bin)
    counted per polarity (channel 0 = OFF, 1 = ON) and pooled, then encoded (``cfg.encoding``,
    times ``cfg.input_gain``); events outside are ignored."""
    _, hp, wp = cfg.input_shape
    out = np.zeros((n_bins, 2, hp, wp), np.float32)
    if n_bins <= 0 or len(t_ns) == 0:
        return out
    bin_ns = round(cfg.bin_s * 1e9)
    k = (np.asarray(t_ns, np.int64) - int(t0_ns)) // bin_ns
    keep = (k >= 0) & (k < n_bins)
    xi = np.minimum(np.asarray(x)[keep].astype(np.int64) // cfg.pool, wp - 1)
    yi = np.minimum(np.asarray(y)[keep].astype(np.int64) // cfg.pool, hp - 1)
    pi = (np.asarray(p)[keep] > 0).astype(np.int64)
    flat = ((k[keep] * 2 + pi) * hp + yi) * wp + xi
    out.reshape(-1)[:] = np.bincount(flat, minlength=out.size).astype(np.float32)
    if cfg.encoding == "log":
        np.log1p(out, out=out)
    return out * np.float32(cfg.input_gain)


def coarse_flow(flow: np.ndarray, cfg: DenseFlowConfig) -> np.ndarray:
    """Full-resolution flow ``(2, H, W)`` (NaN = undefined) averaged per output cell over
    its finite pixels: ``(2, Ho, Wo)``, NaN where a cell has none (the training target).
    A stack ``(F, 2, H, W)`` gives ``(F, 2, Ho, Wo)``."""
    flow = np.asarray(flow)
    if flow.ndim == 3:
        return coarse_flow(flow[None], cfg)[0]
    _, ho, wo = cfg.output_shape
    f, _, h, w = flow.shape
    nc = ho * wo
    off = (cfg.pool - 1) / 2.0
    cell = (_nearest_cell(h, ho, cfg.cell_px, off)[:, None] * wo
            + _nearest_cell(w, wo, cfg.cell_px, off)[None, :]).ravel()
    cell = (cell[None, :] + nc * np.arange(f)[:, None]).ravel()  # one bincount for all frames
    finite = np.isfinite(flow).all(axis=1).reshape(-1)
    n = np.bincount(cell[finite], minlength=f * nc).astype(np.float64)
    out = np.full((2, f * nc), np.nan, np.float32)
    for c in range(2):
        s = np.bincount(cell[finite], weights=flow[:, c].reshape(-1)[finite],
                        minlength=f * nc)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[c] = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return np.ascontiguousarray(out.reshape(2, f, ho, wo).transpose(1, 0, 2, 3))


def _nearest_cell(n: int, n_cells: int, scale: float, offset: float) -> np.ndarray:
    """For positions ``0..n-1`` along one axis, the output cell whose centre
    ``scale·i + offset`` is nearest (ties to the upper cell, as ``floor(. + 0.5)``)."""
    i = np.floor((np.arange(n) - offset) / scale + 0.5).astype(np.int64)
    return np.clip(i, 0, n_cells - 1)


def active_cells(counts: np.ndarray, cfg: DenseFlowConfig) -> np.ndarray:
    """``(Ho, Wo)`` bool: output cells whose pixels had events in ``counts``
    (``(..., 2, H/p, W/p)``, leading axes summed)."""
    _, ho, wo = cfg.output_shape
    c = counts.reshape(-1, *counts.shape[-3:]).sum(axis=(0, 1))
    return (np.bincount(pooled_to_cell(cfg), weights=c.ravel(), minlength=ho * wo)
            > 0).reshape(ho, wo)


def pooled_to_cell(cfg: DenseFlowConfig) -> np.ndarray:
    """``(H/p · W/p,)``: the output cell (flat index) nearest each pooled input pixel."""
    _, hp, wp = cfg.input_shape
    _, ho, wo = cfg.output_shape
    # pooled index j is centred on pixel pool·j + (pool-1)/2, cell i on pool·stride·i + same
    return (_nearest_cell(hp, ho, cfg.stride, 0.0)[:, None] * wo
            + _nearest_cell(wp, wo, cfg.stride, 0.0)[None, :]).ravel()


@functools.lru_cache(maxsize=8)
def _interp_matrix(n_px: int, n_cells: int, scale: float, cfg: DenseFlowConfig) -> np.ndarray:
    """``(n_px, n_cells)`` linear-interpolation weights from cell centres to the pixels of
    one camera axis (``scale`` = camera px per model px); edges held."""
    g = ((np.arange(n_px) + 0.5) / scale - 0.5 - (cfg.pool - 1) / 2.0) / cfg.cell_px
    g = np.clip(g, 0.0, n_cells - 1.0)
    i0 = np.minimum(np.floor(g).astype(np.int64), n_cells - 2) if n_cells > 1 else \
        np.zeros(n_px, np.int64)
    a = g - i0
    m = np.zeros((n_px, n_cells), np.float32)
    m[np.arange(n_px), i0] = 1.0 - a
    if n_cells > 1:
        m[np.arange(n_px), i0 + 1] += a
    m.setflags(write=False)
    return m


def upsample_flow(coarse: np.ndarray, cfg: DenseFlowConfig, width: int, height: int,
                  valid: np.ndarray | None = None) -> np.ndarray:
    """Coarse flow ``(2, Ho, Wo)`` (px/s at the model's resolution) to ``(2, height,
    width)`` px/s of a camera of that size: bilinear between cell centres (edges held),
    rescaled when the camera is not the model's size; NaN on pixels whose nearest cell is
    not ``valid``.  Separable: two small matrix products per channel (a 100 Hz path)."""
    _, ho, wo = coarse.shape
    sx, sy = width / cfg.width, height / cfg.height
    ay = _interp_matrix(height, ho, sy, cfg)
    ax = _interp_matrix(width, wo, sx, cfg)
    c = np.asarray(coarse, np.float32)
    out = np.stack([ay @ c[0] @ ax.T * np.float32(sx), ay @ c[1] @ ax.T * np.float32(sy)])
    if valid is not None:
        iy = _nearest_cell(height, ho, cfg.cell_px * sy, ((cfg.pool - 1) / 2.0 + 0.5) * sy - 0.5)
        ix = _nearest_cell(width, wo, cfg.cell_px * sx, ((cfg.pool - 1) / 2.0 + 0.5) * sx - 0.5)
        # np.where, not a boolean-mask assignment: that took ~10 ms here
        out = np.where(valid[iy][:, ix][None], out, np.float32(np.nan))
    return out


# -- model files ---------------------------------------------------------------------------
def default_model_path() -> Path:
    """The shipped model, ``config/models/dense_flow.nir`` (with its ``.json``)."""
    from neuro_nodes.paths import data_dir

    return data_dir("config") / "models" / f"{MODEL_NAME}.nir"


def save_model(net: Any, cfg: DenseFlowConfig, path: Path, meta: dict[str, Any]) -> Path:
    """Export ``net`` to NIR at ``path`` and write ``path.with_suffix('.json')``
    (config, shapes, ``meta`` such as the training command and seed); returns the json."""
    import nir

    from neuro_nodes.snn import export_nir

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = export_nir(net, cfg.bin_s, cfg.input_shape)
    nir.write(str(path), graph)
    info = {"model": path.name, "config": dataclasses.asdict(cfg),
            "input_shape": list(cfg.input_shape), "output_shape": list(cfg.output_shape),
            "input": "event counts n per polarity (0 = OFF, 1 = ON) per bin, pooled, as "
                     "input_gain*log(1+n) (encoding log) or input_gain*n (linear)",
            "output": "LI readout x flow_scale = flow (px/s, u then v) at cell centres "
                      "pool*2**downsample*i + (pool-1)/2 px", **meta}
    js = path.with_suffix(".json")
    js.write_text(json.dumps(info, indent=1) + "\n")
    return js


def load_config(path: Path) -> tuple[DenseFlowConfig, dict[str, Any]]:
    """The config and metadata stored beside a model (``<model>.json``); ValueError names
    the file and what is wrong."""
    js = Path(path).with_suffix(".json")
    try:
        info = json.loads(js.read_text())
        # models written before these fields existed: two stride-2 convs, linear counts
        cfg = DenseFlowConfig(**{"downsample": 2, "encoding": "linear", **info["config"]})
    except FileNotFoundError as e:
        raise ValueError(f"{js}: missing (each dense-flow model needs its json)") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{js}: not valid JSON: {e}") from e
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{js}: field 'config' missing or wrong: {e}") from e
    return cfg, info


# -- estimator -----------------------------------------------------------------------------
class DenseFlowSNNEstimator:
    """:class:`~neuro_nodes.perception.types.MotionEstimator` running the SNN on the
    accelerator runtime.

    Bins are aligned to multiples of ``bin_s`` on the sensor clock; :meth:`process` runs
    every bin that the window completes (events before the last processed bin are
    skipped, so overlapping windows are fine; a partial last bin waits for the next
    window), keeping the network's state.  Gaps of up to ``max_gap_s`` are fed as empty
    bins (the membranes decay as they would live); longer gaps reset.  The flow returned
    is that of the bin ending nearest ``t_ref`` (None when none ended within ``max_gap_s``);
    the latest bins' flows stay in :attr:`steps`.  :meth:`step_events` is the 100 Hz path.
    """

    name = "snn"

    def __init__(self, camera: PinholeCamera, model: str | Path | None = None,
                 backend: str = "event", max_gap_s: float = 0.5, history: int = 64) -> None:
        from neuro_nodes.accel import AccelModel

        self.camera = camera
        self.model_path = Path(model) if model is not None else default_model_path()
        self.cfg, self.info = load_config(self.model_path)
        self.model = AccelModel(self.model_path, self.cfg.bin_s, backend)
        self._sx = self.cfg.width / camera.width
        self._sy = self.cfg.height / camera.height
        self._bin_ns = round(self.cfg.bin_s * 1e9)
        self.max_gap_s = float(max_gap_s)
        self.steps: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=history)
        self.reset()

    def reset(self) -> None:
        self.model.reset()
        self.steps.clear()
        self._next_bin: int | None = None  # index of the next bin to run
        self._pending = EventArray.empty(self.camera.width, self.camera.height)
        self._last_t: int | None = None  # time of the newest event taken ...
        self._n_at_last = 0  # ... and how many events at that time were taken

    def _unseen(self, ev: EventArray) -> EventArray:
        """The events of ``ev`` not taken from an earlier (overlapping) window: windows
        are slices of one time-ordered stream, so skip what precedes the newest event
        taken and as many events at its time as were taken."""
        if self._last_t is not None and len(ev.t):
            i0, i1 = np.searchsorted(ev.t, [self._last_t, self._last_t + 1])
            ev = ev[int(i0 + min(self._n_at_last, i1 - i0)):]
        if len(ev.t):
            last = int(ev.t[-1])
            n_last = int(len(ev.t) - np.searchsorted(ev.t, last))
            same = last == self._last_t
            self._n_at_last = self._n_at_last + n_last if same else n_last
            self._last_t = last
        return ev

    def _to_model(self, ev: EventArray) -> tuple[np.ndarray, np.ndarray]:
        if self._sx == 1.0 and self._sy == 1.0:
            return ev.x, ev.y
        x = np.minimum((ev.x.astype(np.float64) + 0.5) * self._sx, self.cfg.width - 1)
        y = np.minimum((ev.y.astype(np.float64) + 0.5) * self._sy, self.cfg.height - 1)
        return x.astype(np.int64), y.astype(np.int64)

    def step(self, counts: np.ndarray) -> np.ndarray:
        """One network step on encoded counts ``(2, H/p, W/p)``; coarse flow ``(2, Ho,
        Wo)`` in px/s at the model's resolution (the 100 Hz node path)."""
        out = self.model.step(np.asarray(counts, np.float32)[None])
        return out[0].numpy() * np.float32(self.cfg.flow_scale)

    def step_events(self, events: EventArray) -> np.ndarray:
        """One network step on one bin's events (all of ``events``, whatever their times):
        flow ``(2, H, W)`` px/s at the camera's resolution, NaN on cells without events
        (the 100 Hz node path; it shares the state with :meth:`process`)."""
        x, y = self._to_model(events)
        counts = encode_bins(np.zeros(len(events), np.int64), x, y, events.p, 0, 1, self.cfg)
        flow = self.step(counts[0])
        return upsample_flow(flow, self.cfg, self.camera.width, self.camera.height,
                             active_cells(counts, self.cfg))

    def run_events(self, ev: EventArray, t_end_ns: int) -> int:
        """Run every bin that ends at or before ``t_end_ns`` on ``ev`` (plus pending
        events); returns the number of bins run."""
        ev = self._unseen(ev)
        if len(ev.t):
            ev = EventArray.concatenate([self._pending, ev])
            if self._next_bin is not None:
                keep = ev.t >= self._next_bin * self._bin_ns
                if not keep.all():
                    ev = ev[keep]
        else:
            ev = self._pending
        first = int(ev.t[0]) // self._bin_ns if len(ev.t) else None
        last = int(t_end_ns) // self._bin_ns  # bins < last are complete
        if self._next_bin is None:
            if first is None:
                return 0
            self._next_bin = first
        elif first is not None and (first - self._next_bin) * self.cfg.bin_s > self.max_gap_s:
            self.model.reset()
            self.steps.clear()  # flows from before the gap say nothing about now
            self._next_bin = first
        n = last - self._next_bin
        if n <= 0:
            self._pending = ev
            return 0
        t0 = self._next_bin * self._bin_ns
        x, y = self._to_model(ev)
        counts = encode_bins(ev.t, x, y, ev.p, t0, n, self.cfg)
        for k in range(n):
            flow = self.step(counts[k])
            recent = counts[max(0, k - VALID_BINS + 1): k + 1]
            self.steps.append(((t0 + (k + 1) * self._bin_ns) * 1e-9, flow,
                               active_cells(recent, self.cfg)))
        self._pending = ev[ev.t >= t0 + n * self._bin_ns]
        self._next_bin += n
        return n

    def process(self, window: EventWindow) -> MotionEstimate:
        start = time.perf_counter()
        self.model.reset_counters()
        n = self.run_events(window.events, round(window.t1_s * 1e9))
        t_ref = window.t_ref_s
        info: dict[str, float] = {"steps": float(n)}
        flow = None
        near = [st for st in self.steps if abs(st[0] - t_ref) <= self.max_gap_s]
        if near:
            t_end, coarse, valid = min(near, key=lambda st: abs(st[0] - t_ref))
            flow = upsample_flow(coarse, self.cfg, self.camera.width, self.camera.height,
                                 valid)
            info["step_t_s"] = t_end
        if n:
            c = self.model.counters()
            info["sops_per_step"] = c.sops / n
            info["macs_per_step"] = c.macs / n
            info["energy_j_per_step"] = float(self.model.energy().total_j) / n
        return MotionEstimate(t_ref_s=t_ref, flow=flow, compute_s=time.perf_counter() - start,
                              info=info)
