"""The Bitget dialect's reading of its websocket frames, on the frames Bitget documents, read by
the real ``ccxt.pro.bitget`` client's ``parse_ws_order``: what each frame is, the events of a
push, the venue's errors, and a row it cannot read named by channel and field.

Fixtures, and how verbatim each is:

* ``POSITIONS``, ``ORDERS`` (its row), ``TICKER``, ``LOGIN``, ``INVALID_SIGN``: verbatim, the
  examples ccxt 4.5.90 quotes in ``ccxt/pro/bitget.py`` (``handle_positions``, ``parse_ws_order``'s
  contract order inside ``handle_order``'s contract envelope, ``parse_ws_ticker``'s USDT-FUTURES
  push, ``handle_authenticate``, ``handle_error_message``);
* ``ORDERS_ALGO``: verbatim, Bitget's documented push of its Trigger Order Channel
  (api-doc/contract/websocket/private/Plan-Order-Channel);
* ``ACCOUNT``: Bitget's documented push of its Account Channel as its current page shows it
  (with ``crossedRiskRate`` and ``unrealizedPL``; the page's later fields cut), ``ACCOUNT_FIRST``
  the push as the page first showed it, without them (verbatim);
* the frames a row of which is broken, and the hedge leg and position TP/SL rows, are those
  fixtures with one field changed (said at each).
"""

from __future__ import annotations

import copy

import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.bitget.dialect.stream import HEARTBEAT_SYMBOL, MARKS_PER_REQUEST, PLAN_TYPES, watch_marks
from tests.unit.adapters.ccxt.fake import market

BITGET = dialect_for("bitget")
CLIENT = ccxt_pro.bitget()
CLIENT.set_markets([market("BTC/USDT:USDT", "BTCUSDT"), market("ETH/USDT:USDT", "ETHUSDT"),
                    market("SEOSS/SUSDT:SUSDT", "SEOSSUSDT")])


def symbol_of(market_id: str) -> str:
    return CLIENT.safe_market(market_id, None, None, "contract")["symbol"]


def ccxt_order(row):
    return CLIENT.parse_ws_order(row)


def events(frame, held=None):
    return BITGET.stream_events(frame, symbol_of, ccxt_order, held)


POSITIONS = {
    "action": "snapshot",
    "arg": {"instType": "USDT-FUTURES", "channel": "positions", "instId": "default"},
    "data": [{
        "posId": "926036334386778112", "instId": "BTCUSDT", "marginCoin": "USDT", "marginSize": "2.19245",
        "marginMode": "crossed", "holdSide": "long", "posMode": "hedge_mode", "total": "0.001",
        "available": "0.001", "frozen": "0", "openPriceAvg": "43849", "leverage": 20, "achievedProfits": "0",
        "unrealizedPL": "-0.0032", "unrealizedPLR": "-0.00145955438", "liquidationPrice": "17629.684814834",
        "keepMarginRate": "0.004", "marginRate": "0.007634649185", "cTime": "1652331666985", "uTime": "1701913016923",
        "autoMargin": "off"}],
    "ts": 1701913043767,
}
ORDER = {
    "accBaseVolume": "0", "cTime": "1715065875539", "clientOid": "1171636690041344003", "enterPointSource": "API",
    "feeDetail": [{"feeCoin": "USDT", "fee": "-0.162003"}], "force": "gtc", "instId": "SEOSSUSDT", "leverage": "10",
    "marginCoin": "USDT", "marginMode": "crossed", "notionalUsd": "10.4468", "orderId": "1171636690028761089",
    "orderType": "market", "posMode": "hedge_mode", "posSide": "short", "price": "0", "reduceOnly": "no",
    "side": "sell", "size": "13", "status": "live", "tradeSide": "open", "uTime": "1715065875539"}
ORDERS = {"action": "snapshot", "arg": {"instType": "USDT-FUTURES", "channel": "orders", "instId": "default"},
          "data": [ORDER], "ts": 1701920595879}
