"""Health counters of a processing stage: rates, drops, errors, latency.

Pure and clock-agnostic (callers pass times in seconds), so nodes, benchmarks
and tests share it. The ROS layer publishes a :class:`HealthSnapshot` on
``/diagnostics``.
"""

from __future__ import annotations

import collections
import dataclasses
from collections import Counter


@dataclasses.dataclass(frozen=True)
class HealthSnapshot:
    counts: dict[str, int]           # cumulative: received, published, dropped, ...
    rates_hz: dict[str, float]       # per-second rate of each count over the window
    errors: dict[str, int]           # cumulative errors by reason
    latency_ms: dict[str, float]     # p50 / p95 / max processing latency over the window
    last_error: str


class Health:
    """Counts events by name, errors by reason, and processing latencies."""

    def __init__(self, window_s: float = 5.0, latency_samples: int = 1000) -> None:
        self.window_s = window_s
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_error = ""
        self._history: collections.deque[tuple[float, dict[str, int]]] = collections.deque()
        self._latencies: collections.deque[float] = collections.deque(maxlen=latency_samples)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def error(self, reason: str, detail: str = "", n: int = 1) -> None:
        self.errors[reason] += n
        self.last_error = f"{reason}: {detail}" if detail else reason

    def latency(self, seconds: float) -> None:
        self._latencies.append(seconds)

    def snapshot(self, now_s: float) -> HealthSnapshot:
        self._history.append((now_s, dict(self.counts)))
        while len(self._history) > 1 and now_s - self._history[0][0] > self.window_s:
            self._history.popleft()
        t0, c0 = self._history[0]
        span = now_s - t0
        rates = {k: (v - c0.get(k, 0)) / span if span > 0 else 0.0 for k, v in self.counts.items()}
        lat = sorted(self._latencies)
        latency = {}
        if lat:
            latency = {
                "p50": 1e3 * lat[len(lat) // 2],
                "p95": 1e3 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
                "max": 1e3 * lat[-1],
            }
        return HealthSnapshot(dict(self.counts), rates, dict(self.errors), latency, self.last_error)
