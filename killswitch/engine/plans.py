"""What a plan holds: the values :func:`.planner.plan` hands the runner, a preview and the renderers.

A :class:`Plan` is one stage entry's cancels, orders, directives, locks, hedge suggestions,
skips (reason codes) and residuals (positions below what the venue accepts, reported, never
retried). A first wave (:func:`.planner.plan` with ``first_wave=True``) is a :class:`Plan`
whose :class:`Rest` gives the whole one; :func:`complete` reads it.

Values only: nothing here plans. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..orders import CancelIntent, OrderIntent
from .attribution import Attribution, ScoreTable


@dataclass(frozen=True)
class Directive:
    """A non-order action: lock_trading (a kind's lock), arm_exchange_dms, revoke_trading, notify, runbook."""

    kind: str
    params: dict[str, Any]  # as the policy wrote them (the action's ``written``), for display
    scope: str


@dataclass(frozen=True)
class Lock:
    """A lock of the bots' trading an action asked for (``ActionPlanning.lock``): the runner puts
    it on ``scope`` when it applies the entry (:func:`killswitch.runner.lock.evaluation.apply_evaluation`).
    ``kind`` is the action's (its directive in the plan shows it as written)."""

    kind: str
    scope: str
    mode: str  # reducing | halted
    ttl_ms: Optional[int]  # None: until the stage resets
    cancel: bool  # enforced at the venue: cancel the orders adding exposure
    revert_growth: bool  # enforced at the venue: bring a position that grew back


@dataclass(frozen=True)
class HedgeSuggestion:
    base: str
    side: str  # buy | sell: the hedge that would bring net exposure to zero
    notional: float
    reason: str


@dataclass(frozen=True)
class Residual:
    """A position a close was planned for that the venue cannot take an order for: what is left
    stays open (dust). ``reason`` is a reason code with its numbers."""

    venue: str
    account: str
    symbol: str
    side: str  # long | short
    position_side: Optional[str]  # LONG | SHORT in hedge mode
    amount: float  # contracts left
    reason: str  # BELOW_MINIMUM: ...


@dataclass(frozen=True)
class Plan:
    decision_id: str
    stage: int
    attribution: Attribution
    cancels: tuple[CancelIntent, ...] = ()
    orders: tuple[OrderIntent, ...] = ()
    directives: tuple[Directive, ...] = ()
    hedges: tuple[HedgeSuggestion, ...] = ()
    skipped: tuple[str, ...] = ()  # reason codes of what was not done
    residuals: tuple[Residual, ...] = ()  # positions to close that are below what the venue accepts
    scores: Optional[ScoreTable] = None  # the scope's risk scores with their components, when asked
    locks: tuple[Lock, ...] = ()  # the locks the entry's actions asked for (each has its directive too)
    # the actions whose requests are among ``cancels`` (an order of theirs to cancel), in the stage's order
    cancelled_by: tuple[str, ...] = ()
    # set on a first wave alone (``plan(first_wave=True)``): how to plan the whole entry; None: whole
    rest: Optional["Rest"] = field(default=None, compare=False, repr=False)


class Rest:
    """What a first wave leaves to plan: :meth:`whole` gives the whole entry, the plan a single
    pass gives from the same positions (each account's orders in it begin with the first
    wave's): planned on demand (a close_all's) or planned already (:func:`.planner._lead`)."""

    __slots__ = ("_whole",)

    def __init__(self, whole: Callable[[], Plan]):
        self._whole = whole

    def whole(self) -> Plan:
        return self._whole()


def complete(p: Plan) -> Plan:
    """The whole plan of ``p``: ``p`` itself when it is whole, else its entry planned in full."""
    return p if p.rest is None else p.rest.whole()
