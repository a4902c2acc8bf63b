"""Properties of the engine over random books and equity paths.

Random sequences of ticks (equity random walks with failed fetches; positions with random sides,
contracts, marks, PnL, liquidation prices, market steps, hedge-mode legs) go through a policy
with four stages and every closing action. Whatever happens:

- stages never go down except by a reset transition (kind "reset");
- every planned close is reduce-only, has an amount > 0, is on the side opposite the position
  (it can only reduce exposure), and the orders of one position never add up to more than it;
- attribution shares sum to 1 whenever they are defined;
- evaluation is deterministic: the same inputs from a copied state give an identical result.
"""

from __future__ import annotations

import copy
import functools
import math

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from killswitch.engine import stages
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import State
from tests.unit.engine_helpers import MIN, MarketRules, compile_graph, order, policy_text, pos, snap

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
STEPS = [0.0, 0.001, 0.01, 0.1, 1.0]

GRAPH = compile_graph(policy_text(
    signals="""
        dd: {equity_drawdown: {window: 5m, min_coverage: 40%}}
        loss: {position_loss: {of: equity, aggregate: sum}}
        liq: liquidation_distance
        losers: {position_count: {where: "loss_on_equity >= 0.5%"}}
        worst: {position_loss: {of: notional}}
    """,
    triggers="""
        t1: {when: "dd >= 1% || loss >= 1%", on_missing_data: hold}
        t2: {when: "dd >= 3% || loss >= 3%", for: 2 ticks, on_missing_data: hold}
        t3: {when: "dd >= 5% || loss >= 6% || liq <= 2% || losers >= 3 || worst >= 20%", on_missing_data: ignore}
        t4: {when: "dd >= 8% || loss >= 10%", on_missing_data: hold}
    """,
    stages="""
        - {level: 1, name: trim, on: [t1], cooldown: 2m,
           actions: [{reduce_top_risk: {count: 2, fraction: 50%, close_within_liquidation: 3%,
                                        on_unknown_side: any}},
                     {suggest_hedge: {threshold: 1k}}]}
        - {level: 2, name: cut, on: [t2], cooldown: 3m, reset_after: 2m,
           actions: [{cancel_orders: entries}, {close_side: {side: losing, on_unknown_side: both}},
                     {close_positions: {min_loss: 0.5%}}]}
        - {level: 3, name: shed, on: [t3], cooldown: 2m,
           actions: [{close_positions: {correlation_group: majors}}, {close_positions: {side: short}},
                     {reduce_top_risk: {count: 1, fraction: 33%, side: any}},
                     {close_positions: {where: "loss_on_margin >= 5% || loss_on_notional >= 2%", count: 2,
                                        rank_by: loss_on_notional}}]}
        - {level: 4, name: flatten, on: [t4], reset: manual,
           actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
    """,
    scope="{level: account}",
    extra="""
        correlation_groups: [{name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}]
        attribution: {reference_window: 3m, source_threshold: 60%}
        unwind: {chunk_notional: 5k, orders_per_second: exchange}
    """,
))
POLICY = GRAPH.policy("p")


@st.composite
def account(draw, name):
    venue = draw(st.sampled_from(["binanceusdm", "bybit", "kraken", "simulated"]))
    hedge = draw(st.booleans())
    markets = {}
    for sym in SYMBOLS:
        step = draw(st.sampled_from(STEPS))
        markets[sym] = MarketRules(amount_step=step, min_amount=step * draw(st.sampled_from([0, 1, 3])))
    return {"name": name, "venue": venue, "hedge": hedge, "markets": markets}


# The strategies drawn from inside the tests, built once: hypothesis sets a strategy up on its
# first draw (validation, its shape), and one built afresh for each draw did that again every
# time, for each leg of each account of each tick: most of the CPU of these property tests.
@functools.cache
def leg_strategy(step):
    contracts = (st.integers(1, 400).map(lambda k: k * step) if step
                 else st.floats(0.001, 50, allow_nan=False, allow_infinity=False))
    return st.fixed_dictionaries({
        "contracts": contracts,
        "mark": st.floats(0.5, 50_000, allow_nan=False, allow_infinity=False),
        "pnl_frac": st.floats(-0.03, 0.015, allow_nan=False, allow_infinity=False),  # of equity
        "liq_gap": st.none() | st.floats(0.001, 0.6, allow_nan=False, allow_infinity=False),
        "margin_frac": st.none() | st.floats(0.05, 1.0, allow_nan=False, allow_infinity=False),
        "entry_known": st.booleans(),  # without it, a loss over entry notional is unknown
    })


LEGS = st.sets(st.sampled_from(["long", "short"]))
SIDE = st.none() | st.sampled_from(["long", "short"])
ONE_WAY_LEG = st.sampled_from([None, "BOTH"])
ORDER_SIDE = st.sampled_from(["buy", "sell"])
BOOLEANS = st.booleans()
UNIT = st.floats(0, 1)
floats = functools.cache(st.floats)


