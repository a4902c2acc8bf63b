"""The firm's tables beyond the registry: facts, directives, the firm's view, the runners seen,
and each shard's record of the directives it applied.

What it owns (a mixin of :class:`~.FirmStore`, its SQL only):

* ``account_fact`` — one row per account (:class:`~killswitch.firm.facts.Fact`), upserted by its
  shard's leader every tick, **fenced by the shard's own token**: the upsert is made only while
  ``fence`` is the current token of ``ks_shard_<name>.lease`` (read ``FOR SHARE`` in the same
  transaction, so a takeover waits for it and it for the takeover); else nothing is written and
  :meth:`FirmTables.publish_facts` says 0 (the caller counts it);
* ``directive`` — what a firm decision or a firm-wide operator command asks every shard to do;
  written fenced by the firm's token (a firm decision, in the transaction that saves the firm's
  engine state and view) or by the sending shard's token (an operator's), then ``NOTIFY
  killswitch_firm, '<id>'`` (delivered at commit: a listener never sees an uncommitted id); a
  runner that stopped and gave its shard's lease up says so on the same channel
  (:mod:`killswitch.firm.notices`);
* ``firm_view`` — the holder's last evaluation as status shows it (fenced by the firm token);
* ``shard_runner`` — every runner of every shard, leader or standby, and when it was last seen;
* ``<shard schema>.firm_applied`` — the directives a shard claimed and applied, fenced by its
  token, so that a restart or a takeover neither skips nor repeats one; and, from its first run,
  the firm's locks then in force, which its first leader takes up.

Must not: decide anything (the pure firm core and the runner do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ...firm.directives import Directive
from ...firm.facts import Fact, ShardLease
from ..migrations import Migration
from ..sql import SAVE_ENGINE_STATE
from ..sql_hooks import Cursor, SqlHooks, upsert
from ..store import FencedError

NOTIFY_CHANNEL = "killswitch_firm"

FIRM_TABLES = (
    Migration(2, "facts, directives, the firm view, runners seen", (
        """CREATE TABLE account_fact (
             shard TEXT NOT NULL, venue TEXT NOT NULL, account TEXT NOT NULL,
             ts_ms BIGINT NOT NULL, published_ms BIGINT NOT NULL,
             equity DOUBLE PRECISION, unrealized_pnl DOUBLE PRECISION,
             gross_exposure DOUBLE PRECISION, net_exposure DOUBLE PRECISION,
             data_age_ms BIGINT, fetch_ok BOOLEAN NOT NULL, fetch_error TEXT,
             armed BOOLEAN NOT NULL, fence BIGINT NOT NULL,
             PRIMARY KEY (shard, venue, account))""",
        """CREATE TABLE directive (
             id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             decision_id TEXT, kind TEXT NOT NULL, scope TEXT NOT NULL, payload TEXT NOT NULL,
             created_ms BIGINT NOT NULL, fence BIGINT NOT NULL, fenced_by TEXT NOT NULL, actor TEXT NOT NULL)""",
        "CREATE TABLE firm_view (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, fence BIGINT NOT NULL, "
        "saved_ms BIGINT NOT NULL)",
        "CREATE TABLE shard_runner (shard TEXT NOT NULL, holder TEXT NOT NULL, leader BOOLEAN NOT NULL, "
        "seen_ms BIGINT NOT NULL, PRIMARY KEY (shard, holder))",
    )),
)

_FACT_COLUMNS = ("shard, venue, account, ts_ms, published_ms, equity, unrealized_pnl, gross_exposure, "
                 "net_exposure, data_age_ms, fetch_ok, fetch_error, armed, fence")


@dataclass(frozen=True)
class RunnerSeen:
    shard: str
    holder: str
    leader: bool
    seen_ms: int


class FirmTables(SqlHooks):
    """See the module doc. Mixed into :class:`~.FirmStore` (``_tx``, ``_q``, ``_check_fence``)."""

    # --- facts --------------------------------------------------------------------------------

    def _shard_lease(self, cur: Cursor, shard_schema: str, columns: str, lock: bool = False) -> Any:
        """The ``columns`` of the shard's lease row; None when the shard has no lease (or no schema) yet."""
        exists = self._q(cur, "SELECT 1 FROM information_schema.tables WHERE table_schema = ? "
                              "AND table_name = 'lease'", (shard_schema,)).fetchone()
        return self._q(cur, f'SELECT {columns} FROM "{shard_schema}".lease WHERE id = 1'
                            + (" FOR SHARE" if lock else "")).fetchone() if exists else None

    def _shard_fence(self, cur: Cursor, shard_schema: str, *, lock: bool) -> Optional[int]:
        row = self._shard_lease(cur, shard_schema, "fence", lock)
        return None if row is None else int(row[0])

    def _check_shard_fence(self, cur: Cursor, shard_schema: str, fence: int) -> None:
        """:class:`FencedError` unless ``fence`` is the shard's current token (its lease row held
        until the transaction ends)."""
        current = self._shard_fence(cur, shard_schema, lock=True)
        if current != fence:
            raise FencedError(fence, current or 0)

    def publish_facts(self, shard_schema: str, fence: int, facts: Sequence[Fact]) -> int:
        """Upsert ``facts`` (one shard's) if ``fence`` is that shard's current token: the rows
        written, or 0 when the token is stale or foreign (nothing written)."""
        with self._tx(write=True) as cur:
            if self._shard_fence(cur, shard_schema, lock=True) != fence:
                return 0
            rows = [(f.shard, f.venue, f.account, f.ts_ms, f.published_ms, f.equity, f.unrealized_pnl,
                     f.gross_exposure, f.net_exposure, f.data_age_ms, f.fetch_ok, f.fetch_error, f.armed, fence)
                    for f in facts]
            if rows:
                # one statement of arrays (unnest) rather than a statement a row: at 1,000 accounts the
                # upsert is one round trip and one plan (see bench/firm_facts.py)
                cur.execute(
                    f"INSERT INTO account_fact ({_FACT_COLUMNS}) SELECT * FROM unnest("
                    "%s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::float8[], %s::float8[], "
                    "%s::float8[], %s::float8[], %s::bigint[], %s::bool[], %s::text[], %s::bool[], %s::bigint[]) "
                    "ON CONFLICT (shard, venue, account) DO UPDATE SET ts_ms = excluded.ts_ms, "
                    "published_ms = excluded.published_ms, equity = excluded.equity, "
                    "unrealized_pnl = excluded.unrealized_pnl, gross_exposure = excluded.gross_exposure, "
                    "net_exposure = excluded.net_exposure, data_age_ms = excluded.data_age_ms, "
                    "fetch_ok = excluded.fetch_ok, fetch_error = excluded.fetch_error, armed = excluded.armed, "
                    "fence = excluded.fence", [list(col) for col in zip(*rows)])
            return len(rows)

    def facts(self) -> list[Fact]:
        rows = self._fetchall(f"SELECT {_FACT_COLUMNS} FROM account_fact ORDER BY shard, venue, account")
        return [Fact(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], r[6], r[7], r[8],
                     None if r[9] is None else int(r[9]), bool(r[10]), r[11], bool(r[12]), int(r[13])) for r in rows]

    def shard_leases(self, schemas: Mapping[str, str]) -> dict[str, ShardLease]:
        """Each shard's lease (``schemas``: shard → its schema); a shard without a schema is absent."""
        out = {}
        with self._tx(write=False) as cur:
            for shard, schema in schemas.items():
                if self._shard_fence(cur, schema, lock=False) is None:
                    continue
                holder, expires, fence = self._q(
                    cur, f'SELECT holder, expires_ms, fence FROM "{schema}".lease WHERE id = 1').fetchone()
                out[shard] = ShardLease(shard, holder, int(expires), int(fence))
        return out

    # --- runners seen ---------------------------------------------------------------------------

    def seen(self, shard: str, holder: str, leader: bool, now: int) -> None:
        with self._tx(write=True) as cur:
            self._q(cur, upsert("shard_runner", "shard, holder, leader, seen_ms", "shard, holder"),
                    (shard, holder, leader, now))

    def runners(self, since_ms: int) -> list[RunnerSeen]:
        rows = self._fetchall("SELECT shard, holder, leader, seen_ms FROM shard_runner WHERE seen_ms >= ? "
                              "ORDER BY shard, holder", (since_ms,))
        return [RunnerSeen(r[0], r[1], bool(r[2]), int(r[3])) for r in rows]

    # --- directives -----------------------------------------------------------------------------

    def _insert(self, cur: Cursor, d: Directive, fence: int, fenced_by: str, now: int) -> int:
        got = self._q(cur, "INSERT INTO directive (decision_id, kind, scope, payload, created_ms, fence, fenced_by, "
                           "actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      (d.decision_id, d.kind, d.scope, json.dumps(dict(d.payload), separators=(",", ":")), now,
                       fence, fenced_by, d.actor)).fetchone()
        self._q(cur, "SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, str(got[0])))
        return int(got[0])

    def commit_firm(self, fence: int, state_doc: dict, graph_digest: str, view: dict,
                    directives: Sequence[Directive], now: int) -> list[int]:
        """The firm holder's tick, in one transaction fenced by the firm token: its engine state,
        its view and the directives of its decisions (their ids, notified at commit)."""
        with self._tx(write=True) as cur:
            self._check_fence(cur, fence)
            self._q(cur, SAVE_ENGINE_STATE, (json.dumps(state_doc, separators=(",", ":")), graph_digest, fence, now))
            self._q(cur, upsert("firm_view", "id, doc, fence, saved_ms", "id", values="1, ?, ?, ?"),
                    (json.dumps(view, separators=(",", ":")), fence, now))
            return [self._insert(cur, d, fence, "firm", now) for d in directives]

    def say_shard_stopped(self, payload: str) -> None:
        """``NOTIFY killswitch_firm`` with a runner's stop (:func:`killswitch.firm.notices.shard_stopped`),
        sent once its lease's release is committed: the firm lease holder evaluates at once."""
        with self._tx(write=True) as cur:
            self._q(cur, "SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, payload))

    def firm_view(self) -> Optional[tuple[dict, int]]:
        """The holder's last view and when it was saved."""
        row = self._fetchone("SELECT doc, saved_ms FROM firm_view WHERE id = 1")
        return None if row is None else (json.loads(row[0]), int(row[1]))

    def send_directive(self, shard: str, shard_schema: str, fence: int, directive: Directive, now: int) -> int:
        """An operator's firm-wide directive sent to a shard's API, fenced by that shard's token
        (:class:`FencedError` when it is not the current one: a standby or a deposed leader)."""
        with self._tx(write=True) as cur:
            self._check_shard_fence(cur, shard_schema, fence)
            return self._insert(cur, directive, fence, f"shard:{shard}", now)

    def directives_after(self, after_id: int, limit: int = 500) -> list[Directive]:
        rows = self._fetchall("SELECT id, decision_id, kind, scope, payload, created_ms, actor FROM directive "
                              "WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [Directive(r[2], r[3], json.loads(r[4]), r[1], r[6], int(r[0]), int(r[5])) for r in rows]

    def last_directive_id(self) -> int:
        return int(self._fetchone("SELECT COALESCE(MAX(id), 0) FROM directive")[0])

    # --- a shard's applied directives (in its own schema) ---------------------------------------

    def ensure_applied(self, shard_schema: str, start_after: int, now: int,
                       inherit: Optional[Callable[[list[Directive]], Sequence[int]]] = None) -> int:
        """Create ``<shard schema>.firm_applied`` if missing — its first row the watermark
        ``start_after`` (the directives written before the shard's first run are not applied as
        new) — and say the highest directive id it holds. At its creation, the ids ``inherit``
        picks of the directives up to ``start_after`` (the firm's locks in force) are recorded
        ``inherited``: the shard's first leader takes them up (:meth:`inherited`)."""
        with self._tx(write=True) as cur:
            self._q(cur, "SELECT pg_advisory_xact_lock(hashtext(?))", (f"firm_applied:{shard_schema}",))
            self._q(cur, f'CREATE SCHEMA IF NOT EXISTS "{shard_schema}"')
            self._q(cur, f'CREATE TABLE IF NOT EXISTS "{shard_schema}".firm_applied (directive_id BIGINT PRIMARY '
                         "KEY, state TEXT NOT NULL, outcome TEXT NOT NULL, fence BIGINT NOT NULL, ts_ms BIGINT "
                         "NOT NULL)")
            top = self._q(cur, f'SELECT MAX(directive_id) FROM "{shard_schema}".firm_applied').fetchone()[0]
            if top is not None:
                return int(top)
            if inherit is not None:
                rows = self._q(cur, "SELECT id, decision_id, kind, scope, payload, created_ms, actor FROM directive "
                                    "WHERE id <= ? ORDER BY id", (start_after,)).fetchall()
                old = [Directive(r[2], r[3], json.loads(r[4]), r[1], r[6], int(r[0]), int(r[5])) for r in rows]
                for did in inherit(old):
                    self._q(cur, f'INSERT INTO "{shard_schema}".firm_applied VALUES (?, ?, ?, ?, ?)',
                            (did, "inherited", "in force before the shard's first run", 0, now))
            # (the last directive may be an inherited lock: its row is then the watermark)
            self._q(cur, f'INSERT INTO "{shard_schema}".firm_applied VALUES (?, ?, ?, ?, ?) '
                         "ON CONFLICT (directive_id) DO NOTHING",
                    (start_after, "start", "directives up to here predate the shard", 0, now))
            return start_after

    def inherited(self, shard_schema: str) -> list[int]:
        """The firm's locks in force at the shard's first run, not yet taken up by a leader of it."""
        return [int(r[0]) for r in self._fetchall(f'SELECT directive_id FROM "{shard_schema}".firm_applied '
                                                  "WHERE state = 'inherited' ORDER BY directive_id")]

    def claim_directive(self, shard_schema: str, fence: int, directive_id: int, now: int) -> bool:
        """Claim a directive for the shard (fenced by its token, :class:`FencedError` if stale):
        False when it was claimed already (applied, or being applied by this token)."""
        with self._tx(write=True) as cur:
            self._check_shard_fence(cur, shard_schema, fence)
            n = self._q(cur, f'INSERT INTO "{shard_schema}".firm_applied VALUES (?, ?, ?, ?, ?) '
                             "ON CONFLICT (directive_id) DO NOTHING",
                        (directive_id, "claimed", "", fence, now)).rowcount
            return n == 1

    def applied(self, shard_schema: str, fence: int, directive_id: int, outcome: str, now: int) -> None:
        with self._tx(write=True) as cur:
            self._q(cur, f'UPDATE "{shard_schema}".firm_applied SET state = ?, outcome = ?, ts_ms = ? '
                         "WHERE directive_id = ? AND fence = ?", ("applied", outcome[:1000], now, directive_id, fence))

    def unfinished(self, shard_schema: str) -> list[int]:
        """Directives claimed and never marked applied (a runner stopped between): applied again
        by the next leader (a lock is the same lock; a close closes what is still open)."""
        return [int(r[0]) for r in self._fetchall(f'SELECT directive_id FROM "{shard_schema}".firm_applied '
                                                  "WHERE state = 'claimed' ORDER BY directive_id")]

    def reclaim(self, shard_schema: str, fence: int, directive_id: int, now: int) -> bool:
        with self._tx(write=True) as cur:
            self._check_shard_fence(cur, shard_schema, fence)
            return self._q(cur, f'UPDATE "{shard_schema}".firm_applied '
                                "SET state = 'claimed', fence = ?, ts_ms = ? "
                                "WHERE directive_id = ? AND state IN ('claimed', 'inherited')",
                           (fence, now, directive_id)).rowcount == 1

    def directive(self, directive_id: int) -> Optional[Directive]:
        got = self.directives_after(directive_id - 1, 1)
        return got[0] if got and got[0].id == directive_id else None

