"""The orders of a stage entry that takes the liquidation pass and ranks thousands of tied scores,
pinned to a golden: what is planned, and in which order it is sent, must not move when the entry
path is made faster (columns instead of position models, a cheaper tiebreak).

The book is the one ``bench/tick.py --layout liq-entry-*`` measures, at a modest size: 40 % longs
and 60 % shorts of equal notional, the longs dropping 20 % (an 8 % drawdown enters the stage; the
longs are the declining side). Every long scores the same, so the top 3 are decided by the
tiebreak (the larger notional, then the position key); every 25th short is within 3 % of its
liquidation price and is closed whole; each account holds entry orders to cancel and reduce-only
ones to keep. The same book is handed over three ways — positions carrying their columns, positions
made on reading from their columns (as the simulated adapter hands them), and a plain list — and
all three must plan exactly the golden.

Rewrite the golden with ``pytest tests/unit/engine/test_entry_decisions_pinned.py --update-goldens`` and
review its diff like code: a changed order here is a changed decision.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest

from killswitch.engine.evaluate import Evaluation, evaluate
from killswitch.engine.state import State
from killswitch.snapshot import (
    COLUMN_FIELDS,
    MarketRules,
    Order,
    Position,
    PositionColumns,
    PositionList,
    PositionsOnReading,
    Snapshot,
)
from tests.conftest import ROOT, check_golden
from tests.unit.engine_helpers import MIN, compile_graph

GOLDEN = ROOT / "tests" / "golden" / "entry"
T0 = 1_772_456_400_000

POLICY = """
apiVersion: killswitch/v1
kind: Policy
metadata: {name: liq-entry}
spec:
  scope: {level: LEVEL}
  interval: 5s
  signals:
    dd_15m: {equity_drawdown: {window: 15m}}
  triggers:
    soft: {when: "dd_15m >= 4.5%", on_missing_data: hold}
  stages:
    - {level: 1, name: reduce, on: [soft], cooldown: 30m,
       actions: [{cancel_orders: entries},
                 {reduce_top_risk: {count: 3, fraction: 50%, close_within_liquidation: 3%}},
                 {lock_trading: {mode: reducing}}]}
  unwind: {chunk_notional: 50k}
