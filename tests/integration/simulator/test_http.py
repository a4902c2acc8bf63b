"""A real ``ccxt.async_support.binanceusdm`` against the simulated exchange's HTTP face.

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, points a ccxt client at it
(every ``urls['api']`` entry on loopback), runs, and stops both; each is bounded in time.
The engine runs on a manual clock at T0 (deterministic marks); request timestamps are
checked against the wall clock, which is what ccxt signs with. The faults the face injects, as
ccxt meets them: test_http_faults.py.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import ccxt
import ccxt.async_support  # noqa: F401  (the async client under test)
import pytest

from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.binance.face import CCXT_OPTIONS, point_ccxt
from tests.integration.sim_helpers import T0, engine, run
from tests.integration.simulator.face_helpers import BTC_U, ETH_U, SOL_U, paths, serve_binance

ROOT = Path(__file__).resolve().parents[3]


# --- markets, balance, positions -------------------------------------------------------------------------------


def test_load_markets_uses_only_fapi_exchange_info():
    async def t(srv, ex, eng, clock):
        markets = await ex.load_markets()
        assert sorted(markets) == [BTC_U, ETH_U, SOL_U]
        btc = markets[BTC_U]
        assert (btc["id"], btc["type"], btc["linear"], btc["settle"], btc["contractSize"]) == (
            "BTCUSDT", "swap", True, "USDT", 1.0)
        assert btc["precision"]["amount"] == 0.001 and btc["precision"]["price"] == 0.1
        assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 100
        assert markets[SOL_U]["precision"]["amount"] == 1.0
        assert paths(srv) == ["GET /fapi/v1/exchangeInfo"]  # no spot, no sapi currencies
        assert all(url.startswith(srv.base_url) for url in ex.urls["api"].values())
        assert await ex.fetch_time() == T0
    serve_binance(t)


def test_fetch_balance_v3_and_v2():
    async def t(srv, ex, eng, clock):
        v = eng.account_state("sim-main")
        bal = await ex.fetch_balance()
        assert bal["USDT"]["total"] == pytest.approx(v.equity)
        assert bal["USDT"]["free"] == pytest.approx(v.available)
        bal2 = await ex.fetch_balance({"useV2": True})
        assert bal2["USDT"]["total"] == pytest.approx(v.equity)
        assert "GET /fapi/v3/account" in paths(srv) and "GET /fapi/v2/account" in paths(srv)
    serve_binance(t)


def test_fetch_positions_one_way():
    async def t(srv, ex, eng, clock):
        eng.set_mark("BTCUSDT", 55_000.0)
        ps = {p["symbol"]: p for p in await ex.fetch_positions()}
        assert set(ps) == {BTC_U, ETH_U, SOL_U}
        btc, sol = ps[BTC_U], ps[SOL_U]
        assert (btc["side"], btc["contracts"], btc["entryPrice"], btc["markPrice"]) == ("long", 5.0, 60_000.0, 55_000.0)
        assert btc["unrealizedPnl"] == pytest.approx(-25_000.0) and btc["hedged"] is False
        assert (sol["side"], sol["contracts"], sol["notional"]) == ("short", 1000.0, 140_000.0)
        assert sol["liquidationPrice"] == pytest.approx(eng.positions("sim-main", "SOLUSDT")[0].liquidation_price)
        v2 = {p["symbol"]: p for p in await ex.fetch_positions(None, {"useV2": True})}
        assert v2[BTC_U]["contracts"] == 5.0 and v2[BTC_U]["leverage"] == 10
        assert "GET /fapi/v1/leverageBracket" in paths(srv)
        assert "GET /fapi/v3/positionRisk" in paths(srv) and "GET /fapi/v2/positionRisk" in paths(srv)
    serve_binance(t)


def test_fetch_positions_hedge_mode():
    async def t(srv, ex, eng, clock):
        assert (await ex.fetch_position_mode())["hedged"] is True
        ps = {(p["symbol"], p["info"]["positionSide"]): p for p in await ex.fetch_positions()}
        assert ps[(BTC_U, "LONG")]["side"] == "long" and ps[(BTC_U, "LONG")]["contracts"] == 2.0
        assert ps[(BTC_U, "SHORT")]["side"] == "short" and ps[(BTC_U, "SHORT")]["contracts"] == 4.0
        assert all(p["hedged"] for p in ps.values())
    serve_binance(t, account="sim-hedge")


@pytest.mark.parametrize("account", ["sim-main", "sim-hedge"])
@pytest.mark.parametrize("use_v2", [False, True])
def test_binance_positions_read_from_raw_rows_are_what_ccxt_parses(account, use_v2):
    """The binanceusdm dialect reads positionRisk's rows itself (ccxt's parsing is most of a
    snapshot at 1,000 positions): the positions it gives are the ones ccxt's fetch_positions
    gives, field for field."""
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS, dialect_for
    from adapters.ccxt_exchange.parsing import parse_position
    from adapters.venues.binance.dialect import BinanceDialect
    from killswitch.policy.accounts_doc import Account

    async def t(srv, ex, eng, clock):
        eng.set_mark("BTCUSDT", 55_000.0)
        eng.set_mark("SOLUSDT", 151.0)
        key, secret = ex.apiKey, ex.secret
        os.environ["KS_RAW_KEY"], os.environ["KS_RAW_SECRET"] = key, secret
        acc = Account.model_validate({"name": account, "venue": "binanceusdm", "market_type": "futures",
                                      "hedge_mode": account == "sim-hedge", "credentials": {
                                          "api_key": {"env": "KS_RAW_KEY"}, "secret": {"env": "KS_RAW_SECRET"}}})
        ad = CcxtAdapter(acc, urls=srv.base_url, timeout=5)
        if use_v2:
            dialect = dialect_for("binanceusdm")
            assert isinstance(dialect, BinanceDialect)
            ad.dialect = BinanceDialect(**{**dialect.__dict__, "positions_method": "fapiPrivateV2GetPositionRisk"})
        try:
            snap = await ad.snapshot()
            theirs = await ex.fetch_positions(None, {"useV2": use_v2})
        finally:
            await ad.close()
        assert snap.fetch.ok
        endpoint = "GET /fapi/v2/positionRisk" if use_v2 else "GET /fapi/v3/positionRisk"
        assert paths(srv).count(endpoint) == 2  # the adapter's read and ccxt's
        parsed = [parse_position(p, ex.markets.get, KNOWN_RAW_FIELDS) for p in theirs]
        key_of = lambda p: (p.symbol, p.side)  # noqa: E731
        assert sorted(snap.positions, key=key_of) == sorted([p for p in parsed if p], key=key_of)
        assert len(snap.positions) == (3 if account == "sim-main" else 5)
    serve_binance(t, account=account)


# --- orders ----------------------------------------------------------------------------------------------------------


def test_reduce_only_market_close_and_fetch_order_by_client_id():
    async def t(srv, ex, eng, clock):
        o = await ex.create_order(BTC_U, "market", "sell", 2, None, {"reduceOnly": True, "newClientOrderId": "ks-c1"})
        assert (o["status"], o["filled"], o["amount"], o["reduceOnly"], o["clientOrderId"]) == (
            "closed", 2.0, 2.0, True, "ks-c1")
        sim = eng.order_by_client_id("sim-main", "ks-c1")
        assert o["id"] == str(sim.order_id) and o["average"] == pytest.approx(sim.avg_price)
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 3.0
        f = await ex.fetch_order(None, BTC_U, {"origClientOrderId": "ks-c1"})
        assert (f["id"], f["status"], f["side"], f["type"]) == (o["id"], "closed", "sell", "market")
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(None, BTC_U, {"origClientOrderId": "nope"})
        # the venue refuses a reduce-only close larger than the position (-2022)
        with pytest.raises(ccxt.ExchangeError, match="-2022"):
            await ex.create_order(BTC_U, "market", "sell", 3.001, None, {"reduceOnly": True})
        with pytest.raises(ccxt.ExchangeError, match="-4116"):  # duplicate client id
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "ks-c1"})
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 3.0
    serve_binance(t)


def test_hedge_mode_close_with_position_side_and_client_id():
    async def t(srv, ex, eng, clock):
        o = await ex.create_order(BTC_U, "market", "buy", 4, None,
                                  {"positionSide": "SHORT", "newClientOrderId": "kh-1"})
        assert (o["status"], o["filled"], o["info"]["positionSide"], o["reduceOnly"]) == ("closed", 4.0, "SHORT", True)
        assert [(p.position_side, p.amount) for p in eng.positions("sim-hedge", "BTCUSDT")] == [("LONG", 2.0)]
        f = await ex.fetch_order(None, BTC_U, {"origClientOrderId": "kh-1"})
        assert f["status"] == "closed"
        # ccxt's own hedge-mode spelling: reduceOnly + hedged → positionSide, without reduceOnly
        o2 = await ex.create_order(ETH_U, "market", "sell", 10, None,
                                   {"reduceOnly": True, "hedged": True, "newClientOrderId": "kh-2"})
        assert o2["info"]["positionSide"] == "LONG" and o2["filled"] == 10
        # Binance refuses the reduceOnly parameter in hedge mode (-1106)
        with pytest.raises(ccxt.BadRequest, match="-1106"):
            await ex.create_order(ETH_U, "market", "sell", 1, None, {"reduceOnly": True, "positionSide": "LONG"})
        with pytest.raises(ccxt.ExchangeError, match="-2022"):  # a close larger than the leg
            await ex.create_order(ETH_U, "market", "sell", 21, None, {"positionSide": "LONG"})
    serve_binance(t, account="sim-hedge")


def test_open_orders_and_cancel_all_orders():
    async def t(srv, ex, eng, clock):
        a = await ex.create_order(ETH_U, "limit", "buy", 1, 2_000, {"newClientOrderId": "e-1"})
        b = await ex.create_order(ETH_U, "limit", "sell", 1, 4_000, {"reduceOnly": True, "newClientOrderId": "e-2"})
        assert a["status"] == "open" and b["status"] == "open"
        oo = await ex.fetch_open_orders(ETH_U)
        assert [(o["clientOrderId"], o["reduceOnly"], o["price"]) for o in oo] == [
            ("e-1", False, 2_000.0), ("e-2", True, 4_000.0)]
        assert len(await ex.fetch_open_orders()) == 2  # without a symbol (weight 40)
        c = await ex.cancel_order(a["id"], ETH_U)
        assert c["status"] == "canceled"
        await ex.cancel_all_orders(ETH_U)
        assert await ex.fetch_open_orders(ETH_U) == []
        assert eng.order_by_client_id("sim-main", "e-2").status == "CANCELED"
        assert "DELETE /fapi/v1/allOpenOrders" in paths(srv)
    serve_binance(t)


def test_countdown_cancel_all_via_implicit_api():
    async def t(srv, ex, eng, clock):
        await ex.create_order(BTC_U, "limit", "sell", 1, 70_000, {"reduceOnly": True, "newClientOrderId": "cd-1"})
        r = await ex.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 5000})
        assert r == {"symbol": "BTCUSDT", "countdownTime": "5000"}
        assert eng.countdowns("sim-main") == {"BTCUSDT": T0 + 5000}
        clock.advance(4_999)
        assert len(await ex.fetch_open_orders(BTC_U)) == 1
        clock.advance(1)
        assert await ex.fetch_open_orders(BTC_U) == []
        f = await ex.fetch_order(None, BTC_U, {"origClientOrderId": "cd-1"})
        assert (f["status"], f["lastUpdateTimestamp"]) == ("canceled", T0 + 5000)
        r = await ex.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 0})
        assert r["countdownTime"] == "0" and eng.countdowns("sim-main") == {}
    serve_binance(t)


# --- conditional orders: the algo service ------------------------------------------------------------------------


def test_conditional_orders_go_through_the_algo_service():
    """ccxt sends every order with a trigger price to POST /fapi/v1/algoOrder (a STOP_MARKET type
    too), lists, reads and cancels them with ``trigger: True`` through the algo endpoints, and
    parses the algo service's rows; the regular order endpoint refuses their types (-4120)."""
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        sl = await ex.create_order(BTC_U, "market", "sell", 1, None,
                                   {"triggerPrice": 55_000, "reduceOnly": True, "clientOrderId": "sl-1"})
        assert paths(srv)[-1] == "POST /fapi/v1/algoOrder"
        assert (sl["clientOrderId"], sl["status"], sl["type"], sl["triggerPrice"], sl["amount"], sl["reduceOnly"]) == (
            "sl-1", "open", "market", 55_000.0, 1.0, True)
        algo = eng.get_algo_order("sim-main", client_algo_id="sl-1")
        assert (sl["id"], algo.order_type, algo.working_type) == (str(algo.algo_id), "STOP_MARKET", "CONTRACT_PRICE")
        tp = await ex.create_order(BTC_U, "TAKE_PROFIT", "sell", 1, 71_000,
                                   {"stopPrice": 70_000, "clientOrderId": "tp"})
        entry = await ex.create_order(ETH_U, "STOP_MARKET", "buy", 2, None, {"triggerPrice": 3_200})
        assert paths(srv)[-2:] == ["POST /fapi/v1/algoOrder"] * 2
        assert eng.get_algo_order("sim-main", int(tp["id"])).price == 71_000.0
        assert eng.get_algo_order("sim-main", int(entry["id"])).order_type == "STOP_MARKET"
        assert await ex.fetch_open_orders(BTC_U) == []  # the book has none of them
        listed = await ex.fetch_open_orders(None, None, None, {"trigger": True})
        assert paths(srv)[-1] == "GET /fapi/v1/openAlgoOrders"
        assert [(o["clientOrderId"], o["type"], o["triggerPrice"]) for o in listed] == [
            ("sl-1", "market", 55_000.0), ("tp", "limit", 70_000.0), (entry["clientOrderId"], "market", 3_200.0)]
        assert [o["id"] for o in await ex.fetch_open_orders(ETH_U, None, None, {"trigger": True})] == [entry["id"]]
        got = await ex.fetch_order(sl["id"], BTC_U, {"trigger": True})
        assert paths(srv)[-1] == "GET /fapi/v1/algoOrder" and got["clientOrderId"] == "sl-1"
        await ex.cancel_order(tp["id"], BTC_U, {"trigger": True})
        assert paths(srv)[-1] == "DELETE /fapi/v1/algoOrder"
        assert eng.get_algo_order("sim-main", client_algo_id="tp").status == "CANCELED"
        await ex.cancel_all_orders(ETH_U, {"trigger": True})
        assert paths(srv)[-1] == "DELETE /fapi/v1/algoOpenOrders"
        assert [o.client_algo_id for o in eng.open_algo_orders("sim-main")] == ["sl-1"]
        # the mark crosses the stop: it leaves the list and its market order closes 1 BTC
        eng.set_mark("BTCUSDT", 54_900.0)
        clock.advance(1_000)
        assert (await ex.fetch_order(sl["id"], BTC_U, {"trigger": True}))["status"] == "closed"  # TRIGGERED
        assert await ex.fetch_open_orders(None, None, None, {"trigger": True}) == []
        assert {p["symbol"]: p["contracts"] for p in await ex.fetch_positions()}[BTC_U] == 4.0
        with pytest.raises(ccxt.ExchangeError, match="-4120"):
            await ex.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                           "quantity": "1", "stopPrice": "50000"})
        with pytest.raises(ccxt.ExchangeError, match="-2021"):  # a sell stop above the mark
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"triggerPrice": 60_000})
    serve_binance(t)


