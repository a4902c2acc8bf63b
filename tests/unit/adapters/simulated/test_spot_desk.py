"""The simulated engine's spot desk: resting limit orders, conditional (stop-loss, take-profit)
orders waiting for their trigger, their cancels, and the balance they hold (free vs locked).

The engine runs the calm scenario on a manual clock with flat marks (BTC 60,000); the account
holds 1.5 BTC and 50,000 USDT on spot."""

from __future__ import annotations

import pytest

from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, SimError, SimExchange
from adapters.simulated.paths import Flat
from adapters.simulated.spot import STOP_LOSS, TAKE_PROFIT

T0 = 1_772_456_400_000
BTC = "BTCUSDT"
ACC = "spot"


def desk(btc: float = 1.5, usdt: float = 50_000.0) -> SimExchange:
    m = MarketSpec(BTC, "BTC", "USDT", amount_step=0.001, price_tick=0.1, min_amount=0.001, min_notional=5.0)
    ex = SimExchange(ManualClock(T0), markets=[m], accounts=[AccountSpec(ACC, "k", "s", spot=(("BTC", btc),
                                                                                              ("USDT", usdt)))],
                     paths={BTC: Flat(60_000.0)})
    return ex


def code(fn, *a, **kw) -> int:
    with pytest.raises(SimError) as e:
        fn(*a, **kw)
    return e.value.code


def test_a_limit_that_does_not_cross_rests_is_listed_and_holds_its_base():
    ex = desk()
    o = ex.place_spot_order(ACC, BTC, "SELL", 1.0, 62_000.0, time_in_force="GTC", client_order_id="r1")
    assert o.status == "NEW" and o.executed_qty == 0
    assert [x.order_id for x in ex.open_spot_orders(ACC)] == [o.order_id]
    assert ex.spot_locked(ACC) == {"BTC": pytest.approx(1.0)}
    assert ex.account_state(ACC).spot["BTC"] == pytest.approx(1.5)  # held, not spent
    # the free balance is 0.5: a sell above it is refused (insufficient funds), one within it fills
    assert code(ex.place_spot_order, ACC, BTC, "SELL", 0.6) == -2010
    assert code(ex.place_spot_order, ACC, BTC, "SELL", 0.6, 63_000.0, time_in_force="GTC") == -2010
    assert ex.place_spot_order(ACC, BTC, "SELL", 0.5).status == "FILLED"


def test_a_resting_limit_fills_when_the_mark_crosses_it():
    ex = desk()
    sell = ex.place_spot_order(ACC, BTC, "SELL", 1.0, 62_000.0, time_in_force="GTC")
    buy = ex.place_spot_order(ACC, BTC, "BUY", 0.5, 58_000.0, time_in_force="GTC")
    assert ex.spot_locked(ACC)["USDT"] == pytest.approx(0.5 * 58_000 * (1 + ex.taker_fee))
    ex.set_mark(BTC, 61_999.0)
    ex.tick()
    assert len(ex.open_spot_orders(ACC)) == 2
    ex.set_mark(BTC, 62_100.0)
    ex.tick()
    done = ex.get_spot_order(ACC, order_id=sell.order_id)
    assert done.status == "FILLED" and done.avg_price >= 62_000.0
    assert ex.account_state(ACC).spot["BTC"] == pytest.approx(0.5)
    assert [o.order_id for o in ex.open_spot_orders(ACC)] == [buy.order_id]
    ex.set_mark(BTC, 57_000.0)
    ex.tick()
    assert ex.get_spot_order(ACC, order_id=buy.order_id).status == "FILLED"
    assert ex.open_spot_orders(ACC) == [] and ex.spot_locked(ACC) == {}
    assert ex.account_state(ACC).spot["BTC"] == pytest.approx(1.0)


def test_a_buy_above_the_free_quote_is_refused():
    ex = desk(usdt=10_000.0)
    assert code(ex.place_spot_order, ACC, BTC, "BUY", 0.2, 59_000.0, time_in_force="GTC") == -2010
    ex.place_spot_order(ACC, BTC, "BUY", 0.1, 59_000.0, time_in_force="GTC")
    assert code(ex.place_spot_order, ACC, BTC, "BUY", 0.1) == -2010  # 5,900 held of 10,000


def test_cancels_by_id_by_client_id_and_all():
    ex = desk()
    a = ex.place_spot_order(ACC, BTC, "SELL", 0.2, 62_000.0, time_in_force="GTC", client_order_id="a")
    ex.place_spot_order(ACC, BTC, "SELL", 0.2, 63_000.0, time_in_force="GTC", client_order_id="b")
    ex.place_spot_order(ACC, BTC, "SELL", 0.2, 64_000.0, time_in_force="GTC", client_order_id="c")
    assert ex.cancel_spot_order(ACC, a.order_id).status == "CANCELED"
    assert ex.cancel_spot_order(ACC, client_order_id="b").status == "CANCELED"
    assert code(ex.cancel_spot_order, ACC, a.order_id) == -2011  # gone
    assert code(ex.cancel_spot_order, ACC, 12345) == -2011
    assert [o.client_order_id for o in ex.cancel_all_spot(ACC)] == ["c"]
    assert ex.open_spot_orders(ACC) == [] and ex.spot_locked(ACC) == {}
    assert ex.cancel_all_spot(ACC) == []


