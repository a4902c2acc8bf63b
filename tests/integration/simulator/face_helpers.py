"""The set-up the simulator's face tests share: an engine served with a venue's clients (a ccxt
Binance USDⓈ-M client's, and the requests the server took), the login of a venue that signs it
with a passphrase (OKX, Bitget), a socket logged in and subscribed, the frames read off it, and
a client's sockets waited for on the face. Every wait is bounded."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any, Awaitable, Callable, Iterable

import aiohttp

from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.binance.face import binanceusdm_client
from tests.integration.sim_helpers import engine, run


def serve_clients(clients: Callable[[SimServer], Iterable[Any]], test: Callable[..., Awaitable[Any]], *,
                  timeout: float = 15.0) -> Any:
    """Run ``await test(server, *clients(server), engine, clock)`` on a fresh engine (a manual
    clock, logins checked against the wall's), every client closed and the server stopped after."""
    eng, clock = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        made: tuple = ()
        try:
            made = tuple(clients(srv))
            return await test(srv, *made, eng, clock)
        finally:
            for client in made:
                await client.close()
            await srv.stop()

    return run(go(), timeout)


BTC_U, ETH_U, SOL_U = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"  # ccxt's symbols of the perpetuals


def serve_binance(test, *, account: str = "sim-main", eng=None, server_kw=None, client_kw=None, timeout: float = 20.0):
    """Run ``await test(server, client, engine, clock)`` with a fresh server and a ccxt
    ``binanceusdm`` client of ``account`` pointed at it (``eng``: an engine and its clock)."""
    if eng is None:
        eng = engine()
    ex_engine, clock = eng

    async def go():
        srv = SimServer(ex_engine, **{"auth_clock": wall_clock, **(server_kw or {})})
        await srv.start()
        client = binanceusdm_client(srv, account, **(client_kw or {}))
        try:
            return await test(srv, client, ex_engine, clock)
        finally:
            await client.close()
            await srv.stop()

    return run(go(), timeout)


def paths(srv: SimServer) -> list[str]:
    """The requests the server took, as "METHOD /path"."""
    return [f"{m} {p}" for m, p, _ in srv.requests]


def passphrase_login(verify_path: str, eng, account: str = "sim-main", secret: str = "", passphrase: str = "",
                     skew_s: int = 0) -> dict:
    """A login's args as OKX and Bitget take them: ``sign`` the base64 HMAC-SHA256 of the
    timestamp (seconds, ``skew_s`` off the wall clock) + "GET" + ``verify_path``; ``secret`` and
    ``passphrase`` wrong ones in place of the account's."""
    spec = eng.accounts[account].spec
    stamp = str(wall_clock() // 1000 + skew_s)
    sign = base64.b64encode(hmac.new((secret or spec.secret).encode(), f"{stamp}GET{verify_path}".encode(),
                                     hashlib.sha256).digest()).decode()
    return {"apiKey": spec.api_key, "passphrase": passphrase or spec.passphrase, "timestamp": stamp, "sign": sign}


async def subscribed_socket(session: aiohttp.ClientSession, url: str, login: dict, logged_in: Callable[[dict], bool],
                            args: list[dict]) -> aiohttp.ClientWebSocketResponse:
    """A socket at ``url`` logged in with ``login`` (its answer passes ``logged_in``) and
    subscribed to ``args``, each answered; the snapshots pushed at subscription read off."""
    ws = await session.ws_connect(url, heartbeat=None)
    await ws.send_json({"op": "login", "args": [login]})
    answer = json.loads((await ws.receive(1.0)).data)
    assert logged_in(answer), answer
    await ws.send_json({"op": "subscribe", "args": args})
    answers = 0
    while True:  # the answers, and the snapshots of positions and account at subscription
        try:
            body = json.loads((await ws.receive(0.3)).data)
        except asyncio.TimeoutError:
            break
        answers += body.get("event") == "subscribe"
    assert answers == len(args)
    return ws


async def frames(ws, n: int, timeout: float = 1.0) -> list[dict]:
    """The next ``n`` frames, as JSON."""
    return [json.loads((await ws.receive(timeout)).data) for _ in range(n)]


def channels(bodies: list[dict]) -> list[str]:
    return [b["arg"]["channel"] for b in bodies]


async def subscribed(face, account: str, streams: int, deadline_s: float = 60.0) -> None:
    """Wait until ``account``'s sockets on the websocket ``face`` are open and hold ``streams``
    subscriptions at least (a listen key's socket subscribes by opening: 0): a frame the venue
    pushes after this reaches the client's watches."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        mine = [s for s in face.sockets if s.account == account]
        if mine and sum(len(s.streams) for s in mine) >= streams:
            return
        assert loop.time() < end, f"{account}'s sockets never held {streams} subscription(s): {mine}"
        await asyncio.sleep(0.01)
