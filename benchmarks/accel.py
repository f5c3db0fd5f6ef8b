"""Accelerator-runtime benchmark: event-driven vs dense vs snnTorch on a DVS-sized conv SNN.

Everything is measured in one process, on the same inputs, in the same run::

    python -m benchmarks.accel [--quick] [--json]

Network (built in snnTorch, exported to NIR with ``export_to_nir``, imported by
:class:`neuro_nodes.accel.AccelModel` with snnTorch's ``dt = 1e-4``)::

    input [2, 260, 346] (DAVIS346 polarity frames)
    Conv2d(2→8, k3, s2, p1) – Leaky → Conv2d(8→16, k3, s2, p1) – Leaky
    → AvgPool2d(5) → Flatten → Linear(3536→10) → Leaky            (β = 0.9, θ = 1)

Input: per time step a random fraction ``activity`` of the 346×260 pixels is active, each
with one polarity (1 %, 5 %, 20 %); the hidden activity follows from the weights.  Batch 1
(one robot, one stream), ``T`` steps per inference (10; 4 with ``--quick``).

Timed per inference (``T`` steps from a reset), best of N after a warm-up, backends
interleaved: ``event`` (AccelModel's default: event-driven synapses, LIF updates by kernels
compiled from the equations of neuro_nodes.snn.equations that emit the spike events),
``event_torch`` (the same with ``fused_neurons=False``: neurons by the torch step functions,
which call the same equations), ``dense`` (the reference GraphModule: every synapse every
step) and ``snntorch`` (the source network).
Outputs are compared (``identical_*``).  Counts (SOPs, MACs, spikes) and energy estimates
per chip profile are per inference, from the event-driven run's counters.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from benchmarks import machine as shared_machine
from benchmarks import suite_main

H, W = 260, 346
ACTIVITIES = (0.01, 0.05, 0.2)
SNNTORCH_DT = 1e-4
BACKENDS = ("event", "event_torch", "dense", "snntorch")


def _log(msg: str) -> None:
    print(f"[bench accel] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {**shared_machine("numba", "snntorch"), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------ network
def snntorch_net(seed: int = 0) -> torch.nn.Sequential:
    """The benchmark network in snnTorch (per-neuron β and θ, as its NIR export needs)."""
    import snntorch as snn
    from torch import nn

    gen = torch.Generator().manual_seed(seed)

    def leaky(shape: tuple[int, ...], output: bool = False) -> nn.Module:
        return snn.Leaky(beta=torch.full(shape, 0.9), threshold=torch.full(shape, 1.0),
                         init_hidden=True, reset_mechanism="zero", output=output)

    c1, c2 = nn.Conv2d(2, 8, 3, 2, 1), nn.Conv2d(8, 16, 3, 2, 1)
    fc = nn.Linear(16 * 13 * 17, 10)
    with torch.no_grad():  # excitatory-leaning weights: activity propagates to the output
        for layer, lo, hi in ((c1, -0.2, 0.6), (c2, -0.15, 0.35), (fc, -0.05, 0.1)):
            layer.weight.copy_(lo + (hi - lo) * torch.rand(layer.weight.shape, generator=gen))
            layer.bias.zero_()
    return nn.Sequential(c1, leaky((8, 130, 173)), c2, leaky((16, 65, 87)), nn.AvgPool2d(5),
                         nn.Flatten(), fc, leaky((10,), output=True))


def event_input(activity: float, steps: int, seed: int) -> torch.Tensor:
    """[T, 1, 2, H, W] polarity frames: ``activity`` of the pixels active per step."""
    gen = torch.Generator().manual_seed(seed)
    active = torch.rand((steps, 1, H, W), generator=gen) < activity
    on = torch.rand((steps, 1, H, W), generator=gen) < 0.5
    return torch.stack([(active & on), (active & ~on)], dim=2).float()


def _best(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Seconds of the fastest of ``repeat`` calls of each function (interleaved), after one
    warm-up call each."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _accel_call(model: Any, x: torch.Tensor, results: dict[str, torch.Tensor],
                name: str) -> Callable[[], None]:
    """One inference of ``model`` from a reset; its output lands in ``results[name]``."""

    def call() -> None:
        model.reset()
        results[name] = model.run(x)

    return call


def _snntorch_call(net: torch.nn.Module, x: torch.Tensor,
                   results: dict[str, torch.Tensor]) -> Callable[[], None]:
    from snntorch import utils as snn_utils

    def call() -> None:
        snn_utils.reset(net)
        with torch.inference_mode():
            results["snntorch"] = torch.stack([net(x[t])[0] for t in range(x.shape[0])])

    return call


# ---------------------------------------------------------------------------------- run
def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns a flat dict (times in ms per inference, keys of the
    per-activity dicts are the activities as strings: "0.01", "0.05", "0.2")."""
    from snntorch.export_nir import export_to_nir

    from neuro_nodes.accel import PROFILES, AccelModel, EnergyUnavailable

    steps = 4 if quick else 10
    repeat = 3 if quick else 15
    out: dict[str, Any] = {"quick": quick, "machine": machine(), "steps": steps, "batch": 1}
    _log("building the snnTorch network and exporting it to NIR")
    net = snntorch_net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nirtorch's deprecation notices
        graph = export_to_nir(net, torch.zeros(1, 2, H, W), ignore_dims=[0])
    models = {
        "event": AccelModel(graph, SNNTORCH_DT),
        "event_torch": AccelModel(graph, SNNTORCH_DT, fused_neurons=False),
        "dense": AccelModel(graph, SNNTORCH_DT, backend="dense"),
    }
    out["network"] = ("snnTorch: Conv2d(2→8,k3,s2,p1)–Leaky–Conv2d(8→16,k3,s2,p1)–Leaky–"
                      "AvgPool2d(5)–Flatten–Linear(3536→10)–Leaky, β=0.9, θ=1; input "
                      f"[2,{H},{W}]; NIR via export_to_nir, dt={SNNTORCH_DT}")
    neurons = 8 * 130 * 173 + 16 * 65 * 87 + 10

    times: dict[str, dict[str, float]] = {b: {} for b in BACKENDS}
    keys = ("speedup_event_vs_dense", "speedup_event_vs_snntorch",
            "speedup_event_torch_vs_dense", "speedup_event_torch_vs_snntorch",
            "sops_per_inference", "macs_per_inference", "dense_macs_per_inference",
            "spikes_per_inference", "hidden_firing_rate", "dense_equivalent_j",
            "identical_event_dense", "identical_event_torch_dense", "identical_snntorch_dense")
    for k in keys:
        out[k] = {}
    energy: dict[str, dict[str, float | None]] = {p: {} for p in PROFILES}
    firing: dict[str, dict[str, float]] = {}
    notes: dict[str, str] = {}

    for i, act in enumerate(ACTIVITIES):
        key = f"{act:g}"
        _log(f"activity {key}: {steps} steps")
        x = event_input(act, steps, seed=10 + i)
        results: dict[str, torch.Tensor] = {}
        for m in models.values():
            m.counting = False  # time the runtime, not the instrumentation
        fns = {name: _accel_call(m, x, results, name) for name, m in models.items()}
        fns["snntorch"] = _snntorch_call(net, x, results)
        best = _best(fns, repeat)
        for name, sec in best.items():
            times[name][key] = round(sec * 1e3, 3)
        for name in ("event", "event_torch"):
            for ref in ("dense", "snntorch"):
                out[f"speedup_{name}_vs_{ref}"][key] = round(best[ref] / best[name], 2)
        out["identical_event_dense"][key] = bool(torch.equal(results["event"], results["dense"]))
        out["identical_event_torch_dense"][key] = bool(
            torch.equal(results["event_torch"], results["dense"]))
        out["identical_snntorch_dense"][key] = bool(
            torch.equal(results["snntorch"], results["dense"]))

        model = models["event"]  # counts of one inference (batch 1)
        model.counting = True
        model.reset()
        model.reset_counters()
        model.run(x)
        c = model.counters()
        out["sops_per_inference"][key] = c.sops
        out["macs_per_inference"][key] = c.macs
        out["dense_macs_per_inference"][key] = c.dense_macs
        out["spikes_per_inference"][key] = c.spikes
        out["hidden_firing_rate"][key] = round(c.spikes / (neurons * steps), 5)
        firing[key] = {n: round(lc.firing_rate, 5) for n, lc in c.layers.items()
                       if lc.neurons}
        for name in PROFILES:
            try:
                e = model.energy(name)
                energy[name][key] = float(f"{e.total_j:.4g}")
                out["dense_equivalent_j"][key] = float(f"{e.dense_equivalent_j:.4g}")
            except EnergyUnavailable as exc:
                energy[name][key] = None
                notes[f"energy_{name}"] = str(exc)

    out["time_ms_per_inference"] = times
    out["energy_per_inference_j"] = energy
    out["layer_firing_rate"] = firing
    out["energy_sources"] = {name: {"sop": p.e_sop_source, "mac": p.e_mac_source,
                                    "neuron": p.e_neuron_source}
                             for name, p in PROFILES.items()}
    out["notes"] = notes | {
        "event": "AccelModel(backend='event'), the default: event-driven synapses, LIF "
                 "updates by kernels compiled from neuro_nodes.snn.equations (checked "
                 "bit-identical to the step functions)",
        "event_torch": "AccelModel(fused_neurons=False): the same, neurons by the "
                       "neuro_nodes.snn step functions (torch)",
        "threads": "event-driven kernels run on one thread; dense and snnTorch use torch's "
                   f"{torch.get_num_threads()} threads",
    }
    return out


