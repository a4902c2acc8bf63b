"""The runner as the HTTP API sees it: the :class:`RunnerView` protocol and the values it answers
(the reads are worked out in :mod:`killswitch.runner.readout`; the positions' values are
:mod:`.positions`', re-exported here).

The API module depends on this protocol only, so it can be built and tested with a fake, and
the runner's desk (:class:`killswitch.runner.operator.desk.Desk`, built from the runner's parts)
implements it. Every method is quick and never blocks on an exchange: status and
lock come from memory; mutations are coroutines that wait for their turn on the tick loop (and
for the state store), never for an order to be sent.

The API serialises these values field by field (tuples as arrays); :func:`decode`
(:mod:`killswitch.runner.view_decode`) is the inverse, for clients that read them back (:mod:`killswitch.client`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence

from ..sync.values import PolicySyncStatus
from ..view_decode import DecodeError as DecodeError, decode as decode
from .closes import CloseResult as CloseResult, PlannedOrder as PlannedOrder  # a manual close's answer
from .overrides import OverrideResult as OverrideResult, OverrideStatus as OverrideStatus
from .positions import (  # the positions' values (GET /v1/positions), a module of their own
    AccountPositions as AccountPositions,
    PositionRow as PositionRow,
    PositionsStatus as PositionsStatus,
)

if TYPE_CHECKING:  # annotations only: the gate pulls in the lock book, and `ksctl status` need not
    from ...state.store import RunbookRecord
    from ..gate.request import Decision


@dataclass(frozen=True)
class AckStatus:
    """Who has an incident (its latest acknowledgement), since when, with what note."""

    incident: str
    author: str
    ts_ms: int
    comment: str = ""


@dataclass(frozen=True)
class SilenceStatus:
    """A silence as ``ksctl silence list`` and the console show it (``state``: pending, active or
    expired at ``as_of_ms``; ``matchers`` in their text form, ``policy="futures-book"``)."""

    id: str
    matchers: tuple[str, ...]
    starts_ms: int
    ends_ms: int
    author: str
    comment: str
    created_ms: int
    state: str
    as_of_ms: int
    expired_by: Optional[str] = None  # who expired it early, or "incident ended" (one made from an incident)
    incident: Optional[str] = None  # the incident it was made from
    ends_with_incident: bool = False  # it ends when that incident does (not extended since)
    idle: Optional[str] = None  # IDLE: in force on a scope with no open incident (ksctl status says so too)


@dataclass(frozen=True)
class SilenceResult:
    """The answer to adding or expiring a silence: done, why, and the silence as it is now."""

    done: bool
    reason: str  # SILENCED, SILENCE_EXPIRED; refusals: UNKNOWN_LABEL, SILENCE_TOO_BROAD, UNKNOWN_SILENCE, ...
    silence: Optional[SilenceStatus] = None


@dataclass(frozen=True)
class ScopeStatus:
    policy: str
    scope: str
    stage: int
    stage_name: Optional[str]
    manual: bool
    approvals: tuple[str, ...]
    approvals_needed: int
    entered_ms: Optional[int]
    ack: Optional[AckStatus] = None  # who has the scope's incident, if someone said so (the latest)
    acks: tuple[AckStatus, ...] = ()  # everyone who has it: each author's latest, oldest first
    # the running policies no longer produce this instance; it is kept while its stage is latched,
    # guards nothing, and ends at its reset ("REMOVED BY RELOAD: ..."); None: a live instance
    removed: Optional[str] = None


@dataclass(frozen=True)
class ResumeStatus:
    """A resumption in force: the gate holds the scope's orders at these limits."""

    policy: str
    scope: str
    since_ms: int  # the reset
    day: int  # the current step (1-based) of ``days``
    days: int
    fraction: float  # of the normal limits
    max_positions: Optional[int]  # per account, today
    max_gross_exposure: Optional[float]
    until_ms: Optional[int]  # when the limits step up next
    step_ms: Optional[int] = None  # the schedule's step: a day unless the policy says another


