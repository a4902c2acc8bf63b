"""What the HTTP API (and the operator commands) may ask of a running runner.

The API module depends on this protocol only, so it can be built and tested with a fake, and
the runner implements it. Every method is quick and never blocks on an exchange: status and
lock come from memory, mutations are queued for the tick loop or answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from .gate import Decision


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


@dataclass(frozen=True)
class ResidualStatus:
    """A position a close left open that the runner stopped closing (see
    :mod:`killswitch.runner.residuals`): closing it, or accepting it, is up to a person."""

    incident: str  # the stage entry (or manual close) that wanted it closed
    policy: Optional[str]
    scope: str
    account: str
    symbol: str
    side: str  # long | short
    position_side: Optional[str]
    amount: float  # contracts, as of the last good snapshot
    why: str  # BELOW_MINIMUM | CLOSE_RETRIES_EXHAUSTED
    detail: str
    since_ms: int
    as_of_ms: int


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


@dataclass(frozen=True)
class ResetResult:
    done: bool
    reason: str  # APPROVAL_RECORDED: 1/2 ..., MANUAL_RESET: ..., NOT_ENGAGED, DUPLICATE_APPROVER


@dataclass(frozen=True)
class CloseResult:
    accepted: bool
    reason: str
    orders: int = 0
    id: Optional[str] = None  # the close's decision id, to follow it with close_progress


@dataclass(frozen=True)
class ChangeResult:
    """The answer to an operator's change (lock, unlock, dms arm / disarm)."""

    done: bool
    reason: str  # LOCKED, UNLOCKED, DMS_ARMED, ...; refusals: MANUAL_RESET_REQUIRED, NOT_LEADER, ...


class RunnerView(Protocol):
    def status(self) -> RunnerStatus: ...

    def ready(self) -> tuple[bool, str]:
        """(ready, why): policy loaded, state reachable, leader or standby."""

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """The trading lock as bots read it (the same document as the lock file), or one scope's."""

    def check_order(self, request: dict) -> Decision: ...

    def heartbeat(self, source: str, now_ms: Optional[int] = None) -> None: ...

    def reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult: ...

    def close(self, scope: str, reason: str, dry_run: bool) -> CloseResult: ...

    def close_progress(self, close_id: str) -> Optional[dict]:
        """Where a queued close stands (``state``: queued, working, settled, dry_run; order
        counts); None for a close this runner does not know."""

    def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float]) -> ChangeResult:
        """An operator's lock on ``scope`` (halted or reducing), until unlocked or its ttl."""

    def unlock_scope(self, scope: str, reason: str) -> ChangeResult:
        """Lift the operator's and the dead man's switch's locks on ``scope``; refused while a
        policy's stage holds it (a manual-reset stage needs a reset)."""

    def dms_status(self) -> dict:
        """Armed sources (time since the last beat, time until it fires) and the venues' native
        cancel-all-after countdowns."""

    def dms_arm(self, source: str, timeout_s: float) -> ChangeResult: ...

    def dms_disarm(self, source: str) -> ChangeResult: ...

    def runbook(self, incident: str) -> Optional[Any]:
        """The stored runbook of ``incident`` (a :class:`~killswitch.state.RunbookRecord`: its
        ``markdown`` and ``html``), or None. Read from the state store, where the runbook sink
        writes it."""

    def metrics_text(self) -> str:
        """Prometheus exposition of the runner's metrics."""
