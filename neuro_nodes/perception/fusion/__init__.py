"""Multimodal fusion of events and point clouds with inverse effectiveness (IEMF)."""

from .iemf import iemf_coefficient, modulate_gradients, true_class_score
from .model import MODALITIES, FusionNet, FusionNetParams, FusionPrediction

__all__ = ["MODALITIES", "FusionNet", "FusionNetParams", "FusionPrediction",
           "iemf_coefficient", "modulate_gradients", "true_class_score"]
