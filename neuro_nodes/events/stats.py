"""Summary of an event stream, accumulated chunk by chunk (``neuro events info``)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import numpy as np

from neuro_nodes.events.event_array import EventArray
from neuro_nodes.events.imu import ImuArray
from neuro_nodes.events.trigger_array import TriggerArray

PEAK_BIN_NS = 10_000_000  # peak rate measured over 10 ms bins


@dataclasses.dataclass
class EventStats:
    encoding: str = ""
    width: int = 0
    height: int = 0
    events: int = 0
    on: int = 0
    trigger_rise: int = 0
    trigger_fall: int = 0
    imu_samples: int = 0
    imu_t_first_ns: int | None = None
    imu_t_last_ns: int | None = None
    t_first_ns: int | None = None
    t_last_ns: int | None = None
    packets: int = 0
    errors: int = 0
    _bins: Counter = dataclasses.field(default_factory=Counter, repr=False)

    def add(self, events: EventArray, triggers: TriggerArray | None = None,
            errors: int = 0, imu: ImuArray | None = None) -> None:
        self.packets += 1
        self.errors += errors
        self.width, self.height = events.width, events.height
        if imu is not None and len(imu):
            self.imu_samples += len(imu)
            first, last = int(imu.t.min()), int(imu.t.max())
            self.imu_t_first_ns = first if self.imu_t_first_ns is None else min(
                self.imu_t_first_ns, first)
            self.imu_t_last_ns = last if self.imu_t_last_ns is None else max(
                self.imu_t_last_ns, last)
        if triggers is not None and len(triggers):
            self.trigger_rise += triggers.rising_count  # properties, not methods
            self.trigger_fall += triggers.falling_count
        if not len(events):
            return
        self.events += len(events)
        self.on += int(np.count_nonzero(events.p))
        first, last = int(events.t.min()), int(events.t.max())
        self.t_first_ns = first if self.t_first_ns is None else min(self.t_first_ns, first)
        self.t_last_ns = last if self.t_last_ns is None else max(self.t_last_ns, last)
        bins, counts = np.unique(events.t // PEAK_BIN_NS, return_counts=True)
        self._bins.update(dict(zip(bins.tolist(), counts.tolist(), strict=True)))

    @property
    def off(self) -> int:
        return self.events - self.on

    def as_dict(self) -> dict[str, Any]:
        duration_s = ((self.t_last_ns - self.t_first_ns) * 1e-9
                      if self.t_first_ns is not None else 0.0)
        peak = max(self._bins.values(), default=0) / (PEAK_BIN_NS * 1e-9)
        imu_span = ((self.imu_t_last_ns - self.imu_t_first_ns) * 1e-9
                    if self.imu_t_first_ns is not None else 0.0)
        return {
            "events": self.events, "on": self.on, "off": self.off,
            "trigger_rise": self.trigger_rise, "trigger_fall": self.trigger_fall,
            "width": self.width, "height": self.height, "encoding": self.encoding,
            "t_first_ns": self.t_first_ns, "t_last_ns": self.t_last_ns,
            "duration_s": duration_s,
            "mean_rate_evps": self.events / duration_s if duration_s > 0 else 0.0,
            "peak_rate_evps": peak, "packets": self.packets, "errors": self.errors,
            "imu_samples": self.imu_samples,
            "imu_rate_hz": (self.imu_samples - 1) / imu_span if imu_span > 0 else 0.0,
        }
