"""What status and the console show of the lock violations: the latest the venue watch caught,
each with what it came to, and after a start or a takeover those of the last day read back.

What it owns: :class:`Shown` — the latest ``RECENT`` violations (newest last) with their outcomes
as they come (a cancel's answer, a revert journaled, then followed in the journal until final),
how many since when (``since_ms``), and :meth:`Shown.recall`, the read back: the
``lock_violation`` / ``limit_violation`` audit rows of the ``RECALL_MS`` before a start or a
takeover, the latest of them as the watch keeps its own — a cancel's outcome by its
``violation_cancel_result`` row (:mod:`killswitch.state.violations`, which the closure report
reads too), a revert's by the journal — and the reverts not final yet, for the watch to follow.
Without it a restart while the halt held dropped every violation from the first screen; only
the report still named them. And :func:`revert_outcome`, a revert's journal entry in words (the
title and the count ``ksctl status`` and the console give them are the standing fact's,
:mod:`killswitch.facts.violations`).

Must not: write anything, or count what the metric counts (a counter starts at zero with its
process; the watch keeps that).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional, Sequence

from ...state.store import JournalEntry, StateStore
from ...state.violations import CANCEL_RESULT_KIND, VIOLATION_KINDS, cancel_outcome, cancel_results

RECENT = 50  # violations kept for status and the console
LOCK_KIND, LOCK_ROW = "LOCK_VIOLATION", "lock_violation"  # a lock's violation (the others: a limit's)
RECALL_MS = 86_400_000  # a start or a takeover shows again the violations audited this long before it
READ_LIMIT = 100_000


class Shown:
    """See the module doc; ``since_ms``: when the count starts (the process's start until a recall)."""

    def __init__(self, since_ms: int):
        self.recent: deque[dict] = deque(maxlen=RECENT)  # the latest violations, newest last
        self.recalled, self.told, self.since_ms = 0, 0, since_ms  # read back at the recall, told since
        self.limits = 0  # of those, the pre-trade limits' (the rest broke a lock)
        self.read_back = False  # since_ms is the start of the day read back at a start or takeover

    def keep(self, entry: dict) -> None:
        """A violation just told (its outcome ``None`` until known)."""
        self.recent.append(entry)
        self.told += 1
        self.limits += entry.get("kind") != LOCK_KIND

    def cancelled(self, order_ids: Sequence[str], outcome: Optional[str], *, failed: Optional[dict] = None) -> None:
        """What the cancel of ``order_ids`` came to (``failed``: the venue's words by order id)."""
        ids = set(order_ids)
        for r in self.recent:
            if r.get("action") == "cancel" and r.get("order_id") in ids:
                r["outcome"] = failed.get(r["order_id"]) if failed is not None else outcome

    def reverted(self, cid: str, said: str, *, unless_said: bool = False) -> None:
        """What the revert ``cid`` came to; ``unless_said``: only where nothing is said yet."""
        for r in self.recent:
            if r.get("revert_client_order_id") == cid and not (unless_said and r.get("outcome") is not None):
                r["outcome"] = said

    def scopes(self) -> dict[str, str]:
        """A violating order's venue id → the lock's scope its violation names."""
        return {str(r.get("order_id")): str(r.get("scope")) for r in self.recent if r.get("order_id")}

    async def recall(self, store: StateStore, io: Callable[..., Any], now: int) -> dict[str, tuple[str, int]]:
        """The violations audited in the ``RECALL_MS`` before ``now`` shown in place of those kept
        (see the module doc; ``io`` runs a store call off the loop); the reverts not final yet:
        client order id → (its decision, since)."""
        since = now - RECALL_MS
        rows = await io(store.audit_rows, since, VIOLATION_KINDS + (CANCEL_RESULT_KIND,), READ_LIMIT)
        found = [r for r in rows if r.kind in VIOLATION_KINDS and isinstance(r.payload, dict)]
        results = cancel_results(rows)
        latest = found[-RECENT:]
        journal: dict[str, JournalEntry] = {}
        if any(r.payload.get("revert_client_order_id") for r in latest):
            journal = {e.client_order_id: e for e in await io(store.journal, READ_LIMIT, since)}
        self.recent.clear()
        reverts = {}
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
            self.recent.append({**p, "ts_ms": r.ts_ms, "dry_run": bool(p.get("dry_run")), "outcome": outcome})
        self.recalled, self.told, self.since_ms, self.read_back = len(found), 0, since, True
        self.limits = sum(1 for r in found if r.kind != LOCK_ROW)
        return reverts

    def status(self) -> dict:
        """How many since ``since_ms`` (``read_back``: the start of the day read back, not of
        this runner), of them how many broke a pre-trade limit (``limits``; the rest broke a
        lock), and the latest, newest first."""
        return {"total": self.recalled + self.told, "limits": self.limits, "since_ms": self.since_ms,
                "read_back": self.read_back, "recent": [dict(r) for r in reversed(self.recent)]}


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


__all__ = ["RECALL_MS", "RECENT", "Shown", "revert_outcome"]
