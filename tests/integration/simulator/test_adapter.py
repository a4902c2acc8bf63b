"""The simulated exchange's in-process face (SimulatedAdapter) and every fault kind through it
(the HTTP face has its own tests; the engine's semantics are test_engine.py's).
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import AdapterError, CancelSelector, ExchangeAdapter, Reason
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.adapter.calls import reason_for
from adapters.simulated.engine import RateLimits, SimExchange
from adapters.simulated.faults import FaultKind
from tests.integration.sim_helpers import BTC, BTC_U, ETH, ETH_U, SOL, SOL_U, T0, engine, intent, leg, run

# --- the in-process face -------------------------------------------------------------------------------------------


def adapter(ex: SimExchange, account: str = "sim-main", **kw) -> SimulatedAdapter:
    kw.setdefault("timeout_s", 0.2)
    kw.setdefault("time_scale", 0.001)
    return SimulatedAdapter(ex, account, labels={"book": "futures"}, initial_capital=1_000_000, **kw)


def test_adapter_snapshot(sim):
    ex, _ = sim
    ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC", client_order_id="botA-1")
    ad = adapter(ex, strategy_prefixes={"botA-": "strategy-a"})
    assert isinstance(ad, ExchangeAdapter)
    s = run(ad.snapshot())
    assert s.fetch.ok and s.fetch.calls == 3 and s.market_type == "futures" and s.ts_event == T0
    assert s.venue == "simulated" and s.account == "sim-main" and s.labels == {"book": "futures"}
    by = {p.symbol: p for p in s.positions}
    assert (by[BTC_U].side, by[BTC_U].contracts, by[BTC_U].position_side) == ("long", 5.0, "BOTH")
    assert (by[SOL_U].side, by[SOL_U].contracts, by[SOL_U].notional) == ("short", 1000.0, 140_000.0)
    assert by[SOL_U].liquidation_price > 140 and by[BTC_U].leverage == 10
    assert s.equity == pytest.approx(ex.account_state("sim-main").equity)
    (o,) = s.orders
    assert (o.client_id, o.symbol, o.side, o.type, o.reduce_only, o.strategy) == (
        "botA-1", ETH_U, "buy", "limit", False, "strategy-a")
    assert s.markets[BTC_U].amount_step == 0.001 and s.markets[SOL_U].min_amount == 1.0
    hedge = run(adapter(ex, "sim-hedge").snapshot())
    assert {(p.symbol, p.position_side, p.side) for p in hedge.positions} >= {(BTC_U, "LONG", "long"),
                                                                               (BTC_U, "SHORT", "short")}


def test_adapter_submit_close_and_fetch_order(sim):
    ex, _ = sim
    ad = adapter(ex)
    run(ad.snapshot())
    r = run(ad.submit(intent(BTC_U, "sell", 2.0, cid="ks-a", limit_price=59_000.0)))
    assert (r.status, r.filled, r.amount, r.client_order_id) == ("filled", 2.0, 2.0, "ks-a")
    assert r.average_price >= 59_000.0 and r.fee > 0 and r.fees == ((r.fee, "USDT"),)  # its taker fee, in the quote
    o = ex.order_by_client_id("sim-main", "ks-a")
    assert (o.type, o.time_in_force, o.reduce_only, o.price) == ("LIMIT", "IOC", True, 59_000.0)
    assert run(ad.fetch_order(BTC_U, "ks-a")) == r
    with pytest.raises(AdapterError) as e:
        run(ad.fetch_order(BTC_U, "nope"))
    assert e.value.reason == Reason.ORDER_NOT_FOUND
    # the adapter knows the position shrank: a close of the old size is refused locally
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 5.0, cid="ks-b")))
    assert e.value.reason == Reason.CLOSE_EXCEEDS_POSITION
    assert ex.order_by_client_id("sim-main", "ks-b") is None  # never sent
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="ks-c", reduce_only=False)))
    assert e.value.reason == Reason.NOT_REDUCE_ONLY
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "buy", 1.0, cid="ks-d")))  # no short to close
    assert e.value.reason == Reason.CLOSE_EXCEEDS_POSITION
    # a market close without a protected price
    r = run(ad.submit(intent(SOL_U, "buy", 1000, cid="ks-e")))
    assert r.status == "filled" and ex.order_by_client_id("sim-main", "ks-e").type == "MARKET"


def test_adapter_protected_price_beyond_mark_expires_and_rejections_map(sim):
    ex, _ = sim
    ad = adapter(ex)
    r = run(ad.submit(intent(BTC_U, "sell", 1.0, cid="p1", limit_price=61_000.0)))
    assert (r.status, r.filled) == ("expired", 0.0)
    run(ad.submit(intent(BTC_U, "sell", 1.0, cid="p2")))
    with pytest.raises(AdapterError) as e:  # duplicate client id
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="p2")))
    assert e.value.reason == Reason.INVALID_ORDER and "-4116" in e.value.message
    # the venue's own reduce-only check, when the adapter's knowledge is stale
    ex.place_order("sim-main", ETH, "SELL", "MARKET", 99.0, reduce_only=True)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(ETH_U, "sell", 100.0, cid="p3")))
    assert e.value.reason == Reason.REDUCE_ONLY_REJECTED
    assert reason_for(-2019) == Reason.INSUFFICIENT_MARGIN and reason_for(-1121) == Reason.UNKNOWN_SYMBOL
    assert reason_for(-1022) == Reason.AUTH and reason_for(-1001, 503) == Reason.EXCHANGE_UNAVAILABLE
    assert reason_for(-1003, 418) == Reason.RATE_LIMITED and reason_for(-9999) == Reason.UNKNOWN


def test_adapter_hedge_mode_close_sends_the_leg_without_reduce_only():
    ex, _ = engine()
    ad = adapter(ex, "sim-hedge")
    assert ad.capabilities.hedge_mode and ad.capabilities.cancel_all_after
    r = run(ad.submit(intent(BTC_U, "buy", 4.0, cid="h-1", position_side="SHORT", account="sim-hedge")))
    assert r.status == "filled"
    o = ex.order_by_client_id("sim-hedge", "h-1")
    assert (o.position_side, o.reduce_only, o.closes) == ("SHORT", False, True)
    assert leg(ex, "sim-hedge", BTC, "SHORT") == 0 and leg(ex, "sim-hedge", BTC, "LONG") == 2.0
    with pytest.raises(AdapterError) as e:  # the leg is gone
        run(ad.submit(intent(BTC_U, "buy", 1.0, cid="h-2", position_side="SHORT", account="sim-hedge")))
    assert e.value.reason == Reason.CLOSE_EXCEEDS_POSITION
    with pytest.raises(AdapterError) as e:  # buy on the LONG leg would open
        run(ad.submit(intent(BTC_U, "buy", 1.0, cid="h-3", position_side="LONG", account="sim-hedge")))
    assert e.value.reason in (Reason.CLOSE_EXCEEDS_POSITION, Reason.NOT_REDUCE_ONLY)


def test_adapter_cancel_orders(sim):
    ex, _ = sim
    ad = adapter(ex)
    entry = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC")
    tp = ex.place_order("sim-main", ETH, "SELL", "LIMIT", 1.0, 4_000.0, time_in_force="GTC", reduce_only=True)
    btc = ex.place_order("sim-main", BTC, "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True)
    r = run(ad.cancel_orders(CancelSelector(which="entries")))
    assert r.canceled == (str(entry.order_id),) and r.failed == {}
    r = run(ad.cancel_orders(CancelSelector(order_ids=(str(btc.order_id), "123"))))
    assert r.canceled == (str(btc.order_id),) and r.failed == {"123": "ORDER_NOT_FOUND"}
    r = run(ad.cancel_orders(CancelSelector(which="all", symbols=(ETH_U,))))
    assert r.canceled == (str(tp.order_id),)
    assert ex.open_orders("sim-main") == []


def test_adapter_dead_mans_switch(sim):
    ex, clock = sim
    ad = adapter(ex)
    lim = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC")
    st = run(ad.arm_cancel_all_after(30))
    assert st.armed and st.seconds == 30
    assert ex.countdowns("sim-main") == {s: T0 + 30_000 for s in (BTC, ETH, SOL)}
    assert not run(ad.disarm_cancel_all_after((BTC_U,))).armed
    assert set(ex.countdowns("sim-main")) == {ETH, SOL}
    clock.advance(30_000)
    run(ad.snapshot())
    assert ex.order_by_client_id("sim-main", lim.client_order_id).status == "CANCELED"


def test_adapter_spot_face():
    ex, _ = engine()
    ad = adapter(ex, market_type="spot")
    assert not ad.capabilities.positions and not ad.capabilities.cancel_all_after
    s = run(ad.snapshot())
    assert s.market_type == "spot" and s.positions == []
    bal = {b.asset: b for b in s.balances}
    assert bal["BTC"].total == 1.5 and bal["BTC"].price == 60_000.0 and bal["USDT"].price == 1.0
    assert s.equity == pytest.approx(50_000 + 1.5 * 60_000 + 20 * 3_000 + 300 * 140)
    r = run(ad.submit(intent("BTC/USDT", "sell", 1.5, cid="sp-1", reduce_only=False, limit_price=59_000.0)))
    assert r.status == "filled" and r.filled == 1.5
    assert run(ad.fetch_order("BTC/USDT", "sp-1")).client_order_id == "sp-1"
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent("ETH/USDT", "sell", 21.0, cid="sp-2", reduce_only=False)))
    assert e.value.reason == Reason.INSUFFICIENT_MARGIN
    assert not run(ad.arm_cancel_all_after(10)).supported


# --- every fault kind, through the in-process face --------------------------------------------------------------------


def test_fault_latency_is_reported_and_below_timeout_answers(sim):
    ex, _ = sim
    ex.faults.latency("account", 150)
    s = run(adapter(ex, timeout_s=0.5, time_scale=0.01).snapshot())
    assert s.fetch.ok and s.fetch.latency_ms == 150


def test_fault_latency_at_or_beyond_the_timeout_is_a_timeout(sim):
    ex, _ = sim
    ex.faults.latency("positions", 5_000, times=1)
    s = run(adapter(ex, timeout_s=0.05).snapshot())
    assert (s.fetch.ok, s.fetch.error_code, s.fetch.failed_calls) == (False, "TIMEOUT", 1)


def test_fault_timeout_before_execution(sim):
    ex, _ = sim
    ex.faults.timeout("place_order", times=1)
    ad = adapter(ex, timeout_s=0.05)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="t-1")))
    assert e.value.reason == Reason.TIMEOUT and e.value.reason.retryable
    assert ex.order_by_client_id("sim-main", "t-1") is None  # never reached the engine
    with pytest.raises(AdapterError) as e:
        run(ad.fetch_order(BTC_U, "t-1"))
    assert e.value.reason == Reason.ORDER_NOT_FOUND


def test_fault_timeout_after_execution_outcome_unknown(sim):
    ex, _ = sim
    ex.faults.timeout("place_order", applied=True, times=1)
    ad = adapter(ex, timeout_s=0.05)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="t-2")))
    assert e.value.reason == Reason.TIMEOUT
    assert run(ad.fetch_order(BTC_U, "t-2")).status == "filled"  # it did execute


@pytest.mark.parametrize("status,reason", [(429, Reason.RATE_LIMITED), (418, Reason.RATE_LIMITED),
                                           (500, Reason.EXCHANGE_UNAVAILABLE), (503, Reason.EXCHANGE_UNAVAILABLE)])
def test_fault_http_status(sim, status, reason):
    ex, _ = sim
    ex.faults.http_error("open_orders", status, retry_after_s=7.0, times=1)
    ad = adapter(ex)
    s = run(ad.snapshot())
    assert (s.fetch.ok, s.fetch.error_code, s.fetch.calls, s.fetch.failed_calls) == (False, reason.value, 3, 1)
    assert s.positions == [] and s.equity is None
    ex.faults.http_error("place_order", status, retry_after_s=7.0, times=1)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="s-1")))
    assert e.value.reason == reason
    assert e.value.retry_after_s == (7.0 if status in (418, 429) else None)
    assert ex.order_by_client_id("sim-main", "s-1") is None
    assert run(ad.snapshot()).fetch.ok


def test_real_rate_limit_through_the_adapter():
    ex, _ = engine(rate_limits=RateLimits(weight_per_minute=60))
    ad = adapter(ex)
    assert run(ad.snapshot()).fetch.ok  # account 5 + positions 5 + open orders of all symbols 40
    s = run(ad.snapshot())
    assert (s.fetch.error_code, s.fetch.calls, s.fetch.failed_calls) == ("RATE_LIMITED", 3, 1)  # 60 used at the 3rd


def test_fault_malformed_json(sim):
    ex, _ = sim
    ex.faults.malformed_json("positions", times=1)
    s = run(adapter(ex).snapshot())
    assert (s.fetch.ok, s.fetch.error_code) == (False, "BAD_RESPONSE")
    ex.faults.malformed_json("place_order", times=1)
    with pytest.raises(AdapterError) as e:
        run(adapter(ex).submit(intent(BTC_U, "sell", 1.0, cid="m-1")))
    assert e.value.reason == Reason.BAD_RESPONSE
    assert ex.order_by_client_id("sim-main", "m-1").status == "FILLED"  # executed; the answer was cut


def test_fault_stale_data():
    ex, clock = engine("flash-crash", flat=False)
    clock.advance(3 * 60_000)  # the bottom of the crash
    ex.faults.stale("positions", 150_000, times=1)
    ad = adapter(ex)
    s = run(ad.snapshot())
    assert s.fetch.ok and s.ts_event == T0 + 30_000 and s.ts_observed == T0 + 180_000
    btc = [p for p in s.positions if p.symbol == BTC_U][0]
    assert btc.mark_price == ex.mark(BTC, T0 + 30_000) > ex.mark(BTC) * 1.1  # before the crash
    fresh = run(ad.snapshot())
    assert fresh.ts_event == T0 + 180_000


def test_fault_rejected_reduce_only(sim):
    ex, _ = sim
    ex.faults.reject_reduce_only(times=1)
    ad = adapter(ex)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 1.0, cid="r-1")))
    assert e.value.reason == Reason.REDUCE_ONLY_REJECTED and not e.value.reason.retryable
    assert ex.order_by_client_id("sim-main", "r-1") is None
    assert run(ad.submit(intent(BTC_U, "sell", 1.0, cid="r-2"))).status == "filled"


def test_fault_disconnect_in_the_middle_of_a_close(sim):
    ex, _ = sim
    ex.faults.disconnect_after_send(times=1)
    ad = adapter(ex)
    with pytest.raises(AdapterError) as e:
        run(ad.submit(intent(BTC_U, "sell", 5.0, cid="dc-1")))
    assert e.value.reason == Reason.EXCHANGE_UNAVAILABLE
    assert run(ad.fetch_order(BTC_U, "dc-1")).status == "filled"  # the close happened
    assert leg(ex, "sim-main", BTC) == 0
    with pytest.raises(AdapterError) as e:  # a blind retry with the same id cannot double the close
        run(ad.submit(intent(BTC_U, "sell", 5.0, cid="dc-1")))
    assert e.value.reason in (Reason.INVALID_ORDER, Reason.CLOSE_EXCEEDS_POSITION, Reason.REDUCE_ONLY_REJECTED)


def test_fault_accepted_but_missing_from_the_next_query(sim):
    ex, _ = sim
    ex.faults.hide_from_next_query(times=1)
    ad = adapter(ex)
    r = run(ad.submit(intent(BTC_U, "sell", 1.0, cid="h-1")))
    assert r.status == "filled"
    with pytest.raises(AdapterError) as e:
        run(ad.fetch_order(BTC_U, "h-1"))
    assert e.value.reason == Reason.ORDER_NOT_FOUND
    assert run(ad.fetch_order(BTC_U, "h-1")).status == "filled"  # once only
    # a resting order (placed by a bot) hidden the same way is missing from the next open orders, once
    rest = ex.place_order("sim-main", ETH, "BUY", "LIMIT", 1.0, 2_000.0, time_in_force="GTC", client_order_id="rest")
    ex.hide_from_next_query("sim-main", rest.order_id)
    assert [x.client_id for x in run(ad.snapshot()).orders] == []
    assert [x.client_id for x in run(ad.snapshot()).orders] == ["rest"]


def test_snapshot_never_raises_on_any_fault(sim):
    ex, _ = sim
    for kind in (FaultKind.TIMEOUT, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503,
                 FaultKind.MALFORMED_JSON):
        ex.faults.add("account", kind, times=1)
        s = run(adapter(ex, timeout_s=0.05).snapshot())
        assert not s.fetch.ok and s.fetch.error_code in {r.value for r in Reason}
    assert run(adapter(ex).snapshot()).fetch.ok


def test_adapter_timeouts_are_asyncio_timeouts(sim):
    ex, _ = sim
    ex.faults.timeout("countdown")
    ad = adapter(ex, timeout_s=0.05)

    async def go():
        t = asyncio.get_running_loop().time()
        with pytest.raises(AdapterError) as e:
            await ad.arm_cancel_all_after(10, (BTC_U,))
        return e.value.reason, asyncio.get_running_loop().time() - t

    reason, took = run(go(), timeout=5)
    assert reason == Reason.TIMEOUT and 0.04 <= took < 2.0
