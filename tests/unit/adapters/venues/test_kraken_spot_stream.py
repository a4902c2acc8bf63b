"""The Kraken spot dialect's reading of its websocket v2 frames, on Kraken's documented examples
(``adapters/venues/kraken/fixtures/websocket-v2-documented.json``; its README says which are
printed by Kraken, which quoted by ccxt's source, which built on the documented fields), read by
the real ``ccxt.pro.kraken`` client's ``parse_ws_order``: what each frame is, the events of an
executions update read over the order's row before it, the balances, the tickers, the refused
token, and a row it cannot read named by channel and field.

The frames a field of which is broken are those fixtures with one field changed (said at each).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS, dialect_for
from adapters.ccxt_exchange.parsing import parse_order
from adapters.venues.kraken.dialect import stream as dialect_stream
from adapters.venues.kraken.dialect.stream import HEARTBEAT_SYMBOL, watch_marks
from tests.unit.adapters.ccxt.fake import market

KRAKEN = dialect_for("kraken")
CASES = json.loads((Path(dialect_stream.__file__).parents[1] / "fixtures" / "websocket-v2-documented.json")
                   .read_text())["cases"]
CLIENT = ccxt_pro.kraken()
CLIENT.set_markets([market("BTC/USD", "XXBTZUSD"), market("ETH/USD", "XETHZUSD")])


def frame(name: str) -> dict:
    return copy.deepcopy(CASES[name]["body"])


def reader():
    return KRAKEN.stream_reader(lambda: None)


def read(frames, held=None):
    """The events of ``frames`` read in turn by one account's reader."""
    r = reader()
    return [r(f, lambda s: s, CLIENT.parse_ws_order, held) for f in frames]


def test_every_frame_is_what_kraken_says_it_is():
    kinds = {name: KRAKEN.stream_message(c["body"]) for name, c in CASES.items() if name != "GetWebSocketsToken"}
    assert kinds == {"subscribe executions": "answer", "subscribe balances": "answer", "heartbeat": "answer",
                     "error": "answer", "executions pending_new": "state", "executions canceled": "state",
                     "executions new": "state", "executions stop-loss-limit snapshot": "state",
                     "balances snapshot": "state", "balances deposit": "state", "ticker snapshot": "marks"}
    assert KRAKEN.stream_message({"channel": "book", "data": []}) == "unknown"
    assert KRAKEN.stream_message({"data": []}) == "malformed"
    assert KRAKEN.stream_message("pong") == "malformed"


def test_a_refused_token_ends_the_streams_authorization_with_the_venues_words():
    refused = {**frame("error"), "error": "ESession:Invalid session", "method": "subscribe"}
    assert KRAKEN.stream_message(refused) == "expired"
    assert KRAKEN.stream_ended(refused) == ("STREAM_LOGIN_REFUSED",
                                            "kraken refused or dropped the stream's token: ESession:Invalid session")
    assert KRAKEN.stream_message({**refused, "error": "EAccount:Invalid permissions"}) == "expired"


def test_a_pending_order_is_open_of_its_kind_and_its_live_update_is_read_over_its_row():
    [placed], [live], [gone] = read([frame("executions pending_new"), frame("executions new"),
                                     {**frame("executions canceled"),
                                      "data": [{**frame("executions canceled")["data"][0],
                                                "order_id": "OK4GJX-KSTLS-7DZZO5"}]}])
    (oid, order), = placed.orders
    assert oid == "OK4GJX-KSTLS-7DZZO5" and placed.kinds == ((oid, "regular", True),)
    assert (order["symbol"], order["side"], order["type"], order["amount"], order["price"], order["triggerPrice"],
            order["reduceOnly"], order["status"]) == ("BTC/USD", "sell", "limit", 0.005, 26500.0, None, False, "open")
    assert placed.event_ms == 1695378785709
    (_, again), = live.orders  # (the live update names the order alone: read over its pending row)
    assert (again["symbol"], again["amount"], again["price"]) == ("BTC/USD", 0.005, 26500.0)
    assert live.event_ms == placed.event_ms and live.body != placed.body  # (the same ms: another event, applied)
    assert gone.orders == (("OK4GJX-KSTLS-7DZZO5", None),)


def test_a_cancelled_order_is_gone_whether_or_not_its_row_was_told():
    [gone] = read([frame("executions canceled")])[0]
    assert gone.orders == (("OGAB7Y-BKX5F-PTK5RW", None),) and gone.event_ms == 1760195507695


