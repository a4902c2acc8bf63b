"""What one tick reports: its answer to the daemon and the sinks, and the time it took.

What it owns: :class:`TickReport` (the tick's time, whether it led, its evaluation and
execution, the snapshots that failed, its phases' wall-clock spans, its events, the store error
it stopped on), the marks of its phases' ends (:class:`Phases`), the slow tick said on stderr
with them (:func:`said_if_slow`) and the runner's counters added up from it (:func:`count`).

Must not: decide, write or send anything: the tick's order is :mod:`.loop`'s; this is what it
hands on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional

from ...engine.evaluate import Evaluation
from ...events import Event
from ..venue.execution import ExecutionReport

log = logging.getLogger("killswitch.runner")
# a tick longer than this is said, with its phases (said_if_slow)
SLOW_TICK_S = 1.0


@dataclass
class TickReport:
    now_ms: int
    leader: bool
    fence: Optional[int] = None
    evaluation: Optional[Evaluation] = None
    execution: ExecutionReport = field(default_factory=ExecutionReport)
    snapshot_failures: list[str] = field(default_factory=list)
    # for the sinks: wall-clock ns of the tick and of its phases (snapshots, evaluate, journal,
    # persist, send, reconcile), and the events it produced
    started_ns: int = 0
    ended_ns: int = 0
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # the store error the tick stopped on ("OperationalError: ..." with the URL masked), or None
    store_error: Optional[str] = None

    @property
    def transitions(self) -> list:
        return self.evaluation.transitions if self.evaluation else []


class Phases:
    """Marks the end of each phase of a tick: phase i runs from the end of phase i-1."""

    def __init__(self, report: TickReport):
        self.report = report
        self.last = report.started_ns

    def __call__(self, name: str) -> None:
        now = time.time_ns()
        self.report.phases[name] = (self.last, now)
        self.last = now


def said_if_slow(report: TickReport) -> None:
    """A tick longer than :data:`SLOW_TICK_S` said on stderr with its phases: what held every
    account's next decision that long (a venue's slow answer, a store write, a large plan)."""
    took = (report.ended_ns - report.started_ns) / 1e9
    if took < SLOW_TICK_S:
        return
    phases = ", ".join(f"{name} {(b - a) / 1e9:.2f}s" for name, (a, b) in report.phases.items())
    log.warning("TICK_SLOW: a tick took %.1f s (%s); every account's next decision waited for it", took,
                phases or "no phase ended")


def count(counters: dict[str, int], report: TickReport) -> None:
    x = report.execution
    counters["ticks"] += 1
    counters["orders_sent"] += x.sent
    counters["orders_filled"] += x.filled
    counters["orders_rejected"] += len(x.rejected)
    counters["orders_unknown"] += len(x.unknown)
    counters["snapshot_failures"] += len(report.snapshot_failures)


__all__ = ["SLOW_TICK_S", "Phases", "TickReport", "count", "said_if_slow"]
