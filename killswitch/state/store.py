"""The state store's contract: what the runner persists, and the guarantees every backend gives.

Owns the :class:`StateStore` protocol, its values (:class:`JournalEntry`, :class:`Approval`,
:class:`Lease`, :class:`AuditRow`, :class:`RunbookRecord`), its errors, the order statuses the
journal accepts, and the audit chain's hashing rule. Backends (``sqlite.py``, ``postgres.py``)
implement it over the shared SQL in ``sql.py``; the same test suite runs against each.

Guarantees, whatever the backend:

- **Fencing.** A runner acts only while it holds the leader lease. :meth:`StateStore.acquire_lease`
  returns a fencing token that grows every time the lease changes hands; every write that
  takes a ``fence`` checks it against the stored token *in the same transaction* and raises
  :class:`FencedError` when they differ, so a deposed leader (paused, partitioned, slow) can
  never overwrite its successor's state or journal a second copy of an order.
- **Journal before send.** An intent is journaled once per client order id (a second time is a
  no-op that returns ``False``); intents without a final result are what a restarted runner
  reconciles with the exchange instead of sending again.
- **Audit chain.** Audit rows are append-only, each hashed over its predecessor's hash, with
  the head (last seq and hash) updated in the same transaction, so an edited, removed,
  reordered or added row, a cut tail or a moved head is found by
  :meth:`StateStore.audit_verification`, which reads every row of the table. A store given an
  audit key (:class:`AuditKey`) also anchors the chain: every row and the head carry an HMAC,
  so rewriting it needs the key, not only the database, and an ``audit_key_adopted`` row
  records where anchoring began (the scheme: ``audit_chain.py``). A
  row written with a ``fence`` is fenced like a journal write: a deposed leader cannot record
  an action.

Must not: import the engine's evaluation, adapters or the clock of the runner; decide what to
do about a fenced write or a pending intent (the runner does); log or raise a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional, Protocol, Sequence, runtime_checkable

from ..orders import FINAL_STATUSES, OPEN_STATUSES, ORDER_STATUSES, Fees  # noqa: F401 - re-exported

# The audit chain's rules live in audit_chain.py (hashing, anchoring) and audit_verify.py
# (verifying); the contract names them.
from .audit_chain import (  # noqa: F401 - re-exported
    GENESIS_HASH,
    AuditAnchor,
    AuditHead,
    AuditKey,
    AuditKeyError,
    audit_hash,
    audit_hash_text,
    canonical_json,
    key_problem,
)
from .audit_verify import AuditFinding, AuditVerification  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from ..overrides import Override
    from ..silences import Acknowledgement, Silence


class ChainRow(NamedTuple):
    """An audit row as stored: what a receiver needs to check the chain's continuity (``prev_hash``
    is the hash of the row before, ``hash`` this row's over prev_hash, seq, kind, ts_ms and text)."""

    seq: int
    kind: str
    ts_ms: int
    text: str  # the payload's canonical JSON, as hashed
    prev_hash: str
    hash: str


class StoreError(Exception):
    """The store could not do what was asked (unreachable, locked, corrupt, misconfigured)."""