ORDERS_ALGO = {
    "action": "snapshot",
    "arg": {"instType": "USDT-FUTURES", "channel": "orders-algo", "instId": "default"},
    "data": [{
        "instId": "BTCUSDT", "orderId": "1", "clientOid": "1", "triggerPrice": "27000.000000000",
        "triggerType": "fill_price", "triggerTime": "1695719197612", "planType": "pl", "price": "27000.000000000",
        "executePrice": "27000.000000000", "size": "0.020000000", "actualSize": "0.000000000", "orderType": "market",
        "side": "buy", "tradeSide": "open", "posSide": "long", "marginCoin": "USDT", "status": "live",
        "posMode": "hedge_mode", "enterPointSource": "web", "stopSurplusTriggerType": "fill_price",
        "stopLossTriggerType": "fill_price", "stpMode": "cancel_taker", "cTime": "1695719197612",
        "uTime": "1695719197612"}],
    "ts": 1695719197733,
}
ACCOUNT = {
    "action": "snapshot", "arg": {"instType": "USDT-FUTURES", "channel": "account", "coin": "default"},
    "data": [{"marginCoin": "USDT", "frozen": "0.00000000", "available": "11.98545761",
              "maxOpenPosAvailable": "11.98545761", "maxTransferOut": "11.98545761", "equity": "11.98545761",
              "usdtEquity": "11.985457617660", "crossedRiskRate": "0", "unrealizedPL": "0.000000000000"}],
    "ts": 1695717225146,
}
ACCOUNT_FIRST = {
    "action": "snapshot", "arg": {"instType": "USDT-FUTURES", "channel": "account", "coin": "default"},
    "data": [{"marginCoin": "USDT", "frozen": "0.00000000", "available": "11490.16841069",
              "maxOpenPosAvailable": "10940.45841069", "maxTransferOut": "10940.45841069", "equity": "11489.96841069",
              "usdtEquity": "11489.968410691679"}],
    "ts": 1695717225146,
}
TICKER = {
    "action": "snapshot", "arg": {"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"},
    "data": [{"instId": "BTCUSDT", "lastPr": "43480.4", "bidPr": "43476.3", "askPr": "43476.8", "bidSz": "0.1",
              "askSz": "3.055", "open24h": "42252.3", "high24h": "44518.2", "low24h": "41387.0", "change24h": "0.03875",
              "fundingRate": "0.000096", "nextFundingTime": "1701849600000", "markPrice": "43476.4",
              "indexPrice": "43478.4", "holdingAmount": "50670.787", "baseVolume": "120187.104",
              "quoteVolume": "5167385048.693", "openUtc": "44071.4", "symbolType": "1", "symbol": "BTCUSDT",
              "deliveryPrice": "0", "ts": "1701843962811"}],
    "ts": 1701843962812,
}
LOGIN = {"event": "login", "code": 0}
INVALID_SIGN = {"event": "error", "code": 30015, "msg": "Invalid sign"}


def test_frames_are_classified_as_bitget_sends_them():
    assert BITGET.stream_message(POSITIONS) == "state"  # the whole book: the stream reads it, ccxt never does
    assert BITGET.stream_message(ORDERS) == "ok" and BITGET.stream_message(ORDERS_ALGO) == "ok"
    assert BITGET.stream_message(ACCOUNT) == "ok" and BITGET.stream_message(TICKER) == "marks"
    assert BITGET.stream_message(LOGIN) == "answer" and BITGET.stream_message("pong") == "answer"
    assert BITGET.stream_message({"event": "subscribe", "arg": ORDERS["arg"]}) == "answer"
    assert BITGET.stream_message({"action": "snapshot", "arg": {"instType": "USDT-FUTURES", "channel": "fill",
                                                                "instId": "default"}, "data": []}) == "unknown"
    assert BITGET.stream_message({"data": []}) == "malformed" and BITGET.stream_message("not json") == "malformed"
    # a login refused or lost ends the authorization, with the venue's code and words
    assert BITGET.stream_message(INVALID_SIGN) == "expired"
    assert BITGET.stream_ended(INVALID_SIGN) == ("STREAM_LOGIN_REFUSED",
                                                 "bitget refused or dropped the stream's login: 30015 Invalid sign")
    for code in (30004, 30005, 30011, 30012, 30013, 30014):
        assert BITGET.stream_message({"event": "error", "code": code, "msg": "x"}) == "expired"
    # another error reaches ccxt (it fails the connection's watches: a reconnect)
    assert BITGET.stream_message({"event": "error", "code": 30001, "msg": "channel doesn't exist"}) == "answer"


