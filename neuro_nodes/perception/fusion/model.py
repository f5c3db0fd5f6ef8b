"""The fusion network: event and point-cloud encoders, unimodal heads and a fused head.

::

    e = EventEncoder(events)          c = CloudEncoder(cloud)
    logits_events = W_e e + b_e       logits_cloud = W_c c + b_c          (unimodal heads)
    logits_fused  = W_f [e; c] + b_f                                      (the fusion layer)

Training (:mod:`sim.train.fusion`) is either *static* (cross-entropy of the fused head
only: plain concatenation fusion) or *IEMF* (fused + unimodal cross-entropies, the fusion
layer's gradient scaled by :func:`~.iemf.iemf_coefficient`).  At inference
:meth:`FusionNet.predict` answers from the fused head when every modality is live and from
the live modality's own head when the other is missing (a stale or dead sensor), and says
which it used.

=================== ============== =========================================================
FusionNetParams     default        meaning
=================== ============== =========================================================
num_classes         11             object classes
spiking             True           SNN encoders (LIF events, multi-spike clouds); False: ANN
event_channels      (16, 32, 64)   channels of the event encoder's three strided convs
cloud_stem          8              E-3DSNN stem channels of the cloud encoder
cloud_stages        (16, 32, 64)   E-3DSNN stage channels of the cloud encoder
cloud_resolution    16             voxels along a cloud's largest extent (normalised box)
event_tau_s         0.002          LIF membrane time constant of the event encoder (s)
event_dt_s          0.001          LIF step per time bin (s)
=================== ============== =========================================================
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuro_nodes.core.params import param, validated
from neuro_nodes.perception.e3dsnn import E3DSNNParams
from neuro_nodes.perception.voxelize import VoxelizeParams

from .encoders import CloudEncoder, EventEncoder

MODALITIES = ("events", "cloud")


@dataclass(frozen=True)
class FusionNetParams:
    num_classes: int = param(11, "Object classes", min=2, max=10_000)
    spiking: bool = param(True, "SNN encoders; false: the ANN twin (ReLU)")
    event_channels: tuple[int, ...] = param((16, 32, 64), "Event encoder conv channels")
    cloud_stem: int = param(8, "Cloud encoder stem channels", min=1, max=1024)
    cloud_stages: tuple[int, ...] = param((16, 32, 64), "Cloud encoder stage channels")
    cloud_resolution: int = param(16, "Voxels along a cloud's largest extent", min=2,
                                  max=256)
    event_tau_s: float = param(0.002, "LIF membrane time constant of the event encoder (s)",
                               min=1e-5, max=10.0)
    event_dt_s: float = param(0.001, "LIF step per time bin (s)", min=1e-5, max=10.0)

    def validate(self) -> None:
        if len(self.event_channels) < 1 or min(self.event_channels) < 1:
            raise ValueError("FusionNetParams: event_channels must be positive")
        if len(self.cloud_stages) < 1 or min(self.cloud_stages) < 1:
            raise ValueError("FusionNetParams: cloud_stages must be positive")


@dataclass
class FusionOutput:
    events: Tensor  # (B, C) logits of the event head
    cloud: Tensor  # (B, C) logits of the cloud head
    fused: Tensor  # (B, C) logits of the fused head


@dataclass
class FusionPrediction:
    probabilities: np.ndarray  # (C,) of the head used
    head: str  # "fused", "events" or "cloud"
    confidences: dict[str, float]  # per live modality: its head's top probability


class FusionNet(nn.Module):
    def __init__(self, params: FusionNetParams | None = None) -> None:
        super().__init__()
        p = self.params = validated(params or FusionNetParams())
        self.event_encoder = EventEncoder(tuple(p.event_channels), p.spiking, p.event_tau_s,
                                          p.event_dt_s)
        self.cloud_encoder = CloudEncoder(
            E3DSNNParams(num_classes=1, num_seg_classes=1, stem_channels=p.cloud_stem,
                         stage_channels=tuple(p.cloud_stages),
                         stage_depth=(1,) * len(p.cloud_stages), ann=not p.spiking),
            VoxelizeParams(mode="normalised", resolution=p.cloud_resolution))
        d_e, d_c = self.event_encoder.out_features, self.cloud_encoder.out_features
        self.event_head = nn.Linear(d_e, p.num_classes)
        self.cloud_head = nn.Linear(d_c, p.num_classes)
        self.fusion = nn.Linear(d_e + d_c, p.num_classes)

    def forward(self, events: Tensor, clouds: list[np.ndarray]) -> FusionOutput:
        e, _ = self.event_encoder(events)
        c, _ = self.cloud_encoder(clouds)
        return FusionOutput(self.event_head(e), self.cloud_head(c),
                            self.fusion(torch.cat([e, c], 1)))

    @torch.no_grad()
    def predict(self, events: np.ndarray | None, cloud: np.ndarray | None) -> FusionPrediction:
        """One sample; ``None`` marks a missing modality (at least one must be live)."""
        if events is None and cloud is None:
            raise ValueError("predict: every modality is missing")
        self.eval()
        ev = torch.as_tensor(np.zeros((1, 1, 2, 8, 8), np.uint8) if events is None
                             else np.asarray(events)[None])
        out = self(ev, [np.zeros((0, 3), np.float32) if cloud is None else np.asarray(cloud)])
        probs = {m: torch.softmax(getattr(out, m)[0], 0).numpy() for m in MODALITIES}
        live = [m for m, x in zip(MODALITIES, (events, cloud), strict=True) if x is not None]
        head = "fused" if len(live) == len(MODALITIES) else live[0]
        chosen = torch.softmax(out.fused[0], 0).numpy() if head == "fused" else probs[head]
        return FusionPrediction(chosen.astype(np.float32), head,
                                {m: float(probs[m].max()) for m in live})


# ------------------------------------------------------------------------------ files
def save(net: FusionNet, path: Path | str, meta: dict[str, Any] | None = None) -> Path:
    js = Path(path).with_suffix(".json")
    js.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), js.with_suffix(".pt"))
    js.write_text(json.dumps({"network": dataclasses.asdict(net.params),
                              "weights": js.with_suffix(".pt").name, **(meta or {})},
                             indent=1) + "\n")
    return js


def load(path: Path | str) -> tuple[FusionNet, dict[str, Any]]:
    """(network, metadata) of a model file; ValueError naming the file and the fault."""
    js = Path(path).with_suffix(".json")
    try:
        info = json.loads(js.read_text())
        raw = dict(info["network"])
        raw = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        params = validated(FusionNetParams(**raw))
    except FileNotFoundError:
        raise ValueError(f"{js}: no such model file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{js}: not valid JSON: {e}") from None
    except KeyError as e:
        raise ValueError(f"{js}: field {e} missing") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{js}: bad model description: {e}") from None
    pt = js.with_suffix(".pt")
    net = FusionNet(params)
    try:
        net.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    except FileNotFoundError:
        raise ValueError(f"{pt}: missing (each model json needs its weights)") from None
    except Exception as e:  # torch raises several types for damaged or mismatched files
        raise ValueError(f"{pt}: unreadable or mismatched weights: {e}") from None
    net.eval()
    return net, {k: v for k, v in info.items() if k not in ("network", "weights")}


def default_model_path() -> Path:
    from neuro_nodes.paths import data_dir

    return data_dir("config") / "models" / "fusion.json"


__all__ = ["MODALITIES", "FusionNet", "FusionNetParams", "FusionOutput", "FusionPrediction",
           "default_model_path", "load", "save"]
