"""What an action asks for cancels and locks, where no plan is made.

What it owns: :func:`asked`, which runs an action kind's ``plan`` against :class:`Asked`, an
:class:`~killswitch.policy.registry.ActionPlanning` that reads nothing of a scope (no position,
equity unknown, attribution ``UNKNOWN``), and keeps the cancels (:class:`CancelAsked`) and locks
(:class:`LockAsked`) the action asks for — the closes and hedges it might ask read positions,
and are not kept. Two readers make no plan: a firm-wide policy's directives (the firm lease holder
reads no position: each shard cancels and locks on its own accounts, from what the stage's
actions ask here), and a runbook's sample (what a stage would cancel and lock). So a new
cancel- or lock-style kind reaches both through its ``plan``, with no list to edit.

Pure: no I/O, no clock.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterator, Optional

from ..records import record
from .registry import ActionPlanning


@record
class CancelAsked:
    """A cancel an action asks for: which orders, of which symbols."""

    which: str  # entries | all
    symbols: tuple[str, ...]  # empty: every symbol


@record
class LockAsked:
    """A lock of the bots' trading an action asks for, and what it makes hold at the venue."""

    mode: str  # reducing | halted
    ttl_ms: Optional[int]  # None: until the stage resets
    cancel: bool  # enforced at the venue: cancel the orders adding exposure
    revert_growth: bool  # enforced at the venue: bring a position that grew back


@dataclass
class Asked:
    """The requests of an action that reads nothing of its scope: its cancels and locks, in the
    order asked (the planner's port refuses the same requests it would: see its checks)."""

    cancels: list[CancelAsked] = field(default_factory=list)
    locks: list[LockAsked] = field(default_factory=list)

    equity: Optional[float] = None
    positions_known: bool = False
    attribution: str = "UNKNOWN"

    def positions(self) -> Iterator[tuple[Any, Any]]:
        return iter(())

    def closing(self, snapshot: Any, position: Any) -> float:
        return 0.0

    def base_asset(self, symbol: str) -> str:
        return symbol.split("/", 1)[0]

    def close(self, snapshot: Any, position: Any, fraction: float, reason: str) -> None:
        return None  # (no position is handed out: nothing to close)

    def skip(self, reason: str) -> None:
        return None

    def suggest_hedge(self, base: str, side: str, notional: float, reason: str) -> None:
        return None

    def cancel(self, which: str, symbols: Collection[str] = ()) -> None:
        if which not in ("entries", "all"):
            raise ValueError(f"cancel which={which!r}; entries or all")
        self.cancels.append(CancelAsked(which, tuple(symbols)))

    def lock(self, mode: str, ttl_ms: Optional[int], cancel: bool, revert_growth: bool) -> None:
        if mode not in ("reducing", "halted"):
            raise ValueError(f"lock mode={mode!r}; reducing or halted")
        self.locks.append(LockAsked(mode, ttl_ms, bool(cancel), bool(revert_growth)))


def asked(plan: Callable[[Any, ActionPlanning], None], params: Any) -> Asked:
    """The cancels and locks ``plan`` (an action kind's) asks for with ``params`` (its built
    parameters), reading nothing of a scope."""
    out = Asked()
    plan(params, out)
    return out


__all__ = ["CancelAsked", "LockAsked", "Asked", "asked"]
