"""The state store's schema: its versioned steps, applied in order by :meth:`.sql.SqlStore.migrate`.

What it owns: :class:`Migration` and :data:`MIGRATIONS`, every table and index of a state store
from version 1 on, in the SQL both backends speak (see :mod:`.sql`); the silences' steps are
:mod:`.tables.silences`'s (the stored locks', the drift verdicts', the audit sinks' cursors and
the sign-ins' likewise), named here in their place. A schema only moves up: a step is never
edited once released, a new one is appended (the firm's tables have steps of their own:
:mod:`.firm`).

Must not: run anything (the store applies the steps, in one transaction, under the
migration lock).
"""

from __future__ import annotations

from dataclasses import dataclass

from .audit_chain import GENESIS_HASH
from .tables.audit_sink import AUDIT_SINK_TABLE
from .tables.drift import POLICY_DRIFT_DIGEST, POLICY_DRIFT_TABLE
from .tables.overrides import OVERRIDE_TABLE
from .tables.signins import SIGNIN_TABLES
from .tables.silences import SILENCE_INCIDENT, SILENCE_LEVEL, SILENCE_SEEN, SILENCE_TABLES
from .tables.stored_locks import STORED_LOCK_TABLE


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
        # to be unanchored (audit_verify.py).
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
    Migration(8, "silences of pages and acknowledgements of incidents (tables/silences.py)", SILENCE_TABLES),
    Migration(9, "the incident a silence was made from, which it ends with (tables/silences.py)", SILENCE_INCIDENT),
    Migration(10, "operator locks stored while no runner leads, until a leader applies them (tables/stored_locks.py)",
              STORED_LOCK_TABLE),
    Migration(11, "the latest policy drift verdict posted about each runner (tables/drift.py)", POLICY_DRIFT_TABLE),
    Migration(12, "how a retry fares after a venue refused an order, as its dialect maps the refusal", (
        # permanent | transient | mode (adapters.base); NULL for every other result and for a
        # refusal the adapter made itself: what a runner that takes over counts a refused close by
        "ALTER TABLE order_result ADD COLUMN refusal TEXT",
    )),
    Migration(13, "the highest stage a silence held back when made: an escalation past it pages (tables/silences.py)",
              SILENCE_LEVEL),
    Migration(14, "the open incidents a silence matched when made: another's stage entry pages (tables/silences.py)",
              SILENCE_SEEN),
    Migration(15, "overrides of the pre-trade limits, requested, approved and ended (tables/overrides.py)",
              OVERRIDE_TABLE),
    Migration(16, "each audit sink's cursor: the last row of the chain it acknowledged (tables/audit_sink.py)",
              AUDIT_SINK_TABLE),
    Migration(17, "the console's sessions signed out, and the subject each name signs in as (tables/signins.py)",
              SIGNIN_TABLES),
    Migration(18, "the graph each policy drift verdict was about: another runner of the store takes it up "
                  "(tables/drift.py)", POLICY_DRIFT_DIGEST),
    Migration(19, "what a close came to: the venue's fee on each answer, the entry price it closed and its PnL", (
        # The entry price and contract size of the position a close was planned from (NULL: no
        # position, as a spot sale, or an intent journaled before); the fees of each venue answer
        # as JSON, [[cost, currency], ...] ([]: the answer carried none; NULL: not known, as a
        # result the runner wrote itself or one written before), and the PnL the fill realized
        # at it (NULL: not known). An older row reads as not known, never as 0.
        "ALTER TABLE order_intent ADD COLUMN entry_price {float}",
        "ALTER TABLE order_intent ADD COLUMN contract_size {float}",
        "ALTER TABLE order_result ADD COLUMN fees TEXT",
        "ALTER TABLE order_result ADD COLUMN realized_pnl {float}",
    )),
)
