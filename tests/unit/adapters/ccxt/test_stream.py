"""The ccxt adapter's private stream against a hand-written ccxt.pro-like client: watches that
wait (their answers are not read) or raise a ccxt NetworkError for a disconnect, nothing at all
for a stall, the venue's raw frames through its ``handle_message`` (what ccxt calls for every
frame; the stream reads them there), and the REST side the fake of tests/unit/adapters/ccxt/fake.py."""

from __future__ import annotations

import asyncio
import logging

import ccxt
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.client import _rehost
from adapters.ccxt_exchange.streamed import BESIDE_LANES
from killswitch.runner.venue.port import Venues
from killswitch.runner.venue.streams import StreamWatch
from killswitch.snapshot import Order
from tests.unit.adapters.ccxt.fake import (
    API_KEY,
    BTC,
    FakeExchange,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    account,
    ccxt_order,
    ccxt_position,
    intent,
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


def test_a_live_stream_answers_the_snapshot_without_a_rest_call_and_wakes_on_a_change():
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.clients)
        first = await a.snapshot()  # REST, read once the connection began, seeds the stream's state
        assert first.fetch.calls > 0
        venue.raw(position_update(0.8, 1000), mark(51000.0, 1001))
        await settle(lambda: a.stream_health().state == "live" and len(woken) >= 2)
        snap = await a.snapshot()
        assert snap.fetch.ok and snap.fetch.calls == 0
        (p,) = snap.positions
        assert (p.contracts, p.mark_price, p.liquidation_price) == (0.8, 51000.0, 30000.0)
        assert woken[0] == "binanceusdm/main"
        venue.raw(mark(51000.0, 1001))  # the same mark again: dropped, counted, no wake
        assert a.stream_health().dropped == {"duplicate": 1}
        assert len(woken) == 2 and venue.clients[0].handled == [position_update(0.8, 1000)]  # marks are read here
        await a.close()
        assert venue.clients[0].closed

    asyncio.run(body())


def test_the_reconcile_cadence_reads_rest_counts_the_disagreement_and_rest_wins(caplog):
    async def body():
        rest, venue, clock = rest_exchange(contracts=0.5), Venue(), Clock(T0)  # (never overdue on a slow machine)
        a = adapter(rest, venue, stream={"reconcile_every": "200ms", "stale_after": "10s"}, stream_clock=clock)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(position_update(0.7, 1000))  # the stream is wrong: REST still says 0.5
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).positions[0].contracts == 0.7
        woken: list[str] = []
        a.set_wake(woken.append)
        clock.ms += 250
        snap = await a.snapshot()  # the cadence is due: the live stream answers, REST is read beside it
        assert snap.fetch.calls == 0 and snap.positions[0].contracts == 0.7
        await settle(lambda: a.stream_health().reconciles == 2)
        h = a.stream_health()
        assert (h.disagreements, h.reconciles) == (1, 2) and not h.answers  # REST in front of the snapshots now
        assert woken == ["binanceusdm/main"]  # REST's state took the stream's place: the runner reads it now
        again = await a.snapshot()  # it disagreed: REST again, until a reconcile agrees
        assert again.fetch.calls > 0 and again.positions[0].contracts == 0.5
        ok = await a.snapshot()  # it agreed: the stream's state, REST's now
        assert ok.fetch.calls == 0 and ok.positions[0].contracts == 0.5
        h = a.stream_health()
        assert (h.disagreements, h.reconciles) == (1, 3) and h.answers
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    said = [r.getMessage() for r in caplog.records if "disagree on positions" in r.getMessage()]
    assert len(said) == 1 and "stream=0.7 rest=0.5" in said[0]  # (its equity, 0.2 BTC of PnL apart, too)


def test_the_cadences_rest_read_runs_beside_the_snapshots_one_at_a_time_and_a_failed_one_is_tried_again(caplog):
    """A live, confirmed stream whose reconcile is due answers at once while REST is read beside
    it (a slow read never stands in front of a tick), one read at a time; a read that fails
    leaves the stream answering, is said once and tried again at the next snapshot. (The stream's
    clock is the test's: a slow machine never makes the reconcile overdue, 600 ms on.)"""
    async def body():
        rest, venue, clock = rest_exchange(contracts=0.5), Venue(), Clock(T0)
        a = adapter(rest, venue, stream={"reconcile_every": "200ms", "stale_after": "10s"}, stream_clock=clock)
        await live(a, venue)
        gate = asyncio.Event()

        async def held(*args):
            await gate.wait()
            return rest.positions

        rest.script["fetch_positions"] = [held]
        clock.ms += 250  # the cadence is due
        for _ in range(3):  # the read hangs: every snapshot is the stream's, and no second read begins
            snap = await asyncio.wait_for(a.snapshot(), 0.5)
            assert snap.fetch.calls == 0 and snap.positions[0].contracts == 0.5
        assert rest.names().count("fetch_positions") == 2
        gate.set()
        await settle(lambda: a.stream_health().reconciles == 2)
        assert a.stream_health().disagreements == 0
        rest.script["fetch_positions"] = [ccxt.NetworkError("connection reset")]
        clock.ms += 250  # the cadence is due
        assert (await a.snapshot()).fetch.calls == 0
        await settle(lambda: a.stream_health().reconcile_failures == 1)  # the read failed, and was counted
        assert rest.names().count("fetch_positions") == 3
        assert (await a.snapshot()).fetch.calls == 0  # failed: still the stream's, and read again beside it
        await settle(lambda: rest.names().count("fetch_positions") == 4)
        assert a.stream_health().reconciles == 2 and a.stream_health().state == "live"
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    said = [r.getMessage() for r in caplog.records if "reconcile's REST read failed" in r.getMessage()]
    assert len(said) == 1 and "EXCHANGE_UNAVAILABLE" in said[0]


