"""Hyperliquid's stream end to end: the real :class:`CcxtAdapter` built from an Accounts entry with a
``stream`` block (``ccxt.pro.hyperliquid`` over the simulator's ``/ws``: ``clearinghouseState``
and ``orderUpdates``), each of the face's stream faults, trigger orders, and ``ksctl run``
in-process woken by the stream's position and order events.

The engine runs on the wall clock; the face's blocks every 20 ms, the account's state pushed
every 200 ms besides its changes, ``stale_after`` 1 s. Waits are bounded by :data:`DEADLINE_S`
(a bound on events, never a measured duration).
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.venues.hyperliquid.face import account_address, account_key, hyperliquid_client
from tests.integration.stream.rig import DEADLINE_S, FLAT, StreamRig
from tests.integration.stream.test_adapter import States
from tests.procs import until
from tests.unit.engine_helpers import loss_policy

pytest.importorskip("ccxt")

KEY = "hyperliquid/sim-main"
BTC = "BTC/USDC:USDC"
FACE = {"tick_s": 0.02, "state_every_ms": 200}
CLOID = "0xa1" + "0" * 29 + "1"  # a bot's cloid (0x and 32 hex digits)


class Rig(StreamRig):
    """The shared rig on Hyperliquid, with a REST client of the same account (the desk's bot)."""

    VENUE = "hyperliquid"
    FACE = FACE
    RATE_LIMIT = False

    def __init__(self, stale_after: str = "1s", reconcile_every: str = "30s", quote: str = "USDC"):
        super().__init__(stale_after, reconcile_every, quote_currency=quote)

    async def __aenter__(self) -> "Rig":
        await super().__aenter__()
        self.bot = hyperliquid_client(self.server, "sim-main")
        await self.bot.load_markets()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.bot.close()
        await super().__aexit__(*exc)

    def truth(self) -> dict:
        legs = self.engine.accounts["sim-main"].legs
        return {f"{s[:-4]}/USDC:USDC": leg.amount for (s, _), leg in legs.items() if leg.amount}

    def frames(self, channel: str) -> list[Any]:
        return [json.loads(t)["data"] for _, t in self.server.streams["hyperliquid"].sent
                if t.startswith('{"channel":"%s"' % channel)]


def venue_calls(monkeypatch: Any) -> list[tuple[str, str]]:
    """(path, type) of every request the simulated venue answers from now on, in order: an
    ``/info`` read's ``type``, an ``/exchange`` action's."""
    from adapters.venues.hyperliquid import face

    seen: list[tuple[str, str]] = []
    dispatch = face._Face.dispatch

    def noted(self: Any, op: str, path: str, *args: Any) -> Any:
        seen.append((path, self.kind))
        return dispatch(self, op, path, *args)

    monkeypatch.setattr(face._Face, "dispatch", noted)
    return seen


def infos(calls: list[tuple[str, str]]) -> list[str]:
    return [kind for path, kind in calls if path == "/info"]


def positions(snap: Any) -> dict:
    return {p.symbol: p.contracts * (1 if p.side == "long" else -1) for p in snap.positions}


rig = Rig.run


# --- live ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quote", ["USDC", "USDT"])  # the equity is USDC's whatever the account declares
def test_a_live_stream_answers_snapshots_without_rest_as_the_venue_holds_them(quote):
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        assert positions(snap) == pytest.approx(r.truth()) and r.truth()
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6)
        assert {p.symbol: p.mark_price for p in snap.positions} == pytest.approx(
            {p.symbol: p.mark_price for p in rest.positions})
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.reconciles, h.dropped) == (
            "live", None, 0, 0, 1, {})
        # the channels ccxt.pro's watches subscribed: the state and the orders of the account's address
        subs = [sub for s in r.server.streams["hyperliquid"].sockets for sub in s.pushed["subs"].values()]
        assert sorted(s["type"] for s in subs) == ["clearinghouseState", "orderUpdates"]
        assert {s["user"].lower() for s in subs} == {account_address("sim-main")}
    rig(t, quote=quote)


