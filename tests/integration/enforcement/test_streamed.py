"""The venue watch over a streamed account, end to end: ``ksctl run`` in-process over the simulated
exchange's HTTP and websocket faces (every streamed face of a futures account but Hyperliquid's), a
30 s interval, an operator's halt, a bot that never asks trading at the engine directly: a rogue
entry, a fill that grows the long and a rogue conditional entry reach the runner through the user
data stream and are dealt with at that event, long before the next interval. The polled accounts'
watch: test_polled.py; the rig they share: rig.py.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.simulated.http import SimServer
from tests.integration.enforcement.rig import long_btc, open_ids, violations
from tests.integration.sim_helpers import streamed_venues

pytest.importorskip("ccxt")


# the faces that stream (adapters.registry) that stream/test_runner.py serves: every one but Hyperliquid's
STREAMED = tuple(streamed_venues(("USDT", "USD")))


@pytest.mark.parametrize("venue", STREAMED)
def test_a_streamed_account_cancels_a_rogue_entry_at_the_stream_events_tick_not_the_interval(
        tmp_path, monkeypatch, venue):
    """``ksctl run`` in-process over the simulator's HTTP and websocket faces, a 30 s interval: under
    an operator's halt, a rogue entry placed at the engine reaches the runner through the user data
    stream and is cancelled at that event (by the venue watch's fast path, or the tick the event
    woke), long before the next interval, and reported once; the take-profit of the
    same bot (reduce-only) stays, and the strategy is the one of the account's prefix map."""
    import logging
    import time

    from killswitch.process.daemon import Daemon
    from tests.integration.stream.test_runner import serve as serve_streamed, stream_of
    from tests.procs import until

    key = f"{venue}/sim-main"
    seen: dict = {}

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        runner, desk, parts = daemon.runner, daemon.desk, daemon.parts
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        # a tick under the lock asks the adapter to watch entries (one already running may not have)
        daemon.wakes.nudge()
        await until(lambda: parts.enforcement.waking.get(key), "entries watched", 30.0)
        await until(lambda: stream_of(daemon, key)["state"] == "live", "the stream live", 30.0)
        server.engine.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 1.0, price=70_000.0, time_in_force="GTC",
                                  reduce_only=True, client_order_id="alp-tp-9")
        woken = daemon.wakes.started["wake"]
        started = time.monotonic()
        server.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                                  client_order_id="alp-rogue-9")
        await until(lambda: "alp-rogue-9" not in open_ids(server.engine), "the rogue entry cancelled", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["fast"] = parts.entry_watch.taken  # at the stream's event, by the fast path
        await until(lambda: daemon.wakes.started["wake"] > woken, "the tick the stream woke", 30.0)
        seen["woken"] = daemon.wakes.started["wake"] - woken
        seen["rows"] = violations(runner.store)
        seen["open"] = open_ids(server.engine)

    prefixes = "strategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    asyncio.run(asyncio.wait_for(serve_streamed(tmp_path, monkeypatch, "30s", scenario, venue=venue, extra=prefixes),
                                 90))
    logging.getLogger(__name__).info("%s: cancelled %.3f s after the order", venue, seen["after_s"])
    assert seen["after_s"] < 10.0, seen  # at the stream's event: the 30 s interval did not pass
    # cancelled once, at the event: by the fast path, or — when a loaded machine runs the tick the
    # event woke first — by that tick, which the fast path then leaves it to (the order of the two
    # is the scheduler's; tests/unit/runner/watch/test_entry_watch.py holds each way apart)
    assert seen["fast"] in (0, 1) and seen["woken"] >= 1
    assert "alp-tp-9" in seen["open"]  # reduce-only: never the watch's
    (row,) = seen["rows"]
    assert (row["client_order_id"], row["action"], row["strategy"], row["scope"]) == (
        "alp-rogue-9", "cancel", "alpha", key)


