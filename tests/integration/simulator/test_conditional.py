"""The simulated exchange's conditional orders (stops, take-profits, trailing stops), kept in an
algo service apart from the book as Binance USDⓈ-M keeps them: placing and its refusals, the
list and the lookup, triggering on a crossing mark, a close-position stop that closes the whole
leg and never opens exposure, cancels and the countdown cancel-all (adapters/simulated/conditional.py).
"""

from __future__ import annotations

import pytest

from adapters.simulated.engine import SimError
from tests.integration.sim_helpers import T0, engine

BTC, ETH = "BTCUSDT", "ETHUSDT"


def code_of(fn, *a, **kw) -> int:
    with pytest.raises(SimError) as e:
        fn(*a, **kw)
    return e.value.code


def leg(ex, symbol: str, ps: str = "BOTH", account: str = "sim-main") -> float:
    return next((p.amount for p in ex.positions(account, symbol) if p.position_side == ps), 0.0)


def test_a_stop_is_listed_by_the_algo_service_and_not_by_the_book(sim):
    ex, _ = sim
    o = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=55_000.0,
                            reduce_only=True, client_algo_id="sl-1")
    assert (o.status, o.order_type, o.trigger_price, o.quantity, o.closes) == ("NEW", "STOP_MARKET", 55_000.0, 1.0,
                                                                                True)
    assert [x.client_algo_id for x in ex.open_algo_orders("sim-main")] == ["sl-1"]
    assert [x.algo_id for x in ex.open_algo_orders("sim-main", BTC)] == [o.algo_id]
    assert ex.open_algo_orders("sim-main", ETH) == []
    assert ex.open_orders("sim-main") == []  # the book does not hold it
    assert ex.get_algo_order("sim-main", client_algo_id="sl-1").algo_id == o.algo_id
    assert ex.get_algo_order("sim-main", algo_id=o.algo_id).client_algo_id == "sl-1"
    assert code_of(ex.get_algo_order, "sim-main", client_algo_id="nope") == -2013
    state = ex.dump_state()["accounts"]["sim-main"]["algo_orders"]
    assert [(x["client_algo_id"], x["status"]) for x in state] == [("sl-1", "NEW")]


def test_placing_is_validated_as_the_venue_does(sim):
    ex, clock = sim
    cases = [
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.0, algo_type="VP"), -1130),
        (dict(type="LIMIT", quantity=1.0, trigger_price=55_000.0), -1116),
        (dict(type="STOP_MARKET", quantity=1.0), -1102),  # no trigger price
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=0.0), -4006),
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.05), -4014),
        (dict(type="STOP_MARKET", quantity=0.0001, trigger_price=55_000.0), -1111),
        (dict(type="STOP_MARKET", trigger_price=55_000.0), -1102),  # no quantity, no closePosition
        (dict(type="STOP", quantity=1.0, trigger_price=55_000.0), -1102),  # a STOP needs its limit price
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.0, price=54_000.0), -1106),
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.0, close_position=True), -1106),
        (dict(type="STOP_MARKET", trigger_price=55_000.0, close_position=True, reduce_only=True), -1106),
        (dict(type="STOP", trigger_price=55_000.0, price=55_000.0, close_position=True), -4136),
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=65_000.0), -2021),  # a sell stop above the mark
        (dict(type="TAKE_PROFIT_MARKET", quantity=1.0, trigger_price=55_000.0), -2021),
        (dict(type="TRAILING_STOP_MARKET", quantity=1.0), -1102),  # no callback rate
        (dict(type="TRAILING_STOP_MARKET", quantity=1.0, callback_rate=20.0), -1130),
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.0, position_side="LONG"), -4061),
        (dict(type="STOP_MARKET", quantity=1.0, trigger_price=55_000.0, client_algo_id="bad id!"), -1100),
    ]
    for kw, code in cases:
        clock.advance(1_000)  # every attempt counts against the orders-per-second limit
        assert code_of(ex.place_algo_order, "sim-main", BTC, "SELL", **kw) == code, kw
    ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=55_000.0,
                        client_algo_id="dup")
    clock.advance(1_000)
    assert code_of(ex.place_algo_order, "sim-main", BTC, "SELL", "STOP_MARKET", quantity=1.0,
                   trigger_price=54_000.0, client_algo_id="dup") == -4116
    # the regular order call refuses the types that moved
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "STOP_MARKET", 1.0) == -4120
    assert code_of(ex.place_order, "sim-main", BTC, "BUY", "TAKE_PROFIT", 1.0, 59_000.0) == -4120


