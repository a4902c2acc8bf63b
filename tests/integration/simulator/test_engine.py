"""The simulated exchange's engine (its in-process face, SimulatedAdapter, and every fault kind
through it are in test_adapter.py).

Engine semantics: fills at the mark with size-dependent slippage, partial fills, fees and
realized PnL, hedge-mode legs, the reduce-only rules, duplicate client ids, rate limits,
countdown cancel-all, price paths, determinism, and the fault plan's scheduling rules.
"""

from __future__ import annotations

import math

import pytest

from adapters.simulated.engine import (
    AccountSpec,
    ManualClock,
    MarketSpec,
    RateLimits,
    SimError,
    SimExchange,
    SlippageModel,
)
from adapters.simulated.faults import FaultKind, FaultPlan
from adapters.simulated.paths import Piecewise, flash_crash, noise, short_squeeze, slow_bleed
from adapters.simulated.scenarios import SCENARIOS, build
from tests.integration.sim_helpers import BTC, ETH, SOL, T0, code_of, engine, leg

# --- fills, slippage, fees ---------------------------------------------------------------------------------


def test_market_close_fills_at_the_mark_with_slippage_fee_and_realized_pnl(sim):
    ex, _ = sim
    wallet0 = ex.account_state("sim-main").wallet
    o = ex.place_order("sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True, client_order_id="c1")
    bps = SlippageModel().bps(60_000.0)  # 1 + 2 * 0.6 = 2.2 bps
    px = math.floor(60_000.0 * (1 - bps / 1e4) / 0.1 + 1e-9) * 0.1
    assert o.status == "FILLED" and o.executed_qty == 1.0
    assert o.avg_price == pytest.approx(px)
    assert o.fee == pytest.approx(px * 0.0004)
    assert o.realized_pnl == pytest.approx(px - 60_000.0)  # entry 60 000
    assert ex.account_state("sim-main").wallet == pytest.approx(wallet0 + (px - 60_000.0) - px * 0.0004)
    assert leg(ex, "sim-main", BTC) == pytest.approx(4.0)


def test_slippage_grows_with_size(sim):
    ex, _ = sim
    small = ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.1, reduce_only=True)
    big = ex.place_order("sim-main", BTC, "SELL", "MARKET", 4.0, reduce_only=True)
    assert 60_000 > small.avg_price > big.avg_price
    buy = ex.place_order("sim-main", SOL, "BUY", "MARKET", 900, reduce_only=True)
    assert buy.avg_price > 140.0
    assert SlippageModel(max_bps=5).bps(10**9) == 5


def test_equity_is_wallet_plus_unrealized_pnl(sim):
    ex, clock = sim
    ex.set_mark(BTC, 55_000.0)
    v = ex.account_state("sim-main")
    upnl = sum(p.unrealized_pnl for p in ex.positions("sim-main"))
    assert v.unrealized_pnl == pytest.approx(upnl)
    assert v.equity == pytest.approx(v.wallet + upnl)
    assert upnl == pytest.approx(5 * (55_000 - 60_000))  # ETH and SOL at entry


def test_partial_fills_market_expires_remainder_and_gtc_rests(sim):
    ex, _ = sim
    ex.set_fill_ratio(0.5)
    o = ex.place_order("sim-main", ETH, "SELL", "MARKET", 10.0, reduce_only=True)
    assert (o.status, o.executed_qty) == ("EXPIRED", 5.0)
    lim = ex.place_order("sim-main", ETH, "SELL", "LIMIT", 10.0, 2_990.0, time_in_force="GTC", reduce_only=True)
    assert (lim.status, lim.executed_qty) == ("PARTIALLY_FILLED", 5.0)
    assert [x.order_id for x in ex.open_orders("sim-main", ETH)] == [lim.order_id]  # thin book: it rests
    assert ex.get_order("sim-main", ETH, lim.order_id).status == "PARTIALLY_FILLED"
    ex.set_fill_ratio(1.0)
    ex.set_mark(ETH, 2_995.0)
    assert ex.get_order("sim-main", ETH, lim.order_id).status == "FILLED"  # liquidity back: fills once crossed
    ex.set_fill_ratio(0.0, SOL)
    assert ex.place_order("sim-main", SOL, "BUY", "MARKET", 10, reduce_only=True).executed_qty == 0
    with pytest.raises(ValueError):
        ex.set_fill_ratio(1.5)