def test_a_fill_and_a_set_mark_reach_the_snapshot_from_the_stream_and_wake_the_runner():
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC]
        r.wakes.clear()
        await r.bot.create_order(BTC, "limit", "buy", 0.01, 61_000.0, {"timeInForce": "Ioc"})
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        assert set(r.wakes) == {KEY}
        snap = await r.seen(lambda s: positions(s)[BTC] == pytest.approx(before + 0.01), "the fill")
        assert positions(snap) == pytest.approx(r.truth())
        # the IOC filled within its block: one update, filled, never an open order of unknown kind
        assert [u["status"] for f in r.frames("orderUpdates") for u in f] == ["filled"]

        r.wakes.clear()
        r.engine.set_mark("BTCUSDT", 55_000.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(55_000.0) for p in s.positions), "the mark")
        (btc,) = [p for p in snap.positions if p.symbol == BTC]
        assert btc.notional == pytest.approx(btc.contracts * 55_000.0)
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6)
    rig(t)


def test_a_position_closed_elsewhere_is_flat_in_the_next_state_frame():
    """The clearinghouse state is a snapshot: a position it no longer lists is flat."""
    async def t(r: Rig):
        await r.live()
        sol = positions(await r.from_stream())["SOL/USDC:USDC"]
        await r.bot.create_order("SOL/USDC:USDC", "limit", "buy", -sol, 150.0, {"timeInForce": "Ioc",
                                                                                  "reduceOnly": True})
        snap = await r.seen(lambda s: "SOL/USDC:USDC" not in positions(s), "SOL flat")
        assert positions(snap) == pytest.approx(r.truth())
    rig(t)


# --- orders, trigger orders included -----------------------------------------------------------------


def test_a_resting_order_of_unknown_kind_is_asked_by_its_oid_and_handed_over_as_an_entry(monkeypatch):
    """``orderUpdates`` rows say no order type: a bot's new resting order is asked of the venue
    at once by its oid (``orderStatus``, weight 2, on the account's weight meter), handed to
    the entry watch as an entry once the venue said its kind, and the runner woken — no list of
    every open order (weight 20) read for it; the stream answers again, and keeps that kind."""
    calls = venue_calls(monkeypatch)

    async def t(r: Rig):
        await r.live()
        entries: list = []
        r.adapter.set_entry_watch(lambda key, order: entries.append(order))
        r.adapter.wake_on_entries(True)
        r.wakes.clear()
        calls.clear()
        weighed = r.adapter.weight_meter.used()
        await r.bot.create_order(BTC, "limit", "buy", 0.01, 50_000.0, {"clientOrderId": CLOID})
        await until(lambda: entries and r.wakes, "the entry handed over, the runner woken", DEADLINE_S)
        row = r.frames("orderUpdates")[-1][0]
        assert row["status"] == "open" and set(row["order"]) == {
            "coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid"}  # the documented row
        (o,) = entries
        assert (o.kind, o.client_id, o.price, o.reduce_only) == ("regular", CLOID, 50_000.0, False)
        assert infos(calls) == ["orderStatus"]  # one look-up, no frontendOpenOrders
        assert r.adapter.weight_meter.used() >= weighed + 2
        snap = await r.from_stream()  # the stream answers: the order of the kind the venue said
        assert [(x.id, x.kind, x.reduce_only) for x in snap.orders] == [(o.id, "regular", False)]
        assert "frontendOpenOrders" not in infos(calls) and r.adapter._stream.in_doubt == set()
    rig(t)


