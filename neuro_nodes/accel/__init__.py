"""A neuromorphic-accelerator runtime for NIR graphs.

:class:`AccelModel` runs a NIR graph event-driven (only the synapses of neurons that spiked
are computed, as on a neuromorphic chip) or densely (the reference), step by step or over
``[T, B, ...]`` inputs, and counts per layer spikes, firing rates, synaptic operations (SOPs),
MACs and memory (:mod:`.counters`); :mod:`.energy` turns the counts into energy estimates for
chip profiles with sourced constants.  :class:`ModelRegistry` serves every ``*.nir`` model of
a directory and reloads changed files.
"""

from .counters import Counters, LayerCounters
from .energy import PROFILES, ChipProfile, EnergyEstimate, EnergyUnavailable, estimate
from .errors import AccelError, BackendUnavailable
from .lava import lava_available
from .registry import ModelRegistry, ReloadReport
from .runtime import BACKENDS, AccelModel, DenseBackend, EventBackend, load_graph

__all__ = [
    "BACKENDS",
    "PROFILES",
    "AccelError",
    "AccelModel",
    "BackendUnavailable",
    "ChipProfile",
    "Counters",
    "DenseBackend",
    "EnergyEstimate",
    "EnergyUnavailable",
    "EventBackend",
    "LayerCounters",
    "ModelRegistry",
    "ReloadReport",
    "estimate",
    "lava_available",
    "load_graph",
]
