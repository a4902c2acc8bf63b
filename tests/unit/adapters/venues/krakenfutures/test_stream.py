"""The Kraken Futures dialect's reading of its websocket frames, on the frames ccxt quotes of Kraken's
documentation, read by the real ``ccxt.pro.krakenfutures`` client's ``parse_ws_order``: what each
frame is, the events of a push, the venue's alerts, and a row it cannot read named by feed and field.

Fixtures, and how verbatim each is:

* ``POSITIONS`` (``handle_positions``), ``ORDER_UPDATE`` and ``ORDER_GONE`` (``handle_order``'s
  update and its cancel by id), ``ORDERS_SNAPSHOT`` (``handle_order_snapshot``'s regular
  snapshot), ``TICKER`` (``handle_ticker``), ``CHALLENGE`` (``handle_authenticate``), ``ALERT``
  (``handle_error_message``): verbatim, the examples ccxt 4.5.90 quotes in
  ``ccxt/pro/krakenfutures.py`` (ccxt's ``ts/src/test/static`` holds no websocket frames);
* ``BALANCES``: ccxt's quoted ``balances_snapshot`` cut to its ``flex_futures`` part, with the
  values set (the quote's are zero);
* the frames a field of which is broken are those fixtures with one field changed (said at each).
"""

from __future__ import annotations

import asyncio
import copy

import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.krakenfutures.dialect.stream import HEARTBEAT_SYMBOL, watch_marks
from tests.unit.adapters.ccxt.fake import market

KF = dialect_for("krakenfutures")
CLIENT = ccxt_pro.krakenfutures()
CLIENT.set_markets([market("LTC/USD:USD", "PF_LTCUSD"), market("BTC/USD:USD", "PF_XBTUSD"),
                    market("XBT/USD:BTC", "PI_XBTUSD")])


def symbol_of(market_id: str) -> str:
    return CLIENT.safe_market(market_id, None, None, "contract")["symbol"]


def events(frame, held=None):
    return KF.stream_events(frame, symbol_of, CLIENT.parse_ws_order, held)


POSITIONS = {
    "feed": "open_positions", "account": "3b111acc-4fcc-45be-a622-57e611fe9f7f",
    "positions": [{"instrument": "PF_LTCUSD", "balance": 0.5, "pnl": -0.8628305877699987, "entry_price": 70.53,
                   "mark_price": 68.80433882446, "index_price": 68.8091, "liquidation_threshold": 0,
                   "effective_leverage": 0.007028866753648637, "return_on_equity": -1.2233525985679834,
                   "unrealized_funding": 0.0000690610530935388, "initial_margin": 0.7053,
                   "initial_margin_with_orders": 0.7053, "maintenance_margin": 0.35265, "pnl_currency": "USD"}],
    "seq": 0, "timestamp": 1698608414910}
ORDER_UPDATE = {
    "feed": "open_orders",
    "order": {"instrument": "PI_XBTUSD", "time": 1567702877410, "last_update_time": 1567702877410, "qty": 304.0,
              "filled": 0.0, "limit_price": 10640.0, "stop_price": 0.0, "type": "limit",
              "order_id": "59302619-41d2-4f0b-941f-7e7914760ad3", "direction": 1, "reduce_only": True},
    "is_cancel": False, "reason": "new_placed_order_by_user"}
ORDER_GONE = {"feed": "open_orders", "order_id": "ea8a7144-37db-449b-bb4a-b53c814a0f43", "is_cancel": True,
              "reason": "cancelled_by_user"}
ORDERS_SNAPSHOT = {
    "feed": "open_orders_snapshot", "account": "e258dba9-4dd4-4da5-bfef-75beb91c098e",
    "orders": [{"instrument": "PI_XBTUSD", "time": 1612275024153, "last_update_time": 1612275024153, "qty": 1000,
                "filled": 0, "limit_price": 34900, "stop_price": 13789, "type": "stop",
                "order_id": "723ba95f-13b7-418b-8fcf-ab7ba6620555", "direction": 1, "reduce_only": False,
                "triggerSignal": "last"}]}
TICKER = {"time": 1680811086487, "product_id": "PI_XBTUSD", "funding_rate": 7.792297e-12,
          "funding_rate_prediction": -4.2671095e-11, "relative_funding_rate": 2.18013888889e-7,
          "relative_funding_rate_prediction": -0.0000011974, "next_funding_rate_time": 1680811200000,
          "feed": "ticker", "bid": 28060, "ask": 28070, "bid_size": 2844, "ask_size": 1902, "volume": 19628180,
          "dtm": 0, "leverage": "50x", "index": 28062.14, "premium": 0, "last": 28053.5,
          "change": -0.7710945651981715, "suspended": False, "tag": "perpetual", "pair": "XBT:USD",
          "openInterest": 28875946, "markPrice": 28064.92082724592, "maturityTime": 0, "post_only": False,
          "volumeQuote": 19628180}
BALANCES = {"feed": "balances_snapshot", "account": "4a012c31-df95-484a-9473-d51e4a0c4ae7", "holding": {},
            "futures": {}, "flex_futures": {"balance_value": 9963.66, "portfolio_value": 10063.66,
                                            "total_unrealized": 100.0, "pnl": 0.0},
            "timestamp": 1640995200000, "seq": 0}
CHALLENGE = {"event": "challenge", "message": "226aee50-88fc-4618-a42a-34f7709570b2"}
ALERT = {"event": "alert", "message": "Failed to subscribe to authenticated feed"}


