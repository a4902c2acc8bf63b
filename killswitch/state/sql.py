"""The SQL both backends share: the versioned schema and every StateStore method over it.

A backend subclasses :class:`SqlStore` and supplies a connection, transactions (``_tx``), the
column types of its dialect, how it spells a row lock, and a lock that serializes migrations.
Queries here use ``?`` placeholders; a backend that wants another style rewrites them in
``_sql``. The SQL stays in what SQLite (>= 3.24, for upserts) and PostgreSQL (>= 10, for
identity columns) both speak — ``ON CONFLICT``, no JSON operators — so one statement serves both.

Must not: hold a transaction open between calls, or retry a write whose outcome is unknown
(callers retry idempotent writes themselves).

Size: about 800 lines, the schema's migrations and :class:`SqlStore` (see its reason); the audit
chain's hashing lives in :mod:`.audit_chain`, its verification in :mod:`.audit_verify`.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from .store import (
    FINAL_STATUSES,
    ORDER_STATUSES,
    Approval,
    AuditAnchor,
    AuditHead,
    AuditKey,
    AuditRow,
    AuditVerification,
    FencedError,
    IntentRow,
    JournalEntry,
    Lease,
    PnlSampleRow,
    PolicyBundle,
    SignalSampleRow,
    RunbookRecord,
    SchemaTooNewError,
    StoreError,
    UnknownIntentError,
    audit_hash_text,
    canonical_json,
)
from .audit_chain import GENESIS_HASH, HEAD_INVALID, KEY_ADOPTED, key_problem
from .audit_verify import ChainCheck
from .silences_sql import SILENCE_INCIDENT, SILENCE_TABLES, SilenceTables
from .urls import scrub


@dataclass(frozen=True)
class Migration:
    """One schema step. Statements are templates: ``{id}``, ``{float}``, ``{bool}`` are the
    dialect's auto-increment key, double and boolean column types."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "lease, engine state, order journal, approvals, audit chain", (
        # One row, created here, so that a row lock on it always has something to lock.
        """CREATE TABLE lease (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             holder TEXT,
             expires_ms BIGINT NOT NULL,
             fence BIGINT NOT NULL,
             changed_ms BIGINT)""",
        "INSERT INTO lease (id, holder, expires_ms, fence) VALUES (1, NULL, 0, 0)",
        # The document is TEXT, not jsonb: jsonb would rewrite numbers and lose float round trips.
        """CREATE TABLE engine_state (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             doc TEXT NOT NULL,
             graph_digest TEXT NOT NULL,
             fence BIGINT NOT NULL,
             saved_ms BIGINT NOT NULL)""",
        """CREATE TABLE order_intent (
             seq {id},
             client_order_id TEXT NOT NULL UNIQUE,
             fence BIGINT NOT NULL,
             decision_id TEXT NOT NULL,
             venue TEXT NOT NULL,
             account TEXT NOT NULL,
             symbol TEXT NOT NULL,
             side TEXT NOT NULL,
             position_side TEXT,
             amount {float} NOT NULL,
             reduce_only {bool} NOT NULL,
             payload TEXT NOT NULL,
             created_ms BIGINT NOT NULL)""",
        "CREATE INDEX order_intent_created ON order_intent (created_ms)",
        # Results are appended, never updated: the journal keeps every answer the venue gave.
        """CREATE TABLE order_result (
             seq {id},
             client_order_id TEXT NOT NULL REFERENCES order_intent (client_order_id),
             fence BIGINT NOT NULL,
             status TEXT NOT NULL,
             final {bool} NOT NULL,
             filled {float},
             avg_price {float},
             reason_code TEXT,
             detail TEXT,
             ts_ms BIGINT NOT NULL)""",
        "CREATE INDEX order_result_intent ON order_result (client_order_id, seq)",
        """CREATE TABLE approval (
             scope_key TEXT NOT NULL,
             level INTEGER NOT NULL,
             approver TEXT NOT NULL,
             reason TEXT NOT NULL,
             ts_ms BIGINT NOT NULL,
             PRIMARY KEY (scope_key, level, approver))""",
        """CREATE TABLE audit_log (
             seq BIGINT PRIMARY KEY,
             kind TEXT NOT NULL,
             ts_ms BIGINT NOT NULL,
             payload TEXT NOT NULL,
             prev_hash TEXT NOT NULL,
             hash TEXT NOT NULL)""",
        # The head serializes appends (a row lock) and remembers the last hash, so that a
        # truncated tail is noticed too.
        """CREATE TABLE audit_head (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             seq BIGINT NOT NULL,
             hash TEXT NOT NULL)""",
        f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
    )),
    Migration(2, "runbooks: the rendered runbook of every incident, with the data it was rendered from", (
        # One row per incident (a stage entry, named by its decision id). ``data`` is the incident
        # as JSON, so that the runbook can be rendered again with later templates; markdown and
        # html are what the on-call engineer was shown at the time.
        """CREATE TABLE runbook (
             incident TEXT PRIMARY KEY,
             policy TEXT NOT NULL,
             scope TEXT NOT NULL,
             level INTEGER NOT NULL,
             created_ms BIGINT NOT NULL,
             graph_digest TEXT NOT NULL,
             revision TEXT,
             template TEXT NOT NULL,
             markdown TEXT NOT NULL,
             html TEXT NOT NULL,
             data TEXT NOT NULL)""",
        "CREATE INDEX runbook_created ON runbook (created_ms)",
        # the compliance report reads the audit trail by time
        "CREATE INDEX audit_log_ts ON audit_log (ts_ms)",
    )),
    Migration(3, "the last good policy sources, so that a runner restarted on broken policies keeps guarding", (
        """CREATE TABLE policy_bundle (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             graph_digest TEXT NOT NULL,
             revision TEXT,
             sources TEXT NOT NULL,
             fence BIGINT NOT NULL,
             saved_ms BIGINT NOT NULL)""",
    )),
    Migration(4, "the PnL attribution history kept apart from the engine state, a row per account and sample", (
        # Appended once per sample step and trimmed past the window, in the same transaction as
        # the engine state: the state document stays small enough to save every tick.
        """CREATE TABLE pnl_sample (
             window_ms BIGINT NOT NULL,
             account TEXT NOT NULL,
             ts_ms BIGINT NOT NULL,
             keys TEXT NOT NULL,
             vals TEXT NOT NULL,
             PRIMARY KEY (window_ms, account, ts_ms))""",
    )),
    Migration(5, "heartbeats any replica receives, for the leader to take in at its next tick", (
        """CREATE TABLE heartbeat (
             source TEXT PRIMARY KEY,
             ts_ms BIGINT NOT NULL)""",
    )),
    Migration(6, "the audit chain anchored by an HMAC key: a MAC on every row and on the head", (
        # NULL everywhere until a store with a key appends (or opens to write), which records it
        # in an audit_key_adopted row: rows written before keep no MAC and verify as before, said
        # to be unanchored (audit_chain.py).
        "ALTER TABLE audit_log ADD COLUMN mac TEXT",
        "ALTER TABLE audit_head ADD COLUMN mac TEXT",
        "ALTER TABLE audit_head ADD COLUMN key_id TEXT",
        "ALTER TABLE audit_head ADD COLUMN anchored_from BIGINT",
    )),
    Migration(7, "the charted signals of every scope, a row per policy instance and tick, kept for hours", (
        # What the console's charts draw: the equity and the charted signals the leader's
        # evaluation read at each tick, as JSON ({name: value or null}). Written after the tick
        # (fenced), trimmed past the retention; never read by the engine.
        """CREATE TABLE signal_sample (
             policy TEXT NOT NULL,
             scope TEXT NOT NULL,
             ts_ms BIGINT NOT NULL,
             vals TEXT NOT NULL,
             PRIMARY KEY (policy, scope, ts_ms))""",
        "CREATE INDEX signal_sample_ts ON signal_sample (ts_ms)",
    )),
    Migration(8, "silences of pages and acknowledgements of incidents (silences_sql.py)", SILENCE_TABLES),
    Migration(9, "the incident a silence was made from, which it ends with (silences_sql.py)", SILENCE_INCIDENT),
)

