"""The simulated exchange's Kraken Futures websocket face against the real ``ccxt.pro.krakenfutures``
(and a plain aiohttp websocket where the raw frames are the point): the challenge and its signed
subscriptions, the private feeds' snapshots and deltas of a REST order's fill and of a trigger
order's life, the tickers' marks, and the stream faults as a client sees them. The engine runs on
a manual clock; every wait is bounded."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from adapters.simulated.http import SimServer
from adapters.venues.krakenfutures.face.stream import AUTH_FAILED, PATH, UNKNOWN_FEED, krakenfutures_pro_client, signed
from tests.integration.simulator.face_helpers import frames, serve_clients, subscribed
from tests.integration.simulator.test_stream_face import until

BTC = "BTC/USD:USD"
PRIVATE = ("open_orders", "open_positions", "balances")


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, engine, clock)`` with ``sim-main``'s ccxt.pro client (its REST
    calls the desk's)."""
    return serve_clients(lambda srv: (krakenfutures_pro_client(srv, "sim-main"),), test, timeout=timeout)


async def challenged(ws, eng, key: str = "") -> tuple[str, str]:
    """A challenge asked on ``ws`` for ``sim-main``'s key: (the challenge, its signature)."""
    spec = eng.accounts["sim-main"].spec
    await ws.send_json({"event": "challenge", "api_key": key or spec.api_key})
    answer = json.loads((await ws.receive(1.0)).data)
    assert answer["event"] == "challenge", answer
    return answer["message"], signed(spec.secret, answer["message"])


async def socket(session: aiohttp.ClientSession, srv: SimServer, feeds=PRIVATE):
    """A socket subscribed to ``feeds`` (each answered ``subscribed``, its snapshot read off)."""
    ws = await session.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
    challenge, sign = await challenged(ws, srv.engine)
    key = srv.engine.accounts["sim-main"].spec.api_key
    for feed in feeds:
        await ws.send_json({"event": "subscribe", "feed": feed, "api_key": key, "original_challenge": challenge,
                            "signed_challenge": sign})
        answer, snapshot = await frames(ws, 2)
        assert (answer["event"], answer["feed"]) == ("subscribed", feed), answer
        assert snapshot["feed"].startswith(feed), snapshot
    return ws


# --- through ccxt.pro -----------------------------------------------------------------------------------------


def test_ccxt_watchers_see_a_rest_market_order_fill_its_position_and_balance():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        before = eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
        orders = asyncio.ensure_future(until(pro.watch_orders, lambda os: len(os) > 0, 5.0))
        await subscribed(srv.krakenfutures_stream, "sim-main", 1)  # the challenge and the subscription
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
        order = (await orders)[-1]
        assert order["symbol"] == BTC and order["side"] == "buy" and order["info"]["limit_price"] == 50_000.0
        positions = asyncio.ensure_future(until(pro.watch_positions, lambda ps: any(
            p["symbol"] == BTC and p["contracts"] == pytest.approx(abs(before + 0.01)) for p in ps), 5.0))
        await subscribed(srv.krakenfutures_stream, "sim-main", 2)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
        position = [p for p in await positions if p["symbol"] == BTC][-1]
        assert position["side"] == "long" and position["entryPrice"] > 0
        bal = await asyncio.wait_for(pro.watch_balance(), 5.0)  # the snapshot at subscription
        flex = bal["info"]["flex_futures"]
        a = eng.accounts["sim-main"]
        assert flex["portfolio_value"] - flex["total_unrealized"] == pytest.approx(a.wallet, abs=1e-6)
    serve(t)


def test_ccxt_watch_tickers_sees_the_mark_set_on_the_engine_at_once():
    async def t(srv, pro, eng, clock):
        await pro.load_markets()
        first = await asyncio.wait_for(pro.watch_tickers([BTC]), 2)  # pushed at subscription
        assert first[BTC]["info"]["markPrice"] == 60_000.0
        clock.advance(1234)
        eng.set_mark("BTCUSDT", 59_000.0)
        seen = await until(lambda: pro.watch_tickers([BTC]), lambda r: r[BTC]["info"]["markPrice"] == 59_000.0)
        assert seen[BTC]["info"]["time"] == clock.now
    serve(t)


# --- the raw frames and the faults ------------------------------------------------------------------------------


