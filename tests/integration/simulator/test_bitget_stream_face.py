"""The simulated exchange's Bitget v2 websocket face against the real ``ccxt.pro.bitget`` (and a
plain aiohttp websocket where the raw frames are the point): login, the private channels of a
REST order's fill and of a plan order's life (placed, fired, cancelled), the tickers' marks,
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
from adapters.venues.bitget.face.stream import UNKNOWN_CHANNEL, bitget_pro_client
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
PRIVATE = ("orders", "positions", "account")


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, engine, clock)`` with ``sim-main``'s ccxt.pro client (its REST
    calls the desk's)."""
    return serve_clients(lambda srv: (bitget_pro_client(srv, "sim-main"),), test, timeout=timeout)


login_args = functools.partial(passphrase_login, "/user/verify")


def arg(channel: str) -> dict:
    return {"instType": "USDT-FUTURES", "channel": channel, "instId": "default"}


async def socket(session: aiohttp.ClientSession, srv: SimServer, channels=PRIVATE):
    return await subscribed_socket(session, srv.base_url.replace("http", "ws") + "/v2/ws/private",
                                   login_args(srv.engine), lambda answer: answer == {"event": "login", "code": 0},
                                   [arg(c) for c in channels])


# --- through ccxt.pro -----------------------------------------------------------------------------------------


def test_ccxt_watchers_see_a_rest_market_order_fill_its_position_and_balance():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        before = eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
        positions = asyncio.ensure_future(until(pro.watch_positions, lambda ps: any(
            p["symbol"] == BTC_U and p["contracts"] == pytest.approx(abs(before + 0.01)) for p in ps)))
        balance = asyncio.ensure_future(until(pro.watch_balance, lambda b: "USDT" in b))
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: os[-1]["status"] == "closed"))
        await subscribed(srv.bitget_stream, "sim-main", 3)  # login and the subscriptions
        placed = await pro.create_order(BTC_U, "market", "buy", 0.01, params={"clientOid": "ksws1"})
        order = (await orders)[-1]
        assert (order["id"], order["clientOrderId"]) == (placed["id"], "ksws1")
        assert order["info"]["status"] == "filled" and order["info"]["tradeId"]
        position = [p for p in await positions if p["symbol"] == BTC_U][-1]
        assert position["info"]["posMode"] == "one_way_mode" and float(position["info"]["total"]) == pytest.approx(
            abs(before + 0.01))
        bal = await balance
        a = eng.accounts["sim-main"]
        row = bal["info"]["data"][0]
        assert float(row["equity"]) - float(row["unrealizedPL"]) == pytest.approx(a.wallet, abs=1e-6)
    serve(t)


def test_a_plan_order_placed_fired_and_cancelled_is_pushed_on_orders_algo():
    """Raw frames: ccxt.pro's bitget resolves a plan push under ``order:linear``, never under
    the ``triggerOrder:linear`` its ``watch_orders(trigger)`` waits on (4.5.90); the stream reads
    the frames, the watch only keeps the subscription."""
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, channels=("orders-algo",))
            placed = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", trigger_price=55_000.0,
                                          close_position=True, client_algo_id="sl1", label="pos_loss")
            (live,) = await frames(ws, 1)
            row = live["data"][0]
            assert (row["orderId"], row["clientOid"], row["planType"], row["status"]) == (
                str(placed.algo_id), "sl1", "psl", "live")
            assert float(row["triggerPrice"]) == 55_000.0 and live["ts"] == clock.now
            eng.set_mark("BTCUSDT", 54_000.0)
            eng.open_orders("sim-main")  # the engine's timers run: the stop fires
            fired = [b for b in await frames(ws, 1) if b["arg"]["channel"] == "orders-algo"]
            assert [(b["data"][0]["orderId"], b["data"][0]["status"]) for b in fired] == [
                (str(placed.algo_id), "executed")]  # (no TRIGGERING before it: the engine's, not Bitget's)
            second = eng.place_algo_order("sim-main", "ETHUSDT", "BUY", "STOP_MARKET", quantity=1.0,
                                          trigger_price=3_500.0, client_algo_id="trig1", label="normal_plan")
            eng.cancel_algo_order("sim-main", second.algo_id)
            got = await frames(ws, 2)
            assert [(b["data"][0]["planType"], b["data"][0]["status"]) for b in got] == [
                ("pl", "live"), ("pl", "cancelled")]
            await ws.close()
    serve(t)


