"""The plan of ``ksctl plan`` as a value: the stage changes the policies would make, with their
orders, cancels and directives, and which accounts the plan saw and which it could not read.

A plan that could not read an account does not know what the policies would do there. So a
plan carries, for every account it tried to read, how many of its snapshots were read and, for
those that were not, the reason code and a message (free of secrets: adapters scrub them). It
is *complete* only when every snapshot of every account was read; renderers must never say
"no changes" of an account the plan did not see (:mod:`killswitch.render.plan`), and the CLI
exits non-zero on an incomplete plan unless told otherwise (:mod:`killswitch.cli.plan`).

What it owns: :class:`PlanResult`, the changes drawn from evaluations, the account coverage
and the two ways of building a plan — over one live snapshot per account
(:func:`plan_snapshots`) and over a recording (:func:`plan_ticks`).
What it must not do: fetch snapshots, read files, read a clock, print or choose exit codes.
Pure: the caller passes the snapshots, the state and the time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable, Optional

from .compile.graph import DecisionGraph
from .engine.evaluate import Evaluation, evaluate
from .engine.planner import Plan
from .engine.stages import StageTransition
from .engine.state import State
from .replay import Tick, replay
from .snapshot import Snapshot

# Account statuses: every snapshot read, some read, none read.
EVALUATED = "evaluated"
PARTLY_READ = "partly_read"
NOT_READ = "not_read"

# The reason code of a failed snapshot that does not say why (a recording written without one).
UNKNOWN_REASON = "UNKNOWN"


@dataclass(frozen=True)
class AccountCoverage:
    """What the plan saw of one account: ``snapshots`` tried (live: one; a recording: the ticks
    the account appears in), ``failed`` of them not read, the distinct reason codes of those
    failures in the order they first came, and the last failure's message and times (UTC ms)."""

    venue: str
    account: str
    snapshots: int = 0
    failed: int = 0
    reasons: tuple[str, ...] = ()
    message: Optional[str] = None
    first_failed_ms: Optional[int] = None
    last_failed_ms: Optional[int] = None

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.account}"

    @property
    def read(self) -> int:
        return self.snapshots - self.failed

    @property
    def reason(self) -> Optional[str]:
        """The reason code of the last failure (None when every snapshot was read)."""
        return self.reasons[-1] if self.reasons else None

    @property
    def status(self) -> str:
        if self.failed == 0:
            return EVALUATED
        return NOT_READ if self.read == 0 else PARTLY_READ


class CoverageTally:
    """Counts, account by account, the snapshots a plan tried and the ones it could not read."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], AccountCoverage] = {}

    def saw(self, snap: Snapshot, now_ms: int) -> None:
        """One snapshot of an account, read or failed (``fetch.ok``), at tick time ``now_ms``."""
        if snap.fetch.ok:
            self._add(snap.venue, snap.account, None, None, now_ms)
        else:
            self._add(snap.venue, snap.account, snap.fetch.error_code or UNKNOWN_REASON, snap.fetch.error, now_ms)

    def _add(self, venue: str, account: str, reason: Optional[str], message: Optional[str], now_ms: int) -> None:
        c = self._by_key.get((venue, account)) or AccountCoverage(venue, account)
        if reason is None:
            c = dataclasses.replace(c, snapshots=c.snapshots + 1)
        else:
            c = dataclasses.replace(
                c, snapshots=c.snapshots + 1, failed=c.failed + 1,
                reasons=c.reasons if reason in c.reasons else c.reasons + (reason,),
                message=message if message is not None else c.message,
                first_failed_ms=c.first_failed_ms if c.first_failed_ms is not None else now_ms,
                last_failed_ms=now_ms)
        self._by_key[(venue, account)] = c

    def accounts(self) -> tuple[AccountCoverage, ...]:
        return tuple(self._by_key[k] for k in sorted(self._by_key))


@dataclass(frozen=True)
class StageChange:
    """One stage transition of one scope at tick time ``now_ms`` (UTC), with what it plans
    (``plan`` is None when the stage plans nothing, e.g. a move down after a reset)."""

    now_ms: int
    policy: str
    scope: str
    transition: StageTransition
    plan: Optional[Plan]


@dataclass(frozen=True)
class PlanResult:
    """The stage changes, oldest first; the accounts the plan tried to read, by ``venue/account``;
    the ticks evaluated (live: one)."""

    changes: tuple[StageChange, ...]
    accounts: tuple[AccountCoverage, ...]
    ticks: int

    @property
    def complete(self) -> bool:
        """Every snapshot of every account was read."""
        return all(a.failed == 0 for a in self.accounts)

    @property
    def evaluated(self) -> tuple[AccountCoverage, ...]:
        """Accounts read on every snapshot."""
        return tuple(a for a in self.accounts if a.status == EVALUATED)

    @property
    def unread(self) -> tuple[AccountCoverage, ...]:
        """Accounts with at least one snapshot that could not be read (partly or not read)."""
        return tuple(a for a in self.accounts if a.status != EVALUATED)


def changes_of(evaluations: Iterable[Evaluation]) -> list[StageChange]:
    """Every stage transition of ``evaluations``, oldest first."""
    return [StageChange(ev.now_ms, s.policy, s.scope, s.transition, s.plan)
            for ev in evaluations for s in ev.scopes if s.transition is not None]


def plan_snapshots(graph: DecisionGraph, snapshots: Iterable[Snapshot], state: Optional[State],
                   now_ms: int) -> PlanResult:
    """The plan over one snapshot per account at ``now_ms`` (a failed fetch is a snapshot with
    ``fetch.ok`` false: the policies see it as missing data, the plan as an account not read)."""
    snaps = list(snapshots)
    tally = CoverageTally()
    for s in snaps:
        tally.saw(s, now_ms)
    ev, _ = evaluate(graph, snaps, state, now_ms)
    return PlanResult(tuple(changes_of([ev])), tally.accounts(), 1)


def plan_ticks(graph: DecisionGraph, ticks: Iterable[Tick], state: Optional[State] = None) -> PlanResult:
    """The plan over a recording, tick by tick with ``state`` (raises ``ReplayError`` as replay does)."""
    tally = CoverageTally()
    evaluations = []
    for tick, ev, _ in replay(graph, ticks, state):
        for s in tick.snapshots:
            tally.saw(s, tick.now_ms)
        evaluations.append(ev)
    return PlanResult(tuple(changes_of(evaluations)), tally.accounts(), len(evaluations))
