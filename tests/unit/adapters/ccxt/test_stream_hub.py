"""Two accounts on one venue endpoint share one mark subscription (adapters/ccxt_exchange/stream_hub.py):
one connection watches the marks, each frame is read once and each account applies the symbols it
holds; a mark keeps an account live only while its own connection runs; the hub reconnects on its
own, and stops with the last account."""

from __future__ import annotations

import asyncio

import ccxt

from adapters.ccxt_exchange import CcxtAdapter
from killswitch.process.bootstrap import shared_mark_endpoints
from tests.unit.adapters.ccxt.fake import (
    _creds,  # noqa: F401 — the credentials' environment
    account,
)
from tests.unit.adapters.ccxt.stream.rig import FakePro, Venue, mark, position_update, rest_exchange, settle


class MarkVenue(Venue):
    """A venue whose clients say which of them watches the marks."""

    def __init__(self):
        super().__init__()
        self.mark_watchers: list[FakePro] = []

    def factory(self, config):
        c = WatchingPro(self)
        self.clients.append(c)
        return c

    def marks(self, *messages) -> None:
        """Frames of the mark subscription (the last client that watches it)."""
        for m in messages:
            self.mark_watchers[-1].handle_message(None, m)


class WatchingPro(FakePro):
    async def watch_mark_prices(self, symbols=None):
        self.venue.mark_watchers.append(self)
        return await super().watch_mark_prices(symbols)


def shared(rest, venue, name: str) -> CcxtAdapter:
    spec = {"enabled": True, "reconcile_every": "30s", "stale_after": "10s"}
    return CcxtAdapter(account("binanceusdm", stream=spec, name=name), exchange_factory=rest.factory,
                       stream_factory=venue.factory, timeout=2.0, max_retries=0, share_marks=True)


def test_two_accounts_read_one_mark_subscription_each_applying_what_it_holds():
    async def body():
        venue = MarkVenue()
        a, b = shared(rest_exchange(0.5), venue, "a"), shared(rest_exchange(0.3), venue, "b")
        woken: list[str] = []
        a.set_wake(woken.append)
        b.set_wake(woken.append)
        await a.start_streams()
        await b.start_streams()
        await settle(lambda: len(venue.mark_watchers) == 1 and len(venue.clients) == 3)
        await a.snapshot()
        await b.snapshot()  # REST seeds each account's state
        venue.marks(mark(51000.0, 1001))
        await settle(lambda: a.stream_health().state == "live" and b.stream_health().state == "live")
        assert sorted(woken) == ["binanceusdm/a", "binanceusdm/b"]
        sa, sb = await a.snapshot(), await b.snapshot()
        assert sa.fetch.calls == 0 and sb.fetch.calls == 0  # the live streams answer
        assert sa.positions[0].mark_price == 51000.0 and sb.positions[0].mark_price == 51000.0
        assert (sa.positions[0].contracts, sb.positions[0].contracts) == (0.5, 0.3)
        # one connection watched the marks; the accounts' own never did, and never saw a mark frame
        assert len(venue.mark_watchers) == 1
        own = [c for c in venue.clients if c is not venue.mark_watchers[0]]
        assert len(own) == 2 and not any(c.handled for c in own)
        # an account's private frame is its own
        account_a = next(c for c in own if c.venue is venue and c.options is not None and c in own[:1])
        account_a.handle_message(None, position_update(0.8, 1002))
        await settle(lambda: len(woken) >= 3)
        pa = [p.contracts for p in (await a.snapshot()).positions]
        pb = [p.contracts for p in (await b.snapshot()).positions]
        assert sorted([pa, pb]) == [[0.3], [0.8]]
        # the same mark again: a duplicate, dropped once by the hub for all, no wake
        n, hub = len(woken), a._stream._hub
        venue.marks(mark(51000.0, 1001), mark(50900.0, 1000))  # (and one older than the last)
        assert len(woken) == n and hub.dropped == 2
        for acc in (a, b):  # each account's status counts what the hub dropped of its marks
            assert acc.stream_health().dropped == {"duplicate": 1, "out_of_order": 1}
        assert (await a.snapshot()).positions[0].mark_price == 51000.0
        await a.close()
        assert not venue.mark_watchers[0].closed  # b still reads it
        venue.marks(mark(52000.0, 1003))
        assert (await b.snapshot()).positions[0].mark_price == 52000.0
        await b.close()
        await settle(lambda: venue.mark_watchers[0].closed)  # the last account left: the hub stopped

    asyncio.run(body())


def test_the_hub_reconnects_on_its_own_and_a_mark_never_makes_a_down_stream_live():
    async def body():
        venue = MarkVenue()
        a, b = shared(rest_exchange(0.5), venue, "a"), shared(rest_exchange(0.3), venue, "b")
        await a.start_streams()
        await b.start_streams()
        await settle(lambda: len(venue.mark_watchers) == 1 and len(venue.clients) == 3)
        await a.snapshot()
        await b.snapshot()
        venue.marks(mark(51000.0, 1001))
        await settle(lambda: a.stream_health().state == "live")
        venue.push("marks", ccxt.NetworkError("mark socket closed"))  # the hub's connection drops
        await settle(lambda: len(venue.mark_watchers) == 2, timeout=5.0)
        assert a.stream_health().reconnects == 0 and b.stream_health().reconnects == 0  # theirs stayed up
        venue.marks(mark(51500.0, 1002))
        assert (await a.snapshot()).positions[0].mark_price == 51500.0
        # b's own connection goes down: the hub's marks do not make it live meanwhile
        venue.push("balance", ccxt.NetworkError("user data socket closed"))
        await settle(lambda: "down" in (a.stream_health().state, b.stream_health().state))
        down = a if a.stream_health().state == "down" else b
        venue.marks(mark(51600.0, 1004))
        assert down.stream_health().state == "down"
        await a.close()
        await b.close()

    asyncio.run(body())


