"""The Bybit dialect's reading of its v5 stream frames: what each frame is, and the events of the
ones the stream reads (positions, the wallet, orders, ticker marks)."""

from __future__ import annotations

import pytest

from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.bybit.dialect import stream_events, stream_message

BYBIT = dialect_for("bybit")


def symbol_of(market_id: str) -> str:
    return f"{market_id[:-4]}/USDT:USDT"


def position(size: str, side: str, idx: int = 0, **kw) -> dict:
    return {"category": "linear", "symbol": "BTCUSDT", "side": side, "size": size, "positionIdx": idx,
            "entryPrice": "60000.00", "markPrice": "60100.00", **kw}


def frame(topic: str, data, at: int = 1000) -> dict:
    return {"id": "a:1", "topic": topic, "creationTime": at, "data": data}


@pytest.mark.parametrize("message, kind", [
    ({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c"}, "answer"),
    ({"success": True, "ret_msg": "", "op": "subscribe", "req_id": "1"}, "answer"),
    ({"req_id": "2", "op": "pong", "args": ["1"], "conn_id": "c"}, "answer"),
    (frame("position", [position("0.01", "Buy")]), "ok"),
    (frame("execution", [{"symbol": "BTCUSDT"}]), "ok"),
    (frame("wallet", [{"coin": [{"coin": "USDT", "walletBalance": "100"}]}]), "ok"),
    ({"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT", "markPrice": "1"}, "ts": 5},
     "marks"),
    ({"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT"}, "ts": 5}, "marks"),
    ({"topic": "greeks", "data": []}, "unknown"),
    ({"hello": 1}, "unknown"),
    ({"id": "a:1", "topic": "order", "creationTime": 1000}, "malformed"),  # without its data
    (frame("position", [position("", "Buy")]), "malformed"),
    (frame("order", [{"symbol": "BTCUSDT", "orderId": "1", "side": "Buy"}]), "malformed"),  # no status
    (frame("wallet", [{"coin": [{"coin": "USDT"}]}]), "malformed"),
    ({"topic": "tickers.BTCUSDT", "type": "delta", "ts": 5}, "malformed"),
    ([1, 2], "malformed"),
])
def test_each_frame_is_classified(message, kind):
    assert stream_message(message) == kind
    assert BYBIT.stream_message(message) == kind


def test_positions_of_one_way_and_hedge_legs_flat_included():
    events = stream_events(frame("position", [position("0.01", "Buy"), position("0.5", "Sell", 2),
                                              position("0", "", 1, entryPrice="0")]), symbol_of, dict)
    assert [e.positions for e in events] == [
        (("BTC/USDT:USDT", "BOTH", "long", 0.01, 60000.0),),
        (("BTC/USDT:USDT", "SHORT", "short", 0.5, 60000.0),),
        (("BTC/USDT:USDT", "LONG", None, 0.0, None),)]
    assert [e.key for e in events] == [("position", "BTC/USDT:USDT", leg) for leg in ("BOTH", "SHORT", "LONG")]
    assert {e.event_ms for e in events} == {1000}


def test_the_wallet_balance_of_each_coin_and_orders_by_id():
    (w,) = stream_events(frame("wallet", [{"totalEquity": "130", "coin": [
        {"coin": "USDT", "walletBalance": "120.5", "equity": "130"}]}]), symbol_of, dict)
    assert (w.key, w.wallets) == (("wallet",), (("USDT", 120.5),))
    row = {"symbol": "BTCUSDT", "orderId": "77", "orderStatus": "New", "side": "Buy"}
    (o,) = stream_events(frame("order", [row], at=2000), symbol_of, lambda r: {"parsed": r["orderId"]})
    assert (o.key, o.event_ms, o.orders) == (("order", "77"), 2000, (("77", {"parsed": "77"}),))


def test_a_ticker_mark_is_read_for_a_held_symbol_and_a_delta_without_it_says_nothing():
    tick = {"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT", "markPrice": "59000.5"},
            "ts": 7}
    (m,) = stream_events(tick, symbol_of, dict, held={"BTC/USDT:USDT"})
    assert (m.key, m.event_ms, m.marks) == (("mark", "BTC/USDT:USDT"), 7, (("BTC/USDT:USDT", 59000.5),))
    assert stream_events(tick, symbol_of, dict, held={"ETH/USDT:USDT"}) == []
    assert stream_events({**tick, "data": {"symbol": "BTCUSDT", "indexPrice": "1"}}, symbol_of, dict) == []


def test_bybit_streams_and_reads_orders_with_the_rest_parser():
    assert BYBIT.streams and BYBIT.stream_order_parser == "parse_order"
    assert dialect_for("binanceusdm").stream_order_parser == "parse_ws_order"
    assert dialect_for("okx").streams and dialect_for("okx").stream_order_parser == "parse_order"
    assert dialect_for("hyperliquid").streams and dialect_for("bitget").streams
    assert dialect_for("bitget").stream_order_parser == "parse_ws_order"
    assert dialect_for("kraken").streams_for("spot") and not dialect_for("kraken").streams_for("futures")


def test_a_frame_is_stamped_with_the_venues_time_private_or_public():
    from adapters.venues.bybit.dialect import BYBIT

    assert BYBIT.stream_time({"topic": "position", "creationTime": 1772456400123, "data": []}) == 1772456400123
    assert BYBIT.stream_time({"topic": "tickers.BTCUSDT", "ts": 1772456400456, "type": "delta", "data": {}}) \
        == 1772456400456
    assert BYBIT.stream_time({"op": "pong"}) is None and BYBIT.stream_time(["not", "a", "frame"]) is None
