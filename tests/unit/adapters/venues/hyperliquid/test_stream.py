"""Hyperliquid's websocket frames as the stream reads them (venues/hyperliquid/dialect/stream.py): the
documented shapes (hyperliquid.gitbook.io, websocket/subscriptions; ccxt.pro's hyperliquid's own
examples), each channel's verdict, its events, its time, and a frame that does not parse named by
channel and field."""

from __future__ import annotations

import copy

import pytest

from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.parsing import BadData
from adapters.ccxt_exchange.streaming.state import STREAM_KIND
from adapters.venues.hyperliquid.dialect import HYPERLIQUID, to_cloid
from adapters.venues.hyperliquid.dialect.stream import stream_events, stream_message, stream_problem

ccxt = pytest.importorskip("ccxt.pro")

BTC, ETH = "BTC/USDC:USDC", "ETH/USDC:USDC"
OURS = "ks" + "0123456789abcdef0123456789abcd"

# ccxt.pro hyperliquid's example of the channel (handle_balance), with a position
STATE = {"channel": "clearinghouseState", "data": {"dex": "", "user": "0x" + "e" * 40, "clearinghouseState": {
    "marginSummary": {"accountValue": "10100.0", "totalNtlPos": "30000.0", "totalRawUsd": "0.0",
                      "totalMarginUsed": "3000.0"},
    "crossMarginSummary": {"accountValue": "10100.0", "totalNtlPos": "30000.0", "totalRawUsd": "0.0",
                           "totalMarginUsed": "3000.0"},
    "crossMaintenanceMarginUsed": "300.0", "withdrawable": "7000.0",
    "assetPositions": [{"type": "oneWay", "position": {
        "coin": "BTC", "szi": "-0.5", "entryPx": "60200.0", "positionValue": "30000.0", "unrealizedPnl": "100.0",
        "leverage": {"type": "cross", "value": 10}, "liquidationPx": "79000.0", "marginUsed": "3000.0",
        "returnOnEquity": "0.033", "maxLeverage": 40,
        "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"}}}],
    "time": 1776000003409}}}
# the documented WsOrder (and ccxt.pro hyperliquid's handle_order example), a cloid of ours
ORDER = {"channel": "orderUpdates", "data": [{"order": {
    "coin": "BTC", "side": "B", "limitPx": "30000.0", "sz": "0.001", "oid": 7456484275, "timestamp": 1710163596492,
    "origSz": "0.001", "cloid": to_cloid(OURS)}, "status": "open", "statusTimestamp": 1710163596500}]}
FILLS = {"channel": "userFills", "data": {"isSnapshot": True, "user": "0x" + "e" * 40, "fills": [{
    "coin": "BTC", "px": "30000.0", "sz": "0.001", "side": "B", "time": 1710163596600, "startPosition": "0.0",
    "dir": "Open Long", "closedPnl": "0.0", "hash": "0x" + "0" * 64, "oid": 7456484275, "crossed": True,
    "fee": "0.01", "tid": 1, "feeToken": "USDC"}]}}


def parse_order():
    return ccxt.hyperliquid().parse_order


def test_hyperliquid_streams_its_state_and_orders_through_ccxts_rest_parser():
    assert HYPERLIQUID.streams and HYPERLIQUID.stream_order_parser == "parse_order"
    assert dialect_for("hyperliquid") is HYPERLIQUID
    assert HYPERLIQUID.snapshot_cost("futures").streams


@pytest.mark.parametrize("frame,verdict", [
    (STATE, "state"), (ORDER, "ok"), (FILLS, "ok"),
    ({"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": {"type": "allMids"}}},
     "answer"),
    ({"channel": "pong"}, "answer"), ({"channel": "error", "data": "Already subscribed: {}"}, "answer"),
    ({"channel": "post", "data": {"id": 1, "response": {"type": "info", "payload": {}}}}, "answer"),
    ({"channel": "l2Book", "data": {}}, "unknown"), ({"channel": "sim.unknown", "data": []}, "unknown"),
    ({"data": []}, "malformed"), ([1], "malformed"),
])
def test_each_channel_has_its_verdict(frame, verdict):
    assert stream_message(frame) == verdict
    assert (stream_problem(frame) is None) == (verdict != "malformed")


