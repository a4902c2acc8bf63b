"""The pre-trade limits, checked (killswitch.engine.limits): every limit at its value, just under
and just over it; a missing or stale mark; a symbol with limits of its own; hedge legs; and what
cannot be evaluated, refused."""

from __future__ import annotations

import pytest

from killswitch.compile.limits_node import LimitsNode, SymbolLimitsNode
from killswitch.engine.limits import LimitOrder, Mark, order_breaches, usage_of
from killswitch.snapshot import Order, Position

NOW = 1_700_000_000_000
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MARKS = {BTC: Mark(100.0, 1.0, NOW - 1_000), ETH: Mark(10.0, 0.1, NOW - 1_000)}


def pos(symbol=BTC, side="long", contracts=1.0, mark=100.0, position_side=None, size=1.0):
    return Position(symbol=symbol, side=side, contracts=contracts, contract_size=size,
                    notional=contracts * mark * size, mark_price=mark, unrealized_pnl=0.0, position_side=position_side)


def order(i=0, symbol=BTC, side="buy", amount=1.0, price=100.0, kind="regular"):
    return Order(id=f"o{i}", symbol=symbol, side=side, type="limit", kind=kind, amount=amount, price=price)


def codes(limits, o, positions=(), orders=(), marks=MARKS, now=NOW, **kw):
    return [b.code for b in order_breaches(limits, o, list(positions), list(orders), marks, now, **kw)]


def lim(**kw):
    sym = {k: kw.pop(k) for k in list(kw) if k in SymbolLimitsNode.__dataclass_fields__}
    return LimitsNode(default=SymbolLimitsNode(**sym), **kw)


BUY = LimitOrder(BTC, "buy", 1.0, 100.0)


@pytest.mark.parametrize("amount,price,expected", [
    (10.0, 100.0, []),  # 1000 at a limit of 1000: at the limit passes
    (9.99, 100.0, []),
    (10.01, 100.0, ["LIMIT_ORDER_NOTIONAL"]),
    (10.0, None, []),  # no price: valued at the mark (100)
    (10.5, None, ["LIMIT_ORDER_NOTIONAL"]),
])
def test_order_notional_at_under_over(amount, price, expected):
    assert codes(lim(max_order_notional=1000.0), LimitOrder(BTC, "buy", amount, price)) == expected


def test_order_notional_counts_the_contract_size():
    # ETH: mark 10, contract size 0.1 → 50 contracts at 10 are 50 in notional
    assert codes(lim(max_order_notional=50.0), LimitOrder(ETH, "sell", 50.0, 10.0)) == []
    assert codes(lim(max_order_notional=50.0), LimitOrder(ETH, "sell", 51.0, 10.0)) == ["LIMIT_ORDER_NOTIONAL"]


@pytest.mark.parametrize("amount,expected", [(5.0, []), (4.999, []), (5.001, ["LIMIT_ORDER_QUANTITY"])])
def test_order_quantity_at_under_over(amount, expected):
    assert codes(lim(max_order_quantity=5.0), LimitOrder(BTC, "buy", amount, 100.0)) == expected


@pytest.mark.parametrize("price,expected", [
    (105.0, []), (95.0, []),  # at mark × (1 ± 5%)
    (104.99, []), (95.01, []),
    (105.01, ["PRICE_COLLAR"]), (94.99, ["PRICE_COLLAR"]),
])
def test_price_collar_at_under_over(price, expected):
    assert codes(lim(price_collar=0.05), LimitOrder(BTC, "sell", 1.0, price)) == expected


def test_collar_breach_says_the_band_and_the_distance():
    [b] = order_breaches(lim(price_collar=0.05), LimitOrder(BTC, "buy", 1.0, 110.0), [], [], MARKS, NOW)
    assert b.limit == 0.05 and b.usage == pytest.approx(0.10) and b.unit == "ratio"
    assert b.reason.startswith("PRICE_COLLAR: price 110 is 10.00% from mark 100") and "[95, 105]" in b.reason


def test_a_market_order_under_a_collar_is_refused_but_a_resting_one_without_price_is_not_collared():
    assert codes(lim(price_collar=0.05), LimitOrder(BTC, "buy", 1.0, None)) == ["PRICE_COLLAR"]
    assert codes(lim(price_collar=0.05), LimitOrder(BTC, "buy", 1.0, None), resting=True) == []


