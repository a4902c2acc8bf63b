"""The simulated exchange's Kraken spot websocket v2 face against the real ``ccxt.pro.kraken`` (its
token from ``GetWebSocketsToken``) and a plain aiohttp websocket where the raw frames are the
point: a token never given refused, the private channels' snapshots, a resting order's life as
Kraken tells it (pending_new whole, then new, canceled naming the order alone), a fill's ledger
entries, a ticker refused for a pair not listed. The engine runs on a manual clock; every wait is
bounded."""

from __future__ import annotations

import json

import aiohttp

from adapters.venues.kraken.face.stream import INVALID_SESSION, PATH, kraken_pro_client, ws_symbol
from tests.integration.simulator.face_helpers import frames, serve_clients


def serve(test, *, timeout: float = 15.0):
    """Run ``await test(server, pro, engine, clock)`` with ``sim-main``'s ccxt.pro client."""
    return serve_clients(lambda srv: (kraken_pro_client(srv, "sim-main"),), test, timeout=timeout)


async def answer(ws, req: dict) -> dict:
    await ws.send_json(req)
    return json.loads((await ws.receive(1.0)).data)


def test_a_token_never_given_is_refused_and_one_the_rest_face_gave_subscribes_with_snapshots():
    async def test(srv, pro, eng, clock):
        token = (await pro.privatePostGetWebSocketsToken())["result"]["token"]
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
            refused = await answer(ws, {"method": "subscribe", "params": {"channel": "executions", "token": "nope"},
                                        "req_id": 1})
            assert (refused["success"], refused["error"], refused["req_id"]) == (False, INVALID_SESSION, 1)
            ok = await answer(ws, {"method": "subscribe", "params": {"channel": "balances", "token": token}})
            assert ok["success"] and ok["result"]["channel"] == "balances"
            [snap] = await frames(ws, 1)
            assert snap["type"] == "snapshot" and {r["asset"]: r["balance"] for r in snap["data"]} == dict(
                eng.accounts["sim-main"].spot)
            rest = eng.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.5, 70_000.0, time_in_force="GTC",
                                        client_order_id="bot-1")
            ok = await answer(ws, {"method": "subscribe", "params": {"channel": "executions", "token": token}})
            assert ok["success"]
            [orders] = await frames(ws, 1)
            assert orders["type"] == "snapshot"
            [row] = orders["data"]
            assert (row["symbol"], row["side"], row["order_type"], row["order_qty"], row["limit_price"],
                    row["cl_ord_id"], row["order_status"]) == ("BTC/USDT", "sell", "limit", 0.5, 70_000.0, "bot-1",
                                                               "new")
            eng.cancel_spot_order("sim-main", rest.order_id)
            [gone] = await frames(ws, 1)
            assert [(r["order_id"], r["exec_type"], r["order_status"]) for r in gone["data"]] == [
                (row["order_id"], "canceled", "canceled")] and "symbol" not in gone["data"][0]
            await ws.close()
    serve(test)


def test_an_order_is_pending_whole_then_new_alone_and_a_fill_is_a_ledger_entry_of_each_asset():
    async def test(srv, pro, eng, clock):
        token = (await pro.privatePostGetWebSocketsToken())["result"]["token"]
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
            for channel in ("executions", "balances"):
                assert (await answer(ws, {"method": "subscribe",
                                          "params": {"channel": channel, "token": token}}))["success"]
                await frames(ws, 1)  # its snapshot
            eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.01)
            pushed = await frames(ws, 5)
            told = [(f["channel"], [r.get("exec_type") or r.get("type") for r in f["data"]]) for f in pushed]
            assert told == [("executions", ["pending_new"]), ("executions", ["new"]), ("balances", ["trade", "trade"]),
                            ("executions", ["trade"]), ("executions", ["filled"])]
            assert "order_type" in pushed[0]["data"][0] and "order_type" not in pushed[1]["data"][0]
            spot = eng.accounts["sim-main"].spot
            assert {r["asset"]: r["balance"] for r in pushed[2]["data"]} == {"BTC": spot["BTC"], "USDT": spot["USDT"]}
            assert pushed[3]["data"][0]["order_status"] == "filled" and pushed[3]["data"][0]["last_qty"] == 0.01
            await ws.close()
    serve(test)


def test_a_ticker_is_pushed_at_once_and_a_pair_not_listed_is_refused():
    async def test(srv, pro, eng, clock):
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(srv.base_url.replace("http", "ws") + PATH, heartbeat=None)
            doge = {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["DOGE/USDT"]}}
            refused = await answer(ws, doge)
            assert (refused["success"], refused["error"]) == (False, "Currency pair not supported")
            pair = ws_symbol(eng.markets["BTCUSDT"])
            ok = await answer(ws, {"method": "subscribe", "params": {"channel": "ticker", "symbol": [pair]}})
            assert ok["success"] and ok["result"]["symbol"] == "BTC/USDT"
            [tick] = await frames(ws, 1)
            assert tick["channel"] == "ticker" and tick["data"][0]["last"] == eng.mark("BTCUSDT", eng.now())
            pong = await answer(ws, {"method": "ping", "req_id": 7})
            assert (pong["method"], pong["req_id"]) == ("pong", 7)
            await ws.close()
    serve(test)