@pytest.mark.parametrize("frame,cut,said", [
    (STATE, lambda f: f.pop("data"), "clearinghouseState: field data.clearinghouseState: missing"),
    (STATE, lambda f: f["data"]["clearinghouseState"]["assetPositions"][0]["position"].pop("szi"),
     "clearinghouseState: field assetPositions[0].position.szi: missing"),
    (STATE, lambda f: f["data"]["clearinghouseState"]["assetPositions"][0]["position"].update(entryPx="x"),
     "clearinghouseState: field assetPositions[0].position.entryPx: not a number: 'x'"),
    (STATE, lambda f: f["data"]["clearinghouseState"]["marginSummary"].pop("accountValue"),
     "clearinghouseState: field marginSummary.accountValue: missing"),
    (STATE, lambda f: f["data"]["clearinghouseState"].pop("time"), "clearinghouseState: field time: missing"),
    (ORDER, lambda f: f["data"][0]["order"].pop("oid"), "orderUpdates: field data[0].order.oid: missing"),
    (ORDER, lambda f: f["data"][0]["order"].update(side="X"),
     "orderUpdates: field data[0].order.side: unknown value 'X'"),
    (ORDER, lambda f: f["data"][0]["order"].update(orderType="Scale"),
     "orderUpdates: field data[0].order.orderType: unknown value 'Scale'"),
    (ORDER, lambda f: f["data"][0].pop("statusTimestamp"), "orderUpdates: field data[0].statusTimestamp: missing"),
    (FILLS, lambda f: f["data"]["fills"][0].pop("px"), "userFills: field data.fills[0].px: missing"),
])
def test_a_frame_that_does_not_parse_is_malformed_and_named_by_channel_and_field(frame, cut, said):
    broken = copy.deepcopy(frame)
    cut(broken)
    if "assetPositions[" in said:  # a position row: read with the rows, the frame refused whole
        assert stream_message(broken) == "state"
        with pytest.raises((KeyError, BadData)):
            stream_events(broken, parse_order(), held=set())
    else:
        assert stream_message(broken) == "malformed"
    assert stream_problem(broken) == "BAD_RESPONSE: hyperliquid " + said


def test_a_state_frame_is_every_position_with_its_mark_the_wallet_and_a_held_symbol_it_omits_flat():
    events = stream_events(STATE, parse_order(), held={BTC, ETH})
    by_key = {e.key: e for e in events}
    btc = by_key[("position", BTC, "BOTH")]
    assert btc.event_ms == 1776000003409
    assert btc.positions == ((BTC, "BOTH", "short", 0.5, 60200.0),)
    assert btc.marks == ((BTC, 60000.0),)  # positionValue / |szi|: the price the venue values it at
    assert by_key[("position", ETH, "BOTH")].positions == ((ETH, "BOTH", None, 0.0, None),)  # not listed: flat
    # the wallet: the equity less the positions' unrealized PnL (the stream adds its own back)
    assert by_key[("wallet",)].wallets == (("USDC", 10000.0),)
    assert HYPERLIQUID.stream_time(STATE) == 1776000003409


def test_a_documented_order_row_does_not_say_its_kind_and_carries_the_engines_id():
    (ev,) = stream_events(ORDER, parse_order())
    assert ev.key == ("order", "7456484275") and ev.event_ms == 1710163596500
    ((oid, o),) = ev.orders
    assert oid == "7456484275" and STREAM_KIND in o and o[STREAM_KIND] is None
    assert (o["status"], o["type"], o["side"], o["price"], o["amount"], o["clientOrderId"]) == (
        "open", "limit", "buy", 30000.0, 0.001, OURS)
    assert HYPERLIQUID.stream_time(ORDER) == 1710163596500


@pytest.mark.parametrize("extra,kind,trigger,reduce_only", [
    ({"orderType": "Limit", "isTrigger": False, "isPositionTpsl": False, "triggerPx": "0.0", "reduceOnly": False},
     "regular", None, False),
    ({"orderType": "Stop Market", "isTrigger": True, "isPositionTpsl": False, "triggerPx": "29000.0",
      "reduceOnly": True}, "conditional", 29000.0, True),
    ({"orderType": "Take Profit Market", "isTrigger": True, "isPositionTpsl": True, "triggerPx": "35000.0",
      "reduceOnly": False}, "tpsl", 35000.0, True),
])
def test_a_row_with_frontend_fields_says_its_kind_as_frontendOpenOrders_does(extra, kind, trigger, reduce_only):
    frame = copy.deepcopy(ORDER)
    frame["data"][0]["order"].update(extra)
    assert stream_message(frame) == "ok"
    ((_, o),) = stream_events(frame, parse_order())[0].orders
    assert o[STREAM_KIND] == kind
    assert (o.get("triggerPrice") if kind != "regular" else None) == trigger
    assert bool(o.get("reduceOnly")) == reduce_only


def test_a_triggered_order_is_no_longer_open_and_a_fill_frame_makes_no_event():
    frame = copy.deepcopy(ORDER)
    frame["data"][0]["status"] = "triggered"
    ((_, o),) = stream_events(frame, parse_order())[0].orders
    assert o["status"] == "triggered"  # not "open" (ccxt's reading): the trigger order's wait is over
    assert stream_events(FILLS, parse_order()) == []
    assert HYPERLIQUID.stream_time(FILLS) == 1710163596600
