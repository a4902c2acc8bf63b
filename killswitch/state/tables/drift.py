"""The policy drift verdicts a checker posted about each runner: their table and the StateStore
calls over it.

What it owns: the schema step that adds the table (``POLICY_DRIFT_TABLE``, migration 11 of
``migrations.py``) and :class:`PolicyDriftTables`, the mixin of :class:`~..sql.SqlStore` that
keeps the latest verdict per runner (its holder name: each replica holds its own, as each runs
its own graph) and reads it back at start. Written unfenced: a standby's verdict is its own, and
it is asked whether it runs what git holds as much as the leader is.

Must not: judge a verdict (the runner's API reads the body; ``ksctl drift`` makes it), or keep
more than one row per holder.
"""

from __future__ import annotations

import json
from typing import Optional

from ..sql_hooks import SqlHooks

POLICY_DRIFT_TABLE = (
    # verdict: the checker's verdict as JSON (state, against, expected_revision, detail,
    # documents, checked_ms, by), as the runner took it
    """CREATE TABLE policy_drift (
         holder TEXT PRIMARY KEY,
         verdict TEXT NOT NULL,
         posted_ms BIGINT NOT NULL)""",
)


class PolicyDriftTables(SqlHooks):
    """The drift verdicts' calls of :class:`~..sql.SqlStore` (which supplies ``_tx`` and ``_q``)."""

    def save_policy_drift(self, holder: str, verdict: dict, posted_ms: int) -> None:
        """Keep ``verdict`` as ``holder``'s latest, replacing the one before. Unfenced."""
        text = json.dumps(verdict, separators=(",", ":"), sort_keys=True)
        with self._tx(write=True) as cur:
            self._q(cur, "INSERT INTO policy_drift (holder, verdict, posted_ms) VALUES (?, ?, ?) "
                         "ON CONFLICT (holder) DO UPDATE SET verdict = excluded.verdict, "
                         "posted_ms = excluded.posted_ms", (holder, text, int(posted_ms)))

    def policy_drift(self, holder: str) -> Optional[dict]:
        """``holder``'s latest verdict as it was saved, or None."""
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT verdict FROM policy_drift WHERE holder = ?", (holder,)).fetchone()
        return None if row is None else json.loads(row[0])
