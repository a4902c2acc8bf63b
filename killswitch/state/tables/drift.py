"""The policy drift verdicts a checker posted about each runner: their table and the StateStore
calls over it.

What it owns: the schema steps that add the table (``POLICY_DRIFT_TABLE``, migration 11 of
``migrations.py``) and the digest of the graph each verdict was about (``POLICY_DRIFT_DIGEST``,
migration 18), and :class:`PolicyDriftTables`, the mixin of :class:`~..sql.SqlStore` that keeps
the latest verdict per runner (its holder name: each replica holds its own, as each runs its own
graph) and reads back, at a start or a takeover, the one a runner shows
(:meth:`~PolicyDriftTables.posted_policy_drift`): its own, else the latest posted to a runner of
its store (its shard: one schema each) about the graph it runs — a runner restarted under
another holder name (``host-pid``), a standby taking over. Written unfenced: a standby's verdict
is its own, and it is asked whether it runs what git holds as much as the leader is. The rows of
holders that were posted nothing for :data:`KEPT_MS` are dropped at the next post.

Must not: judge a verdict (the runner's API reads the body; ``ksctl drift`` makes it), or keep
more than one row per holder.
"""

from __future__ import annotations

import json
from typing import Optional

from ..sql_hooks import SqlHooks, upsert
from ..store import PostedDrift

KEPT_MS = 30 * 86_400_000  # a holder posted nothing for this long (a process long gone): its row goes

POLICY_DRIFT_TABLE = (
    # verdict: the checker's verdict as JSON (state, against, expected_revision, detail,
    # documents, checked_ms, by), as the runner took it
    """CREATE TABLE policy_drift (
         holder TEXT PRIMARY KEY,
         verdict TEXT NOT NULL,
         posted_ms BIGINT NOT NULL)""",
)
POLICY_DRIFT_DIGEST = (
    # the digest of the graph the runner ran when the verdict was posted: what another runner of
    # the store (a restart under another name, a standby taking over) takes it up by; NULL before
    "ALTER TABLE policy_drift ADD COLUMN digest TEXT",
)


class PolicyDriftTables(SqlHooks):
    """The drift verdicts' calls of :class:`~..sql.SqlStore` (which supplies ``_tx`` and ``_q``)."""

    def save_policy_drift(self, holder: str, verdict: dict, posted_ms: int, digest: Optional[str] = None) -> None:
        text = json.dumps(verdict, separators=(",", ":"), sort_keys=True)
        with self._tx(write=True) as cur:
            self._q(cur, upsert("policy_drift", "holder, verdict, posted_ms, digest", "holder"),
                    (holder, text, int(posted_ms), digest))
            self._q(cur, "DELETE FROM policy_drift WHERE posted_ms < ? AND holder <> ?",
                    (int(posted_ms) - KEPT_MS, holder))

    def posted_policy_drift(self, holder: str, digest: str) -> Optional[PostedDrift]:
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT holder, verdict, posted_ms, digest FROM policy_drift WHERE holder = ?",
                          (holder,)).fetchone()
            if row is None:
                row = self._q(cur, "SELECT holder, verdict, posted_ms, digest FROM policy_drift WHERE digest = ? "
                                   "ORDER BY posted_ms DESC, holder LIMIT 1", (digest,)).fetchone()
        return None if row is None else PostedDrift(row[0], json.loads(row[1]), int(row[2]), row[3])

    def policy_drift(self, holder: str) -> Optional[dict]:
        row = self._fetchone("SELECT verdict FROM policy_drift WHERE holder = ?", (holder,))
        return None if row is None else json.loads(row[0])
