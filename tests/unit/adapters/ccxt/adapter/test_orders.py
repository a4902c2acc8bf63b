"""An order's parameters per venue (hedge mode), the order answer read, and ``fetch_order``
by the venue's or our client id."""

from __future__ import annotations

import ccxt
import pytest

from adapters.base import AdapterError, Reason

from ..fake import (
    BTC,
    FakeExchange,
    account,
    ccxt_order,
    ccxt_position,
    intent,
    make,
    run,
)

# --- order parameters per venue ---------------------------------------------------------------------------


@pytest.mark.parametrize("venue,hedge,in_side,in_leg,expected", [
    ("binanceusdm", False, "sell", None, {"newClientOrderId": "CID", "reduceOnly": True}),
    ("binanceusdm", True, "sell", "LONG", {"newClientOrderId": "CID", "positionSide": "LONG"}),
    ("binanceusdm", True, "buy", "SHORT", {"newClientOrderId": "CID", "positionSide": "SHORT"}),
    ("binanceusdm", True, "buy", None, {"newClientOrderId": "CID", "positionSide": "SHORT"}),
    ("bybit", False, "sell", None, {"clientOrderId": "CID", "reduceOnly": True}),
    ("bybit", True, "sell", "LONG", {"clientOrderId": "CID", "positionIdx": 1, "reduceOnly": True}),
    ("bybit", True, "buy", "SHORT", {"clientOrderId": "CID", "positionIdx": 2, "reduceOnly": True}),
    # OKX: and the margin mode of the position the close reduces (the fake's positions are cross)
    ("okx", False, "buy", None, {"clientOrderId": "CID", "reduceOnly": True, "tdMode": "cross"}),
    ("okx", True, "sell", "LONG", {"clientOrderId": "CID", "posSide": "long", "tdMode": "cross"}),
    ("okx", True, "buy", "SHORT", {"clientOrderId": "CID", "posSide": "short", "tdMode": "cross"}),
    ("gate", True, "sell", "LONG", {"clientOrderId": "CID", "hedged": True, "reduceOnly": True}),
])
def test_hedge_mode_params_per_venue(venue, hedge, in_side, in_leg, expected):
    # the venue reads the mode declared (Binance's and OKX's own reads; Bybit's positions' positionIdx)
    fake = FakeExchange(venue, implicit=("fapiPrivateGetPositionSideDual", "privateGetAccountConfig"))
    fake.script["fapiPrivateGetPositionSideDual"] = [{"dualSidePosition": hedge}]
    fake.script["privateGetAccountConfig"] = [{"code": "0", "data": [
        {"posMode": "long_short_mode" if hedge else "net_mode", "acctLv": "2"}]}]
    side = "long" if in_side == "sell" else "short"
    idx = ("1" if side == "long" else "2") if hedge else "0"
    fake.positions = [ccxt_position(side=side, hedged=hedge, info={"positionIdx": idx})]
    a, _ = make(fake, acct=account(venue, hedge_mode=hedge))
    run(a.snapshot())  # the mode read at the first snapshot
    run(a.submit(intent(side=in_side, position_side=in_leg, cid="CID")))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[:5] == (BTC, "market", in_side, 0.2, None)
    assert args[5] == expected
    assert a.capabilities.hedge_mode is hedge


def test_order_result_mapping():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=1.0)]
    res = run(a.submit(intent(amount=0.2)))
    assert (res.client_order_id, res.order_id, res.status, res.filled, res.amount, res.average_price, res.fee) == \
        (intent().client_order_id, "99", "filled", 0.2, 0.2, 50000.0, 0.12)
    assert res.fees == ((0.12, "USDT"),)
    fake.script["create_order"] = [ccxt_order("5", status="expired", amount=0.2, filled=0.05)]
    res = run(a.submit(intent(amount=0.2, limit_price=49000)))
    assert (res.status, res.filled, res.client_order_id) == ("expired", 0.05, intent().client_order_id)
    fake.script["create_order"] = [ccxt_order("6", status="open", amount=0.2, filled=0.1)]
    assert run(a.submit(intent(amount=0.2))).status == "partially_filled"
    fake.script["create_order"] = [{"id": "7", "info": {}, "status": None, "amount": None, "filled": None}]
    res = run(a.submit(intent(amount=0.1)))
    assert (res.status, res.amount, res.filled) == ("open", 0.1, 0.0)