def test_partial_fill_remainder_of_an_ioc_rests_when_the_venue_works_orders(sim):
    ex, _ = sim
    ex.set_fill_ratio(0.4, rest_remainder=True)
    ioc = ex.place_order("sim-main", SOL, "BUY", "LIMIT", 10, 141.0, time_in_force="IOC", reduce_only=True)
    assert (ioc.status, ioc.executed_qty) == ("PARTIALLY_FILLED", 4.0)  # 40 %, on the step
    assert [o.order_id for o in ex.open_orders("sim-main", SOL)] == [ioc.order_id]
    tiny = ex.place_order("sim-main", SOL, "BUY", "LIMIT", 2, 141.0, time_in_force="IOC", reduce_only=True)
    assert (tiny.status, tiny.executed_qty) == ("NEW", 0.0)  # 40 % of 2 rounds down to nothing
    market = ex.place_order("sim-main", ETH, "SELL", "MARKET", 10.0, reduce_only=True)
    assert market.status == "EXPIRED"  # a market order never rests
    ex.cancel_order("sim-main", SOL, ioc.order_id)
    assert ex.get_order("sim-main", SOL, ioc.order_id).status == "CANCELED"
    # the position closed by other means (a fill elsewhere, a liquidation): a resting close
    # expires although the book is still thin
    ex.open_position("sim-main", SOL, "long", 996, 140.0)
    assert ex.get_order("sim-main", SOL, tiny.order_id).status == "EXPIRED"
    ex.set_fill_ratio(0.4, rest_remainder=False)
    again = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 59_000.0, time_in_force="IOC", reduce_only=True)
    assert (again.status, again.executed_qty) == ("EXPIRED", 0.4)


def test_protected_limit_beyond_the_mark_does_not_fill(sim):
    ex, _ = sim
    ioc = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 60_100.0, time_in_force="IOC", reduce_only=True)
    assert (ioc.status, ioc.executed_qty) == ("EXPIRED", 0.0)
    gtc = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 60_100.0, time_in_force="GTC", reduce_only=True)
    assert gtc.status == "NEW" and leg(ex, "sim-main", BTC) == 5.0
    # within the protection: the fill is at the mark less slippage, never below the limit
    ok = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 59_999.0, time_in_force="IOC", reduce_only=True)
    assert ok.status == "FILLED" and ok.avg_price == 59_999.0
    fok = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 60_500.0, time_in_force="FOK", reduce_only=True)
    assert fok.status == "EXPIRED"
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "LIMIT", 1.0, 59_000.0, time_in_force="GTX",
                   reduce_only=True) == -5022


def test_resting_reduce_only_order_expires_when_the_position_is_gone(sim):
    ex, _ = sim
    tp = ex.place_order("sim-main", SOL, "BUY", "LIMIT", 500, 100.0, time_in_force="GTC", reduce_only=True)
    ex.place_order("sim-main", SOL, "BUY", "MARKET", 1000, reduce_only=True)
    assert leg(ex, "sim-main", SOL) == 0
    ex.set_mark(SOL, 99.0)
    assert ex.get_order("sim-main", SOL, tp.order_id).status == "EXPIRED"


def test_flip_and_margin(sim):
    ex, _ = sim
    o = ex.place_order("sim-main", SOL, "BUY", "MARKET", 1500)  # closes 1000 short, opens 500 long
    assert o.status == "FILLED" and leg(ex, "sim-main", SOL) == 500
    p = [x for x in ex.positions("sim-main") if x.symbol == SOL][0]
    assert p.entry_price == o.avg_price and p.side == "long"
    assert code_of(ex.place_order, "sim-main", BTC, "BUY", "MARKET", 1000.0) == -2019  # 60M notional on ~1M
    assert code_of(ex.place_order, "sim-main", BTC, "BUY", "MARKET", 0.001) == -4164  # 60 USDT < 100 min notional


def test_order_validation_codes(sim):
    ex, clock = sim
    cases = [
        (dict(symbol="XRPUSDT", side="SELL", type="MARKET", quantity=1), -1121),
        (dict(symbol=BTC, side="SIDEWAYS", type="MARKET", quantity=1), -1117),
        (dict(symbol=BTC, side="SELL", type="TRAILING", quantity=1), -1116),
        # since Binance moved conditional orders to its algo service (tests/integration/simulator/test_conditional.py)
        (dict(symbol=BTC, side="SELL", type="STOP_MARKET", quantity=1), -4120),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=0), -4003),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=0.0001), -1111),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=None), -1102),
        (dict(symbol=BTC, side="SELL", type="LIMIT", quantity=1, price=None, time_in_force="GTC"), -1102),
        (dict(symbol=BTC, side="SELL", type="LIMIT", quantity=1, price=60_000.05, time_in_force="GTC"), -4014),
        (dict(symbol=BTC, side="SELL", type="LIMIT", quantity=1, price=60_000.0), -1102),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=1, price=60_000.0), -1106),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=1, client_order_id="bad id!"), -1100),
        (dict(symbol=BTC, side="SELL", type="MARKET", quantity=1, position_side="LONG"), -4061),
    ]
    for kw, code in cases:
        clock.advance(1_000)  # every attempt counts against the orders-per-second limit
        assert code_of(ex.place_order, "sim-main", **kw) == code, kw


