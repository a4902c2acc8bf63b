"""The order journal's tables, and the StateStore calls over them.

What it owns: :class:`JournalTables`, the mixin of :class:`~..sql.SqlStore` that journals every
order intent before it is sent (``order_intent``, once per client order id: a second journaling
of one is not new) and appends every answer the venue gave (``order_result``, never updated),
and reads them back: the intents without a final result (what a restarted runner reconciles),
the latest, and a decision's. Every write is fenced, in the transaction of its fence check.

Must not: send, retry or decide anything about an order (the runner's executor does), or hold
a transaction open between calls.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Optional, Sequence

from ...orders import Fees, realized_pnl
from ..sql_hooks import SqlHooks, now_ms
from ..store import FINAL_STATUSES, ORDER_STATUSES, IntentRow, JournalEntry, UnknownIntentError

# a JournalEntry's fields, in order: the intent as journaled, then its latest result
_INTENT_COLS = ("i.client_order_id, i.decision_id, i.venue, i.account, i.symbol, i.side, i.position_side, i.amount, "
                "i.reduce_only, i.payload, i.entry_price, i.contract_size, i.seq, i.fence, i.created_ms, "
                "r.status, r.filled, r.avg_price, r.reason_code, r.detail, r.ts_ms, r.refusal, r.fees, r.realized_pnl")
_FEES = 22  # where the fees' JSON is in a row of _INTENT_COLS
_NAMES = [f.name for f in dataclasses.fields(JournalEntry)]
# Every intent with its latest result, if any.
_INTENTS = (f"SELECT {_INTENT_COLS} FROM order_intent i LEFT JOIN order_result r ON r.seq = "
            "(SELECT MAX(seq) FROM order_result WHERE client_order_id = i.client_order_id)")


_IN_BATCH = 500  # ids per IN (...) list: well under every backend's bound on parameters


def _entry(row: tuple) -> JournalEntry:
    fields = list(row)
    fields[8] = bool(fields[8])  # SQLite keeps booleans as 0/1
    fields[_FEES] = _fees_of(fields[_FEES])
    return JournalEntry(**dict(zip(_NAMES, fields)))


def _fees_text(fees: Optional[Fees]) -> Optional[str]:
    """``fees`` as stored: ``[[cost, currency], ...]`` (``[]``: none reported; NULL: not known)."""
    if fees is None:
        return None
    return json.dumps([[float(cost), None if currency is None else str(currency)] for cost, currency in fees])


def _fees_of(text: Optional[str]) -> Optional[Fees]:
    """The fees a row holds (:func:`_fees_text`); None (not known) for NULL, or for what no
    version wrote (never taken for "none reported")."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
        return tuple((float(cost), None if currency is None else str(currency)) for cost, currency in doc)
    except (ValueError, TypeError):
        return None


class JournalTables(SqlHooks):
    """The order journal's calls of :class:`~..sql.SqlStore` (see the module doc)."""

    def journal_intents(self, fence: int, intents: Sequence[IntentRow], *, ts_ms: Optional[int] = None
                        ) -> list[bool]:
        for it in intents:
            json.loads(it.payload_json)  # refuse a payload nobody could read back, before anything is durable
        if not intents:
            return []
        ts = now_ms() if ts_ms is None else ts_ms
        ids = [it.client_order_id for it in intents]
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            known: set[str] = set()
            for i in range(0, len(ids), _IN_BATCH):
                part = ids[i:i + _IN_BATCH]
                marks = ", ".join("?" * len(part))
                known.update(r[0] for r in self._q(
                    cur, f"SELECT client_order_id FROM order_intent WHERE client_order_id IN ({marks})", part))
            new: list[bool] = []
            rows = []
            for it in intents:
                fresh = it.client_order_id not in known
                new.append(fresh)
                if fresh:
                    known.add(it.client_order_id)  # a second copy in the batch is not new either
                    rows.append((it.client_order_id, fence, it.decision_id, it.venue, it.account, it.symbol, it.side,
                                 it.position_side, float(it.amount), bool(it.reduce_only), it.payload_json, ts,
                                 it.entry_price, it.contract_size))
            if rows:
                cur.executemany(self._sql(
                    "INSERT INTO order_intent (client_order_id, fence, decision_id, venue, account, symbol, side, "
                    "position_side, amount, reduce_only, payload, created_ms, entry_price, contract_size) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), rows)
        return new

    def journal_result(self, fence: int, client_order_id: str, status: str, filled: Optional[float],
                       avg_price: Optional[float], reason_code: Optional[str], detail: Optional[str], *,
                       ts_ms: Optional[int] = None, refusal: Optional[str] = None,
                       fees: Optional[Fees] = None) -> None:
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}; one of {sorted(ORDER_STATUSES)}")
        fees_json = _fees_text(fees)
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            intent = self._q(cur, "SELECT side, reduce_only, entry_price, contract_size FROM order_intent "
                                  "WHERE client_order_id = ?", (client_order_id,)).fetchone()
            if intent is None:
                raise UnknownIntentError(f"UNKNOWN_INTENT: no journaled intent {client_order_id!r}")
            side, reduce_only, entry, size = intent
            pnl = realized_pnl(side, bool(reduce_only), entry, size, filled, avg_price)
            self._q(cur, "INSERT INTO order_result (client_order_id, fence, status, final, filled, avg_price, "
                         "reason_code, detail, ts_ms, refusal, fees, realized_pnl) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (client_order_id, fence, status, status in FINAL_STATUSES, filled, avg_price, reason_code, detail,
                     now_ms() if ts_ms is None else ts_ms, refusal, fees_json, pnl))

    def pending_intents(self) -> list[JournalEntry]:
        rows = self._fetchall(_INTENTS + " WHERE NOT EXISTS (SELECT 1 FROM order_result f WHERE "
                                         "f.client_order_id = i.client_order_id AND f.final = ?) ORDER BY i.seq",
                              (True,))
        return [_entry(r) for r in rows]

    def journal(self, limit: int = 100, since: Optional[int] = None) -> list[JournalEntry]:
        rows = self._fetchall(_INTENTS + " WHERE i.created_ms >= ? ORDER BY i.seq DESC LIMIT ?",
                              (since if since is not None else -(2**62), int(limit)))
        return [_entry(r) for r in reversed(rows)]

    def journal_of(self, decision_id: str, since: int) -> list[JournalEntry]:
        n = len(decision_id)
        rows = self._fetchall(_INTENTS + " WHERE i.created_ms >= ? AND (i.decision_id = ? OR "
                                         "(SUBSTR(i.decision_id, 1, ?) = ? AND SUBSTR(i.decision_id, ?, 1) = '/')) "
                                         "ORDER BY i.seq",
                              (int(since), decision_id, n, decision_id, n + 1))
        return [_entry(r) for r in rows]
