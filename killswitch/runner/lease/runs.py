"""This process's run, audited: when it started and when it stopped (``runner_started``,
``runner_stopped``), beside the lease's changes (``lease_taken``, ``lease_lost``:
:class:`~.leadership.Leadership`), so that the closure report can say whether a runner guarded the
books the whole time and name the gaps.

What it owns: one row per start and one per stop of this process, each written once — the start
as soon as the store takes it (at the start, else at the next tick: a store down at the start
writes it later, with the start's time), the stop only after the start was written. Rows about
the runner rather than the book: fenced while it leads, a standby's otherwise
(:meth:`~.leadership.Leadership.audit_or_standby`).

Must not: decide anything, or write a row twice.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

from .leadership import Leadership

log = logging.getLogger("killswitch.runner")

RUNNER_STARTED = "runner_started"
RUNNER_STOPPED = "runner_stopped"


class Runs:
    """See the module doc. ``graph()``: the digest of the graph the runner runs now."""

    def __init__(self, lead: Leadership, holder: str, graph: Callable[[], str]):
        self.lead = lead
        self.holder = holder
        self.graph = graph
        self.started_ms: Optional[int] = None
        self.start_written = False
        self.stop_written = False

    def started(self, now_ms: int) -> None:
        if self.started_ms is None:
            self.started_ms = now_ms

    async def write_start(self) -> None:
        """The start's row, once; a store error leaves it for the next tick."""
        if self.started_ms is None or self.start_written:
            return
        await self.lead.audit_or_standby(RUNNER_STARTED, self.started_ms, {
            "holder": self.holder, "graph": self.graph(), "leader": self.lead.leader})
        self.start_written = True

    async def write_stop(self, now_ms: int) -> None:
        """The stop's row, once, when the start's was written; a store that fails now is said
        in the log (the report then shows the run without its end)."""
        if not self.start_written or self.stop_written:
            return
        try:
            await self.lead.audit_or_standby(RUNNER_STOPPED, now_ms, {
                "holder": self.holder, "graph": self.graph(), "leader": self.lead.term_holds()})
            self.stop_written = True
        except Exception as e:  # noqa: BLE001 - a stop goes on; the report shows no end for this run
            log.warning("the runner's stop could not be audited (%s): the closure report shows this run without "
                        "its end", type(e).__name__)


__all__ = ["RUNNER_STARTED", "RUNNER_STOPPED", "Runs"]
