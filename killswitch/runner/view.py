"""What the HTTP API (and the operator commands) may ask of a running runner.

The API module depends on this protocol only, so it can be built and tested with a fake, and
the runner implements it. Every method is quick and never blocks on an exchange: status and
lock come from memory, mutations are queued for the tick loop or answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Protocol

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
class RunnerStatus:
    mode: str  # dry-run | live
    leader: bool  # holds the lease (or runs alone)
    fence: int
    graph_digest: str
    graph_revision: Optional[str]
    policy_error: Optional[str]  # the last reload failure, while the last good graph keeps running
    last_tick_ms: Optional[int]
    scopes: tuple[ScopeStatus, ...] = ()
    data_age_s: dict = field(default_factory=dict)  # account → seconds since its last good snapshot


@dataclass(frozen=True)
class ResetResult:
    done: bool
    reason: str  # APPROVAL_RECORDED: 1/2 ..., MANUAL_RESET: ..., NOT_ENGAGED, DUPLICATE_APPROVER


@dataclass(frozen=True)
class CloseResult:
    accepted: bool
    reason: str
    orders: int = 0


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

    def metrics_text(self) -> str:
        """Prometheus exposition of the runner's metrics."""
