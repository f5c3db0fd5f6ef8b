"""Which modalities are live: a modality whose last good input is under ``stale_after_s``
old is live, else stale (or missing: never seen), and what an answer's ``source`` says.

Times are seconds on any one clock (a node passes its ROS clock, so sim time under
``use_sim_time``); a clock that steps back makes an age 0, not negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ModalityState:
    state: str  # "live", "stale" or "missing"
    age_s: float | None  # since the last good input; None when missing

    @property
    def live(self) -> bool:
        return self.state == "live"

    def __str__(self) -> str:
        if self.age_s is None or self.live:
            return self.state
        return f"{self.state} {self.age_s:.1f} s"


class Liveness:
    def __init__(self, modalities: Iterable[str], stale_after_s: float) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be positive, got {stale_after_s}")
        self.stale_after_s = float(stale_after_s)
        self.last_s: dict[str, float | None] = dict.fromkeys(modalities)

    def seen(self, modality: str, t_s: float) -> None:
        if modality not in self.last_s:
            raise KeyError(f"unknown modality {modality!r} (have {list(self.last_s)})")
        self.last_s[modality] = float(t_s)

    def states(self, now_s: float) -> dict[str, ModalityState]:
        out = {}
        for m, last in self.last_s.items():
            if last is None:
                out[m] = ModalityState("missing", None)
            else:
                age = max(0.0, now_s - last)
                out[m] = ModalityState("live" if age <= self.stale_after_s else "stale", age)
        return out


def source(head: str, states: dict[str, ModalityState]) -> str:
    """``fused (events+cloud)``, or e.g. ``cloud only: events stale 2.3 s``."""
    if head == "fused":
        return f"fused ({'+'.join(states)})"
    down = ", ".join(f"{m} {s}" for m, s in states.items() if not s.live)
    return f"{head} only: {down}" if down else f"{head} only"


__all__ = ["Liveness", "ModalityState", "source"]
