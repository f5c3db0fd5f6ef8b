"""Energy estimates from the runtime's counters, per chip profile.

The usual SNN estimate (e.g. E-3DSNN, Spikformer and most SNN papers)::

    E_snn   = E_AC · SOPs  +  E_MAC · MACs  (+ E_neuron · neuron updates, where sourced)
    E_dense = E_MAC · dense MACs            (the same network run densely, same steps)

SOPs are the synaptic operations actually accumulated event-driven; MACs those of layers
that received real-valued (dense) input, typically the first, encoding layer; dense MACs
what every synaptic layer would cost densely (:mod:`.counters`).  These are estimates of
*arithmetic* energy: memory traffic, routing, static power and the host are not counted.

Chip profiles — every constant with its source (``PROFILES``)::

  profile    E per SOP                            E per MAC (dense layers)   neuron update
  cmos45nm   0.9 pJ  32-bit float add             4.6 pJ  float mult 3.7 +    not counted
                     (Horowitz 2014)                      add 0.9 (Horowitz)
  loihi      23.6 pJ per synaptic spike op, as    4.6 pJ: run off-chip,       not counted
             widely quoted (Davies et al. 2018)   45 nm CMOS (Horowitz)
  truenorth  26 pJ per synaptic event             4.6 pJ: off-chip, 45 nm     not counted
             (Merolla et al. 2014)                CMOS (Horowitz)
  speck      none: no per-SOP figure with a       4.6 pJ: off-chip, 45 nm     not counted
             source we could verify; supply one   CMOS (Horowitz)
             (``dataclasses.replace``), estimate()
             refuses the profile until then

Loihi's paper also tabulates neuron-update energies; they are not counted here because the
figure could not be checked against the source (add it with ``e_neuron_j`` if you have it).
The dense equivalent uses the profile's ``e_mac_j`` (45 nm CMOS for every profile here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .counters import Counters
from .errors import AccelError

HOROWITZ_2014 = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
                 "ISSCC 2014, 45 nm at 0.9 V")
DAVIES_2018 = ("as widely quoted (Davies et al. 2018): M. Davies et al., 'Loihi: a "
               "neuromorphic manycore processor with on-chip learning', IEEE Micro 38(1), 2018")
MEROLLA_2014 = ("P. A. Merolla et al., 'A million spiking-neuron integrated circuit with a "
                "scalable communication network and interface', Science 345(6197), 2014")
OFF_CHIP_MAC = ("dense (real-valued input) layers run off-chip: charged at a 45 nm CMOS "
                "float32 MAC, 4.6 pJ (" + HOROWITZ_2014 + ")")
NOT_COUNTED = "not counted (no verified source)"


@dataclasses.dataclass(frozen=True)
class ChipProfile:
    """Energy constants of one platform, in joules, each with its source string.

    ``None`` marks a constant without a source: estimate() refuses an unsourced SOP or
    MAC energy and leaves an unsourced neuron-update energy out."""

    name: str
    description: str
    e_sop_j: float | None
    e_sop_source: str
    e_mac_j: float | None
    e_mac_source: str
    e_neuron_j: float | None = None
    e_neuron_source: str = NOT_COUNTED


PROFILES: dict[str, ChipProfile] = {p.name: p for p in (
    ChipProfile(
        "cmos45nm", "conventional digital 45 nm CMOS, float32 arithmetic",
        e_sop_j=0.9e-12, e_sop_source="32-bit float add, 0.9 pJ (" + HOROWITZ_2014 + ")",
        e_mac_j=4.6e-12,
        e_mac_source="32-bit float multiply 3.7 pJ + add 0.9 pJ = 4.6 pJ (" + HOROWITZ_2014
        + ")"),
    ChipProfile(
        "loihi", "Intel Loihi (1), 14 nm",
        e_sop_j=23.6e-12, e_sop_source="23.6 pJ per synaptic spike operation, " + DAVIES_2018,
        e_mac_j=4.6e-12, e_mac_source=OFF_CHIP_MAC),
    ChipProfile(
        "truenorth", "IBM TrueNorth, 28 nm",
        e_sop_j=26e-12, e_sop_source="26 pJ per synaptic event (" + MEROLLA_2014 + ")",
        e_mac_j=4.6e-12, e_mac_source=OFF_CHIP_MAC),
    ChipProfile(
        "speck", "SynSense Speck (DVS + asynchronous spiking CNN cores)",
        e_sop_j=None,
        e_sop_source="no per-SOP energy with a verifiable source: left out rather than "
        "invented; supply one with dataclasses.replace(PROFILES['speck'], e_sop_j=..., "
        "e_sop_source=...)",
        e_mac_j=4.6e-12, e_mac_source=OFF_CHIP_MAC),
)}


class EnergyUnavailable(AccelError):
    """The profile lacks a (sourced) constant that the estimate needs."""


@dataclasses.dataclass(frozen=True)
class EnergyEstimate:
    """Energy over the counters' window (all samples), in joules."""

    profile: str
    total_j: float
    per_layer: dict[str, float]
    sops: int
    macs: int
    dense_equivalent_j: float
    neuron_updates_j: float = 0.0
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ratio_vs_dense(self) -> float:
        """``dense_equivalent_j / total_j`` (how many times less than the dense network)."""
        return self.dense_equivalent_j / self.total_j if self.total_j else float("inf")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ratio_vs_dense": self.ratio_vs_dense}