def test_the_accounts_due_together_read_their_cadence_through_two_lanes_and_a_front_read_never_queues():
    """Accounts seeded together fall due together: their reads beside the ticks go through
    :data:`BESIDE_LANES` lanes of the process (a third waits for one, its stream answering
    meanwhile), so their answers are parsed one after another; a snapshot that must read REST in
    front does not wait behind the queue, its queued read beside is dropped."""
    async def body():
        clock = Clock(T0)
        gates = [asyncio.Event() for _ in range(3)]
        accounts = []
        for gate in gates:
            rest, venue = rest_exchange(contracts=0.5), Venue()
            a = adapter(rest, venue, stream={"reconcile_every": "200ms", "stale_after": "10s"}, stream_clock=clock)
            await live(a, venue)

            async def held(*args, gate=gate, rest=rest):
                await gate.wait()
                return rest.positions

            rest.script["fetch_positions"] = [held]
            accounts.append((a, rest))
        clock.ms += 250  # every account's cadence is due at once
        for a, _ in accounts:
            assert (await asyncio.wait_for(a.snapshot(), 0.5)).fetch.calls == 0  # the stream answers
        await settle(lambda: sum(r.names().count("fetch_positions") for _, r in accounts) == 3 + BESIDE_LANES)
        reading = [r.names().count("fetch_positions") == 2 for _, r in accounts]
        assert reading == [True, True, False]  # the third waits for a lane
        third, third_rest = accounts[2]
        third._stream.distrust("a test's disagreement")  # its next snapshot must read REST in front
        third_rest.script["fetch_positions"] = []
        snap = await asyncio.wait_for(third.snapshot(), 0.5)  # not behind the two lanes' reads
        assert snap.fetch.ok and snap.fetch.calls > 0
        for gate in gates:
            gate.set()
        await settle(lambda: all(a._behind is None for a, _ in accounts))
        for a, _ in accounts:
            await a.close()

    asyncio.run(body())


