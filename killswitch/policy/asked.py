"""What an action asks for, where no plan is made.

What it owns: :func:`asked`, which runs an action kind's ``plan`` against :class:`Asked`, an
:class:`~killswitch.policy.registry.ActionPlanning` that reads nothing of a scope (no position,
equity unknown, attribution ``UNKNOWN``), and keeps what the action asks for but its closes and
hedges (they read positions). Every reader that makes no plan reads a stage's actions here,
never by their kind: a firm-wide policy's directives (each shard cancels, locks and closes on
its own accounts), a runbook's sample and incident, the notification routes, the runner's
countdowns and revokes, the policy's checks. A new kind reaches them all through its ``plan``.

Pure: no I/O, no clock.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterator, Optional

from ..records import record
from .positions import PositionCondition
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


@record
class NoticeAsked:
    """A notification an action asks for: through which route, at which severity."""

    route: str
    severity: str  # info | warning | critical


@record
class SelectionAsked:
    """What a close of selected positions names: a correlation group, a condition (the checks')."""

    correlation_group: Optional[str]
    where: Optional[PositionCondition]


@dataclass
class Asked:
    """The requests of an action that reads nothing of its scope, in the order asked (the
    planner's port refuses the same requests it would: see its checks)."""

    cancels: list[CancelAsked] = field(default_factory=list)
    locks: list[LockAsked] = field(default_factory=list)
    closes_all: bool = False
    selections: list[SelectionAsked] = field(default_factory=list)
    countdowns: list[int] = field(default_factory=list)
    revokes: bool = False
    notices: list[NoticeAsked] = field(default_factory=list)
    runbooks: list[str] = field(default_factory=list)

    equity: Optional[float] = None
    positions_known: bool = False
    attribution: str = "UNKNOWN"

    @property
    def directed(self) -> bool:
        """The plan shows it as a directive: a lock, or what the runner and the sinks carry out."""
        return bool(self.locks or self.countdowns or self.revokes or self.notices or self.runbooks)

    def positions(self) -> Iterator[tuple[Any, Any]]:
        return iter(())

    def closing(self, snapshot: Any, position: Any) -> float:
        return 0.0

    def base_asset(self, symbol: str) -> str:
        return symbol.split("/", 1)[0]

    def _kept_not(self, *_: object) -> None:
        return None  # (no position is handed out: nothing to close, rank, skip or hedge)

    close = skip = suggest_hedge = close_top_risk = _kept_not

    def cancel(self, which: str, symbols: Collection[str] = ()) -> None:
        if which not in ("entries", "all"):
            raise ValueError(f"cancel which={which!r}; entries or all")
        self.cancels.append(CancelAsked(which, tuple(symbols)))

    def lock(self, mode: str, ttl_ms: Optional[int], cancel: bool, revert_growth: bool) -> None:
        if mode not in ("reducing", "halted"):
            raise ValueError(f"lock mode={mode!r}; reducing or halted")
        self.locks.append(LockAsked(mode, ttl_ms, bool(cancel), bool(revert_growth)))

    def close_all(self) -> None:
        self.closes_all = True

    def close_selected(self, symbols: tuple[str, ...], side: str, min_loss: Optional[float],
                       correlation_group: Optional[str], where: Optional[PositionCondition], count: Optional[int],
                       rank_by: Optional[str]) -> None:
        self.selections.append(SelectionAsked(correlation_group, where))

    def arm_countdown(self, after_ms: int) -> None:
        self.countdowns.append(after_ms)

    def revoke(self) -> None:
        self.revokes = True

    def notify(self, route: str, severity: str) -> None:
        self.notices.append(NoticeAsked(route, severity))

    def runbook(self, template: str) -> None:
        self.runbooks.append(template)


def asked(plan: Callable[[Any, ActionPlanning], None], params: Any) -> Asked:
    """The cancels and locks ``plan`` (an action kind's) asks for with ``params`` (its built
    parameters), reading nothing of a scope."""
    out = Asked()
    plan(params, out)
    return out


__all__ = ["CancelAsked", "LockAsked", "NoticeAsked", "SelectionAsked", "Asked", "asked"]