@dataclass(frozen=True)
class ResidualStatus:
    """A position a close left open that the runner stopped closing (see
    :mod:`killswitch.runner.book.residuals`): closing it, or accepting it, is up to a person."""

    incident: str  # the stage entry (or manual close) that wanted it closed
    policy: Optional[str]
    scope: str
    account: str
    symbol: str
    side: str  # long | short
    position_side: Optional[str]
    amount: float  # contracts, as of the last good snapshot
    why: str  # BELOW_MINIMUM | CLOSE_RETRIES_EXHAUSTED | CLOSE_REJECTED
    detail: str
    since_ms: int
    as_of_ms: int
    # a person accepted its refused close (``ksctl close-accept``): {"by", "reason", "ms"}; None: nobody
    accepted: Optional[dict] = None
    # CLOSE_REJECTED: what the refused close would have closed (a partial reduction's shortfall)
    shortfall: Optional[float] = None


@dataclass(frozen=True)
class StillOpenStatus:
    """An order a cancel meant to take that the venue still lists after it (see
    :mod:`killswitch.runner.book.still_open`): never shown cancelled; cancelling it, or finding
    why it rests, is up to a person."""

    account: str
    order_id: str
    symbol: str
    side: str  # buy | sell
    amount: float  # left open (its amount less what filled), as the last list gave it
    said: str  # what the venue said of it: "ORDER_STILL_OPEN: ..." (the reason code, then its words)
    cause: str  # what the cancel was for: the cancel's reason, DMS_FIRED source=..., LOCK_VIOLATION, ...
    incident: Optional[str]  # the stage entry (or manual close) whose cancel it was; None: none
    policy: Optional[str]
    scope: str
    since_ms: int
    as_of_ms: int
    client_id: Optional[str] = None
    price: Optional[float] = None


@dataclass(frozen=True)
class BlindTrigger:
    """A trigger of a blind scope that cannot be evaluated (see killswitch.engine.coverage)."""

    trigger: str
    reason: str  # INSUFFICIENT_HISTORY, MISSING_DATA, STALE_DATA, ACCOUNT_NOT_READ
    detail: str  # e.g. "dd_15m: INSUFFICIENT_HISTORY: coverage=40% min=80%"
    until_ms: Optional[int]  # evaluable again then if every tick reads (None: unknown)
    fires_on: tuple[str, ...] = ()  # its known signals it can still fire on (empty: it cannot fire)
    fires_from_ms: Optional[int] = None  # it can fire again then if every tick reads (None: unknown)


@dataclass(frozen=True)
class CoverageStatus:
    """Whether the kill switch can act on one policy × scope instance: armed, blind (which
    triggers cannot be evaluated, why, until when) or unmatched (the scope selects nothing)."""

    policy: str
    scope: str  # the scope instance; "(none)" for an unmatched policy
    state: str  # armed | blind | unmatched
    reason: Optional[str]  # None when armed; else INSUFFICIENT_HISTORY, MISSING_DATA, STALE_DATA,
    #                        ACCOUNT_NOT_READ, UNMATCHED, UNMATCHED_ALLOWED
    detail: str  # one line a human reads
    since_ms: Optional[int]  # when the scope entered its current state
    until_ms: Optional[int]  # blind: armed again then if nothing else fails (None: unknown)
    while_blind: Optional[str]  # what the policy does while blind ("lock_trading: reducing"); None: nothing
    triggers: tuple[BlindTrigger, ...] = ()
    # blind, yet some trigger can still fire: "partly blind: dd_1h unknown; soft and hard can still
    # fire on dd_15m" (None: armed, unmatched, or blind with no trigger that can fire)
    partly: Optional[str] = None
    # blind: the earliest time any of its triggers can fire again if every tick reads, and those
    # triggers (engine Coverage.acts_from_ms: before until_ms, when all are armed); None: unknown
    acts_from_ms: Optional[int] = None
    acts_first: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """Unmatched as its scope's ``allow_empty: true`` allows: shown as unmatched, never alarmed on."""
        return self.reason == "UNMATCHED_ALLOWED"  # killswitch.engine.coverage.UNMATCHED_ALLOWED