# --- reduce-only, hedge mode, client ids ----------------------------------------------------------------------


def test_reduce_only_rejections_one_way(sim):
    ex, _ = sim
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "MARKET", 5.001, reduce_only=True) == -2022  # larger
    assert code_of(ex.place_order, "sim-main", BTC, "BUY", "MARKET", 1.0, reduce_only=True) == -2022  # wrong side
    assert code_of(ex.place_order, "sim-main", SOL, "SELL", "MARKET", 1, reduce_only=True) == -2022  # wrong side
    ex.place_order("sim-main", BTC, "SELL", "MARKET", 5.0, reduce_only=True)
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "MARKET", 0.001, reduce_only=True) == -2022  # flat
    assert leg(ex, "sim-main", BTC) == 0
    # reduce-only is exempt from the minimum notional
    ex.place_order("sim-main", SOL, "BUY", "MARKET", 1, reduce_only=True)


def test_hedge_mode_legs():
    ex, _ = engine()
    assert leg(ex, "sim-hedge", BTC, "LONG") == 2.0 and leg(ex, "sim-hedge", BTC, "SHORT") == -4.0
    # the reduceOnly parameter is not accepted in hedge mode; positionSide is required
    assert code_of(ex.place_order, "sim-hedge", BTC, "BUY", "MARKET", 1.0, reduce_only=True,
                   position_side="SHORT") == -1106
    assert code_of(ex.place_order, "sim-hedge", BTC, "BUY", "MARKET", 1.0) == -4061
    assert code_of(ex.place_order, "sim-hedge", BTC, "BUY", "MARKET", 1.0, position_side="BOTH") == -4061
    # a close is the opposite side on a leg, no larger than the leg
    assert code_of(ex.place_order, "sim-hedge", BTC, "BUY", "MARKET", 4.001, position_side="SHORT") == -2022
    assert code_of(ex.place_order, "sim-hedge", SOL, "SELL", "MARKET", 1, position_side="LONG") == -2022  # no leg
    c = ex.place_order("sim-hedge", BTC, "BUY", "MARKET", 4.0, position_side="SHORT", client_order_id="h1")
    assert c.closes and c.status == "FILLED"
    assert leg(ex, "sim-hedge", BTC, "SHORT") == 0 and leg(ex, "sim-hedge", BTC, "LONG") == 2.0
    # opening on a leg leaves the other leg alone
    ex.place_order("sim-hedge", BTC, "SELL", "MARKET", 1.0, position_side="SHORT")
    assert leg(ex, "sim-hedge", BTC, "SHORT") == -1.0 and leg(ex, "sim-hedge", BTC, "LONG") == 2.0
    assert code_of(ex.set_position_mode, "sim-hedge", True) == -4059
    assert code_of(ex.set_position_mode, "sim-hedge", False) == -4068


def test_duplicate_client_order_id_is_rejected(sim):
    ex, _ = sim
    ex.place_order("sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True, client_order_id="ks-dup")
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True,
                   client_order_id="ks-dup") == -4116
    assert leg(ex, "sim-main", BTC) == 4.0  # the duplicate never executed
    # per account: another account may use the same id
    ex.place_order("sim-hedge", BTC, "SELL", "MARKET", 1.0, position_side="LONG", client_order_id="ks-dup")