@pytest.mark.parametrize("fee, fees, want", [
    (None, [], ()),  # the answer carried no fee: not reported
    ({"cost": None, "currency": None}, [], ()),
    ({"cost": 0.12, "currency": "USDT"}, [], ((0.12, "USDT"),)),
    ({"cost": 0.12, "currency": "USDT"}, [{"cost": 0.12, "currency": "USDT"}], ((0.12, "USDT"),)),
    (None, [{"cost": 0.1, "currency": "USDT"}, {"cost": 0.02, "currency": "BNB"}, {"cost": 0.05, "currency": "USDT"}],
     ((0.15000000000000002, "USDT"), (0.02, "BNB"))),  # per currency, never added across them
    ({"cost": "0.3", "currency": ""}, [], ((0.3, None),)),  # a cost in no named currency
])
def test_the_fee_of_an_order_answer_per_currency(fee, fees, want):
    from adapters.ccxt_exchange.parsing import order_result

    res = order_result({**ccxt_order("1", status="closed", amount=1.0, filled=1.0), "fee": fee, "fees": fees},
                       "c", 1.0)
    assert res.fees == want
    assert res.fee == (want[0][0] if len(want) == 1 else None)


# --- fetch_order ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue,params", [
    ("binanceusdm", {"origClientOrderId": "CID"}),
    ("okx", {"clOrdId": "CID"}),
    ("kucoinfutures", {"clientOrderId": "CID"}),
])
def test_fetch_order_by_client_id(venue, params):
    a, fake = make(FakeExchange(venue))
    res = run(a.fetch_order(BTC, "CID"))
    assert ("fetch_order", (None, BTC, params)) in fake.calls
    assert (res.client_order_id, res.status, res.filled) == ("CID", "filled", 0.2)


def test_fetch_order_bybit_looks_in_open_then_every_final_order():
    """An IOC close that expired, or one cancelled after a partial fill, is in Bybit's history
    as Cancelled: ccxt's fetch_closed_orders asks for Filled alone and would not find it."""
    a, fake = make(FakeExchange("bybit"))
    for status, filled in (("canceled", 0.4), ("closed", 1)):
        fake.calls.clear()
        fake.script["fetch_canceled_and_closed_orders"] = [
            [ccxt_order("8", status=status, client_id="CID", amount=1, filled=filled)]]
        res = run(a.fetch_order(BTC, "CID"))
        assert [c for c in fake.calls if c[0].startswith("fetch_") and "orders" in c[0]] == [
            ("fetch_open_orders", (BTC, None, None, {"orderLinkId": "CID"})),
            ("fetch_canceled_and_closed_orders", (BTC, None, None, {"orderLinkId": "CID"})),
        ]
        assert (res.order_id, res.status, res.filled) == ("8", "canceled" if status == "canceled" else "filled",
                                                          filled)
    fake.script["fetch_canceled_and_closed_orders"] = [[]]
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order(BTC, "NOPE"))
    assert ei.value.reason is Reason.ORDER_NOT_FOUND


def test_fetch_order_not_found():
    a, fake = make()
    fake.script["fetch_order"] = [ccxt.OrderNotFound('binanceusdm {"code":-2013,"msg":"Order does not exist."}')]
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order(BTC, "CID"))
    assert ei.value.reason is Reason.ORDER_NOT_FOUND and fake.names().count("fetch_order") == 1


def test_unknown_symbol():
    a, fake = make()
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order("DOGE/USDT:USDT", "CID"))
    assert ei.value.reason is Reason.UNKNOWN_SYMBOL