@dataclass(frozen=True)
class ReceiverFailure:
    """A notification receiver whose latest delivery round failed every attempt."""

    document: str  # the routes document's name
    receiver: str
    cause: str  # "connection refused", "HTTP 401", "timeout after 10s", ... (fixed words: never a URL)
    since_ms: int  # the first failed round of this run of failures
    failures: int  # failed rounds in a row
    # the fallback receiver that delivered its latest failed page, and when (None: none did)
    fallback: Optional[str] = None
    fallback_ms: Optional[int] = None


@dataclass(frozen=True)
class RunnerStatus:
    mode: str  # dry-run | live
    leader: bool  # holds the lease (or runs alone)
    fence: int
    graph_digest: str
    graph_revision: Optional[str]
    policy_error: Optional[str]  # the last reload failure, while the last good graph keeps running
    last_tick_ms: Optional[int]
    scopes: tuple[ScopeStatus, ...] = ()
    data_age_s: dict = field(default_factory=dict)  # account → its data age in seconds (AccountState.data_age_ms)
    resuming: tuple[ResumeStatus, ...] = ()
    dms: dict = field(default_factory=dict)  # the dead man's switch, as GET /v1/dms shows it
    residuals: tuple[ResidualStatus, ...] = ()  # what closes left open and stopped trying to close
    coverage: tuple[CoverageStatus, ...] = ()  # every policy × scope instance: armed, blind or unmatched
    # "venue/account" -> {"code", "message" (scrubbed), "since_ms" (first failure of this run),
    # "failures" (in a row), "last_ms"}: only while the account's latest fetch failed (this runner's)
    fetch_errors: dict = field(default_factory=dict)
    # "venue/account" -> {"state" (off | connecting | live | stale | down), "reason", "since_ms",
    # "last_message_ms", "last_message_age_s", "reconnects", "disagreements", "reconciles",
    # "answers" (the snapshots are the stream's alone: live, REST agreed), "dropped" (kind -> count),
    # "last_reconcile_ms" / "last_reconcile_age_s" (the last good REST reconcile; None before the
    # first), "reconcile_every_s", "reconcile_failures" (failed since the last good one, in a row),
    # "reconcile_failure_reason" (the last one's code), "reconcile_overdue" (the last good one older
    # than 3x reconcile_every: REST read in front), "degraded" (not live, or overdue: polled over
    # REST)}: accounts whose adapter streams
    streams: dict = field(default_factory=dict)
    pages_failing: tuple[ReceiverFailure, ...] = ()  # receivers whose latest delivery round failed every attempt
    pages_failing_since_ms: Optional[int] = None  # the first failed round of the current run of failures
    reload_ok: bool = True  # False from a failed reload (or a start on the last good policies) until a good one
    last_good_reload_ms: Optional[int] = None  # when the running graph was loaded (start or reload)
    reload_failed_ms: Optional[int] = None  # when the last reload failed, while reload_ok is False
    tick_interval_s: Optional[float] = None  # the pace the runner ticks at (the console's "tick stalled")
    holder: Optional[str] = None  # this runner's name in the lease (--holder; the pod's name in the chart)
    lease_holder: Optional[str] = None  # who holds the lease, as it stores the name (None: nobody, or unknown)
    # venue → its REST weight of the last minute against its per-IP limit (killswitch.runner.readout.weights)
    venue_weight: dict = field(default_factory=dict)
    shard: Optional[str] = None  # the shard this runner runs (ksctl run --shard); None: not sharded
    # "venue/account" -> the bots' trading permission at the venue (revoke_trading, ksctl revoke):
    # "shown" (revoked (read back) | revoked (venue offers no read) | revoking … | REVOKE_FAILED: …;
    # never revoked until the venue confirmed it), "revoked", "read_back", "keys", "holds", "owed"
    trading: dict = field(default_factory=dict)
    # what broke a lock at the venue (this runner's, since it started, and the day before it read
    # back): {"total": n, "since_ms", "read_back" (since_ms is that day's start), "recent": [the
    # latest violations, newest first: key, kind, action (cancel | revert), scope, mode, account,
    # symbol, side, amount, notional, client_order_id, order_id, strategy, reason, ts_ms, outcome]}
    lock_violations: dict = field(default_factory=dict)
    # the gate's refusals and the venue watch's violations the engine counted (engine/tally.py, the
    # saved state's: a standby shows the leader's): {"since_ms" (counting began), "blind" (why the
    # last 5 minutes cannot be told, or None), "keys", "counts": [{"source" (gate | venue),
    # "account", "strategy", "symbol", "code", "last_1m", "last_5m"}, most first]}
    violation_counts: dict = field(default_factory=dict)
    # "venue/account" -> {"read" (hedge | one-way | unread), "declared", "source", "margin", "read_ms",
    # "mismatch", "reason" (POSITION_MODE_MISMATCH: ..., or why it is unread)}: the venue's mode rules closes
    position_modes: dict = field(default_factory=dict)
    # the position legs whose closes the venue refused: {"incident", "account", "symbol", "leg", "state"
    # (CLOSE_REJECTED | retrying), "tries", "bound", "kind", "reason", "venue_said" (its code and message),
    # "next_ms"}
    close_rejections: tuple[dict, ...] = ()
    silences_idle: tuple[str, ...] = ()  # IDLE: a silence in force on a scope with no open incident, each
    still_open: tuple[StillOpenStatus, ...] = ()  # orders a cancel meant to take that the venue still lists
    # what the runner reads less often under load (runner/tick/shed.py): {"level", "since_ms", "shed"
    # (in words), "loop_hold_max_ms_1m"}
    load: dict = field(default_factory=dict)
    # operator locks stored while no runner led, not applied by a leader yet (oldest first): {"request",
    # "scope", "mode", "stored_ms", "stored_by", "by", "reason"} (killswitch.runner.lease.stored)
    locks_stored: tuple[dict, ...] = ()
    # what runs per document, the newest sources handed, the checker's drift verdict (None: an older runner)
    policy_sync: Optional[PolicySyncStatus] = None
    # accounts of this runner no running policy's scope selects ("venue/account", sorted): UNGUARDED
    # (killswitch.engine.guarded)
    unguarded: tuple[str, ...] = ()
    # each policy's trading windows and their next change (killswitch.compile.windows.window_rows):
    # {"policy", "what" (lock | stage | limits), "level", "window", "open", "next_change_ms", "text"}
    windows: tuple[dict, ...] = ()
    # the overrides of the pre-trade limits not ended, and those ended in the last day (runner/override/)
    overrides: tuple[OverrideStatus, ...] = ()
    # the audit chain's SIEM sinks (--audit-sink; audit/siem/shipper.py), {} without one: {"required",
    # "sinks": [{"name", "target", "url" (no credentials, no query), "state" (up | down | unknown),
    # "cause" (the last error's reason code, while there is one), "since_ms" (its first failure),
    # "acknowledged_seq", "head_seq", "lag_rows", "shipping" (this runner leads and sends), "required"}]}
    audit_sinks: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ThresholdCheck:
    """One comparison of a trigger's condition against the signal's value at a tick."""

    signal: str
    op: str
    # as the policy writes it ("4.5%", "60s"), or the other signal's name; a computed threshold
    # as it was at the tick, then what it is computed from ("5.127% = max(4.5%, 3 * vol_1h)")
    threshold: str
    value: Optional[float]  # the signal's value (fraction, seconds, number); None: unknown
    value_text: str  # in the policy's unit: "5.2%", "75s", "unknown"; "never heard" (compared as 0s)
    breached: Optional[bool]  # None: a side has no value
    # why the value is unknown (INSUFFICIENT_HISTORY, NOT_EVALUATED, ...), or of a source never
    # heard within its grace, since when and until when, and what the trigger does then (NEVER_HEARD)
    reason: Optional[str] = None
    # the number the value was compared with at the tick (the literal, the other signal's value, or
    # the computed threshold); None: unknown, or not evaluated
    threshold_value: Optional[float] = None