def test_an_orders_and_an_algo_orders_client_ids_are_checked_alike_each_naming_its_parameter(sim):
    ex, clock = sim
    stop = {"quantity": 1.0, "trigger_price": 50_000.0, "reduce_only": True}
    for bad in ("has space", "x" * 37, "é"):
        clock.advance(1_000)  # (a refused order counts against the orders a second too)
        with pytest.raises(SimError) as e:
            ex.place_order("sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True, client_order_id=bad)
        assert e.value.code == -1100 and "'newClientOrderId'" in str(e.value)
        with pytest.raises(SimError) as e:
            ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", client_algo_id=bad, **stop)
        assert e.value.code == -1100 and "'clientAlgoId'" in str(e.value)
    clock.advance(1_000)
    algo = ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", client_algo_id="ks-stop", **stop)
    assert code_of(ex.place_algo_order, "sim-main", BTC, "SELL", "STOP_MARKET", client_algo_id="ks-stop",
                   **stop) == -4116
    # an order's and an algo order's ids are apart; one given none gets one made up, never repeated
    assert ex.place_order("sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True,
                          client_order_id="ks-stop").client_order_id == "ks-stop"
    made = [ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.1, reduce_only=True).client_order_id,
            ex.place_algo_order("sim-main", BTC, "SELL", "STOP_MARKET", **stop).client_algo_id,
            ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.1, reduce_only=True).client_order_id]
    assert "auto" in made[0] and "algo" in made[1] and "auto" in made[2] and len(set(made)) == 3
    assert algo.client_algo_id == "ks-stop"


def test_client_id_scope_open_allows_reuse_after_the_order_is_done():
    ex, _ = engine(client_id_scope="open")
    lim = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True,
                         client_order_id="re")
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True,
                   client_order_id="re") == -4116
    ex.cancel_order("sim-main", BTC, lim.order_id)
    assert ex.place_order("sim-main", BTC, "SELL", "MARKET", 1.0, reduce_only=True,
                          client_order_id="re").is_open is False


def test_orders_queries_and_cancels(sim):
    ex, _ = sim
    a = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True,
                       client_order_id="a")
    b = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC", client_order_id="b")
    assert ex.get_order("sim-main", BTC, client_order_id="a").order_id == a.order_id
    assert code_of(ex.get_order, "sim-main", ETH, client_order_id="a") == -2013  # wrong symbol
    assert code_of(ex.get_order, "sim-main", BTC, client_order_id="zz") == -2013
    assert code_of(ex.get_order, "sim-main", BTC) == -1102
    assert [o.order_id for o in ex.open_orders("sim-main")] == [a.order_id, b.order_id]
    assert ex.account_state("sim-main").open_order_margin == pytest.approx(2_000.0 / 10)  # entries only
    assert ex.cancel_order("sim-main", ETH, client_order_id="b").status == "CANCELED"
    assert code_of(ex.cancel_order, "sim-main", ETH, b.order_id) == -2011
    assert [o.order_id for o in ex.cancel_all("sim-main", BTC)] == [a.order_id]
    assert ex.open_orders("sim-main") == []


def test_liquidation_price_estimate():
    clock = ManualClock(T0)
    m = MarketSpec("BTCUSDT", "BTC", maint_margin_rate=0.004, min_notional=5)
    ex = SimExchange(clock, markets=[m], accounts=[AccountSpec("a", "k", "s", wallet=10_000.0)],
                     paths={"BTCUSDT": Piecewise(((0, 60_000.0),))})
    ex.open_position("a", "BTCUSDT", "long", 1.0, 60_000.0)
    (p,) = ex.positions("a")
    assert p.liquidation_price == pytest.approx((60_000 - 10_000) / (1 - 0.004))
    # the mark at the estimate eats the wallet down to the maintenance margin
    liq = p.liquidation_price
    assert 10_000 + (liq - 60_000) == pytest.approx(0.004 * liq)
    ex2 = SimExchange(clock, markets=[m], accounts=[AccountSpec("a", "k", "s", wallet=10_000.0)],
                      paths={"BTCUSDT": Piecewise(((0, 60_000.0),))})
    ex2.open_position("a", "BTCUSDT", "short", 1.0, 60_000.0)
    assert ex2.positions("a")[0].liquidation_price == pytest.approx(70_000 / 1.004)


def test_spot_orders():
    ex, _ = engine()
    usdt0 = ex.account_state("sim-main").spot["USDT"]
    o = ex.place_spot_order("sim-main", BTC, "SELL", 1.0, client_order_id="s1")
    assert o.status == "FILLED" and o.spot
    spot = ex.account_state("sim-main").spot
    assert spot["BTC"] == pytest.approx(0.5)
    assert spot["USDT"] == pytest.approx(usdt0 + o.cum_quote - o.fee)
    assert code_of(ex.place_spot_order, "sim-main", BTC, "SELL", 1.0) == -2010
    assert ex.get_spot_order("sim-main", "s1").order_id == o.order_id
    assert code_of(ex.place_spot_order, "sim-main", BTC, "SELL", 0.5, client_order_id="s1") == -4116