def test_a_positions_push_is_the_whole_book_of_its_time_and_a_held_leg_it_omits_is_flat():
    (pos,) = events(POSITIONS)
    assert pos.key == ("position", "BTC/USDT:USDT", "LONG") and pos.event_ms == 1701913043767  # the push's ts
    assert pos.positions == (("BTC/USDT:USDT", "LONG", "long", 0.001, 43849.0),)
    held = {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    flat = {ev.key: ev.positions[0] for ev in events(POSITIONS, held)[1:]}
    # BTC's other hedge leg, and every leg of ETH, which the snapshot no longer lists
    assert set(flat) == {("position", "BTC/USDT:USDT", "SHORT"), ("position", "ETH/USDT:USDT", "LONG"),
                         ("position", "ETH/USDT:USDT", "SHORT"), ("position", "ETH/USDT:USDT", "BOTH")}
    assert all(p[3] == 0.0 and p[2] is None for p in flat.values())
    one_way = copy.deepcopy(POSITIONS)  # (posMode one_way_mode: the symbol's one leg, BOTH)
    one_way["data"][0]["posMode"] = "one_way_mode"
    assert [ev.key for ev in events(one_way, {"BTC/USDT:USDT"})] == [("position", "BTC/USDT:USDT", "BOTH")]
    assert BITGET.stream_time(POSITIONS) == 1701913043767
    # a row the next push of the same millisecond repeats is applied again (a snapshot), not a duplicate
    assert events(POSITIONS)[0].body != events(POSITIONS)[0].body
    assert events({**POSITIONS, "data": []}, {"BTC/USDT:USDT"})[0].positions[0][:2] == ("BTC/USDT:USDT", "LONG")


def test_an_order_push_reads_as_the_rest_list_reads_the_row():
    (ev,) = events(ORDERS)
    assert ev.key == ("order", "1171636690028761089") and ev.event_ms == 1715065875539
    oid, order = ev.orders[0]
    assert ev.kinds == ((oid, "regular", True),)
    # hedge mode: an open on the short leg sells; the row only opens
    assert (order["symbol"], order["side"], order["status"], order["reduceOnly"]) == (
        "SEOSS/SUSDT:SUSDT", "sell", "open", False)
    assert order["clientOrderId"] == "1171636690041344003" and order["amount"] == 13.0
    closing = copy.deepcopy(ORDERS)  # (tradeSide close: Bitget writes a close of the short leg as "sell")
    closing["data"][0]["tradeSide"] = "close"
    (ev,) = events(closing)
    assert (ev.orders[0][1]["side"], ev.orders[0][1]["reduceOnly"]) == ("buy", True)


def test_a_plan_push_is_of_the_kind_its_plan_type_says_and_cancels_by_the_rest_name():
    (ev,) = events(ORDERS_ALGO)
    oid, order = ev.orders[0]
    assert ev.kinds == (("1", "conditional", True),)  # pl: a trigger order
    assert order["type"] == "normal_plan" and order["triggerPrice"] == 27000.0 and order["status"] == "open"
    assert BITGET.order_cancel_params(type("O", (), {"kind": "conditional", "type": order["type"]})()) == {
        "trigger": True, "planType": "normal_plan"}
    kinds = {}
    for plan, rest in PLAN_TYPES.items():
        frame = copy.deepcopy(ORDERS_ALGO)  # (planType changed, a close of the long leg for the TP/SL ones)
        frame["data"][0].update(planType=plan, side="buy", tradeSide="close" if plan != "pl" else "open")
        (e,) = events(frame)
        kinds[plan] = e.kinds[0][1]
        assert e.orders[0][1]["type"] == rest
    assert kinds == {"pl": "conditional", "tp": "tpsl", "sl": "tpsl", "ptp": "tpsl", "psl": "tpsl", "track": "trailing",
                     "mtpsl": "trailing"}
    gone = copy.deepcopy(ORDERS_ALGO)  # (status executed: the plan fired, it waits no more)
    gone["data"][0]["status"] = "executed"
    assert events(gone)[0].orders[0][1]["status"] != "open"


def test_the_account_push_gives_the_wallet_and_the_marks_only_of_the_held_symbols():
    (wallet,) = events(ACCOUNT)
    assert wallet.key == ("wallet", "USDT") and wallet.event_ms == 1695717225146
    assert wallet.wallets == (("USDT", 11.98545761),)
    with_pnl = copy.deepcopy(ACCOUNT)  # (an unrealized PnL: the wallet is the equity without it)
    with_pnl["data"][0].update(equity="110", unrealizedPL="10")
    assert events(with_pnl)[0].wallets == (("USDT", 100.0),)
    assert events(ACCOUNT_FIRST) == []  # equity alone says no wallet: the REST reconcile's stands
    (mark,) = events(TICKER, {"BTC/USDT:USDT"})
    assert mark.key == ("mark", "BTC/USDT:USDT") and mark.marks == (("BTC/USDT:USDT", 43476.4),)
    assert mark.event_ms == 1701843962811
    assert events(TICKER, {"ETH/USDT:USDT"}) == []  # a mark of a symbol not held keeps the stream live only


def broken(frame, row_update=None, drop=None, **top):
    f = copy.deepcopy(frame)
    f.update(top)
    if row_update:
        f["data"][0].update(row_update)
    if drop:
        f["data"][0].pop(drop)
    return f


@pytest.mark.parametrize("frame,named", [
    (broken(POSITIONS, drop="total"), "websocket positions: field total: missing"),
    (broken(POSITIONS, {"posMode": "triple_mode"}), "websocket positions: field posMode: unknown value"),
    (broken(POSITIONS, {"holdSide": "net"}), "websocket positions: field holdSide: unknown value"),
    (broken(POSITIONS, ts=None), "websocket positions: field ts: missing"),
    (broken(ORDERS, {"orderType": "twap"}), "websocket orders: field orderType: unknown value"),
    (broken(ORDERS, {"status": "pending"}), "websocket orders: field status: unknown value"),
    (broken(ORDERS, {"posMode": None}), "websocket orders: field posMode: missing"),
    (broken(ORDERS, drop="orderId"), "websocket orders: field orderId: missing"),
    (broken(ORDERS_ALGO, {"planType": "iceberg"}), "websocket orders-algo: field planType: unknown value"),
    (broken(ORDERS_ALGO, {"posSide": ""}), "websocket orders-algo: field posSide: unknown value"),
    (broken(ACCOUNT, {"equity": "lots"}), "websocket account: field equity: not a number"),
    (broken(TICKER, drop="markPrice"), "websocket ticker: field markPrice: missing"),
    ({**ORDERS, "data": None}, "websocket orders: field data: missing"),
])
def test_a_row_it_cannot_read_is_bad_response_naming_the_channel_and_the_field(frame, named):
    with pytest.raises(AdapterError) as ei:
        events(frame, {"BTC/USDT:USDT"})
    assert ei.value.reason is Reason.BAD_RESPONSE and named in str(ei.value), str(ei.value)


def test_marks_are_asked_fifty_a_subscription_and_the_heartbeats_while_flat():
    asked: list = []

    class Client:
        markets = {HEARTBEAT_SYMBOL: {"linear": True, "swap": True}}

        async def watch_tickers(self, symbols):
            asked.append(list(symbols))

    async def go(held):
        await watch_marks(Client(), held)

    import asyncio

    asyncio.run(go(frozenset(f"C{i}/USDT:USDT" for i in range(120))))
    assert [len(a) for a in asked] == [MARKS_PER_REQUEST, MARKS_PER_REQUEST, 20]
    asked.clear()
    asyncio.run(go(frozenset()))
    assert asked == [[HEARTBEAT_SYMBOL]]
