"""The private stream end to end: the real :class:`CcxtAdapter`, built as the runner's bootstrap
builds it from an Accounts entry with a ``stream`` block, against the simulated exchange's
websocket faces (``ccxt.pro.binanceusdm`` over ``/private/ws`` and ``/market/ws``;
``ccxt.pro.bybit`` over ``/v5/private`` and ``/v5/public/linear``; ``ccxt.pro.okx`` over
``/ws/v5/private``, ``/ws/v5/business`` and ``/ws/v5/public``; ``ccxt.pro.bitget`` over
``/v2/ws/private`` and ``/v2/ws/public``), with each of the faces' stream faults. The cases that
do not depend on a venue's protocol run over every one (``venue``); a listen key and the array of
every mark are Binance's alone.

The engine runs on the wall clock (the stream's event times advance as a venue's do; a manual
clock would stamp every mark push alike), marks pushed every 100 ms, ``stale_after`` 1 s.
Waits are bounded by :data:`DEADLINE_S`, a bound on events, never a measured duration; what is
asserted of time is an order (the data age is the stream's silence, not the time of reading).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from adapters.base import AdapterError
from adapters.simulated.engine import ManualClock
from adapters.simulated.faces.channels import ChannelFace
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.simulated.venues import sim_account
from killswitch.process.bootstrap import ccxt_adapters
from tests.integration.sim_helpers import T0, intent, run, streamed_venues
from tests.procs import until

DEADLINE_S = 10.0
KEY = "binanceusdm/sim-main"
FACES = streamed_venues()
VENUES = tuple(FACES)
BTC_U = "BTC/USDT:USDT"
FLAT = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}


class Rig:
    """A server on the wall clock, the adapter of ``sim-main`` with a stream block, a REST
    client of the same account (the desk's bot), and the wakes the adapter called."""

    def __init__(self, stale_after: str, reconcile_every: str, venue: str = "binanceusdm",
                 clock: Any = wall_clock):
        self.venue, self.key = venue, f"{venue}/sim-main"
        self.engine = build("calm", clock)
        for symbol, price in FLAT.items():
            self.engine.set_mark(symbol, price)
        self.server = SimServer(self.engine, auth_clock=wall_clock,
                                stream={"mark_every_ms": 100, "mark_every_1s_ms": 100, "tick_s": 0.02})
        for face in self.server.streams.values():  # OKX's unchanged marks every 100 ms, not its 10 s;
            if isinstance(face, ChannelFace):  # Bitget's quiet tickers too: stale_after is 1 s
                face.mark_every_ms = face.quiet_every_ms = 100
                face.tick_s = 0.02
        self.stale_after, self.reconcile_every = stale_after, reconcile_every
        self.wakes: list[str] = []
        self.adapter: Any = None
        self.bot: Any = None

    async def __aenter__(self) -> "Rig":
        await self.server.start()
        account = sim_account(self.server, "sim-main", self.venue, stream={
            "enabled": True, "stale_after": self.stale_after, "reconcile_every": self.reconcile_every})
        self.adapters = ccxt_adapters([account], rate_limit=False)
        self.adapter = self.adapters.by_key[self.key]
        self.adapter.set_wake(self.wakes.append)
        self.bot = FACES[self.venue].sim_client(self.server, "sim-main")  # the desk's REST client
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.adapters.close()
        await self.bot.close()
        await self.server.stop()

    @property
    def health(self) -> Any:
        return self.adapter.stream_health()

    def rest_reads(self) -> int:
        """REST reads the face answered so far (the listen key's calls are the stream's own)."""
        return sum(1 for _, path, _ in self.server.requests if "listenKey" not in path)

    async def live(self) -> None:
        """Streams started, live, and the reconnect's REST reconcile taken: the next snapshot is
        the stream's."""
        await self.adapter.start_streams()
        await until(lambda: self.health.state == "live", "the stream live", DEADLINE_S)
        await self.adapter.snapshot()  # the REST reconcile of the (re)connect
        await self.from_stream()

    async def from_stream(self) -> Any:
        """A snapshot that read no REST (asserted by the face's request log too)."""
        before = self.rest_reads()
        snap = await self.adapter.snapshot()
        assert snap.fetch.ok and snap.fetch.calls == 0, snap.fetch
        assert self.rest_reads() == before
        return snap

    async def seen(self, ok: Any, what: str) -> Any:
        """Snapshots from the stream until one satisfies ``ok`` (the updates of one frame reach
        the state by more than one watch)."""
        end = time.monotonic() + DEADLINE_S
        while True:
            snap = await self.from_stream()
            if ok(snap):
                return snap
            assert time.monotonic() < end, f"gave up waiting: {what}"
            await asyncio.sleep(0.02)

    def truth(self) -> dict:
        """The engine's positions of sim-main: symbol → signed contracts."""
        legs = self.engine.accounts["sim-main"].legs
        return {f"{s[:-4]}/USDT:USDT": leg.amount for (s, _), leg in legs.items() if leg.amount}


def positions(snap: Any) -> dict:
    return {p.symbol: p.contracts * (1 if p.side == "long" else -1) for p in snap.positions}


def rig(test, *, stale_after: str = "1s", reconcile_every: str = "30s", timeout: float = 40.0,
        venue: str = "binanceusdm", clock: Any = wall_clock):
    async def go():
        async with Rig(stale_after, reconcile_every, venue, clock) as r:
            return await test(r)
    return run(go(), timeout)


# --- live ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_live_stream_answers_snapshots_without_rest_and_as_the_engine_holds_them(venue):
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        assert positions(snap) == pytest.approx(r.truth()) and r.truth()
        assert snap.equity == pytest.approx(r.engine.accounts["sim-main"].wallet
                                            + sum(p.unrealized_pnl for p in snap.positions))
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.reconciles) == ("live", None, 0, 0, 1)
    rig(t, venue=venue)


