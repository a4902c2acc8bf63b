"""Cancels (whole symbols, entries only, by id) and the venues' dead man's switches."""

from __future__ import annotations

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from tests.ports import confirmed_cancel

from ..fake import (
    BTC,
    ETH,
    FUTURES_MARKETS,
    SPOT_MARKETS,
    FakeExchange,
    account,
    ccxt_order,
    ccxt_position,
    make,
    run,
)

# --- cancels --------------------------------------------------------------------------------------------


def _book():
    return [ccxt_order("1", BTC), ccxt_order("2", BTC, reduce_only=True), ccxt_order("3", ETH),
            ccxt_order("4", ETH, reduce_only=True)]


def test_cancel_all_of_a_symbol_uses_cancel_all_orders():
    a, fake = make()
    fake.orders = _book()
    # the generic dialect reads a symbol's cancel as the venue's "all of them", naming none:
    # acknowledged, which only the list read after it confirms (the port's confirmation)
    res = run(a.cancel_orders(CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == () and res.acknowledged == ("1", "2") and res.failed == {}
    assert ("cancel_all_orders", (BTC,)) in fake.calls and "cancel_order" not in fake.names()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == ("1", "2") and res.failed == {} and not res.acknowledged


def test_cancel_all_everywhere_goes_symbol_by_symbol():
    a, fake = make()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector()))
    assert sorted(res.canceled) == ["1", "2", "3", "4"]
    assert [c for c in fake.calls if c[0] == "cancel_all_orders"] == [("cancel_all_orders", (BTC,)),
                                                                      ("cancel_all_orders", (ETH,))]


def test_a_cancel_of_a_few_symbols_lists_each_where_one_symbols_list_is_cheap():
    """Binance weighs a symbol's open orders 1 and every symbol's 40: a cancel (and its
    confirmation's list) of two symbols reads the two lists, never every symbol's."""
    a, fake = make()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector(which="all", symbols=(BTC, ETH))))
    assert sorted(res.canceled) == ["1", "2", "3", "4"]
    listed = [c[1][0] for c in fake.calls if c[0] == "fetch_open_orders"]
    assert None not in listed and set(listed) == {BTC, ETH}


def test_cancel_entries_leaves_reduce_only_orders():
    a, fake = make()
    fake.orders = _book()
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    assert sorted(res.canceled) == ["1", "3"]
    assert "cancel_all_orders" not in fake.names()
    assert sorted(c[1][0] for c in fake.calls if c[0] == "cancel_order") == ["1", "3"]