def test_the_ccxt_adapter_lists_keeps_and_cancels_stops_placed_through_ccxt():
    """A STOP_MARKET placed by the real ccxt client is in the ccxt adapter's snapshot as a
    conditional order with its trigger price; ``cancel_orders(entries)`` keeps a reduce-only stop
    and a close-position stop and cancels an entry stop; ``all`` leaves no conditional order (as
    the exchange's own state says)."""
    from adapters.base import CancelSelector
    from adapters.ccxt_exchange import CcxtAdapter
    from killswitch.policy.accounts_doc import Account

    os.environ["KS_SIM_ALGO_KEY"], os.environ["KS_SIM_ALGO_SECRET"] = "sim-main-key", "sim-main-secret"
    acc = Account.model_validate({
        "name": "sim-main", "venue": "binanceusdm", "market_type": "futures",
        "credentials": {"api_key": {"env": "KS_SIM_ALGO_KEY"}, "secret": {"env": "KS_SIM_ALGO_SECRET"}}})

    async def state(srv) -> list[dict]:
        async with aiohttp.ClientSession() as http:
            async with http.get(srv.base_url + "/_sim/state") as r:
                body = await r.json()
        return [o for o in body["accounts"]["sim-main"]["algo_orders"] if o["status"] == "NEW"]

    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        await ex.create_order(BTC_U, "STOP_MARKET", "sell", 2, None,
                              {"triggerPrice": 55_000, "reduceOnly": True, "clientOrderId": "keep-sl"})
        await ex.create_order(BTC_U, "market", "sell", 0, None,
                              {"triggerPrice": 54_000, "closePosition": True, "clientOrderId": "keep-close"})
        await ex.create_order(BTC_U, "STOP_MARKET", "buy", 1, None, {"triggerPrice": 65_000, "clientOrderId": "go"})
        adapter = CcxtAdapter(acc, urls=srv.base_url, timeout=5.0, max_retries=1, backoff_s=0.05)
        try:
            snap = await adapter.snapshot()
            assert snap.fetch.ok, snap.fetch
            got = {o.client_id: (o.kind, o.type, o.trigger_price, o.reduce_only, o.amount) for o in snap.orders}
            assert got == {"keep-sl": ("conditional", "market", 55_000.0, True, 2.0),
                           "keep-close": ("conditional", "market", 54_000.0, True, 0.0),
                           "go": ("conditional", "market", 65_000.0, False, 1.0)}
            res = await adapter.cancel_orders(CancelSelector(which="entries"))
            assert not res.failed and len(res.canceled) == 1
            assert sorted(o["client_algo_id"] for o in await state(srv)) == ["keep-close", "keep-sl"]
            res = await adapter.cancel_orders(CancelSelector(which="all"))  # the venue's "done", naming none
            assert not res.failed and not res.canceled and len(res.acknowledged) == 2
            assert await state(srv) == [] and eng.open_algo_orders("sim-main") == []
            assert "DELETE /fapi/v1/algoOpenOrders" in paths(srv)
        finally:
            await adapter.close()
    serve_binance(t, server_kw={"admin_state": True})