def test_a_subscription_needs_the_challenge_this_socket_was_given_signed_with_the_secret():
    async def t(srv, pro, eng, clock):
        key = eng.accounts["sim-main"].spec.api_key
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
            await ws.send_json({"event": "challenge", "api_key": "nobody"})
            assert json.loads((await ws.receive(1.0)).data) == {"event": "error", "message": "Invalid API key"}
            challenge, sign = await challenged(ws, eng)
            for bad in ({"signed_challenge": signed("wrong", challenge)}, {"original_challenge": "not-given"}):
                await ws.send_json({"event": "subscribe", "feed": "open_orders", "api_key": key,
                                    "original_challenge": challenge, "signed_challenge": sign, **bad})
                assert json.loads((await ws.receive(1.0)).data) == {"event": "alert", "message": AUTH_FAILED}
            await ws.send_json({"event": "ping"})
            assert json.loads((await ws.receive(1.0)).data) == {"event": "pong"}
            await ws.send_json({"event": "subscribe", "feed": "open_orders", "api_key": key,
                                "original_challenge": challenge, "signed_challenge": sign})
            answer, snapshot = await frames(ws, 2)
            assert answer["event"] == "subscribed" and snapshot["feed"] == "open_orders_snapshot"
            await ws.close()
    serve(t)


def test_a_fill_pushes_the_order_the_whole_book_and_the_flex_account_stamped_with_the_engine_clock():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv)
            clock.advance(500)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            got = await frames(ws, 3)
            assert [b["feed"] for b in got] == ["open_positions", "balances", "open_orders"]
            book = got[0]["positions"]  # every position of the account, not only the one that moved
            held = {s_ for (s_, _), leg in eng.accounts["sim-main"].legs.items() if leg.amount}
            assert len(book) == len(held) > 1 and got[0]["timestamp"] == got[1]["timestamp"] == clock.now
            done = got[2]
            assert (done["is_cancel"], done["reason"], done["order"]["direction"]) == (True, "full_fill", 0)
            await ws.close()
    serve(t)


def test_a_trigger_order_placed_and_cancelled_is_an_open_orders_delta_of_its_type():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, feeds=("open_orders",))
            placed = eng.place_algo_order("sim-main", "ETHUSDT", "BUY", "STOP_MARKET", quantity=1.0,
                                          trigger_price=3_500.0, client_algo_id="trig1")
            eng.cancel_algo_order("sim-main", placed.algo_id)
            live, gone = await frames(ws, 2)
            assert (live["order"]["type"], live["order"]["stop_price"], live["order"]["cli_ord_id"],
                    live["is_cancel"]) == ("stop", 3_500.0, "trig1", False)
            assert (gone["is_cancel"], gone["reason"]) == (True, "cancelled_by_user")
            await ws.close()
    serve(t)


def test_disconnect_stall_duplicate_and_authorization_end_faults_on_the_private_feeds():
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, feeds=("open_orders",))
            srv.faults.stream("stream_duplicate", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            got = await frames(ws, 2)
            assert got[0] == got[1] and got[0]["feed"] == "open_orders"
            srv.faults.stream("stream_stall")
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.5)
            assert srv.faults.switch_off("stream") == 1
            srv.faults.stream("listen_key_expired", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            assert json.loads((await ws.receive(1.0)).data) == {"event": "alert", "message": AUTH_FAILED}
            with pytest.raises(asyncio.TimeoutError):  # its authorization ended: no more pushes
                await asyncio.wait_for(ws.receive(), 0.3)
            ws2 = await socket(s, srv, feeds=("open_orders",))
            srv.faults.stream("stream_disconnect", op="stream:user", times=1)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", quantity=0.01)
            assert (await ws2.receive(1.0)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    serve(t)


@pytest.mark.parametrize("how", ["json", "fields", "event"])
def test_malformed_fault_breaks_a_private_frame_the_kraken_way(how):
    async def t(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as s:
            ws = await socket(s, srv, feeds=("open_orders",))
            srv.faults.stream("stream_malformed", op="stream:user", times=1, body=how)
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            text = (await ws.receive(1.0)).data
            if how == "json":
                with pytest.raises(ValueError):
                    json.loads(text)
            elif how == "fields":
                assert "order" not in json.loads(text) and json.loads(text)["feed"] == "open_orders"
            else:
                assert json.loads(text)["feed"] == UNKNOWN_FEED
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0, time_in_force="GTC")
            assert "order" in json.loads((await ws.receive(1.0)).data)  # the next one is whole
            await ws.close()
    serve(t)