def test_cancel_without_cancel_all_support_cancels_each_and_reports_failures():
    fake = FakeExchange("phemex", has={"cancelAllOrders": False})  # a venue without a dialect: no batch
    fake.orders = _book()
    fake.script["cancel_order"] = [{"id": "1"}, ccxt.OrderNotFound("gone")]
    a, _ = make(fake)
    res = run(a.cancel_orders(CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == ("1",) and res.failed == {"2": "ORDER_NOT_FOUND"}
    assert "cancel_all_orders" not in fake.names()


def test_cancel_by_ids_uses_the_symbol_of_each_order_and_flags_unknown_ids():
    a, fake = make()
    fake.orders = _book()
    run(a.snapshot())
    res = run(a.cancel_orders(CancelSelector(order_ids=("3", "nope"))))
    assert res.canceled == ("3",) and res.failed == {"nope": "ORDER_NOT_FOUND"}
    assert ("cancel_order", ("3", ETH)) in fake.calls


def test_cancel_listing_failure_raises():
    a, fake = make(max_retries=0)
    fake.script["fetch_open_orders"] = [ccxt.ExchangeNotAvailable("down")]
    with pytest.raises(AdapterError) as ei:
        run(a.cancel_orders(CancelSelector()))
    assert ei.value.reason is Reason.EXCHANGE_UNAVAILABLE


# --- dead man's switch ----------------------------------------------------------------------------------------


def test_binance_countdown_arm_and_disarm_per_symbol():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    a, _ = make(fake)
    assert a.capabilities.cancel_all_after
    st = run(a.arm_cancel_all_after(60, (BTC, ETH)))
    assert (st.armed, st.seconds) == (True, 60.0)
    st = run(a.disarm_cancel_all_after())
    assert st.armed is False
    calls = [c[1][0] for c in fake.calls if c[0] == "fapiPrivatePostCountdownCancelAll"]
    assert calls == [{"symbol": "BTCUSDT", "countdownTime": 60000}, {"symbol": "ETHUSDT", "countdownTime": 60000},
                     {"symbol": "BTCUSDT", "countdownTime": 0}, {"symbol": "ETHUSDT", "countdownTime": 0}]


def test_binance_countdown_without_symbols_covers_open_orders_and_positions():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    fake.orders = [ccxt_order("1", ETH)]
    fake.positions = [ccxt_position(BTC)]
    a, _ = make(fake)
    run(a.snapshot())
    st = run(a.arm_cancel_all_after(30.5))
    assert st.armed and st.seconds == 30.5
    calls = [c[1][0] for c in fake.calls if c[0] == "fapiPrivatePostCountdownCancelAll"]
    assert calls == [{"symbol": "BTCUSDT", "countdownTime": 30500}, {"symbol": "ETHUSDT", "countdownTime": 30500}]


def test_binance_countdown_with_nothing_open_arms_nothing():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    a, _ = make(fake)
    st = run(a.arm_cancel_all_after(30))
    assert st.armed is False and "fapiPrivatePostCountdownCancelAll" not in fake.names()


def test_okx_cancel_all_after_is_clamped_and_disarmed_with_zero():
    fake = FakeExchange("okx", implicit=("privatePostTradeCancelAllAfter",))
    a, _ = make(fake)
    assert a.capabilities.cancel_all_after and a.capabilities.max_client_id_length == 32
    assert run(a.arm_cancel_all_after(5)).seconds == 10.0
    assert run(a.arm_cancel_all_after(600)).seconds == 120.0
    assert run(a.disarm_cancel_all_after()).armed is False
    calls = [c[1][0] for c in fake.calls if c[0] == "privatePostTradeCancelAllAfter"]
    assert calls == [{"timeOut": "10"}, {"timeOut": "120"}, {"timeOut": "0"}]


def test_a_countdown_the_venue_did_not_set_is_not_taken_as_armed():
    """Binance echoes the countdown it set, OKX says when it fires: an answer that names another
    (or says off) is BAD_RESPONSE, never an armed switch."""
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    fake.script["fapiPrivatePostCountdownCancelAll"] = [{"symbol": "BTCUSDT", "countdownTime": "0"}]
    a, _ = make(fake)
    with pytest.raises(AdapterError) as e:
        run(a.arm_cancel_all_after(60, (BTC,)))
    assert e.value.reason is Reason.BAD_RESPONSE and "0 where 60000 was sent" in e.value.message
    fake = FakeExchange("okx", implicit=("privatePostTradeCancelAllAfter",))
    fake.script["privatePostTradeCancelAllAfter"] = [{"code": "0", "data": [{"triggerTime": "0", "ts": "1"}]}]
    a, _ = make(fake)
    with pytest.raises(AdapterError) as e:
        run(a.arm_cancel_all_after(60))
    assert e.value.reason is Reason.BAD_RESPONSE and "triggerTime" in e.value.message


def test_bybit_dcp_only_with_a_declared_websocket():
    fake = FakeExchange("bybit", implicit=("privatePostV5OrderDisconnectedCancelAll",))
    a, _ = make(fake)
    assert not a.capabilities.cancel_all_after
    with pytest.raises(AdapterError) as ei:
        run(a.arm_cancel_all_after(30))
    assert ei.value.reason is Reason.UNSUPPORTED
    a, _ = make(fake, bybit_dcp_websocket=True)
    assert a.capabilities.cancel_all_after
    assert run(a.arm_cancel_all_after(1)).seconds == 3.0
    assert fake.calls[-1] == ("privatePostV5OrderDisconnectedCancelAll", ({"product": "DERIVATIVES", "timeWindow": 3},))
    with pytest.raises(AdapterError) as ei:
        run(a.disarm_cancel_all_after())
    assert ei.value.reason is Reason.UNSUPPORTED


@pytest.mark.parametrize("venue,market_type", [("kucoin", "spot"), ("binance", "spot"), ("gate", "futures")])
def test_no_native_dms_is_unsupported(venue, market_type):
    fake = FakeExchange(venue, markets=SPOT_MARKETS if market_type == "spot" else FUTURES_MARKETS,
                        implicit=("fapiPrivatePostCountdownCancelAll",) if venue == "binance" else ())
    a, _ = make(fake, acct=account(venue, market_type=market_type))
    assert not a.capabilities.cancel_all_after
    for call in (a.arm_cancel_all_after(30), a.disarm_cancel_all_after()):
        with pytest.raises(AdapterError) as ei:
            run(call)
        assert ei.value.reason is Reason.UNSUPPORTED
    assert fake.calls == []


def test_ccxt_has_the_implicit_methods_used():
    assert hasattr(ccxt_async.binanceusdm, "fapiPrivatePostCountdownCancelAll")
    assert hasattr(ccxt_async.binancecoinm, "dapiPrivatePostCountdownCancelAll")
    assert hasattr(ccxt_async.okx, "privatePostTradeCancelAllAfter")
    assert hasattr(ccxt_async.bybit, "privatePostV5OrderDisconnectedCancelAll")


def test_capabilities_follow_ccxt_has_flags():
    fake = FakeExchange("somevenue", has={"fetchPositions": False, "closePosition": True})
    a, _ = make(fake)
    assert not a.capabilities.positions and a.capabilities.close_position
    s = run(a.snapshot())
    assert s.fetch.error_code == "UNSUPPORTED"


def test_close_closes_the_session():
    a, fake = make()
    run(a.close())
    assert fake.closed
