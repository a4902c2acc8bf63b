"""Overrides of the pre-trade limits as ``GET /v1/overrides``, ``ksctl override list``, the
status and the console show them, and the answer to a request, an approval or an end.

Values only (re-exported by :mod:`killswitch.view`); :mod:`killswitch.runner.override`
works them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ..overrides import Override


@dataclass(frozen=True)
class OverrideStatus:
    """One override as of ``as_of_ms``: ``state`` pending (approvals missing), active (in force)
    or ended (``end_reason``: expired, ended, used, or ``halted by <who> on <scope>``: the halt)."""

    id: str
    scope: str
    strategy: Optional[str]
    kind: str  # raise | waive | order
    limit: Optional[str]
    raise_to: Optional[float]
    order: Optional[str]
    value: Optional[float]  # the limit's value when asked
    reason_code: str
    reason: str
    requester: str
    approvers: tuple[str, ...]
    approvals: int  # held, the requester's counted
    needed: int
    requested_ms: int
    expires_ms: int
    approved_ms: Optional[int]
    state: str
    as_of_ms: int
    ended_ms: Optional[int] = None
    ended_by: Optional[str] = None
    end_reason: Optional[str] = None
    what: str = ""  # in words: "raise max_order_notional to 150000"


@dataclass(frozen=True)
class OverrideResult:
    """The answer to a request, an approval or an end: done, why (its reason code first), and
    the override as it is now."""

    done: bool
    reason: str
    override: Optional[OverrideStatus] = None


def override_status(o: "Override", now: int) -> OverrideStatus:
    """``o`` as shown at ``now`` (one past its expiry and not ended yet is shown ended, expired)."""
    ended = o.ended_ms is not None
    return OverrideStatus(o.id, o.scope, o.strategy, o.kind, o.limit, o.raise_to, o.order, o.value, o.reason_code,
                          o.reason, o.requester, o.approvers, len(o.approvals), o.needed, o.requested_ms,
                          o.expires_ms, o.approved_ms, o.state(now), now, o.ended_ms, o.ended_by if ended else None,
                          o.end_reason if ended else ("expired" if now >= o.expires_ms else None), o.what)
