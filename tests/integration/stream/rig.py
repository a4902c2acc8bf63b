"""The rig a venue's stream tests share: a server on the wall clock whose venue face streams, the
real :class:`CcxtAdapter` of one account with a ``stream`` block, the wakes it called, and bounded
waits for what the stream says (:data:`DEADLINE_S`, a bound on events, never a measured duration).
A venue's test module subclasses :class:`StreamRig` with its ``VENUE`` and what the engine holds
in its own symbols (:meth:`StreamRig.truth`)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Callable

from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.simulated.venues import sim_account
from killswitch.process.bootstrap import ccxt_adapters
from tests.integration.sim_helpers import run
from tests.procs import until

DEADLINE_S = 10.0
FLAT = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}
FACE = {"tick_s": 0.02, "mark_every_ms": 100, "quiet_every_ms": 100}  # marks pushed every 100 ms


class StreamRig:
    """``account`` on the subclass's ``VENUE``, streamed (``stale_after``, ``reconcile_every``)."""

    VENUE = ""
    FACE = FACE  # the venue face's keyword arguments
    RATE_LIMIT = True  # ccxt's own pacing of the account's REST calls

    def __init__(self, stale_after: str = "1s", reconcile_every: str = "30s", account: str = "sim-main",
                 **account_kw: Any):
        self.engine = build("calm", wall_clock)
        for symbol, price in FLAT.items():
            self.engine.set_mark(symbol, price)
        self.server = SimServer(self.engine, auth_clock=wall_clock, venue_streams={self.VENUE: self.FACE})
        self.stale_after, self.reconcile_every, self.account = stale_after, reconcile_every, account
        self.account_kw = account_kw  # more of the account's fields (``quote_currency``)
        self.key = f"{self.VENUE}/{account}"
        self.wakes: list[str] = []

    async def __aenter__(self) -> "StreamRig":
        await self.server.start()
        account = sim_account(self.server, self.account, self.VENUE, **self.account_kw, stream={
            "enabled": True, "stale_after": self.stale_after, "reconcile_every": self.reconcile_every})
        self.adapters = ccxt_adapters([account], rate_limit=self.RATE_LIMIT)
        self.adapter = self.adapters.by_key[self.key]
        self.adapter.set_wake(self.wakes.append)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.adapters.close()
        await self.server.stop()

    async def down_and_back(self, act: Callable[[], Any]) -> tuple[list, Any]:
        """The user stream dropped once while ``act()`` runs (a bot's order; awaited when it is a
        coroutine): said down (STREAM_DOWN) and read over REST meanwhile, live again after one
        reconnect, the reconnect's reconcile read over REST first. (The states seen, that read.)"""
        from tests.integration.stream.test_adapter import States

        with States(self) as states:  # type: ignore[arg-type]
            self.server.faults.stream("stream_disconnect", op="stream:user", times=1)
            done = act()
            if inspect.isawaitable(done):
                await done
            await until(lambda: ("down", "STREAM_DOWN") in states.seen, "the stream down", DEADLINE_S)
            down = await self.adapter.snapshot()
            assert down.fetch.ok and down.fetch.calls > 0
            await until(lambda: self.health.state == "live", "the stream live again", DEADLINE_S)
        assert self.health.reconnects == 1
        again = await self.adapter.snapshot()
        assert again.fetch.calls > 0
        return states.seen, again

    @property
    def health(self) -> Any:
        return self.adapter.stream_health()

    def rest_reads(self) -> int:
        return len(self.server.requests)

    async def live(self) -> None:
        await self.adapter.start_streams()
        await until(lambda: self.health.state == "live", "the stream live", DEADLINE_S)
        await self.adapter.snapshot()  # the REST reconcile of the (re)connect
        await self.from_stream()

    async def from_stream(self) -> Any:
        """A snapshot answered from the stream alone: no REST call."""
        before = self.rest_reads()
        snap = await self.adapter.snapshot()
        assert snap.fetch.ok and snap.fetch.calls == 0, snap.fetch
        assert self.rest_reads() == before
        return snap

    async def seen(self, ok: Any, what: str) -> Any:
        end = time.monotonic() + DEADLINE_S
        while True:
            snap = await self.from_stream()
            if ok(snap):
                return snap
            assert time.monotonic() < end, f"gave up waiting: {what}"
            await asyncio.sleep(0.02)

    def truth(self) -> dict:
        raise NotImplementedError

    def buy(self, symbol: str = "BTCUSDT", qty: float = 0.01, **kw: Any) -> None:
        self.engine.place_order(self.account, symbol, "BUY", "MARKET", quantity=qty, **kw)

    @classmethod
    def run(cls, test: Any, timeout: float = 40.0, **kw: Any) -> Any:
        """``await test(rig)`` on a rig of this venue, started and stopped around it."""
        async def go():
            async with cls(**kw) as r:
                return await test(r)
        return run(go(), timeout)


def halt_sales(key: str, seen: dict, counted: Callable[[str, str], bool]) -> Callable[[Any, Any], Any]:
    """A ``ksctl run`` scenario over a spot face, streamed: an operator's halt of ``key``, then a
    bot's market buy of 0.25 BTC, sold back and journaled final, then a second. Into ``seen``:
    ``sent`` (the requests after the halt's baselines that ``counted(method, path)`` keeps, by
    ``"METHOD path"``), ``sales`` (symbol, side, amount, status of each), ``btc`` (the holding at
    the lock and at the end) and ``rows`` (the violations stored)."""
    from collections import Counter

    from tests.integration.enforcement.rig import violations

    def sales(daemon: Any) -> list:
        return [e for e in daemon.runner.store.journal(limit=100) if e.decision_id.startswith("enforce/")]

    async def scenario(daemon: Any, server: Any) -> None:
        eng = server.engine
        before = eng.accounts["sim-main"].spot["BTC"]
        assert (await daemon.desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        daemon.wakes.nudge()  # the first tick under the lock takes the baselines
        await until(lambda: "BTC/USDT|long" in (daemon.parts.book.baselines.get(key) or {}).get("legs", {}),
                    "the baselines under the halt", DEADLINE_S)
        start = len(server.requests)
        for n in (1, 2):
            eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.25, client_order_id=f"alp-mkt-{n}")
            await until(lambda: sum(e.final for e in sales(daemon)) == n, f"sale {n} journaled final",
                        3 * DEADLINE_S)
        seen["sent"] = Counter(f"{m} {p}" for m, p, _ in server.requests[start:] if counted(m, p))
        seen["sales"] = [(e.symbol, e.side, e.amount, e.status) for e in sales(daemon)]
        seen["btc"] = (before, eng.accounts["sim-main"].spot["BTC"])
        seen["rows"] = violations(daemon.runner.store)

    return scenario