@dataclass(frozen=True)
class TriggerStatus:
    """A trigger of a policy instance: whether it fires (the engine state, saved every tick, so a
    standby shows the leader's) and its comparisons against the values of this runner's last
    evaluation (``as_of_ms``; None: this runner has evaluated nothing, e.g. a standby)."""

    policy: str
    scope: str
    name: str
    when: str
    firing: bool
    since_ms: Optional[int]  # when the current run of a true condition began
    last_fire_ms: Optional[int]
    pending: Optional[str]  # "2/3 ticks" while confirming (from the last evaluation)
    reason: Optional[str]  # e.g. "MISSING_DATA: rule=hold"
    checks: tuple[ThresholdCheck, ...]
    as_of_ms: Optional[int]


@dataclass(frozen=True)
class OrderRow:
    """An order intent of the journal with its latest result (``status`` pending: none yet)."""

    client_order_id: str
    decision_id: str
    account: str  # venue/account
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    reduce_only: bool
    status: str
    filled: Optional[float]
    avg_price: Optional[float]
    reason_code: Optional[str]
    created_ms: int
    updated_ms: Optional[int]
    # what the venue (or the adapter) said of a refused order: "-1106 Parameter 'reduceOnly' sent when not required."
    detail: Optional[str] = None
    # why it was sent, as the intent says: the action's reason code ("CLOSE_ALL", "REDUCE_ALL_BY: fraction=50%")
    why: Optional[str] = None