"""


def positions(a: int, per: int, dropped: bool) -> list[Position]:
    """Account ``a``'s book: position ``i`` is long when ``i % 5 < 2``, notional 1,000 at a mark of
    100 (the longs at 80 once dropped); every 25th short sits 2 % from its liquidation price."""
    out = []
    for i in range(per):
        long = i % 5 < 2
        mark = 80.0 if long and dropped else 100.0
        near = not long and i % 25 == 3
        liq = 70.0 if long else (102.0 if near else 130.0)
        out.append(Position.model_construct(
            symbol=f"S{(i * 7 + a) % per}/USDT:USDT", side="long" if long else "short", position_side=None,
            contracts=10.0, contract_size=1.0, notional=10.0 * mark, entry_price=100.0, mark_price=mark,
            unrealized_pnl=10.0 * (mark - 100.0) if long else 0.0, liquidation_price=liq, margin=100.0,
            leverage=10.0, strategy=None))
    return out


def with_columns(ps: list[Position]) -> list[Position]:
    return PositionList.of(ps)


def on_reading(ps: list[Position]) -> list[Position]:
    rows = [tuple(getattr(p, f) for f in COLUMN_FIELDS) for p in ps]
    return PositionsOnReading(PositionColumns(rows), ps.__getitem__)  # type: ignore[return-value]


def plain(ps: list[Position]) -> list[Position]:
    return list(ps)


def book(accounts: int, per: int, dropped: bool, hand: Callable[[list[Position]], list[Position]]) -> list[Snapshot]:
    snaps = []
    for a in range(accounts):
        ps = positions(a, per, dropped)
        orders = [Order(id=f"o{a}-{k}", symbol=ps[k * 3].symbol, side="buy", type="limit", amount=1.0, filled=0.0,
                        price=90.0, reduce_only=k % 2 == 1) for k in range(8)]
        equity = 1000.0 * per - (80.0 * per if dropped else 0.0)  # the longs' 200 each, 40 % of them
        snaps.append(Snapshot.model_construct(
            format=1, venue="simulated", account=f"acct-{a}", market_type="futures", ts_event=T0, ts_observed=None,
            equity=equity, quote_currency="USDT", balances=[], positions=hand(ps), orders=orders,
            fetch=Snapshot.model_fields["fetch"].default, labels={},
            markets={p.symbol: MarketRules(amount_step=0.001, min_amount=0.001) for p in ps}, initial_capital=None,
            stablecoins=["USDT"], books={}))
    return snaps


def entry(level: str, accounts: int, per: int, hand: Callable[[list[Position]], list[Position]]) -> Evaluation:
    """The tick that enters stage 1, after an hour of one-minute ticks over the undropped book
    (the attribution's reference window)."""
    graph = compile_graph(POLICY.replace("LEVEL", level))
    state, t = State(), T0
    calm = book(accounts, per, False, hand)
    for _ in range(62):
        _, state = evaluate(graph, calm, state, t)
        t += MIN
    ev, _ = evaluate(graph, book(accounts, per, True, hand), state, t, {"simulated": 10.0}, first_wave=True)
    return ev


def decisions(ev: Evaluation) -> list[dict]:
    """Everything the entry sends, in the order it sends it, and why: a plan per scope."""
    out = []
    for scope, (cancel_seq, order_seq) in zip(ev.scopes, ev.sends()):
        p = scope.plan
        if p is None:
            continue
        out.append({
            "scope": scope.scope, "stage": p.stage, "attribution": p.attribution.side,
            "cancels": [dict(send=n, venue=c.venue, account=c.account, which=c.which, ids=list(c.order_ids),
                             reason=c.reason) for n, c in zip(cancel_seq, p.cancels)],
            "orders": [dict(send=n, client_order_id=o.client_order_id, account=o.account, symbol=o.symbol,
                            side=o.side, amount=o.amount, reduce_only=o.reduce_only, limit_price=o.limit_price,
                            notional=o.notional, chunk=f"{o.chunk}/{o.chunks}", not_before_ms=o.not_before_ms,
                            action=o.action, reason=o.reason) for n, o in zip(order_seq, p.orders)],
            "directives": [d.kind for d in p.directives],
            "skipped": list(p.skipped),
            "residuals": [r.symbol for r in p.residuals],
        })
    return out


def golden_text(plans: list[dict]) -> str:
    """A line per plan (without its orders), then a line per order, in the order they are sent."""
    lines = []
    for p in plans:
        lines.append(json.dumps({k: v for k, v in p.items() if k != "orders"}))
        lines += ["  " + json.dumps(o) for o in p["orders"]]
    return "\n".join(lines) + "\n"


LAYOUTS = {"one-account": ("account", 1, 2_000), "global": ("global", 5, 400)}
HANDS = {"columns": with_columns, "on-reading": on_reading, "plain": plain}


@pytest.mark.parametrize("hand", HANDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_liquidation_entry_plans_the_pinned_orders_in_the_pinned_order(layout, hand, update_goldens):
    level, accounts, per = LAYOUTS[layout]
    ev = entry(level, accounts, per, HANDS[hand])
    whole = ev.completed()
    for first, p in zip(ev.plans, whole.plans):  # the runner's first wave: each account's first leg
        assert first.rest is not None and first.cancels == p.cancels and first.directives == p.directives
        accounts_of = {(o.venue, o.account) for o in p.orders}
        assert {(o.venue, o.account) for o in first.orders} == accounts_of
        for venue, account in accounts_of:
            mine = [o for o in p.orders if (o.venue, o.account) == (venue, account)]
            head = [o for o in first.orders if (o.venue, o.account) == (venue, account)]
            assert head == mine[:len(head)] and len(head) == mine[0].chunks
    plans = decisions(whole)
    assert len(plans) == accounts if level == "account" else len(plans) == 1
    for p in plans:  # the book does what it is for: the stage entered, longs blamed, closes planned
        assert p["stage"] == 1 and p["attribution"] == "LONG"
        assert any(o["reason"].startswith("LIQUIDATION_NEAR") for o in p["orders"])
        assert sum(o["reason"].startswith("TOP_RISK") and o["chunk"].startswith("1/") for o in p["orders"]) == 3
        assert p["cancels"] and p["directives"] == ["lock_trading"]
    # one golden per layout: every way of handing the positions over must plan it
    check_golden(GOLDEN / f"liq-entry-{layout}.txt", golden_text(plans), update_goldens and hand == "columns")


STAGE_ACTIONS = {
    "reduce_top_risk": "{reduce_top_risk: {count: 3, fraction: 50%, close_within_liquidation: 3%}}",
    "close_side": "{close_side: {side: long}}",
    "close_all": "{close_all: {}}",
}


@pytest.mark.parametrize("action", STAGE_ACTIONS)
def test_closes_of_positions_made_on_reading_make_no_model_and_plan_what_the_models_plan(action):
    """A close reads the position it closes from the columns (symbol, side, leg, contracts,
    notional, mark) when the positions are made on reading: the entry makes none of their models,
    and plans exactly what it plans over the models themselves."""
    policy = POLICY.replace("LEVEL", "account").replace(
        "{reduce_top_risk: {count: 3, fraction: 50%, close_within_liquidation: 3%}}", STAGE_ACTIONS[action])
    made: list[int] = []

    def counted(ps: list[Position]) -> list[Position]:
        rows = [tuple(getattr(p, f) for f in COLUMN_FIELDS) for p in ps]
        return PositionsOnReading(PositionColumns(rows), lambda i: made.append(i) or ps[i])  # type: ignore[return-value]

    graph = compile_graph(policy)
    plans = {}
    for name, hand in (("plain", plain), ("on-reading", counted)):
        state, t = State(), T0
        for _ in range(62):
            _, state = evaluate(graph, book(1, 500, False, hand), state, t)
            t += MIN
        made.clear()
        ev, _ = evaluate(graph, book(1, 500, True, hand), state, t, {"simulated": 10.0})
        if name == "on-reading":
            assert made == []  # not one model made for the closes
        plans[name] = decisions(ev)
    assert plans["plain"][0]["orders"]  # the stage closes positions
    assert plans["on-reading"] == plans["plain"]
