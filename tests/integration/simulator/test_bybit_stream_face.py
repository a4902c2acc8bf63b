"""The simulated exchange's Bybit v5 websocket face against the real ``ccxt.pro.bybit`` (and a
plain aiohttp websocket where the raw frames are the point): auth, the private topics of a REST
order's fill, the linear tickers' marks, ping/pong, and the stream faults as a client sees them.
The engine runs on a manual clock; every wait is bounded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp
import ccxt
import pytest

from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.bybit.face import bybit_client
from adapters.venues.bybit.face.stream import UNKNOWN_TOPIC, bybit_pro_client
from tests.integration.simulator.face_helpers import serve_clients, subscribed
from tests.integration.simulator.test_stream_face import until

BTC_U = "BTC/USDT:USDT"
POSITION_FIELDS = {
    "category", "symbol", "side", "size", "positionIdx", "tradeMode", "positionValue", "riskId", "riskLimitValue",
    "entryPrice", "markPrice", "leverage", "positionBalance", "autoAddMargin", "positionIM", "positionIMByMp",
    "positionMM", "positionMMByMp", "liqPrice", "bustPrice", "tpslMode", "takeProfit", "stopLoss", "trailingStop",
    "unrealisedPnl", "curRealisedPnl", "sessionAvgPrice", "delta", "gamma", "vega", "theta", "cumRealisedPnl",
    "positionStatus", "adlRankIndicator", "isReduceOnly", "mmrSysUpdatedTime", "leverageSysUpdatedTime",
    "createdTime", "updatedTime", "seq"}


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, rest, engine, clock)`` with ``sim-main``'s clients."""
    return serve_clients(lambda srv: (
        bybit_pro_client(srv, "sim-main", options={"enableUnifiedAccount": True, "enableUnifiedMargin": False}),
        bybit_client(srv, "sim-main")), test, timeout=timeout)


def auth_args(eng, account: str = "sim-main", secret: str = "", expires_in_ms: int = 10_000) -> list:
    spec = eng.accounts[account].spec
    expires = str(wall_clock() + expires_in_ms)
    sign = hmac.new((secret or spec.secret).encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    return [spec.api_key, expires, sign]


async def private_socket(session: aiohttp.ClientSession, srv: SimServer, topics=("order", "position", "wallet")):
    ws = await session.ws_connect(srv.base_url.replace("http", "ws") + "/v5/private", heartbeat=None)
    await ws.send_json({"op": "auth", "args": auth_args(srv.engine)})
    assert json.loads((await ws.receive(1.0)).data)["success"] is True
    await ws.send_json({"op": "subscribe", "req_id": "1", "args": list(topics)})
    assert json.loads((await ws.receive(1.0)).data)["op"] == "subscribe"
    return ws


async def frames(ws, n: int, timeout: float = 1.0) -> list[str]:
    return [(await ws.receive(timeout)).data for _ in range(n)]


def topics(texts: list[str]) -> list[str]:
    return [json.loads(t)["topic"] for t in texts]


# --- through ccxt.pro -----------------------------------------------------------------------------------------


def test_ccxt_watchers_see_a_rest_market_order_fill_its_position_and_balance():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        before = eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
        positions = asyncio.ensure_future(until(pro.watch_positions, lambda ps: any(
            p["symbol"] == BTC_U and p["contracts"] == pytest.approx(before + 0.01) for p in ps)))
        balance = asyncio.ensure_future(until(pro.watch_balance, lambda b: "USDT" in b))
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: os[-1]["status"] == "closed"))
        trades = asyncio.ensure_future(until(pro.watch_my_trades, lambda ts: len(ts) > 0))
        await subscribed(srv.bybit_stream, "sim-main", 4)  # auth and the subscriptions
        placed = await rest.create_order(BTC_U, "market", "buy", 0.01, params={"orderLinkId": "ks-ws-1"})
        order = (await orders)[-1]
        assert (order["id"], order["clientOrderId"], order["filled"]) == (placed["id"], "ks-ws-1", 0.01)
        assert order["info"]["orderStatus"] == "Filled" and order["info"]["category"] == "linear"
        trade = (await trades)[-1]
        assert trade["order"] == placed["id"] and trade["amount"] == 0.01 and trade["fee"]["cost"] > 0
        position = [p for p in await positions if p["symbol"] == BTC_U][-1]
        assert set(position["info"]) == POSITION_FIELDS
        assert position["side"] == ("long" if before + 0.01 > 0 else "short")
        a = eng.accounts["sim-main"]
        bal = await balance
        assert float(bal["info"][0]["coin"][0]["walletBalance"]) == pytest.approx(a.wallet)
        assert bal["USDT"]["total"] == pytest.approx(float(bal["info"][0]["totalEquity"]))
    serve(t)


