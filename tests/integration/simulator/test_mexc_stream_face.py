"""The simulated exchange's MEXC contract websocket face against the real ``ccxt.pro.mexc`` (and a
plain aiohttp websocket where the raw frames are the point): the signed login and its refusals,
the personal pushes of a REST order's fill and of a trigger order's life, the tickers' fair
prices, and the stream faults as a client sees them. The engine runs on a manual clock; every
wait is bounded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp
import pytest

from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.mexc.face.stream import NO_CONTRACT, PATH, UNKNOWN_CHANNEL, mexc_pro_client
from tests.integration.simulator.face_helpers import frames, serve_clients, subscribed
from tests.integration.simulator.test_stream_face import until

BTC = "BTC/USDT:USDT"


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, engine, clock)`` with ``sim-main``'s ccxt.pro client."""
    return serve_clients(lambda srv: (mexc_pro_client(srv, "sim-main"),), test, timeout=timeout)


def login(eng, *, secret: str = "", key: str = "", **extra) -> dict:
    """``sim-main``'s login: ``signature`` the hex HMAC-SHA256 of the key and the time (ms)."""
    spec = eng.accounts["sim-main"].spec
    key, stamp = key or spec.api_key, str(wall_clock())
    sign = hmac.new((secret or spec.secret).encode(), (key + stamp).encode(), hashlib.sha256).hexdigest()
    return {"method": "login", "param": {"apiKey": key, "reqTime": stamp, "signature": sign}, **extra}


async def socket(session: aiohttp.ClientSession, srv: SimServer, **extra):
    """A socket logged in as ``sim-main`` (its ``rs.login`` read off)."""
    ws = await session.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
    await ws.send_json(login(srv.engine, **extra))
    answer = json.loads((await ws.receive(1.0)).data)
    assert (answer["channel"], answer["data"]) == ("rs.login", "success"), answer
    return ws


async def pushes(ws, channel: str, n: int = 1, timeout: float = 1.0) -> list[dict]:
    """The next ``n`` frames of ``channel`` (the others read past)."""
    got: list[dict] = []
    while len(got) < n:
        body = json.loads((await ws.receive(timeout)).data)
        if body.get("channel") == channel:
            got.append(body)
    return got


async def until_quiet(ws, quiet_s: float = 0.3) -> list[dict]:
    """Every frame until none comes for ``quiet_s``."""
    got: list[dict] = []
    while True:
        try:
            got.append(json.loads((await ws.receive(quiet_s)).data))
        except asyncio.TimeoutError:
            return got


# --- through ccxt.pro -----------------------------------------------------------------------------------------


def test_ccxt_watchers_see_a_rest_limit_order_and_the_asset_after_a_fill():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: len(os) > 0, 5.0))
        await subscribed(srv.mexc_stream, "sim-main", 4)  # the login: every personal push
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
        order = (await orders)[-1]
        assert order["symbol"] == BTC and order["info"]["side"] == 1 and order["info"]["state"] == 2
        balance = asyncio.ensure_future(pro.watch_balance())
        await asyncio.sleep(0)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
        info = (await asyncio.wait_for(balance, 5.0))["info"]
        v = eng.account_state("sim-main")
        assert info["currency"] == "USDT"
        assert info["availableBalance"] + info["frozenBalance"] + info["positionMargin"] == pytest.approx(v.wallet)
    serve(t)


def test_ccxt_watch_ticker_sees_the_fair_price_set_on_the_engine_at_once():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_ticker(BTC), 2)  # pushed at subscription
        assert first["info"]["fairPrice"] == 60_000.0
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_ticker(BTC), lambda r: r["info"]["fairPrice"] == 59_000.0)
        assert seen["info"]["timestamp"] == clock.now
    serve(t)


# --- the raw frames and the faults ------------------------------------------------------------------------------


def test_a_login_needs_a_known_key_and_its_signature_refused_the_documented_way():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
            for bad, words in (({"key": "nobody"}, "Unauthorized"), ({"secret": "wrong"}, "Verify failed")):
                await ws.send_json(login(eng, **bad))
                answer = json.loads((await ws.receive(1.0)).data)
                assert (answer["channel"], answer["data"]) == ("rs.error", words)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            with pytest.raises(asyncio.TimeoutError):  # logged out: nothing personal
                await asyncio.wait_for(ws.receive(), 0.3)
            await ws.send_json({"method": "ping"})
            assert json.loads((await ws.receive(1.0)).data) == {"channel": "pong", "data": eng.now()}
            await ws.send_json({"method": "sub.ticker", "param": {"symbol": "NOPE_USDT"}})
            assert json.loads((await ws.receive(1.0)).data)["data"] == NO_CONTRACT
            await ws.close()
    serve(t)


