"""The rig of the ccxt adapter's stream tests: a hand-written ccxt.pro-like client whose watches
wait (their answers are not read) or raise a ccxt NetworkError for a disconnect, nothing at all for
a stall, the venue's raw frames through its ``handle_message`` (what ccxt calls for every frame; the
stream reads them there), the frames Binance sends, and an adapter over it whose REST side is the
fake of tests/unit/adapters/ccxt/fake.py."""

from __future__ import annotations

import asyncio

from adapters.ccxt_exchange import CcxtAdapter
from tests.unit.adapters.ccxt.fake import (
    BTC,
    FakeExchange,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    account,
    ccxt_position,
)


class Venue:
    """What the fake streaming clients of one account read from: one queue per watch."""

    def __init__(self):
        self.queues: dict[str, asyncio.Queue] = {}
        self.clients: list[FakePro] = []
        self.mark_symbols: list = []

    def q(self, name: str) -> asyncio.Queue:
        return self.queues.setdefault(name, asyncio.Queue())

    def factory(self, config):
        self.config = config
        c = FakePro(self)
        self.clients.append(c)
        return c

    def push(self, name: str, value) -> None:
        self.q(name).put_nowait(value)

    def open(self) -> None:
        """A socket of the last client opened (ccxt calls its ``on_connected``)."""
        self.clients[-1].on_connected(None)

    def raw(self, *messages) -> None:
        """Frames the socket delivers back to back (ccxt reads them one after another)."""
        for m in messages:
            self.clients[-1].handle_message(None, m)


class FakePro:
    """A ccxt.pro-like client: each watch answers the next item of its queue (raised when it is an
    exception), and waits while there is none."""

    def __init__(self, venue: Venue):
        self.venue = venue
        self.options: dict = {}
        self.urls = {"api": {"ws": {"linear": "wss://fstream.binance.com/ws"}}}
        self.has = {}
        self.closed = False
        self.handled: list = []

    async def _next(self, name):
        got = await self.venue.q(name).get()
        if isinstance(got, BaseException):
            raise got
        return got

    async def watch_positions(self):
        return await self._next("positions")

    async def watch_balance(self):
        return await self._next("balance")

    async def watch_orders(self):
        return await self._next("orders")

    async def watch_mark_prices(self, symbols=None):
        self.venue.mark_symbols.append(symbols)
        return await self._next("marks")

    def handle_message(self, client, message):
        self.handled.append(message)

    def on_connected(self, client, message=None):
        self.opened = getattr(self, "opened", 0) + 1

    def parse_ws_order(self, o):
        """ccxt's order structure of a raw ORDER_TRADE_UPDATE row (what the adapter reads of it)."""
        status = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed", "CANCELED": "canceled"}[o["X"]]
        return {"info": o, "id": str(o["i"]), "clientOrderId": o.get("c"), "symbol": BTC, "side": o["S"].lower(),
                "type": o.get("o", "LIMIT").lower(), "amount": float(o["q"]), "filled": float(o.get("z", 0)),
                "price": float(o["p"]), "status": status, "reduceOnly": False, "timestamp": o["T"]}

    async def close(self):
        self.closed = True


def position_update(amount, event, entry=48000.0, wallet=None):
    """Binance's ACCOUNT_UPDATE of BTCUSDT's one-way position (``amount`` signed)."""
    balances = [] if wallet is None else [{"a": "USDT", "wb": str(wallet)}]
    return {"e": "ACCOUNT_UPDATE", "E": event, "a": {"m": "ORDER", "B": balances, "P": [
        {"s": "BTCUSDT", "pa": str(amount), "ep": str(entry), "ps": "BOTH"}]}}


def wallet_update(wallet, event):
    return {"e": "ACCOUNT_UPDATE", "E": event, "a": {"m": "DEPOSIT", "B": [{"a": "USDT", "wb": str(wallet)}], "P": []}}


def mark(price, event):
    return {"e": "markPriceUpdate", "E": event, "s": "BTCUSDT", "p": str(price)}


def order_update(oid, status, event, amount=0.1, price=40000.0):
    return {"e": "ORDER_TRADE_UPDATE", "E": event, "o": {"s": "BTCUSDT", "i": oid, "c": f"c{oid}", "S": "BUY",
                                                          "o": "LIMIT", "q": str(amount), "p": str(price), "X": status,
                                                          "z": "0", "T": event}}


def adapter(rest: FakeExchange, venue: Venue, stream=None, name="binanceusdm", **kw):
    spec = {"enabled": True, "reconcile_every": "30s", "stale_after": "10s"} if stream is None else stream
    return CcxtAdapter(account(name, stream=spec), exchange_factory=rest.factory, stream_factory=venue.factory,
                       timeout=2.0, max_retries=0, **kw)


T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z


class Clock:
    """The stream's clock (UTC ms), moved by the test."""

    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def rest_exchange(contracts=0.5):
    rest = FakeExchange()
    rest.positions = [ccxt_position(contracts=contracts, mark=50000.0, entry=48000.0, upnl=1000.0 * contracts / 0.5)]
    return rest


async def settle(until, timeout=60.0):
    """Wait until ``until()`` holds; the deadline is a bound only a hang reaches."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not until():
        if loop.time() > end:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.01)


async def live(a, venue, price: float = 50000.0) -> None:
    """``a``'s streams started, seeded by a REST snapshot and live on a mark frame."""
    await a.start_streams()
    await settle(lambda: venue.clients)
    await a.snapshot()
    venue.raw(mark(price, 5))
    await settle(lambda: a.stream_health().state == "live")
