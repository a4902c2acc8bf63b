"""A live stream's snapshots and the REST reconciles beside them: answered without a REST call,
the cadence's read (REST wins a disagreement), its lanes, the bookkeeping of failed reconciles,
and what a socket opening or a stream down does to the next read."""

from __future__ import annotations

import asyncio
import logging

import ccxt

from adapters.ccxt_exchange.streamed import BESIDE_LANES
from killswitch.runner.venue.port import Venues
from killswitch.runner.venue.streams import StreamWatch
from killswitch.snapshot import Order
from tests.unit.adapters.ccxt.fake import (
    BTC,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    ccxt_order,
    ccxt_position,
)

from .rig import (
    T0,
    Clock,
    Venue,
    adapter,
    live,
    mark,
    position_update,
    rest_exchange,
    settle,
)


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
