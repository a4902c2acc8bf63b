"""The plan of ``ksctl plan`` as a value: the stage changes the policies would make, with their
orders, cancels and directives, and which accounts the plan saw and which it could not read.

A plan that could not read an account does not know what the policies would do there. So a
plan carries, for every account it tried to read, how many of its snapshots were read and, for
those that were not, the reason code and a message (free of secrets: adapters scrub them). It
is *complete* only when every snapshot of every account was read; renderers must never say
"no changes" of an account the plan did not see (:mod:`killswitch.render.plan`), and the CLI
exits non-zero on an incomplete plan unless told otherwise (:mod:`killswitch.cli.plan`).

What it owns: :class:`PlanResult`, the changes drawn from evaluations (and what the last
snapshots break of the policies' pre-trade limits: :mod:`.limits`), and the two ways of
building a plan — over one live snapshot per account (:func:`plan_snapshots`) and over a
recording (:func:`plan_ticks`). The account coverage is :mod:`killswitch.preview.coverage`'s.
What it must not do: fetch snapshots, read files, read a clock, print or choose exit codes.
Pure: the caller passes the snapshots, the state and the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation, evaluate
from ..engine.limit_tables import BookBreach
from ..engine.planner import NO_RATES
from ..engine.plans import Plan
from ..engine.stages import StageTransition
from ..engine.state import State
from ..engine.triggers import TriggerResult
from ..orders import NO_SENDS, Sends
from ..snapshot import Snapshot
from .coverage import EVALUATED, NOT_READ, PARTLY_READ, AccountCoverage, BlindSpell, BlindTally, CoverageTally, complete
from .limits import limit_breaches, sets_limits
from .overlaps import CloseTotals, Decided, close_totals
from .replay import Tick, replay

__all__ = ["EVALUATED", "NOT_READ", "PARTLY_READ", "AccountCoverage", "PlanResult", "StageChange", "changes_of",
           "plan_snapshots", "plan_ticks"]


@dataclass(frozen=True)
class StageChange:
    """One stage transition of one scope at tick time ``now_ms`` (UTC), with what it plans
    (``plan`` is None when the stage plans nothing, e.g. a move down after a reset), and the
    send number of each of its cancels and orders among everything its tick sends
    (:func:`killswitch.orders.send_sequence`)."""

    now_ms: int
    policy: str
    scope: str
    transition: StageTransition
    plan: Optional[Plan]
    send: Sends = NO_SENDS  # (cancels, orders), in the order of the plan's
    # the scope's triggers at that tick: what fired, and every threshold computed then
    triggers: tuple[TriggerResult, ...] = ()


@dataclass(frozen=True)
class PlanResult:
    """The stage changes, oldest first; the accounts the plan tried to read, by ``venue/account``;
    the ticks evaluated (live: one)."""

    changes: tuple[StageChange, ...]
    accounts: tuple[AccountCoverage, ...]
    ticks: int
    blind: tuple[BlindSpell, ...] = ()  # policy scopes it could not evaluate (warm-ups included)
    last: Optional[Evaluation] = None  # the last tick's evaluation: the signal values shown
    # what the last tick's positions and open orders break of the policies' pre-trade limits
    limit_breaches: tuple[BookBreach, ...] = ()
    limits_set: bool = False  # a policy sets pre-trade limits (the plan says what the book breaks)
    # live, with the stored state: what the locks in force would cancel and revert at the venue now
    # (killswitch.runner.watch.enforce.Watch, worked out by the caller, which holds the stored lock book)
    watch: Any = None

    @property
    def complete(self) -> bool:
        """Every snapshot of every account was read, and every trigger evaluated (but in a
        recording's warm-up)."""
        return complete(self.accounts) and not self.gaps

    @property
    def read_all(self) -> bool:
        """Every snapshot of every account was read."""
        return complete(self.accounts)

    @property
    def gaps(self) -> tuple[BlindSpell, ...]:
        """The spells that make the plan incomplete (:attr:`BlindSpell.gap`)."""
        return tuple(b for b in self.blind if b.gap)

    @property
    def evaluated(self) -> tuple[AccountCoverage, ...]:
        """Accounts read on every snapshot."""
        return tuple(a for a in self.accounts if a.status == EVALUATED)

    @property
    def unread(self) -> tuple[AccountCoverage, ...]:
        """Accounts with at least one snapshot that could not be read (partly or not read)."""
        return tuple(a for a in self.accounts if a.status != EVALUATED)

    def totals(self) -> CloseTotals:
        """Gross and net notional of the orders, and the positions more than one change closes."""
        return close_totals(Decided(c.now_ms, c.policy, c.scope, c.transition.to_level,
                                    c.plan.decision_id, c.plan.orders) for c in self.changes if c.plan)


def changes_of(evaluations: Iterable[Evaluation]) -> list[StageChange]:
    """Every stage transition of ``evaluations``, oldest first."""
    return [StageChange(ev.now_ms, s.policy, s.scope, s.transition, s.plan, send, s.triggers)
            for ev in evaluations for s, send in zip(ev.scopes, ev.sends()) if s.transition is not None]


def plan_snapshots(graph: DecisionGraph, snapshots: Iterable[Snapshot], state: Optional[State],
                   now_ms: int, rates: Mapping[str, float] = NO_RATES, scores: str = "none") -> PlanResult:
    """The plan over one snapshot per account at ``now_ms`` (a failed fetch is a snapshot with
    ``fetch.ok`` false: the policies see it as missing data, the plan as an account not read).
    ``rates``: orders per second by venue, from the accounts' adapters; ``scores``: list the
    risk scores of the scopes that plan closes (``none``, ``top``, ``all``)."""
    snaps = list(snapshots)
    tally = CoverageTally()
    for s in snaps:
        tally.saw(s, now_ms)
    ev, _ = evaluate(graph, snaps, state, now_ms, rates, scores)
    blind = BlindTally(live=True)
    blind.saw(ev)
    return PlanResult(tuple(changes_of([ev])), tally.accounts(), 1, blind.spells(), ev,
                      limit_breaches(graph, snaps, now_ms), sets_limits(graph))


def plan_ticks(graph: DecisionGraph, ticks: Iterable[Tick], state: Optional[State] = None,
               scores: str = "none") -> PlanResult:
    """The plan over a recording, tick by tick with ``state`` (raises ``ReplayError`` as replay does)."""
    tally = CoverageTally()
    blind = BlindTally(live=False)
    evaluations = []
    breaches: tuple[BookBreach, ...] = ()
    last_tick: Optional[Tick] = None
    for tick, ev, _ in replay(graph, ticks, state, scores):
        for s in tick.snapshots:
            tally.saw(s, tick.now_ms)
        blind.saw(ev)
        evaluations.append(ev)
        last_tick = tick
    if last_tick is not None:
        breaches = limit_breaches(graph, last_tick.snapshots, last_tick.now_ms)
    return PlanResult(tuple(changes_of(evaluations)), tally.accounts(), len(evaluations), blind.spells(),
                      evaluations[-1] if evaluations else None, breaches, sets_limits(graph))