AUDIT_VERIFY_PAGE = 5_000  # audit rows read per transaction by audit_verification
AUDIT_VERIFY_ROUNDS = 3  # restarts of a verification while a runner anchors the chain
ANCHOR_SCHEMA = 6  # the first schema version with MAC columns

_INTENT_COLS = ("i.seq, i.client_order_id, i.decision_id, i.venue, i.account, i.symbol, i.side, i.position_side, "
                "i.amount, i.reduce_only, i.payload, i.fence, i.created_ms, "
                "r.status, r.filled, r.avg_price, r.reason_code, r.detail, r.ts_ms")
# Every intent with its latest result, if any.
_INTENTS = (f"SELECT {_INTENT_COLS} FROM order_intent i LEFT JOIN order_result r ON r.seq = "
            "(SELECT MAX(seq) FROM order_result WHERE client_order_id = i.client_order_id)")


_IN_BATCH = 500  # ids per IN (...) list: well under every backend's bound on parameters


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _entry(row: tuple) -> JournalEntry:
    fields = list(row)
    fields[9] = bool(fields[9])  # SQLite keeps booleans as 0/1
    return JournalEntry(*fields)


class SqlStore(SilenceTables):
    """StateStore over a DB-API connection; subclasses provide the dialect (see module doc).

    Size: about 540 lines because it is one short method per StateStore call (about 40: lease,
    engine state, journal, approvals, audit chain, bundles, runbooks), each its own transaction
    over the same connection, ``_tx`` and fence check; splitting it by table would spread that
    one transaction discipline over several classes that must agree on it.
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

    def _tx(self, write: bool) -> AbstractContextManager[Any]:
        """A transaction yielding a cursor; a write one takes the locks a write needs up front."""
        raise NotImplementedError

    def _lock_migrations(self, cur: Any) -> None:
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

    def _q(self, cur: Any, query: str, params: Iterable[Any] = ()) -> Any:
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
        with self._tx(write=False) as cur:
            return self._q(cur, "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    # --- fencing ------------------------------------------------------------------------------

    def _check_fence(self, cur: Any, fence: int) -> None:
        # A shared lock on the lease row: writes of the same leader run side by side, but a
        # new leader's acquire_lease waits for them, and they wait for it, so no write with
        # an old token can commit after a newer token was handed out.
        current = self._q(cur, "SELECT fence FROM lease WHERE id = 1" + self.for_share).fetchone()[0]
        if fence != current:
            raise FencedError(fence, current)

    def acquire_lease(self, holder: str, ttl_ms: int, now_ms: int) -> Optional[int]:
        if not holder or ttl_ms <= 0:
            raise ValueError("a lease needs a holder and a positive ttl")
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
        with self._tx(write=False) as cur:
            return Lease(*self._q(cur, "SELECT holder, expires_ms, fence FROM lease WHERE id = 1").fetchone())

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> "SqlStore":
        """Another store on the same database with a connection of its own, already migrated:
        the lease thread's, so that a renewal never waits behind the runner's calls on this one.
        ``lock_timeout_ms`` bounds how long its statements wait for a lock held by someone else
        (a renewal that waits longer is better retried than late)."""
        raise NotImplementedError

    # --- engine state -------------------------------------------------------------------------

    def load_engine_state(self) -> Optional[dict]:
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT doc FROM engine_state WHERE id = 1").fetchone()
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
            self._q(cur, "INSERT INTO engine_state (id, doc, graph_digest, fence, saved_ms) VALUES (1, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, graph_digest = excluded.graph_digest, "
                         "fence = excluded.fence, saved_ms = excluded.saved_ms",
                    (text, graph_digest, fence, now_ms()))
            for window_ms, account, keep_from in pnl_kept:
                if keep_from is None:
                    self._q(cur, "DELETE FROM pnl_sample WHERE window_ms = ? AND account = ?", (window_ms, account))
                else:
                    self._q(cur, "DELETE FROM pnl_sample WHERE window_ms = ? AND account = ? AND ts_ms < ?",
                            (window_ms, account, keep_from))
            if added:
                # an upsert: a save whose commit was lost on the wire is simply saved again
                cur.executemany(self._sql("INSERT INTO pnl_sample (window_ms, account, ts_ms, keys, vals) "
                                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (window_ms, account, ts_ms) DO UPDATE "
                                          "SET keys = excluded.keys, vals = excluded.vals"), added)

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
                cur.executemany(self._sql("INSERT INTO signal_sample (policy, scope, ts_ms, vals) VALUES (?, ?, ?, ?) "
                                          "ON CONFLICT (policy, scope, ts_ms) DO UPDATE SET vals = excluded.vals"),
                                added)

    def signal_samples(self, policy: str, scope: str, since_ms: int,
                       until_ms: Optional[int] = None) -> list[SignalSampleRow]:
        query = "SELECT ts_ms, vals FROM signal_sample WHERE policy = ? AND scope = ? AND ts_ms >= ?"
        params: list[Any] = [policy, scope, int(since_ms)]
        if until_ms is not None:
            query += " AND ts_ms < ?"
            params.append(int(until_ms))
        with self._tx(write=False) as cur:
            rows = self._q(cur, query + " ORDER BY ts_ms", params).fetchall()
        return [SignalSampleRow(policy, scope, ts, json.loads(v)) for ts, v in rows]

    # --- heartbeats received by any replica -----------------------------------------------------

    def record_heartbeat(self, source: str, ts_ms: int) -> None:
        with self._tx(write=True) as cur:
            self._q(cur, "INSERT INTO heartbeat (source, ts_ms) VALUES (?, ?) ON CONFLICT (source) DO UPDATE "
                         "SET ts_ms = excluded.ts_ms WHERE excluded.ts_ms > heartbeat.ts_ms", (source, int(ts_ms)))

    def record_heartbeats(self, beats: Mapping[str, int]) -> None:
        if not beats:
            return
        with self._tx(write=True) as cur:
            cur.executemany(self._sql("INSERT INTO heartbeat (source, ts_ms) VALUES (?, ?) ON CONFLICT (source) "
                                      "DO UPDATE SET ts_ms = excluded.ts_ms WHERE excluded.ts_ms > heartbeat.ts_ms"),
                            [(source, int(ts)) for source, ts in sorted(beats.items())])

    def heartbeats(self) -> dict[str, int]:
        with self._tx(write=False) as cur:
            return dict(self._q(cur, "SELECT source, ts_ms FROM heartbeat ORDER BY source").fetchall())

    # --- order journal ------------------------------------------------------------------------

    def journal_intent(self, fence: int, client_order_id: str, decision_id: str, venue: str, account: str,
                       symbol: str, side: str, position_side: Optional[str], amount: float, reduce_only: bool,
                       payload_json: str, *, ts_ms: Optional[int] = None) -> bool:
        return self.journal_intents(fence, [IntentRow(client_order_id, decision_id, venue, account, symbol, side,
                                                      position_side, amount, reduce_only, payload_json)],
                                    ts_ms=ts_ms)[0]

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
                                 it.position_side, float(it.amount), bool(it.reduce_only), it.payload_json, ts))
            if rows:
                cur.executemany(self._sql(
                    "INSERT INTO order_intent (client_order_id, fence, decision_id, venue, account, symbol, side, "
                    "position_side, amount, reduce_only, payload, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?)"), rows)
        return new

    def journal_result(self, fence: int, client_order_id: str, status: str, filled: Optional[float],
                       avg_price: Optional[float], reason_code: Optional[str], detail: Optional[str], *,
                       ts_ms: Optional[int] = None) -> None:
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown order status {status!r}; one of {sorted(ORDER_STATUSES)}")
        row = (client_order_id, fence, status, status in FINAL_STATUSES, filled, avg_price, reason_code, detail,
               now_ms() if ts_ms is None else ts_ms)
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            if self._q(cur, "SELECT 1 FROM order_intent WHERE client_order_id = ?", (client_order_id,)).fetchone() \
                    is None:
                raise UnknownIntentError(f"UNKNOWN_INTENT: no journaled intent {client_order_id!r}")
            self._q(cur, "INSERT INTO order_result (client_order_id, fence, status, final, filled, avg_price, "
                         "reason_code, detail, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def pending_intents(self) -> list[JournalEntry]:
        with self._tx(write=False) as cur:
            rows = self._q(cur, _INTENTS + " WHERE NOT EXISTS (SELECT 1 FROM order_result f WHERE "
                                           "f.client_order_id = i.client_order_id AND f.final = ?) ORDER BY i.seq",
                           (True,)).fetchall()
        return [_entry(r) for r in rows]

    def journal(self, limit: int = 100, since: Optional[int] = None) -> list[JournalEntry]:
        with self._tx(write=False) as cur:
            rows = self._q(cur, _INTENTS + " WHERE i.created_ms >= ? ORDER BY i.seq DESC LIMIT ?",
                           (since if since is not None else -(2**62), int(limit))).fetchall()
        return [_entry(r) for r in reversed(rows)]

    def journal_of(self, decision_id: str, since: int) -> list[JournalEntry]:
        n = len(decision_id)
        with self._tx(write=False) as cur:
            rows = self._q(cur, _INTENTS + " WHERE i.created_ms >= ? AND (i.decision_id = ? OR "
                                           "(SUBSTR(i.decision_id, 1, ?) = ? AND SUBSTR(i.decision_id, ?, 1) = '/')) "
                                           "ORDER BY i.seq",
                                  (int(since), decision_id, n, decision_id, n + 1)).fetchall()
        return [_entry(r) for r in rows]

    # --- approvals ----------------------------------------------------------------------------

    def record_approval(self, scope_key: str, level: int, approver: str, reason: str, ts: int) -> bool:
        with self._tx(write=True) as cur:
            n = self._q(cur, "INSERT INTO approval (scope_key, level, approver, reason, ts_ms) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (scope_key, level, approver) DO NOTHING",
                        (scope_key, level, approver, reason, ts)).rowcount
            return n == 1

    def approvals(self, scope_key: str, level: int) -> list[Approval]:
        with self._tx(write=False) as cur:
            rows = self._q(cur, "SELECT scope_key, level, approver, reason, ts_ms FROM approval "
                                "WHERE scope_key = ? AND level = ? ORDER BY ts_ms, approver",
                           (scope_key, level)).fetchall()
        return [Approval(*r) for r in rows]

    def approvals_between(self, since_ms: int, until_ms: int, limit: int = 100_000) -> list[Approval]:
        with self._tx(write=False) as cur:
            rows = self._q(cur, "SELECT scope_key, level, approver, reason, ts_ms FROM approval "
                                "WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, scope_key, level, approver LIMIT ?",
                           (int(since_ms), int(until_ms), int(limit))).fetchall()
        return [Approval(*r) for r in rows]

    # --- audit chain --------------------------------------------------------------------------

    _HEAD = "SELECT seq, hash, mac, key_id, anchored_from FROM audit_head WHERE id = 1"
    _HEAD_UNANCHORED = "SELECT seq, hash, NULL, NULL, NULL FROM audit_head WHERE id = 1"
    _macs = False  # the schema has the MAC columns (once true, for good: schemas only move up)

    def _has_macs(self) -> bool:
        """Whether the schema has the MAC columns. A reader (``migrate=False``) may meet a store an
        older runner still writes: it reads it as an unanchored chain rather than failing."""
        if not self._macs:
            self._macs = self.schema_version() >= ANCHOR_SCHEMA
        return self._macs

    def _head_query(self) -> str:
        return self._HEAD if self._has_macs() else self._HEAD_UNANCHORED

    def use_audit_key(self, key: Optional[AuditKey], *, adopt: bool = False) -> Optional[str]:
        """Anchor the rows this store appends with ``key``; return why they will not be (a wrong
        or missing key for an anchored chain, a missing head), or None.

        With ``adopt`` (a writer starting: ``open_store`` with ``migrate``), a chain not yet
        anchored is anchored now: an ``audit_key_adopted`` row is appended with the key's id and
        its own seq as ``anchored_from``, and the head gets its MAC, so that wiping or cutting the
        chain from here on needs the key, and stripping the MACs leaves that row behind. Rows
        already there stay as they are (unanchored, covered by every later MAC). A chain this key
        anchored before that row existed gets one now, saying where anchoring began."""
        self.audit_key = key
        if key is None or not adopt or not self._has_macs():
            return key_problem(self.audit_head(), key)
        with self._tx(write=True) as cur:
            row = self._q(cur, self._HEAD + self.for_update).fetchone()
            head = None if row is None else AuditHead(*row)
            if head is not None and not head.anchored:
                self._append(cur, head, [], key, now_ms(), adopted_from=head.seq + 1)
            elif head is not None and self._adoption_unrecorded(cur, head, key):
                self._append(cur, head, [], key, now_ms(), adopted_from=head.anchored_from)
        return key_problem(head, key)

    def _adoption_unrecorded(self, cur: Any, head: AuditHead, key: AuditKey) -> bool:
        """Whether this key anchors the chain (its head's MAC checks) but no row says so yet."""
        start = head.anchored_from
        if head.key_id != key.key_id or start is None or _head_mac_problem(head, key) is not None:
            return False
        at = self._q(cur, "SELECT kind FROM audit_log WHERE seq = ?", (start,)).fetchone()
        if at is not None and at[0] == KEY_ADOPTED:  # where adoption puts it
            return False
        # A chain anchored before adoption rows existed: its row is further on (a scan, at a
        # writer's start only).
        return self._q(cur, "SELECT 1 FROM audit_log WHERE kind = ? AND seq > ? LIMIT 1",
                       (KEY_ADOPTED, start)).fetchone() is None

    def audit(self, kind: str, ts_ms: int, payload: dict, *, fence: Optional[int] = None) -> int:
        return self.audit_many([(kind, ts_ms, payload)], fence=fence)[0]

    def audit_many(self, rows: Sequence[tuple[str, int, dict]], *, fence: Optional[int] = None) -> list[int]:
        texts = [canonical_json(payload) for _, _, payload in rows]  # raises before anything is written
        if not rows:
            return []
        macs = self._has_macs()  # before the transaction: it reads the schema in one of its own
        key = self.audit_key if macs else None
        with self._tx(write=True) as cur:
            # The head (exclusive) first, then the lease row (shared). An append waiting for the
            # head (held by a leader paused in the middle of its own append, until PostgreSQL ends
            # that session) must not hold the lease row meanwhile: the lease thread renews by
            # updating that row and would wait behind it, and the new leader's lease would lapse.
            # No cycle: no transaction takes the lease row and then the head.
            row = self._q(cur, (self._HEAD if macs else self._HEAD_UNANCHORED) + self.for_update).fetchone()
            if fence is not None:
                self._check_fence(cur, fence)
            if row is None:
                # Never rebuilt here: a head rebuilt from the rows left would vouch for a cut chain.
                raise StoreError(f"{self.url}: " + key_problem(None, key))
            head = AuditHead(*row)
            batch = [(kind, ts_ms, text) for (kind, ts_ms, _), text in zip(rows, texts)]
            if not macs:  # a schema older than the anchor (only ever in a migration test)
                head, inserts = self._chain_all(head, batch, False, None)
                cur.executemany(self._sql("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) "
                                          "VALUES (?, ?, ?, ?, ?, ?)"), inserts)
                self._q(cur, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (head.seq, head.hash))
                return [s for s, *_ in inserts]
            # A key appending to a chain not anchored yet anchors it from here (a store opened with
            # the key but not to adopt it): the adoption is recorded all the same.
            adopted = head.seq + 1 if key is not None and not head.anchored else None
            return self._append(cur, head, batch, key, batch[0][1], adopted_from=adopted)

    def _append(self, cur: Any, head: AuditHead, batch: list[tuple[str, int, str]], key: Optional[AuditKey],
                ts_ms: int, *, adopted_from: Optional[int] = None) -> list[int]:
        """Insert ``batch`` (kind, ts_ms, canonical payload text) after ``head`` and move the head,
        in the caller's transaction (which holds the head's row lock); return the batch's seqs.
        With ``adopted_from``, the ``audit_key_adopted`` row saying that ``key`` anchors the chain
        from that row goes first (at ``ts_ms``). A head this key anchors whose MAC does not check
        is recorded first in an ``audit_head_invalid`` row: the head MAC made below would otherwise
        vouch for a chain cut or moved without the key."""
        first: list[tuple[str, int, str]] = []
        if key is not None and adopted_from is not None:
            first.append((KEY_ADOPTED, ts_ms, canonical_json({"key_id": key.key_id, "anchored_from": adopted_from})))
        elif key is not None and head.key_id == key.key_id and head.anchored_from is not None:
            problem = _head_mac_problem(head, key)
            if problem is not None:
                first.append((HEAD_INVALID, ts_ms, canonical_json({"seq": head.seq, "hash": head.hash,
                                                                   "anchored_from": head.anchored_from,
                                                                   "mac": problem})))
        batch, ours = first + batch, len(first)
        head, inserts = self._chain_all(head, batch, True, key)
        head_mac = None
        if key is not None and head.key_id == key.key_id and head.anchored_from is not None:
            head_mac = key.head_mac(head.seq, head.hash, head.anchored_from)  # the last row's only
        cur.executemany(self._sql("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)"), inserts)
        self._q(cur, "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, key_id = ?, anchored_from = ? "
                     "WHERE id = 1", (head.seq, head.hash, head_mac, head.key_id, head.anchored_from))
        return [i[0] for i in inserts[ours:]]

    @classmethod
    def _chain_all(cls, head: AuditHead, batch: Sequence[tuple[str, int, str]], macs: bool, key: Optional[AuditKey]
                   ) -> tuple[AuditHead, list[tuple]]:
        """:meth:`_chain` over every row of ``batch`` (kind, ts_ms, text) in turn: the head after
        the last, and every row's insert parameters. The first row decides whether the rows carry
        a MAC, under which key id and from which anchored row; the head it leaves carries that
        choice, so every later row takes the same branch and only the seq and the hash move: they
        are chained here without a head made per row (a crash's entry appends hundreds)."""
        if not batch:
            return head, []
        head, insert = cls._chain(head, *batch[0], macs, key)
        inserts = [insert]
        seq, prev = head.seq, head.hash
        row_mac = key.row_mac if macs and insert[-1] is not None else None  # type: ignore[union-attr]
        for kind, ts_ms, text in batch[1:]:
            seq += 1
            digest = audit_hash_text(prev, seq, kind, ts_ms, text)
            if not macs:
                inserts.append((seq, kind, ts_ms, text, prev, digest))
            else:
                inserts.append((seq, kind, ts_ms, text, prev, digest, row_mac(seq, digest) if row_mac else None))
            prev = digest
        return AuditHead(seq, prev, head.mac, head.key_id, head.anchored_from), inserts

    @staticmethod
    def _chain(head: AuditHead, kind: str, ts_ms: int, text: str, macs: bool, key: Optional[AuditKey]
               ) -> tuple[AuditHead, tuple]:
        """The row that follows ``head`` (its insert parameters) and the head after it (its MAC
        is left to the caller: only the last row's head is stored)."""
        seq = head.seq + 1
        digest = audit_hash_text(head.hash, seq, kind, ts_ms, text)
        if not macs:
            return (AuditHead(seq, digest, head.mac, head.key_id, head.anchored_from),  # not replace(): per row
                    (seq, kind, ts_ms, text, head.hash, digest))
        start = head.anchored_from if head.anchored else seq  # the first keyed append anchors
        row_mac: Optional[str]
        key_id: Optional[str]
        if key is not None and head.key_id in (None, key.key_id) and start is not None:
            row_mac, key_id = key.row_mac(seq, digest), key.key_id
        else:
            # No key, not this chain's, or a head anchored with no first row (its anchor was
            # tampered with: no head MAC can be made): the row goes in unanchored (verification
            # reports it once the chain is anchored) rather than the kill switch failing to record.
            row_mac, key_id, start = None, head.key_id, head.anchored_from
        return (AuditHead(seq, digest, None, key_id, start),
                (seq, kind, ts_ms, text, head.hash, digest, row_mac))

    def audit_head(self) -> Optional[AuditHead]:
        query = self._head_query()
        with self._tx(write=False) as cur:
            row = self._q(cur, query).fetchone()
        return None if row is None else AuditHead(*row)

    def audit_verification(self, anchors: Sequence[AuditAnchor] = ()) -> AuditVerification:
        # Every row of the table, not only those up to the head: a row slipped in past the head
        # is a finding too. Rows are read a page per transaction and hashed outside it (no
        # transaction stays open while a long chain is checked: PostgreSQL ends sessions idle in
        # one). An append commits its row and the head together, and the head only grows, so the
        # head read after the rows is at or past every row read, unless rows were put past it;
        # and every row up to it is committed: the rows appended meanwhile are read up to that
        # head (never chased: a busy runner could outrun the reader) and the check ends there.
        # The head read before the rows gives the anchoring the MACs are checked against; if a
        # runner anchored the chain meanwhile, the check starts over.
        macs = self._has_macs()
        rounds = 0
        while True:
            rounds += 1
            before = self.audit_head()
            check = ChainCheck(self.audit_key, before, tuple(anchors))
            self._feed_rows(check, 0, None, macs)
            head = self.audit_head()
            if head is not None and head.seq > check.last_seq:
                self._feed_rows(check, check.last_seq, head.seq, macs)
            if _anchoring(head) == _anchoring(before) or rounds >= AUDIT_VERIFY_ROUNDS:
                return check.close(head)

    def _feed_rows(self, check: ChainCheck, after: int, upto: Optional[int], macs: bool) -> None:
        query = (f"SELECT seq, kind, ts_ms, payload, prev_hash, hash, {'mac' if macs else 'NULL'} FROM audit_log "
                 "WHERE seq > ?" + ("" if upto is None else f" AND seq <= {int(upto)}") + " ORDER BY seq LIMIT ?")
        while True:
            with self._tx(write=False) as cur:
                page = self._q(cur, query, (after, AUDIT_VERIFY_PAGE)).fetchall()
            if len(page) < AUDIT_VERIFY_PAGE:
                for r in page:
                    check.feed(*r)
                return
            # The rows of the page's last seq are read again with the next page, so that copies of
            # one seq (a table that lost its key) are never split between two pages and missed.
            last = page[-1][0]
            whole = [r for r in page if r[0] != last]
            if not whole:  # a page of one seq only
                whole, last = page, last + 1
            for r in whole:
                check.feed(*r)
            after = last - 1

    def verify_audit(self) -> tuple[bool, Optional[int]]:
        v = self.audit_verification()
        return v.ok, v.first_bad_seq

    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, until_ms: Optional[int] = None, after_seq: int = 0) -> list[AuditRow]:
        query = "SELECT seq, kind, ts_ms, payload, hash FROM audit_log WHERE seq > ?"
        params: list[Any] = [int(after_seq)]
        if since_ms is not None:
            query += " AND ts_ms >= ?"
            params.append(int(since_ms))
        if until_ms is not None:
            query += " AND ts_ms < ?"
            params.append(int(until_ms))
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            query += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += kinds
        with self._tx(write=False) as cur:
            rows = self._q(cur, query + " ORDER BY seq LIMIT ?", params + [int(limit)]).fetchall()
        return [AuditRow(seq, kind, ts, _payload(text), digest) for seq, kind, ts, text, digest in rows]

    # --- the last good policies -------------------------------------------------------------------

    def save_policy_bundle(self, graph_digest: str, revision: Optional[str], sources: list[tuple[str, str]],
                           fence: int) -> None:
        text = json.dumps([[name, body] for name, body in sources], separators=(",", ":"))
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, "INSERT INTO policy_bundle (id, graph_digest, revision, sources, fence, saved_ms) "
                         "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                         "graph_digest = excluded.graph_digest, "
                         "revision = excluded.revision, sources = excluded.sources, fence = excluded.fence, "
                         "saved_ms = excluded.saved_ms", (graph_digest, revision, text, fence, now_ms()))

    def policy_bundle(self) -> Optional[PolicyBundle]:
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT graph_digest, revision, sources, saved_ms FROM policy_bundle WHERE id = 1"
                          ).fetchone()
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
            self._q(cur, f"INSERT INTO runbook ({_RUNBOOK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (incident) DO UPDATE SET policy = excluded.policy, scope = excluded.scope, "
                         "level = excluded.level, created_ms = excluded.created_ms, "
                         "graph_digest = excluded.graph_digest, revision = excluded.revision, "
                         "template = excluded.template, markdown = excluded.markdown, html = excluded.html, "
                         "data = excluded.data", row)

    def runbook(self, incident: str) -> Optional[RunbookRecord]:
        with self._tx(write=False) as cur:
            row = self._q(cur, f"SELECT {_RUNBOOK_COLS} FROM runbook WHERE incident = ?", (incident,)).fetchone()
        return None if row is None else RunbookRecord(*row)

    def runbooks(self, since_ms: Optional[int] = None, until_ms: Optional[int] = None,
                 limit: int = 100) -> list[RunbookRecord]:
        with self._tx(write=False) as cur:
            rows = self._q(cur, f"SELECT {_RUNBOOK_COLS} FROM runbook WHERE created_ms >= ? AND created_ms < ? "
                                "ORDER BY created_ms DESC, incident DESC LIMIT ?",
                           (since_ms if since_ms is not None else -(2**62),
                            until_ms if until_ms is not None else 2**62, int(limit))).fetchall()
        return [RunbookRecord(*r) for r in reversed(rows)]


