"""The silences and acknowledgements tables, and the StateStore calls over them.

What it owns: the schema steps that add them (``SILENCE_TABLES``, migration 8 of ``migrations.py``; the
incident a silence was made from, ``SILENCE_INCIDENT``, migration 9; the highest stage it
matched, migration 13; the incidents it matched, migration 14) and
:class:`SilenceTables`, the mixin of :class:`~..sql.SqlStore` that stores and reads them. A
silence is one row, replaced in place when it is expired (its end moved, who expired it); an
acknowledgement is appended, never replaced: the latest of an incident is who has it now, the
earlier ones are its history (a hand-over). Both writes are fenced: only the leader records what
an operator said, in the same transaction as the fence check.

Must not: decide what a silence matches or whether one may be added (``killswitch.silences`` and
the runner do), or hold a transaction open between calls.
"""

from __future__ import annotations

import json
from typing import Optional

from ...silences import Acknowledgement, Silence
from ..sql_hooks import SqlHooks, upsert

SILENCE_TABLES = (
    # matchers as JSON text ([{"name", "op", "value"}]): read back through killswitch.silences
    """CREATE TABLE silence (
         id TEXT PRIMARY KEY,
         matchers TEXT NOT NULL,
         starts_ms BIGINT NOT NULL,
         ends_ms BIGINT NOT NULL,
         author TEXT NOT NULL,
         comment TEXT NOT NULL,
         created_ms BIGINT NOT NULL,
         updated_ms BIGINT NOT NULL,
         expired_by TEXT,
         fence BIGINT NOT NULL)""",
    "CREATE INDEX silence_ends ON silence (ends_ms)",
    """CREATE TABLE incident_ack (
         seq {id},
         incident TEXT NOT NULL,
         author TEXT NOT NULL,
         ts_ms BIGINT NOT NULL,
         comment TEXT NOT NULL,
         fence BIGINT NOT NULL)""",
    "CREATE INDEX incident_ack_incident ON incident_ack (incident, seq)",
)

# migration 9: the incident a silence was made from, and whether it ends with it (0/1: the same
# column type and default on both backends)
SILENCE_INCIDENT = (
    "ALTER TABLE silence ADD COLUMN incident TEXT",
    "ALTER TABLE silence ADD COLUMN tied INTEGER NOT NULL DEFAULT 0",
)

# the highest stage of the open incidents a silence matched when made: an escalation past it pages
SILENCE_LEVEL = ("ALTER TABLE silence ADD COLUMN up_to_level INTEGER",)

# the open incidents a silence matched when made, as JSON text (["policy/scope/L1/e1"]): a stage
# entry of any other incident pages through it; NULL: every page it matches (its ``up_to_level`` aside)
SILENCE_SEEN = ("ALTER TABLE silence ADD COLUMN incidents TEXT",)

_SILENCE_COLS = ("id, matchers, starts_ms, ends_ms, author, comment, created_ms, updated_ms, expired_by, incident, "
                 "tied, up_to_level, incidents")


class SilenceTables(SqlHooks):
    """The silence and acknowledgement calls of :class:`~..sql.SqlStore` (which supplies ``_tx``,
    ``_q`` and ``_check_fence``)."""

    def save_silence(self, silence: Silence, fence: int) -> None:
        row = (silence.id, json.dumps([m.to_json() for m in silence.matchers], separators=(",", ":")),
               int(silence.starts_ms), int(silence.ends_ms), silence.author, silence.comment,
               int(silence.created_ms), int(silence.updated_ms), silence.expired_by, silence.incident,
               int(silence.tied), silence.up_to_level,
               json.dumps(list(silence.incidents)) if silence.incidents is not None else None, int(fence))
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, upsert("silence", f"{_SILENCE_COLS}, fence", "id"), row)

    def silences(self, ending_after_ms: Optional[int] = None, limit: int = 1000) -> list[Silence]:
        rows = self._fetchall(f"SELECT {_SILENCE_COLS} FROM silence WHERE ends_ms > ? "
                              "ORDER BY created_ms DESC, id DESC LIMIT ?",
                              (-(2**62) if ending_after_ms is None else int(ending_after_ms), int(limit)))
        return [_silence(r) for r in reversed(rows)]

    def record_ack(self, ack: Acknowledgement, fence: int) -> None:
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, "INSERT INTO incident_ack (incident, author, ts_ms, comment, fence) VALUES (?, ?, ?, ?, ?)",
                    (ack.incident, ack.author, int(ack.ts_ms), ack.comment, int(fence)))

    def acks(self, since_ms: Optional[int] = None, limit: int = 1000) -> list[Acknowledgement]:
        rows = self._fetchall("SELECT incident, author, ts_ms, comment FROM incident_ack WHERE ts_ms >= ? "
                              "ORDER BY seq DESC LIMIT ?",
                              (-(2**62) if since_ms is None else int(since_ms), int(limit)))
        return [Acknowledgement(*r) for r in reversed(rows)]


def _silence(row: tuple) -> Silence:
    doc = {"id": row[0], "matchers": json.loads(row[1]), "starts_ms": row[2], "ends_ms": row[3], "author": row[4],
           "comment": row[5], "created_ms": row[6], "updated_ms": row[7], "expired_by": row[8], "incident": row[9],
           "tied": bool(row[10]), "up_to_level": row[11],
           "incidents": json.loads(row[12]) if row[12] is not None else None}
    return Silence.from_json(doc)
