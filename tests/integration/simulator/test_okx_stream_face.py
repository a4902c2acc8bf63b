"""The simulated exchange's OKX v5 websocket face against the real ``ccxt.pro.okx`` (and a plain
aiohttp websocket where the raw frames are the point): login, the private and business channels
of a REST order's fill and of an algo order's life (placed, triggered, cancelled), the marks,
ping/pong, and the stream faults as a client sees them. The engine runs on a manual clock; every
wait is bounded."""

from __future__ import annotations

import asyncio
import functools
import json

import aiohttp
import ccxt
import pytest

from adapters.simulated.http import SimServer
from adapters.venues.okx.face import okx_client
from adapters.venues.okx.face.stream import UNKNOWN_CHANNEL, okx_pro_client
from tests.integration.simulator.face_helpers import (
    channels,
    frames,
    passphrase_login,
    serve_clients,
    subscribed,
    subscribed_socket,
)
from tests.integration.simulator.test_stream_face import until

BTC_U = "BTC/USDT:USDT"


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, rest, engine, clock)`` with ``sim-main``'s clients."""
    return serve_clients(lambda srv: (okx_pro_client(srv, "sim-main"), okx_client(srv, "sim-main")), test,
                         timeout=timeout)


login_args = functools.partial(passphrase_login, "/users/self/verify")


async def socket(session: aiohttp.ClientSession, srv: SimServer, path: str = "private",
                 channels=("orders", "positions", "account")):
    return await subscribed_socket(session, srv.base_url.replace("http", "ws") + f"/ws/v5/{path}",
                                   login_args(srv.engine), lambda answer: answer["event"] == "login",
                                   [{"channel": c, "instType": "ANY"} for c in channels])


# --- through ccxt.pro -----------------------------------------------------------------------------------------


def test_ccxt_watchers_see_a_rest_market_order_fill_its_position_and_balance():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        before = eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
        positions = asyncio.ensure_future(until(pro.watch_positions, lambda ps: any(
            p["symbol"] == BTC_U and p["contracts"] == pytest.approx(abs(before + 0.01)) for p in ps)))
        balance = asyncio.ensure_future(until(pro.watch_balance, lambda b: "USDT" in b))
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: os[-1]["status"] == "closed"))
        await subscribed(srv.okx_stream, "sim-main", 3)  # login and the subscriptions
        placed = await rest.create_order(BTC_U, "market", "buy", 0.01, params={"clOrdId": "ksws1"})
        order = (await orders)[-1]
        assert (order["id"], order["clientOrderId"], order["filled"]) == (placed["id"], "ksws1", 0.01)
        assert order["info"]["state"] == "filled" and order["info"]["tradeId"]
        position = [p for p in await positions if p["symbol"] == BTC_U][-1]
        assert position["info"]["posSide"] == "net" and float(position["info"]["pos"]) == pytest.approx(before + 0.01)
        bal = await balance
        a = eng.accounts["sim-main"]
        assert float(bal["info"]["data"][0]["details"][0]["cashBal"]) == pytest.approx(a.wallet)
    serve(t)


def test_ccxt_watches_an_algo_order_placed_triggered_and_cancelled_on_the_business_channel():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        algo = asyncio.ensure_future(until(lambda: pro.watch_orders(params={"trigger": True}),
                                           lambda os: os[-1]["status"] == "open"))
        await subscribed(srv.okx_stream, "sim-main", 1)
        placed = await rest.create_order(BTC_U, "market", "sell", 0.01, params={
            "stopLossPrice": 55_000.0, "reduceOnly": True})
        seen = (await algo)[-1]
        assert seen["id"] == placed["id"] and seen["info"]["ordType"] == "conditional"
        assert seen["info"]["slTriggerPx"] == "55000.0" or float(seen["info"]["slTriggerPx"]) == 55_000.0
        fired = asyncio.ensure_future(until(lambda: pro.watch_orders(params={"trigger": True}),
                                            lambda os: os[-1]["info"]["state"] == "effective"))
        await asyncio.sleep(0.05)
        eng.set_mark("BTCUSDT", 54_000.0)
        eng.open_orders("sim-main")  # the engine's timers run: the stop triggers
        done = (await fired)[-1]
        assert done["id"] == placed["id"] and done["info"]["ordId"]  # the order it became
        second = await rest.create_order(BTC_U, "market", "sell", 0.01, params={
            "stopLossPrice": 50_000.0, "reduceOnly": True})
        gone = asyncio.ensure_future(until(lambda: pro.watch_orders(params={"trigger": True}),
                                           lambda os: os[-1]["id"] == second["id"] and os[-1]["status"] == "canceled"))
        await asyncio.sleep(0.05)
        await rest.cancel_order(second["id"], BTC_U, params={"trigger": True})
        assert (await gone)[-1]["info"]["state"] == "canceled"
    serve(t)


