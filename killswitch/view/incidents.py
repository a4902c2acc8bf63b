"""What the API answers of one incident and its triggers (``GET /v1/incidents``,
``GET /v1/triggers``): the thresholds checked, the orders sent and planned, the approvals given,
and when a stage that leaves by itself leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .status import AckStatus, RelatchStatus, ResidualStatus, SilenceStatus, StillOpenStatus


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
class _Intent:
    """What an order intent names, first in each row of one (sent or only planned)."""

    client_order_id: str
    decision_id: str
    account: str  # venue/account
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    reduce_only: bool


@dataclass(frozen=True)
class OrderRow(_Intent):
    """An order intent of the journal with its latest result (``status`` pending: none yet)."""

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
class PlannedRow(_Intent):
    """An order a dry-run runner planned and did not send, as the audit trail holds it (one intent
    of an ``orders_planned_dry_run`` row): the intent as planned, and when."""

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
    reset, whether a runbook is stored, its orders (the latest
    :data:`~killswitch.face.readout.readout.MAX_INCIDENT_ORDERS`; the counts in ``statuses``
    cover all of them) and the residuals it left."""

    incident: str  # the decision id: "policy/scope/L3/e2", or "manual/scope/m<ms>"
    kind: str  # stage | manual_close
    policy: Optional[str]
    scope: str
    level: int
    stage_name: Optional[str]
    since_ms: Optional[int]  # the stage's first entry (or the close's request), as the status's ``entered_ms``
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
    own_lock_ended: Optional[str] = None  # its own ttl'd lock ran out while it holds on (readout/own_lock.py)
    # the latest cooldown re-run of the stage (entered again at the same level: this incident id),
    # None: not re-run since its first entry (``since_ms``)
    rerun_ms: Optional[int] = None
    # entered at the first tick after a manual reset (a trigger still fired): the incident that reset
    # ended, which this one continues, with its orders and who had it
    continues: Optional[RelatchStatus] = None
