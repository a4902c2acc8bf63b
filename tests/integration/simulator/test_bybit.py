"""The simulated exchange's Bybit v5 face, end to end: the real ``ccxt.async_support.bybit``
and the ccxt adapter (venue ``bybit``, ``api_url`` the server) against one :class:`SimServer`.

Each test starts the server on a free 127.0.0.1 port over a scenario engine on a manual clock
at T0 (marks held at the entry prices), runs, and stops both; each is bounded in time. What the
face answers is checked against the engine's own state, never against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp
import ccxt
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.bybit.face import bybit_client, sim_account as bybit_account
from tests.integration.sim_helpers import T0, engine, intent, run

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def serve(test, *, account: str = "sim-main", eng=None, client_kw=None, server_kw=None, timeout: float = 20.0):
    """Run ``await test(server, client, engine, clock)`` with a fresh server and ccxt bybit client."""
    ex_engine, clock = eng or engine()

    async def go():
        srv = SimServer(ex_engine, **{"auth_clock": wall_clock, "hang_s": 5.0, **(server_kw or {})})
        await srv.start()
        client = bybit_client(srv, account, **(client_kw or {}))
        try:
            return await test(srv, client, ex_engine, clock)
        finally:
            await client.close()
            await srv.stop()

    return run(go(), timeout)


def adapter_for(srv: SimServer, account: str = "sim-main", **kw) -> CcxtAdapter:
    """The ccxt adapter as the runner builds it from an Accounts document (``urls`` = its ``api_url``)."""
    acc = bybit_account(srv, account)
    return CcxtAdapter(acc, urls=acc.api_url, timeout=2.0, max_retries=1, backoff_s=0.05, **kw)


def paths(srv: SimServer) -> list[str]:
    return [f"{m} {p}" for m, p, _ in srv.requests]


def bybit_intent(symbol: str, side: str, amount: float, cid: str, **kw):
    return intent(symbol, side, amount, cid=cid, venue="bybit", **kw)


async def signed_get(srv: SimServer, path: str, query: str, key: str, secret: str) -> tuple[int, dict, dict]:
    ts, recv = str(wall_clock()), "5000"
    sign = hmac.new(secret.encode(), (ts + key + recv + query).encode(), hashlib.sha256).hexdigest()
    headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": recv, "X-BAPI-SIGN": sign}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{srv.base_url}{path}?{query}", headers=headers) as r:
            return r.status, json.loads(await r.text()), dict(r.headers)


# --- ccxt's bybit client --------------------------------------------------------------------------------------


def test_markets_balance_and_positions_through_ccxt():
    async def t(srv, ex, eng, clock):
        markets = await ex.load_markets()
        assert sorted(markets) == [BTC, ETH, SOL]
        btc = markets[BTC]
        assert (btc["id"], btc["type"], btc["linear"], btc["settle"], btc["contractSize"]) == (
            "BTCUSDT", "swap", True, "USDT", 1.0)
        assert btc["precision"]["amount"] == 0.001 and btc["precision"]["price"] == 0.1
        assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 100
        assert all(p.startswith("GET /v5/market/instruments-info") for p in paths(srv))
        assert await ex.fetch_time() == T0
        v = eng.account_state("sim-main")
        bal = await ex.fetch_balance()
        assert bal["USDT"]["total"] == pytest.approx(v.equity)
        assert float(bal["info"]["result"]["list"][0]["totalEquity"]) == pytest.approx(v.equity)
        eng.set_mark("BTCUSDT", 55_000.0)
        ps = {p["symbol"]: p for p in await ex.fetch_positions(None, {"settleCoin": "USDT"})}
        assert set(ps) == {BTC, ETH, SOL}
        assert (ps[BTC]["side"], ps[BTC]["contracts"], ps[BTC]["entryPrice"], ps[BTC]["markPrice"]) == (
            "long", 5.0, 60_000.0, 55_000.0)
        assert ps[BTC]["unrealizedPnl"] == pytest.approx(-25_000.0)
        assert (ps[SOL]["side"], ps[SOL]["contracts"]) == ("short", 1000.0)
        assert await ex.fetch_positions(None, {"settleCoin": "USDC"}) == []  # no USDC market here
    serve(t)


def test_hedge_mode_positions_and_a_reduce_only_close_of_one_leg():
    async def t(srv, ex, eng, clock):
        ps = {(p["symbol"], p["info"]["positionIdx"]): p for p in await ex.fetch_positions()}
        assert ps[(BTC, 1)]["side"] == "long" and ps[(BTC, 1)]["contracts"] == 2.0
        assert ps[(BTC, 2)]["side"] == "short" and ps[(BTC, 2)]["contracts"] == 4.0
        o = await ex.create_order(BTC, "market", "buy", 1, None,
                                  {"reduceOnly": True, "positionIdx": 2, "clientOrderId": "h-1"})
        assert o["id"] == str(eng.order_by_client_id("sim-hedge", "h-1").order_id)
        legs = {p.position_side: abs(p.amount) for p in eng.positions("sim-hedge", "BTCUSDT")}
        assert legs == {"LONG": 2.0, "SHORT": 3.0}
        # reduce-only on the leg it would grow is Bybit's reduce-only refusal
        with pytest.raises(ccxt.InvalidOrder, match="110017"):
            await ex.create_order(BTC, "market", "buy", 1, None, {"reduceOnly": True, "positionIdx": 1})
        with pytest.raises(ccxt.BadRequest, match="position idx not match position mode"):
            await ex.create_order(BTC, "market", "buy", 1, None, {"reduceOnly": True, "positionIdx": 0})
    serve(t, account="sim-hedge")


def test_orders_conditional_orders_cancel_and_lookups_through_ccxt():
    async def t(srv, ex, eng, clock):
        await ex.load_markets()
        a = await ex.create_order(ETH, "limit", "buy", 1, 2_000, {"clientOrderId": "e-1"})
        sl = await ex.create_order(ETH, "market", "sell", 10, None,
                                   {"triggerPrice": 2_500, "triggerDirection": "descending", "reduceOnly": True,
                                    "clientOrderId": "sl-1"})
        assert paths(srv)[-1] == "POST /v5/order/create"
        algo = eng.get_algo_order("sim-main", client_algo_id="sl-1")
        assert (sl["id"], algo.order_type, algo.trigger_price, algo.reduce_only) == (
            str(algo.algo_id), "STOP_MARKET", 2_500.0, True)
        listed = await ex.fetch_open_orders(ETH)
        assert [(o["clientOrderId"], o["status"], o["triggerPrice"], o["reduceOnly"]) for o in listed] == [
            ("sl-1", "open", 2_500.0, True), ("e-1", "open", None, False)]
        assert [o["info"]["stopOrderType"] for o in listed] == ["Stop", ""]
        with pytest.raises(ccxt.InvalidOrder, match="110092"):  # a rising trigger below the price
            await ex.create_order(ETH, "market", "buy", 1, None, {"triggerPrice": 2_900, "triggerDirection": 1})
        c = await ex.cancel_order(a["id"], ETH)
        assert c["id"] == a["id"] and eng.order_by_client_id("sim-main", "e-1").status == "CANCELED"
        with pytest.raises(ccxt.OrderNotFound, match="110001"):
            await ex.cancel_order(a["id"], ETH)
        closed = await ex.fetch_canceled_orders(ETH, None, None, {"orderLinkId": "e-1"})
        assert [o["clientOrderId"] for o in closed] == ["e-1"] and closed[0]["status"] == "canceled"
        await ex.cancel_all_orders(ETH)  # no orderFilter: every kind
        assert await ex.fetch_open_orders(ETH) == [] and eng.open_algo_orders("sim-main") == []
        with pytest.raises(ccxt.InvalidOrder, match="110072"):  # a duplicate orderLinkId
            await ex.create_order(ETH, "limit", "buy", 1, 2_000, {"clientOrderId": "e-1"})
    serve(t)


def test_signature_key_timestamp_and_an_unknown_path():
    async def t(srv, ex, eng, clock):
        status, body, _ = await signed_get(srv, "/v5/account/wallet-balance", "accountType=UNIFIED",
                                           "sim-main-key", "not-the-secret")
        assert status == 200 and body["retCode"] == 10004 and body["retMsg"].startswith("error sign!")
        status, body, _ = await signed_get(srv, "/v5/account/wallet-balance", "accountType=UNIFIED",
                                           "nobody", "x")
        assert body["retCode"] == 10003
        status, body, headers = await signed_get(srv, "/v5/position/list", "category=linear&settleCoin=USDT",
                                                 "sim-main-key", "sim-main-secret")
        assert status == 200 and body["retCode"] == 0 and set(body) == {"retCode", "retMsg", "result",
                                                                         "retExtInfo", "time"}
        assert int(headers["X-Bapi-Limit-Status"]) < int(headers["X-Bapi-Limit"])
        status, body, _ = await signed_get(srv, "/v5/position/list", "category=linear",
                                           "sim-main-key", "sim-main-secret")
        assert body["retCode"] == 10001  # neither symbol nor settleCoin
        async with aiohttp.ClientSession() as http:
            async with http.get(srv.base_url + "/v5/market/kline?category=linear&symbol=BTCUSDT") as r:
                assert r.status == 404
        srv.auth_clock = lambda: wall_clock() + 20_000  # the server's clock 20 s ahead of ccxt's
        with pytest.raises(ccxt.InvalidNonce, match="10002"):
            await ex.fetch_balance()
    serve(t)


def test_a_429_fault_is_retcode_10006_and_a_ban_is_403():
    async def t(srv, ex, eng, clock):
        eng.faults.http_error("account", 429, retry_after_s=2, times=1)
        with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
            await ex.fetch_balance()
        assert srv.requests[-1][2] == 200
        eng.faults.http_error("positions", 418, times=1)
        with pytest.raises(ccxt.RateLimitExceeded):
            await ex.fetch_positions()
        assert srv.requests[-1] == ("GET", "/v5/position/list", 403)
        assert (await ex.fetch_balance())["USDT"]["total"] > 0
    serve(t)


# --- the ccxt adapter, venue bybit ------------------------------------------------------------------------------


def place_book(eng, account: str) -> None:
    """An entry and a reduce-only limit on ETH, a reduce-only stop and an entry stop."""
    hedge = eng.hedge_mode(account)
    long_leg = {"position_side": "LONG"} if hedge else {}
    eng.place_order(account, "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                    client_order_id="entry", **long_leg)
    eng.place_order(account, "ETHUSDT", "SELL", "LIMIT", 10.0, 3_500.0, time_in_force="GTC",
                    client_order_id="tp", **(long_leg if hedge else {"reduce_only": True}))
    eng.place_algo_order(account, "ETHUSDT", "SELL", "STOP_MARKET", quantity=10.0, trigger_price=2_400.0,
                         client_algo_id="sl", **(long_leg if hedge else {"reduce_only": True}))
    eng.place_algo_order(account, "ETHUSDT", "BUY", "STOP_MARKET", quantity=1.0, trigger_price=3_600.0,
                         client_algo_id="entry-stop", **long_leg)


@pytest.mark.parametrize("account", ["sim-main", "sim-hedge"])
def test_adapter_snapshot_matches_the_engine(account):
    async def t(srv, ex, eng, clock):
        place_book(eng, account)
        ad = adapter_for(srv, account)
        try:
            snap = await ad.snapshot()
        finally:
            await ad.close()
        assert snap.fetch.ok, snap.fetch
        v = eng.account_state(account)
        assert snap.equity == pytest.approx(v.equity)
        want = {(p.symbol, p.position_side): abs(p.amount) for p in eng.positions(account)}
        ids = {m.unified: m.symbol for m in eng.markets.values()}
        got = {(ids[p.symbol], p.position_side): p.contracts for p in snap.positions}
        assert got == want
        orders = {o.client_id: (o.kind, o.type, o.side, o.trigger_price, o.reduce_only, o.amount)
                  for o in snap.orders}
        assert orders == {
            "entry": ("regular", "limit", "buy", None, False, 1.0),
            "tp": ("regular", "limit", "sell", None, True, 10.0),
            "sl": ("conditional", "market", "sell", 2_400.0, True, 10.0),
            "entry-stop": ("conditional", "market", "buy", 3_600.0, False, 1.0),
        }
        # every settle coin the dialect reads by default, to its last page
        assert "GET /v5/position/list" in paths(srv) and "GET /v5/order/realtime" in paths(srv)
    serve(t, account=account)


def test_adapter_close_fetch_by_client_id_and_cancels():
    async def t(srv, ex, eng, clock):
        place_book(eng, "sim-main")
        ad = adapter_for(srv)
        try:
            await ad.snapshot()
            r = await ad.submit(bybit_intent(BTC, "sell", 2.0, "ks-bb-1"))
            assert r.client_order_id == "ks-bb-1"
            assert eng.positions("sim-main", "BTCUSDT")[0].amount == pytest.approx(3.0)
            found = await ad.fetch_order(BTC, "ks-bb-1")
            assert found.status == "filled" and found.filled == pytest.approx(2.0)
            with pytest.raises(AdapterError) as e:
                await ad.fetch_order(BTC, "ks-never-sent")
            assert e.value.reason is Reason.ORDER_NOT_FOUND
            res = await ad.cancel_orders(CancelSelector(which="entries"))
            assert not res.failed
            assert {o.client_order_id for o in eng.open_orders("sim-main")} == {"tp"}
            assert {o.client_algo_id for o in eng.open_algo_orders("sim-main")} == {"sl"}
            res = await ad.cancel_orders(CancelSelector(which="all"))
            assert not res.failed
            assert eng.open_orders("sim-main") == [] and eng.open_algo_orders("sim-main") == []
            assert "POST /v5/order/cancel-all" in paths(srv)
        finally:
            await ad.close()
    serve(t)


def test_adapter_reads_every_page():
    """More open orders than a page (50) and more positions than the default page (20)."""
    async def t(srv, ex, eng, clock):
        for i in range(57):
            if i % 10 == 9:
                clock.advance(1_000)  # the engine's 10 orders a second
            eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 0.01, 2_000.0 + i, time_in_force="GTC",
                            client_order_id=f"many-{i}")
        ad = adapter_for(srv)
        try:
            snap = await ad.snapshot()
        finally:
            await ad.close()
        assert snap.fetch.ok, snap.fetch
        assert len(snap.orders) == 57 and {o.client_id for o in snap.orders} == {f"many-{i}" for i in range(57)}
        assert paths(srv).count("GET /v5/order/realtime") == 3  # USDT's two pages, USDC's one
        status, body, _ = await signed_get(srv, "/v5/order/realtime", "category=linear&settleCoin=USDT&limit=51",
                                           "sim-main-key", "sim-main-secret")
        assert body["retCode"] == 10001  # past the page's most
        status, body, _ = await signed_get(srv, "/v5/position/list", "category=linear&settleCoin=USDT&limit=2",
                                           "sim-main-key", "sim-main-secret")
        assert len(body["result"]["list"]) == 2 and body["result"]["nextPageCursor"]
    serve(t)


@pytest.mark.parametrize("fault,reason", [("bad_signature", Reason.AUTH), ("http_429", Reason.RATE_LIMITED),
                                          ("reject_reduce_only", Reason.REDUCE_ONLY_REJECTED)])
def test_adapter_errors_are_classified(fault, reason):
    async def t(srv, ex, eng, clock):
        if fault == "bad_signature":
            ad = adapter_for(srv, exchange_factory=lambda cfg: ccxt.async_support.bybit({**cfg, "secret": "wrong"}))
        else:
            ad = adapter_for(srv)
        try:
            if fault == "bad_signature":
                snap = await ad.snapshot()
                assert not snap.fetch.ok and snap.fetch.error_code == reason.value
                return
            await ad.snapshot()
            if fault == "http_429":
                eng.faults.http_error("place_order", 429, retry_after_s=1, times=1)
            else:
                eng.faults.reject_reduce_only(times=1)
            with pytest.raises(AdapterError) as e:
                await ad.submit(bybit_intent(BTC, "sell", 1.0, "ks-bb-f"))
            assert e.value.reason is reason
            assert eng.positions("sim-main", "BTCUSDT")[0].amount == pytest.approx(5.0)
        finally:
            await ad.close()
    serve(t)


def test_adapter_malformed_json_and_timeout():
    async def t(srv, ex, eng, clock):
        ad = adapter_for(srv)
        try:
            await ad.snapshot()
            eng.faults.malformed_json("positions", times=5)
            snap = await ad.snapshot()
            assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value
            eng.faults.timeout("place_order", applied=True, times=1)
            with pytest.raises(AdapterError) as e:
                await ad.submit(bybit_intent(BTC, "sell", 1.0, "ks-bb-t"))
            assert e.value.reason is Reason.TIMEOUT
            found = await ad.fetch_order(BTC, "ks-bb-t")
            assert found.status == "filled"
            assert eng.positions("sim-main", "BTCUSDT")[0].amount == pytest.approx(4.0)
        finally:
            await ad.close()
    serve(t)