# --- rate limits ------------------------------------------------------------------------------------------------


def test_orders_per_second_limit_then_ban():
    ex, clock = engine(rate_limits=RateLimits(orders_per_second=3, ban_after=3, ban_ms=10_000))
    for _ in range(3):
        ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.01, reduce_only=True)
    with pytest.raises(SimError) as e:
        ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.01, reduce_only=True)
    assert (e.value.code, e.value.http_status, e.value.retry_after_s) == (-1015, 429, 1.0)
    clock.advance(1_000)  # a new second
    for _ in range(3):
        ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.01, reduce_only=True)
    assert code_of(ex.place_order, "sim-main", BTC, "SELL", "MARKET", 0.01, reduce_only=True) == -1015
    with pytest.raises(SimError) as e:  # the third 429 in the window starts a ban
        ex.place_order("sim-main", BTC, "SELL", "MARKET", 0.01, reduce_only=True)
    assert (e.value.code, e.value.http_status) == (-1003, 418)
    assert e.value.retry_after_s == 10.0
    with pytest.raises(SimError) as e:
        ex.positions("sim-main")
    assert e.value.http_status == 418
    ex.positions("sim-hedge")  # per account
    clock.advance(10_000)
    ex.positions("sim-main")


def test_request_weight_per_minute():
    ex, clock = engine(rate_limits=RateLimits(weight_per_minute=20))
    for _ in range(4):
        ex.positions("sim-main")  # weight 5
    with pytest.raises(SimError) as e:
        ex.account_state("sim-main")
    assert (e.value.code, e.value.http_status) == (-1003, 429)
    assert e.value.retry_after_s == 60.0
    assert ex.used_weight("sim-main") == 20
    clock.advance(60_000)
    ex.account_state("sim-main")
    assert ex.used_weight("sim-main") == 5


# --- countdown cancel-all -------------------------------------------------------------------------------------------


def test_countdown_cancel_all(sim):
    ex, clock = sim
    btc = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True)
    eth = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC")
    assert ex.countdown_cancel_all("sim-main", BTC, 5_000) == {"symbol": BTC, "countdownTime": "5000"}
    assert ex.countdowns("sim-main") == {BTC: T0 + 5_000}
    clock.advance(4_000)
    ex.countdown_cancel_all("sim-main", BTC, 5_000)  # heartbeat: re-armed from now
    clock.advance(4_999)
    assert ex.get_order("sim-main", BTC, btc.order_id).status == "NEW"
    clock.advance(2_000)  # past the deadline T0 + 9 000; evaluated on the next engine call
    o = ex.get_order("sim-main", BTC, btc.order_id)
    assert (o.status, o.update_time) == ("CANCELED", T0 + 9_000)
    assert ex.get_order("sim-main", ETH, eth.order_id).status == "NEW"  # other symbols untouched
    assert ex.countdowns("sim-main") == {}
    assert [e for e in ex.events if e["event"] == "countdown_cancel_all"] == [
        {"event": "countdown_cancel_all", "account": "sim-main", "symbol": BTC, "ts": T0 + 9_000,
         "orders": [btc.order_id]}]


def test_countdown_disarm_and_advance(sim):
    ex, clock = sim
    eth = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC")
    ex.countdown_cancel_all("sim-main", ETH, 1_000)
    ex.countdown_cancel_all("sim-main", ETH, 0)
    ex.advance(5_000)
    assert ex.get_order("sim-main", ETH, eth.order_id).status == "NEW"
    ex.countdown_cancel_all("sim-main", ETH, 1_000)
    ex.advance(1_000)  # advance() evaluates timers itself
    assert ex.order_by_client_id("sim-main", eth.client_order_id).status == "CANCELED"
    assert code_of(ex.countdown_cancel_all, "sim-main", ETH, -1) == -1130


# --- price paths and scenarios ------------------------------------------------------------------------------------