def draw_positions(data, acc, equity):
    out = []
    for sym in SYMBOLS:
        step = acc["markets"][sym].amount_step
        if acc["hedge"]:
            sides = data.draw(LEGS, label=f"{sym} legs")
        else:
            side = data.draw(SIDE, label=f"{sym} side")
            sides = {side} if side else set()
        for side in sorted(sides):
            d = data.draw(leg_strategy(step), label=f"{sym} {side}")
            notional = d["contracts"] * d["mark"]
            liq = None
            if d["liq_gap"] is not None:
                liq = d["mark"] * (1 - d["liq_gap"]) if side == "long" else d["mark"] * (1 + d["liq_gap"])
            ps = side.upper() if acc["hedge"] else data.draw(ONE_WAY_LEG, label="ps")
            pnl = equity * d["pnl_frac"]
            # the entry price that PnL means for a linear contract (kept positive)
            entry = max(0.01, d["mark"] - pnl / d["contracts"] * (1 if side == "long" else -1))
            out.append(pos(sym, side, d["contracts"], d["mark"], pnl, liq=liq,
                           margin=None if d["margin_frac"] is None else notional * d["margin_frac"],
                           position_side=ps, entry=entry if d["entry_known"] else None))
    return out


def draw_orders(data, positions):
    orders = []
    for i, p in enumerate(positions):
        if data.draw(BOOLEANS, label="order?"):
            orders.append(order(f"o{i}", p.symbol, data.draw(ORDER_SIDE), reduce_only=data.draw(BOOLEANS)))
    return orders


def draw_snapshots(data, accounts, equity, now, fail, returns):
    """One snapshot per account at ``now``: failed with probability ``fail``, else its equity
    moved by a log-return drawn in ``returns`` (``equity`` updated) and random positions and orders."""
    snaps = []
    for a in accounts:
        if data.draw(UNIT, label="fail?") < fail:
            snaps.append(snap(None, now, venue=a["venue"], account=a["name"], ok=False, markets=a["markets"]))
            continue
        equity[a["name"]] *= math.exp(data.draw(floats(*returns), label="return"))
        positions = draw_positions(data, a, equity[a["name"]])
        snaps.append(snap(equity[a["name"]], now, venue=a["venue"], account=a["name"], positions=positions,
                          orders=draw_orders(data, positions), markets=a["markets"]))
    return snaps


def position_of(snapshot, o):
    """The position an order closes: by leg in hedge mode, by symbol in one-way mode."""
    found = []
    for p in snapshot.positions:
        if p.symbol != o.symbol:
            continue
        if o.position_side is not None:
            if p.position_side == o.position_side:
                found.append(p)
        elif p.position_side in (None, "BOTH"):
            found.append(p)
    assert len(found) == 1, (o, snapshot.positions)
    return found[0]


def check_plan(pl, snaps_by_account):
    att = pl.attribution
    if att.long_share is not None:
        assert abs(att.long_share + att.short_share - 1.0) <= 1e-9, att
        assert att.side in ("LONG", "SHORT", "MIXED")
    else:
        assert att.side == "UNKNOWN" and att.short_share is None
    totals: dict[int, list] = {}
    for o in pl.orders:
        s = snaps_by_account[(o.venue, o.account)]
        assert s.market_type == "futures"
        assert o.reduce_only, o
        assert o.amount > 0, o
        p = position_of(s, o)
        assert o.side == ("sell" if p.side == "long" else "buy"), (o, p)  # only ever reduces exposure
        assert o.amount <= p.contracts, (o, p)
        totals.setdefault(id(p), [p, 0.0])[1] += o.amount
    for p, total in totals.values():
        assert total <= p.contracts * (1 + 1e-12), (total, p)
    ids = [o.client_order_id for o in pl.orders]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engine_invariants_over_random_books(data):
    accounts = [data.draw(account("a"), label="account a")]
    if data.draw(st.booleans(), label="second account"):
        accounts.append(data.draw(account("b"), label="account b"))
    n = data.draw(st.integers(4, 18), label="ticks")
    equity = {a["name"]: data.draw(st.floats(5_000, 500_000), label="equity0") for a in accounts}
    state = State()
    last_level: dict[str, int] = {}
    for i in range(n):
        now = i * MIN + data.draw(st.integers(0, 20_000), label="jitter")
        snaps = draw_snapshots(data, accounts, equity, now, 0.12, (-0.06, 0.04))
        # an operator may release a latched scope before the tick
        if data.draw(st.integers(0, 9), label="approve?") == 0:
            for key, ss in state.scopes.items():
                scope = key.split("|", 1)[1]
                tr, _ = stages.approve_reset(POLICY, scope, ss.stage, "ops", now)
                if tr is not None:
                    assert tr.kind == "reset" and tr.to_level == 0 and tr.from_level > 0
                    last_level[scope] = 0
        before = copy.deepcopy(state)
        ev, state = evaluate(GRAPH, snaps, state, now)
        again, _ = evaluate(GRAPH, copy.deepcopy(snaps), copy.deepcopy(before), now)
        assert again == ev  # deterministic
        by_account = {(s.venue, s.account): s for s in snaps}
        for se in ev.scopes:
            assert se.stage_before == last_level.get(se.scope, 0)
            if se.stage_after < se.stage_before:
                assert se.transition is not None and se.transition.kind == "reset" and se.stage_after == 0
            if se.transition is not None and se.transition.kind in ("entered", "reentered"):
                assert se.stage_after >= se.stage_before and se.plan is not None
                assert se.transition.to_level == se.stage_after
            last_level[se.scope] = se.stage_after
            if se.plan is not None:
                event(f"plan at stage {se.plan.stage}" + (" with orders" if se.plan.orders else ""))
                check_plan(se.plan, by_account)