# --- authentication and rate limits ---------------------------------------------------------------------------------


def test_bad_signature_is_an_authentication_error():
    async def t(srv, ex, eng, clock):
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await ex.fetch_balance()
        await ex.load_markets()
        with pytest.raises(ccxt.AuthenticationError):
            await ex.create_order(BTC_U, "market", "sell", 1, None, {"reduceOnly": True, "newClientOrderId": "x1"})
        assert eng.order_by_client_id("sim-main", "x1") is None
    serve_binance(t, client_kw={"secret": "not-the-secret"})


def test_unknown_api_key_and_missing_key():
    async def t(srv, ex, eng, clock):
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await ex.fetch_balance()
        async with aiohttp.ClientSession() as s:
            async with s.get(srv.base_url + "/fapi/v3/account?timestamp=1&signature=00") as r:
                assert r.status == 401 and (await r.json())["code"] == -2014
            async with s.get(srv.base_url + "/fapi/v1/klines?symbol=BTCUSDT") as r:
                assert r.status == 404 and (await r.json())["code"] == -5000
    serve_binance(t, client_kw={"apiKey": "unknown-key"})


@pytest.mark.parametrize("skew_ms,fragment", [(-20_000, "outside of the recvWindow"), (5_000, "ahead of the server")])
def test_timestamp_outside_the_recv_window(skew_ms, fragment):
    async def t(srv, ex, eng, clock):
        with pytest.raises(ccxt.InvalidNonce, match=fragment):
            await ex.fetch_balance()
    # the server's clock is ahead (or behind) of ccxt's by |skew|; ccxt signs with recvWindow 10 s
    serve_binance(t, server_kw={"auth_clock": lambda: wall_clock() - skew_ms})