def test_hedge_mode_takes_the_leg_and_refuses_reduce_only():
    ex, _ = engine()
    assert code_of(ex.place_algo_order, "sim-hedge", BTC, "SELL", "STOP_MARKET", quantity=1.0,
                   trigger_price=55_000.0, position_side="LONG", reduce_only=True) == -1106
    assert code_of(ex.place_algo_order, "sim-hedge", BTC, "SELL", "STOP_MARKET", quantity=1.0,
                   trigger_price=55_000.0) == -4061  # BOTH in hedge mode
    o = ex.place_algo_order("sim-hedge", BTC, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=55_000.0,
                            position_side="LONG")
    assert o.closes and not o.reduce_only  # a SELL on LONG can only close
    entry = ex.place_algo_order("sim-hedge", BTC, "BUY", "STOP_MARKET", quantity=1.0, trigger_price=65_000.0,
                                position_side="LONG")
    assert not entry.closes


def test_a_stop_triggers_when_the_mark_crosses_its_price_and_becomes_a_market_order(sim):
    ex, clock = sim
    o = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", quantity=2.0, trigger_price=55_000.0,
                            reduce_only=True, client_algo_id="sl-1")
    ex.set_mark(BTC, 55_100.0)
    clock.advance(1_000)
    ex.tick()
    assert ex.get_algo_order("sim-main", o.algo_id).status == "NEW" and leg(ex, BTC) == pytest.approx(5.0)
    ex.set_mark(BTC, 54_900.0)
    clock.advance(1_000)
    ex.tick()
    done = ex.get_algo_order("sim-main", o.algo_id)
    assert (done.status, done.trigger_time) == ("TRIGGERED", T0 + 2_000)
    assert ex.open_algo_orders("sim-main") == []
    assert leg(ex, BTC) == pytest.approx(3.0)
    [event] = [e for e in ex.events if e["event"] == "algo_trigger"]
    assert (event["algo"], event["order"], event["ts"]) == (o.algo_id, done.actual_order_id, T0 + 2_000)
    fills = [e for e in ex.events if e["event"] == "fill" and e["order"] == done.actual_order_id]
    assert [(f["side"], f["qty"]) for f in fills] == [("SELL", 2.0)]


def test_a_stop_limit_triggers_into_a_limit_at_its_price(sim):
    ex, clock = sim
    o = ex.place_algo_order("sim-main", ETH, "BUY", "STOP", quantity=1.0, trigger_price=3_100.0, price=3_050.0,
                            client_algo_id="entry-stop")
    ex.set_mark(ETH, 3_120.0)
    clock.advance(1_000)
    ex.tick()
    done = ex.get_algo_order("sim-main", o.algo_id)
    assert done.status == "TRIGGERED"
    [limit] = ex.open_orders("sim-main", ETH)  # 3 050 is below the mark: it rests
    assert (limit.order_id, limit.type, limit.price, limit.quantity) == (done.actual_order_id, "LIMIT", 3_050.0, 1.0)
    ex.set_mark(ETH, 3_040.0)
    clock.advance(1_000)
    ex.tick()
    assert ex.open_orders("sim-main", ETH) == [] and leg(ex, ETH) == pytest.approx(101.0)


def test_close_position_closes_the_whole_leg_and_never_opens_exposure(sim):
    ex, clock = sim
    sl = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", trigger_price=55_000.0, close_position=True)
    tp = ex.place_algo_order("sim-main", BTC, "SELL", "TAKE_PROFIT_MARKET", trigger_price=70_000.0,
                             close_position=True)
    wrong = ex.place_algo_order("sim-main", BTC, "BUY", "TAKE_PROFIT_MARKET", trigger_price=56_000.0,
                                close_position=True)
    assert sl.quantity == 0.0 and sl.closes and wrong.closes
    ex.place_order("sim-main", BTC, "BUY", "MARKET", 1.0)  # the leg grows after the stop was placed: 6
    ex.set_mark(BTC, 54_000.0)
    clock.advance(1_000)
    ex.tick()
    assert ex.get_algo_order("sim-main", sl.algo_id).status == "TRIGGERED"
    assert leg(ex, BTC) == pytest.approx(0.0)  # all of it, not more
    # a BUY close-position on a long has nothing to close: it expires and opens no short
    assert ex.get_algo_order("sim-main", wrong.algo_id).status == "EXPIRED"
    ex.set_mark(BTC, 71_000.0)
    clock.advance(1_000)
    ex.tick()
    assert ex.get_algo_order("sim-main", tp.algo_id).status == "EXPIRED"
    assert leg(ex, BTC) == pytest.approx(0.0)
    assert [e["event"] for e in ex.events if e["event"].startswith("algo_")] == [
        "algo_trigger", "algo_expire", "algo_expire"]