@dataclass(frozen=True)
class PlannedRow:
    """An order a dry-run runner planned and did not send, as the audit trail holds it (one intent
    of an ``orders_planned_dry_run`` row): the intent as planned, and when."""

    client_order_id: str
    decision_id: str
    account: str  # venue/account
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    reduce_only: bool
    limit_price: Optional[float]
    notional: float
    action: str  # the policy action (or the manual close) that asked for it
    planned_ms: int


@dataclass(frozen=True)
class ApprovalRow:
    """A reset approval as the store recorded it."""

    approver: str
    reason: str
    ts_ms: int


@dataclass(frozen=True)
class IncidentStatus:
    """An open incident: the stage entry a scope is in now (``kind`` stage), or one of the latest
    manual closes (``kind`` manual_close), with what the store recorded of it: approvals of its
    reset, whether a runbook is stored, its orders (the latest :data:`~.readout.MAX_INCIDENT_ORDERS`; the
    counts in ``statuses`` cover all of them) and the residuals it left."""

    incident: str  # the decision id: "policy/scope/L3/e2", or "manual/scope/m<ms>"
    kind: str  # stage | manual_close
    policy: Optional[str]
    scope: str
    level: int
    stage_name: Optional[str]
    since_ms: Optional[int]  # the entry (or the close's request)
    manual: bool
    approvals_needed: int
    approvals: tuple[ApprovalRow, ...]
    runbook: bool  # GET /v1/runbooks/{incident} has one
    orders: tuple[OrderRow, ...]
    orders_total: int
    statuses: dict = field(default_factory=dict)  # status → count over every order of the incident
    residuals: tuple[ResidualStatus, ...] = ()
    # a dry run journals nothing: the orders it planned instead (the latest; the total counts all)
    planned: tuple[PlannedRow, ...] = ()
    planned_total: int = 0
    requested_by: Optional[str] = None  # a manual close: who asked for it (the caller's identity, as audited)
    ack: Optional[AckStatus] = None  # who has it (the latest acknowledgement), None: nobody said so
    acks: tuple[AckStatus, ...] = ()  # everyone who has it: each author's latest, oldest first
    silenced_by: tuple[SilenceStatus, ...] = ()  # the active silences that hold back its pages
    still_open: tuple[StillOpenStatus, ...] = ()  # orders its cancels meant to take that the venue still lists
    # a stage that leaves by itself: when, if its policy's triggers stay quiet, and the quiet it needs
    leaves_ms: Optional[int] = None
    quiet_s: Optional[float] = None