def test_trigger_orders_keep_the_kind_the_venue_said_and_a_trigger_that_fired_leaves_the_open_orders():
    """A stop-loss (reduce-only, 10 % below) and a position take-profit placed by a bot: each
    asked of the venue once by its oid (the stream cannot say their kind); the stream keeps them as
    ``conditional`` and ``tpsl`` with their trigger prices through their updates; the mark
    through the stop fires it (``triggered``): it leaves the stream's open orders, and its fill
    reaches the position."""
    async def t(r: Rig):
        await r.live()
        eng = r.engine
        stop = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=54_000.0,
                                    reduce_only=True, client_algo_id="0xa1" + "0" * 29 + "2")
        tp = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "TAKE_PROFIT_MARKET", trigger_price=70_000.0,
                                  close_position=True, client_algo_id="0xa1" + "0" * 29 + "3")
        await until(lambda: len([u for f in r.frames("orderUpdates") for u in f]) >= 2, "the trigger orders' rows",
                    DEADLINE_S)
        stream = r.adapter._stream  # each asked of the venue by its oid (orderStatus)
        await until(lambda: len(stream.state.orders) == 2 and not stream.asking, "their kinds asked", DEADLINE_S)
        listed = await r.from_stream()
        kinds = {o.id: (o.kind, o.trigger_price, o.reduce_only) for o in listed.orders}
        assert kinds == {str(stop.algo_id): ("conditional", 54_000.0, True),
                         str(tp.algo_id): ("tpsl", 70_000.0, True)}
        assert {o.id: (o.kind, o.trigger_price) for o in (await r.from_stream()).orders} == {
            k: v[:2] for k, v in kinds.items()}
        before = positions(await r.from_stream())[BTC]
        eng.set_mark("BTCUSDT", 53_000.0)  # through the stop
        eng.tick()  # the venue's matching fires it (the simulator's triggers run at its calls)
        snap = await r.seen(lambda s: str(stop.algo_id) not in {o.id for o in s.orders}
                            and positions(s)[BTC] == pytest.approx(before - 1.0), "the stop fired and filled")
        assert {o.id: o.kind for o in snap.orders} == {str(tp.algo_id): "tpsl"}
        statuses = [(u["order"]["oid"], u["status"]) for f in r.frames("orderUpdates") for u in f]
        assert (stop.algo_id, "triggered") in statuses
        assert r.health.disagreements == 0
    rig(t)


# --- faults -------------------------------------------------------------------------------------------


def test_a_disconnect_is_down_then_reconnected_counted_and_read_over_rest_first():
    async def t(r: Rig):
        await r.live()
        seen, _ = await r.down_and_back(
            lambda: r.bot.create_order(BTC, "limit", "buy", 0.01, 61_000.0, {"timeInForce": "Ioc"}))
        assert seen[-1] == ("live", None)
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t)


def test_a_stall_is_stale_read_over_rest_then_reconnected_and_never_live_while_silent():
    async def t(r: Rig):
        await r.live()
        with States(r) as states:  # type: ignore[arg-type]
            r.server.faults.stream("stream_stall")  # every frame: the socket open and silent
            await until(lambda: r.health.state == "stale", "the stream stale", DEADLINE_S)
            h = r.health
            assert h.reason == "STREAM_STALE" and h.since_ms == h.last_message_ms + 1000
            stale = await r.adapter.snapshot()
            assert stale.fetch.ok and stale.fetch.calls > 0
            assert positions(stale) == pytest.approx(r.truth())
            await until(lambda: r.health.reconnects >= 1, "a reconnect of the stalled stream", DEADLINE_S)
            await asyncio.sleep(1.5)  # the new connection, silent too
            silent = list(states.seen)
            r.server.faults.switch_off("stream")
            await until(lambda: r.health.state == "live", "the stream live again", DEADLINE_S)
        assert silent[0] == ("live", None) and ("live", None) not in silent[1:], silent
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t)


@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_user_frame_is_counted_said_by_channel_and_field_and_the_next_is_read(body, kind, caplog):
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        await until(lambda: r.health.dropped.get(kind, 0) == 1, f"a frame counted {kind}", DEADLINE_S)
        await r.bot.create_order(BTC, "limit", "buy", 0.01, 61_000.0, {"timeInForce": "Ioc"})
        snap = await r.seen(lambda s: positions(s)[BTC] == pytest.approx(before + 0.01), "the next fill")
        assert positions(snap) == pytest.approx(r.truth())
        assert r.health.state == "live" and r.health.reconnects == 0
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({kind})" in m.getMessage()]
    assert len(said) == 1, said
    if body == "fields":  # what was wrong, by the venue's channel and field
        assert "BAD_RESPONSE: hyperliquid clearinghouseState: field data.clearinghouseState: missing" in said[0]


