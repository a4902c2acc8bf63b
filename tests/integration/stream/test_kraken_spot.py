"""Kraken spot's stream end to end: the real :class:`CcxtAdapter` of a spot account built from an
Accounts entry with a ``stream`` block (``ccxt.pro.kraken`` over the simulator's ``/v2``: the
token of ``GetWebSocketsToken``, ``executions``, ``balances`` and the held pairs' ``ticker``),
the book it answers without REST matching REST's, a bot's resting order seen as it comes, and
the face's stream faults; and ``ksctl run`` over it cancelling a rogue spot entry at the stream's
event. The futures scenarios of tests/integration/stream/test_runner.py and
enforcement/test_streamed.py leave a spot face out (see ``streamed_venues``).

The engine runs on the wall clock; marks pushed every 100 ms, ``stale_after`` 1 s. The account
holds the scenario's spot balances (USDT, BTC, ETH, SOL). Waits are bounded by
:data:`DEADLINE_S` (a bound on events, never a measured duration).
"""

from __future__ import annotations

from typing import Any

import pytest

from killswitch.runner.watch.enforce import leg_sizes
from tests.integration.stream.rig import DEADLINE_S, StreamRig
from tests.integration.stream.test_adapter import States
from tests.procs import until

pytest.importorskip("ccxt")

KEY = "kraken/sim-main"


class Rig(StreamRig):
    """A server on the wall clock, the adapter of ``sim-main``'s spot account on Kraken with a
    stream block, and the wakes the adapter called (the desk's bot trades at the engine)."""

    VENUE = "kraken"

    def truth(self) -> dict:
        return {a: q for a, q in self.engine.accounts[self.account].spot.items() if q}

    def buy(self, symbol: str = "BTCUSDT", qty: float = 0.01, **kw: Any) -> None:
        self.engine.place_spot_order(self.account, symbol, "BUY", qty, **kw)


def held(snap: Any) -> dict:
    return {b.asset: b.total for b in snap.balances if b.total}


rig = Rig.run


def test_a_live_stream_answers_the_spot_book_without_rest_as_rest_reads_it():
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        rest = await r.adapter._rest_snapshot()
        assert held(snap) == pytest.approx(r.truth()) and r.truth()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-9) and snap.market_type == "spot"
        assert {b.asset: b.price for b in snap.balances} == pytest.approx({b.asset: b.price for b in rest.balances})
        assert list(snap.positions) == [] and snap.orders == rest.orders == []
        # the venue watch's legs, the held base assets (not the quote), the same from either
        assert leg_sizes(snap) == pytest.approx(leg_sizes(rest)) and "BTC/USDT|long" in leg_sizes(rest)
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.reconciles, h.dropped) == (
            "live", None, 0, 0, 1, {})
        face = r.server.streams["kraken"]
        await until(lambda: {"executions", "balances", "ticker:BTC/USDT", "ticker:ETH/USDT", "ticker:SOL/USDT"}
                    <= set().union(*(s.streams for s in face.sockets)), "every held pair's ticker", DEADLINE_S)
        assert any(m == "POST" and p == "/0/private/GetWebSocketsToken" for m, p, _ in r.server.requests)
    rig(t)


def test_a_fill_and_a_set_mark_reach_the_snapshot_from_the_stream_and_wake_the_runner():
    async def t(r: Rig):
        await r.live()
        before = held(await r.from_stream())["BTC"]
        r.wakes.clear()
        r.buy()
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        assert set(r.wakes) == {KEY}
        snap = await r.seen(lambda s: held(s)["BTC"] == pytest.approx(before + 0.01), "the fill")
        assert held(snap) == pytest.approx(r.truth())

        r.wakes.clear()
        r.engine.set_mark("BTCUSDT", 55_000.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: {b.asset: b.price for b in s.balances}["BTC"] == 55_000.0, "the mark")
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-9)
        assert r.health.disagreements == 0
    rig(t)


def test_a_new_asset_is_watched_at_its_pair_and_one_sold_whole_leaves_the_book():
    async def t(r: Rig):
        await r.live()
        sol = held(await r.from_stream())["SOL"]
        r.engine.place_spot_order("sim-main", "SOLUSDT", "SELL", sol)
        snap = await r.seen(lambda s: "SOL" not in held(s), "SOL sold whole")
        assert held(snap) == pytest.approx(r.truth())
        rest = await r.adapter._rest_snapshot()
        assert "SOL/USDT|long" not in leg_sizes(snap) and leg_sizes(snap) == pytest.approx(leg_sizes(rest))
        assert snap.equity == pytest.approx(rest.equity, rel=1e-9)
    rig(t)