@pytest.mark.parametrize("venue", VENUES)
def test_a_fill_and_a_set_mark_reach_the_snapshot_from_the_stream_and_wake_the_runner(venue):
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC_U]
        r.wakes.clear()
        await r.bot.create_order(BTC_U, "market", "buy", 0.01)
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        assert set(r.wakes) == {r.key}
        snap = await r.seen(lambda s: positions(s)[BTC_U] == pytest.approx(before + 0.01), "the fill")
        assert positions(snap)[BTC_U] == pytest.approx(before + 0.01) == r.truth()[BTC_U]

        r.wakes.clear()
        r.engine.set_mark("BTCUSDT", 55_000.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: any(p.mark_price == 55_000.0 for p in s.positions), "the mark")
        (btc,) = [p for p in snap.positions if p.symbol == BTC_U]
        assert btc.mark_price == 55_000.0
        assert btc.notional == pytest.approx(btc.contracts * 55_000.0)
    rig(t, venue=venue)


@pytest.mark.parametrize("venue", VENUES)
def test_fills_back_to_back_all_reach_the_state_before_any_reconcile(venue):
    """Six fills sent at once (within the face's order rate): their frames come back to back,
    faster than a ccxt watch is awaited again; the stream's positions are the venue's without a
    REST read."""
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())
        orders = [(BTC_U, "buy", 0.01), ("ETH/USDT:USDT", "sell", 0.5), ("SOL/USDT:USDT", "buy", 3.0)] * 2
        await asyncio.gather(*[r.bot.create_order(sym, "market", side, amount) for sym, side, amount in orders])
        assert r.truth() != before
        snap = await r.seen(lambda s: positions(s) == pytest.approx(r.truth()), "every fill")
        # nothing dropped but, under load, a frame the face built after a second fill of the same
        # symbol had landed: it repeats the one before it, time and size, and is a duplicate
        assert r.health.reconciles == 1 and set(r.health.dropped) <= {"duplicate"}, r.health.dropped
        assert snap.equity == pytest.approx(r.engine.accounts["sim-main"].wallet
                                            + sum(p.unrealized_pnl for p in snap.positions), rel=1e-6)
    rig(t, venue=venue)


# --- faults -------------------------------------------------------------------------------------------


class States:
    """The stream's states as sampled every 10 ms while a fault plays out."""

    def __init__(self, r: Rig):
        self.r = r
        self.seen: list[tuple[str, Any]] = []
        self._task: Any = None

    def __enter__(self) -> "States":
        async def sample():
            while True:
                self._look()
                await asyncio.sleep(0.01)
        self._task = asyncio.ensure_future(sample())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._task.cancel()
        self._look()  # the state at the end, which the sampler may not have looked at yet

    def _look(self) -> None:
        h = self.r.health
        if not self.seen or self.seen[-1] != (h.state, h.reason):
            self.seen.append((h.state, h.reason))


