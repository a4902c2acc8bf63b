"""Kraken Futures' stream end to end: the real :class:`CcxtAdapter` built from an Accounts entry with a
``stream`` block (``ccxt.pro.krakenfutures`` over the simulator's ``/ws/v1``: the signed challenge,
``open_positions``, ``balances``, ``open_orders`` and the held contracts' ``ticker``), each of the
face's stream faults, and trigger orders read of the kind the feed says. ``ksctl run`` over this
venue is tests/integration/stream/test_runner.py's and
enforcement/test_streamed.py's (their streamed venues).

The engine runs on the wall clock; marks pushed every 100 ms, ``stale_after`` 1 s. Waits are
bounded by :data:`DEADLINE_S` (a bound on events, never a measured duration).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.stream.rig import DEADLINE_S, StreamRig
from tests.integration.stream.test_adapter import States
from tests.procs import until

pytest.importorskip("ccxt")

KEY = "krakenfutures/sim-main"
BTC = "BTC/USD:USD"


class Rig(StreamRig):
    """A server on the wall clock, the adapter of ``sim-main`` on Kraken Futures with a stream
    block, and the wakes the adapter called (the desk's bot trades at the engine)."""

    VENUE = "krakenfutures"

    def truth(self) -> dict:
        legs = self.engine.accounts[self.account].legs
        return {f"{s[:-4]}/USD:USD": leg.amount for (s, _), leg in legs.items() if leg.amount}


def positions(snap: Any) -> dict:
    return {p.symbol: p.contracts * (1 if p.side == "long" else -1) for p in snap.positions}


rig = Rig.run


# --- live ---------------------------------------------------------------------------------------------


def test_a_live_stream_answers_snapshots_without_rest_as_the_venue_holds_them():
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        assert positions(snap) == pytest.approx(r.truth()) and r.truth()
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6) and snap.quote_currency == "USD"
        assert {p.symbol: p.mark_price for p in snap.positions} == pytest.approx(
            {p.symbol: p.mark_price for p in rest.positions})
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.reconciles, h.dropped) == (
            "live", None, 0, 0, 1, {})
        feeds = set().union(*(s.streams for s in r.server.krakenfutures_stream.sockets))
        assert {"open_positions", "balances", "open_orders"} <= feeds
    rig(t)


def test_a_fill_and_a_set_mark_reach_the_snapshot_from_the_stream_and_wake_the_runner():
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC]
        r.wakes.clear()
        r.buy()
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        assert set(r.wakes) == {KEY}
        snap = await r.seen(lambda s: positions(s)[BTC] == pytest.approx(before + 0.01), "the fill")
        assert positions(snap) == pytest.approx(r.truth())

        r.wakes.clear()
        r.engine.set_mark("BTCUSDT", 55_000.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(55_000.0) for p in s.positions), "the mark")
        (btc,) = [p for p in snap.positions if p.symbol == BTC]
        assert btc.notional == pytest.approx(btc.contracts * 55_000.0)
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6)
    rig(t)


def test_a_position_closed_elsewhere_is_flat_in_the_next_positions_frame():
    """``open_positions`` is the whole book each push: a contract it no longer lists is flat."""
    async def t(r: Rig):
        await r.live()
        sol = positions(await r.from_stream())["SOL/USD:USD"]
        r.engine.place_order("sim-main", "SOLUSDT", "BUY", "MARKET", quantity=-sol, reduce_only=True)
        snap = await r.seen(lambda s: "SOL/USD:USD" not in positions(s), "SOL flat")
        assert positions(snap) == pytest.approx(r.truth())
    rig(t)