def test_a_bots_resting_orders_are_read_of_their_kind_handed_to_the_watch_and_leave_when_they_end():
    """A bot's resting limit buy (an entry: handed to the venue watch as it comes while entries
    are watched) and its stop-loss-limit sell: listed of their kinds from the stream, without
    REST; cancelled, each leaves."""
    async def t(r: Rig):
        await r.live()
        entries: list = []
        r.adapter.wake_on_entries(True)
        r.adapter.set_entry_watch(lambda key, o: entries.append((key, o.client_id, o.kind)))
        eng = r.engine
        entry = eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.01, 50_000.0, time_in_force="GTC",
                                     client_order_id="bot-1")
        stop = eng.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.5, 54_000.0, client_order_id="bot-2",
                                    trigger="STOP_LOSS", trigger_price=55_000.0)
        await until(lambda: entries, "the entry handed to the watch", DEADLINE_S)
        assert entries[0] == (KEY, "bot-1", "regular")
        snap = await r.seen(lambda s: len(s.orders) == 2, "both orders")
        got = {o.client_id: (o.kind, o.side, o.amount, o.price, o.trigger_price, o.reduce_only) for o in snap.orders}
        assert got == {"bot-1": ("regular", "buy", 0.01, 50_000.0, None, False),
                       "bot-2": ("conditional", "sell", 0.5, 54_000.0, 55_000.0, False)}
        rest = await r.adapter._rest_snapshot()
        assert {o.id: (o.kind, o.price, o.trigger_price) for o in rest.orders} == {
            o.id: (o.kind, o.price, o.trigger_price) for o in snap.orders}
        eng.cancel_spot_order("sim-main", entry.order_id)
        eng.cancel_spot_order("sim-main", stop.order_id)
        await r.seen(lambda s: not s.orders, "both orders gone")
        assert r.health.disagreements == 0
    rig(t)


def test_a_close_of_a_holding_a_rogue_buy_grew_is_checked_against_a_fresh_read_not_refused():
    """The holdings a close is checked against were read at the stream's reconcile; a bot's buy
    the stream told of since makes them stale (the stream's total of the asset differs): the
    close of the whole holding, as the stream's snapshot sizes it, is checked against a fresh
    read and sent, never refused against the smaller holding read before."""
    from tests.integration.spot_face_helpers import spot_sell

    async def t(r: Rig):
        await r.live()
        r.buy(qty=0.3)
        snap = await r.seen(lambda s: held(s)["BTC"] == pytest.approx(1.8), "the bot's buy")
        result = await r.adapter.submit(spot_sell("kraken", held(snap)["BTC"]))
        assert result.amount == pytest.approx(1.8)
        assert r.truth().get("BTC", 0.0) == pytest.approx(0.0)  # sold whole (the face fills a market sell at once)
    rig(t)


# --- faults -------------------------------------------------------------------------------------------


def test_a_disconnect_is_down_then_reconnected_counted_and_read_over_rest_first():
    async def t(r: Rig):
        await r.live()
        await r.down_and_back(r.buy)
        assert held(await r.from_stream()) == pytest.approx(r.truth())
    rig(t)


@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_user_frame_is_counted_and_the_next_is_read(body, kind, caplog):
    async def t(r: Rig):
        await r.live()
        before = held(await r.from_stream())["BTC"]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        r.buy()  # its executions and balances frames: the first (the order's pending_new) broken
        # the broken frame counted, and the order's next update (``new``: its id and status alone),
        # which names an order never told, counted malformed too: never an order guessed
        dropped = {"malformed": 2} if kind == "malformed" else {"unknown": 1, "malformed": 1}
        await until(lambda: r.health.dropped == dropped, f"a frame counted {kind}, then the live update",
                    DEADLINE_S)
        r.buy()
        snap = await r.seen(lambda s: held(s)["BTC"] == pytest.approx(before + 0.02), "the next fill")
        assert held(snap) == pytest.approx(r.truth())
        assert r.health.state == "live" and r.health.reconnects == 0
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({kind})" in m.getMessage()]
    assert len(said) == 1, said
    if body == "fields":  # what was wrong, by the venue's channel and field
        assert "BAD_RESPONSE: kraken websocket executions: field data: missing" in said[0], said


def test_a_token_the_venue_ends_is_login_refused_then_reconnected_with_a_new_token():
    async def t(r: Rig):
        await r.live()
        tokens = sum(p == "/0/private/GetWebSocketsToken" for _, p, _ in r.server.requests)
        with States(r) as states:  # type: ignore[arg-type]
            r.server.faults.stream("listen_key_expired", op="stream:user", times=1)
            r.buy()
            await until(lambda: ("down", "STREAM_LOGIN_REFUSED") in states.seen, "the token refused", DEADLINE_S)
            await until(lambda: r.health.state == "live", "the stream live again", 2 * DEADLINE_S)
        assert r.health.reconnects >= 1
        assert sum(p == "/0/private/GetWebSocketsToken" for _, p, _ in r.server.requests) > tokens
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert held(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, timeout=60.0)


