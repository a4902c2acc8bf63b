"""What an operator's action answers: its preview (worked out on copies, applied to nothing),
who the caller is, and the result of a reset approval or of a change (lock, unlock, revoke)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .closes import PlannedOrder
from .status import SilenceStatus


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