@pytest.mark.parametrize("kind,counted", [("stream_duplicate", "duplicate"), ("stream_out_of_order", "out_of_order")])
def test_duplicate_and_out_of_order_state_frames_are_counted_and_never_corrupt_the_state(kind, counted):
    """Every user frame duplicated, or each second one held back behind the next, while the mark
    moves four times: dropped and counted, the positions the venue's and the last mark held."""
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream(kind, op="stream:user")
        for price in (59_000.0, 58_000.0, 57_000.0, 56_000.0):
            r.engine.set_mark("BTCUSDT", price)
            await asyncio.sleep(0.25)  # a state frame each, and one of the cadence's
        await asyncio.sleep(0.5)
        r.server.faults.switch_off("stream:user")
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(56_000.0) for p in s.positions),
                            "the last mark")
        assert positions(snap) == pytest.approx(r.truth())
        dropped = r.health.dropped
        assert set(dropped) == {counted} and dropped[counted] >= 2, dropped
        rest = await r.adapter._rest_snapshot()
        assert {p.symbol: p.mark_price for p in snap.positions} == pytest.approx(
            {p.symbol: p.mark_price for p in rest.positions})
    rig(t)


def test_hyperliquid_has_nothing_to_expire_a_listen_key_fault_leaves_the_stream_live():
    """Hyperliquid's websocket authorizes nothing (a user's channels are named by address): the
    fault that ends a Binance listen key has nothing to end here."""
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream("listen_key_expired", op="stream", times=1)
        r.server.faults.stream("listen_key_expired", op="listen_key", times=1)
        before = positions(await r.from_stream())[BTC]
        await r.bot.create_order(BTC, "limit", "buy", 0.01, 61_000.0, {"timeInForce": "Ioc"})
        await r.seen(lambda s: positions(s)[BTC] == pytest.approx(before + 0.01), "the fill")
        assert (r.health.state, r.health.reconnects) == ("live", 0)
    rig(t)


# --- the runner ---------------------------------------------------------------------------------------


POLICY = loss_policy("mark-guard", interval="30s", unwind="{chunk_notional: 100k}")


async def serve(tmp: Path, monkeypatch: Any, scenario: Any, readers: int = 0) -> None:
    """``await scenario(daemon, server)`` with ``ksctl run`` in-process leading over a fresh
    server, ``sim-main`` on Hyperliquid with a stream block (the bot's strategy ``alpha``: cloids
    beginning ``0xa1``), then stop."""
    from killswitch.process.daemon import Daemon
    from killswitch.process.options import RunOptions

    engine = build("calm", wall_clock)
    for symbol, price in FLAT.items():
        engine.set_mark(symbol, price)
    server = SimServer(engine, auth_clock=wall_clock, venue_streams={"hyperliquid": FACE})
    await server.start()
    monkeypatch.setenv("KS_T_HL_KEY", account_key("sim-main"))
    (tmp / "policies").mkdir()
    (tmp / "policies" / "guard.yaml").write_text(POLICY)
    (tmp / "accounts.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Accounts
        metadata: {{name: test}}
        spec:
          dry_run: false
          accounts:
            - name: sim-main
              venue: hyperliquid
              market_type: futures
              quote_currency: USDC
              labels: {{book: futures}}
              api_url: http://127.0.0.1:{server.port}
              credentials: {{wallet_address: "{account_address('sim-main')}", private_key: {{env: KS_T_HL_KEY}}}}
              stream: {{enabled: true, stale_after: 1s, reconcile_every: 30s}}
              strategies: [{{name: alpha, client_id_prefixes: ["0xa1"]}}]
        """))
    opts = RunOptions((str(tmp / "policies"),), str(tmp / "accounts.yaml"), f"sqlite://{tmp / 'state.db'}",
                      str(tmp / "lock.json"), api_port=None, readers=readers)
    daemon = Daemon(opts, logging.getLogger("killswitch.run").info, logging.getLogger("killswitch.run").error)
    task = asyncio.ensure_future(daemon.run())
    try:
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick",
                    DEADLINE_S)
        await until(lambda: daemon.runner.venues[KEY].stream_health().state == "live", "the stream live",
                    DEADLINE_S)
        await scenario(daemon, server)
    finally:
        daemon.stop.set()
        await asyncio.wait_for(task, DEADLINE_S)
        await server.stop()


def test_a_mark_across_the_hard_threshold_wakes_the_runner_which_closes_within_the_interval(tmp_path, monkeypatch):
    """A position event (the clearinghouse state revalued at a set mark) wakes ``ksctl run``,
    which closes the book long before its 30 s interval, the user stream dropped at the first
    close's frames; every journaled close reached the venue once."""
    seen: dict = {}

    async def scenario(daemon: Any, server: SimServer) -> None:
        runner = daemon.runner
        server.faults.stream("stream_disconnect", op="stream:user", times=1)
        started = time.monotonic()
        woken = daemon.wakes.started["wake"]
        server.engine.set_mark("BTCUSDT", 50_000.0)  # the 5 BTC long loses 16.7 % of its notional
        await until(lambda: not server.engine.positions("sim-main"), "the book flat", 3 * DEADLINE_S)
        seen["flat_after_s"] = time.monotonic() - started
        seen["woken"] = daemon.wakes.started["wake"] - woken
        seen["journal"] = runner.store.journal(limit=1000)
        seen["orders"] = list(server.engine.accounts["sim-main"].orders.values())

    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, scenario), 6 * DEADLINE_S))
    assert seen["flat_after_s"] < 10.0, seen  # woken: the 30 s interval did not pass
    assert seen["woken"] >= 1
    ids = [e.client_order_id for e in seen["journal"]]
    assert ids and len(ids) == len(set(ids))
    assert {e.symbol for e in seen["journal"]} == {BTC, "ETH/USDC:USDC", "SOL/USDC:USDC"}
    from adapters.venues.hyperliquid.dialect import to_cloid

    assert sorted(o.client_order_id for o in seen["orders"]) == sorted(to_cloid(i) for i in ids)


