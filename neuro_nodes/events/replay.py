"""When to send each recorded message during replay (real time, x rate, or flat out)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ReplayClock:
    """Maps recording time to wall time for replay at ``rate`` (0 = as fast as possible).

    The first message fixes the origin; :meth:`delay` is how long to wait before
    sending a message recorded at ``t_rec_ns`` when the wall clock reads ``now_s``.
    """

    rate: float
    _origin: tuple[int, float] | None = None

    def delay(self, t_rec_ns: int, now_s: float) -> float:
        if self.rate <= 0.0:
            return 0.0
        if self._origin is None:
            self._origin = (t_rec_ns, now_s)
        t0_rec, t0_wall = self._origin
        due = t0_wall + (t_rec_ns - t0_rec) * 1e-9 / self.rate
        return max(0.0, due - now_s)

    def restart(self) -> None:
        """Forget the origin (a new loop, or a change of rate)."""
        self._origin = None