def test_a_reduce_only_stop_larger_than_the_leg_is_refused_when_it_triggers(sim):
    ex, clock = sim
    o = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", quantity=8.0, trigger_price=55_000.0,
                            reduce_only=True)
    ex.set_mark(BTC, 54_000.0)
    clock.advance(1_000)
    ex.tick()
    assert ex.get_algo_order("sim-main", o.algo_id).status == "REJECTED"
    assert leg(ex, BTC) == pytest.approx(5.0)
    assert [e.get("code") for e in ex.events if e["event"] == "algo_reject"] == [-2022]


def test_a_trailing_stop_follows_the_best_mark_and_triggers_on_the_callback(sim):
    ex, clock = sim
    o = ex.place_algo_order("sim-main", BTC, "SELL", "TRAILING_STOP_MARKET", quantity=1.0, callback_rate=1.0,
                            reduce_only=True)
    for mark, status in ((62_000.0, "NEW"), (61_500.0, "NEW"), (61_390.0, "NEW"), (61_370.0, "TRIGGERED")):
        ex.set_mark(BTC, mark)
        clock.advance(1_000)
        ex.tick()
        assert ex.get_algo_order("sim-main", o.algo_id).status == status, mark
    assert ex.get_algo_order("sim-main", o.algo_id).best_mark == 62_000.0
    assert leg(ex, BTC) == pytest.approx(4.0)


def test_cancel_one_and_cancel_all_of_a_symbol(sim):
    ex, clock = sim
    a = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=55_000.0)
    b = ex.place_algo_order("sim-main", BTC, "SELL", "TAKE_PROFIT_MARKET", quantity=1.0, trigger_price=70_000.0,
                            client_algo_id="tp")
    c = ex.place_algo_order("sim-main", ETH, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=2_500.0)
    assert ex.cancel_algo_order("sim-main", algo_id=a.algo_id).status == "CANCELED"
    assert code_of(ex.cancel_algo_order, "sim-main", algo_id=a.algo_id) == -2011
    assert code_of(ex.cancel_algo_order, "sim-main") == -1102
    assert [o.algo_id for o in ex.cancel_all_algo("sim-main", BTC)] == [b.algo_id]
    assert [o.algo_id for o in ex.open_algo_orders("sim-main")] == [c.algo_id]
    assert ex.get_algo_order("sim-main", client_algo_id="tp").status == "CANCELED"


def test_the_countdown_cancels_the_symbols_conditional_orders_too(sim):
    ex, clock = sim
    ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True)
    sl = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", trigger_price=55_000.0, close_position=True)
    eth = ex.place_algo_order("sim-main", ETH, "SELL", "STOP_MARKET", quantity=1.0, trigger_price=2_500.0)
    ex.countdown_cancel_all("sim-main", BTC, 5_000)
    clock.advance(5_000)
    ex.tick()
    assert [o.algo_id for o in ex.open_algo_orders("sim-main")] == [eth.algo_id]
    assert ex.get_algo_order("sim-main", sl.algo_id).update_time == T0 + 5_000
    [event] = [e for e in ex.events if e["event"] == "countdown_cancel_all"]
    assert event["algo_orders"] == [sl.algo_id] and len(event["orders"]) == 1


def test_conditional_orders_are_deterministic_and_in_the_digest():
    def play() -> tuple[str, dict]:
        ex, clock = engine()
        ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", trigger_price=59_000.0, close_position=True)
        ex.place_algo_order("sim-main", BTC, "SELL", "TRAILING_STOP_MARKET", quantity=1.0, callback_rate=0.5)
        for mark in (60_500.0, 60_100.0, 58_000.0):
            ex.set_mark(BTC, mark)
            clock.advance(1_000)
            ex.tick()
        return ex.digest(), ex.dump_state()

    (d1, s1), (d2, s2) = play(), play()
    assert d1 == d2 and s1 == s2
    assert [o["status"] for o in s1["accounts"]["sim-main"]["algo_orders"]] == ["TRIGGERED", "TRIGGERED"]
