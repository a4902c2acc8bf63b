"""How long the runner's loop was held: the watchdog's own measure of the loop it vouches for.

What it owns: :class:`LoopHolds`, fed by :func:`~.keeper.show_life` at each of its wakes with
how late the wake came (a callback that ran that long without yielding: a parse, a tick's
evaluation, a store answer decoded, a large frame), and what it says: the largest hold since
start and in the last minute, the holds past each of :data:`HOLD_BOUNDS`, and the families
``/metrics`` shows (``killswitch_loop_hold_max_seconds``, ``killswitch_loop_holds_total``).
A hold of a term loses the lease (the watchdog's rule); the figures say how near the loop came.

Must not: call the store or touch the runner's state; it is written from the loop and read from
any thread (a scrape), one float and a few ints at a time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ...metrics import Registry

HOLD_BOUNDS = (0.05, 0.1, 0.25, 1.0)  # seconds: the holds counted past each
WINDOW_S = 60.0  # the recent largest hold is over this long


class LoopHolds:
    """The loop's holds as the watchdog's wakes measure them; see the module doc."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self.max_s = 0.0  # the largest hold since start
        self.over = dict.fromkeys(HOLD_BOUNDS, 0)
        self._recent: list[tuple[float, float]] = []  # (when, hold) of holds past the first bound

    def held(self, seconds: float) -> None:
        """A wake came ``seconds`` late."""
        if seconds < HOLD_BOUNDS[0]:
            return
        self.max_s = max(self.max_s, seconds)
        for bound in HOLD_BOUNDS:
            if seconds >= bound:
                self.over[bound] += 1
        now = self._mono()
        self._recent = [(t, s) for t, s in self._recent if now - t < WINDOW_S]
        self._recent.append((now, seconds))

    def recent_max_s(self) -> float:
        """The largest hold of the last minute (0: none past the first bound)."""
        return self.max_within(WINDOW_S)

    def max_within(self, window_s: float) -> float:
        """The largest hold of the last ``window_s`` (at most a minute; 0: none past the first bound)."""
        now = self._mono()
        return max((s for t, s in list(self._recent) if now - t < window_s), default=0.0)

    def collect_metrics(self, registry: "Registry") -> None:
        registry.sampled("killswitch_loop_hold_max_seconds", "gauge",
                         "The longest the runner's loop went without yielding, since start (window=all) "
                         "and over the last minute (window=1m).", ["window"]
                         ).add(round(self.max_s, 4), window="all").add(round(self.recent_max_s(), 4), window="1m")
        fam = registry.sampled("killswitch_loop_holds_total", "counter",
                               "Times the runner's loop went at least this long without yielding.", ["over"])
        for bound, n in self.over.items():
            fam.add(n, over=f"{bound:g}")
