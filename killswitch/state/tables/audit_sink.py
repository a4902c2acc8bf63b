"""Where each audit sink has got to in the chain: its cursor's table and the StateStore calls
over it, with the chain's rows read for shipping.

What it owns: the schema step that adds the table (``AUDIT_SINK_TABLE``, migration 16 of
``migrations.py``) and :class:`AuditSinkTables`, the mixin of :class:`~..sql.SqlStore` that keeps,
per configured sink (its name), the last seq the sink acknowledged (a TCP write completed, an
OTLP export answered with success), and reads the rows after it exactly as stored (the payload's
canonical text, the previous row's hash and the row's own), so that a receiver can hash them
again. The cursor is written fenced: a deposed leader that shipped meanwhile cannot move it.

Must not: decide what is sent, or move a cursor back (a save below the stored seq is ignored:
two shippers of one sink never undo each other's progress).
"""

from __future__ import annotations

from typing import Optional

from ..sql_hooks import SqlHooks, upsert
from ..store import ChainRow

AUDIT_SINK_TABLE = (
    # name: the sink's name (``ksctl run --audit-sink``'s ``name=``, or its URL without the query)
    """CREATE TABLE audit_sink_cursor (
         name TEXT PRIMARY KEY,
         seq BIGINT NOT NULL,
         fence BIGINT NOT NULL,
         saved_ms BIGINT NOT NULL)""",
)


class AuditSinkTables(SqlHooks):
    """The audit sinks' calls of :class:`~..sql.SqlStore` (which supplies ``_tx`` and ``_q``)."""

    def audit_sink_cursor(self, name: str) -> Optional[int]:
        row = self._fetchone("SELECT seq FROM audit_sink_cursor WHERE name = ?", (name,))
        return None if row is None else int(row[0])

    def save_audit_sink_cursor(self, name: str, seq: int, fence: int, ts_ms: int) -> None:
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, upsert("audit_sink_cursor", "name, seq, fence, saved_ms", "name",
                                where="audit_sink_cursor.seq < excluded.seq"), (name, int(seq), int(fence), int(ts_ms)))

    def chain_rows(self, after_seq: int, limit: int) -> list[ChainRow]:
        rows = self._fetchall("SELECT seq, kind, ts_ms, payload, prev_hash, hash FROM audit_log "
                              "WHERE seq > ? ORDER BY seq LIMIT ?", (int(after_seq), int(limit)))
        return [ChainRow(int(s), k, int(t), p, ph, h) for s, k, t, p, ph, h in rows]

    def chain_head_seq(self) -> int:
        row = self._fetchone("SELECT seq FROM audit_head WHERE id = 1")
        return 0 if row is None else int(row[0])