def test_an_order_of_a_kind_not_said_stays_in_doubt_past_a_rest_list_begun_before_it():
    """An order whose frame does not say its kind (Hyperliquid's documented order row) puts the
    stream in doubt until REST lists it. A REST read begun before the order came cannot name it:
    its reconcile keeps the order (newer than the read) and the doubt — the next snapshot reads
    REST in front — so a reduce-only stop is never taken for an entry (and cancelled as one
    under a halt) for want of its kind."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        await live(a, venue)
        stream = a._stream
        mark_at, token = stream.state.order_mark(), stream.reconcile_token()
        before = await a._rest_snapshot()  # a REST read begun before the order came: it lists none
        stop = Order(id="777", symbol=BTC, side="sell", type="limit", amount=0.5)  # all the frame says
        stream.state.apply_order("777", stream._known_kind("777", stop), T0)
        stream.reconcile(before, token, orders=True, orders_since=mark_at)
        assert stream.in_doubt == {"777"} and stream.orders_due and stream.needs_rest()
        rest.orders = [ccxt_order("777", side="sell", amount=0.5, price=60000.0, reduce_only=True)]
        snap = await a.snapshot()  # read in front, listing every open order: the stop is named
        assert snap.fetch.calls > 0 and [o.reduce_only for o in snap.orders if o.id == "777"] == [True]
        assert stream.in_doubt == set() and not stream.orders_due
        await a.close()

    asyncio.run(body())


def test_a_disconnect_is_down_then_reconnected_and_the_next_snapshot_reads_rest(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        a._stream.backoff_s = 0.3
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(wallet_update(900, 5))
        await settle(lambda: a.stream_health().state == "live")
        live = await a.snapshot()
        assert live.fetch.calls == 0
        venue.push("orders", ccxt.NetworkError(f"connection reset apiKey={API_KEY}"))
        await settle(lambda: a.stream_health().state == "down")
        assert a.stream_health().reason == "STREAM_DOWN"
        assert (await a.snapshot()).fetch.calls > 0  # down: REST
        await settle(lambda: len(venue.clients) == 2)
        assert venue.clients[0].closed and a.stream_health().reconnects == 1
        venue.raw(mark(50000.0, 2000))  # the venue as REST says it (a reconcile that disagrees reads REST again)
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).fetch.calls > 0  # after a reconnect REST wins first
        assert (await a.snapshot()).fetch.calls == 0
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "stream down (EXCHANGE_UNAVAILABLE)" in text and API_KEY not in text


def test_a_stalled_stream_is_stale_and_the_snapshot_reads_rest():
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue, stream={"stale_after": "150ms"})
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(mark(50500.0, 2000))
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).fetch.calls == 0
        await settle(lambda: a.stream_health().state == "stale")  # nothing comes
        h = a.stream_health()
        assert (h.state, h.reason) == ("stale", "STREAM_STALE")
        assert h.since_ms == h.last_message_ms + 150
        assert (await a.snapshot()).fetch.calls > 0
        await a.close()

    asyncio.run(body())


def test_a_subscription_answer_reaches_ccxt_but_never_makes_a_silent_stream_live():
    """A stalled venue still answers a new connection's subscriptions: were that a message, a
    stall would flap live and stale at every reconnect."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue, stream={"stale_after": "150ms"})
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        answer = {"result": None, "id": 1}
        venue.raw(answer)
        assert venue.clients[0].handled == [answer]
        h = a.stream_health()
        assert (h.state, h.last_message_ms) == ("connecting", None)
        venue.raw({"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "50000"})
        assert a.stream_health().state == "live"
        await a.close()

    asyncio.run(body())


def test_out_of_order_duplicate_and_malformed_frames_are_dropped_before_ccxt_and_counted_never_applied(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        newer = position_update(0.9, 1000)
        venue.raw(newer, position_update(0.1, 900))  # older than what is held
        venue.raw(newer, position_update(0.1, 950))  # the same again; another older
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 1100, "a": {"B": [], "P": [{"s": "BTCUSDT", "ps": "BOTH"}]}})
        venue.raw(mark(51000.0, 1200), mark(50000.0, 1150))
        assert a.stream_health().dropped == {"out_of_order": 3, "duplicate": 1, "malformed": 1}
        assert venue.clients[0].handled == [newer]  # (a mark never reaches ccxt)
        (p,) = (await a.snapshot()).positions
        assert (p.contracts, p.mark_price) == (0.9, 51000.0)
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    said = [r.getMessage() for r in caplog.records if "dropped (out_of_order)" in r.getMessage()]
    assert len(said) == 1  # once per kind and account


def test_every_frame_of_a_burst_reaches_the_state_though_ccxt_resolves_a_watch_with_one():
    """Five fills and marks back to back, read by ccxt before any watch is awaited again: the
    state holds the last of each, not the first."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(*[position_update(-0.1 * i, 1000 + i, wallet=1000 - i) for i in range(1, 6)],
                  mark(49000.0, 1006), mark(48500.0, 1007), order_update(7, "NEW", 1008),
                  order_update(8, "NEW", 1009), order_update(7, "FILLED", 1010))
        snap = await a.snapshot()
        assert snap.fetch.calls == 0
        (p,) = snap.positions
        assert (p.side, p.contracts, p.mark_price) == ("short", pytest.approx(0.5), 48500.0)
        assert snap.equity == pytest.approx(995 + p.unrealized_pnl)
        assert [o.id for o in snap.orders] == ["8"]
        assert a.stream_health().dropped == {} and len(woken) == 7  # 5 positions, 2 marks; orders never wake
        await a.close()

    asyncio.run(body())


def test_raw_messages_unknown_or_malformed_never_reach_ccxt_and_a_listen_key_expiry_reconnects(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        a._stream.backoff_s = 0.05
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        good = {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "50000"}
        venue.raw(good)
        venue.raw({"e": "SOMETHING_NEW", "E": 2})
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 3, "a": {"B": [{"a": "USDT"}], "P": []}})  # no wb
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 3, "a": {"B": [{"a": "USDT"}], "P": []}})
        assert venue.clients[0].handled == []  # a mark is read here, the others dropped
        assert a.stream_health().dropped == {"unknown": 1, "malformed": 2}
        venue.raw({"e": "listenKeyExpired", "E": 4})
        h = a.stream_health()
        assert (h.state, h.reason) == ("down", "LISTEN_KEY_EXPIRED")
        await settle(lambda: len(venue.clients) == 2)
        venue.raw(mark(50500.0, 2000))
        await settle(lambda: a.stream_health().state == "live")
        assert a.stream_health().reconnects == 1
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    dropped = [r.getMessage() for r in caplog.records if "dropped (malformed)" in r.getMessage()]
    assert len(dropped) == 1  # once per kind and account


def test_a_close_after_the_stream_saw_the_position_shrink_is_checked_against_what_it_holds():
    """The last REST read said 0.5; a fill the adapter did not send leaves 0.2 (the live,
    confirmed stream says so): a close of 0.5 is refused at once against the stream's 0.2, never
    sent larger than it; the refusal puts the stream in doubt, so REST checks the next close."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        rest.positions = [ccxt_position(contracts=0.2, mark=50000.0, entry=48000.0)]
        venue.raw(position_update(0.2, 1000))
        await settle(lambda: a.stream_health().answers)
        rest.calls.clear()
        with pytest.raises(AdapterError) as ei:
            await a.submit(intent(amount=0.5))
        assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION and "position of 0.2" in str(ei.value)
        assert rest.names() == []
        await a.submit(intent(amount=0.2))  # a refused close puts the stream in doubt: REST checks the next
        assert rest.names() == ["fetch_positions", "create_order"]
        await a.close()

    asyncio.run(body())


def test_a_close_after_the_stream_saw_the_position_grow_goes_at_once_and_the_next_chunk_is_ours_to_check():
    """A fill the adapter did not send grows the position from 0.5 to 0.8 (a bot's, an event's):
    the close of 0.8 planned from the stream's snapshot is checked against the stream's 0.8 and
    sent with no REST read in front, where it was refused against the 0.5 read before. Once an
    order of ours went, the stream (which has not seen its fill yet) no longer checks a close of
    that symbol: the known position less what was sent does, until the next REST read."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)
        await a.snapshot()
        venue.raw(position_update(0.8, 1000))
        await settle(lambda: a.stream_health().answers and a._stream.position_of(BTC, "long") == 0.8)
        rest.calls.clear()
        await a.submit(intent(amount=0.6, cid="ks" + "1" * 28))
        assert rest.names() == ["create_order"]
        with pytest.raises(AdapterError) as ei:  # the stream still says 0.8; 0.2 is what is left of ours
            await a.submit(intent(amount=0.3, cid="ks" + "2" * 28))
        assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
        await a.close()

    asyncio.run(body())


def test_a_reconcile_while_the_stream_is_down_takes_rest_without_counting_a_disagreement():
    """A stream down misses what it misses: REST's state takes its place at each read while it
    is down, and at the reconnect's, none of them a disagreement; live on the same sockets
    again, a reconcile that finds it wrong is one. (The stream's clock is the test's, still: a
    reconcile at every read, ``reconcile_every`` 0, is never overdue however slow the machine.)"""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue, stream_clock=Clock(T0))
        a._stream.backoff_s = 0.3
        await live(a, venue)
        venue.push("orders", ccxt.NetworkError("connection reset"))
        await settle(lambda: a.stream_health().state == "down")
        rest.positions = [ccxt_position(contracts=0.3, mark=50000.0, entry=48000.0, upnl=600.0)]
        assert (await a.snapshot()).positions[0].contracts == 0.3  # down: REST
        await settle(lambda: len(venue.clients) == 2)
        venue.raw(mark(50000.0, 6))
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).fetch.calls > 0  # the reconnect's reconcile
        assert (await a.snapshot()).fetch.calls == 0
        assert (a.stream_health().disagreements, a.stream_health().reconciles) == (0, 3)
        venue.raw(position_update(0.4, 10))  # REST still says 0.3: the stream is wrong
        a._stream.reconcile_every_ms = 0
        assert (await a.snapshot()).positions[0].contracts == 0.4  # the stream answers; the cadence's read beside it
        await settle(lambda: a.stream_health().disagreements == 1)
        assert (await a.snapshot()).positions[0].contracts == 0.3  # REST won
        await a.close()

    asyncio.run(body())


def test_a_rest_read_begun_before_a_socket_opened_is_read_again_after_it():
    """The user data socket opens while the reconnect's REST read is under way: a fill between
    the read and the opening reaches neither, so that read does not end the REST reads; the
    next one, begun with every socket open, does."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)
        rest.script["fetch_balance"] = [lambda params: (venue.open(), rest.balance)[1], rest.balance]
        venue.raw(mark(50000.0, 5))
        await settle(lambda: a.stream_health().state == "live")
        first = await a.snapshot()
        assert first.fetch.calls > 0 and venue.clients[-1].opened == 1
        second = await a.snapshot()  # the socket opened during the first read: REST again
        assert second.fetch.calls > 0
        third = await a.snapshot()  # read with every socket open, and it agreed: the stream's
        assert third.fetch.calls == 0
        h = a.stream_health()
        assert (h.reconciles, h.disagreements) == (2, 0)
        await a.close()

    asyncio.run(body())


def test_a_socket_opening_after_the_rest_base_wakes_the_runner_for_the_confirming_read():
    """The first REST read comes before the user data socket opens; the read that lets the
    stream answer alone must not wait for the tick a market event starts (a whole REST snapshot,
    most of a second at 10,000 positions): the opening wakes the runner, whose tick takes it."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.clients)
        venue.raw(mark(50000.0, 5))
        await settle(lambda: a.stream_health().state == "live")
        await a.snapshot()  # the REST base, before the user data socket opened
        woken.clear()
        venue.open()  # the user data socket opens now
        await settle(lambda: woken)
        assert set(woken) == {"binanceusdm/main"}
        assert (await a.snapshot()).fetch.calls > 0  # the confirming read ...
        assert (await a.snapshot()).fetch.calls == 0  # ... after which the stream answers alone
        await a.close()

    asyncio.run(body())


def test_a_close_refused_as_larger_than_the_position_sends_the_snapshots_back_to_rest(caplog):
    """The stream holds 0.5 where REST (the close's own read) holds 0.2: a close sized from the
    stream is refused, and the next snapshot is REST's, not the stream's larger position."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await live(a, venue)
        assert (await a.snapshot()).fetch.calls == 0
        rest.positions = [ccxt_position(contracts=0.2, mark=50000.0, entry=48000.0, upnl=400.0)]
        a.position_max_age_s = 0.0  # the close reads the position afresh
        with pytest.raises(AdapterError) as ei:
            await a.submit(intent(amount=0.5))
        assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
        after = await a.snapshot()
        assert after.fetch.calls > 0 and after.positions[0].contracts == 0.2
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    assert any("in doubt" in r.getMessage() and "snapshots read REST" in r.getMessage() for r in caplog.records)


def test_the_stream_snapshot_is_stamped_with_the_venues_event_time_not_its_arrival():
    """``ts_event`` is the venue's clock (``E``, as a REST snapshot's is the venue's), here far
    from ours; the latest of every message, an array of marks none of whose rows is held too."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)
        base = await a.snapshot()
        venue.raw(mark(50000.0, base.ts_event + 5_000))
        await settle(lambda: a.stream_health().state == "live")
        snap = await a.snapshot()
        assert snap.fetch.calls == 0 and snap.ts_event == base.ts_event + 5_000
        assert snap.ts_observed - snap.ts_event > 86_400_000  # the venue's clock is not ours
        venue.raw([{"e": "markPriceUpdate", "E": base.ts_event + 9_000, "s": "ETHUSDT", "p": "3000"}])
        await settle(lambda: a.stream_health().last_message_ms is not None)
        assert (await a.snapshot()).ts_event == base.ts_event + 9_000
        await a.close()

    asyncio.run(body())


def test_a_close_after_a_resting_close_was_cancelled_reads_the_position_again_and_is_sent():
    """Streamed snapshots do not refresh what the adapter knows of a position: a close of 0.5
    that rests unfilled takes 0.5 off it (it may fill while it rests); once it is cancelled, the
    next close of 0.5 reads the position (still 0.5) and is sent — not refused against a
    position of nothing."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await live(a, venue)
        rest.script["create_order"] = [ccxt_order("7", side="sell", amount=0.5, reduce_only=True, status="open")]
        await a.submit(intent(amount=0.5))
        assert (await a.snapshot()).fetch.calls == 0  # the stream's: it still holds 0.5
        rest.orders = [ccxt_order("7", side="sell", amount=0.5, reduce_only=True)]
        assert (await a.cancel_orders(CancelSelector(symbols=(BTC,)))).acknowledged == ("7",)
        rest.orders = []
        rest.script["create_order"] = [ccxt_order("8", side="sell", amount=0.5, filled=0.5, status="closed")]
        rest.calls.clear()
        await a.submit(intent(amount=0.5))
        assert rest.names() == ["fetch_positions", "create_order"]
        await a.close()

    asyncio.run(body())


def test_every_mark_is_watched_once_flat_or_not_and_only_the_held_symbols_marks_are_read():
    """One subscription of every mark (a live stream is never silent, flat or not), never
    begun again as positions come and go; of the array of every mark, the rows of the symbols
    held are read, the others only keep the stream live; no mark frame reaches ccxt."""
    async def body():
        rest, venue = FakeExchange(), Venue()  # flat at start
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.mark_symbols)
        await a.snapshot()
        eth = {"e": "markPriceUpdate", "E": 900, "s": "ETHUSDT", "p": "3000"}
        venue.raw([eth])
        assert a.stream_health().state == "live" and woken == [] and a._stream.state.marks == {}
        venue.raw(position_update(0.3, 1000))
        venue.raw([dict(eth, E=1001), mark(52000.0, 1001)])
        (p,) = (await a.snapshot()).positions
        assert (p.symbol, p.mark_price) == (BTC, 52000.0) and len(woken) == 2
        assert a._stream.state.marks == {BTC: 52000.0}
        await asyncio.sleep(0.05)
        # every mark, subscribed once (seen once as twice in a loaded suite: whether it reconnected)
        assert venue.mark_symbols == [None], (a._stream.reconnects, len(venue.clients), a.stream_health())
        assert venue.clients[0].handled == [position_update(0.3, 1000)]
        await a.close()

    asyncio.run(body())


def test_an_array_of_marks_again_late_or_unreadable_is_dropped_and_counted_by_row_and_never_applied():
    """The rows of an array of every mark, read as columns: the same array again is a duplicate
    of each held row, an older one out of order (each counted, neither applied nor waking the
    runner); a row without a number makes the whole array malformed; a row whose mark is not
    above zero is dropped alone. A single mark of the same symbol is ordered against the array's."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.mark_symbols)
        await a.snapshot()
        venue.raw(position_update(0.5, 1000))
        woken.clear()
        row = {"e": "markPriceUpdate", "E": 2000, "s": "BTCUSDT", "p": "51000"}
        eth = {"e": "markPriceUpdate", "E": 2000, "s": "ETHUSDT", "p": "3000"}  # not held: never read
        venue.raw([row, eth])
        assert a._stream.state.marks[BTC] == 51000.0 and woken == ["binanceusdm/main"]
        venue.raw([row, eth])  # the same array again
        venue.raw([dict(row, E=1999, p="40000")])  # an older one
        assert a.stream_health().dropped == {"duplicate": 1, "out_of_order": 1}
        venue.raw([dict(row, E=2001, p="fifty")])  # unreadable: the array is malformed
        venue.raw([dict(row, E=2002, p="0")])  # a mark of nothing: that row dropped
        assert a.stream_health().dropped == {"duplicate": 1, "out_of_order": 1, "malformed": 2}
        assert a._stream.state.marks[BTC] == 51000.0 and woken == ["binanceusdm/main"]
        venue.raw(mark(39000.0, 1500))  # a single mark older than the array's: not applied
        assert a._stream.state.marks[BTC] == 51000.0
        venue.raw([dict(row, E=2003, p="52000")])
        assert (await a.snapshot()).positions[0].mark_price == 52000.0 and len(woken) == 2
        await a.close()

    asyncio.run(body())


@pytest.mark.parametrize("venue_id, spec, reason", [
    ("zzfutures", {"enabled": True}, "STREAM_UNSUPPORTED"),  # a made-up id, no folder: the generic dialect polls
    ("zzfutures", None, "STREAM_UNSUPPORTED"),
    ("okx", None, "STREAM_DISABLED"),
    ("bybit", None, "STREAM_DISABLED"),
    ("binanceusdm", None, "STREAM_DISABLED"),
    ("binanceusdm", {"enabled": False}, "STREAM_DISABLED"),
])
def test_an_account_without_a_stream_is_off_with_its_reason_and_polls(venue_id, spec, reason, monkeypatch, caplog):
    monkeypatch.setenv("KS_TEST_PASS", "pass-phrase-42xyz")
    rest, venue = FakeExchange(venue_id), Venue()
    kw = {} if spec is None else {"stream": spec}
    a = CcxtAdapter(account(venue_id, **kw), exchange_factory=rest.factory, stream_factory=venue.factory)

    async def body():
        await a.start_streams()
        await a.start_streams()
        return await a.snapshot()

    with caplog.at_level(logging.INFO):
        snap = asyncio.run(body())
    h = a.stream_health()
    assert (h.state, h.reason) == ("off", reason)
    assert venue.clients == [] and snap.fetch.calls > 0
    said = [r for r in caplog.records if "STREAM_UNSUPPORTED" in r.getMessage()]
    assert len(said) == (1 if reason == "STREAM_UNSUPPORTED" else 0)
    if said:
        assert said[0].levelno == (logging.WARNING if spec else logging.INFO)


def test_a_stream_asked_for_and_not_started_yet_is_connecting_and_the_runner_does_not_say_it_polls(caplog):
    rest, venue = rest_exchange(), Venue()
    a = adapter(rest, venue)
    h = a.stream_health()
    assert (h.state, h.reason) == ("connecting", None)
    with caplog.at_level(logging.INFO):
        StreamWatch(Venues({"binanceusdm/main": a}), clock=lambda: 0).announce()
    assert not [r for r in caplog.records if "STREAM_OFF" in r.getMessage()]
    asyncio.run(a.close())
    assert (a.stream_health().state, a.stream_health().reason) == ("off", "STREAM_DISABLED")


def test_the_streaming_client_is_configured_as_the_rest_one_and_websocket_urls_keep_their_scheme():
    rest, venue = rest_exchange(), Venue()
    a = adapter(rest, venue)
    ex = a._stream._build()
    assert venue.config["apiKey"] == API_KEY and venue.config["timeout"] == 2000
    assert ex.options["watchPositions"]["fetchPositionsSnapshot"] is False
    assert _rehost({"ws": "wss://fstream.binance.com/ws", "rest": "https://fapi.binance.com/fapi/v1"},
                   "http://127.0.0.1:8765") == {"ws": "ws://127.0.0.1:8765/ws", "rest": "http://127.0.0.1:8765/fapi/v1"}
    assert _rehost("wss://fstream.binance.com/ws", "https://testnet.example") == "wss://testnet.example/ws"


def test_a_reconcile_makes_the_streams_positions_there_not_in_the_next_snapshot():
    from adapters.ccxt_exchange.streaming.stream import AccountStream
    from tests.unit.adapters.ccxt.test_streamstate import position, rest as rest_snapshot

    asked: list[str] = []

    def rules(symbol):
        asked.append(symbol)
        return None

    s = AccountStream("binanceusdm/main", quote="USDT", build=lambda: None, parse_order=lambda o: o,
                      contract_size=lambda _: 1.0, rules=rules, classify=lambda m: "ok",
                      events=lambda m, o, h: [], secrets=lambda: ())
    s.reconcile(rest_snapshot([position()]))
    assert asked == [BTC]  # made with the REST read
    asked.clear()
    assert s.snapshot().positions[0].contracts == 0.5
    assert asked == []


def test_a_mark_subscription_the_venue_refuses_is_named_said_once_valued_from_rest_and_never_answers_alone(caplog):
    """A ``refused`` message (the dialect's ``stream_refused`` names its symbol; none named: every
    symbol's): a symbol not held changes nothing; a held one is named on the health
    (STREAM_MARKS_REFUSED while live), said once (scrubbed), wakes the runner, and the stream
    answers no snapshot alone; a reconcile takes REST's mark of it, never compared."""
    from adapters.ccxt_exchange.streaming.stream import AccountStream
    from tests.unit.adapters.ccxt.test_streamstate import position, rest as rest_snapshot

    s = AccountStream("binanceusdm/main", quote="USDT", build=lambda: None, parse_order=lambda o: o,
                      contract_size=lambda _: 1.0, rules=lambda _: None, classify=lambda m: "refused",
                      events=lambda m, o, h: [], secrets=lambda: ("s3cret",), refused=lambda m: m.get("symbol"))
    woken: list[str] = []
    s.set_wake(woken.append)
    s.reconcile(rest_snapshot([position()]))
    s._enter("live", None)
    s.state.apply_mark(BTC, 51_000.0, 1)
    with caplog.at_level(logging.WARNING):
        s._read_message(None, "refused", {"symbol": "ETH/USDT:USDT", "msg": "Blocked! s3cret"})
        assert s.health().unstreamed == () and not s.needs_rest() and s.health().answers
        s._read_message(None, "refused", {"symbol": BTC, "msg": "Blocked! s3cret"})
    h = s.health()
    assert (h.state, h.reason, h.unstreamed, h.answers) == ("live", "STREAM_MARKS_REFUSED", (BTC,), False)
    assert s.needs_rest() and s.legs_of(BTC) is None and woken
    said = [r.getMessage() for r in caplog.records if "STREAM_MARKS_REFUSED" in r.getMessage()]
    assert len(said) == 1 and "ETH/USDT:USDT" in said[0] and "s3cret" not in said[0], said
    s.reconcile(rest_snapshot([position(mark=52_000.0)]))  # REST's mark, not the stream's 51,000
    assert s.state.marks[BTC] == 52_000.0 and s.snapshot().positions[0].mark_price == 52_000.0
    assert s.disagreements == 0 and s.needs_rest()
    s._refused.clear()  # (what a new connection begins with: every mark asked again)
    assert s.health().unstreamed == () and s.health().reason is None
    s._read_message(None, "refused", {"msg": "Blocked!"})  # no symbol named: every symbol's, each held named
    assert s.health().unstreamed == (BTC,)


# --- the reconciles' bookkeeping, on a fake clock -------------------------------------------------------


def test_failed_reconciles_count_until_a_good_one_and_past_three_cadences_the_snapshot_reads_rest_and_fails(caplog):
    """The cadence's reads fail: each counted with its reason, the stream answering alone while
    its last good reconcile is up to 3× reconcile_every old; past that it is overdue, answers no
    more, and the snapshot reads REST in front — a failed snapshot (blind), not the stream's calm.
    A good read ends the run of failures (counted from the good reconciles, nothing to reset)."""
    async def body():
        rest, venue, clock = rest_exchange(contracts=0.5), Venue(), Clock(T0)
        a = adapter(rest, venue, stream={"reconcile_every": "30s", "stale_after": "1h"}, stream_clock=clock)
        watch = StreamWatch(Venues({"binanceusdm/main": a}), clock=clock)
        await a.start_streams()
        await settle(lambda: venue.clients)
        await a.snapshot()  # the REST base, the first good reconcile
        venue.raw(mark(50000.0, 5))
        await settle(lambda: a.stream_health().state == "live")
        h = a.stream_health()
        assert (h.answers, h.reconciled_ms, h.reconcile_every_ms) == (True, T0, 30_000)
        assert (h.reconcile_failures, h.reconcile_failure_reason, h.reconcile_overdue) == (0, None, False)

        rest.script["fetch_positions"] = [ccxt.NetworkError("connection reset")]
        for n, at in enumerate((30_000, 60_000, 90_000), start=1):  # due each time; 90 s is 3× and not past it
            clock.ms = T0 + at
            snap = await a.snapshot()
            assert snap.fetch.ok and snap.fetch.calls == 0  # the stream answers; REST is read beside it
            await settle(lambda: a.stream_health().reconcile_failures == n)
            h = a.stream_health()
            assert (h.answers, h.reconcile_overdue, h.reconciled_ms) == (True, False, T0)
            assert h.reconcile_failure_reason == "EXCHANGE_UNAVAILABLE"
            watch.observe(clock.ms)

        clock.ms = T0 + 90_001  # past 3× reconcile_every: not confirmed any more
        h = a.stream_health()
        assert (h.state, h.answers, h.reconcile_overdue) == ("live", False, True)
        watch.observe(clock.ms)
        st = watch.status()["binanceusdm/main"]
        assert {k: st[k] for k in ("answers", "last_reconcile_ms", "last_reconcile_age_s", "reconcile_every_s",
                                   "reconcile_failures", "reconcile_failure_reason", "reconcile_overdue",
                                   "degraded")} == {
            "answers": False, "last_reconcile_ms": T0, "last_reconcile_age_s": 90.001, "reconcile_every_s": 30.0,
            "reconcile_failures": 3, "reconcile_failure_reason": "EXCHANGE_UNAVAILABLE", "reconcile_overdue": True,
            "degraded": True}
        reads = rest.names().count("fetch_positions")
        snap = await a.snapshot()  # REST in front, and REST fails: the snapshot fails, not the stream's calm
        assert not snap.fetch.ok and snap.fetch.error_code == "EXCHANGE_UNAVAILABLE"
        assert rest.names().count("fetch_positions") == reads + 1
        assert a.stream_health().reconcile_failures == 4  # a failed read in front counts as well

        rest.script.pop("fetch_positions")  # REST answers again
        clock.ms = T0 + 100_000
        snap = await a.snapshot()
        assert snap.fetch.ok and snap.fetch.calls > 0
        h = a.stream_health()
        assert (h.reconciled_ms, h.reconcile_failures, h.reconcile_failure_reason, h.reconcile_overdue) == \
            (T0 + 100_000, 0, None, False)
        assert h.answers and h.reconciles == 2  # it agreed: the stream answers alone again
        assert (await a.snapshot()).fetch.calls == 0
        watch.observe(clock.ms)
        assert watch.status()["binanceusdm/main"]["last_reconcile_age_s"] == 0.0
        await a.close()

    with caplog.at_level(logging.INFO):
        asyncio.run(body())
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "RECONCILE" in r.getMessage()]
    assert said == [
        ("WARNING", "STREAM_RECONCILE_OVERDUE: binanceusdm/main: not reconciled against REST for 90.0s "
                    "(reconcile_every 30s; 3 failed read(s) in a row, the last EXCHANGE_UNAVAILABLE); its stream is "
                    "not confirmed any more: each snapshot reads REST in front, blind while REST fails (said once; "
                    "STREAM_RECONCILED when a reconcile is good again)"),
        ("INFO", "STREAM_RECONCILED: binanceusdm/main: a REST reconcile is good again; its stream answers alone"),
    ]


def test_a_new_entry_order_wakes_the_runner_only_while_it_watches_entries():
    """An order never woke the runner; under a lock that cancels entries it asks for them
    (``wake_on_entries``): a new open order that is not reduce-only wakes it then, a reduce-only
    one and an update that changes nothing do not, and once let go orders are quiet again."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.clients)
        await a.snapshot()
        venue.raw(order_update(1, "NEW", 1001))
        await a.snapshot()
        assert woken == []  # not watching: an order never wakes
        a.wake_on_entries(True)
        venue.raw(order_update(2, "NEW", 1002))
        await settle(lambda: woken)
        assert woken == ["binanceusdm/main"]
        reduce_only = order_update(3, "NEW", 1003)
        reduce_only["o"]["R"] = True
        venue.raw(reduce_only, order_update(2, "NEW", 1002))  # reduce-only; the same event again
        snap = await a.snapshot()
        assert {(o.id, o.reduce_only) for o in snap.orders} == {("1", False), ("2", False), ("3", True)}
        assert len(woken) == 1
        a.wake_on_entries(False)
        venue.raw(order_update(4, "NEW", 1004))
        snap = await a.snapshot()
        assert "4" in {o.id for o in snap.orders} and len(woken) == 1
        await a.close()

    asyncio.run(body())


def test_a_new_entry_is_handed_to_the_venue_watch_only_while_it_watches_entries():
    """The venue watch's fast path: while the runner watches entries, each new open order that
    is not reduce-only is handed over as it comes (with the stream's positions of its symbol and
    whether the stream still holds it open), before the wake; a reduce-only one is not."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        seen: list[tuple[str, str]] = []
        a.set_entry_watch(lambda key, o: seen.append((key, o.id)))
        await live(a, venue)
        venue.raw(order_update(1, "NEW", 1001))
        await a.snapshot()
        assert seen == []  # not watching
        a.wake_on_entries(True)
        reduce_only = order_update(3, "NEW", 1003)
        reduce_only["o"]["R"] = True
        venue.raw(reduce_only, order_update(2, "NEW", 1002))
        await settle(lambda: seen)
        assert seen == [("binanceusdm/main", "2")]
        assert a.stream_holds_open("2") is True and a.stream_holds_open("9") is False
        assert a.stream_legs("BTC/USDT:USDT") == {"BTC/USDT:USDT|long": 0.5}
        await a.close()

    asyncio.run(body())


def test_a_cancel_of_an_order_the_stream_told_of_does_not_list_every_open_order():
    """The venue watch cancels a rogue's entry it saw on the stream, by its order id: the
    stream's orders are known, so the cancel goes out at once — never behind a list of every
    open order (Binance: 40 of its weight, which the client paces at seconds)."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await live(a, venue)
        venue.raw(order_update(77, "NEW", 10))
        await settle(lambda: "77" in a._stream.state.orders)
        rest.calls.clear()
        got = await a.cancel_orders(CancelSelector(order_ids=("77",)))
        assert got.canceled == ("77",) and not got.failed
        assert rest.names() == ["cancel_order"]  # no fetch_open_orders before it
        await a.close()

    asyncio.run(body())


def test_a_cancel_the_venue_does_not_find_as_the_stream_told_it_asks_the_venues_list_once():
    """What the stream told of an order may be stale (its symbol as the stream's client read
    it): a cancel the venue answers "unknown order" lists the open orders once and cancels the
    order as the venue lists it; an order the venue does not list stays ORDER_NOT_FOUND."""
    import ccxt

    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await live(a, venue)
        venue.raw(order_update(77, "NEW", 10), order_update(78, "NEW", 11))
        await settle(lambda: {"77", "78"} <= set(a._stream.state.orders))
        rest.orders = [ccxt_order("77")]  # the venue lists 77; 78 is gone there
        unknown = ccxt.OrderNotFound('binanceusdm {"code":-2011,"msg":"Unknown order sent."}')
        rest.script["cancel_order"] = [unknown, unknown, {"id": "77"}]
        rest.calls.clear()
        got = await a.cancel_orders(CancelSelector(order_ids=("77", "78")))
        assert got.canceled == ("77",) and got.failed == {"78": "ORDER_NOT_FOUND"}, got
        names = rest.names()  # the two cancels first, then the venue's list (and its algo list), then one more
        assert names[:2] == ["cancel_order", "cancel_order"] and names[-1] == "cancel_order", names
        assert set(names[2:-1]) == {"fetch_open_orders"}, names
        await a.close()

    asyncio.run(body())


def test_a_position_that_flipped_side_since_the_read_is_closed_against_the_streams_leg():
    """REST read a long of 0.5; a fill the adapter did not send flipped it to a short of 0.3 (an
    event's market buy flips a short the same way): the short's close, planned from the stream's
    snapshot, is checked against the stream's short and sent with no REST read in front (it was
    refused, "no open position to close", against the read that knew only the long); a second
    close after it is checked against what is left of the short, nothing."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)
        await a.snapshot()
        venue.raw(position_update(-0.3, 1000))
        await settle(lambda: a.stream_health().answers and a._stream.position_of(BTC, "short") == 0.3)
        snap = await a.snapshot()  # the tick's snapshot, the close planned from it
        assert [(p.side, p.contracts) for p in snap.positions] == [("short", 0.3)]
        rest.calls.clear()
        await a.submit(intent(side="buy", amount=0.3, cid="ks" + "3" * 28))
        assert rest.names() == ["create_order"]
        with pytest.raises(AdapterError) as ei:
            await a.submit(intent(side="buy", amount=0.3, cid="ks" + "4" * 28))
        assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
        await a.close()

    asyncio.run(body())