@dataclass(frozen=True)
class ActionPreview:
    """What an operator's action would do if sent now, worked out on copies and applied to
    nothing: the answer it would get (``reason``: ``LOCKED: ...``, ``APPROVAL_RECORDED: 1/2``,
    or the refusal, ``allowed`` false), the lock binding the scope before and after, one line
    per change, and for a close the orders it would send."""

    action: str  # lock | unlock | reset | close
    scope: str
    allowed: bool
    reason: str
    mode: str  # the runner's: dry-run | live
    lock_before: Optional[str] = None  # active | reducing | halted
    lock_after: Optional[str] = None
    effects: tuple[str, ...] = ()
    orders: tuple[PlannedOrder, ...] = ()
    # a close's: the symbol it is limited to, the id a close of this preview carries, the orders'
    # total notional, the maximum notional offered by default, and the oldest snapshot it is
    # planned from (the runner's clock, ms; how old the positions shown are)
    symbol: Optional[str] = None
    preview_id: Optional[str] = None
    notional: Optional[float] = None
    max_notional: Optional[float] = None
    as_of_ms: Optional[int] = None
    # a reset's: the triggers that still fire and the stage they enter again at the next tick
    # (also among the effects); the reset is refused RELATCH_UNCONFIRMED unless it confirms them
    relatch: tuple[str, ...] = ()
    leg: Optional[str] = None  # a close of one hedge leg of ``symbol`` (long | short); None: every leg


@dataclass(frozen=True)
class Caller:
    """Who a token is (``GET /v1/whoami``): its identity and roles."""

    identity: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ResetResult:
    """The answer to a reset approval: ``done`` when the stage was released."""

    done: bool
    reason: str  # APPROVAL_RECORDED: 1/2 ..., MANUAL_RESET: ..., NOT_ENGAGED, DUPLICATE_APPROVER
    # what follows an approval taken: a trigger that still fires enters the stage again at the next tick
    warnings: tuple[str, ...] = ()
    silences: tuple[SilenceStatus, ...] = ()  # the silences made for the incident: expired with it, or still on

    @property
    def taken(self) -> bool:
        """The approval was taken: the stage released (``done``), or the approval recorded and
        waiting for the next approver. Anything else (``NOT_ENGAGED``, ``DUPLICATE_APPROVER``,
        ``STAGE_CHANGED``, ``NOT_LEADER`` ...) is a refusal: nothing was recorded."""
        return self.done or self.reason.startswith("APPROVAL_RECORDED")


@dataclass(frozen=True)
class ChangeResult:
    """The answer to an operator's change (lock, unlock, dms arm / disarm)."""

    done: bool
    reason: str  # LOCKED, UNLOCKED, DMS_ARMED, ...; refusals: MANUAL_RESET_REQUIRED, NOT_LEADER, ...
    # a lock stored for the next leader (LOCK_STORED, HTTP 202): its request id; None otherwise
    stored: Optional[str] = None
    out_of_reach: tuple[str, ...] = ()  # a revoke's accounts it could not reach (no switch): not revoked


