"""A small untrained fusion model for the node and launch tests, each head biased to its own
class: an answer's predicted class shows which head gave it (the shipped model may not
exist, and an untrained network's classes are arbitrary)."""

from __future__ import annotations

from pathlib import Path

import torch

from neuro_nodes.perception.fusion.model import FusionNet, FusionNetParams, save

CLASSES = ("crate", "ball", "can", "capsule", "table")
HEAD_CLASS = {"events": 0, "cloud": 1, "fused": 2}  # the class each head prefers


def tiny_fusion_model(folder: Path) -> Path:
    torch.manual_seed(0)
    net = FusionNet(FusionNetParams(num_classes=len(CLASSES), event_channels=(4, 4, 4),
                                    cloud_stem=4, cloud_stages=(8, 8), cloud_resolution=8))
    with torch.no_grad():
        for head, layer in (("events", net.event_head), ("cloud", net.cloud_head),
                            ("fused", net.fusion)):
            layer.bias[HEAD_CLASS[head]] += 20.0
    return save(net, folder / "fusion_tiny.json", {"class_names": list(CLASSES)})
