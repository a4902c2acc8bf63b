"""The overrides of the pre-trade limits, stored: the table and the StateStore calls over it.

What it owns: the schema step that adds the table (``OVERRIDE_TABLE``, migration 15 of
``migrations.py``) and :class:`OverrideTables`, the mixin of :class:`~..sql.SqlStore` that stores
and reads them. An override is one row, its document (:meth:`killswitch.overrides.Override.to_json`)
replaced as it is approved and ended. Every write is fenced and carries its audit row in the
same transaction (:meth:`~.audit.AuditTables.audit_many`'s ``also``): a crash between an
approval and its audit row cannot happen, the two are stored together or not at all, so a
runner that takes over neither loses an approval nor counts it twice.

Must not: decide what an override may do (``killswitch.overrides`` and the runner do), or hold a
transaction open between calls.
"""

from __future__ import annotations

import json
from typing import Optional

from ...overrides import Override
from ..sql_hooks import Cursor, SqlHooks, upsert

OVERRIDE_TABLE = (
    """CREATE TABLE limit_override (
         id TEXT PRIMARY KEY,
         scope TEXT NOT NULL,
         doc TEXT NOT NULL,
         expires_ms BIGINT NOT NULL,
         ended_ms BIGINT,
         updated_ms BIGINT NOT NULL,
         fence BIGINT NOT NULL)""",
    "CREATE INDEX limit_override_expires ON limit_override (expires_ms)",
)


class OverrideTables(SqlHooks):
    """The override calls of :class:`~..sql.SqlStore` (which supplies ``_tx``, ``_q``, the fence
    check and the audit chain)."""

    def save_override(self, override: Override, fence: int, audit: tuple[str, int, dict]) -> int:
        doc = json.dumps(override.to_json(), separators=(",", ":"), sort_keys=True)
        row = (override.id, override.scope, doc, int(override.expires_ms), override.ended_ms, int(audit[1]), int(fence))

        def write(cur: Cursor) -> None:
            self._q(cur, upsert("limit_override", "id, scope, doc, expires_ms, ended_ms, updated_ms, fence", "id"), row)

        return self.audit_many([audit], fence=fence, also=write)[0]

    def overrides(self, since_ms: Optional[int] = None, limit: int = 1000) -> list[Override]:
        since = -(2**62) if since_ms is None else int(since_ms)
        rows = self._fetchall("SELECT doc FROM limit_override WHERE (ended_ms IS NULL AND expires_ms >= ?) "
                              "OR ended_ms >= ? OR expires_ms >= ? ORDER BY updated_ms DESC, id DESC LIMIT ?",
                              (since, since, since, int(limit)))
        return [Override.from_json(json.loads(r[0])) for r in reversed(rows)]