class RunnerView(Protocol):
    """What the API calls, as the runner's desk implements it: what answers from memory is a plain
    method; what waits (for the state store, or for its turn on the tick loop) is a coroutine.
    The API awaits whatever a call returns, so a fake view may answer every call at once."""

    def status(self) -> RunnerStatus:
        """The runner's status, its dead man's switch summarised (the most urgent sources, the
        counts, where every one is read: ``dms.summary``)."""

    def status_all(self) -> RunnerStatus:
        """The status with every dead man's switch source (``GET /v1/status?dms=all``)."""

    async def firm_status(self) -> dict:
        """The firm's shards, lease holder and firm-wide policies (a shard's runner only)."""

    async def firm_shards(self) -> dict:
        """Every shard (reachable, incidents, lock, console URL) and the firm-wide breaker, read
        from the firm's tables (a shard's runner only)."""

    async def firm_kill_status(self) -> dict:
        """The newest firm-wide kill's progress per shard and account (a shard's runner only)."""

    async def firm_kill_preview(self) -> dict:
        """What a firm-wide kill would do now, per shard, and the id the kill must carry."""

    async def firm_kill(self, reason: str, *, preview_id: Optional[str], actor: Optional[str] = None
                        ) -> ChangeResult: ...

    async def firm_kill_release(self, reason: str, *, approver: str) -> ChangeResult: ...

    async def ready(self) -> tuple[bool, str]:
        """(ready, why): policy loaded, state reachable, leader or standby."""

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """The trading lock as bots read it (the same document as the lock file), or one scope's."""

    def check_order(self, request: dict, counted: bool = True) -> Decision: ...

    async def heartbeat(self, source: str, now_ms: Optional[int] = None) -> Optional[str]:
        """None: taken; else why it was refused (``UNKNOWN_SOURCE: ...``, ``SOURCES_FULL: ...``)."""

    async def heartbeats(self, sources: Sequence[str], now_ms: Optional[int] = None) -> Mapping[str, str]:
        """The refused sources of the batch, each with its reason; the others were taken."""

    async def reset(self, policy: str, scope: str, approver: str, reason: str,
                    confirm_relatch: bool = False) -> ResetResult:
        """An approval; one taken while a trigger still fires (the stage would be entered again at
        the next tick) is refused ``RELATCH_UNCONFIRMED`` unless ``confirm_relatch``."""

    async def withdraw_reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        """``approver``'s own pending approval taken back (``APPROVAL_WITHDRAWN``, or refused
        ``NO_APPROVAL``); ``done`` is always false: no stage is released."""

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None,
                    symbol: Optional[str] = None, preview_id: Optional[str] = None,
                    max_notional: Optional[float] = None) -> CloseResult:
        """``actor``: who asked (the caller's identity), for the audit row; ``symbol``: only its
        positions; ``preview_id`` and ``max_notional``: the preview a live close applies, and the
        notional it must stay under."""

    async def close_progress(self, close_id: str) -> Optional[dict]:
        """Where a queued close stands (``state``: queued, working, settled, dry_run; order
        counts); None for a close this runner does not know."""

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None, enforce: Optional[dict] = None) -> ChangeResult:
        """An operator's lock on ``scope`` (halted or reducing), until unlocked or its ttl;
        ``enforce``: what it makes hold at the venue (``cancel``, ``revert_growth``; left out:
        by its mode)."""

    async def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> ChangeResult:
        """Lift the operator's and the dead man's switch's locks on ``scope``; refused while a
        policy's stage holds it (a manual-reset stage needs a reset)."""

    def dms_status(self) -> dict:
        """Armed sources (time since the last beat, time until it fires) and the venues' native
        cancel-all-after countdowns."""

    async def dms_arm(self, source: str, timeout_s: float, *, actor: Optional[str] = None) -> ChangeResult: ...

    async def dms_disarm(self, source: str, *, actor: Optional[str] = None) -> ChangeResult: ...

    async def runbook(self, incident: str) -> Optional[RunbookRecord]:
        """The stored runbook of ``incident`` (its ``markdown`` and ``html``), or None. Read from
        the state store, where the runbook sink writes it."""

    async def runbooks(self, since_ms: Optional[int] = None, limit: int = 50) -> Sequence[RunbookRecord]:
        """The latest ``limit`` stored runbooks created at or after ``since_ms``, oldest first."""

    def metrics_text(self) -> str:
        """Prometheus exposition of the runner's metrics."""

    def triggers(self) -> tuple[TriggerStatus, ...]:
        """Every trigger of every policy instance: firing or not, and its comparisons."""

    async def incidents(self) -> tuple[IncidentStatus, ...]:
        """The open incidents with what the store recorded of them (approvals, orders, runbook)."""

    def preview_lock(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None) -> ActionPreview: ...

    def preview_unlock(self, scope: str) -> ActionPreview: ...

    def preview_reset(self, policy: str, scope: str, approver: str) -> ActionPreview: ...

    async def preview_close(self, scope: str, symbol: Optional[str] = None) -> ActionPreview: ...

    def preview_revoke(self, scope: str) -> ActionPreview: ...

    def preview_restore(self, scope: str, approver: str) -> ActionPreview: ...

    async def revoke_trading(self, scope: str, reason: str, *, preview_id: Optional[str], approvals: int = 1,
                             actor: Optional[str] = None) -> ChangeResult: ...

    async def restore_trading(self, scope: str, reason: str, *, approver: str) -> ChangeResult: ...

    async def accept_rejection(self, account: str, reason: str, *, actor: Optional[str] = None,
                               symbol: Optional[str] = None, leg: Optional[str] = None,
                               incident: Optional[str] = None) -> ChangeResult:
        """A person accepts the closes the venue refused of ``account``'s legs (those named):
        their facts end, audited ``close_rejection_accepted``."""

    def positions(self) -> PositionsStatus:
        """Every account's positions from this runner's last snapshots, with their age."""

    def silences(self) -> tuple[SilenceStatus, ...]:
        """The silences in force and those ended in the last day, oldest first."""

    async def silence_add(self, matchers: Sequence[str], duration_s: float, comment: str, *,
                          actor: str) -> SilenceResult:
        """Silence the pages every matcher (``policy=futures-book``) matches for ``duration_s``."""

    async def silence_expire(self, silence_id: str, *, actor: str) -> SilenceResult: ...

    def silence_preview(self, matchers: Sequence[str], incident: Optional[str] = None) -> Any:
        """What a silence of ``matchers`` would hold back now (a :class:`.silence_view.SilencePreview`)."""

    async def silence_change(self, silence_id: str, duration_s: Optional[float], comment: Optional[str], *,
                             actor: str) -> SilenceResult: ...

    def overrides(self) -> tuple[OverrideStatus, ...]:
        """The overrides of the limits not ended, and those ended in the last day."""

    async def override_request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float, *,
                               actor: str, strategy: Optional[str] = None, limit: Optional[str] = None,
                               raise_to: Optional[float] = None, order: Optional[str] = None) -> OverrideResult: ...

    async def override_approve(self, override_id: str, *, actor: str) -> OverrideResult: ...

    async def override_end(self, override_id: str, *, actor: str) -> OverrideResult: ...

    async def audit_api_refusal(self, payload: dict) -> None:
        """An audit row for a request the API refused for a trusted proxy's headers sent by another."""

    async def audit_signin(self, kind: str, payload: dict) -> None:
        """An audit row for a person signed in to the console or out (``console_signin``, ``console_signout``)."""

    async def audit_write_refusal(self, payload: dict) -> None:
        """An audit row for an operator's write the API refused before any command saw it."""

    async def record_drift(self, verdict: Any) -> ChangeResult:
        """The checker's drift verdict about this runner (a :class:`.sync.values.DriftVerdict`),
        stored and shown: ``DRIFT_RECORDED: <state>``."""

    async def acknowledge(self, incident: Optional[str], policy: Optional[str], scope: Optional[str],
                          comment: str, *, actor: str) -> ChangeResult:
        """``actor`` has the incident (named, or the one ``policy``'s ``scope`` is in now)."""