_RUNBOOK_COLS = ("incident, policy, scope, level, created_ms, graph_digest, revision, template, markdown, html, "
                 "data")


def _payload(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:  # a tampered row: verify_audit names it; reading it must not fail
        return {"error": "UNREADABLE_PAYLOAD"}
    return value if isinstance(value, dict) else {"value": value}


def _head_mac_problem(head: AuditHead, key: AuditKey) -> Optional[str]:
    """Why the head's MAC does not check with ``key`` ("missing", "invalid"), or None when it does."""
    if head.mac is None:
        return "missing"
    if head.anchored_from is None:  # no MAC can be made: its anchor was tampered with
        return "invalid"
    expected = key.head_mac(head.seq, head.hash, head.anchored_from)
    ok = head.mac.isascii() and hmac.compare_digest(head.mac, expected)  # compare_digest refuses non-ASCII text
    return None if ok else "invalid"


def _anchoring(head: Optional[AuditHead]) -> tuple:
    return (None, None) if head is None else (head.key_id, head.anchored_from)


def wrap_error(url: str, exc: BaseException, secrets: Iterable[str] = ()) -> StoreError:
    """A driver error as a StoreError naming the store, with any secret scrubbed from its text."""
    return StoreError(f"{url}: {type(exc).__name__}: {scrub(str(exc), list(secrets))}")