@pytest.mark.parametrize("venue", VENUES)
def test_a_disconnect_is_down_then_reconnected_counted_and_read_over_rest_first(venue):
    async def t(r: Rig):
        await r.live()
        with States(r) as states:
            # on the user data socket, whose watches are awaited: a market socket may be the one
            # of every mark, subscribed while flat and left when the watch moved to the
            # positions' symbols — no watch awaits it, so its disconnect fails nothing
            r.server.faults.stream("stream_disconnect", op="stream:user", times=1)
            await r.bot.create_order(BTC_U, "market", "buy", 0.01)  # a frame on it
            # (seen by the sampler: the reconnect may end the down spell between two looks at it)
            await until(lambda: ("down", "STREAM_DOWN") in states.seen, "the stream down", DEADLINE_S)
            down = await r.adapter.snapshot()  # down, or reconnected just now: REST answers either way
            assert down.fetch.ok and down.fetch.calls > 0
            await until(lambda: r.health.state == "live", "the stream live again", DEADLINE_S)
        assert ("down", "STREAM_DOWN") in states.seen and states.seen[-1] == ("live", None)
        assert r.health.reconnects == 1
        before = r.rest_reads()
        again = await r.adapter.snapshot()  # the reconnect's reconcile: REST wins first
        assert again.fetch.calls > 0 and r.rest_reads() > before
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, venue=venue)


@pytest.mark.parametrize("venue", VENUES)
def test_a_stall_is_stale_after_stale_after_read_over_rest_and_its_data_age_is_the_silence(venue):
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream("stream_stall")  # every frame of every socket: open and silent
        await asyncio.sleep(0.3)
        quiet = await r.from_stream()  # not stale yet: the stream's state, as old as its last message
        last = r.health.last_message_ms
        # stamped with the venue's time: the event time of the last message (the engine's wall
        # clock here), or the REST base's when that read came later
        assert r.health.state == "live" and quiet.ts_event > last - 1000
        assert quiet.ts_observed - quiet.ts_event >= 200  # its age is the silence, not "now"
        await until(lambda: r.health.state == "stale", "the stream stale", DEADLINE_S)
        h = r.health
        assert h.reason == "STREAM_STALE" and h.since_ms == h.last_message_ms + 1000
        stale = await r.adapter.snapshot()
        assert stale.fetch.ok and stale.fetch.calls > 0 and stale.ts_observed - stale.ts_event < 1000
        assert positions(stale) == pytest.approx(r.truth())
        r.server.faults.switch_off("stream")
        await until(lambda: r.health.state == "live", "the stream live again", DEADLINE_S)
        await r.adapter.snapshot()  # a reconnect's reconcile, if the stall outlived the connection
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, venue=venue)


@pytest.mark.parametrize("venue", VENUES)
def test_a_stall_longer_than_three_stale_afters_reconnects_and_is_never_live_while_silent(venue):
    async def t(r: Rig):
        await r.live()
        with States(r) as states:
            r.server.faults.stream("stream_stall")
            await until(lambda: r.health.reconnects >= 1, "a reconnect of the stalled stream", DEADLINE_S)
            await asyncio.sleep(1.5)  # the new connection, silent too
            silent = list(states.seen)
            r.server.faults.switch_off("stream")
            await until(lambda: r.health.state == "live", "the stream live again", DEADLINE_S)
        assert silent[0] == ("live", None) and ("live", None) not in silent[1:], silent
        assert ("stale", "STREAM_STALE") in silent
    rig(t, venue=venue)


@pytest.mark.parametrize("kind,counted,least", [("stream_duplicate", "duplicate", 4),
                                                 ("stream_out_of_order", "out_of_order", 2)])
