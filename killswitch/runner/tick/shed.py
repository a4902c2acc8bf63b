"""Load shed in a stated order: what the runner reads less often when its loop is held, never what it sends.

What it owns: :class:`LoadShed`, which looks at the loop's holds as the lease's watchdog measures
them (:class:`~killswitch.runner.lease.holds.LoopHolds`) once a tick and sets a level:

====== ==================================================================================
level  what is read less often (each step doubles the one before; nothing else changes)
====== ==================================================================================
0      nothing: every cadence as configured
1      the REST reconcile of a streamed account (``reconcile_every`` × 2, and its overdue
       bound with it); a calm account's list of every open order (its age × 2)
2      the same × 4
====== ==================================================================================

Never shed: closes, cancels, the watch of a locked account's entries (its open orders are
listed as soon as before), the pre-trade gate, the streams themselves, the lease and its
watchdog. Those are what the loop is kept for.

A level rises one step when the loop was held :data:`UP_S` or more within the last
:data:`UP_WINDOW_S` (at most a step every :data:`UP_WINDOW_S`), and falls one step once no hold
reached :data:`DOWN_S` for :data:`DOWN_WINDOW_S` since the last change. Each change is said
(``LOAD_SHED`` on stderr, a ``load_shed`` event to the sinks: a warning as it rises, info as it
ends), counted and shown (``/v1/status`` ``load``, ``killswitch_load_shed_level``).

Must not: shed anything that acts (an order, a cancel, a lock's enforcement), or decide from a
single hold alone (a level falls only after a calm window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from ...metrics import Registry
    from ..lease.holds import LoopHolds

UP_S = 0.25  # a hold this long or longer raises the level
UP_WINDOW_S = 10.0
DOWN_S = 0.1  # no hold this long for DOWN_WINDOW_S lowers it
DOWN_WINDOW_S = 60.0
MAX_LEVEL = 2
SHED = ("", "the REST reconcile of streamed accounts and a calm account's open-order list every {x}× "
        "their configured cadence")


def shed_words(level: int) -> str:
    """What ``level`` reads less often, in words (empty at 0)."""
    return SHED[min(level, 1)].format(x=2 ** level) if level else ""


class LoadShed:
    """The load level from the loop's holds; see the module doc. ``holds`` None (no lease thread
    measures the loop: a demo, a test) keeps it at 0."""

    def __init__(self, holds: Optional["LoopHolds"], monotonic: Callable[[], float]):
        self.holds = holds
        self._mono = monotonic
        self.level = 0
        self.since_ms: Optional[int] = None  # when the level last changed (wall clock)
        self.changes = 0
        self._changed_at = monotonic()

    def observe(self, now_ms: int) -> Optional[tuple[int, int]]:
        """The level as the holds say now: (before, after) when it changed, else None."""
        if self.holds is None:
            return None
        t = self._mono()
        before = self.level
        if self.level < MAX_LEVEL and self.holds.max_within(UP_WINDOW_S) >= UP_S \
                and (self.level == 0 or t - self._changed_at >= UP_WINDOW_S):
            self.level += 1
        elif self.level > 0 and t - self._changed_at >= DOWN_WINDOW_S \
                and self.holds.max_within(DOWN_WINDOW_S) < DOWN_S:
            self.level -= 1
        if self.level == before:
            return None
        self._changed_at = t
        self.since_ms = now_ms
        self.changes += 1
        return before, self.level

    def status(self) -> dict:
        """``/v1/status`` ``load``: the level, since when, what it reads less often, and the
        loop's longest hold of the last minute."""
        out: dict = {"level": self.level, "since_ms": self.since_ms, "shed": shed_words(self.level)}
        if self.holds is not None:
            out["loop_hold_max_ms_1m"] = round(self.holds.recent_max_s() * 1000, 1)
        return out

    def collect_metrics(self, registry: "Registry") -> None:
        registry.sampled("killswitch_load_shed_level", "gauge",
                         "What the runner reads less often under load: 0 nothing, 1 the REST reconcile and "
                         "calm open-order lists at half their pace, 2 at a quarter.").add(self.level)
        registry.sampled("killswitch_load_shed_changes_total", "counter",
                         "Changes of the load shed level.").add(self.changes)