def get_profile(profile: str | ChipProfile) -> ChipProfile:
    if isinstance(profile, ChipProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown chip profile {profile!r}; known: {sorted(PROFILES)}") from None


def missing_figure(profile: str | ChipProfile) -> str | None:
    """Why ``profile`` cannot give an estimate (a constant without a source), or None."""
    p = get_profile(profile)
    if p.e_sop_j is None:
        return f"profile '{p.name}': no energy per synaptic operation ({p.e_sop_source})"
    if p.e_mac_j is None:
        return f"profile '{p.name}': no energy per MAC ({p.e_mac_source})"
    return None


def no_figure(counters: Counters, profile: str | ChipProfile) -> EnergyEstimate:
    """The estimate of a profile that lacks a figure: every energy NaN ("no figure", never a
    made-up 0), the counters kept, and the reason under ``sources['missing']``."""
    p = get_profile(profile)
    reason = missing_figure(p)
    if reason is None:
        raise ValueError(f"profile '{p.name}' has every figure: use estimate()")
    nan = float("nan")
    return EnergyEstimate(
        profile=p.name, total_j=nan, per_layer=dict.fromkeys(counters.layers, nan),
        sops=counters.sops, macs=counters.macs, dense_equivalent_j=nan, neuron_updates_j=nan,
        sources={"sop": p.e_sop_source, "mac": p.e_mac_source, "neuron": p.e_neuron_source,
                 "missing": reason})


def estimate(counters: Counters, profile: str | ChipProfile) -> EnergyEstimate:
    """The energy of the counted window on ``profile`` (see the module docstring)."""
    p = get_profile(profile)
    reason = missing_figure(p)
    if reason is not None:
        raise EnergyUnavailable(reason)
    e_neuron = p.e_neuron_j or 0.0
    per_layer = {
        name: p.e_sop_j * c.sops + p.e_mac_j * c.macs + e_neuron * c.neuron_updates
        for name, c in counters.layers.items()
    }
    return EnergyEstimate(
        profile=p.name,
        total_j=sum(per_layer.values()),
        per_layer=per_layer,
        sops=counters.sops,
        macs=counters.macs,
        dense_equivalent_j=p.e_mac_j * counters.dense_macs,
        neuron_updates_j=e_neuron * counters.neuron_updates,
        sources={"sop": p.e_sop_source, "mac": p.e_mac_source, "neuron": p.e_neuron_source},
    )
