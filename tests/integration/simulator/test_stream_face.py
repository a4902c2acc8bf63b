"""The simulated exchange's websocket face against the real ``ccxt.pro.binanceusdm`` (and a plain
aiohttp websocket where the raw frames are the point): the user data stream of a REST order's
fill, mark prices stamped by the engine, listen keys and their expiry, and each stream fault as
a client sees it. The engine runs on a manual clock; every wait is bounded (a second or two)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import ccxt
import pytest

from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.stream import LISTEN_KEY_MS, UNKNOWN_EVENT
from adapters.venues.binance.face import binanceusdm_client, binanceusdm_pro_client
from tests.integration.sim_helpers import engine, run
from tests.integration.simulator.face_helpers import subscribed

BTC_U = "BTC/USDT:USDT"


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, rest, engine, clock)``: a fresh server, a ccxt.pro client and
    a REST client of ``sim-main``."""
    eng, clock = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        pro = binanceusdm_pro_client(srv, "sim-main")
        rest = binanceusdm_client(srv, "sim-main")
        try:
            return await test(srv, pro, rest, eng, clock)
        finally:
            await pro.close()
            await rest.close()
            await srv.stop()

    return run(go(), timeout)


async def until(watch, ok, timeout: float = 2.0):
    """Await ``watch()`` again until ``ok(result)``; the last result."""
    async def loop():
        while True:
            r = await watch()
            if ok(r):
                return r
    return await asyncio.wait_for(loop(), timeout)


async def listen_key(session: aiohttp.ClientSession, srv: SimServer, method: str = "POST", api_key: str = "") -> tuple:
    key = api_key or srv.engine.accounts["sim-main"].spec.api_key
    async with session.request(method, srv.base_url + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": key}) as r:
        return r.status, await r.json()


async def user_socket(session: aiohttp.ClientSession, srv: SimServer):
    _, body = await listen_key(session, srv)
    return await session.ws_connect(f"{srv.ws_url}/{body['listenKey']}", heartbeat=None)


async def frames(ws, n: int, timeout: float = 1.0) -> list[str]:
    return [(await ws.receive(timeout)).data for _ in range(n)]


def events(texts: list[str]) -> list[str]:
    return [json.loads(t)["e"] + ("/" + json.loads(t)["o"]["x"] if "o" in json.loads(t) else "") for t in texts]


# --- the user data stream through ccxt.pro ---------------------------------------------------------------


def test_watchers_see_a_rest_market_order_fill_its_position_and_balance():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        before = eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
        positions = asyncio.ensure_future(until(pro.watch_positions, lambda ps: any(
            p["symbol"] == BTC_U and p["contracts"] == pytest.approx(before + 0.01) for p in ps)))
        balance = asyncio.ensure_future(until(pro.watch_balance, lambda b: "USDT" in b))
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: os[-1]["status"] == "closed"))
        trades = asyncio.ensure_future(until(pro.watch_my_trades, lambda ts: len(ts) > 0))
        await subscribed(srv.stream, "sim-main", 0)  # the listen key and the socket
        placed = await rest.create_order(BTC_U, "market", "buy", 0.01, params={"newClientOrderId": "ks-ws-1"})
        order = (await orders)[-1]
        assert (order["id"], order["clientOrderId"], order["filled"]) == (placed["id"], "ks-ws-1", 0.01)
        assert order["info"]["X"] == "FILLED" and order["info"]["x"] == "TRADE" and order["info"]["R"] is False
        trade = (await trades)[-1]
        assert trade["order"] == placed["id"] and trade["amount"] == 0.01 and trade["fee"]["cost"] > 0
        await positions
        wallet = eng.accounts["sim-main"].wallet
        assert (await balance)["USDT"]["total"] == pytest.approx(wallet)
        assert "POST /fapi/v1/listenKey" in [f"{m} {p}" for m, p, _ in srv.requests]
    serve(t)


def test_watch_mark_price_sees_set_mark_stamped_by_the_engine_clock():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_mark_price(BTC_U), 2)  # pushed on subscription
        assert first["markPrice"] == 60_000.0
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_mark_price(BTC_U), lambda r: r["markPrice"] == 59_000.0)
        assert seen["info"]["E"] == clock.now and seen["timestamp"] == clock.now
        assert set(seen["info"]) == {"e", "E", "s", "p", "i", "P", "r", "T"}
        every = await asyncio.wait_for(pro.watch_mark_prices(), 2)  # !markPrice@arr@1s
        assert every[BTC_U]["markPrice"] == 59_000.0
    serve(t)


# --- listen keys --------------------------------------------------------------------------------------------