def test_a_reduce_only_market_order_is_not_collared_but_a_reduce_only_priced_one_is():
    long = [pos(contracts=5.0)]
    assert codes(lim(price_collar=0.05), LimitOrder(BTC, "sell", 1.0, None, reduce_only=True), long) == []
    assert codes(lim(price_collar=0.05), LimitOrder(BTC, "sell", 1.0, 50.0, reduce_only=True), long) == \
        ["PRICE_COLLAR"]
    # the order's size limits still hold for it: a close too large for one order is split by its bot
    assert codes(lim(price_collar=0.05, max_order_notional=50.0),
                 LimitOrder(BTC, "sell", 1.0, None, reduce_only=True), long) == ["LIMIT_ORDER_NOTIONAL"]


@pytest.mark.parametrize("marks,now", [({}, NOW), (MARKS, NOW + 29_001), ({BTC: Mark(100.0, 1.0, NOW - 31_000)}, NOW)])
def test_no_fresh_mark_under_a_collar_is_no_mark(marks, now):
    assert codes(lim(price_collar=0.05), BUY, marks=marks, now=now) == ["NO_MARK"]


def test_mark_age_bound_is_the_policy_s():
    old = {BTC: Mark(100.0, 1.0, NOW - 10_000)}
    assert codes(lim(price_collar=0.05, mark_max_age_ms=10_000), BUY, marks=old) == []
    assert codes(lim(price_collar=0.05, mark_max_age_ms=9_999), BUY, marks=old) == ["NO_MARK"]


def test_a_priced_order_is_valued_without_a_mark_but_a_market_order_is_not():
    assert codes(lim(max_order_notional=1000.0), LimitOrder(BTC, "buy", 1.0, 100.0), marks={}) == []
    assert codes(lim(max_order_notional=1000.0), LimitOrder(BTC, "buy", 1.0, None), marks={}) == ["NO_MARK"]


def test_no_mark_is_said_once_however_many_limits_want_it():
    found = order_breaches(lim(price_collar=0.05, max_order_notional=10.0, max_position_notional=10.0),
                           LimitOrder(BTC, "buy", 1.0, None), [], [], {}, NOW)
    assert [b.code for b in found] == ["NO_MARK"]


def test_a_symbol_s_own_limits_override_the_default():
    node = LimitsNode(default=SymbolLimitsNode(max_order_notional=1000.0, price_collar=0.05),
                      symbols={BTC: SymbolLimitsNode(max_order_notional=5000.0, price_collar=0.01)})
    assert codes(node, LimitOrder(BTC, "buy", 50.0, 100.0)) == []
    assert codes(node, LimitOrder(BTC, "buy", 1.0, 102.0)) == ["PRICE_COLLAR"]  # 2% > BTC's 1%
    assert codes(node, LimitOrder(ETH, "buy", 2000.0, 10.0)) == ["LIMIT_ORDER_NOTIONAL"]  # 2000 > default 1000


@pytest.mark.parametrize("open_now,expected", [(2, []), (3, ["OPEN_ORDERS_LIMIT"])])
def test_open_orders_count_the_new_order(open_now, expected):
    orders = [order(i) for i in range(open_now)]
    assert codes(lim(max_open_orders=3), BUY, orders=orders) == expected


def test_open_orders_per_symbol_count_that_symbol_only():
    orders = [order(0, ETH), order(1, ETH), order(2, BTC)]
    node = lim(max_open_orders=2)  # default per symbol
    assert codes(node, BUY) == []
    assert codes(node, BUY, orders=orders) == []  # BTC: 1 + 1 = 2
    assert codes(node, LimitOrder(ETH, "buy", 1.0, 10.0), orders=orders) == ["OPEN_ORDERS_LIMIT"]


def test_a_resting_order_is_not_counted_twice():
    orders = [order(i) for i in range(3)]
    assert codes(lim(max_open_orders=3), BUY, orders=orders, resting=True) == []