def test_orders_are_read_of_the_kind_the_feed_says_and_leave_when_they_end():
    """A bot's resting entry (``limit``) and its reduce-only stop (``stop``): the stream lists
    them of their kinds without REST and wakes on the entry while entries are watched; cancelled,
    each leaves the stream's open orders."""
    async def t(r: Rig):
        await r.live()
        r.adapter.wake_on_entries(True)
        r.wakes.clear()
        eng = r.engine
        entry = eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0,
                                time_in_force="GTC", client_order_id="bot-1")
        stop = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=54_000.0,
                                    reduce_only=True, client_algo_id="bot-2")
        await until(lambda: r.wakes, "a wake for the entry", DEADLINE_S)
        snap = await r.seen(lambda s: len(s.orders) == 2, "both orders")
        got = {o.client_id: (o.kind, o.side, o.price, o.trigger_price, o.reduce_only) for o in snap.orders}
        assert got == {"bot-1": ("regular", "buy", 50_000.0, None, False),
                       "bot-2": ("conditional", "sell", None, 54_000.0, True)}
        eng.cancel_order("sim-main", "BTCUSDT", order_id=entry.order_id)
        eng.cancel_algo_order("sim-main", stop.algo_id)
        await r.seen(lambda s: not s.orders, "both orders gone")
        assert r.health.disagreements == 0
    rig(t)


# --- faults -------------------------------------------------------------------------------------------


def test_a_disconnect_is_down_then_reconnected_counted_and_read_over_rest_first():
    async def t(r: Rig):
        await r.live()
        seen, _ = await r.down_and_back(r.buy)
        assert seen[-1] == ("live", None)
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t)


def test_a_stall_is_stale_read_over_rest_then_reconnected_and_live_when_it_delivers():
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
            await until(lambda: r.health.reconnects >= 2, "reconnects of the stalled stream", 2 * DEADLINE_S)
            silent = list(states.seen)
            r.server.faults.switch_off("stream")
            await until(lambda: r.health.state == "live", "the stream live again", 2 * DEADLINE_S)
        assert silent[0] == ("live", None) and ("live", None) not in silent[1:], silent
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, timeout=80.0)


@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_user_frame_is_counted_and_the_next_is_read(body, kind, caplog):
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        r.buy()  # its positions, balances and orders pushes: the first broken
        await until(lambda: r.health.dropped.get(kind, 0) == 1, f"a frame counted {kind}", DEADLINE_S)
        r.buy()
        snap = await r.seen(lambda s: positions(s)[BTC] == pytest.approx(before + 0.02), "the next fill")
        assert positions(snap) == pytest.approx(r.truth())
        assert r.health.state == "live" and r.health.reconnects == 0
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({kind})" in m.getMessage()]
    assert len(said) == 1, said
    if body == "fields":  # what was wrong, by the venue's feed and field
        assert "BAD_RESPONSE: krakenfutures websocket open_positions: field positions: missing" in said[0], said


@pytest.mark.parametrize("kind,counted", [("stream_duplicate", "duplicate"), ("stream_out_of_order", "out_of_order")])
def test_duplicate_and_out_of_order_marks_are_counted_and_never_corrupt_the_state(kind, counted):
    """Every market frame duplicated, or each second one held back behind the next, while the
    mark moves until one is counted (at least four times, within a bound: a frame held back
    behind another contract's is in order, and a loaded machine can order them so): dropped
    and counted, the last mark held."""
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream(kind, op="stream:market")
        for i, price in enumerate(59_000.0 - 100.0 * n for n in range(40)):
            r.engine.set_mark("BTCUSDT", price)
            await asyncio.sleep(0.25)  # a ticker each, and the cadence's
            if i >= 3 and r.health.dropped.get(counted):
                break
        r.server.faults.switch_off("stream:market")
        r.engine.set_mark("BTCUSDT", 56_000.0)
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(56_000.0) for p in s.positions),
                            "the last mark")
        assert positions(snap) == pytest.approx(r.truth())
        dropped = r.health.dropped
        # (a frame held back behind another contract's is not out of order: each contract's marks are their own)
        assert set(dropped) == {counted} and dropped[counted] >= 1, dropped
    rig(t)


def test_an_authorization_the_venue_ends_is_login_refused_then_reconnected_with_a_new_challenge():
    async def t(r: Rig):
        await r.live()
        with States(r) as states:  # type: ignore[arg-type]
            r.server.faults.stream("listen_key_expired", op="stream:user", times=1)
            r.buy()
            await until(lambda: ("down", "STREAM_LOGIN_REFUSED") in states.seen, "the login refused", DEADLINE_S)
            await until(lambda: r.health.state == "live", "the stream live again", 2 * DEADLINE_S)
        assert r.health.reconnects >= 1
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, timeout=60.0)
