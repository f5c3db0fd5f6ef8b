"""``neuro_interfaces/EnergyReport`` from a :class:`~neuro_nodes.accel.report_window.
ReportWindow`: the one message layout of every node that accounts SNN energy (the
accelerator, the point-cloud SNN)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from neuro_interfaces.msg import EnergyReport, LayerStats

from neuro_nodes.accel.counters import Counters
from neuro_nodes.accel.energy import EnergyEstimate, estimate, missing_figure, no_figure
from neuro_nodes.accel.report_window import ReportWindow


def price(counters: Counters, profile: str) -> EnergyEstimate:
    """The counters' energy on ``profile``; NaN energies where it lacks a sourced figure."""
    return (no_figure if missing_figure(profile) else estimate)(counters, profile)


def energy_report(model: str, profile: str, window: ReportWindow, stamp: Time) -> EnergyReport:
    """The window's totals and per-layer counters as an EnergyReport stamped ``stamp``."""
    msg = EnergyReport(model=model, profile=profile, time_steps=window.time_steps,
                       inferences=window.inferences, synaptic_ops=window.sops,
                       macs=window.macs, energy_j=window.energy_j,
                       dense_energy_j=window.dense_energy_j)
    msg.header.stamp = stamp
    msg.layers = [LayerStats(name=n, neurons=t.neurons, spikes=t.spikes,
                             firing_rate=t.firing_rate, synaptic_ops=t.sops, macs=t.macs,
                             memory_bytes=t.memory_bytes) for n, t in window.layers.items()]
    return msg
