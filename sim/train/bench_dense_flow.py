"""Per-step cost of the shipped dense-flow SNN on the accelerator runtime.

``python -m sim.train.bench_dense_flow [--steps N] [--json]``: the model's 10 ms bins of its
first validation sequence (never trained on), stepped one at a time on the event-driven
backend and on the dense reference in the same run (latency as a ratio to it), with SOPs,
MACs, spikes and energy (Loihi profile) per step from the runtime's counters.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def measure(steps: int = 100) -> dict[str, dict[str, float] | float]:
    from neuro_nodes.accel import AccelModel
    from neuro_nodes.perception.dense_flow import default_model_path, encode_bins, load_config
    from sim.datasets.event_motion import VAL_SPECS, make_sequence

    path = default_model_path()
    cfg, meta = load_config(path)
    spec = next(s for s in VAL_SPECS if s.name == meta["training"]["val_sequences"][0])
    ev = make_sequence(spec).events
    counts = encode_bins(ev.t, ev.x, ev.y, ev.p, 0, steps, cfg)[:, None]
    out: dict[str, dict[str, float] | float] = {}
    for backend in ("event", "dense"):
        m = AccelModel(path, None, backend)
        m.run(counts[:5])  # compile / warm up
        m.reset()
        m.reset_counters()
        ts = []
        for k in range(steps):
            t = time.perf_counter()
            m.step(counts[k])
            ts.append(time.perf_counter() - t)
        c, e = m.counters(), m.energy("loihi")
        out[backend] = {
            "median_ms": 1e3 * float(np.median(ts)), "p95_ms": 1e3 * float(np.percentile(ts, 95)),
            "sops": c.sops / steps, "macs": c.macs / steps, "spikes": c.spikes / steps,
            "energy_uj": 1e6 * e.total_j / steps,
            "dense_equivalent_uj": 1e6 * e.dense_equivalent_j / steps}
    out["event_over_dense_latency"] = out["event"]["median_ms"] / out["dense"]["median_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    r = measure(args.steps)
    if args.json:
        print(json.dumps(r))
        return
    for b in ("event", "dense"):
        d = r[b]
        print(f"{b:5s}: {d['median_ms']:.3f} ms/step median ({d['p95_ms']:.3f} p95), "
              f"{d['sops']:.0f} SOPs, {d['macs']:.0f} MACs, {d['spikes']:.0f} spikes, "
              f"{d['energy_uj']:.2f} uJ per step (loihi profile)")
    print(f"event/dense latency: {r['event_over_dense_latency']:.2f}")


if __name__ == "__main__":
    main()
