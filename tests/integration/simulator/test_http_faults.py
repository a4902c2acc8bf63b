"""The simulated exchange's injected faults as a real ``ccxt.async_support.binanceusdm`` meets
them on the HTTP face: rate limits and 5xx answers, a malformed body (with and without strict
JSON), a timeout before and after the order was executed, latency, a disconnect in the middle of
a close, an order accepted but missing from the next query, a refused reduce-only close and
stale data. The server and its client: face_helpers.py; the face without faults: test_http.py.
"""

from __future__ import annotations

import time

import ccxt
import pytest

from adapters.simulated.paths import Piecewise
from tests.integration.sim_helpers import T0, engine
from tests.integration.simulator.face_helpers import BTC_U, ETH_U, serve_binance

# --- faults -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 418])
def test_fault_429_418_are_rate_limit_errors(status):
    async def t(srv, ex, eng, clock):
        eng.faults.http_error("account", status, retry_after_s=3, times=1)
        with pytest.raises((ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
            await ex.fetch_balance()
        assert (await ex.fetch_balance())["USDT"]["total"] > 0
    serve_binance(t)


@pytest.mark.parametrize("status", [500, 503])
def test_fault_5xx_is_exchange_not_available(status):
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        eng.faults.http_error("POST /fapi/v1/order", status, times=1)  # keyed on the endpoint
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "u-1"})
        assert eng.order_by_client_id("sim-main", "u-1") is None
        eng.faults.http_error("exchange_info", status, times=1)
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ex.load_markets(True)
    serve_binance(t)


def test_fault_malformed_json_is_a_ccxt_error_with_strict_json():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        for op in ("positions", "account", "exchange_info", "open_orders"):
            eng.faults.malformed_json(op, times=1)
        with pytest.raises(ccxt.BadResponse):
            await ex.fetch_positions()
        with pytest.raises(ccxt.BadResponse):
            await ex.fetch_balance()
        with pytest.raises(ccxt.BadResponse):
            await ex.load_markets(True)
        with pytest.raises(ccxt.BadResponse):
            await ex.fetch_open_orders(BTC_U)
        assert len(await ex.fetch_positions()) == 3
    serve_binance(t)


def test_fault_malformed_json_stock_ccxt_does_not_raise():
    """Documents the hazard strict_json exists for: stock ccxt turns a cut answer into "no
    positions" instead of an error."""
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        eng.faults.malformed_json("positions", times=1)
        assert await ex.fetch_positions() == []
        assert len(await ex.fetch_positions()) == 3
    serve_binance(t, client_kw={"strict": False})


def test_fault_timeout_is_a_request_timeout():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        ex.timeout = 300
        eng.faults.timeout("place_order", call=1)
        eng.faults.timeout("place_order", call=2, applied=True)
        started = time.monotonic()
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "to-1"})
        assert time.monotonic() - started < 5
        assert eng.order_by_client_id("sim-main", "to-1") is None  # never executed
        with pytest.raises(ccxt.RequestTimeout):
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "to-2"})
        ex.timeout = 10_000
        f = await ex.fetch_order(None, BTC_U, {"origClientOrderId": "to-2"})
        assert f["status"] == "closed"  # executed; only the answer was lost
    serve_binance(t)


def test_fault_latency():
    async def t(srv, ex, eng, clock):
        eng.faults.latency("time", 200, times=1)
        started = time.monotonic()
        assert await ex.fetch_time() == T0
        assert time.monotonic() - started >= 0.19
    serve_binance(t)


def test_fault_disconnect_in_the_middle_of_a_close():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        eng.faults.disconnect_after_send(times=1)
        with pytest.raises(ccxt.NetworkError):
            await ex.create_order(BTC_U, "market", "sell", 5, None, {"reduceOnly": True, "newClientOrderId": "dc-1"})
        f = await ex.fetch_order(None, BTC_U, {"origClientOrderId": "dc-1"})
        assert (f["status"], f["filled"]) == ("closed", 5.0)
        assert eng.positions("sim-main", "BTCUSDT") == []
    serve_binance(t)


def test_fault_accepted_but_missing_from_the_next_query():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        eng.faults.hide_from_next_query(times=1)
        o = await ex.create_order(ETH_U, "limit", "buy", 1, 2_000, {"newClientOrderId": "hid-1"})
        assert o["status"] == "open"
        assert await ex.fetch_open_orders(ETH_U) == []  # missing once
        assert [x["id"] for x in await ex.fetch_open_orders(ETH_U)] == [o["id"]]
        eng.faults.hide_from_next_query(times=1)
        o2 = await ex.create_order(ETH_U, "limit", "buy", 1, 2_100, {"newClientOrderId": "hid-2"})
        with pytest.raises(ccxt.OrderNotFound):  # the next get-order does not see it, once
            await ex.fetch_order(None, ETH_U, {"origClientOrderId": "hid-2"})
        assert (await ex.fetch_order(o2["id"], ETH_U))["clientOrderId"] == "hid-2"
        assert (await ex.fetch_order(o["id"], ETH_U))["status"] == "open"
    serve_binance(t)


def test_fault_rejected_reduce_only():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        eng.faults.reject_reduce_only(times=1)
        with pytest.raises(ccxt.ExchangeError, match="-2022"):
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "rr-1"})
        assert eng.order_by_client_id("sim-main", "rr-1") is None
        o = await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "rr-1"})
        assert o["status"] == "closed"
    serve_binance(t)


def test_fault_stale_data():
    eng, clock = engine(flat=False)
    eng.set_price_path("BTCUSDT", Piecewise(((0, 60_000.0), (60_000, 50_000.0))))

    async def t(srv, ex, eng, clock):
        clock.advance(60_000)
        eng.faults.stale("positions", 45_000, times=1)
        stale = {p["symbol"]: p for p in await ex.fetch_positions()}[BTC_U]
        assert stale["markPrice"] == 57_500.0 and stale["timestamp"] == T0  # updated at T0, read as of T0+15s
        fresh = {p["symbol"]: p for p in await ex.fetch_positions()}[BTC_U]
        assert fresh["markPrice"] == 50_000.0
        eng.faults.stale("mark_price", 30_000, times=1)
        r = await ex.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"})
        assert (r["markPrice"], r["time"]) == ("55000.0", T0 + 30_000)
    serve_binance(t, eng=(eng, clock))
