"""One answer of the fusion network with every live head's probabilities.

:meth:`FusionNet.predict` gives the probabilities of the head it used and each live
modality's confidence; a node that also shows each modality's own distribution needs those
heads too. :func:`answer` runs only the live modalities' encoders once (a dead sensor's
encoder is not run at all) and gives the same prediction as ``predict`` plus the live heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import FusionNet, FusionPrediction


@dataclass
class FusionAnswer:
    prediction: FusionPrediction  # as FusionNet.predict gives it
    heads: dict[str, np.ndarray]  # per live modality: its own head's (C,) probabilities


@torch.no_grad()
def answer(net: FusionNet, events: np.ndarray | None,
           cloud: np.ndarray | None) -> FusionAnswer:
    """One sample: ``events`` a ``(bins, 2, H, W)`` count grid, ``cloud`` ``(N, 3)``;
    ``None`` marks a missing modality (at least one must be live)."""
    if events is None and cloud is None:
        raise ValueError("answer: every modality is missing")
    net.eval()
    emb = {}
    if events is not None:
        emb["events"] = net.event_encoder(torch.as_tensor(np.asarray(events))[None])[0]
    if cloud is not None:
        emb["cloud"] = net.cloud_encoder([np.asarray(cloud, np.float32)])[0]
    layers = {"events": net.event_head, "cloud": net.cloud_head}
    heads = {m: torch.softmax(layers[m](e)[0], 0).numpy().astype(np.float32)
             for m, e in emb.items()}
    if len(emb) == len(layers):
        fused = net.fusion(torch.cat([emb["events"], emb["cloud"]], 1))
        head, probs = "fused", torch.softmax(fused[0], 0).numpy().astype(np.float32)
    else:
        head = next(iter(emb))
        probs = heads[head]
    return FusionAnswer(FusionPrediction(probs, head, {m: float(p.max())
                                                       for m, p in heads.items()}), heads)


__all__ = ["FusionAnswer", "answer"]