@pytest.mark.parametrize("side,amount,expected", [
    ("buy", 5.0, []),  # long 5 at 100 → 10 → 1000: at the limit
    ("buy", 5.01, ["POSITION_LIMIT"]),
    ("sell", 15.0, []),  # long 5 → short 10: 1000, at the limit
    ("sell", 15.01, ["POSITION_LIMIT"]),  # a flip past the limit on the other side
])
def test_position_after_the_order(side, amount, expected):
    assert codes(lim(max_position_notional=1000.0), LimitOrder(BTC, side, amount, 100.0),
                 positions=[pos(contracts=5.0)]) == expected


def test_an_order_that_reduces_never_breaks_a_position_or_gross_limit():
    over = [pos(contracts=20.0)]  # 2000, over both limits already
    node = lim(max_position_notional=1000.0, max_gross_notional=1000.0)
    assert codes(node, LimitOrder(BTC, "sell", 5.0, 100.0), positions=over) == []
    assert codes(node, LimitOrder(BTC, "buy", 1.0, 100.0), positions=over) == ["POSITION_LIMIT", "GROSS_LIMIT"]
    assert codes(node, LimitOrder(BTC, "buy", 30.0, 100.0, reduce_only=True), positions=over) == []


@pytest.mark.parametrize("amount,expected", [(5.0, []), (5.01, ["GROSS_LIMIT"])])
def test_gross_after_the_order(amount, expected):
    held = [pos(BTC, contracts=5.0), pos(ETH, "short", contracts=500.0, mark=10.0, size=0.1)]  # 500 + 500
    assert codes(lim(max_gross_notional=1500.0), LimitOrder(BTC, "buy", amount, 100.0), positions=held) == expected


def test_hedge_legs_are_positions_of_their_own():
    legs = [pos(contracts=8.0, position_side="LONG"), pos(side="short", contracts=8.0, position_side="SHORT")]
    node = lim(max_position_notional=1000.0)
    # the LONG leg (800) grows to 1000: at the limit; the SHORT leg is not summed in
    assert codes(node, LimitOrder(BTC, "buy", 2.0, 100.0, position_side="LONG"), positions=legs) == []
    assert codes(node, LimitOrder(BTC, "buy", 2.1, 100.0, position_side="LONG"), positions=legs) == ["POSITION_LIMIT"]
    # buying on the SHORT leg closes it (it never crosses zero)
    assert codes(node, LimitOrder(BTC, "buy", 50.0, 100.0, position_side="SHORT"), positions=legs) == []
    # no leg named on a symbol held in hedge mode: cannot tell, refused
    [b] = order_breaches(node, LimitOrder(BTC, "buy", 1.0, 100.0), legs, [], MARKS, NOW)
    assert b.code == "POSITION_LIMIT" and "hedge mode" in b.detail and b.usage is None


@pytest.mark.parametrize("node,code", [
    (lim(max_position_notional=1000.0), "POSITION_LIMIT"),
    (lim(max_gross_notional=1000.0), "GROSS_LIMIT"),
    (lim(max_open_orders=10), "OPEN_ORDERS_LIMIT"),
])
def test_an_unread_book_fails_closed(node, code):
    found = order_breaches(node, BUY, None, None, MARKS, NOW)
    assert [b.code for b in found] == [code] and "not known" in found[0].detail


def test_limits_that_need_no_book_are_checked_without_one():
    assert order_breaches(lim(max_order_notional=1000.0), BUY, None, None, MARKS, NOW) == []


@pytest.mark.parametrize("tokens,expected", [(None, []), (1.0, []), (0.99, ["MESSAGE_RATE"])])
def test_message_rate_reads_the_bucket_level(tokens, expected):
    node = lim(message_rate=10.0, message_burst=20)
    assert codes(node, BUY, tokens=tokens) == expected


def test_a_breach_carries_the_limit_and_the_usage_for_the_answer():
    [b] = order_breaches(lim(max_order_notional=1000.0), LimitOrder(BTC, "buy", 12.0, 100.0), [], [], MARKS, NOW)
    assert b.to_json() == {"code": "LIMIT_ORDER_NOTIONAL", "value": 1000.0, "usage": 1200.0, "unit": "quote",
                           "symbol": BTC}


def test_usage_of_sums_gross_and_counts_orders():
    u = usage_of([pos(contracts=2.0), pos(ETH, "short", 100.0, 10.0, size=0.1)], [order(0), order(1, ETH)])
    assert u.gross == pytest.approx(300.0) and u.open_orders == 2 and u.open_by_symbol == {BTC: 1, ETH: 1}