def test_a_login_without_default_pushes_gets_what_its_filter_names():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, subscribe=False)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.3)
            await ws.send_json({"method": "personal.filter", "param": {"filters": [{"filter": "asset"}]}})
            assert json.loads((await ws.receive(1.0)).data)["channel"] == "rs.personal.filter"
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            (asset,) = await frames(ws, 1)
            assert asset["channel"] == "push.personal.asset"
            with pytest.raises(asyncio.TimeoutError):  # the order's and the position's are filtered out
                await asyncio.wait_for(ws.receive(), 0.3)
            await ws.close()
    serve(t)


def test_a_fill_pushes_the_order_its_position_and_the_asset_stamped_with_the_engine_clock():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv)
            held = eng.accounts["sim-main"].legs[("ETHUSDT", "BOTH")].amount
            assert held
            clock.advance(500)
            eng.place_order("sim-main", "ETHUSDT", "SELL" if held > 0 else "BUY", "MARKET", quantity=abs(held),
                            reduce_only=True)
            got = await until_quiet(ws)
            (position,) = [b for b in got if b["channel"] == "push.personal.position"]
            row = position["data"]
            assert (row["symbol"], row["holdVol"], row["state"], position["ts"]) == ("ETH_USDT", 0, 3, clock.now)
            (order,) = [b for b in got if b["channel"] == "push.personal.order" and b["data"]["state"] == 3]
            assert order["data"]["side"] == (4 if held > 0 else 2) and order["ts"] == clock.now
            assert [b["channel"] for b in got].count("push.personal.asset") == 1
            await ws.close()
    serve(t)


def test_a_trigger_order_placed_and_cancelled_is_a_plan_order_push_of_its_state():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv)
            placed = eng.place_algo_order("sim-main", "ETHUSDT", "BUY", "STOP_MARKET", quantity=1.0,
                                          trigger_price=3_500.0, client_algo_id="trig1")
            eng.cancel_algo_order("sim-main", placed.algo_id)
            live, gone = await pushes(ws, "push.personal.plan.order", 2)
            assert (live["data"]["id"], live["data"]["triggerPrice"], live["data"]["state"]) == (
                str(placed.algo_id), 3_500.0, 1)
            assert gone["data"]["state"] == 2
            await ws.close()
    serve(t)


def test_disconnect_stall_duplicate_and_login_end_faults_on_the_personal_pushes():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, subscribe=False)
            await ws.send_json({"method": "personal.filter", "param": {"filters": [{"filter": "order"}]}})
            await frames(ws, 1)
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            got = await frames(ws, 2)
            assert got[0] == got[1] and got[0]["channel"] == "push.personal.order"
            srv.faults.stream("stream_stall")
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.5)
            assert srv.faults.switch_off("stream") == 1
            srv.faults.stream("listen_key_expired", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            ended = json.loads((await ws.receive(1.0)).data)
            assert (ended["channel"], ended["data"]) == ("rs.error", "Unauthorized")
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            with pytest.raises(asyncio.TimeoutError):  # its login ended: no more pushes
                await asyncio.wait_for(ws.receive(), 0.3)
            ws2 = await socket(s, srv)
            srv.faults.stream("stream_disconnect", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            assert (await ws2.receive(1.0)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_a_personal_push_the_mexc_way(how):
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, subscribe=False)
            await ws.send_json({"method": "personal.filter", "param": {"filters": [{"filter": "order"}]}})
            await frames(ws, 1)
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            text = (await ws.receive(1.0)).data
            if how == "json":
                with pytest.raises(ValueError):
                    json.loads(text)
            elif how == "fields":
                assert "data" not in json.loads(text) and json.loads(text)["channel"] == "push.personal.order"
            else:
                assert json.loads(text)["channel"] == UNKNOWN_CHANNEL
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            assert "data" in json.loads((await ws.receive(1.0)).data)  # the next one is whole
            await ws.close()
    serve(t)