def test_a_mark_the_venue_refuses_on_the_hubs_connection_is_named_by_the_accounts_holding_it_until_it_reconnects():
    """A ``refused`` frame on the shared connection (a dialect that says one: here the fake's
    ``{"refused": <symbol>}``) is the connection's: each joined account holding the symbol names
    it (STREAM_MARKS_REFUSED) and reads REST, one that does not hold it answers alone; the hub's
    reconnect asks again, and the accounts answer from the stream once more."""
    async def body():
        venue = MarkVenue()
        a, b = shared(rest_exchange(0.5), venue, "a"), shared(rest_exchange(0.0), venue, "b")
        for x in (a, b):  # (set before the hub's client is built and tapped)
            read = x._stream._classify
            x._stream._classify = lambda m, read=read: "refused" if isinstance(m, dict) and "refused" in m else read(m)
            x._stream._refused_of = lambda m: m.get("refused")
        await a.start_streams()
        await b.start_streams()
        await settle(lambda: len(venue.mark_watchers) == 1 and len(venue.clients) == 3)
        await a.snapshot()
        await b.snapshot()
        venue.marks(mark(51000.0, 1001))
        await settle(lambda: a.stream_health().state == "live" and b.stream_health().state == "live")
        venue.marks({"refused": "BTC/USDT:USDT"})
        ha, hb = a.stream_health(), b.stream_health()
        assert (ha.state, ha.reason, ha.unstreamed, ha.answers) == ("live", "STREAM_MARKS_REFUSED",
                                                                    ("BTC/USDT:USDT",), False)
        assert (hb.reason, hb.unstreamed, hb.answers) == (None, (), True)  # b holds no BTC
        assert (await a.snapshot()).fetch.calls > 0 and (await b.snapshot()).fetch.calls == 0
        venue.push("marks", ccxt.NetworkError("mark socket closed"))  # the hub's connection drops
        await settle(lambda: len(venue.mark_watchers) == 2, timeout=5.0)
        assert a.stream_health().unstreamed == () and a.stream_health().reason is None
        await a.close()
        await b.close()

    asyncio.run(body())


def test_the_runner_shares_marks_where_two_streamed_accounts_read_one_endpoint():
    spec = {"enabled": True}
    accs = [account("binanceusdm", stream=spec, name="a"), account("binanceusdm", stream=spec, name="b"),
            account("bybit", stream=spec, name="c"), account("binanceusdm", name="d"),
            account("binanceusdm", stream=spec, name="e", api_url="http://127.0.0.1:9")]
    assert shared_mark_endpoints(accs) == {("binanceusdm", "futures", False, None)}
    assert shared_mark_endpoints(accs, urls="http://127.0.0.1:9") == {("binanceusdm", "futures", False,
                                                                      "http://127.0.0.1:9")}


def test_a_fault_of_the_hubs_own_is_said_and_the_hub_starts_again(caplog):
    async def body():
        venue = MarkVenue()
        a, b = shared(rest_exchange(0.5), venue, "a"), shared(rest_exchange(0.3), venue, "b")
        await a.start_streams()
        await b.start_streams()
        await settle(lambda: len(venue.mark_watchers) == 1)
        hub = a._stream._hub
        broken = hub._run

        async def fault():
            raise RuntimeError("a fault of the hub's own")

        hub._run = fault
        hub._task.cancel()  # as if its task ended: the next start raises
        await asyncio.sleep(0)
        hub._task = None
        hub.join(a._stream)  # started with the fault: said, then started again
        await settle(lambda: "ended on a fault (RuntimeError)" in caplog.text)
        hub._run = broken
        await settle(lambda: hub.live() and len(venue.mark_watchers) == 2, timeout=3.0)
        await a.close()
        await b.close()

    asyncio.run(body())


def test_clients_are_built_one_at_a_time_with_the_loop_free_between_two():
    """200 streams starting in one pass of the loop built their clients back to back: a hold of
    seconds. Built in turn, the loop runs its other callbacks between two builds."""
    import time

    from adapters.ccxt_exchange.streaming.sockets import built_in_turn

    async def body():
        gaps: list[float] = []

        async def watch():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        def build():
            time.sleep(0.04)  # a client's construction
            return object()

        watcher = asyncio.ensure_future(watch())
        await asyncio.sleep(0)
        tapped: list = []
        clients = await asyncio.gather(*(built_in_turn(build, tapped.append) for _ in range(6)))
        watcher.cancel()
        assert len(set(map(id, clients))) == 6 and tapped == list(clients)
        assert max(gaps) < 0.12  # one build at a time (six back to back would be 0.24 s)

    asyncio.run(body())
