"""A policy instance's chart as people see it (``GET /v1/charts/{policy}/{scope}``, the console's
chart), read back from what the runner's chart history stored (:mod:`killswitch.runner.sinks.charts`).

What it owns: :meth:`Charts.chart` — one instance's stored samples over the window (at most the
retention), its stage transitions from the audit trail, the thresholds of the graph running, and
what the last evaluation and coverage say of it now (:func:`killswitch.view.charts.build_chart`).
A restarted runner, or a standby on a shared PostgreSQL store, draws the same history: it is read
from the store, not from memory.

Must not: write anything, or read as much as the window is long (the audit pages are bounded).
"""

from __future__ import annotations

from typing import Any, Callable, Union

from ...runner.book.view import BookView
from ...runner.collaborators import Names
from ...runner.names import Unknown
from ...runner.sinks.charts import HOUR_MS, RETENTION_MS
from ...runner.storeio import StoreIO
from ...state.store import StateStore
from ...view.charts import ScopeChart, build_chart
from ...view.coverage import coverage_rows

DEFAULT_HOURS = 3.0
AUDIT_PAGE = 1_000
AUDIT_PAGES = 20  # stage transitions read per chart at most: 20,000 over the window


class Charts:
    """See the module doc."""

    def __init__(self, book: BookView, store: StateStore, io: StoreIO, *, clock: Callable[[], int], known: Names):
        self.book, self.store, self.io, self.clock, self.known = book, store, io, clock, known

    async def chart(self, policy: str, scope: str, hours: float = DEFAULT_HOURS) -> Union[ScopeChart, Unknown]:
        """The chart of ``policy`` on ``scope`` over the last ``hours`` (at most the retention),
        or why there is none (an unknown policy or scope, with the close matches)."""
        unknown = self.known.catalog().resolve_policy_scope(policy, scope)
        node = self.book.node(policy)
        if unknown is not None or node is None:
            return unknown or Unknown("UNKNOWN_POLICY", f"{policy!r} is not a policy of the graph running")
        now = self.clock()
        window = int(min(RETENTION_MS, max(60_000, hours * HOUR_MS)))
        rows = await self.io(self.store.signal_samples, policy, scope, now - window)
        transitions: list[Any] = []
        after = 0
        for _ in range(AUDIT_PAGES):
            page = await self.io(self.store.audit_rows, now - window, ["stage_transition"], AUDIT_PAGE,
                                 after_seq=after)
            transitions += page
            if len(page) < AUDIT_PAGE:
                break
            after = page[-1].seq
        ev = self.book.evaluation
        latest = next((se for se in ev.scopes if se.policy == policy and se.scope == scope), None) \
            if ev is not None and ev.digest == self.book.graph.digest else None
        cover = next((c for c in coverage_rows(self.book) if c.policy == policy and c.scope == scope), None)
        ss = self.book.state.scopes.get(f"{policy}|{scope}")
        return build_chart(node, scope, rows, transitions, now_ms=now, window_ms=window,
                           stage=ss.stage.level if ss is not None else 0, latest=latest, coverage=cover)