def test_listen_key_is_kept_alive_on_the_engine_clock_and_refused_once_expired():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            status, body = await listen_key(s, srv)
            assert status == 200 and len(body["listenKey"]) == 64
            assert (await listen_key(s, srv))[1] == body  # a live key is handed back, not a second one
            clock.advance(LISTEN_KEY_MS - 1)
            assert (await listen_key(s, srv, "PUT"))[0] == 200  # extended for 60 minutes from now
            clock.advance(LISTEN_KEY_MS - 1)
            assert (await listen_key(s, srv, "PUT"))[0] == 200
            clock.advance(LISTEN_KEY_MS)
            assert await listen_key(s, srv, "PUT") == (400, {"code": -1125, "msg": "This listenKey does not exist."})
            assert (await listen_key(s, srv))[1]["listenKey"] != body["listenKey"]  # a new one
            assert (await listen_key(s, srv, "DELETE"))[0] == 200
            assert (await listen_key(s, srv, "PUT"))[1]["code"] == -1125
            assert (await listen_key(s, srv, "POST", api_key="nobody"))[1]["code"] == -2015
    serve(t)


def test_an_expired_listen_key_sends_listen_key_expired_and_stops_user_data():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await user_socket(s, srv)
            clock.advance(LISTEN_KEY_MS)
            msg = json.loads((await ws.receive(1.0)).data)
            assert msg["e"] == "listenKeyExpired" and msg["E"] == str(clock.now)
            assert (await listen_key(s, srv, "PUT"))[1]["code"] == -1125
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(0.3)  # the key is gone: no more user data
            await ws.close()
    serve(t)


def test_listen_key_expired_fault_expires_a_live_key_at_once():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await user_socket(s, srv)
            srv.faults.stream("listen_key_expired", op="listen_key", times=1)
            assert json.loads((await ws.receive(1.0)).data)["e"] == "listenKeyExpired"
            assert (await listen_key(s, srv, "PUT"))[1]["code"] == -1125
            await ws.close()
    serve(t)


# --- faults ---------------------------------------------------------------------------------------------------


def test_disconnect_fault_fails_the_ccxt_watch_with_a_network_error():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        watch = asyncio.ensure_future(pro.watch_orders())
        await subscribed(srv.stream, "sim-main", 0)
        srv.faults.stream("stream_disconnect", op="stream:user", times=1)
        await rest.create_order(BTC_U, "market", "buy", 0.01)
        with pytest.raises(ccxt.NetworkError):
            await asyncio.wait_for(watch, 2)
    serve(t)


def test_stall_fault_keeps_the_socket_open_and_silent_until_switched_off():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            _, body = await listen_key(s, srv)
            ws = await s.ws_connect(f"{srv.ws_url}/{body['listenKey']}", heartbeat=0.2)  # pings every 0.2 s
            srv.faults.stream("stream_stall")
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 1.0)  # five pings answered (else aiohttp closes), no message
            assert not ws.closed
            assert srv.faults.switch_off("stream") == 1
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            assert events(await frames(ws, 3)) == ["ORDER_TRADE_UPDATE/NEW", "ACCOUNT_UPDATE",
                                                   "ORDER_TRADE_UPDATE/TRADE"]
            await ws.close()
    serve(t)


def test_duplicate_and_out_of_order_faults_change_the_raw_frames_as_sent():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await user_socket(s, srv)
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 4)
            assert events(got) == ["ORDER_TRADE_UPDATE/NEW", "ORDER_TRADE_UPDATE/NEW", "ACCOUNT_UPDATE",
                                   "ORDER_TRADE_UPDATE/TRADE"]
            assert got[0] == got[1]
            srv.faults.stream("stream_out_of_order", op="stream:user", times=1)  # the next order's NEW
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 3)
            assert events(got) == ["ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE/NEW", "ORDER_TRADE_UPDATE/TRADE"]
            assert json.loads(got[0])["E"] == json.loads(got[1])["E"]
            await ws.close()
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_the_frame_as_ccxt_then_skips_it_or_stops_reading(how):
    """ccxt 4.5.90 skips a frame without its payload or with an unknown event type and reads the
    next; a frame that is not JSON raises inside its receive callback, which stops its receive
    loop: the watch neither resolves nor fails (until ccxt's keepAlive, 180 s, times the socket
    out) — the stream goes silent, which a consumer must see as stale."""
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await user_socket(s, srv)
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            text = (await ws.receive(1.0)).data
            if how == "json":
                with pytest.raises(ValueError):
                    json.loads(text)
            elif how == "fields":
                assert json.loads(text) == {"e": "ORDER_TRADE_UPDATE", "E": clock.now, "T": clock.now}
            else:
                assert json.loads(text)["e"] == UNKNOWN_EVENT
            await ws.close()
        # through ccxt: the broken frame is skipped (no order, no error), the next one is read
        await pro.load_markets()
        watch = asyncio.ensure_future(until(pro.watch_orders, lambda os: True))
        await subscribed(srv.stream, "sim-main", 0)
        srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)  # the NEW
        placed = await rest.create_order(BTC_U, "limit", "buy", 0.01, 50_000.0)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(watch), 0.5)
        await rest.cancel_order(placed["id"], BTC_U)
        if how == "json":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(watch), 1.0)
            watch.cancel()
            return
        order = (await asyncio.wait_for(watch, 2))[-1]
        assert order["id"] == placed["id"] and order["status"] == "canceled"
    serve(t)