def test_a_stop_loss_limit_is_conditional_its_trigger_and_limit_read_its_client_id_the_engines():
    snap = frame("executions stop-loss-limit snapshot")
    snap["data"][0]["cl_ord_id"] = "00" + "ab" * 3 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "1" * 12
    [[ev]] = read([snap])
    (oid, order), = ev.orders
    assert ev.kinds == ((oid, "conditional", True),)
    assert (order["triggerPrice"], order["price"], order["type"]) == (55000.0, 54900.0, "limit")
    assert order["clientOrderId"] == "ks" + "ab" * 3 + "0" * 12 + "1" * 12
    parsed = adapter_order(order, "conditional")
    assert (parsed.kind, parsed.trigger_price, parsed.amount, parsed.reduce_only) == ("conditional", 55000.0, 0.5,
                                                                                      False)


def adapter_order(order, kind):
    """The adapter's reading of a stream's order (its ``_parse_order``: ccxt's structure, the kind
    the frame says)."""
    return parse_order(order, KNOWN_RAW_FIELDS, (), kind, True)


@pytest.mark.parametrize("kind,said", [("trailing", "trailing-stop"), ("conditional", "take-profit"),
                                       ("regular", "iceberg")])
def test_each_order_type_is_read_as_the_rest_list_reads_it(kind, said):
    snap = frame("executions stop-loss-limit snapshot")
    snap["data"][0]["order_type"] = said  # (the fixture's order of another type)
    [[ev]] = read([snap])
    assert ev.kinds[0][1] == kind


def test_an_unknown_order_type_fails_the_frame_named_and_keeps_the_rows_it_had():
    r = reader()
    r(frame("executions pending_new"), lambda s: s, CLIENT.parse_ws_order, None)
    bad = frame("executions stop-loss-limit snapshot")
    bad["type"] = "update"
    bad["data"][0]["order_type"] = "one-cancels-other"  # (a type Kraken does not document)
    with pytest.raises(AdapterError) as e:
        r(bad, lambda s: s, CLIENT.parse_ws_order, None)
    assert e.value.reason is Reason.BAD_RESPONSE
    assert "websocket executions" in e.value.message and "order_type" in e.value.message
    [live] = r(frame("executions new"), lambda s: s, CLIENT.parse_ws_order, None)  # the row before: still read
    assert live.orders[0][1]["amount"] == 0.005


@pytest.mark.parametrize("field,value,named", [("order_status", "parked", "order_status"),
                                               ("timestamp", None, "timestamp"),
                                               ("side", None, "side")])
def test_a_row_it_cannot_read_fails_the_frame_naming_the_field(field, value, named):
    bad = frame("executions pending_new")
    bad["data"][0][field] = value
    with pytest.raises(AdapterError) as e:
        read([bad])
    assert f"websocket executions: field {named}" in e.value.message


def test_a_live_update_of_an_order_never_told_is_malformed_never_an_order_guessed():
    with pytest.raises(AdapterError) as e:
        read([frame("executions new")])
    assert "order_type" in e.value.message and "OK4GJX-KSTLS-7DZZO5" in e.value.message


def test_a_conditional_order_without_a_trigger_is_malformed():
    bad = frame("executions stop-loss-limit snapshot")
    del bad["data"][0]["triggers"]
    with pytest.raises(AdapterError) as e:
        read([bad])
    assert "triggers.price" in e.value.message


def test_a_deposit_is_its_assets_balance_and_the_snapshot_gives_no_event():
    [deposit] = read([frame("balances deposit")])[0]
    assert deposit.wallets == (("BTC", 0.02),) and deposit.key == ("wallet", "BTC")
    snap = frame("balances snapshot")
    snap["data"] = [r for r in snap["data"] if r["asset"] != "MATIC"]
    assert read([snap]) == [[]]


def test_an_earn_wallet_held_fails_the_frame_as_the_rest_snapshot_fails_on_it():
    with pytest.raises(AdapterError) as e:
        read([frame("balances snapshot")])
    assert "wallets" in e.value.message and "MATIC" in e.value.message
    earn = frame("balances deposit")
    earn["data"][0]["wallet_type"] = "earn"
    with pytest.raises(AdapterError) as e:
        read([earn])
    assert "wallet_type" in e.value.message


