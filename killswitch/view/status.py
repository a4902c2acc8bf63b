"""What ``GET /v1/status`` answers of the runner as a whole: the scopes, their locks and
resumes, the residuals and what is still open, coverage and what it cannot see, the silences and
acknowledgements, and the receivers that fail (the incidents' own values are :mod:`.incidents`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..facts import Fact
from .overrides import OverrideStatus
from .policy_sync import PolicySyncStatus


@dataclass(frozen=True)
class AckStatus:
    """Who has an incident (its latest acknowledgement), since when, with what note."""

    incident: str
    author: str
    ts_ms: int
    comment: str = ""


@dataclass(frozen=True)
class RelatchStatus:
    """A stage entry made at the first tick after a manual reset (a trigger still fired): the
    reset (when, by whom) and the incident it ended, which the entry continues, with that
    incident's orders and who had acknowledged it as the reset found them (``orders`` None: not
    counted). Its keys are those :func:`killswitch.relatch.relatched_text` reads."""

    incident: str
    reset_ms: int
    by: tuple[str, ...]
    orders: Optional[int] = None
    acked_by: tuple[str, ...] = ()


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
    removed_ms: Optional[int] = None  # when it was found removed (a reload, a start, a takeover)
    # a stage that leaves by itself: when, if its policy's triggers stay quiet, and the quiet it needs
    leaves_ms: Optional[int] = None
    quiet_s: Optional[float] = None
    firing: bool = False  # a trigger of its stage fired at the last tick: the quiet has not begun
    # its own lock's ttl ran out while it holds on: when, and what binds instead (readout/own_lock.py)
    own_lock_ended: Optional[str] = None
    continues: Optional[RelatchStatus] = None  # entered at the first tick after a reset: what it continues


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

    @property
    def acts_unknown(self) -> bool:
        """Blind, and when it can fire again is not known: neither a trigger's time nor when it
        is armed again (by then every trigger can fire: the time a standby, which has no
        trigger's, still knows). A partly blind one can fire now. What status and the console
        say "can fire again: unknown" of, and of nothing else."""
        return self.state == "blind" and not self.partly and self.acts_from_ms is None and self.until_ms is None


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
    # than 3x reconcile_every: REST read in front), "unstreamed" (the held symbols whose marks the
    # venue refused to stream: STREAM_MARKS_REFUSED, REST read in front), "degraded" (not live,
    # overdue or a mark unstreamed: polled over REST)}: accounts whose adapter streams
    streams: dict = field(default_factory=dict)
    pages_failing: tuple[ReceiverFailure, ...] = ()  # receivers whose latest delivery round failed every attempt
    pages_failing_since_ms: Optional[int] = None  # the first failed round of the current run of failures
    reload_ok: bool = True  # False from a failed reload (or a start on the last good policies) until a good one
    last_good_reload_ms: Optional[int] = None  # when the running graph was loaded (start or reload)
    reload_failed_ms: Optional[int] = None  # when the last reload failed, while reload_ok is False
    tick_interval_s: Optional[float] = None  # the pace the runner ticks at (the console's "tick stalled")
    holder: Optional[str] = None  # this runner's name in the lease (--holder; the pod's name in the chart)
    lease_holder: Optional[str] = None  # who holds the lease, as it stores the name (None: nobody, or unknown)
    # venue → its REST weight of the last minute against its per-IP limit (killswitch.face.readout.weights)
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
    # (CLOSE_REJECTED | retrying), "tries" (the orders refused), "rounds" (the tries: a close sent in
    # chunks is one), "bound", "kind", "reason", "venue_said" (its code and message),
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
    # the standing facts of all the above, what can lose money first (killswitch/facts/: each
    # with what it stands on, since when, what ends it, its sentence and its hint); what ksctl
    # status, the console and the runbooks iterate
    facts: tuple[Fact, ...] = ()
