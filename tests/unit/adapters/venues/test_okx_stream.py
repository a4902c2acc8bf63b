"""The OKX dialect's reading of its websocket frames, on the frames OKX documents (the examples
ccxt's ``pro/okx.py`` quotes in its handlers, fields as OKX's v5 docs list them): what each frame
is, the events of a push, the venue's errors, and a row it cannot read named by channel and field."""

from __future__ import annotations

import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.okx.dialect.stream import HEARTBEAT_SYMBOL, watch_marks

OKX = dialect_for("okx")


def symbol_of(market_id: str) -> str:
    base, quote, *kind = market_id.split("-")
    return f"{base}/{quote}:{quote}" if kind == ["SWAP"] else f"{base}/{quote}"


def ccxt_order(row):
    """What ccxt's okx ``parse_order`` gives of a row (the fields the dialect reads after it)."""
    status = {"live": "open", "partially_filled": "open", "filled": "closed", "canceled": "canceled",
              "effective": "closed", "order_failed": "canceled"}[row["state"]]
    return {"info": row, "id": row.get("algoId") or row.get("ordId"), "clientOrderId": row.get("clOrdId") or None,
            "symbol": symbol_of(row["instId"]), "side": row["side"], "type": row["ordType"], "status": status,
            "amount": float(row["sz"]) if row.get("sz") else None, "triggerPrice": None, "reduceOnly": False}


# ccxt pro/okx.py handle_positions' example (OKX's positions channel push)
POSITION = {
    "adl": "1", "availPos": "", "avgPx": "0.52668", "cTime": "1693151444408", "ccy": "USDT", "closeOrderAlgo": [],
    "idxPx": "0.52683", "imr": "17.564000000000004", "instId": "XRP-USDT-SWAP", "instType": "SWAP", "last": "0.52691",
    "lever": "3", "liqPx": "0.3287514731020614", "markPx": "0.52692", "mgnMode": "cross", "mmr": "0.26346",
    "notionalUsd": "52.68620388000001", "pTime": "1693151906023", "pos": "1", "posId": "616057041198907393",
    "posSide": "net", "tradeId": "138745402", "uTime": "1693151444408", "upl": "0.0240000000000018"}
POSITIONS = {"arg": {"channel": "positions", "instType": "ANY", "instId": "XRP-USDT-SWAP", "uid": "464737184507959869"},
             "data": [POSITION]}
# OKX's account channel push (ccxt handle_balance's example, one currency)
ACCOUNT = {"arg": {"channel": "account", "uid": "158635852459810816"}, "eventType": "snapshot", "curPage": 1,
           "lastPage": True, "data": [{"adjEq": "100942.13", "totalEq": "711018.89", "uTime": "1773837554158",
                                       "details": [{"ccy": "USDT", "cashBal": "2900", "eq": "2900", "upl": "0",
                                                    "uTime": "1752243427083"}]}]}
# OKX's orders-algo channel push: a position stop-loss of the algo service
ALGO = {"arg": {"channel": "orders-algo", "instType": "ANY", "uid": "44705892343619584"}, "data": [{
    "instType": "SWAP", "instId": "BTC-USDT-SWAP", "ordId": "", "algoId": "581878926302093312", "clOrdId": "",
    "algoClOrdId": "ksalgo1", "sz": "", "closeFraction": "1", "ordType": "conditional", "side": "sell",
    "posSide": "net", "tdMode": "cross", "state": "live", "slTriggerPx": "55000", "slOrdPx": "-1",
    "tpTriggerPx": "", "tpOrdPx": "", "triggerPx": "", "ordPx": "", "reduceOnly": "true", "cTime": "1772456400000",
    "uTime": "1772456400123"}]}


