"""Unwind planning: a stage's actions → concrete intents.

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
(``suggest_hedge``, planned after the stage's closes) are reported, never sent. An action of
a kind of its own module (:mod:`killswitch.policy.kinds`) plans itself: its ``plan`` reads the
scope's positions and asks for closes through the
:class:`~killswitch.policy.registry.ActionPlanning` the planner hands it, and those closes take
the path every close takes here.

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

Size: about 950 lines. One entry's planning reads top to bottom here: the actions' choice of
positions, legs, their order and schedule, and the first wave, which must pick the leg the
schedule puts first by the same rules; split apart, the two orderings could drift. Amounts on
the step grid live in :mod:`.amounts`, attribution and scores in :mod:`.attribution`.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import math
from itertools import compress, repeat
from operator import eq
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Optional

from ..compile.graph import PolicyNode, StageNode
from ..compile.nodes import ActionNode, CloseAllAction, ClosePositionsAction, KindAction, ReduceTopRiskAction
from ..orders import CancelIntent, OrderIntent
from ..snapshot import Balance, MarketRules, Snapshot, base_asset
from . import depth
from . import positions as facts
from .amounts import _floor_step, split_amount, step_of
from .attribution import Attribution, Declines, ScoreTable, attribute, column, deltas, risk_scores, score_table
from .columns import Columns, Held, Tables
from .scope import ScopeView, account_key, position_key
from .state import PnlHistory

# Orders per second for a venue no rate was given for: below what any venue we know accepts.
DEFAULT_ORDER_RATE = 5.0
NO_RATES: Mapping[str, float] = MappingProxyType({})
NO_DECLINES = Declines([], [])  # a first wave's planner (a close_all's: it ranks nothing); never changed


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    """A non-order action: lock_trading (a kind's lock), arm_exchange_dms, revoke_trading, notify, runbook."""

    kind: str
    params: dict[str, Any]  # as the policy wrote them (the action's ``written``), for display
    scope: str


@dataclass(frozen=True)
class Lock:
    """A lock of the bots' trading an action asked for (``ActionPlanning.lock``): the runner puts
    it on ``scope`` when it applies the entry (:func:`killswitch.runner.lock.apply_evaluation`).
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
    wave's): planned on demand (a close_all's) or planned already (:func:`_lead`)."""

    __slots__ = ("_whole",)

    def __init__(self, whole: Callable[[], Plan]):
        self._whole = whole

    def whole(self) -> Plan:
        return self._whole()


def complete(p: Plan) -> Plan:
    """The whole plan of ``p``: ``p`` itself when it is whole, else its entry planned in full."""
    return p if p.rest is None else p.rest.whole()


# --- PnL history (state) ---------------------------------------------------------------------------


def update_history(hist: PnlHistory, snapshots: list[Snapshot], now: int, tables: Optional[Tables] = None) -> None:
    """Sample every open position's unrealized PnL once per step; keep just over one window.

    One sample per account and step: a tick costs one pass over the positions only when a step
    boundary passes (over their columns, from ``tables`` when given), and trimming is a popleft
    per account.
    """
    if hist.next_sample_ms is not None and now < hist.next_sample_ms:
        return
    hist.next_sample_ms = now + hist.step_ms
    cutoff = now - hist.window_ms
    for s in snapshots:
        if not s.fetch.ok:
            continue  # positions unknown: the history keeps what it had
        c = tables.of(s.positions) if tables is not None else Columns(s.positions)
        q = hist.sample(account_key(s), now, c.symbols, c.side_keys, c.upnl)
        while len(q) > 1 and q[1][0] <= cutoff:
            q.popleft()


def history_for(policy: PolicyNode) -> tuple[int, int]:
    """(window, step) of the PnL history a policy's attribution reads: 60 samples per window."""
    window_ms = policy.attribution.reference_window_ms
    return window_ms, max(1000, window_ms // 60)


# --- planning ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Close:
    snap: Snapshot
    pos: Held  # the model, or the columns' row of a position made on reading
    amount: float  # contracts
    full: bool
    action: str
    reason: str


@dataclass(slots=True)
class _Leg:
    snap: Snapshot
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    unit_price: float  # notional per unit of amount
    mark: float
    reduce_only: bool
    action: str
    reason: str
    key: str  # identity of the leg: part of its client order ids
    exposure: float  # notional of what is being closed, for ordering
    step: float  # its market's amount step (0: unknown), read once for its chunks


_Holding = tuple[Snapshot, str, Balance, float]  # a spot holding close_all sells: symbol, balance, price


@dataclass
class _Planner:
    """One stage's plan over one scope view: which positions its actions close and by how much,
    the cancels, and the orders in the order they are sent.

    Size: about 340 lines, over the class bound by the columnar entry path (scores of the ranked
    positions alone, positions read from the columns): the actions share its view, its scores
    and the closes they add up, so splitting it would hand that state from one object to another.
    """

    policy: PolicyNode
    stage: StageNode
    view: ScopeView
    decision: str
    now: int
    deltas: list[Optional[float]]  # in the order of view.positions
    attribution: Attribution
    rates: Mapping[str, float]  # orders per second by venue
    closes: dict[str, _Close] = field(default_factory=dict)  # position key → _Close
    skipped: list[str] = field(default_factory=list)
    residuals: list[Residual] = field(default_factory=list)
    hedges: list[HedgeSuggestion] = field(default_factory=list)
    _scores: Optional[list[float]] = None
    ranked: set[int] = field(default_factory=set)  # indexes a ranking by risk score chose
    declines: Declines = NO_DECLINES  # the declining positions the attribution summed
    directives: list["Directive"] = field(default_factory=list)  # in the stage's order
    locks: list["Lock"] = field(default_factory=list)
    cancel_asks: list["_CancelAsk"] = field(default_factory=list)  # in the stage's order
    # a first wave's: the attribution, computed when a kind first reads it (None: it is known)
    attribute_later: Optional[Callable[[], tuple[Attribution, Declines]]] = None

    def attribution_side(self) -> str:
        """The side attribution names as losing, computed now when it was left for later."""
        if self.attribute_later is not None:
            self.attribution, self.declines = self.attribute_later()
            self.attribute_later = None
        return self.attribution.side

    @property
    def scores(self) -> list[float]:
        """Risk scores in the order of ``view.positions``, computed on first use."""
        if self._scores is None:
            self._scores = risk_scores(self.policy, self.view, self.deltas)
        return self._scores

    def scores_of(self, items: list[int]) -> list[float]:
        """Risk scores in the order of ``view.positions``, exact at ``items``: every score when
        they are known or ``items`` are most positions; else only those of ``items`` are computed
        (a ranking of the declining side reads no other) and every other entry is NaN, never read.
        The scope's largest decline and loss, which every score is a share of, are the scope's."""
        n = self.view.position_count
        if self._scores is not None or 2 * len(items) >= n:
            return self.scores
        out = [math.nan] * n
        for i, x in zip(items, risk_scores(self.policy, self.view, self.deltas, items)):
            out[i] = x
        return out

    def want(self, s: Snapshot, p: Held, fraction: float, action: str, reason: str) -> None:
        self.want_at(position_key(s, p), s, p, fraction, action, reason)

    def want_at(self, key: str, s: Snapshot, p: Held, fraction: float, action: str, reason: str) -> None:
        """:meth:`want` of ``p``, whose :func:`position_key` is ``key`` (read from the columns)."""
        if fraction >= 1.0:
            self.want_whole((key,), ((s, p),), action, (reason,))
            return
        amount = p.contracts * fraction
        prev = self.closes.get(key)
        if prev is None or amount > prev.amount:
            self.closes[key] = _Close(s, p, amount, False, action, reason)

    def want_whole(self, keys: Iterable[str], held: Iterable[tuple[Snapshot, Held]], action: str,
                   reasons: Iterable[str]) -> None:
        """:meth:`want_at` of each position of ``held`` whole (every contract), its key and its
        reason in step: the hundreds a crash's liquidation pass closes, every position of a
        close_all, in one loop (a call per position cost as much as the close itself)."""
        closes = self.closes
        get = closes.get
        for key, (s, p), reason in zip(keys, held, reasons):
            amount = p.contracts
            prev = get(key)
            if prev is None or amount > prev.amount:
                closes[key] = _Close(s, p, amount, True, action, reason)

    def losing_positions(self, side_rule: str, on_unknown: str) -> Optional[list[int]]:
        """Indexes (into ``view.positions``) of the positions ``reduce_top_risk`` ranks: those on
        the side the rule names, or the contributors to the decline (not its winners); None (with
        a skip reason) when it cannot be told."""
        if side_rule in ("long", "short"):
            return [i for i, side in enumerate(column(self.view.columns, lambda c: c.sides)) if side == side_rule]
        if side_rule == "any":
            return list(range(self.view.position_count))
        att, declines = self.attribution.side, self.declines
        if att == "LONG" or att == "SHORT":
            return list(declines.long if att == "LONG" else declines.short)
        if att == "MIXED":
            return sorted(declines.long + declines.short)
        if on_unknown in ("any", "both"):
            return list(range(self.view.position_count))
        self.skipped.append("ATTRIBUTION_UNKNOWN: reduce_top_risk skipped; nothing declined over the reference window")
        return None

    def run(self) -> Plan:
        directives = self.directives
        after_closes: dict[str, KindAction] = {}  # by kind: the last of each
        close_all = False
        for a in self.stage.actions:
            kind = a.kind
            if isinstance(a, ReduceTopRiskAction):
                self.reduce_top_risk(a)
            elif isinstance(a, ClosePositionsAction):
                self.close_positions(a)
            elif isinstance(a, CloseAllAction):
                close_all = True
                # no model made for positions made on reading; the keys read from the columns
                self.want_whole(self.view.keys(), self.view.rows(), kind, repeat("CLOSE_ALL"))
            elif isinstance(a, KindAction):  # a kind of its own module: it asks, the planner closes, cancels
                if a.after_closes:  # it reads what the stage's closes leave: planned after them
                    after_closes[kind] = a
                else:
                    a.plan(a.params, _KindPlanning(self, a))
            else:  # arm_exchange_dms, revoke_trading, notify, runbook: the runner and the sinks act on them
                directives.append(_directive(a, self.view.key))
        for a in after_closes.values():
            a.plan(a.params, _KindPlanning(self, a))
        holdings = self.spot_holdings() if close_all else []
        closing: dict[str, set[str]] = {}
        for c in self.closes.values():
            closing.setdefault(account_key(c.snap), set()).add(c.pos.symbol)
        for snap, symbol, _, _ in holdings:
            closing.setdefault(account_key(snap), set()).add(symbol)
        cancels, cancelled_by = self.cancels(closing)
        legs = self.position_legs() + self.spot_legs(holdings, cancels)
        orders = self.schedule(legs)
        return Plan(self.decision, self.stage.level, self.attribution, tuple(cancels), tuple(orders),
                    tuple(directives), tuple(self.hedges), tuple(self.skipped), tuple(self.residuals),
                    locks=tuple(self.locks), cancelled_by=cancelled_by)

    def reduce_top_risk(self, a: ReduceTopRiskAction) -> None:
        limit = a.close_within_liquidation
        if limit is not None:
            # read from the columns: a model is made only for a position closed here
            view = self.view
            marks = column(view.columns, lambda c: c.marks)
            liqs = column(view.columns, lambda c: c.liq)
            near = facts.near_liquidation(liqs, marks, limit)  # one without a liquidation price is not
            limit_text = f" limit={limit:.2%}"
            # hundreds of closes in a crash: the rows, keys and reasons each made in one pass
            reasons = [f"LIQUIDATION_NEAR: distance={abs(mark - liq) / mark:.2%}{limit_text}"  # type: ignore[operator]
                       for mark, liq in zip(map(marks.__getitem__, near), map(liqs.__getitem__, near))]
            self.want_whole(view.keys_at(near), view.rows_at(near), "reduce_top_risk", reasons)
        chosen = self.losing_positions(a.side, a.on_unknown_side)
        if not chosen:
            return
        scores = self.scores_of(chosen)
        notional = column(self.view.columns, lambda c: c.notional)
        # the highest score first; ties to the larger notional, then to the position key
        top = facts.highest(chosen, a.count, scores, notional, self.view.key_function())
        fraction = a.fraction
        self.ranked.update(top)
        for rank, i in enumerate(top, 1):
            s, p = self.view.row(i)
            self.want(s, p, fraction, "reduce_top_risk",
                      f"TOP_RISK: rank={rank} score={scores[i]:.3f} fraction={fraction:.0%}")

    def close_positions(self, a: ClosePositionsAction) -> None:
        symbols = set(a.symbols)
        group = a.correlation_group
        if group:
            for g in self.policy.correlation_groups:
                if g.name == group:
                    symbols |= set(g.symbols)
        side = a.side
        min_loss = a.min_loss
        cond = a.where
        known_equity = self.view.equity
        equity = known_equity or 0.0
        pairs = self.view.positions
        chosen: list[int] = []
        for i, (s, pos) in enumerate(pairs):
            if (symbols and pos.symbol not in symbols) or (side != "any" and pos.side != side):
                continue
            if min_loss is not None and (equity <= 0 or -pos.unrealized_pnl / equity < min_loss):
                continue
            if cond is not None:
                verdict = facts.holds(cond, pos, known_equity)
                if verdict is None:  # not closed on a guess: said, for the runbook and the plan
                    unknown = ", ".join(facts.unknown_facts(cond, pos, known_equity))
                    self.skipped.append(f"CONDITION_UNKNOWN: close_positions left {position_key(s, pos)} open; "
                                        f"{unknown} unknown for where {cond.text}")
                    continue
                if not verdict:
                    continue
            chosen.append(i)
        if a.count is None or a.rank_by is None:
            for i in chosen:
                s, pos = pairs[i]
                self.want(s, pos, 1.0, "close_positions", f"SELECTED: symbol={pos.symbol} side={pos.side}")
            return
        rank_by = a.rank_by
        ranked = facts.worst_first(chosen, lambda i: pairs[i][1], lambda i: position_key(*pairs[i]), rank_by,
                                   known_equity, lambda i: self.scores[i], a.count)
        if rank_by == "risk_score":
            self.ranked.update(i for i, _ in ranked)
        for rank, (i, value) in enumerate(ranked, 1):
            s, pos = pairs[i]
            shown = "unknown" if value is None else f"{value:.3f}" if rank_by == "risk_score" else f"{value:.2%}"
            self.want(s, pos, 1.0, "close_positions",
                      f"SELECTED: symbol={pos.symbol} side={pos.side} rank={rank} {rank_by}={shown}")

    def cancels(self, closing: dict[str, set[str]]) -> tuple[list[CancelIntent], tuple[str, ...]]:
        """The cancels the stage's actions asked for (``cancel_orders``: :attr:`cancel_asks`), and
        the entry orders of every symbol about to be closed or sold (``closing``: by account key),
        one per account; and the actions whose requests are among them. Only orders this scope
        instance owns (its symbols, its strategy) are touched."""
        out = []
        view = self.view
        rules = self.cancel_asks
        by: set[str] = set()
        for s in view.snapshots:
            mine = [o for o in s.orders if view.owns_order(o)]
            ids: list[str] = []
            which = None
            for r in rules:
                w = r.which
                syms = set(r.symbols)
                asked = [o.id for o in mine if (not syms or o.symbol in syms) and (w == "all" or not o.reduce_only)]
                if asked:
                    by.add(r.action)
                ids += asked
                which = "all" if w == "all" or which == "all" else "entries"
            syms = closing.get(account_key(s), set())
            ids += [o.id for o in mine if o.symbol in syms and not o.reduce_only]
            ids = list(dict.fromkeys(ids))
            if ids:
                reason = f"CANCEL_{(which or 'entries').upper()}" \
                    + ("" if which else ": entries of symbols being closed")
                out.append(CancelIntent(s.venue, s.account, which or "entries", tuple(ids), reason))
        left = sum(1 for s in view.snapshots for o in s.orders if not view.owns_order(o))
        if left and (rules or closing) and view.strategies is not None:
            self.skipped.append(f"ORDERS_NOT_OWNED: {left} open order(s) of other or unknown strategies left alone")
        return out, tuple(dict.fromkeys(r.action for r in rules if r.action in by))

    def position_legs(self) -> list["_Leg"]:
        legs = []
        for key, c in self.closes.items():
            leg = _leg(key, c, self.skipped, self.residuals)
            if leg is not None:
                legs.append(leg)
        return legs

    def spot_holdings(self) -> list[_Holding]:
        """(snapshot, symbol, balance, its price) of every spot holding close_all sells: not a stablecoin,
        not the quote currency. Only for instances that own whole accounts."""
        out: list[_Holding] = []
        for s in self.view.snapshots:
            if s.market_type != "spot" or not s.fetch.ok:
                continue
            if not self.view.whole_accounts:
                self.skipped.append(f"SPOT_NOT_OWNED: {s.venue}/{s.account} balances belong to the whole account")
                continue
            keep = set(s.stablecoins) | {s.quote_currency}
            for b in s.balances:
                if b.asset in keep or b.total <= 0:
                    continue
                if not b.price:
                    self.skipped.append(f"NO_PRICE: {s.venue}/{s.account} {b.asset} cannot be valued")
                    continue
                out.append((s, f"{b.asset}/{s.quote_currency}", b, b.price))
        return out

    def spot_legs(self, holdings: list[_Holding], cancels: list[CancelIntent]) -> list["_Leg"]:
        cancelled = {(c.venue, c.account, oid) for c in cancels for oid in c.order_ids}
        legs = []
        for s, symbol, b, price in holdings:
            # what the cancelled sell orders of this asset held is sold too
            freed = sum(max(0.0, o.amount - o.filled) for o in s.orders
                        if (s.venue, s.account, o.id) in cancelled and o.symbol == symbol and o.side == "sell")
            rules = s.markets.get(symbol)
            step = step_of(rules)
            amount = _floor_step(min(b.total, b.free + freed), step)
            if amount <= 0 or (rules and (amount < rules.min_amount or amount * price < rules.min_notional)):
                self.skipped.append(f"BELOW_MINIMUM: {s.venue}/{s.account} {symbol} amount={amount:g}")
                continue
            legs.append(_Leg(s, symbol, "sell", None, amount, price, price, False, "close_all",
                             f"SELL_TO_STABLE: asset={b.asset}", f"{account_key(s)}/{symbol}/spot", amount * price,
                             step))
        return legs

    def groups(self) -> dict[str, str]:
        """Symbol → the correlation group it is closed with (the last group naming it)."""
        groups: dict[str, str] = {}
        for g in self.policy.correlation_groups:
            for sym in g.symbols:
                groups[sym] = g.name
        return groups

    def schedule(self, legs: list["_Leg"]) -> list[OrderIntent]:
        """Correlated symbols together, the most exposed group and position first; chunks by
        notional, or by the book (:mod:`.depth`: then in rounds, every close's first child, then
        every second one, so that a book refills between two children of its close); each
        venue's orders spaced to its budget. Without a book, a leg's orders are :meth:`emit`'s
        (a close_all's first wave emits its first leg alone)."""
        groups = self.groups()
        buckets: dict[str, list[_Leg]] = {}
        for leg in legs:
            buckets.setdefault(groups.get(leg.symbol) or f"~{leg.key}", []).append(leg)
        ordered = sorted(buckets.items(), key=_bucket_order)
        unwind = self.policy.unwind
        venue_count: dict[str, int] = {}
        rates: dict[str, float] = {}  # by venue
        out: list[OrderIntent] = []
        if not unwind.uses_book:
            self.emit(((leg, gkey) for gkey, members in ordered
                       for leg in (sorted(members, key=lambda x: (-x.exposure, x.key)) if len(members) > 1
                                   else members)), venue_count, rates, out)
            return out
        return _schedule_by_book(self, ordered, venue_count, rates, out)

    def emit(self, legs: Iterable[tuple["_Leg", str]], venue_count: dict[str, int], rates: dict[str, float],
             out: list[OrderIntent]) -> None:
        """The orders of each of ``legs`` (a leg and its bucket) in turn, its chunks by notional,
        the ``venue_count``-th of its venue on: one loop for the hundreds of a crash's entry."""
        unwind = self.policy.unwind
        chunk_notional, slip = unwind.chunk_notional, unwind.max_slippage
        order, append = self.order, out.append
        for leg, gkey in legs:
            pieces = split_amount(leg.amount, leg.unit_price, chunk_notional, leg.step)
            limit = leg.mark * (1 - slip) if leg.side == "sell" else leg.mark * (1 + slip)
            chunks = len(pieces)
            for i, piece in enumerate(pieces, 1):
                append(order(leg, gkey, i, chunks, piece, limit, "", venue_count, rates))

    def order(self, leg: "_Leg", gkey: str, chunk: int, chunks: int, amount: float, price: float, note: str,
              venue_count: dict[str, int], rates: dict[str, float]) -> OrderIntent:
        """One order of ``leg``: the next of its venue, spaced to the venue's budget (counted in
        ``venue_count``; the rate by venue cached in ``rates``)."""
        unwind = self.policy.unwind
        venue = leg.snap.venue
        rate = rates.get(venue)
        if rate is None:
            rate = rates[venue] = float(unwind.orders_per_second if unwind.orders_per_second is not None
                                        else self.rates.get(venue, DEFAULT_ORDER_RATE))
        k = venue_count.get(venue, 0)
        venue_count[venue] = k + 1
        return OrderIntent.planned(
            self.decision, client_order_id(self.decision, f"{leg.key}#{chunk}"), venue, leg.snap.account,
            leg.symbol, leg.side, leg.position_side, amount, leg.reduce_only, price, amount * leg.unit_price,
            chunk, chunks, self.now + int(k * 1000 / rate), leg.action,
            f"{leg.reason}; {note}" if note else leg.reason, None if gkey.startswith("~") else gkey)


@dataclass(frozen=True)
class _CancelAsk:
    """A cancel an action asked for (``ActionPlanning.cancel``)."""

    action: str
    which: str  # entries | all
    symbols: tuple[str, ...]  # empty: every symbol


class _KindPlanning:
    """What :meth:`_Planner.run` hands an action of a kind of its own module
    (:class:`~killswitch.policy.registry.ActionPlanning`): the scope's positions as a close reads
    them (no model made for positions made on reading), and its closes go through
    :meth:`_Planner.want` as every close does (reduce-only, rounded down, never above the
    position), under the action's name; what it skipped and the hedges it suggests go in the plan,
    its cancels with the closes' (:meth:`_Planner.cancels`), its lock as a directive (its
    parameters as written) and a :class:`Lock`. A request the port does not know (a ``which`` or
    ``mode`` of no meaning) is the kind's mistake: ValueError, which its own tests meet.
    ``wave``: a first wave's (:func:`_first_wave`), under a close_all of every position whole:
    only its cancels and lock are kept, and every position reads as closed in full."""

    __slots__ = ("_planner", "_action", "_written", "_wave")

    def __init__(self, planner: _Planner, action: KindAction, wave: bool = False):
        self._planner = planner
        self._action = action.kind
        self._written = action.written
        self._wave = wave

    @property
    def equity(self) -> Optional[float]:
        return self._planner.view.equity

    @property
    def positions_known(self) -> bool:
        return self._planner.view.positions_known

    @property
    def attribution(self) -> str:
        return self._planner.attribution_side()

    def positions(self) -> Iterator[tuple[Snapshot, Held]]:
        return self._planner.view.rows()

    def closing(self, snapshot: Snapshot, position: Held) -> float:
        if self._wave:
            return position.contracts
        c = self._planner.closes.get(position_key(snapshot, position))
        return c.amount if c else 0.0

    @staticmethod
    def base_asset(symbol: str) -> str:
        return base_asset(symbol)

    def close(self, snapshot: Snapshot, position: Held, fraction: float, reason: str) -> None:
        if not fraction > 0 or self._wave:  # nothing to close (NaN included): no order
            return
        self._planner.want(snapshot, position, min(fraction, 1.0), self._action, reason)

    def skip(self, reason: str) -> None:
        if not self._wave:
            self._planner.skipped.append(reason)

    def suggest_hedge(self, base: str, side: str, notional: float, reason: str) -> None:
        if not self._wave:
            self._planner.hedges.append(HedgeSuggestion(base, side, notional, reason))

    def cancel(self, which: str, symbols: Collection[str] = ()) -> None:
        if which not in ("entries", "all"):
            raise ValueError(f"{self._action}: cancel which={which!r}; entries or all")
        self._planner.cancel_asks.append(_CancelAsk(self._action, which, tuple(symbols)))

    def lock(self, mode: str, ttl_ms: Optional[int], cancel: bool, revert_growth: bool) -> None:
        if mode not in ("reducing", "halted"):
            raise ValueError(f"{self._action}: lock mode={mode!r}; reducing or halted")
        if ttl_ms is not None and not ttl_ms > 0:
            raise ValueError(f"{self._action}: lock ttl_ms={ttl_ms!r}; a positive whole number of ms, or None")
        planner = self._planner
        scope = planner.view.key
        planner.directives.append(Directive(self._action, dict(self._written), scope))
        planner.locks.append(Lock(self._action, scope, mode, ttl_ms, bool(cancel), bool(revert_growth)))


def _leg(key: str, c: _Close, skipped: list[str], residuals: list[Residual]) -> Optional[_Leg]:
    """The close ``c`` of the position ``key`` as a leg to send; None when there is nothing
    the venue accepts (said in ``skipped``, and a whole position left is a residual)."""
    pos = c.pos
    rules = c.snap.markets.get(pos.symbol)
    amount = _round_amount(c, rules, skipped)
    if amount <= 0:
        return None
    dust = _below_minimum(pos, rules) if c.full else None
    if dust is not None:  # nothing the venue accepts can close it: report it, do not send
        skipped.append(f"BELOW_MINIMUM: {key} {dust}")
        residuals.append(Residual(c.snap.venue, c.snap.account, pos.symbol, pos.side,
                                  pos.position_side if pos.position_side in ("LONG", "SHORT") else None,
                                  pos.contracts, f"BELOW_MINIMUM: {dust}"))
        return None
    unit = pos.notional / pos.contracts if pos.contracts else pos.mark_price
    return _Leg(c.snap, pos.symbol, "sell" if pos.side == "long" else "buy",
                pos.position_side if pos.position_side in ("LONG", "SHORT") else None,
                amount, unit, pos.mark_price, True, c.action, c.reason, key, pos.notional, step_of(rules))


def _schedule_by_book(self: _Planner, ordered: list[tuple[str, list[_Leg]]], venue_count: dict[str, int],
                      rates: dict[str, float], out: list[OrderIntent]) -> list[OrderIntent]:
    """:meth:`_Planner.schedule` for a policy whose closes are sized against the book
    (:mod:`.depth`): every reduce-only leg split into the children its book holds within the
    caps (else, failing safe, by ``chunk_notional`` at the slippage cap from the mark), sent in
    rounds: every close's first child, then every second one, so a book refills between two."""
    unwind = self.policy.unwind
    slip = unwind.max_slippage
    sized_legs: list[tuple[str, _Leg, list[tuple[float, float]], str]] = []  # group, leg, children, note
    for gkey, members in ordered:
        for leg in sorted(members, key=lambda x: (-x.exposure, x.key)) if len(members) > 1 else members:
            step = leg.step
            limit = leg.mark * (1 - slip) if leg.side == "sell" else leg.mark * (1 + slip)
            sized, note = depth.children(leg.amount, leg.side, leg.mark, leg.unit_price, step,
                                         leg.snap.books.get(leg.symbol), unwind) if leg.reduce_only else (None, "")
            if sized is None and leg.reduce_only:  # fail safe: as without a book, at the slippage cap from the mark
                self.skipped.append(f"{note}: {leg.key} split by chunk_notional, limit IOC at the cap")
            pieces = sized or [(x, limit) for x in split_amount(leg.amount, leg.unit_price, unwind.chunk_notional,
                                                                  step)]
            sized_legs.append((gkey, leg, pieces, note if sized else ""))
    for r in range(max((len(x[2]) for x in sized_legs), default=0)):  # in rounds: every close's r-th child
        for gkey, leg, pieces, note in sized_legs:
            if r >= len(pieces):
                continue
            piece, price = pieces[r]
            out.append(self.order(leg, gkey, r + 1, len(pieces), piece, price, note, venue_count, rates))
    return out


def _first_wave(self: _Planner) -> Optional[Plan]:
    """The first wave of a stage entry alone: its cancels, its directives and the orders
    of the leg the whole plan sends first (all its chunks), without planning the other
    legs. For a stage whose first closing action is ``close_all`` over positions only (no
    spot balance), of a policy whose closes are not sized by the book, where every position is
    closed whole: then the first leg is known from
    the positions' notional alone, and its orders are the ones :meth:`_Planner.run` plans for it.
    The stage's actions of a kind of its own module are planned here as in :meth:`_Planner.run`,
    for their cancels and locks alone (the rest of the entry sends no cancel): the close_all
    closes every position whole, so what a kind asks to close adds nothing, what it reads as
    left by the closes is nothing, and its skips and hedges are the whole plan's to show.
    None: the entry is planned whole (another stage, or nothing to gain)."""
    view = self.view
    if self.policy.unwind.uses_book:
        return None  # its closes are sized by the books, read after the first evaluation: plan whole
    closing_actions = [a for a in self.stage.actions if _closes(a)]
    if not closing_actions or not isinstance(closing_actions[0], CloseAllAction) or not view.positions_known \
            or any(s.market_type == "spot" for s in view.snapshots):
        return None
    if sum(len(ps) for _, ps in view.groups) < 2:
        return None
    after_closes: dict[str, KindAction] = {}  # by kind: the last of each, as in _Planner.run
    for a in self.stage.actions:
        if isinstance(a, KindAction):
            if a.after_closes:
                after_closes[a.kind] = a
            else:
                a.plan(a.params, _KindPlanning(self, a, wave=True))
        elif not isinstance(a, _CLOSING):
            self.directives.append(_directive(a, view.key))
    for a in after_closes.values():
        a.plan(a.params, _KindPlanning(self, a, wave=True))
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
    self.emit(((leg, gkey),), {}, {}, orders)
    return Plan(self.decision, self.stage.level, self.attribution, tuple(cancels), tuple(orders),
                tuple(self.directives), (), tuple(self.skipped), locks=tuple(self.locks), cancelled_by=cancelled_by)

def _first_leg(self: _Planner) -> Optional[tuple[_Leg, str]]:
    """The leg :meth:`_Planner.schedule` puts first, and its bucket: the most exposed bucket (a
    correlation group's legs together, any other leg alone, named ``~`` + its key), ties to
    the bucket's name; in a group, the most exposed leg, ties to its key. None when it
    cannot be told cheaply (many grouped positions, the most exposed all below the minimum).

    Read from the columns: the top notional, then among the positions at it the least key.
    Keys are built only for positions whose symbol starts with the least symbol there: a
    key is ``account/symbol/side``, so no other can be less."""
    view = self.view
    groups = self.groups()
    best: Optional[tuple[tuple[float, str], _Leg, str]] = None

    def leg_of(i: int) -> Optional[_Leg]:
        s, p = view.pair(i)
        return _leg(position_key(s, p), _Close(s, p, p.contracts, True, "close_all", "CLOSE_ALL"), [], [])

    tops: list[tuple[str, int]] = []  # (bucket, index) of the least key at the top, per account
    top = None
    base = 0
    for (s, _), cols in zip(view.groups, view.columns):
        notional, symbols = cols.notional, cols.symbols
        n = len(notional)
        if any(map(math.isnan, notional)):  # no order of exposure to rely on
            return None
        # over 10,000 positions every pass here runs in C (map, compress, count, min, max)
        ungrouped = [i for i, sym in enumerate(symbols) if sym not in groups] if groups else None
        if ungrouped is None:
            here = max(notional) if n else None
        else:
            here = max(map(notional.__getitem__, ungrouped)) if ungrouped else None
        if here is not None and (top is None or here >= top):
            if top is None or here > top:
                top, tops = here, []
            if ungrouped is None and notional.count(here) == n:
                least = min(symbols)
            else:
                tied = compress(range(n), map(eq, notional, repeat(here)))
                least = min(symbols[i] for i in tied if ungrouped is None or symbols[i] not in groups)
            tops += [(f"~{position_key(s, cols.positions[i])}", base + i)
                     for i in compress(range(n), map(str.startswith, symbols, repeat(least)))
                     if notional[i] == here and symbols[i] not in groups]
        base += n
    if tops:
        bucket, i = min(tops)
        leg = leg_of(i)
        if leg is None:
            return None  # below the minimum: the next key, or a lesser notional, comes first: plan whole
        best = ((-leg.exposure, bucket), leg, bucket)
    if groups:
        members: dict[str, list[int]] = {}
        symbols = column(view.columns, lambda c: c.symbols)
        for i, sym in enumerate(symbols):
            g = groups.get(sym)
            if g is not None:
                members.setdefault(g, []).append(i)
        if sum(len(v) for v in members.values()) > _FIRST_TRIES:
            return None
        for name, at in members.items():
            legs = [x for x in map(leg_of, at) if x is not None]
            if not legs:
                continue
            key = (-sum(x.exposure for x in legs), name)
            if best is None or key < best[0]:
                lead = min(legs, key=lambda x: (-x.exposure, x.key)) if len(legs) > 1 else legs[0]
                best = (key, lead, name)
    return None if best is None else (best[1], best[2])


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
        out = planner.run()
        if scores != "none" and view.positions_known and any(map(_closes, stage.actions)):
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
_CLOSING = (ReduceTopRiskAction, ClosePositionsAction, CloseAllAction)


def _closes(a: ActionNode) -> bool:
    """The action closes positions: a built-in closing kind, or a kind of its own module that says so."""
    return isinstance(a, _CLOSING) or (isinstance(a, KindAction) and a.closes)
_FIRST_TRIES = 64  # grouped positions a first wave may look at one by one
# The orders from which a whole plan goes out first wave first (:func:`_lead`): journaling the
# rest before the first close would delay it more than the runner's second save of the state costs.
_WAVE_FROM = 32


# --- amounts ---------------------------------------------------------------------------------------------


def _round_amount(c: _Close, rules: Optional[MarketRules], skipped: list[str]) -> float:
    """What ``c`` closes on the step grid of its market (``rules``, None: unknown), never more
    than the position; 0 (said in ``skipped``) when a part close falls below the minimum."""
    pos = c.pos
    if c.full:
        amount = pos.contracts  # the whole position: exactly what the venue reports
    else:
        amount = _floor_step(min(c.amount, pos.contracts), step_of(rules))
    if rules and amount < rules.min_amount and not c.full:
        skipped.append(f"BELOW_MINIMUM: {position_key(c.snap, pos)} amount={amount:g} min={rules.min_amount:g}")
        return 0.0
    return min(amount, pos.contracts)


def _below_minimum(pos: Held, rules: Optional[MarketRules]) -> Optional[str]:
    """Why the venue cannot take a close of the whole position ``pos`` in its market (``rules``)
    (its numbers; None: it can): less than one amount step, or less than the minimum amount
    once rounded down to it."""
    if rules is None:
        return None
    if pos.contracts >= (rules.min_amount + rules.amount_step) * (1 + 1e-6):
        return None  # rounding down loses less than a step: what is left is at least the minimum
    sendable = _floor_step(pos.contracts, rules.amount_step)
    if sendable <= 0 or sendable < rules.min_amount * (1 - 1e-9):
        return f"amount={pos.contracts:g} step={rules.amount_step:g} min_amount={rules.min_amount:g}"
    return None


def _bucket_order(kv: tuple[str, list[_Leg]]) -> tuple[float, str]:
    """The most exposed bucket first, ties to its name (a lone leg's exposure is its sum)."""
    legs = kv[1]
    return -(legs[0].exposure if len(legs) == 1 else sum(x.exposure for x in legs)), kv[0]


def _directive(a: ActionNode, scope: str) -> Directive:
    return Directive(a.kind, dict(a.written), scope)


def client_order_id(decision: str, leg: str) -> str:
    """Deterministic: the same decision and leg always give the same id, so a restarted runner
    can ask the venue whether it already sent the order. 32 characters from [a-z0-9]."""
    return "ks" + hashlib.sha256(f"{decision}|{leg}".encode()).hexdigest()[:30]


__all__ = ["Attribution", "OrderIntent", "CancelIntent", "Directive", "Lock", "HedgeSuggestion", "Plan", "Residual",
           "Rest", "complete", "plan",
           "update_history", "history_for", "deltas", "attribute", "risk_scores", "client_order_id"]