def test_price_paths_shapes():
    crash = flash_crash(100.0, at_ms=60_000, drop=0.2, fall_ms=60_000, rebound=0.5, rebound_ms=60_000)
    assert crash(0) == crash(60_000) == 100.0
    assert crash(120_000) == pytest.approx(80.0)
    assert crash(90_000) == pytest.approx(90.0)
    assert crash(180_000) == crash(10**9) == pytest.approx(90.0)
    bleed = slow_bleed(100.0, rate_per_hour=-0.04)
    assert bleed(3_600_000) == pytest.approx(96.0)
    assert all(bleed(t) > bleed(t + 60_000) for t in range(0, 3_600_000, 600_000))
    sq = short_squeeze(100.0, at_ms=0, rise=0.35, rise_ms=60_000, fade=0.0)
    assert sq(60_000) == pytest.approx(135.0)
    assert noise(1, "x", 12_345) == noise(1, "x", 12_345) != noise(2, "x", 12_345)
    assert -1 <= noise(3, "y", 10**9) <= 1


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_build_and_move(name):
    clock = ManualClock(T0)
    ex = build(name, clock, seed=7)
    eq0 = {a: ex.account_state(a).equity for a in ("sim-main", "sim-hedge")}
    clock.advance(20 * 60_000)
    eq1 = {a: ex.account_state(a).equity for a in ("sim-main", "sim-hedge")}
    if name in ("flash-crash", "slow-bleed"):
        assert eq1["sim-main"] < eq0["sim-main"] - 1_000  # the longs bleed
    if name == "crash-while-blind":
        assert eq1["sim-main"] < 0.9 * eq0["sim-main"]  # over 10 %, no rebound: futures-book's hard
    if name == "short-squeeze":
        assert eq1["sim-main"] < eq0["sim-main"] - 20_000  # the SOL short bleeds
    if name == "hedged-shorts-bleed":
        assert eq1["sim-hedge"] < eq0["sim-hedge"] - 1_000  # net short legs bleed
        shorts = [p for p in ex.positions("sim-hedge") if p.position_side == "SHORT"]
        assert all(p.unrealized_pnl < 0 for p in shorts)
    if name == "calm":
        assert abs(eq1["sim-main"] - eq0["sim-main"]) < 0.01 * eq0["sim-main"]
    with pytest.raises(ValueError):
        build("no-such-scenario", clock)


def script(seed: int) -> str:
    clock = ManualClock(T0)
    ex = build("flash-crash", clock, seed=seed)
    ex.set_fill_ratio(0.7, ETH)
    for step in range(12):
        clock.advance(15_000)
        ex.place_order("sim-main", ETH, "SELL", "MARKET", 3.0, reduce_only=True, client_order_id=f"e{step}")
        ex.place_order("sim-hedge", SOL, "BUY", "MARKET", 20, position_side="SHORT")
        if step % 4 == 0:
            ex.place_order("sim-main", BTC, "SELL", "LIMIT", 0.5, 55_000.0, time_in_force="GTC", reduce_only=True)
            ex.countdown_cancel_all("sim-main", BTC, 20_000)
        ex.positions("sim-main")
    return ex.digest()


def test_determinism():
    assert script(3) == script(3)
    assert script(3) != script(4)  # the seed drives the noise and the order ids


# --- the fault plan -------------------------------------------------------------------------------------------------


def test_fault_plan_scheduling():
    plan = FaultPlan()
    plan.timeout("place_order", calls=(2, 4))
    plan.http_error("account", 503, window=(T0 + 1_000, T0 + 2_000))
    plan.latency("*", 50, from_call=3, to_call=4, times=1)
    plan.malformed_json("positions", account="sim-hedge")
    kinds = lambda fs: [f.kind for f in fs]  # noqa: E731
    assert kinds(plan.match("place_order", T0)) == []
    assert kinds(plan.match("place_order", T0)) == [FaultKind.TIMEOUT]
    assert kinds(plan.match("place_order", T0)) == [FaultKind.LATENCY]  # 3rd call; times=1
    assert kinds(plan.match("place_order", T0)) == [FaultKind.TIMEOUT]
    assert kinds(plan.match("account", T0 + 999)) == []
    assert kinds(plan.match("account", T0 + 1_000)) == [FaultKind.HTTP_503]
    assert kinds(plan.match("account", T0 + 2_000)) == []
    assert kinds(plan.match("positions", T0, account="sim-main")) == []
    assert kinds(plan.match("positions", T0, account="sim-hedge")) == [FaultKind.MALFORMED_JSON]
    assert [(f.op, f.call) for f in plan.fired(FaultKind.TIMEOUT)] == [("place_order", 2), ("place_order", 4)]
    again = FaultPlan.from_dicts([{"op": "place_order", "kind": "timeout", "calls": [2, 4]},
                                  {"op": "account", "kind": "http_503", "window": [T0 + 1_000, T0 + 2_000]}])
    assert [r.kind for r in again.rules] == [FaultKind.TIMEOUT, FaultKind.HTTP_503]
    plan.clear()
    assert plan.rules == [] and plan.counts == {}