def test_ccxt_watch_ticker_sees_the_mark_set_on_the_engine_at_once():
    async def t(srv, pro, rest, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_ticker(BTC_U), 2)  # the snapshot at subscription
        assert first["markPrice"] == 60_000.0
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_ticker(BTC_U), lambda r: r["markPrice"] == 59_000.0)
        assert seen["timestamp"] == clock.now
    serve(t)


def test_a_bad_signature_or_an_expired_auth_is_refused_and_ccxt_fails():
    async def t(srv, pro, rest, eng, clock):
        url = srv.base_url.replace("http", "ws") + "/v5/private"
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(url, heartbeat=None)
            for args in (auth_args(eng, secret="wrong"), auth_args(eng, expires_in_ms=-1000)):
                await ws.send_json({"op": "auth", "args": args})
                answer = json.loads((await ws.receive(1.0)).data)
                assert (answer["op"], answer["success"], answer["ret_msg"]) == ("auth", False, "Request not authorized")
            await ws.send_json({"op": "subscribe", "req_id": "7", "args": ["order"]})
            assert json.loads((await ws.receive(1.0)).data)["success"] is False  # not authenticated
            await ws.send_json({"op": "ping", "req_id": "8"})
            pong = json.loads((await ws.receive(1.0)).data)
            assert (pong["op"], pong["req_id"]) == ("pong", "8")
            await ws.close()
            pub = await s.ws_connect(srv.base_url.replace("http", "ws") + "/v5/public/linear", heartbeat=None)
            await pub.send_json({"op": "ping", "req_id": "9"})
            assert json.loads((await pub.receive(1.0)).data)["ret_msg"] == "pong"
            await pub.close()
        await pro.load_markets()
        pro.secret = "wrong"
        with pytest.raises(ccxt.ExchangeError, match="not authorized"):  # the auth's or the subscription's refusal
            await asyncio.wait_for(pro.watch_orders(), 2)
    serve(t)


# --- the raw frames and the faults ------------------------------------------------------------------------------


def test_a_fill_sends_order_execution_position_and_wallet_with_the_engine_stamp():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await private_socket(s, srv, ("order", "execution", "position", "wallet"))
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 5)
            assert topics(got) == ["order", "position", "wallet", "order", "execution"]
            assert {json.loads(g)["creationTime"] for g in got} == {clock.now}
            await ws.close()
    serve(t)


def test_disconnect_stall_and_duplicate_faults_on_the_private_topics():
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await private_socket(s, srv, ("order",))
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            got = await frames(ws, 3)
            assert got[0] == got[1] and topics(got) == ["order"] * 3
            srv.faults.stream("stream_stall")
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.5)
            assert srv.faults.switch_off("stream") == 1
            srv.faults.stream("stream_disconnect", op="stream:user", times=1)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            assert (await ws.receive(1.0)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_a_private_frame_the_bybit_way(how):
    async def t(srv, pro, rest, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await private_socket(s, srv, ("order",))
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            await rest.create_order(BTC_U, "market", "buy", 0.01)
            text = (await ws.receive(1.0)).data
            if how == "json":
                with pytest.raises(ValueError):
                    json.loads(text)
            elif how == "fields":
                assert "data" not in json.loads(text) and json.loads(text)["topic"] == "order"
            else:
                assert json.loads(text)["topic"] == UNKNOWN_TOPIC
            assert json.loads((await ws.receive(1.0)).data)["topic"] == "order"  # the next one is whole
            await ws.close()
    serve(t)
