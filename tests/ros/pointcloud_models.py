"""Small untrained point-cloud models for the node and launch tests, biased to one class.

The shipped models may not exist (they are trained separately), and an untrained network's
labels are arbitrary; a large output bias makes every voxel one class, so the objects a
test builds are exactly the clusters of its cloud."""

from __future__ import annotations

from pathlib import Path

import torch

from neuro_nodes.perception import pointcloud_model as pcm
from neuro_nodes.perception.e3dsnn import E3DSNN, E3DSNNParams
from neuro_nodes.perception.voxelize import VoxelizeParams

# the room's classes (sim.datasets.pointclouds SEGMENTATION_CLASSES, CLASSIFICATION_CLASSES)
OBJECTS = ("crate", "ball", "can", "capsule", "table", "chair", "shelf", "lamp", "cone")
SEG_CLASSES = ("unknown", "floor", "wall", "ceiling", *OBJECTS)
CLS_CLASSES = (*OBJECTS, "bottle", "bench")
SEG_CLASS = SEG_CLASSES.index("chair")  # every point of the biased segmentation model
CLS_CLASS = CLS_CLASSES.index("lamp")  # every cluster of the biased classifier


def _net(seed: int, **kw: int) -> E3DSNN:
    torch.manual_seed(seed)
    return E3DSNN(E3DSNNParams(stem_channels=4, stage_channels=(8, 8), stage_depth=(0, 0),
                               seg_hidden=8, **kw))


def tiny_models(folder: Path, *, bias: bool = True) -> tuple[Path, Path]:
    """(segmentation json, classification json) written into ``folder``."""
    seg = _net(0, num_seg_classes=len(SEG_CLASSES), num_classes=1)
    cls = _net(1, num_classes=len(CLS_CLASSES), num_seg_classes=1)
    if bias:
        with torch.no_grad():
            seg.seg_fc2.bias[SEG_CLASS] += 50.0
            cls.cls_head.bias[CLS_CLASS] += 50.0
    seg_model = pcm.PointCloudModel("segmentation", seg, VoxelizeParams(mode="metric"),
                                    SEG_CLASSES)
    cls_model = pcm.PointCloudModel("classification", cls,
                                    VoxelizeParams(mode="normalised", resolution=16),
                                    CLS_CLASSES)
    return (pcm.save(seg_model, folder / "seg_tiny.json"),
            pcm.save(cls_model, folder / "cls_tiny.json"))
