"""Unwind planning: a stage's actions → concrete intents; the entry point, :func:`plan`.

**Attribution and risk scores** (:mod:`.attribution`): which side is bleeding, and how much
each position weighs in it.

**Planning** (only when a stage is entered): closes are reduce-only, rounded *down* to the
market's step and never larger than the position; a position to close in full that is smaller
than the venue accepts (below one amount step, or below the minimum amount; reduce-only closes
are exempt from the minimum notional, as on Binance) gets no order: it is a *residual*,
reported in the plan (:class:`Residual`) for the runner to record, never retried; a
profitable position is never cut because attribution was UNKNOWN unless the policy says so;
``close_positions`` takes what its selectors pass (``where``: a position condition, read as the
``position_count`` signal reads it, :mod:`.positions`), with ``count`` only the worst by
``rank_by``, and leaves open a position whose condition it cannot decide (``CONDITION_UNKNOWN``);
entry orders of the symbols being closed are cancelled first (reduce-only take-profits and
stops stay unless the stage cancels all); correlated positions are closed together, the group
with the most exposure first and the biggest position first inside it; large closes are split
into chunks by notional, or against the order book when the policy's unwind reads it
(:mod:`.depth`); each venue's orders are spaced to its order budget. Hedge suggestions
(``suggest_hedge``, planned after the stage's closes) are reported, never sent. Every action
plans itself (its kind is a module of :mod:`killswitch.policy.kinds`): its ``plan`` reads the
scope's positions and asks for closes (its own, or those the planner ranks), cancels, a lock or
what the runner carries out through the :class:`~killswitch.policy.registry.ActionPlanning` the
planner hands it, and those closes take the path every close takes here; the planner never
asks which kind an action is.

**Order rates** are an input: the caller gives the orders per second of each venue (``rates``,
by venue name; the runner takes them from its adapters' capabilities, a replay from the
recording's venues), the policy's ``unwind.orders_per_second`` overrides them, and a venue
nobody gave a rate for gets :data:`DEFAULT_ORDER_RATE`.

**A first wave** (``plan(first_wave=True)``, the runner's): a ``close_all`` entry over
thousands of positions is planned as the leg it sends first alone (with the entry's cancels
and directives), read from the positions' notional without making the other legs; the whole
plan, whose orders begin with exactly those, is made on demand (:func:`complete`). Any other
entry of at least :data:`_WAVE_FROM` orders is planned whole and handed over as its first wave,
each account's first leg (:func:`_lead`), the whole plan kept for :func:`complete`: the runner
sends those before it journals the rest.

The modules of the planning, bottom up: :mod:`.plans` (the values a plan holds), :mod:`.legs` (a
close as the orders the venue takes: reduce-only, rounded down, never above the position,
residuals), :mod:`.stage_planner` (what the actions close and cancel), :mod:`.kind_planning`
(the port every action plans through), :mod:`.schedule` (the order and spacing of
the orders, and the first leg by the same rules). Here: :func:`plan`, the stage's actions run
in order (:func:`_run`), and the first waves (:func:`_first_wave`, :func:`_lead`).

The planning's public names (the values, :func:`complete`, :func:`client_order_id`, the PnL
history's :func:`update_history` and :func:`history_for`, the attribution's) are importable
from here too (``__all__``): the tests, the benches and the adapters' contract suite read them
here; the package's own modules import each from the module that holds it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Mapping, Optional

from ..compile.graph import PolicyNode, StageNode
from ..orders import CancelIntent, OrderIntent
from .amounts import _floor_step  # noqa: F401  (the planner's property tests check the step grid against it)
from .attribution import Attribution, attribute, deltas, history_for, risk_scores, score_table, update_history
from .kind_planning import _KindPlanning
from .legs import _below_minimum  # noqa: F401  (the planner's property tests check the residual rule)
from .plans import Directive, HedgeSuggestion, Lock, Plan, Residual, Rest, complete
from .schedule import DEFAULT_ORDER_RATE, _first_leg, client_order_id, emit, schedule
from .scope import ScopeView, account_key
from .stage_planner import _Planner
from .state import PnlHistory

NO_RATES: Mapping[str, float] = MappingProxyType({})


def _run(self: _Planner) -> Plan:
    """The whole plan of the stage entry ``self`` plans: its actions in the stage's order (a kind's
    that reads what the closes leave after them), the cancels, the legs and their orders."""
    _plan_actions(self, False)
    holdings = self.spot_holdings() if self.sells_holdings else []
    closing: dict[str, set[str]] = {}
    for c in self.closes.values():
        closing.setdefault(account_key(c.snap), set()).add(c.pos.symbol)
    for snap, symbol, _, _ in holdings:
        closing.setdefault(account_key(snap), set()).add(symbol)
    cancels, cancelled_by = self.cancels(closing)
    legs = self.position_legs() + self.spot_legs(holdings, cancels)
    orders = schedule(self, legs)
    return Plan(self.decision, self.stage.level, self.attribution, tuple(cancels), tuple(orders),
                tuple(self.directives), tuple(self.hedges), tuple(self.skipped), tuple(self.residuals),
                locks=tuple(self.locks), cancelled_by=cancelled_by)


def _plan_actions(self: _Planner, wave: bool) -> None:
    """The stage's actions planned in its order, a kind's that reads what the closes leave after
    them (the last of each such kind)."""
    after_closes = {a.kind: a for a in self.stage.actions if a.after_closes}
    for a in self.stage.actions:
        if not a.after_closes:
            a.plan(a.params, _KindPlanning(self, a, wave))
    for a in after_closes.values():
        a.plan(a.params, _KindPlanning(self, a, wave))


def _first_wave(self: _Planner) -> Optional[Plan]:
    """The first wave of a stage entry alone: its cancels, its directives and the orders
    of the leg the whole plan sends first (all its chunks), without planning the other
    legs. For a stage whose first closing action closes every position (``closes_all``: a
    ``close_all``) over positions only (no
    spot balance), of a policy whose closes are not sized by the book, where every position is
    closed whole: then the first leg is known from the positions' notional alone
    (:func:`.schedule._first_leg`), and its orders are the ones :func:`_run` plans for it.
    The stage's actions are planned here as in :func:`_run`, for their cancels, locks and
    directives alone (the rest of the entry sends no cancel): the close_all
    closes every position whole, so what a kind asks to close adds nothing, what it reads as
    left by the closes is nothing, and its skips and hedges are the whole plan's to show.
    None: the entry is planned whole (another stage, or nothing to gain)."""
    view = self.view
    if self.policy.unwind.uses_book:
        return None  # its closes are sized by the books, read after the first evaluation: plan whole
    closing_actions = [a for a in self.stage.actions if a.closes]
    if not closing_actions or not closing_actions[0].closes_all or not view.positions_known \
            or any(s.market_type == "spot" for s in view.snapshots):
        return None
    if sum(len(ps) for _, ps in view.groups) < 2:
        return None
    _plan_actions(self, True)
    closing: dict[str, set[str]] = {}
    for (s, _), cols in zip(view.groups, view.columns):
        symbols = closing.setdefault(account_key(s), set())
        if s.orders:  # (only an account's open orders are matched against its symbols)
            symbols.update(cols.symbols)
    cancels, cancelled_by = self.cancels(closing)
    first = _first_leg(self)
    if first is None:
        return None
    leg, gkey = first
    orders: list[OrderIntent] = []
    emit(self, ((leg, gkey),), {}, {}, orders)
    return Plan(self.decision, self.stage.level, self.attribution, tuple(cancels), tuple(orders),
                tuple(self.directives), (), tuple(self.skipped), locks=tuple(self.locks), cancelled_by=cancelled_by)


def plan(policy: PolicyNode, stage: StageNode, view: ScopeView, decision: str, now: int,
         hist: Optional[PnlHistory], closes_only: bool = False, rates: Mapping[str, float] = NO_RATES,
         scores: str = "none", first_wave: bool = False) -> Plan:
    """Plan a stage entry. ``closes_only``: the entry's directives went out already (it was
    entered while positions were unknown); plan its cancels and closes now. ``rates``: orders
    per second by venue (see the module's docstring). ``scores`` (``none``, ``top`` or ``all``,
    :data:`.attribution.SCORE_LISTINGS`): list the scope's risk scores with their components in
    the plan, for a stage that closes positions; a preview asks, a tick does not.
    ``first_wave``: when the entry allows it (see :func:`_first_wave`), plan only what
    goes first — cancels, directives and the first leg's orders — and leave the whole plan to
    ``rest`` (:func:`complete`), so that the first close can leave before thousands are planned;
    else, for a whole plan of many orders, hand over its first wave (:func:`_lead`), so that the
    first closes can leave before hundreds are journaled.
    A first wave's attribution is :data:`NOT_ATTRIBUTED` (computing it reads every position);
    whatever shows a plan reads the whole one."""
    def finish(out: Plan) -> Plan:
        if closes_only:  # (its locks, shown as directives, were applied with them)
            out = replace(out, directives=(), locks=(), skipped=out.skipped + (_DEFERRED,))
        return out

    def whole() -> Plan:
        d = deltas(policy, view, hist, now)
        att, declines = attribute(policy, view, d)
        planner = _Planner(policy, stage, view, decision, now, d, att, rates, declines=declines)
        if not view.positions_known:
            planner.skipped.append("POSITIONS_UNKNOWN: cancels and closes wait for the first good snapshot")
        out = _run(planner)
        if scores != "none" and view.positions_known and any(a.closes for a in stage.actions):
            out = replace(out, scores=score_table(policy, view, d, scores, planner.closes, planner.ranked))
        return finish(out)

    if first_wave and scores == "none":
        # a close_all's first leg depends on no attribution: the whole plan computes it
        head = _first_wave(_Planner(policy, stage, view, decision, now, [], NOT_ATTRIBUTED, rates,
                                    attribute_later=lambda: attribute(policy, view, deltas(policy, view, hist, now))))
        if head is not None:
            return replace(finish(head), rest=Rest(whole))
        out = whole()
        if policy.unwind.uses_book:  # its closes are planned again once the books are read: sent whole
            return out
        return _lead(out) or out
    return whole()


def _lead(p: Plan) -> Optional[Plan]:
    """The first wave of the whole plan ``p``, when it is long enough to be worth one (at least
    :data:`_WAVE_FROM` orders): its cancels, its directives and each account's first leg (every
    chunk of it: an account's first orders in plan order), the rest left to ``rest``, which
    gives ``p`` back. Its first closes then leave before hundreds of others are journaled (tens
    of µs each); a plan a runner sends leg by leg per account keeps its send order. None: send
    ``p`` whole (short, or a leg whose chunks are not together: a plan sized by the book)."""
    orders = p.orders
    if len(orders) < _WAVE_FROM:
        return None
    wave: list[OrderIntent] = []
    legs: dict[tuple[str, str], tuple[OrderIntent, int]] = {}  # by account: its first order, the chunks taken
    for o in orders:
        key = (o.venue, o.account)
        got = legs.get(key)
        if got is None:
            if o.chunk != 1:
                return None
            legs[key] = (o, 1)
            wave.append(o)
            continue
        first, taken = got
        if taken == first.chunks:
            continue
        if (o.symbol, o.side, o.position_side, o.chunk) != (first.symbol, first.side, first.position_side, taken + 1):
            return None  # the account's next order is not its first leg's next chunk
        legs[key] = (first, taken + 1)
        wave.append(o)
    if len(wave) == len(orders):
        return None
    return Plan(p.decision_id, p.stage, p.attribution, p.cancels, tuple(wave), p.directives, (), p.skipped,
                locks=p.locks, cancelled_by=p.cancelled_by, rest=Rest(lambda: p))


_DEFERRED = ("DEFERRED: closes of an earlier entry, planned now (its positions were unknown, a close ended "
             "short or waited, or a stop came before all were journaled)")
# The attribution of a first wave (its orders do not depend on one): the whole plan has the real one.
NOT_ATTRIBUTED = Attribution("UNKNOWN", 0.0, 0.0, None, None)
# The orders from which a whole plan goes out first wave first (:func:`_lead`): journaling the
# rest before the first close would delay it more than the runner's second save of the state costs.
_WAVE_FROM = 32


__all__ = ["Attribution", "OrderIntent", "CancelIntent", "Directive", "Lock", "HedgeSuggestion", "Plan", "Residual",
           "Rest", "complete", "plan", "NOT_ATTRIBUTED", "NO_RATES", "DEFAULT_ORDER_RATE", "PnlHistory",
           "update_history", "history_for", "deltas", "attribute", "risk_scores", "client_order_id"]