def test_ccxt_watch_tickers_sees_the_mark_set_on_the_engine_at_once():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_tickers([BTC_U]), 2)  # pushed at subscription
        assert float(first[BTC_U]["info"]["markPrice"]) == 60_000.0
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_tickers([BTC_U]),
                           lambda r: float(r[BTC_U]["info"]["markPrice"]) == 59_000.0)
        assert int(seen[BTC_U]["info"]["ts"]) == clock.now
    serve(t)


def test_a_bad_login_is_refused_with_the_venue_code_and_ccxt_fails():
    async def t(srv, pro, eng, clock):
        url = srv.base_url.replace("http", "ws") + "/v2/ws/private"
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(url, heartbeat=None)
            for args, code in ((login_args(eng, secret="wrong"), 30015), (login_args(eng, passphrase="x"), 30012),
                               (login_args(eng, skew_s=-120), 30014), ({**login_args(eng), "apiKey": "no"}, 30011)):
                await ws.send_json({"op": "login", "args": [args]})
                answer = json.loads((await ws.receive(1.0)).data)
                assert (answer["event"], answer["code"]) == ("error", code), answer
            await ws.send_json({"op": "subscribe", "args": [arg("orders")]})
            assert json.loads((await ws.receive(1.0)).data)["code"] == 30004  # not logged in
            await ws.send_str("ping")
            assert (await ws.receive(1.0)).data == "pong"
            await ws.send_json({"op": "login", "args": [login_args(eng)]})
            assert json.loads((await ws.receive(1.0)).data)["event"] == "login"
            await ws.send_json({"op": "subscribe", "args": [{**arg("ticker"), "instId": "BTCUSDT"}]})
            assert json.loads((await ws.receive(1.0)).data)["code"] == 30001  # ticker is /public's
            await ws.close()
        await pro.load_markets()
        pro.secret = "wrong"
        with pytest.raises(ccxt.BaseError):
            await asyncio.wait_for(pro.watch_orders(), 2)
    serve(t)


# --- the raw frames and the faults ------------------------------------------------------------------------------


def test_a_fill_pushes_orders_the_whole_book_and_account_stamped_with_the_engine_clock():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv)
            clock.advance(500)
            await pro.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 4)
            assert channels(got) == ["orders", "positions", "account", "orders"]
            assert {b["ts"] for b in got} == {clock.now} and all(b["action"] == "snapshot" for b in got)
            book = got[1]["data"]  # every position of the account, not only the one that moved
            held = {(s_, p) for (s_, p), leg in eng.accounts["sim-main"].legs.items() if leg.amount}
            assert {(r["instId"], "BOTH") for r in book} == held and len(book) > 1
            await ws.close()
    serve(t)


def test_disconnect_stall_duplicate_and_login_end_faults_on_the_private_channels():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            await pro.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 3)
            assert got[0] == got[1] and channels(got) == ["orders"] * 3
            srv.faults.stream("stream_stall")
            await pro.create_order(BTC_U, "market", "buy", 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.5)
            assert srv.faults.switch_off("stream") == 1
            srv.faults.stream("listen_key_expired", op="stream:user", times=1)
            await pro.create_order(BTC_U, "market", "buy", 0.01)
            ended = json.loads((await ws.receive(1.0)).data)
            if "event" not in ended:  # the fill's push, queued before the login ended
                ended = json.loads((await ws.receive(1.0)).data)
            assert (ended["event"], ended["code"], ended["msg"]) == ("error", 30004, "User needs to log in")
            with pytest.raises(asyncio.TimeoutError):  # logged out: no more pushes
                await asyncio.wait_for(ws.receive(), 0.3)
            ws2 = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_disconnect", op="stream:user", times=1)
            await pro.create_order(BTC_U, "market", "buy", 0.01)
            assert (await ws2.receive(1.0)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_a_private_frame_the_bitget_way(how):
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, channels=("orders",))
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            await pro.create_order(BTC_U, "market", "buy", 0.01)
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