def test_ccxt_watch_mark_price_sees_the_mark_set_on_the_engine_at_once():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_mark_prices([BTC_U]), 2)  # pushed at subscription
        assert first[BTC_U]["info"]["markPx"] in ("60000.0", "60000")
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_mark_prices([BTC_U]),
                           lambda r: float(r[BTC_U]["info"]["markPx"]) == 59_000.0)
        assert int(seen[BTC_U]["info"]["ts"]) == clock.now
    serve(t)


def test_a_bad_login_is_refused_with_the_venue_code_and_ccxt_fails():
    async def t(srv, pro, rest, eng, clock):
        url = srv.base_url.replace("http", "ws") + "/ws/v5/private"
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(url, heartbeat=None)
            for args, code in ((login_args(eng, secret="wrong"), "60007"), (login_args(eng, passphrase="x"), "60024"),
                               (login_args(eng, skew_s=-120), "60006"), ({**login_args(eng), "apiKey": "no"}, "60005")):
                await ws.send_json({"op": "login", "args": [args]})
                answer = json.loads((await ws.receive(1.0)).data)
                assert (answer["event"], answer["code"]) == ("error", code), answer
            await ws.send_json({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            assert json.loads((await ws.receive(1.0)).data)["code"] == "60011"  # not logged in
            await ws.send_str("ping")
            assert (await ws.receive(1.0)).data == "pong"
            await ws.send_json({"op": "login", "args": [login_args(eng)]})
            assert json.loads((await ws.receive(1.0)).data)["event"] == "login"
            await ws.send_json({"op": "subscribe", "args": [{"channel": "orders-algo", "instType": "ANY"}]})
            assert json.loads((await ws.receive(1.0)).data)["code"] == "60018"  # orders-algo is /business's
            await ws.close()
        await pro.load_markets()
        pro.secret = "wrong"
        with pytest.raises(ccxt.BaseError):
            await asyncio.wait_for(pro.watch_orders(), 2)
    serve(t)


# --- the raw frames and the faults ------------------------------------------------------------------------------


def test_a_fill_pushes_orders_positions_and_account_stamped_with_the_engine_clock():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 4)
            assert channels(got) == ["orders", "positions", "account", "orders"]
            assert {b["data"][0]["uTime"] for b in got} == {str(clock.now)}
            assert got[1]["eventType"] == "event_update" and got[1]["arg"]["uid"]
            await ws.close()
    serve(t)


def test_disconnect_stall_duplicate_and_login_end_faults_on_the_private_channels():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 3)
            assert got[0] == got[1] and channels(got) == ["orders"] * 3
            srv.faults.stream("stream_stall")
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.5)
            assert srv.faults.switch_off("stream") == 1
            srv.faults.stream("listen_key_expired", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            ended = json.loads((await ws.receive(1.0)).data)
            if "event" not in ended:  # the fill's push, queued before the login ended
                ended = json.loads((await ws.receive(1.0)).data)
            assert (ended["event"], ended["code"], ended["msg"]) == ("error", "60011", "Please log in")
            with pytest.raises(asyncio.TimeoutError):  # logged out: no more pushes
                await asyncio.wait_for(ws.receive(), 0.3)
            ws2 = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_disconnect", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            assert (await ws2.receive(1.0)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_a_private_frame_the_okx_way(how):
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            text = (await ws.receive(1.0)).data
            if how == "json":
                with pytest.raises(ValueError):
                    json.loads(text)
            elif how == "fields":
                assert "data" not in json.loads(text) and json.loads(text)["arg"]["channel"] == "orders"
            else:
                assert json.loads(text)["arg"]["channel"] == UNKNOWN_CHANNEL
            assert json.loads((await ws.receive(1.0)).data)["arg"]["channel"] == "orders"  # the next one is whole
            await ws.close()
    serve(t)