# --- ksctl run ------------------------------------------------------------------------------------------


def test_a_streamed_spot_account_cancels_a_rogue_entry_at_the_stream_events_tick_not_the_interval(
        tmp_path, monkeypatch):
    """``ksctl run`` in-process over the simulator's Kraken spot faces, a 30 s interval: under an
    operator's halt, a bot's resting limit buy placed at the engine reaches the runner through
    ``executions`` and is cancelled at that event (the venue watch's fast path, or the tick the
    event woke), long before the next interval, and reported once under its strategy."""
    import asyncio
    import logging
    import time

    from killswitch.process.daemon import Daemon
    from tests.integration.enforcement.rig import open_ids, violations
    from tests.integration.stream.test_runner import serve as serve_streamed, stream_of

    seen: dict = {}

    async def scenario(daemon: Daemon, server: Any) -> None:
        runner, desk, parts = daemon.runner, daemon.desk, daemon.parts
        assert (await desk.lock_scope(KEY, "halted", "desk halt", actor="op")).done
        daemon.wakes.nudge()  # a tick under the lock asks the adapter to watch entries
        await until(lambda: parts.enforcement.waking.get(KEY), "entries watched", 30.0)
        await until(lambda: stream_of(daemon, KEY)["state"] == "live", "the stream live", 30.0)
        started = time.monotonic()
        server.engine.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.5, 55_000.0, time_in_force="GTC",
                                       client_order_id="alp-rogue-9")
        await until(lambda: "alp-rogue-9" not in open_ids(server.engine), "the rogue entry cancelled", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["rows"] = violations(runner.store)

    prefixes = "strategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    asyncio.run(asyncio.wait_for(serve_streamed(tmp_path, monkeypatch, "30s", scenario, venue="kraken",
                                                extra=prefixes), 90))
    logging.getLogger(__name__).info("kraken: cancelled %.3f s after the order", seen["after_s"])
    assert seen["after_s"] < 10.0, seen  # at the stream's event: the 30 s interval did not pass
    (row,) = seen["rows"]
    assert (row["client_order_id"], row["action"], row["strategy"], row["scope"]) == (
        "alp-rogue-9", "cancel", "alpha", KEY)


def test_holdings_rogue_buys_grew_are_sold_back_under_a_halt_at_the_cost_of_the_orders_and_one_trades_read(
        tmp_path, monkeypatch):
    """``ksctl run`` over the Kraken spot faces, streamed, under an operator's halt: a bot's market
    buy of BTC, told by ``executions`` and ``balances``, is sold back (one sale of the excess,
    journaled, filled, attributed to the bot by its fills), then a second one. What the two sales
    cost at the venue: each its order and one look-up of it by its client id (``ClosedOrders``: it
    ended at once), and the trades read once (``TradesHistory``, and ``QueryOrders`` of the first
    bot order's client id, which a REST trade row does not carry): the second growth's fills are
    the stream's. The holding the stream told is not read again over ``BalanceEx``, nor the order
    in ``OpenOrders`` first (each sale cost those reads more, and a trades read, each on the key's
    counter)."""
    import asyncio
    from collections import Counter

    from tests.integration.stream.rig import halt_sales
    from tests.integration.stream.test_runner import serve as serve_streamed

    seen: dict = {}
    scenario = halt_sales(KEY, seen, lambda m, p: m == "POST")
    prefixes = "strategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    # (no cadence reconcile inside the counted window: its BalanceEx and OpenOrders are the stream's)
    asyncio.run(asyncio.wait_for(serve_streamed(tmp_path, monkeypatch, "30s", scenario, reconcile_every="10m",
                                                venue="kraken", extra=prefixes), 90))
    assert seen["sales"] == [("BTC/USDT", "sell", pytest.approx(0.25), "filled")] * 2, seen
    assert seen["btc"][1] == pytest.approx(seen["btc"][0])  # back at its size at the lock
    # each growth reported once, named by the bot's own order: the first from REST's trades, the
    # second from the stream's
    named = sorted((r["client_order_id"], r["strategy"]) for r in seen["rows"] if r["action"] == "revert")
    assert named == [("alp-mkt-1", "alpha"), ("alp-mkt-2", "alpha")], seen["rows"]
    sent = seen["sent"]
    assert sent == Counter({f"POST /0/private/{name}": n for name, n in (
        ("AddOrder", 2), ("ClosedOrders", 2), ("TradesHistory", 1), ("QueryOrders", 1))}), sent