@pytest.mark.parametrize("readers", [0, 1])
def test_a_rogue_entry_under_a_halt_is_cancelled_before_any_list_of_every_open_order(tmp_path, monkeypatch, readers):
    """A bot's entry on ``orderUpdates`` (a row that says no kind) under a halt: asked of the
    venue by its oid where the stream runs (the deciding process, or its reader with
    ``--readers 1``), handed to the entry watch as an entry and cancelled — before any list of
    every open order (``frontendOpenOrders``, the 5 s list a REST read would wait for), within
    seconds of a 30 s interval; the bot's reduce-only stop, asked the same way, stays."""
    seen: dict = {}
    rogue = "0xa1" + "0" * 29 + "9"
    calls = venue_calls(monkeypatch)

    async def scenario(daemon: Any, server: SimServer) -> None:
        desk, parts = daemon.desk, daemon.parts
        assert (await desk.lock_scope(KEY, "halted", "desk halt", actor="op")).done
        daemon.wakes.nudge()
        await until(lambda: parts.enforcement.waking.get(KEY), "entries watched", DEADLINE_S)
        eng = server.engine
        eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=40_000.0,
                             reduce_only=True, client_algo_id="0xa1" + "0" * 29 + "8")
        await until(lambda: {("/info", "orderStatus"), ("/info", "frontendOpenOrders")} & set(calls),
                    "the stop's kind read", DEADLINE_S)
        await asyncio.sleep(0.5)
        calls.clear()
        started = time.monotonic()
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id=rogue)
        await until(lambda: rogue not in {o.client_order_id for o in eng.accounts["sim-main"].orders.values()
                                          if o.is_open}, "the rogue entry cancelled", 3 * DEADLINE_S)
        seen["after_s"] = time.monotonic() - started
        seen["calls"] = list(calls)
        seen["stops"] = [o.algo_id for o in eng.accounts["sim-main"].algos.values() if o.is_open]
        seen["adapter"] = type(daemon.runner.venues[KEY]._adapter).__name__

    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, scenario, readers), 6 * DEADLINE_S))
    assert seen["after_s"] < 10.0, seen
    kinds = [kind for _, kind in seen["calls"]]
    lists = [i for i, kind in enumerate(kinds) if kind == "frontendOpenOrders"]
    assert "cancel" in kinds and (not lists or kinds.index("cancel") < lists[0]), kinds  # before any list
    assert "orderStatus" in kinds[:kinds.index("cancel")], kinds
    assert seen["adapter"] == ("RemoteAdapter" if readers else "CcxtAdapter")  # where the stream ran
    assert len(seen["stops"]) == 1