def test_what_each_frame_is():
    assert KF.streams and KF.stream_quote == "USD"
    kinds = {"positions": (POSITIONS, "state"), "order": (ORDER_UPDATE, "ok"), "gone": (ORDER_GONE, "ok"),
             "snapshot": (ORDERS_SNAPSHOT, "ok"), "ticker": (TICKER, "marks"), "balances": (BALANCES, "ok"),
             "challenge": (CHALLENGE, "answer"), "alert": (ALERT, "expired"),
             "other alert": ({"event": "alert", "message": "Already subscribed to feed, re-requesting"}, "answer"),
             "unknown feed": ({**TICKER, "feed": "sim-unknown"}, "unknown"), "no feed": ({"time": 1}, "malformed"),
             "text": ("pong", "malformed")}
    assert {k: KF.stream_message(f) for k, (f, _) in kinds.items()} == {k: v for k, (_, v) in kinds.items()}
    code, said = KF.stream_ended(ALERT)
    assert code == "STREAM_LOGIN_REFUSED" and "Failed to subscribe to authenticated feed" in said


def test_positions_are_the_whole_book_and_a_held_contract_not_listed_is_flat():
    evs = events(POSITIONS, held={"LTC/USD:USD", "BTC/USD:USD"})
    assert [e.positions for e in evs] == [(("LTC/USD:USD", "BOTH", "long", 0.5, 70.53),),
                                          (("BTC/USD:USD", "BOTH", None, 0.0, None),)]
    assert {e.event_ms for e in evs} == {1698608414910}
    short = copy.deepcopy(POSITIONS)
    short["positions"][0]["balance"] = -0.5  # (changed: a short)
    assert events(short)[0].positions == (("LTC/USD:USD", "BOTH", "short", 0.5, 70.53),)
    assert events(POSITIONS)[0] != events(POSITIONS)[0]  # a snapshot is never a duplicate
    assert KF.stream_time(POSITIONS) == 1698608414910


def test_an_order_row_is_read_as_the_rest_list_reads_it_and_a_cancel_by_id_ends_it():
    (ev,) = events(ORDER_UPDATE)
    oid, o = ev.orders[0]
    assert oid == "59302619-41d2-4f0b-941f-7e7914760ad3" and ev.kinds == ((oid, "regular", True),)
    assert (o["status"], o["symbol"], o["side"], o["amount"], o["price"], o["reduceOnly"], o["triggerPrice"]) == (
        "open", "XBT/USD:BTC", "sell", 304.0, 10640.0, True, None)
    assert ev.event_ms == 1567702877410
    (gone,) = events(ORDER_GONE)
    assert gone.orders == (("ea8a7144-37db-449b-bb4a-b53c814a0f43", None),)
    filled = {**ORDER_UPDATE, "is_cancel": True, "reason": "full_fill"}  # (changed: it left the book)
    assert events(filled)[0].orders == ((oid, None),)
    (stop,) = events(ORDERS_SNAPSHOT)
    sid, so = stop.orders[0]
    assert stop.kinds == ((sid, "conditional", True),)
    assert (so["type"], so["price"], so["triggerPrice"], so["side"]) == ("limit", 34900, 13789, "sell")


def test_the_flex_wallet_is_its_portfolio_value_less_its_unrealized_pnl_and_a_ticker_its_mark():
    (ev,) = events(BALANCES)
    assert ev.wallets == (("USD", pytest.approx(9963.66)),) and ev.event_ms == 1640995200000
    cash = {k: v for k, v in BALANCES.items() if k != "flex_futures"}  # (changed: no flex account)
    assert events(cash) == []
    (mark,) = events(TICKER, held={"XBT/USD:BTC"})
    assert mark.marks == (("XBT/USD:BTC", 28064.92082724592),) and mark.event_ms == 1680811086487
    assert events(TICKER, held={"LTC/USD:USD"}) == []


@pytest.mark.parametrize("frame,field", [
    ({**ORDER_UPDATE, "order": {**ORDER_UPDATE["order"], "type": "iceberg"}}, "type"),
    ({**ORDER_UPDATE, "order": {**ORDER_UPDATE["order"], "reduce_only": None}}, "reduce_only"),
    ({**ORDER_UPDATE, "is_cancel": None}, "is_cancel"),
    ({k: v for k, v in POSITIONS.items() if k != "positions"}, "positions"),
    ({k: v for k, v in POSITIONS.items() if k != "timestamp"}, "timestamp"),
    ({k: v for k, v in BALANCES.items() if k not in ("flex_futures", "holding", "futures")}, "flex_futures"),
    ({**TICKER, "markPrice": None}, "markPrice"),
])
def test_a_frame_it_cannot_read_is_bad_response_naming_the_feed_and_the_field(frame, field):
    with pytest.raises(AdapterError) as e:
        events(frame)
    assert e.value.reason == Reason.BAD_RESPONSE and field in str(e.value) and frame["feed"] in str(e.value)


def test_a_flat_account_watches_the_heartbeat_contracts_ticker():
    seen = []

    async def watch_tickers(symbols):
        seen.append(symbols)

    class Client:
        markets = {HEARTBEAT_SYMBOL: {"linear": True, "swap": True}}

    client = Client()
    client.watch_tickers = watch_tickers  # type: ignore[attr-defined]

    async def both():
        await watch_marks(client, frozenset())
        await watch_marks(client, frozenset({"LTC/USD:USD", "BTC/USD:USD"}))

    asyncio.run(both())
    assert seen == [[HEARTBEAT_SYMBOL], ["BTC/USD:USD", "LTC/USD:USD"]]