class FencedError(StoreError):
    """A write carried a fencing token that is not the current one: this runner was deposed."""

    def __init__(self, fence: int, current: int):
        why = "another runner acquired the lease since" if fence < current else "it was never issued"
        super().__init__(f"FENCED: write with fence={fence} refused, current fence={current} ({why}); "
                         "this runner must stop acting")
        self.fence = fence
        self.current = current


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer killswitch than this one: refuse rather than guess."""


class UnknownIntentError(StoreError):
    """A result for a client order id that was never journaled: something sent without journaling."""


@dataclass(frozen=True)
class IntentRow:
    """One order intent to journal (see :meth:`StateStore.journal_intents`)."""

    client_order_id: str
    decision_id: str
    venue: str
    account: str
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    reduce_only: bool
    payload_json: str
    # the position the close was planned from: its entry price and contract size (None: not known)
    entry_price: Optional[float] = None
    contract_size: Optional[float] = None


@dataclass(frozen=True, kw_only=True)
class JournalEntry(IntentRow):
    """One order intent as journaled, with its latest result (``status`` None: no result
    journaled yet)."""

    seq: int
    fence: int
    created_ms: int
    status: Optional[str] = None
    filled: Optional[float] = None
    avg_price: Optional[float] = None
    reason_code: Optional[str] = None
    detail: Optional[str] = None
    updated_ms: Optional[int] = None
    # how a retry fares after the venue's refusal (permanent | transient | mode), as its dialect maps
    # it; None for anything else, and for a refusal the adapter made itself
    refusal: Optional[str] = None
    # the fee of the venue's latest answer, per currency (orders.Fees: empty, the answer carried
    # none; None, not known: a result the runner wrote itself, or one journaled before fees were)
    fees: Optional[Fees] = None
    # the PnL the close realized at its latest result (orders.realized_pnl; None: not known)
    realized_pnl: Optional[float] = None

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Approval:
    scope_key: str
    level: int
    approver: str
    reason: str
    ts_ms: int


@dataclass(frozen=True)
class AuditRow:
    """One row of the audit trail, as read back (its hash is what the next row chains on)."""

    seq: int
    kind: str
    ts_ms: int
    payload: dict
    hash: str


class PnlSampleRow(NamedTuple):
    """One sample of an account's PnL attribution history: the unrealized PnL of each of its
    positions (``keys`` a list of ``[symbol, position side]``, ``values`` the PnLs in the same
    order) at ``ts_ms``, for the history over ``window_ms``. Kept apart from the engine state
    document, appended once per sample step and trimmed past the window. A plain tuple, as
    ``State.from_json`` takes its samples. A writer may give ``keys`` as its JSON text already
    (the same positions sample after sample: encoded once); a reader always gets the list."""

    window_ms: int
    account: str
    ts_ms: int
    keys: Any  # a list; from a writer, possibly its JSON text (see above)
    values: list


class SignalSampleRow(NamedTuple):
    """What one tick's evaluation read for one policy instance, as its charts draw it: the
    instance's equity and each charted signal's value (``values``: name → value, None where it
    was unknown) at ``ts_ms``."""

    policy: str
    scope: str
    ts_ms: int
    values: dict


@dataclass(frozen=True)
class PolicyBundle:
    """The policy sources of the last graph that compiled and ran: what a runner restarted on
    broken policies runs instead, so that a bad change never leaves the book unguarded."""

    graph_digest: str
    revision: Optional[str]
    sources: list[tuple[str, str]]  # (file name, text)
    saved_ms: int


@dataclass(frozen=True)
class RunbookRecord:
    """The runbook of one incident (a stage entry, named by its decision id), as rendered when it
    happened, with the incident data it was rendered from (JSON) so it can be rendered again."""

    incident: str
    policy: str
    scope: str
    level: int
    created_ms: int
    graph_digest: str
    revision: Optional[str]
    template: str  # the template it was rendered with (a fallback is named as such)
    markdown: str
    html: str
    data_json: str

    @property
    def data(self) -> Any:
        return json.loads(self.data_json)


@dataclass(frozen=True)
class StoredLock:
    """An operator's lock stored while no runner led (``tables/stored_locks.py``): the request as
    it was made (``request``: scope, mode, reason, ttl_s, enforce, by), who stored it and when;
    once a leader took it up, when, under which token, and its answer (``result``)."""

    request_id: str
    scope: str
    mode: str
    request: dict
    stored_by: str
    stored_ms: int
    applied_ms: Optional[int] = None
    applied_fence: Optional[int] = None
    result: Optional[str] = None


@dataclass(frozen=True)
class PostedDrift:
    """A drift verdict as kept (``tables/drift.py``): the runner it was posted to (its holder
    name), the verdict (JSON), when it was posted, and the digest of the graph that runner ran
    then (None: kept before digests were)."""

    holder: str
    verdict: dict
    posted_ms: int
    digest: Optional[str] = None


@dataclass(frozen=True)
class Lease:
    holder: Optional[str]  # None: free
    expires_ms: int
    fence: int

    def valid_at(self, now_ms: int) -> bool:
        return self.holder is not None and self.expires_ms > now_ms


@runtime_checkable
class StateStore(Protocol):
    """Durable state of one killswitch deployment. Synchronous; safe to call from several threads.

    Times are UTC epoch milliseconds given by the caller where the contract names them; rows
    the caller gives no time for are stamped with the store's wall clock.
    """

    url: str  # with any password masked

    # lifecycle
    def migrate(self) -> int:
        """Apply pending migrations in order; return the schema version. Idempotent."""

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    # engine state
    def load_engine_state(self) -> Optional[dict]:
        """The last saved ``State.to_json()`` document, or None if none was ever saved."""

    def load_engine_state_and_pnl(self) -> tuple[Optional[dict], list[PnlSampleRow]]:
        """The saved document and the PnL history saved with it (one read: they agree), the
        samples ordered by window, account and time."""

    def save_engine_state(self, doc: dict, graph_digest: str, fence: int, *,
                          pnl_added: Sequence[PnlSampleRow] = (),
                          pnl_kept: Sequence[tuple[int, str, Optional[int]]] = ()) -> None:
        """Replace the saved engine state; in the same transaction, drop the PnL samples before
        ``keep_from`` of every ``(window_ms, account, keep_from)`` in ``pnl_kept`` (all of them
        where ``keep_from`` is None) and add (or replace) ``pnl_added``. Raises FencedError for a
        stale fence, and then changes nothing."""

    # the charted signals
    def save_signal_samples(self, rows: Sequence[SignalSampleRow], fence: int, *,
                            keep_from: Optional[int] = None) -> None:
        """Add (or replace) ``rows`` and, when ``keep_from`` is given, drop every sample older
        than it, in one transaction. Raises FencedError for a stale fence, and changes nothing."""

    def signal_samples(self, policy: str, scope: str, since_ms: int,
                       until_ms: Optional[int] = None) -> list[SignalSampleRow]:
        """The samples of one policy instance in [``since_ms``, ``until_ms``), oldest first."""

    # heartbeats
    def record_heartbeat(self, source: str, ts_ms: int) -> None:
        """``source`` beat at ``ts_ms``, as a replica heard it (unfenced: an observation, not an
        action). An older beat than the one stored changes nothing."""

    def record_heartbeats(self, beats: Mapping[str, int]) -> None:
        """Each ``source: ts_ms`` of ``beats`` as :meth:`record_heartbeat`, in one transaction (a
        standby takes a storm of beats in one write)."""

    def heartbeats(self) -> dict[str, int]:
        """The latest stored beat of every source."""

    # order journal
    def journal_intents(self, fence: int, intents: Sequence[IntentRow], *, ts_ms: Optional[int] = None
                        ) -> list[bool]:
        """Journal many intents in one transaction (all or none), in their order; for each, True
        when it is new, False when its id was known (that one is left as it was). A plan of
        thousands of closes is one write, not one per order."""

    def journal_result(self, fence: int, client_order_id: str, status: str, filled: Optional[float],
                       avg_price: Optional[float], reason_code: Optional[str], detail: Optional[str], *,
                       ts_ms: Optional[int] = None, refusal: Optional[str] = None,
                       fees: Optional[Fees] = None) -> None:
        """Append what became of an intent. The latest result is the intent's status; ``refusal``:
        how a retry fares after the venue refused it (permanent | transient | mode); ``fees``: the
        fee the venue's answer reported (empty: none; None: not a venue's answer). The PnL the
        fill realized is kept with it, from the entry price journaled with the intent."""

    def pending_intents(self) -> list[JournalEntry]:
        """Intents with no final result, oldest first: what a restarted runner must reconcile."""

    def journal(self, limit: int = 100, since: Optional[int] = None) -> list[JournalEntry]:
        """The latest ``limit`` intents journaled at or after ``since`` (ms), oldest first."""

    def journal_of(self, decision_id: str, since: int) -> list[JournalEntry]:
        """The intents of a decision and of the decisions under it (its re-plans,
        ``<decision>/r<n>``) journaled at or after ``since`` (ms), oldest first."""

    # approvals
    def record_approval(self, scope_key: str, level: int, approver: str, reason: str, ts: int) -> bool:
        """Record one approver's approval; False if that approver had already approved.

        ``scope_key`` should name the latched entry (its decision id, say), not only the scope,
        so that approvals given in an earlier incident never count toward a later one."""

    def withdraw_approval(self, scope_key: str, level: int, approver: str) -> bool:
        """Drop one approver's approval (withdrawn before the reset it was for was complete);
        False if there was none."""

    def approvals(self, scope_key: str, level: int) -> list[Approval]: ...

    def approvals_between(self, since_ms: int, until_ms: int, limit: int = 100_000) -> list[Approval]:
        """Every approval recorded in [``since_ms``, ``until_ms``), oldest first: what the closure
        report counts (an attempt that was refused, ``NOT_ENGAGED`` say, is audited but never
        recorded here)."""

    # audit chain
    def audit(self, kind: str, ts_ms: int, payload: dict, *, fence: Optional[int] = None) -> int:
        """Append an audit row; return its sequence number (1, 2, ...).

        With ``fence`` (a leader recording what it did), the row is appended only if that token
        is still the current one, checked in the same transaction; else FencedError and nothing
        is written. Without it (a standby, an operator tool) the row is appended unconditionally."""

    def audit_many(self, rows: Sequence[tuple[str, int, dict]], *, fence: Optional[int] = None) -> list[int]:
        """Append rows of (kind, ts_ms, payload) in one transaction, in their order, each chained
        as :meth:`audit` chains one; their sequence numbers. All or none (fenced as one)."""

    audit_key: Optional[AuditKey]  # what anchors the rows this store appends (None: not anchored)

    def audit_head(self) -> Optional[AuditHead]:
        """The chain's head as stored (None: the row is missing — a finding, not an error)."""

    def audit_verification(self, anchors: Sequence[AuditAnchor] = ()) -> AuditVerification:
        """Verify every row of the table, the head, the MACs (with this store's key) and the
        exported ``anchors``; every problem is a finding with its first row. Never raises for
        what it finds, only when the store cannot be read (StoreError)."""

    def verify_audit(self) -> tuple[bool, Optional[int]]:
        """(True, None) if :meth:`audit_verification` finds nothing, else (False, the first row
        that does not check)."""

    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, until_ms: Optional[int] = None, after_seq: int = 0) -> list[AuditRow]:
        """Audit rows in chain order: the first ``limit`` with ``seq > after_seq``, ``ts_ms`` in
        [``since_ms``, ``until_ms``) and ``kind`` in ``kinds`` (None: any). Page on with
        ``after_seq`` = the last row's seq. Reading checks nothing: :meth:`verify_audit` does."""

    # runbooks
    def save_policy_bundle(self, graph_digest: str, revision: Optional[str], sources: list[tuple[str, str]],
                           fence: int) -> None:
        """Keep the sources of the graph now running (fenced: the leader's)."""

    def policy_bundle(self) -> Optional[PolicyBundle]:
        """The sources of the last graph saved by :meth:`save_policy_bundle`, or None."""

    def save_runbook(self, record: RunbookRecord, *, fence: Optional[int] = None) -> None:
        """Store an incident's runbook, replacing any earlier one of the same incident. With
        ``fence`` (the runner's runbook sink), only if that token is still the current one,
        checked in the same transaction, as :meth:`audit` checks it: else FencedError, and the
        runbook stored before stays. Without it (an operator tool) unconditionally."""

    def runbook(self, incident: str) -> Optional[RunbookRecord]:
        """The stored runbook of ``incident`` (a decision id), or None."""

    def runbooks(self, since_ms: Optional[int] = None, until_ms: Optional[int] = None,
                 limit: int = 100) -> list[RunbookRecord]:
        """The latest ``limit`` runbooks created in [``since_ms``, ``until_ms``), oldest first."""

    # silences and acknowledgements (tables/silences.py; the model is killswitch.silences)
    def save_silence(self, silence: Silence, fence: int) -> None:
        """Store a silence, replacing the one of the same id (an expiry, an extension, an edit). Fenced."""

    def silences(self, ending_after_ms: Optional[int] = None, limit: int = 1000) -> list[Silence]:
        """The silences ending after ``ending_after_ms`` (None: all), oldest first, at most
        ``limit`` (the latest)."""

    def record_ack(self, ack: Acknowledgement, fence: int) -> None:
        """Append an acknowledgement of an incident (the latest is who has it). Fenced."""

    def acks(self, since_ms: Optional[int] = None, limit: int = 1000) -> list[Acknowledgement]:
        """The acknowledgements made at or after ``since_ms`` (None: all), in the order they were
        made, at most ``limit`` (the latest)."""

    # overrides of the pre-trade limits (tables/overrides.py; the model is killswitch.overrides)
    def save_override(self, override: Override, fence: int, audit: tuple[str, int, dict]) -> int:
        """Store an override (replacing the row of its id) and append its audit row (kind, ts_ms,
        payload) in one transaction, fenced: both or neither. Returns the row's seq."""

    def overrides(self, since_ms: Optional[int] = None, limit: int = 1000) -> list[Override]:
        """The overrides not ended, and those ended or expiring at or after ``since_ms`` (None:
        every one), oldest first, at most ``limit`` (the latest)."""

    # operator locks stored while no runner led (tables/stored_locks.py)
    def store_lock(self, request_id: str, request: dict, stored_by: str, ts_ms: int) -> StoredLock:
        """Store an operator's lock request (``request`` holds ``scope`` and ``mode``) while no
        runner leads. Unfenced; a request id stored before is kept as it was (and returned)."""

    def stored_locks(self, *, waiting: bool = True, limit: int = 1000) -> list[StoredLock]:
        """The stored requests not taken up yet (``waiting``), or the latest ``limit`` of every
        one, in the order they were stored."""

    def stored_lock_taken(self, request_id: str, fence: int, ts_ms: int, result: str) -> bool:
        """Mark a stored request taken up by the leader of ``fence``, with its answer (``result``:
        ``LOCKED: ...`` or why it was refused). Fenced; False if marked already."""

    # the policy drift verdicts posted about each runner (tables/drift.py)
    def save_policy_drift(self, holder: str, verdict: dict, posted_ms: int, digest: Optional[str] = None) -> None:
        """Keep ``verdict`` (a JSON object, about the graph of ``digest``) as ``holder``'s latest,
        replacing the one before; the rows of holders posted nothing for a month go. Unfenced:
        each replica keeps its own."""

    def policy_drift(self, holder: str) -> Optional[dict]:
        """``holder``'s latest verdict as it was saved, or None."""

    def posted_policy_drift(self, holder: str, digest: str) -> Optional[PostedDrift]:
        """The verdict ``holder``, running the graph of ``digest``, shows: its own latest, else the
        latest posted to another runner of this store about that graph; None."""

    # each audit sink's cursor in the chain (tables/audit_sink.py)
    def audit_sink_cursor(self, name: str) -> Optional[int]:
        """The last seq sink ``name`` acknowledged, or None: it never shipped a row."""

    def save_audit_sink_cursor(self, name: str, seq: int, fence: int, ts_ms: int) -> None:
        """Sink ``name`` acknowledged every row up to ``seq``. Fenced (FencedError for a token
        that is no longer the lease's); never moves the cursor back."""

    def chain_rows(self, after_seq: int, limit: int) -> list[ChainRow]:
        """Up to ``limit`` rows of the chain after ``after_seq``, in seq order, as stored (payload
        text, hashes)."""

    def chain_head_seq(self) -> int:
        """The seq of the chain's last row (0: none yet)."""

    # the console's sign-ins (tables/signins.py): unfenced, any replica signs people in and out
    def end_session(self, sid: str, name: str, exp_s: int, ended_ms: int) -> None:
        """Keep session ``sid`` as signed out until ``exp_s``; a second time changes nothing."""

    def ended_sessions(self, now_s: int) -> dict[str, int]:
        """The sessions signed out and not expired at ``now_s``: id → end (the expired dropped)."""

    def bind_subject(self, sub: str, name: str, ts_ms: int) -> Optional[str]:
        """Bind ``name`` to the provider's subject ``sub`` (the first time either is seen); why
        not, when either is bound to another already."""

    # leader lease
    def acquire_lease(self, holder: str, ttl_ms: int, now_ms: int) -> Optional[int]:
        """Acquire or renew the lease; the fencing token, or None while another holder's is valid."""

    def release_lease(self, holder: str) -> bool: ...

    def current_fence(self) -> int: ...

    def lease(self) -> Lease: ...

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> "StateStore":
        """Another store on the same database with a connection of its own (the lease thread's).
        NotImplementedError where a second connection would not see the same data (SQLite in
        memory); StoreError when the database cannot be reached."""
