"""Binance hedge mode reports ``reduceOnly: false`` on every order: whether an open order opens or
closes is its side against its position side (SELL on LONG, BUY on SHORT closes), or a
``closePosition`` order. Read through the real ccxt client from the venue's documented answer,
so ``cancel_orders: entries`` keeps take-profits, stops and closing limits (issue "Venue truth",
finding 3)."""

from __future__ import annotations

import json

import pytest

from adapters.base import CancelSelector
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS
from adapters.ccxt_exchange.parsing import parse_order, reduces
from tests.unit.adapters.venues.test_binance_algo_orders import Venue, _creds, adapter, run  # noqa: F401 (_creds: autouse)
from tests.venue_fixtures import fixture

FIXTURE = fixture("binanceusdm-hedge-open-orders.json")
MARKET = {"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
          "type": "swap", "spot": False, "swap": True, "future": False, "contract": True, "linear": True,
          "inverse": False, "contractSize": 1}


def orders():
    import ccxt

    client = ccxt.binanceusdm()
    raw = json.loads(FIXTURE.read_text())["orders"]
    return {o["clientOrderId"]: parse_order(client.parse_order(o, MARKET), KNOWN_RAW_FIELDS, ()) for o in raw}


def test_hedge_mode_exits_are_known_as_reducing_and_entries_are_not():
    got = orders()
    assert {k: (o.side, o.position_side, o.reduce_only) for k, o in got.items()} == {
        "abc": ("buy", "SHORT", True),  # the documented trailing stop: BUY on SHORT closes
        "tp-long": ("sell", "LONG", True),  # a take-profit limit of a long leg
        "add-long": ("buy", "LONG", False),  # adds to the long leg: an entry
        "sl-oneway": ("sell", "BOTH", True),  # closePosition: closes whatever is open
        "entry-oneway": ("buy", "BOTH", False),  # one-way mode: only the venue's flag can say it reduces
    }


@pytest.mark.parametrize("side, leg, flag, close, expected", [
    ("sell", "LONG", False, False, True), ("buy", "SHORT", "false", None, True),
    ("buy", "LONG", False, False, False), ("sell", "SHORT", None, None, False),
    ("sell", "BOTH", False, False, False), ("sell", None, None, None, False),
    ("buy", "BOTH", True, None, True), ("buy", None, "true", None, True), ("sell", "BOTH", False, "true", True),
])
def test_what_reduces(side, leg, flag, close, expected):
    assert reduces(side, leg, flag, close) is expected


def test_cancel_entries_in_hedge_mode_keeps_the_exits_the_venue_marks_reduce_only_false():
    """Hedge mode: Binance reports ``reduceOnly: false`` on every order; the take-profit of the
    long leg, the trailing stop of the short leg and the close-position stop stay, and only the
    two orders that open (a buy on LONG, a one-way buy) are cancelled, through the adapter."""
    hedge = json.loads(FIXTURE.read_text())["orders"]
    venue = Venue(regular=hedge)
    venue.doc["openAlgoOrders"] = []
    a = adapter(venue, hedge_mode=True)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed and sorted(res.canceled) == ["1917643", "1917645"]
    assert venue.requests == [
        ("GET", "/fapi/v1/openOrders", {}),
        ("GET", "/fapi/v1/openAlgoOrders", {}),
        ("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "1917643"}),
        ("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "1917645"}),
    ]
