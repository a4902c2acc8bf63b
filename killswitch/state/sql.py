"""The SQL both backends share: :class:`SqlStore`, every StateStore method over the schema.

A backend subclasses :class:`SqlStore` and supplies a connection, transactions (``_tx``), the
column types of its dialect, how it spells a row lock, and a lock that serializes migrations.
Queries here use ``?`` placeholders; a backend that wants another style rewrites them in
``_sql``. The SQL stays in what SQLite (>= 3.24, for upserts) and PostgreSQL (>= 10, for
identity columns) both speak — ``ON CONFLICT``, no JSON operators — so one statement serves both.

What it owns: the transaction discipline every call follows (one transaction per call over the
store's connection, the fence checked in it: :meth:`SqlStore._check_fence`), the schema's
migration, the lease, the engine state with its PnL samples, the charted signals, heartbeats,
approvals, the last good policies and the runbooks. The schema's steps are :mod:`.migrations`';
the tables of the order journal (:mod:`.tables.journal`), of the audit chain (:mod:`.tables.audit`),
of silences (:mod:`.tables.silences`), of the operator locks stored while no runner leads
(:mod:`.tables.stored_locks`), of the policy drift verdicts (:mod:`.tables.drift`) and of the audit
sinks' cursors (:mod:`.tables.audit_sink`) have their
calls in mixins of :class:`SqlStore`, which call the hooks it defines (:class:`~.sql_hooks.SqlHooks`) and define none.

Must not: hold a transaction open between calls, or retry a write whose outcome is unknown
(callers retry idempotent writes themselves).
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager
from typing import Any, Iterable, Mapping, Optional, Sequence

from .migrations import MIGRATIONS, Migration
from .sql_hooks import Cursor, now_ms, upsert
from .store import (
    Approval,
    AuditKey,
    FencedError,
    Lease,
    PnlSampleRow,
    PolicyBundle,
    RunbookRecord,
    SchemaTooNewError,
    SignalSampleRow,
    StoreError,
)
from .tables.audit import AuditTables
from .tables.audit_sink import AuditSinkTables
from .tables.drift import PolicyDriftTables
from .tables.journal import JournalTables
from .tables.overrides import OverrideTables
from .tables.signins import SigninTables
from .tables.silences import SilenceTables
from .tables.stored_locks import StoredLockTables
from .urls import scrub

# the engine state's one row, replaced (a store's leader saves it, and the firm lease holder the firm's)
SAVE_ENGINE_STATE = upsert("engine_state", "id, doc, graph_digest, fence, saved_ms", "id", values="1, ?, ?, ?, ?")
# a source's beat, kept only when it is later than the one stored
_SAVE_HEARTBEAT = upsert("heartbeat", "source, ts_ms", "source", where="excluded.ts_ms > heartbeat.ts_ms")


class SqlStore(JournalTables, AuditTables, SilenceTables, StoredLockTables, PolicyDriftTables, OverrideTables,
               AuditSinkTables, SigninTables):
    """StateStore over a DB-API connection; subclasses provide the dialect (see module doc).

    One short method per StateStore call, each its own transaction over the same connection,
    ``_tx`` and fence check; the journal's, the audit chain's and the silences' calls come from
    their mixins, over the same hooks.
    """

    url: str
    types: dict[str, str]  # the {id} {float} {bool} of the migration templates
    for_update = " FOR UPDATE"  # how the dialect locks a row it read ("" where the transaction locks all)
    for_share = " FOR SHARE"
    migrations: tuple[Migration, ...] = MIGRATIONS

    def __init__(self) -> None:
        # One connection per store; calls from several threads take turns on it.
        self._lock = threading.RLock()
        self.audit_key: Optional[AuditKey] = None

    # --- dialect hooks -----------------------------------------------------------------------

    def _tx(self, write: bool) -> AbstractContextManager[Cursor]:
        """A transaction yielding a cursor; a write one takes the locks a write needs up front."""
        raise NotImplementedError

    def _lock_migrations(self, cur: Cursor) -> None:
        """Keep two processes from migrating at once (SQLite's write transaction already does)."""

    def _sql(self, query: str) -> str:
        return query

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "SqlStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _q(self, cur: Cursor, query: str, params: Iterable[Any] = ()) -> Cursor:
        cur.execute(self._sql(query), tuple(params))
        return cur

    # --- migrations ---------------------------------------------------------------------------

    def migrate(self) -> int:
        latest = self.migrations[-1].version
        with self._tx(write=True) as cur:
            self._lock_migrations(cur)
            self._q(cur, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                         "description TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
            current = self._q(cur, "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > latest:
                raise SchemaTooNewError(f"{self.url}: schema version {current} is newer than this killswitch "
                                        f"knows ({latest}); upgrade killswitch, do not downgrade the database")
            for m in self.migrations:
                if m.version > current:
                    for statement in m.statements:
                        self._q(cur, statement.format(**self.types))
                    self._q(cur, "INSERT INTO schema_version (version, description, applied_ms) VALUES (?, ?, ?)",
                            (m.version, m.description, now_ms()))
        return latest

    def schema_version(self) -> int:
        return self._fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0]

    # --- fencing ------------------------------------------------------------------------------

    def _check_fence(self, cur: Cursor, fence: int) -> None:
        # A shared lock on the lease row: writes of the same leader run side by side, but a
        # new leader's acquire_lease waits for them, and they wait for it, so no write with
        # an old token can commit after a newer token was handed out.
        current = self._q(cur, "SELECT fence FROM lease WHERE id = 1" + self.for_share).fetchone()[0]
        if fence != current:
            raise FencedError(fence, current)

    def acquire_lease(self, holder: str, ttl_ms: int, now_ms: int) -> Optional[int]:
        if not holder or ttl_ms <= 0:
            raise ValueError("a lease needs a holder and a positive ttl")
        # A look first, without a lock: a standby facing a valid lease of another's answers at
        # once and never holds the row its holder's renewal must lock (a standby's process
        # starved between the locking read and its commit would make the leader's term lapse).
        # The lease thread reads first itself; the tick-driven lease and the firm lease do not.
        seen = self.lease()
        if seen.holder != holder and seen.valid_at(now_ms):
            return None
        with self._tx(write=True) as cur:
            held_by, expires, fence = self._q(
                cur, "SELECT holder, expires_ms, fence FROM lease WHERE id = 1" + self.for_update).fetchone()
            valid = held_by is not None and expires > now_ms
            if valid and held_by != holder:
                return None
            # Renewing a valid lease keeps the token; any change of hands (even back to the
            # same holder after its lease ran out) issues a higher one.
            token = fence if valid else fence + 1
            self._q(cur, "UPDATE lease SET holder = ?, expires_ms = ?, fence = ?, changed_ms = ? WHERE id = 1",
                    (holder, now_ms + ttl_ms, token, now_ms))
            return token

    def release_lease(self, holder: str) -> bool:
        # Releasing also raises the token: the holder's writes after its release are refused
        # instead of racing whoever acquires next.
        with self._tx(write=True) as cur:
            n = self._q(cur, "UPDATE lease SET holder = NULL, expires_ms = 0, fence = fence + 1 "
                             "WHERE id = 1 AND holder = ?", (holder,)).rowcount
            return n == 1

    def current_fence(self) -> int:
        return self.lease().fence

    def lease(self) -> Lease:
        return Lease(*self._fetchone("SELECT holder, expires_ms, fence FROM lease WHERE id = 1"))

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> "SqlStore":
        """Another store on the same database with a connection of its own, already migrated:
        the lease thread's, so that a renewal never waits behind the runner's calls on this one.
        ``lock_timeout_ms`` bounds how long its statements wait for a lock held by someone else
        (a renewal that waits longer is better retried than late)."""
        raise NotImplementedError

    # --- engine state -------------------------------------------------------------------------

    def load_engine_state(self) -> Optional[dict]:
        row = self._fetchone("SELECT doc FROM engine_state WHERE id = 1")
        return None if row is None else json.loads(row[0])

    def load_engine_state_and_pnl(self) -> tuple[Optional[dict], list[PnlSampleRow]]:
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT doc FROM engine_state WHERE id = 1").fetchone()
            samples = self._q(cur, "SELECT window_ms, account, ts_ms, keys, vals FROM pnl_sample "
                                   "ORDER BY window_ms, account, ts_ms").fetchall()
        doc = None if row is None else json.loads(row[0])
        return doc, [PnlSampleRow(w, a, ts, json.loads(k), json.loads(v)) for w, a, ts, k, v in samples]

    def save_engine_state(self, doc: dict, graph_digest: str, fence: int, *,
                          pnl_added: Sequence[PnlSampleRow] = (),
                          pnl_kept: Sequence[tuple[int, str, Optional[int]]] = ()) -> None:
        text = json.dumps(doc, separators=(",", ":"))  # float repr round-trips exactly
        added = [(r.window_ms, r.account, r.ts_ms,
                  r.keys if isinstance(r.keys, str) else json.dumps(r.keys, separators=(",", ":")),
                  json.dumps(r.values, separators=(",", ":"))) for r in pnl_added]
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, SAVE_ENGINE_STATE, (text, graph_digest, fence, now_ms()))
            for window_ms, account, keep_from in pnl_kept:
                if keep_from is None:
                    self._q(cur, "DELETE FROM pnl_sample WHERE window_ms = ? AND account = ?", (window_ms, account))
                else:
                    self._q(cur, "DELETE FROM pnl_sample WHERE window_ms = ? AND account = ? AND ts_ms < ?",
                            (window_ms, account, keep_from))
            if added:
                # an upsert: a save whose commit was lost on the wire is simply saved again
                cur.executemany(self._sql(upsert("pnl_sample", "window_ms, account, ts_ms, keys, vals",
                                                 "window_ms, account, ts_ms")), added)

    # --- the charted signals --------------------------------------------------------------------

    def save_signal_samples(self, rows: Sequence[SignalSampleRow], fence: int, *,
                            keep_from: Optional[int] = None) -> None:
        added = [(r.policy, r.scope, r.ts_ms, json.dumps(r.values, separators=(",", ":"), allow_nan=False))
                 for r in rows]
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            if keep_from is not None:
                self._q(cur, "DELETE FROM signal_sample WHERE ts_ms < ?", (int(keep_from),))
            if added:
                cur.executemany(self._sql(upsert("signal_sample", "policy, scope, ts_ms, vals",
                                                 "policy, scope, ts_ms")), added)

    def signal_samples(self, policy: str, scope: str, since_ms: int,
                       until_ms: Optional[int] = None) -> list[SignalSampleRow]:
        query = "SELECT ts_ms, vals FROM signal_sample WHERE policy = ? AND scope = ? AND ts_ms >= ?"
        params: list[Any] = [policy, scope, int(since_ms)]
        if until_ms is not None:
            query += " AND ts_ms < ?"
            params.append(int(until_ms))
        rows = self._fetchall(query + " ORDER BY ts_ms", params)
        return [SignalSampleRow(policy, scope, ts, json.loads(v)) for ts, v in rows]

    # --- heartbeats received by any replica -----------------------------------------------------

    def record_heartbeat(self, source: str, ts_ms: int) -> None:
        with self._tx(write=True) as cur:
            self._q(cur, _SAVE_HEARTBEAT, (source, int(ts_ms)))

    def record_heartbeats(self, beats: Mapping[str, int]) -> None:
        if not beats:
            return
        with self._tx(write=True) as cur:
            cur.executemany(self._sql(_SAVE_HEARTBEAT), [(source, int(ts)) for source, ts in sorted(beats.items())])

    def heartbeats(self) -> dict[str, int]:
        return dict(self._fetchall("SELECT source, ts_ms FROM heartbeat ORDER BY source"))

    # --- order journal ------------------------------------------------------------------------

    # --- approvals ----------------------------------------------------------------------------

    def record_approval(self, scope_key: str, level: int, approver: str, reason: str, ts: int) -> bool:
        with self._tx(write=True) as cur:
            n = self._q(cur, "INSERT INTO approval (scope_key, level, approver, reason, ts_ms) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (scope_key, level, approver) DO NOTHING",
                        (scope_key, level, approver, reason, ts)).rowcount
            return n == 1

    def withdraw_approval(self, scope_key: str, level: int, approver: str) -> bool:
        with self._tx(write=True) as cur:
            return self._q(cur, "DELETE FROM approval WHERE scope_key = ? AND level = ? AND approver = ?",
                           (scope_key, level, approver)).rowcount == 1

    def approvals(self, scope_key: str, level: int) -> list[Approval]:
        rows = self._fetchall("SELECT scope_key, level, approver, reason, ts_ms FROM approval "
                              "WHERE scope_key = ? AND level = ? ORDER BY ts_ms, approver",
                              (scope_key, level))
        return [Approval(*r) for r in rows]

    def approvals_between(self, since_ms: int, until_ms: int, limit: int = 100_000) -> list[Approval]:
        rows = self._fetchall("SELECT scope_key, level, approver, reason, ts_ms FROM approval "
                              "WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, scope_key, level, approver LIMIT ?",
                              (int(since_ms), int(until_ms), int(limit)))
        return [Approval(*r) for r in rows]

    # --- the last good policies -------------------------------------------------------------------

    def save_policy_bundle(self, graph_digest: str, revision: Optional[str], sources: list[tuple[str, str]],
                           fence: int) -> None:
        text = json.dumps([[name, body] for name, body in sources], separators=(",", ":"))
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, upsert("policy_bundle", "id, graph_digest, revision, sources, fence, saved_ms", "id",
                                values="1, ?, ?, ?, ?, ?"), (graph_digest, revision, text, fence, now_ms()))

    def policy_bundle(self) -> Optional[PolicyBundle]:
        row = self._fetchone("SELECT graph_digest, revision, sources, saved_ms FROM policy_bundle WHERE id = 1")
        if row is None:
            return None
        return PolicyBundle(row[0], row[1], [(n, b) for n, b in json.loads(row[2])], row[3])

    # --- runbooks -----------------------------------------------------------------------------

    def save_runbook(self, record: RunbookRecord, *, fence: Optional[int] = None) -> None:
        json.loads(record.data_json)  # refuse data nobody could render again, before it is stored
        row = (record.incident, record.policy, record.scope, int(record.level), int(record.created_ms),
               record.graph_digest, record.revision, record.template, record.markdown, record.html, record.data_json)
        with self._tx(write=True) as cur:
            if fence is not None:
                self._check_fence(cur, fence)
            self._q(cur, upsert("runbook", _RUNBOOK_COLS, "incident"), row)

    def runbook(self, incident: str) -> Optional[RunbookRecord]:
        row = self._fetchone(f"SELECT {_RUNBOOK_COLS} FROM runbook WHERE incident = ?", (incident,))
        return None if row is None else RunbookRecord(*row)

    def runbooks(self, since_ms: Optional[int] = None, until_ms: Optional[int] = None,
                 limit: int = 100) -> list[RunbookRecord]:
        rows = self._fetchall(f"SELECT {_RUNBOOK_COLS} FROM runbook WHERE created_ms >= ? AND created_ms < ? "
                              "ORDER BY created_ms DESC, incident DESC LIMIT ?",
                              (since_ms if since_ms is not None else -(2**62),
                               until_ms if until_ms is not None else 2**62, int(limit)))
        return [RunbookRecord(*r) for r in reversed(rows)]


_RUNBOOK_COLS = ("incident, policy, scope, level, created_ms, graph_digest, revision, template, markdown, html, "
                 "data")


def wrap_error(url: str, exc: BaseException, secrets: Iterable[str] = ()) -> StoreError:
    """A driver error as a StoreError naming the store, with any secret scrubbed from its text."""
    return StoreError(f"{url}: {type(exc).__name__}: {scrub(str(exc), list(secrets))}")