def test_a_stop_loss_rests_until_its_trigger_then_sells_at_the_mark():
    ex = desk()
    o = ex.place_spot_order(ACC, BTC, "SELL", 1.0, trigger=STOP_LOSS, trigger_price=55_000.0)
    assert o.status == "NEW" and o.type == "MARKET"
    listed = ex.open_spot_orders(ACC)
    assert [(x.trigger, x.trigger_price) for x in listed] == [(STOP_LOSS, 55_000.0)]  # type: ignore[attr-defined]
    assert ex.spot_locked(ACC) == {"BTC": pytest.approx(1.0)}
    ex.set_mark(BTC, 56_000.0)
    ex.tick()
    assert ex.get_spot_order(ACC, order_id=o.order_id).status == "NEW"
    ex.set_mark(BTC, 54_000.0)
    ex.tick()
    done = ex.get_spot_order(ACC, order_id=o.order_id)
    assert done.status == "FILLED" and done.avg_price < 54_000.0
    assert ex.account_state(ACC).spot["BTC"] == pytest.approx(0.5)


def test_a_take_profit_limit_triggers_into_a_resting_limit():
    ex = desk()
    o = ex.place_spot_order(ACC, BTC, "SELL", 1.0, 66_000.0, trigger=TAKE_PROFIT, trigger_price=65_000.0)
    ex.set_mark(BTC, 65_000.0)
    ex.tick()
    working = ex.get_spot_order(ACC, order_id=o.order_id)
    assert working.status == "NEW" and working.trigger_time  # type: ignore[attr-defined]
    ex.set_mark(BTC, 66_500.0)
    ex.tick()
    assert ex.get_spot_order(ACC, order_id=o.order_id).status == "FILLED"


def test_a_stop_cancelled_before_its_trigger_never_fills():
    ex = desk()
    o = ex.place_spot_order(ACC, BTC, "SELL", 1.0, trigger=STOP_LOSS, trigger_price=55_000.0)
    ex.cancel_spot_order(ACC, o.order_id)
    ex.set_mark(BTC, 50_000.0)
    ex.tick()
    assert ex.get_spot_order(ACC, order_id=o.order_id).status == "CANCELED"
    assert ex.account_state(ACC).spot["BTC"] == pytest.approx(1.5)


def test_the_countdown_cancel_all_takes_the_resting_spot_orders():
    ex = desk()
    ex.place_spot_order(ACC, BTC, "SELL", 1.0, 62_000.0, time_in_force="GTC")
    ex.place_spot_order(ACC, BTC, "SELL", 0.5, trigger=STOP_LOSS, trigger_price=55_000.0)
    ex.countdown_cancel_all(ACC, BTC, 10_000)
    ex.advance(10_000)
    assert ex.open_spot_orders(ACC) == []
    assert any(e.get("spot_orders") for e in ex.events if e["event"] == "countdown_cancel_all")


def test_a_gtc_limit_that_crosses_fills_at_once():
    ex = desk()
    o = ex.place_spot_order(ACC, BTC, "SELL", 0.5, 59_000.0, time_in_force="GTC")
    assert o.status == "FILLED" and ex.open_spot_orders(ACC) == []


def test_a_triggered_market_order_on_a_thin_book_expires_what_it_could_not_fill():
    ex = desk()
    ex.set_fill_ratio(0.5)
    o = ex.place_spot_order(ACC, BTC, "SELL", 1.0, trigger=STOP_LOSS, trigger_price=55_000.0)
    ex.set_mark(BTC, 54_000.0)
    ex.tick()
    done = ex.get_spot_order(ACC, order_id=o.order_id)
    assert (done.status, done.executed_qty) == ("EXPIRED", pytest.approx(0.5))
    assert ex.open_spot_orders(ACC) == [] and ex.spot_locked(ACC) == {}


def test_each_spot_change_is_told_apart_from_the_futures_ones():
    """A resting order accepted, a market buy's fill (its balances, then the trade) and a cancel
    reach the engine's listeners as spot changes, stamped by the clock: a face whose venue has no
    spot account tells none (they are not OrderChanged / AccountChanged)."""
    from adapters.simulated.changes import SpotBalancesChanged, SpotOrderChanged

    ex = desk()
    seen: list = []
    ex.on_change(seen.append)
    rest = ex.place_spot_order(ACC, BTC, "SELL", 1.0, 62_000.0, time_in_force="GTC", client_order_id="r1")
    ex.place_spot_order(ACC, BTC, "BUY", 0.1)
    ex.cancel_spot_order(ACC, rest.order_id)
    told = [(type(c).__name__, getattr(c, "execution", None)) for c in seen]
    assert told == [("SpotOrderChanged", "NEW"), ("SpotOrderChanged", "NEW"), ("SpotBalancesChanged", None),
                    ("SpotOrderChanged", "TRADE"), ("SpotOrderChanged", "CANCELED")]
    balances = next(c for c in seen if isinstance(c, SpotBalancesChanged))
    spot = ex.account_state(ACC).spot
    assert dict(balances.balances) == {"BTC": spot["BTC"], "USDT": spot["USDT"]} and balances.ts == T0
    trade = [c for c in seen if isinstance(c, SpotOrderChanged)][2]
    assert (trade.order.status, trade.last_qty, trade.last_price > 0) == ("FILLED", 0.1, True)
    assert seen[-1].order.status == "CANCELED" and seen[-1].order.order_id == rest.order_id
