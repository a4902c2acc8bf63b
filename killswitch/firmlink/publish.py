"""A shard leader's facts, written to the firm every tick, and whether they came in time.

What it owns: :class:`FactsPublisher` — the facts of the tick's snapshots
(:func:`killswitch.firm.facts.facts_of`) upserted in ``ks_firm.account_fact``, fenced by the
shard's token (a refusal is counted, ``FIRM_FACTS_REFUSED``); the last publish's cost (rows, its
round trip); and the gap since this leader's last publish against how long the firm lease holder
reads facts for (:func:`killswitch.firm.facts.stale_after_ms`): a gap over it left the shard's
accounts not seen meanwhile, said ``FIRM_FACTS_LATE`` once a run (and its end once), counted.
The shard ticks at the firm-wide policies' interval (the daemon's pace), so a late publish is a
tick that took longer than the margin the firm allows, never the shard's own policies' pace.

Must not: read the facts back, evaluate anything, or publish for a runner that does not lead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Optional

from ..compile.graph import DecisionGraph
from ..firm.facts import facts_of, stale_after_ms
from .ports import ShardBook


class FactsPublisher:
    """See the module doc. ``book``: the shard's, whose last snapshots are published; ``firm``:
    the :class:`~killswitch.state.firm.FirmStore`; ``start``: the shard
    (:class:`killswitch.process.shard.ShardStart`)."""

    def __init__(self, book: ShardBook, firm: Any, start: Any, echo: Callable[[str], None],
                 err: Callable[[str], None]):
        self.book, self.firm, self.start, self.echo, self.err = book, firm, start, echo, err
        self.refused = 0  # upserts refused for a stale or foreign token
        self.cost = {"rows": 0, "ms": 0.0}  # the last publish: rows upserted and its round trip
        self.published_ms: Optional[int] = None  # this leader's last publish (None: not publishing)
        self.late = 0  # publishes that came later after the last one than the firm reads facts for
        self._late_said = False  # the current run of late publishes has been said

    def stopped(self) -> None:
        """This runner does not lead (or no longer): the next publish starts a new run."""
        self.published_ms = None

    async def publish(self, report: Any, now: int, firm_graph: DecisionGraph) -> None:
        """The facts of ``report``'s tick at ``now``, under its token (the firm-wide policies of
        ``firm_graph`` say how long they are read for)."""
        snaps = list(self.book.snapshots.values())
        ev = report.evaluation
        armed = ev is None or all(s.coverage.armed for s in ev.scopes)
        facts = facts_of(self.start.name, snaps, armed, now, report.fence)
        t0 = time.perf_counter()
        n = await asyncio.to_thread(self.firm.publish_facts, self.start.schema, report.fence, facts)
        self.cost = {"rows": n, "ms": (time.perf_counter() - t0) * 1000}
        if facts and n == 0:
            self.refused += len(facts)
            self.err(f"ksctl run: FIRM_FACTS_REFUSED: token {report.fence} is not shard {self.start.name}'s current "
                     "one; its facts were not written")
        self._said_late(report, now, firm_graph)
        self.published_ms = now

    def _said_late(self, report: Any, now: int, graph: DecisionGraph) -> None:
        if self.published_ms is None or not graph.policies:
            return
        gap, limit = now - self.published_ms, stale_after_ms(graph)
        if gap <= limit:
            if self._late_said:
                self.echo(f"ksctl run: shard {self.start.name}'s facts on time again ({gap / 1000:.2f}s apart)")
            self._late_said = False
            return
        self.late += 1
        if not self._late_said:
            took = (report.ended_ns - report.started_ns) / 1e9 if report.ended_ns and report.started_ns else None
            pace = min(p.interval_s for p in graph.policies)
            self.err(f"ksctl run: FIRM_FACTS_LATE: shard {self.start.name} published its facts {gap / 1000:.2f}s "
                     f"after its last ones, over the {limit / 1000:g}s the firm lease holder reads them for: its "
                     f"accounts were not seen meanwhile (the firm-wide policies' interval {pace:g}s"
                     + (f"; this tick took {took:.2f}s" if took is not None else "") + ")")
        self._late_said = True
