"""Exposure with resting orders (killswitch.engine.exposure, and the position and gross limits of
killswitch.engine.limits over it): resting orders that open further are counted, reduce-only
ones and those that only reduce are not, one-way and hedge legs, an order reported twice, a
resting order without a price, the usage split in the breach, and each resting order judged at
its turn as the venue watch reads it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.compile.limits_node import LimitsNode, SymbolLimitsNode
from killswitch.engine.exposure import order_value, reach
from killswitch.engine.limits import LimitOrder, Mark, order_breaches, usage_of
from killswitch.snapshot import Order, Position

NOW = 1_700_000_000_000
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MARKS = {BTC: Mark(100.0, 1.0, NOW - 1_000), ETH: Mark(10.0, 1.0, NOW - 1_000)}


def pos(symbol=BTC, side="long", contracts=5.0, mark=100.0, position_side=None):
    return Position(symbol=symbol, side=side, contracts=contracts, notional=contracts * mark, mark_price=mark,
                    unrealized_pnl=0.0, position_side=position_side)


def rest(i, side="buy", amount=1.0, price=100.0, symbol=BTC, reduce_only=False, position_side=None, **kw):
    return Order(id=f"o{i}", symbol=symbol, side=side, type="limit" if price is not None else "stop_market",
                 amount=amount, price=price, reduce_only=reduce_only, position_side=position_side, **kw)


def lim(position=None, gross=None):
    return LimitsNode(default=SymbolLimitsNode(max_position_notional=position), max_gross_notional=gross)


def breaches(node, order, positions=(), orders=(), marks=MARKS, **kw):
    return order_breaches(node, order, list(positions), list(orders), marks, NOW, **kw)


def codes(*a, **kw):
    return [b.code for b in breaches(*a, **kw)]


# --- the arithmetic -------------------------------------------------------------------------------------


def test_reach_of_a_one_way_leg_is_the_side_that_goes_furthest():
    five = (5.0, 500.0)
    assert reach("BOTH", *five) == 500.0
    assert reach("BOTH", *five, buys=(3.0, 300.0)) == 800.0  # buys open the long further
    assert reach("BOTH", *five, sells=(4.0, 400.0)) == 500.0  # sells that only reduce add nothing
    assert reach("BOTH", *five, sells=(8.0, 800.0)) == 500.0  # short 3 at most: 300 < 500
    assert reach("BOTH", *five, sells=(12.0, 1200.0)) == 700.0  # short 7 at most
    # a quote on both sides of a flat position counts its larger side once
    assert reach("BOTH", 0.0, 0.0, (5.0, 495.0), (5.0, 505.0)) == 505.0
    assert reach("BOTH", -5.0, 500.0, (8.0, 800.0)) == 500.0  # a short: buys close it first


def test_reach_of_a_hedge_leg_counts_the_side_that_opens_it_only():
    assert reach("LONG", 8.0, 800.0, (1.0, 100.0), (50.0, 5000.0)) == 900.0
    assert reach("SHORT", -8.0, 800.0, (50.0, 5000.0), (1.0, 100.0)) == 900.0


def test_a_resting_order_is_valued_at_its_price_else_the_mark_else_its_trigger():
    assert order_value(2.0, 101.0, 90.0, 100.0, 1.0) == 202.0
    assert order_value(2.0, None, 90.0, 100.0, 0.5) == 100.0
    assert order_value(2.0, None, 90.0, None, 1.0) == 180.0
    assert order_value(2.0, None, None, None, 1.0) is None


# --- the limits with resting orders ------------------------------------------------------------------


@pytest.mark.parametrize("amount,expected", [(2.0, []), (2.01, ["POSITION_LIMIT"])])
def test_resting_opening_orders_count_toward_the_position(amount, expected):
    resting = [rest(0, amount=1.0), rest(1, amount=2.0)]  # 300 more on a long of 500
    assert codes(lim(position=1000.0), LimitOrder(BTC, "buy", amount, 100.0), [pos()], resting) == expected
    assert codes(lim(position=1000.0), LimitOrder(BTC, "buy", amount, 100.0), [pos()]) == []  # without them


def test_reduce_only_and_only_reducing_resting_orders_are_not_counted():
    exits = [rest(0, "sell", 5.0, 110.0, reduce_only=True), rest(1, "sell", 4.0, 120.0),
             rest(2, "buy", 9.0, None, reduce_only=True, trigger_price=90.0)]
    u = usage_of([pos()], exits, None, MARKS)
    assert u.resting == 0.0 and u.open_orders == 3
    assert codes(lim(position=1000.0, gross=1000.0), LimitOrder(BTC, "buy", 5.0, 100.0), [pos()], exits) == []


def test_the_breach_says_what_positions_resting_orders_and_the_order_bring():
    [b] = breaches(lim(position=1000.0), LimitOrder(BTC, "buy", 3.0, 101.0), [pos()], [rest(0, amount=3.0)])
    assert b.code == "POSITION_LIMIT" and b.usage == pytest.approx(1103.0) and b.parts == pytest.approx(
        (500.0, 300.0, 303.0))
    assert b.to_json()["exposure"] == pytest.approx({"positions": 500.0, "resting": 300.0, "order": 303.0})
    assert "could reach 1,103.00 (positions 500.00 + resting orders 300.00 + this order 303.00) > limit" in b.reason


def test_gross_counts_the_resting_orders_of_every_symbol_of_the_scope():
    held = [pos(), pos(ETH, "short", 20.0, 10.0)]  # 500 + 200
    resting = [rest(0, "sell", 30.0, 10.0, ETH)]  # ETH short 20 → 50: 300 more
    node = lim(gross=1499.0)
    assert codes(node, LimitOrder(BTC, "buy", 5.0, 100.0), held, resting) == ["GROSS_LIMIT"]  # 700 + 300 + 500
    [b] = breaches(node, LimitOrder(BTC, "buy", 5.0, 100.0), held, resting)
    assert b.parts == pytest.approx((700.0, 300.0, 500.0)) and b.symbol is None
    assert codes(node, LimitOrder(BTC, "buy", 5.0, 100.0), held) == []


def test_hedge_legs_count_their_own_resting_orders():
    legs = [pos(contracts=8.0, position_side="LONG"), pos(side="short", contracts=8.0, position_side="SHORT")]
    resting = [rest(0, "buy", 1.0, position_side="LONG"), rest(1, "sell", 1.5, position_side="SHORT"),
               rest(2, "sell", 8.0, position_side="LONG")]  # closes the LONG leg: not counted
    node = lim(position=1000.0)
    assert codes(node, LimitOrder(BTC, "buy", 1.0, 100.0, position_side="LONG"), legs, resting) == []  # 800+100+100
    assert codes(node, LimitOrder(BTC, "buy", 1.01, 100.0, position_side="LONG"), legs, resting) == ["POSITION_LIMIT"]
    assert codes(node, LimitOrder(BTC, "sell", 0.6, 100.0, position_side="SHORT"), legs, resting) == ["POSITION_LIMIT"]
    assert codes(node, LimitOrder(BTC, "buy", 50.0, 100.0, position_side="SHORT"), legs, resting) == []  # a close


def test_an_order_the_venue_reports_twice_is_counted_once():
    twice = [rest(0, amount=3.0), rest(0, amount=3.0)]
    u = usage_of([pos()], twice, None, MARKS)
    assert (u.open_orders, u.twice, u.resting) == (1, 1, 300.0)
    assert codes(lim(position=1000.0), LimitOrder(BTC, "buy", 2.0, 100.0), [pos()], twice) == []


def test_a_partly_filled_resting_order_counts_what_is_left_of_it():
    part = [rest(0, amount=5.0, filled=3.0), rest(1, amount=2.0, filled=2.0)]  # 2 left; the other done
    u = usage_of([pos()], part, None, MARKS)
    assert u.resting == 200.0 and u.open_orders == 2
    assert codes(lim(position=1000.0), LimitOrder(BTC, "buy", 3.0, 100.0), [pos()], part) == []  # 500 + 200 + 300


def test_a_resting_order_that_cannot_be_valued_fails_closed():
    blind = [rest(0, "buy", 1.0, None, ETH)]  # no price, no trigger, no mark of ETH
    marks = {BTC: MARKS[BTC]}
    [b] = breaches(lim(gross=1e9), LimitOrder(BTC, "buy", 1.0, 100.0), [pos()], blind, marks)
    assert b.code == "GROSS_LIMIT" and b.usage is None and "cannot value" in b.detail
    [b] = breaches(lim(position=1e9), LimitOrder(ETH, "buy", 1.0, 10.0), [pos()], blind, marks)
    assert b.code == "POSITION_LIMIT" and b.usage is None
    # with the mark, a resting stop without a price is valued at it
    stop = [rest(0, "buy", 2.0, None, trigger_price=150.0)]
    assert usage_of([pos()], stop, None, MARKS).resting == 200.0
    assert usage_of([pos()], stop, None, {}).resting == 300.0  # no mark: its trigger price


def test_each_resting_order_is_judged_at_its_turn():
    # long 5 (500), limit 1000: 3 fits, 4 more would not, 2 more fits beside the first
    resting = [rest(0, amount=3.0), rest(1, amount=4.0), rest(2, amount=2.0)]
    node = lim(position=1000.0)
    found = {o.id: codes(node, LimitOrder.resting(o), [pos()], resting, resting=True) for o in resting}
    assert found == {"o0": [], "o1": ["POSITION_LIMIT"], "o2": []}
    [b] = breaches(node, LimitOrder.resting(resting[1]), [pos()], resting, resting=True)
    assert b.parts == pytest.approx((500.0, 300.0, 400.0)) and "resting order 400.00" in b.reason


def test_per_call_usage_does_not_read_orders_of_other_symbols():
    # the leg an order acts on is found by key: orders of other symbols are summed once, up front
    many = [rest(i, "buy", 1.0, 10.0, f"X{i}/USDT:USDT") for i in range(2_000)]
    u = usage_of([pos()], many, None, MARKS)
    assert len(u.legs) == 2_001 and u.resting == pytest.approx(20_000.0)


# --- properties -------------------------------------------------------------------------------------------

ORDERS = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.floats(0.1, 5.0), st.floats(50.0, 150.0),
                            st.booleans()), max_size=8)
POSITION = st.tuples(st.sampled_from(["long", "short"]), st.floats(0.0, 10.0))


def _book(position, orders, first=0):
    side, contracts = position
    held = [pos(side=side, contracts=contracts)] if contracts > 0 else []
    return held, [rest(first + i, s, a, p, reduce_only=r) for i, (s, a, p, r) in enumerate(orders)]


@settings(max_examples=300, deadline=None)
@given(POSITION, ORDERS, st.sampled_from(["buy", "sell"]), st.floats(0.1, 5.0), st.floats(50.0, 150.0))
def test_a_resting_reduce_only_order_never_changes_exposure(position, orders, side, amount, price):
    held, resting = _book(position, orders)
    exit_ = rest(99, side, amount, price, reduce_only=True)
    node = lim(position=900.0, gross=900.0)
    new = LimitOrder(BTC, "buy", 1.0, 100.0)
    assert usage_of(held, resting, None, MARKS).resting == usage_of(held, [*resting, exit_], None, MARKS).resting
    assert [(b.code, b.usage) for b in breaches(node, new, held, resting)] == \
        [(b.code, b.usage) for b in breaches(node, new, held, [*resting, exit_])]


@settings(max_examples=300, deadline=None)
@given(POSITION, ORDERS, st.sampled_from(["buy", "sell"]), st.floats(0.1, 5.0), st.floats(50.0, 150.0))
def test_exposure_is_monotone_in_resting_opening_orders(position, orders, side, amount, price):
    held, resting = _book(position, orders)
    more = [*resting, rest(99, side, amount, price)]
    before, after = usage_of(held, resting, None, MARKS), usage_of(held, more, None, MARKS)
    assert after.resting >= before.resting - 1e-9 >= -1e-9
    leg = (None, BTC, "BOTH")
    if leg in before.legs:
        assert after.legs[leg].reach("BOTH") >= before.legs[leg].reach("BOTH") - 1e-9


@settings(max_examples=300, deadline=None)
@given(POSITION, ORDERS, st.sampled_from(["buy", "sell"]), st.floats(0.1, 5.0), st.floats(50.0, 150.0))
def test_an_order_the_gate_allows_is_not_cancelled_by_the_watch_once_it_rests(position, orders, side, amount,
                                                                                price):
    # on a book the watch keeps whole (a resting order it cancels may have hidden what the order adds
    # on the other side of the leg: the gate counts what rests, the watch what may stay)
    held, resting = _book(position, orders)
    node = lim(position=900.0, gross=1200.0)
    new = LimitOrder(BTC, side, amount, price)
    if breaches(node, new, held, resting) or any(
            breaches(node, LimitOrder.resting(o), held, resting, resting=True) for o in resting):
        return
    placed = rest(99, side, amount, price)
    assert breaches(node, LimitOrder.resting(placed), held, [*resting, placed], resting=True) == []
