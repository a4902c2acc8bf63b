"""Kraken Futures (``krakenfutures``) has no dialect of its own: the generic one (ccxt's unified
forms) reads it. These tests feed what ccxt recorded from it
(tests/fixtures/venues/ccxt-static/krakenfutures.json, verbatim, naming its commit) through the
real ccxt client and the adapter's parsing, and pin down what the generic path reads and where it
reads short (docs/exchanges.md says the same, row by row). MEXC has its dialect since, and its
recording moved with it (tests/unit/test_mexc_dialect.py)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.ccxt_exchange import dialect_for
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS
from adapters.ccxt_exchange.parsing import BadData, parse_order, parse_position
from tests.unit.test_ccxt_adapter import market, run

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "ccxt-static"
LTC_KF = "LTC/USD:USD"


def case(venue: str, name: str) -> dict:
    return json.loads((RECORDED / f"{venue}.json").read_text())["cases"][name]


def krakenfutures(paths: dict):
    """A ccxt krakenfutures client with PF_LTCUSD loaded, answering each path with ``paths``'s body."""
    ex = ccxt_async.krakenfutures({"apiKey": "k", "secret": "c2VjcmV0"})
    ltc = market(LTC_KF, "PF_LTCUSD", amount_step=0.1, price_step=0.01, min_amount=0.1)
    ltc.update(settle="USD", settleId="USD", quote="USD", quoteId="USD")
    ex.set_markets([ltc])
    asked: list[str] = []

    async def fetch(url, method="GET", headers=None, body=None):
        path = urlsplit(url).path
        asked.append(path)
        return paths[path]

    ex.fetch = fetch
    return ex, asked


def test_krakenfutures_is_read_by_the_generic_dialect():
    d = dialect_for("krakenfutures")
    assert type(d).__name__ == "Dialect" and d.countdown(None, "futures", keeps_private_websocket=False) is None


def test_krakenfutures_recorded_position_carries_no_mark_and_the_generic_path_refuses_it_loudly():
    """openpositions gives side, size and entry price only: ccxt leaves the mark, the PnL and the
    notional empty (its recorded parse says so), and the adapter refuses a position it cannot
    value (BAD_RESPONSE), never one read as worth nothing."""
    rec = case("krakenfutures", "fetchPositions")
    ex, asked = krakenfutures({"/derivatives/api/v3/openpositions": rec["httpResponse"]})
    try:
        [p] = run(ex.fetch_positions())
    finally:
        run(ex.close())
    assert asked == ["/derivatives/api/v3/openpositions"]
    expected = rec["parsedResponse"]
    assert (p["markPrice"], p["unrealizedPnl"], p["notional"], p["contracts"], p["entryPrice"]) == (
        expected["markPrice"], expected["unrealizedPnl"], expected["notional"], expected["contracts"],
        expected["entryPrice"])
    with pytest.raises(BadData, match="position without a mark price"):
        parse_position(p, lambda s: None, KNOWN_RAW_FIELDS)


def test_krakenfutures_recorded_open_order_reads_but_without_its_limit_price():
    rec = case("krakenfutures", "fetchOpenOrders")
    ex, asked = krakenfutures({"/derivatives/api/v3/openorders": rec["httpResponse"]})
    try:
        [raw] = run(ex.fetch_open_orders())
    finally:
        run(ex.close())
    o = parse_order(raw, KNOWN_RAW_FIELDS, ())
    assert (o.id, o.symbol, o.side, o.type, o.kind, o.amount, o.filled, o.reduce_only, o.client_id) == (
        "6e88d923-630d-40aa-af4f-64e5e2b3ad03", LTC_KF, "buy", "limit", "regular", 0.1, 0.0, False, None)
    # ccxt leaves the order's limitPrice ("50") out of its unified price: the generic path reads none
    assert rec["httpResponse"]["openOrders"][0]["limitPrice"] == "50"
    assert o.price is None and rec["parsedResponse"]["price"] is None