@pytest.mark.parametrize("venue", STREAMED)
def test_a_streamed_fill_that_grows_a_position_under_a_halt_is_reverted_at_the_stream_events_tick(
        tmp_path, monkeypatch, venue):
    """A 30 s interval, an operator's halt told not to cancel (``ksctl lock --no-cancel``: no entry
    wakes the runner, only the fill can): a market buy of the bot's at the engine grows the long;
    the fill's stream events wake the runner, whose venue watch reverts the growth within seconds,
    long before the next interval."""
    import time

    from killswitch.process.daemon import Daemon
    from tests.integration.stream.test_runner import serve as serve_streamed, stream_of
    from tests.procs import until

    key = f"{venue}/sim-main"
    seen: dict = {}

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        runner, desk, parts = daemon.runner, daemon.desk, daemon.parts
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op",
                                        enforce={"cancel": False, "revert_growth": True})).done
        daemon.wakes.nudge()  # the first tick under the lock: the long's size at the lock is its baseline
        await until(lambda: parts.book.baselines, "the baselines kept", 30.0)
        seen["entries_watched"] = parts.enforcement.waking.get(key, False)
        await until(lambda: stream_of(daemon, key)["state"] == "live", "the stream live", 30.0)
        seen["before"] = long_btc(server.engine)
        woken = daemon.wakes.started["wake"]
        started = time.monotonic()
        server.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="beta-mkt-9")
        seen["grown"] = long_btc(server.engine)
        await until(lambda: long_btc(server.engine) == pytest.approx(seen["before"]), "the growth reverted", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["woken"] = daemon.wakes.started["wake"] - woken
        seen["rows"] = violations(runner.store)

    asyncio.run(asyncio.wait_for(serve_streamed(tmp_path, monkeypatch, "30s", scenario, venue=venue), 90))
    assert seen["grown"] == pytest.approx(seen["before"] + 1.0)
    assert seen["after_s"] < 10.0, seen  # woken by the stream: the 30 s interval did not pass
    assert seen["woken"] >= 1 and seen["entries_watched"] is False  # the fill woke it, not an entry
    assert [r["action"] for r in seen["rows"]] == ["revert"]


@pytest.mark.parametrize("venue", STREAMED)
def test_a_streamed_account_cancels_a_rogue_conditional_entry_at_the_stream_events_tick(tmp_path, monkeypatch, venue):
    """Under an operator's halt, a 30 s interval: a stop-market buy (a conditional entry, Binance's
    algo service, Bybit's conditional order) placed at the engine reaches the runner by the
    stream's conditional-order event and is cancelled within seconds; a reduce-only stop-loss of
    the same bot stays. On the old code the stream never told of it: it waited for the REST
    reconcile."""
    import time

    from killswitch.process.daemon import Daemon
    from tests.integration.stream.test_runner import serve as serve_streamed, stream_of
    from tests.procs import until

    key = f"{venue}/sim-main"
    seen: dict = {}

    def algo_open(eng, aid: int) -> bool:
        return eng.accounts["sim-main"].algos[aid].is_open

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        runner, desk, eng, parts = daemon.runner, daemon.desk, server.engine, daemon.parts
        ticked = parts.book.state.last_tick_ms
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        daemon.wakes.nudge()
        await until(lambda: parts.enforcement.waking.get(key), "entries watched", 30.0)
        # the adapters are told of the lock at once, before any tick under it: wait for that tick
        # too, so that what follows is the stream's path alone, not a race between the nudged
        # tick and the stream's frame of the entry (either cancels it; the race is what timing
        # a run on a loaded machine could lose by a tick of 30 s)
        await until(lambda: parts.book.state.last_tick_ms != ticked, "a tick under the lock", 30.0)
        await until(lambda: stream_of(daemon, key)["state"] == "live", "the stream live", 30.0)
        sl = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=50_000.0,
                                  reduce_only=True, client_algo_id="alp-sl-9").algo_id
        started = time.monotonic()
        entry = eng.place_algo_order("sim-main", "BTCUSDT", "BUY", "STOP_MARKET", quantity=0.5,
                                     trigger_price=65_000.0, client_algo_id="alp-stop-9").algo_id
        await until(lambda: not algo_open(eng, entry), "the conditional entry cancelled", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["sl_open"] = algo_open(eng, sl)
        seen["rows"] = violations(runner.store)

    prefixes = "strategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    asyncio.run(asyncio.wait_for(serve_streamed(tmp_path, monkeypatch, "30s", scenario, venue=venue, extra=prefixes),
                                 90))
    assert seen["after_s"] < 10.0, seen  # the stream told of it: the 30 s interval did not pass
    assert seen["sl_open"]  # reduce-only: never the watch's
    (row,) = seen["rows"]
    if conditional_client_ids(venue):
        assert (row["client_order_id"], row["action"], row["strategy"]) == ("alp-stop-9", "cancel", "alpha")
    else:  # (MEXC's trigger orders carry no client id: the watch names no strategy of it)
        assert (row["client_order_id"], row["action"], row["strategy"]) == (None, "cancel", "unknown")


def conditional_client_ids(venue: str) -> bool:
    """Whether ``venue``'s conditional orders carry the client id they were placed with (its
    contract's FACE_TERMS)."""
    from importlib import import_module

    face = streamed_venues(("USDT", "USD"))[venue]
    return bool(import_module("..contract", face.__name__).FACE_TERMS.get("conditional_client_ids", True))