def test_a_ticker_is_its_pairs_last_price_of_a_held_pair_only():
    [[mark]] = read([frame("ticker snapshot")], held={"BTC/USD"})
    assert mark.marks == (("BTC/USD", 108359.8),) and mark.event_ms == 0  # (the quoted row has no timestamp)
    assert read([frame("ticker snapshot")], held={"ETH/USD"}) == [[]]
    stamped = frame("ticker snapshot")
    stamped["data"][0]["timestamp"] = "2023-09-22T10:33:05.000000Z"
    assert read([stamped])[0][0].event_ms == 1695378785000
    assert KRAKEN.stream_time(stamped) == 1695378785000


def test_a_holding_of_the_quote_alone_watches_the_heartbeat_pair():
    asked = []

    async def watch_tickers(symbols):
        asked.append(symbols)

    class Client:
        markets = CLIENT.markets

        async def load_markets(self):
            return self.markets

    Client.watch_tickers = staticmethod(watch_tickers)

    async def go():
        await watch_marks(Client(), frozenset())
        await watch_marks(Client(), frozenset({"ETH/USD", "DOGE/USD"}))  # (a pair not listed: not asked)

    asyncio.run(go())
    assert asked == [[HEARTBEAT_SYMBOL], ["ETH/USD"]]


def test_the_stream_serves_a_spot_account_only():
    assert KRAKEN.streams and KRAKEN.streams_for("spot") and not KRAKEN.streams_for("futures")
    assert KRAKEN.stream_watches() == (("watch_orders", {}), ("watch_balance", {}))


def test_a_snapshots_fills_are_not_open_orders():
    snap = frame("executions stop-loss-limit snapshot")
    fill = {"order_id": "O6YNNA-1", "exec_id": "TSIM-1", "exec_type": "trade", "symbol": "BTC/USD", "side": "buy",
            "last_qty": 0.1, "last_price": 60_000.0, "order_status": "partially_filled", "order_type": "limit",
            "timestamp": "2023-09-22T10:00:00.000000Z"}  # (a fill of the schema's fields, as snap_trades lists one)
    snap["data"].append(fill)
    [events] = read([snap])
    assert [ev.key for ev in events] == [("order", "OHYO7H-6ZTDX-ZLYXUO")]


def test_a_trade_is_the_accounts_fill_read_over_its_orders_row_with_its_client_id():
    """A ``trade`` execution (its id, ``last_qty`` at ``last_price``, of the schema's fields) is the
    account's trade as well as the order's update: its pair, side and client id read over the
    order's row (``pending_new`` told them; a trade update need not), the engine's id from its
    UUID; the one that fills the order whole ends it and is still a trade. A snapshot's trades
    are none (see above); a trade without its id fails the frame, never a trade guessed."""
    placed = frame("executions pending_new")
    placed["data"][0]["cl_ord_id"] = "00" + "0123456789abcdef0123456789abcd"
    oid = placed["data"][0]["order_id"]

    def trade(n: int, status: str) -> dict:
        return {"channel": "executions", "type": "update", "data": [
            {"order_id": oid, "exec_id": f"TSIM-{n}", "exec_type": "trade", "last_qty": 0.002 + n / 1000,
             "last_price": 26_500.0, "order_status": status, "timestamp": f"2023-09-22T10:33:0{5 + n}.000000Z"}]}

    [_], [part], [whole] = read([placed, trade(1, "partially_filled"), trade(2, "filled")])
    assert KRAKEN.stream_fills
    assert [(f.id, f.order_id, f.client_id, f.symbol, f.side, f.amount, f.price, f.ts_ms, f.strategy)
            for ev in (part, whole) for f in ev.fills] == [
        ("TSIM-1", oid, "ks0123456789abcdef0123456789abcd", "BTC/USD", "sell", 0.003, 26_500.0, 1695378786000, None),
        ("TSIM-2", oid, "ks0123456789abcdef0123456789abcd", "BTC/USD", "sell", 0.004, 26_500.0, 1695378787000, None)]
    assert whole.orders == ((oid, None),)  # (ended)
    broken = trade(1, "partially_filled")
    del broken["data"][0]["exec_id"]
    with pytest.raises(AdapterError) as e:
        read([placed, broken])
    assert e.value.reason is Reason.BAD_RESPONSE and "exec_id" in e.value.message
