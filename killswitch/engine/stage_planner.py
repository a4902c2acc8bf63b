"""One stage entry's planner: what its actions close and by how much, and what they cancel.

What it owns: :class:`_Planner`, the state one stage entry's planning shares over one scope view
(its scores, the closes its actions add up, the skips, residuals, hedges, directives, locks and
cancels they ask for), and the closes it ranks by what it alone holds, which kinds ask for
through :mod:`.kind_planning`: the top risk (``reduce_top_risk``: the positions near
liquidation, then the worst by risk score on the side attribution names), a selection
(``close_positions``: symbols, a correlation group, a side, ``min_loss``, a ``where``
condition it leaves open when it cannot decide, ``count`` by ``rank_by``) and every position
(``close_all``: and every spot holding but the stablecoins, :attr:`_Planner.sells_holdings`). Then the cancels
(those the actions asked for, and the entry orders of every symbol being closed: only orders
the scope instance owns) and the legs (:mod:`.legs`: reduce-only, rounded down, residuals).

A close asked twice for one position keeps the larger. :func:`.planner.plan` runs the actions
(:func:`.planner._run`); every action asks through :mod:`.kind_planning`; :mod:`.schedule`
puts the legs' orders in order.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from ..compile.graph import PolicyNode, StageNode
from ..orders import CancelIntent
from ..policy.positions import PositionCondition
from ..snapshot import Snapshot, spot_holdings
from . import positions as facts
from .amounts import _floor_step, step_of
from .attribution import Attribution, Declines, column, risk_scores
from .columns import Held
from .legs import _Close, _Holding, _Leg, _leg
from .plans import Directive, HedgeSuggestion, Lock, Residual
from .scope import ScopeView, account_key, position_key

NO_DECLINES = Declines([], [])  # a first wave's planner (a close_all's: it ranks nothing); never changed


@dataclass
class _Planner:
    """One stage's plan over one scope view: which positions its actions close and by how much,
    the cancels, and the legs the closes make.

    The actions share its view, its scores and the closes they add up. :func:`.planner._run`
    runs the stage's actions through it, :mod:`.schedule` orders and spaces the legs' orders.
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
    sells_holdings: bool = False  # a close_all asked: the spot holdings are sold too
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

    def reduce_top_risk(self, action: str, count: int, fraction: float, side: str, limit: Optional[float],
                        on_unknown: str) -> None:
        """Part of the positions the risk score ranks first (``reduce_top_risk``): those within
        ``limit`` of liquidation whole, then ``fraction`` of the ``count`` with the highest score
        on ``side`` (``losing``: the side attribution names; ``on_unknown``: when it names none)."""
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
            self.want_whole(view.keys_at(near), view.rows_at(near), action, reasons)
        chosen = self.losing_positions(side, on_unknown)
        if not chosen:
            return
        scores = self.scores_of(chosen)
        notional = column(self.view.columns, lambda c: c.notional)
        # the highest score first; ties to the larger notional, then to the position key
        top = facts.highest(chosen, count, scores, notional, self.view.key_function())
        self.ranked.update(top)
        for rank, i in enumerate(top, 1):
            s, p = self.view.row(i)
            self.want(s, p, fraction, action,
                      f"TOP_RISK: rank={rank} score={scores[i]:.3f} fraction={fraction:.0%}")

    def close_positions(self, action: str, symbols_given: tuple[str, ...], side: str, min_loss: Optional[float],
                        group: Optional[str], cond: Optional[PositionCondition], count: Optional[int],
                        rank_by: Optional[str]) -> None:
        """In full, the positions that pass every selector given (``close_positions``): of
        ``symbols_given`` and the correlation group ``group``, on ``side``, losing ``min_loss`` of
        equity, for which ``cond`` holds (one it cannot decide for is left open and said so);
        with ``count``, only the worst ``count`` by ``rank_by``."""
        symbols = set(symbols_given)
        if group:
            for g in self.policy.correlation_groups:
                if g.name == group:
                    symbols |= set(g.symbols)
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
                    self.skipped.append(f"CONDITION_UNKNOWN: {action} left {position_key(s, pos)} open; "
                                        f"{unknown} unknown for where {cond.text}")
                    continue
                if not verdict:
                    continue
            chosen.append(i)
        if count is None or rank_by is None:
            for i in chosen:
                s, pos = pairs[i]
                self.want(s, pos, 1.0, action, f"SELECTED: symbol={pos.symbol} side={pos.side}")
            return
        ranked = facts.worst_first(chosen, lambda i: pairs[i][1], lambda i: position_key(*pairs[i]), rank_by,
                                   known_equity, lambda i: self.scores[i], count)
        if rank_by == "risk_score":
            self.ranked.update(i for i, _ in ranked)
        for rank, (i, value) in enumerate(ranked, 1):
            s, pos = pairs[i]
            shown = "unknown" if value is None else f"{value:.3f}" if rank_by == "risk_score" else f"{value:.2%}"
            self.want(s, pos, 1.0, action,
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
            for symbol, b in spot_holdings(s):
                if not b.price:
                    self.skipped.append(f"NO_PRICE: {s.venue}/{s.account} {b.asset} cannot be valued")
                    continue
                out.append((s, symbol, b, b.price))
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


@dataclass(frozen=True)
class _CancelAsk:
    """A cancel an action asked for (``ActionPlanning.cancel``)."""

    action: str
    which: str  # entries | all
    symbols: tuple[str, ...]  # empty: every symbol
