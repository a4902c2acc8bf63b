"""Kraken spot's book: its assets valued at its tickers, its open orders and their kinds.
(Answers as the rig says: ccxt's recordings and Kraken's documented ones.)"""

from __future__ import annotations

import pytest

from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.kraken.dialect import KrakenDialect
from tests.unit.adapters.venues.kraken_spot.rig import BTC, LTC, XRP, KrakenVenue, documented, recorded_rows, snapshot

# --- the book ---------------------------------------------------------------------------------------


def test_kraken_has_its_own_dialect_in_usd():
    d = dialect_for("kraken")
    assert isinstance(d, KrakenDialect) and d.quote_currency == "USD"
    assert d.snapshot_cost("futures") is None and d.snapshot_cost("spot") is not None


def test_each_held_asset_is_valued_at_krakens_ticker():
    """BalanceEx's documented example (ZUSD, XXBT) valued at the ticker's last trade: the equity
    is every holding at its price in USD, the BTC read from its ``balance``, ``hold_trade`` held."""
    venue = KrakenVenue()
    s = snapshot(venue)
    assert s.fetch.ok, s.fetch.error
    by = {b.asset: b for b in s.balances}
    assert set(by) == {"USD", "BTC"}
    assert by["BTC"].total == 1.2435 and by["BTC"].used == 0.8423 and by["BTC"].price == 73380.6
    assert by["USD"].price == 1.0
    assert s.equity == pytest.approx(25435.21 + 1.2435 * 73380.6)
    assert s.positions == [] and s.orders == []
    assert sorted((m, p) for m, p, _ in venue.requests) == [
        ("GET", "/0/public/Ticker"), ("POST", "/0/private/BalanceEx"), ("POST", "/0/private/OpenOrders")]
    assert venue.sent("/0/public/Ticker") == [{"pair": "XXBTZUSD"}]


def test_a_held_asset_no_ticker_prices_fails_the_snapshot_naming_it():
    """A Kraken Rewards balance (XBT.F: no market of its own) cannot be valued: the snapshot is
    incomplete, naming it, never an equity that leaves it out."""
    s = snapshot(KrakenVenue(private_BalanceEx=documented("BalanceEx earn")))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert "BTC.F (0.5)" in s.fetch.error and "/0/public/Ticker" in s.fetch.error


def test_open_orders_are_read_from_the_rows_with_their_conditional_kinds():
    """The recorded take-profit, stop-loss-limit and trailing-stop rows and the documented limit
    order with its cl_ord_id: each with its kind, trigger and limit from the venue's row, its
    client id its cl_ord_id alone (ccxt reads the userref "0" as one)."""
    answer = recorded_rows("fetchOpenOrders take-profit", "fetchOpenOrders stop-loss-limit",
                           "fetchOpenOrders trailing-stop")
    answer["result"]["open"].update(documented("OpenOrders cl_ord_id")["result"]["open"])
    s = snapshot(KrakenVenue(private_BalanceEx={"error": [], "result": {"ZUSD": {"balance": "10", "hold_trade": "0"}}},
                             private_OpenOrders=answer))
    assert s.fetch.ok, s.fetch.error
    got = {o.id: (o.symbol, o.side, o.kind, o.type, o.trigger_price, o.price, o.amount, o.client_id, o.reduce_only)
           for o in s.orders}
    assert got == {
        "OXCZ7B-EMVZQ-MTJTQJ": (LTC, "sell", "conditional", "market", 120.0, None, 0.1, None, False),
        "OIIQBL-6PV3A-7M2AJJ": (LTC, "sell", "conditional", "limit", 55.0, 54.0, 0.1, None, False),
        "OF7S76-H2IMS-N2ML4U": (XRP, "buy", "trailing", "market", 0.7579, None, 10.0, None, False),
        "O45M52-BFD5S-YXKQOU": (BTC, "buy", "regular", "limit", None, 70000.0, 0.0001, "1234", False),
    }


def test_an_order_type_not_known_fails_the_snapshot_naming_the_field():
    answer = recorded_rows("fetchOpenOrders take-profit")
    answer["result"]["open"]["OXCZ7B-EMVZQ-MTJTQJ"]["descr"]["ordertype"] = "take-profit-trailing"
    s = snapshot(KrakenVenue(private_OpenOrders=answer))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert "descr.ordertype" in s.fetch.error and "take-profit-trailing" in s.fetch.error


def test_an_error_list_in_a_read_is_a_failed_snapshot_with_the_venues_words():
    s = snapshot(KrakenVenue(private_BalanceEx={"error": ["EAPI:Invalid key"], "result": {}}))
    assert not s.fetch.ok and s.fetch.error_code == "AUTH" and "EAPI:Invalid key" in s.fetch.error
