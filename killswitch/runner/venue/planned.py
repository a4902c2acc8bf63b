"""The orders a dry-run runner planned for an incident, read back from the audit trail.

A dry run journals nothing: the executor audits the orders it would have sent instead, as
``orders_planned_dry_run`` rows holding the intents as planned, a table of up to 1,000 a row
(:meth:`~..venue.executor.Executor.journal`; a trail written before the tables holds one
``order_planned_dry_run`` row an intent, read the same: :func:`~killswitch.orders.planned_intents`).
What it owns: finding those rows for one incident — its decision id and its re-plans
(``<decision>/r<n>``) — from the incident's start on, and keeping, per incident shown, how many
there are and the latest few, read on from the last row seen so that a console refreshing every
2 s reads only what was audited since.

Must not: write anything, count a row of another incident, or say a planned order was sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ...orders import PLANNED_KINDS, planned_intents
from ...state.store import StateStore
from ...view import PlannedRow
from ..storeio import StoreIO, audit_pages

PAGE_ROWS = 100  # audit rows read per store call (a row holds up to 1,000 intents)


def of_incident(decision_id: Any, incident: str) -> bool:
    """Whether an order's decision is ``incident`` itself or one of its re-plans."""
    return isinstance(decision_id, str) and (decision_id == incident or decision_id.startswith(incident + "/r"))


def planned_row(ts_ms: int, p: dict) -> PlannedRow:
    """An audited intent as a row (a field the row lacks reads as empty, never as a guess)."""
    def num(key: str) -> float:
        v = p.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0

    limit = p.get("limit_price")
    return PlannedRow(str(p.get("client_order_id") or ""), str(p.get("decision_id") or ""),
                      f"{p.get('venue') or '?'}/{p.get('account') or '?'}", str(p.get("symbol") or ""),
                      str(p.get("side") or ""), p.get("position_side") or None, num("amount"),
                      bool(p.get("reduce_only")), float(limit) if isinstance(limit, (int, float)) else None,
                      num("notional"), str(p.get("action") or ""), ts_ms)


@dataclass
class _Read:
    since_ms: int
    after_seq: int = 0  # the last audit row read
    total: int = 0
    latest: list[PlannedRow] = field(default_factory=list)


class PlannedOrders:
    """See the module doc. ``keep``: how many of an incident's latest planned orders are kept."""

    def __init__(self, store: StateStore, io: StoreIO, *, keep: int):
        self.store = store
        self.io = io
        self.keep = keep
        self._read: dict[str, _Read] = {}

    async def of(self, incident: str, since_ms: int) -> tuple[tuple[PlannedRow, ...], int]:
        """The latest planned orders of ``incident`` (audited at or after ``since_ms``) and how many in all."""
        seen = self._read.get(incident)
        if seen is None or seen.since_ms != since_ms:
            seen = self._read[incident] = _Read(since_ms)
        async for rows in audit_pages(self.io, self.store.audit_rows, since_ms, PLANNED_KINDS, PAGE_ROWS,
                                      seen.after_seq):
            for r in rows:
                seen.after_seq = r.seq
                for p in planned_intents(r.kind, r.payload):
                    if of_incident(p.get("decision_id"), incident):
                        seen.total += 1
                        seen.latest.append(planned_row(r.ts_ms, p))
                del seen.latest[:-self.keep]
        return tuple(seen.latest), seen.total

    def keep_only(self, incidents: Iterable[str]) -> None:
        """Forget what was read of incidents no longer shown."""
        shown = set(incidents)
        for k in [k for k in self._read if k not in shown]:
            del self._read[k]
