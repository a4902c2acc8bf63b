"""The lock violations of the last day read back from the store, for status and the console after
a start or a takeover (:meth:`~killswitch.runner.watch.enforcement.Enforcement.recall`).

What it owns: :func:`recalled` — the ``lock_violation`` / ``limit_violation`` audit rows of the
``RECALL_MS`` before a start, the latest ``shown`` of them as the venue watch keeps its own: a
cancel's outcome by its ``violation_cancel_result`` row (:mod:`killswitch.state.violations`,
which the closure report reads too), a revert's by the journal (:func:`revert_outcome`), and the
reverts not final yet, to be followed there — and :func:`revert_outcome`, a revert's journal
entry in words. Without it a restart while the halt held dropped every violation from the first
screen; only the report still named them.

Must not: write anything, or count what the metric counts (a counter starts at zero with its
process).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from ...state.store import JournalEntry, StateStore
from ...state.violations import CANCEL_RESULT_KIND, VIOLATION_KINDS, cancel_outcome, cancel_results

RECALL_MS = 86_400_000  # a start or a takeover shows again the violations audited this long before it
READ_LIMIT = 100_000


class Recalled(NamedTuple):
    recent: list[dict]  # the latest violations, oldest first, as the venue watch keeps them
    reverts: dict[str, tuple[str, int]]  # a revert not final: its client order id → (its decision, since)
    audited: int  # every violation audited since


async def recalled(store: StateStore, io: Callable[..., Any], since: int, shown: int) -> Recalled:
    """The violations audited since ``since`` (see the module doc); ``io`` runs a store call off the loop."""
    rows = await io(store.audit_rows, since, VIOLATION_KINDS + (CANCEL_RESULT_KIND,), READ_LIMIT)
    found = [r for r in rows if r.kind in VIOLATION_KINDS and isinstance(r.payload, dict)]
    results = cancel_results(rows)
    latest = found[-shown:]
    journal: dict[str, JournalEntry] = {}
    if any(r.payload.get("revert_client_order_id") for r in latest):
        journal = {e.client_order_id: e for e in await io(store.journal, READ_LIMIT, since)}
    recent, reverts = [], {}
    for r in latest:
        p = r.payload
        cid = str(p.get("revert_client_order_id") or "")
        entry = journal.get(cid) if cid else None
        if p.get("action") != "revert":
            outcome = cancel_outcome(p, results)
        elif entry is not None:
            outcome = revert_outcome(entry)
            if not entry.final and not p.get("dry_run"):
                reverts[cid] = (entry.decision_id, entry.created_ms)
        else:
            outcome = "dry run: not sent" if p.get("dry_run") else "not journaled"
        recent.append({**p, "ts_ms": r.ts_ms, "dry_run": bool(p.get("dry_run")), "outcome": outcome})
    return Recalled(recent, reverts, len(found))


def revert_outcome(e: JournalEntry) -> str:
    """A revert's journal entry as status and the console say it: its status and what filled."""
    status = e.status or "journaled"
    filled = e.filled or 0.0
    if status == "filled":
        return f"revert filled {filled:g}"
    if filled > 0:
        return f"revert {status} {filled:g} of {e.amount:g}"
    return f"revert {status}" + (f": {e.reason_code}" if e.reason_code and status in ("rejected", "failed") else "") \
        + (f" {e.detail}" if e.detail and status in ("rejected", "failed") else "")


__all__ = ["RECALL_MS", "Recalled", "recalled", "revert_outcome"]