def test_frames_are_classified_as_okx_sends_them():
    assert OKX.stream_message(POSITIONS) == "ok" and OKX.stream_message(ALGO) == "ok"
    assert OKX.stream_message({"arg": {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
                               "data": [{"instId": "BTC-USDT-SWAP", "markPx": "1", "ts": "1"}]}) == "marks"
    assert OKX.stream_message({"event": "login", "code": "0", "msg": "", "connId": "a4d3ae55"}) == "answer"
    assert OKX.stream_message({"event": "subscribe", "arg": {"channel": "orders"}, "connId": "a4d3ae55"}) == "answer"
    assert OKX.stream_message("pong") == "answer"
    assert OKX.stream_message({"arg": {"channel": "balance_and_position"}, "data": []}) == "unknown"
    assert OKX.stream_message({"data": []}) == "malformed" and OKX.stream_message("not json") == "malformed"
    # the errors: a login refused or lost ends the authorization; another reaches ccxt
    for code, msg in (("60011", "Please log in"), ("60009", "Login failed."), ("60024", "Wrong passphrase")):
        frame = {"event": "error", "code": code, "msg": msg, "connId": "a4d3ae55"}
        assert OKX.stream_message(frame) == "expired"
        assert OKX.stream_ended(frame) == ("STREAM_LOGIN_REFUSED",
                                           f"okx refused or dropped the stream's login: {code} {msg}")
    assert OKX.stream_message({"event": "error", "code": "60018", "msg": "Wrong URL or channel"}) == "answer"
    assert OKX.stream_message({"event": "notice", "code": "64008", "msg": "The connection will soon be closed"}) \
        == "answer"


def test_a_push_reads_as_events_keyed_and_stamped_by_its_rows():
    (pos,) = OKX.stream_events(POSITIONS, symbol_of, ccxt_order)
    assert pos.key == ("position", "XRP/USDT:USDT", "BOTH") and pos.event_ms == 1693151906023  # pTime
    assert pos.positions == (("XRP/USDT:USDT", "BOTH", "long", 1.0, 0.52668),)
    (wallet,) = OKX.stream_events(ACCOUNT, symbol_of, ccxt_order)
    assert wallet.key == ("wallet",) and wallet.wallets == (("USDT", 2900.0),)
    (algo,) = OKX.stream_events(ALGO, symbol_of, ccxt_order)
    assert algo.kinds == (("581878926302093312", "tpsl", True),)
    (oid, order), = algo.orders
    assert order["clientOrderId"] == "ksalgo1" and order["triggerPrice"] == 55000.0 and order["reduceOnly"]
    assert OKX.stream_time(POSITIONS) == 1693151906023 and OKX.stream_time(ALGO) == 1772456400123
    short = {**POSITIONS, "data": [{**POSITION, "posSide": "short", "pos": "3"}]}
    assert OKX.stream_events(short, symbol_of, ccxt_order)[0].positions[0][:4] == ("XRP/USDT:USDT", "SHORT", "short",
                                                                                   3.0)


@pytest.mark.parametrize("frame,named", [
    ({**POSITIONS, "data": [{**POSITION, "pos": ""}]}, "okx websocket positions: field pos: missing"),
    ({**POSITIONS, "data": [{**POSITION, "posSide": "both"}]},
     "okx websocket positions: field posSide: unknown value 'both'"),
    ({"arg": POSITIONS["arg"]}, "okx websocket positions: field data: missing"),
    ({**ALGO, "data": [{**ALGO["data"][0], "ordType": "chase"}]},
     "okx websocket orders-algo: field ordType: unknown value 'chase'"),
    ({**ACCOUNT, "data": [{"uTime": "1", "details": [{"ccy": "USDT", "cashBal": "x"}]}]},
     "okx websocket account: field cashBal: not a number: 'x'"),
])
def test_a_row_it_cannot_read_is_bad_response_naming_the_channel_and_the_field(frame, named):
    with pytest.raises(AdapterError) as e:
        OKX.stream_events(frame, symbol_of, ccxt_order)
    assert e.value.reason == Reason.BAD_RESPONSE and named in str(e.value)


def test_marks_are_asked_a_hundred_a_subscription_and_the_heartbeats_while_flat():
    asked = []

    class Client:
        markets = {HEARTBEAT_SYMBOL: {"linear": True, "swap": True}}

        async def watch_mark_prices(self, symbols):
            asked.append(symbols)

    import asyncio

    async def body():
        await watch_marks(Client(), frozenset(f"C{i}/USDT:USDT" for i in range(250)))
        await watch_marks(Client(), frozenset())

    asyncio.run(body())
    assert [len(a) for a in asked] == [100, 100, 50, 1] and asked[-1] == [HEARTBEAT_SYMBOL]
