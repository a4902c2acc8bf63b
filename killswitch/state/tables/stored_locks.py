"""Operator locks stored while no runner leads: their table, and the StateStore calls over it.

What it owns: the schema step that adds the table (``STORED_LOCK_TABLE``, migration 10 of
``migrations.py``) and :class:`StoredLockTables`, the mixin of :class:`~..sql.SqlStore` that
stores a request, lists the requests still waiting and marks one taken up. A request is one
row, written unfenced (the runner that stores it does not lead: that is why it stores it) and
marked once, fenced, by the leader that took it up (``applied_ms``, ``applied_fence`` and its
answer, ``result``). Waiting rows are read through an index on ``(applied_ms, seq)``: a
leader's look for new requests is one indexed read of the rows still NULL there.

Why a table of its own and not the audit chain: the chain is append-only and its payloads are
text, so "stored and not yet taken up" would be a scan of the chain for every look; the
request's ``lock_stored`` audit row is written beside the row (by the runner), and the row the
leader applies it with (``manual_lock``) names the request id.

Must not: decide whether a request is applied, refused or waits (the runner does), or hold a
transaction open between calls.
"""

from __future__ import annotations

import json
from typing import Optional

from ..sql_hooks import SqlHooks
from ..store import StoredLock

STORED_LOCK_TABLE = (
    # request: the whole request as JSON (scope, mode, reason, ttl_s, enforce, by), as stored
    """CREATE TABLE stored_lock (
         seq {id},
         request_id TEXT NOT NULL UNIQUE,
         scope TEXT NOT NULL,
         mode TEXT NOT NULL,
         request TEXT NOT NULL,
         stored_by TEXT NOT NULL,
         stored_ms BIGINT NOT NULL,
         applied_ms BIGINT,
         applied_fence BIGINT,
         result TEXT)""",
    "CREATE INDEX stored_lock_waiting ON stored_lock (applied_ms, seq)",
)

_COLS = "request_id, scope, mode, request, stored_by, stored_ms, applied_ms, applied_fence, result"


class StoredLockTables(SqlHooks):
    """The stored locks' calls of :class:`~..sql.SqlStore` (which supplies ``_tx``, ``_q`` and
    ``_check_fence``)."""

    def store_lock(self, request_id: str, request: dict, stored_by: str, ts_ms: int) -> StoredLock:
        text = json.dumps(request, separators=(",", ":"), sort_keys=True)
        with self._tx(write=True) as cur:
            self._q(cur, "INSERT INTO stored_lock (request_id, scope, mode, request, stored_by, stored_ms) "
                         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
                    (request_id, str(request["scope"]), str(request["mode"]), text, stored_by, int(ts_ms)))
            row = self._q(cur, f"SELECT {_COLS} FROM stored_lock WHERE request_id = ?", (request_id,)).fetchone()
        return _stored(row)

    def stored_locks(self, *, waiting: bool = True, limit: int = 1000) -> list[StoredLock]:
        with self._tx(write=False) as cur:
            if waiting:
                rows = self._q(cur, f"SELECT {_COLS} FROM stored_lock WHERE applied_ms IS NULL ORDER BY seq LIMIT ?",
                               (int(limit),)).fetchall()
            else:
                rows = list(reversed(self._q(cur, f"SELECT {_COLS} FROM stored_lock ORDER BY seq DESC LIMIT ?",
                                             (int(limit),)).fetchall()))
        return [_stored(r) for r in rows]

    def stored_lock_taken(self, request_id: str, fence: int, ts_ms: int, result: str) -> bool:
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            n = self._q(cur, "UPDATE stored_lock SET applied_ms = ?, applied_fence = ?, result = ? "
                             "WHERE request_id = ? AND applied_ms IS NULL",
                        (int(ts_ms), int(fence), result, request_id)).rowcount
        return n == 1


def _stored(row: Optional[tuple]) -> StoredLock:
    if row is None:
        raise LookupError("the stored lock row just written is missing")
    return StoredLock(request_id=row[0], scope=row[1], mode=row[2], request=json.loads(row[3]), stored_by=row[4],
                      stored_ms=int(row[5]), applied_ms=None if row[6] is None else int(row[6]),
                      applied_fence=None if row[7] is None else int(row[7]), result=row[8])