def table(res: dict[str, Any]) -> str:
    m = res["machine"]
    acts = list(res["speedup_event_vs_dense"])
    t = res["time_ms_per_inference"]
    lines = [
        f"machine: {m['cpu']} x{m['cpu_count']}, torch {m['torch']} ({m['torch_threads']} "
        f"threads), numba {m['numba']}, snntorch {m['snntorch']}",
        f"network: {res['network']}",
        f"batch {res['batch']}, {res['steps']} steps per inference",
        "",
        f"{'ms per inference':26s}" + "".join(f"{'act ' + a:>12s}" for a in acts),
    ]
    for b in BACKENDS:
        lines.append(f"{b:26s}" + "".join(f"{t[b][a]:12.2f}" for a in acts))
    for k in ("speedup_event_vs_dense", "speedup_event_vs_snntorch",
              "speedup_event_torch_vs_dense", "speedup_event_torch_vs_snntorch"):
        lines.append(f"{k.removeprefix('speedup_'):26s}" + "".join(
            f"{res[k][a]:11.2f}x" for a in acts))
    lines.append(f"{'identical outputs':26s}" + "".join(
        f"{str(res['identical_event_dense'][a] and res['identical_event_torch_dense'][a]):>12s}"
        for a in acts))
    lines += ["", f"{'per inference':26s}" + "".join(f"{'act ' + a:>12s}" for a in acts)]
    for k in ("sops_per_inference", "macs_per_inference", "dense_macs_per_inference",
              "spikes_per_inference", "hidden_firing_rate"):
        lines.append(f"{k.removesuffix('_per_inference'):26s}" + "".join(
            f"{res[k][a]:12.4g}" for a in acts))
    for p, vals in res["energy_per_inference_j"].items():
        lines.append(f"{'energy ' + p + ' (uJ)':26s}" + "".join(
            f"{'n/a':>12s}" if vals[a] is None else f"{vals[a] * 1e6:12.4g}" for a in acts))
    lines.append(f"{'dense equivalent (uJ)':26s}" + "".join(
        f"{res['dense_equivalent_j'][a] * 1e6:12.4g}" for a in acts))
    lines += ["", "notes:"] + [f"  {k}: {v}" for k, v in res["notes"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    suite_main(__name__)