def test_real_rate_limits_429_then_418():
    from adapters.simulated.engine import RateLimits

    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        for _i in range(2):
            await ex.create_order(BTC_U, "market", "sell", 0.01, None, {"reduceOnly": True})
        with pytest.raises((ccxt.RateLimitExceeded, ccxt.DDoSProtection), match=r"429.*-1015"):
            await ex.create_order(BTC_U, "market", "sell", 0.01, None, {"reduceOnly": True})
        with pytest.raises((ccxt.RateLimitExceeded, ccxt.DDoSProtection), match=r"418.*-1003"):
            await ex.create_order(BTC_U, "market", "sell", 0.01, None, {"reduceOnly": True})
        with pytest.raises(ccxt.DDoSProtection, match="banned until"):
            await ex.fetch_balance()
        assert ("POST", "/fapi/v1/order", 418) in srv.requests
    serve_binance(t, eng=engine(rate_limits=RateLimits(orders_per_second=2, ban_after=2)))


# --- plumbing ---------------------------------------------------------------------------------------------------------


def test_loopback_only_and_unsupported_families_stay_local():
    eng, _ = engine()
    with pytest.raises(ValueError):
        SimServer(eng, host="0.0.0.0")
    with pytest.raises(ValueError):
        point_ccxt(ccxt.async_support.binanceusdm(), "https://fapi.binance.com")

    async def t(srv, ex, eng, clock):
        assert all(v.startswith(srv.base_url) for v in ex.urls["api"].values())
        with pytest.raises(ccxt.ExchangeError):
            await ex.sapiGetCapitalConfigGetall()  # answered here with 404, never the internet
        assert paths(srv)[-1] == "GET /unsupported/sapi/capital/config/getall"
        assert CCXT_OPTIONS["fetchCurrencies"] is False
    serve_binance(t)


def test_serve_command_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "adapters.simulated", "serve", "--scenario", "flash-crash",
                             "--port", "0", "--seed", "3"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def reader():  # a thread, so that a silent child cannot block the test
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        got = []
        deadline = time.monotonic() + 20
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            got.append(line)
            if line.rstrip() == "}":
                break
        info = json.loads("".join(got))
        assert info["url"].startswith("http://127.0.0.1:") and info["scenario"] == "flash-crash"
        assert info["accounts"]["sim-hedge"]["hedge_mode"] is True
        assert info["bybit"]["api_url"] == info["url"]  # the Bybit v5 face, on the same port

        async def t():
            import ccxt.async_support as ca
            ex = ca.binanceusdm({"apiKey": info["accounts"]["sim-main"]["apiKey"],
                                 "secret": info["accounts"]["sim-main"]["secret"], **info["ccxt"]})
            point_ccxt(ex, info["url"])
            try:
                await ex.load_markets()
                ps = await ex.fetch_positions()
                return sorted(p["symbol"] for p in ps)
            finally:
                await ex.close()

        assert run(t()) == [BTC_U, ETH_U, SOL_U]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        thread.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