def test_duplicate_and_out_of_order_marks_are_counted_and_never_corrupt_the_state(kind, counted, least, caplog):
    """Every mark frame duplicated, or each second one held back behind the next, while four
    marks are set: at least one duplicate of each set mark (each reaches two subscriptions), and
    of the frames held back, those followed by one of the same symbols on the ``!markPrice@arr``
    socket (every 100 ms) are out of order; none applied, the last mark held."""
    async def t(r: Rig):
        await r.live()
        assert r.health.dropped == {}
        r.server.faults.stream(kind, op="stream:market")
        for price in (59_000.0, 58_000.0, 57_000.0, 56_000.0):
            r.engine.set_mark("BTCUSDT", price)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)  # the face's pushes every 100 ms: what was held back goes behind them
        r.server.faults.switch_off("stream:market")
        snap = await r.seen(lambda s: any(p.mark_price == 56_000.0 for p in s.positions), "the last mark")
        assert positions(snap) == pytest.approx(r.truth())
        dropped = r.health.dropped
        # a frame held back behind the face's next push of the same mark at the same event time
        # reads as a duplicate of it (a drop too): on a loaded machine the push may come first
        also = {"duplicate"} if counted == "out_of_order" else set()
        assert counted in dropped and set(dropped) <= {counted} | also and dropped[counted] >= least, dropped
        rest = await r.adapter._rest_snapshot()  # what the next reconcile reads
        assert {p.symbol: p.mark_price for p in snap.positions} == {p.symbol: p.mark_price for p in rest.positions}
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({counted})" in m.getMessage()]
    assert len(said) == 1, said  # once per kind and account


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_user_frame_is_counted_and_the_stream_reads_the_next_one(body, kind, venue):
    """Cut JSON stops ccxt's receive loop of its socket (the mark socket flows on, so the stream
    would look live while its user data is dead): the frame is dropped, counted, and the next
    fill still reaches the state."""
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC_U]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        await r.bot.create_order(BTC_U, "limit", "buy", 0.01, 50_000.0)  # its NEW is broken
        await until(lambda: r.health.dropped.get(kind, 0) == 1, f"the frame counted {kind}", DEADLINE_S)
        await r.bot.create_order(BTC_U, "market", "buy", 0.01)
        snap = await r.seen(lambda s: positions(s)[BTC_U] == pytest.approx(before + 0.01), "the next fill")
        assert positions(snap) == pytest.approx(r.truth())
        assert r.health.state == "live" and r.health.reconnects == 0
    rig(t, venue=venue)


def test_an_expired_listen_key_is_down_then_reconnected_with_a_new_key():
    async def t(r: Rig):
        await r.live()
        old = r.server.stream.keys.live("sim-main", r.engine.now()).key
        with States(r) as states:
            r.server.faults.stream("listen_key_expired", op="listen_key", times=1)
            await until(lambda: r.health.reconnects == 1 and r.health.state == "live", "a new connection",
                        DEADLINE_S)
        assert ("down", "LISTEN_KEY_EXPIRED") in states.seen
        new = r.server.stream.keys.live("sim-main", r.engine.now()).key
        assert new != old
        assert any(s.key is not None and s.key.key == new for s in r.server.stream.sockets)
        before = positions(await r.adapter.snapshot())[BTC_U]  # the reconnect's REST reconcile
        await r.bot.create_order(BTC_U, "market", "buy", 0.01)
        await r.seen(lambda s: positions(s)[BTC_U] == pytest.approx(before + 0.01), "a fill on the new key")
    rig(t)


# --- a close through the stream -----------------------------------------------------------------------


def test_a_close_in_rounds_with_fills_in_one_engine_millisecond_and_the_user_stream_dropped_ends_flat():
    """A close-all in rounds as the runner makes it: each round one snapshot, then every
    position it shows closed in three reduce-only chunks, sized from that snapshot. The engine's
    clock is a manual one (every fill and frame of a round has the same event time ``E``); half
    of each chunk fills (the rest expires) until round 6, then all; the user data stream is
    dropped mid-close in rounds 1 and 3 (its next frame, a fill's, never sent). Every round's
    snapshot is the venue's, never the stream's missing the dropped fills: no close is refused
    as larger than the position, and the account is flat by round 9."""
    async def t(r: Rig):
        await r.live()
        r.engine.set_fill_ratio(0.5)
        refused: list[str] = []
        sent = 0
        rounds = 0
        for rounds in range(1, 10):
            clock.advance(20_000)  # the runner's interval (and the venue's weight window moves on)
            if rounds in (1, 3):
                r.server.faults.stream("stream_disconnect", op="stream:user", times=1)
            if rounds == 6:
                r.engine.set_fill_ratio(1.0)
            snap = await r.adapter.snapshot()
            assert snap.fetch.ok
            for p in snap.positions:
                side = "sell" if p.side == "long" else "buy"
                step = r.adapter.market_rules(p.symbol).amount_step
                chunks = [round(p.contracts / 3 / step) * step] * 2
                chunks.append(p.contracts - sum(chunks))
                for i, amount in enumerate(a for a in chunks if a > 0):
                    try:
                        await r.adapter.submit(intent(p.symbol, side, amount, cid=f"ks-r{rounds}-{p.symbol[:3]}-{i}",
                                                      venue="binanceusdm"))
                        sent += 1
                    except AdapterError as e:
                        refused.append(f"round {rounds}: {e}")
            await asyncio.sleep(0.1)  # the runner's next tick comes later than the frames
            if not r.truth():
                break
        assert refused == [] and sent > 0
        assert r.truth() == {} and rounds < 9
        assert r.health.reconnects >= 1
        assert positions(await r.adapter.snapshot()) == {}
    clock = ManualClock(T0)
    rig(t, clock=clock, timeout=60.0)
