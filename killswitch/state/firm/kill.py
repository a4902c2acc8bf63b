"""The firm-wide kill's tables: each shard's report per account, and the release's approvals.

What it owns (a mixin of :class:`~.FirmStore`, its SQL only; version 4 of the firm's
migrations):

* ``kill_report`` — one row per kill and account (:class:`~killswitch.firm.kill.KillReport`),
  written by the account's shard's leader, **fenced by the shard's own token** (as its facts);
  a time once written is kept (``COALESCE``): a kill taken up again after a crash never moves
  the time an account was first locked;
* ``kill_approval`` — the approvals of a kill's release, one per approver (the key refuses the
  same person twice); the approval that makes :data:`~killswitch.firm.kill.APPROVALS_NEEDED`
  writes the ``kill_release`` directive in the same transaction, fenced by the approving shard's
  token, and notifies it at commit.

Must not: decide anything (the pure :mod:`killswitch.firm.kill` and the runner do).
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from ...firm.directives import KILL, KILL_RELEASE, Directive
from ...firm.kill import APPROVALS_NEEDED, DUPLICATE_APPROVER, NO_KILL, KillReport
from ..migrations import Migration
from ..sql_hooks import SqlHooks

KILL_TABLES = (
    Migration(4, "the firm-wide kill's reports and release approvals", (
        """CREATE TABLE kill_report (
             directive_id BIGINT NOT NULL, shard TEXT NOT NULL, account TEXT NOT NULL,
             locked_ms BIGINT, resting_ms BIGINT, revoked_ms BIGINT, resting TEXT NOT NULL, revoke TEXT NOT NULL,
             out_of_reach BOOLEAN NOT NULL, released_ms BIGINT, fence BIGINT NOT NULL, ts_ms BIGINT NOT NULL,
             PRIMARY KEY (directive_id, account))""",
        """CREATE TABLE kill_approval (
             directive_id BIGINT NOT NULL, approver TEXT NOT NULL, reason TEXT NOT NULL, shard TEXT NOT NULL,
             ts_ms BIGINT NOT NULL, PRIMARY KEY (directive_id, approver))""",
    )),
)

_COLUMNS = ("directive_id, shard, account, locked_ms, resting_ms, revoked_ms, resting, revoke, out_of_reach, "
            "released_ms, ts_ms")


def _report(r: Any) -> KillReport:
    def ms(v: Any) -> Optional[int]:
        return None if v is None else int(v)

    return KillReport(int(r[0]), r[1], r[2], ms(r[3]), ms(r[4]), ms(r[5]), r[6], r[7], bool(r[8]), ms(r[9]),
                      int(r[10]))


class FirmKillTables(SqlHooks):
    """See the module doc. Mixed into :class:`~.FirmStore` (``_tx``, ``_q``, ``_shard_fence``, ``_insert``)."""

    def report_kill(self, shard_schema: str, fence: int, reports: Sequence[KillReport]) -> int:
        """Upsert ``reports`` (one shard's) if ``fence`` is that shard's current token: the rows
        written, or 0 when it is not (nothing written)."""
        with self._tx(write=True) as cur:
            if self._shard_fence(cur, shard_schema, lock=True) != fence:  # type: ignore[attr-defined]
                return 0
            for r in reports:
                self._q(cur, f"INSERT INTO kill_report ({_COLUMNS}, fence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                             "ON CONFLICT (directive_id, account) DO UPDATE SET shard = excluded.shard, "
                             "locked_ms = COALESCE(kill_report.locked_ms, excluded.locked_ms), "
                             "resting_ms = COALESCE(kill_report.resting_ms, excluded.resting_ms), "
                             "revoked_ms = COALESCE(kill_report.revoked_ms, excluded.revoked_ms), "
                             "resting = excluded.resting, revoke = excluded.revoke, "
                             "out_of_reach = kill_report.out_of_reach OR excluded.out_of_reach, "
                             "released_ms = COALESCE(kill_report.released_ms, excluded.released_ms), "
                             "fence = excluded.fence, ts_ms = excluded.ts_ms",
                        (r.directive_id, r.shard, r.account, r.locked_ms, r.resting_ms, r.revoked_ms, r.resting,
                         r.revoke, r.out_of_reach, r.released_ms, r.ts_ms, fence))
            return len(reports)

    def kill_reports(self, directive_id: int, shard: Optional[str] = None) -> list[KillReport]:
        rows = self._fetchall(f"SELECT {_COLUMNS} FROM kill_report WHERE directive_id = ?"
                              + (" AND shard = ?" if shard else "") + " ORDER BY account",
                              (directive_id, shard) if shard else (directive_id,))
        return [_report(r) for r in rows]

    def kills(self) -> tuple[Optional[Directive], Optional[Directive]]:
        """The newest kill, and its release when it has one."""
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT id, decision_id, kind, scope, payload, created_ms, actor FROM directive "
                               "WHERE kind = ? ORDER BY id DESC LIMIT 1", (KILL,)).fetchone()
            if row is None:
                return None, None
            kill = Directive(row[2], row[3], json.loads(row[4]), row[1], row[6], int(row[0]), int(row[5]))
            rel = self._q(cur, "SELECT id, decision_id, kind, scope, payload, created_ms, actor FROM directive "
                               "WHERE kind = ? AND id > ? ORDER BY id LIMIT 1", (KILL_RELEASE, kill.id)).fetchone()
        release = None if rel is None else Directive(rel[2], rel[3], json.loads(rel[4]), rel[1], rel[6], int(rel[0]),
                                                     int(rel[5]))
        return kill, release

    def kill_approvals(self, directive_id: int) -> list[dict]:
        rows = self._fetchall("SELECT approver, reason, shard, ts_ms FROM kill_approval WHERE directive_id = ? "
                              "ORDER BY ts_ms, approver", (directive_id,))
        return [{"approver": r[0], "reason": r[1], "shard": r[2], "ts_ms": int(r[3])} for r in rows]

    def approve_kill_release(self, shard: str, shard_schema: str, fence: int, approver: str, reason: str,
                             now: int) -> tuple[bool, str, Optional[int]]:
        """``approver``'s approval of the release of the kill in force, sent to ``shard`` (fenced
        by its token: :class:`~..store.FencedError`): (taken, why, the release directive's id once the
        last approval wrote it). Refused ``NO_KILL`` and ``DUPLICATE_APPROVER``."""
        with self._tx(write=True) as cur:
            self._check_shard_fence(cur, shard_schema, fence)  # type: ignore[attr-defined]
            # one approval at a time: two approvers at once cannot both be the second
            self._q(cur, "SELECT pg_advisory_xact_lock(hashtext('firm_kill_release'))")
            row = self._q(cur, "SELECT id, payload FROM directive WHERE kind = ? ORDER BY id DESC LIMIT 1",
                          (KILL,)).fetchone()
            released = row is not None and self._q(
                cur, "SELECT 1 FROM directive WHERE kind = ? AND id > ?", (KILL_RELEASE, row[0])).fetchone()
            if row is None or released:
                return False, f"{NO_KILL}: no firm-wide kill is in force; nothing to release", None
            kill_id = int(row[0])
            had = [r[0] for r in self._q(cur, "SELECT approver FROM kill_approval WHERE directive_id = ? "
                                              "ORDER BY ts_ms, approver", (kill_id,)).fetchall()]
            if approver in had:
                return False, (f"{DUPLICATE_APPROVER}: {approver} already approved the release of kill {kill_id} "
                               f"({len(had)}/{APPROVALS_NEEDED}); another approver must"), None
            self._q(cur, "INSERT INTO kill_approval (directive_id, approver, reason, shard, ts_ms) "
                         "VALUES (?, ?, ?, ?, ?)", (kill_id, approver, reason, shard, now))
            approvers = [*had, approver]
            if len(approvers) < APPROVALS_NEEDED:
                return True, (f"APPROVAL_RECORDED: {len(approvers)}/{APPROVALS_NEEDED} approvers="
                              f"{','.join(approvers)}; kill {kill_id} stays in force until another approver "
                              "approves"), None
            payload = json.loads(row[1])
            d = Directive(KILL_RELEASE, "global", {"kill": kill_id, "accounts": payload.get("accounts") or [],
                                                   "approvers": approvers, "reason": reason, "source": "operator"},
                          None, approver)
            did = self._insert(cur, d, fence, f"shard:{shard}", now)  # type: ignore[attr-defined]
            return True, (f"KILL_RELEASED: kill {kill_id} released by {','.join(approvers)} as directive {did}: "
                          "every shard lifts its lock and restores its bots' keys"), did

    def send_kill(self, shard: str, shard_schema: str, fence: int, kill: Directive, now: int) -> tuple[Optional[int],
                                                                                                        Optional[int]]:
        """Write ``kill`` for every shard, fenced by ``shard``'s token (:class:`~..store.FencedError`):
        (its id, None), or (None, the id of the kill in force) when one is (nothing written)."""
        with self._tx(write=True) as cur:
            self._check_shard_fence(cur, shard_schema, fence)  # type: ignore[attr-defined]
            self._q(cur, "SELECT pg_advisory_xact_lock(hashtext('firm_kill_release'))")
            row = self._q(cur, "SELECT id FROM directive WHERE kind = ? ORDER BY id DESC LIMIT 1", (KILL,)).fetchone()
            if row is not None and not self._q(cur, "SELECT 1 FROM directive WHERE kind = ? AND id > ?",
                                               (KILL_RELEASE, row[0])).fetchone():
                return None, int(row[0])
            return self._insert(cur, kill, fence, f"shard:{shard}", now), None  # type: ignore[attr-defined]
