"""MEXC's stream end to end: the real :class:`CcxtAdapter` built from an Accounts entry with a ``stream``
block (``ccxt.pro.mexc`` over the simulator's ``/edge``: the signed login, the personal order,
position, asset, plan order and TP/SL pushes read raw, and the held contracts' ``push.ticker``),
a position's leg in each of the account's modes, and each of the face's stream faults.
``ksctl run`` over this venue is tests/integration/stream/test_runner.py's and
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

BTC = "BTC/USDT:USDT"


class Rig(StreamRig):
    """A server on the wall clock, the adapter of ``account`` on MEXC with a stream block, and
    the wakes the adapter called (the desk's bot trades at the engine)."""

    VENUE = "mexc"

    def truth(self) -> dict:
        legs = self.engine.accounts[self.account].legs
        return {(f"{s[:-4]}/USDT:USDT", "short" if leg.amount < 0 else "long"): abs(leg.amount)
                for (s, _), leg in legs.items() if leg.amount}


def positions(snap: Any) -> dict:
    return {(p.symbol, p.side): p.contracts for p in snap.positions}


rig = Rig.run


# --- live ---------------------------------------------------------------------------------------------


def test_a_live_stream_answers_snapshots_without_rest_as_the_venue_holds_them():
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        assert positions(snap) == pytest.approx(r.truth()) and r.truth()
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6)
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.reconciles, h.dropped) == (
            "live", None, 0, 0, 1, {})
        streams = set().union(*(s.streams for s in r.server.mexc_stream.sockets))
        assert {"orders", "positions", "account", "ticker:BTC_USDT"} <= streams
    rig(t)


def test_a_fill_a_close_and_a_set_mark_reach_the_snapshot_from_the_stream_and_wake_the_runner():
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[(BTC, "long")]
        r.wakes.clear()
        r.buy()
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        assert set(r.wakes) == {r.key}
        await r.seen(lambda s: positions(s)[(BTC, "long")] == pytest.approx(before + 0.01), "the fill")
        sol = positions(await r.from_stream())
        (sol_leg,) = [k for k in sol if k[0] == "SOL/USDT:USDT"]
        r.engine.place_order("sim-main", "SOLUSDT", "SELL" if sol_leg[1] == "long" else "BUY", "MARKET",
                             quantity=sol[sol_leg], reduce_only=True)
        snap = await r.seen(lambda s: sol_leg not in positions(s), "SOL closed: its push's holdVol 0, state 3")
        assert positions(snap) == pytest.approx(r.truth())

        r.wakes.clear()
        r.engine.set_mark("BTCUSDT", 55_000.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(55_000.0) for p in s.positions), "the mark")
        (btc,) = [p for p in snap.positions if p.symbol == BTC]
        assert btc.notional == pytest.approx(btc.contracts * 55_000.0)
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-6)
        assert r.health.disagreements == 0
    rig(t)


def test_a_hedge_accounts_legs_are_kept_apart_by_the_mode_the_adapter_read():
    """The position push does not say the mode: the long and the short leg of one contract stay
    two legs, a fill on the short one moving it alone."""
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        assert {p.position_side for p in snap.positions} == {"LONG", "SHORT"}
        short = positions(snap)[(BTC, "short")]
        r.buy(qty=1.0, position_side="SHORT")  # closes 1 of the short leg
        snap = await r.seen(lambda s: positions(s)[(BTC, "short")] == pytest.approx(short - 1.0), "the short leg")
        assert positions(snap) == pytest.approx(r.truth())
        await r.adapter._rest_reconcile(r.adapter._stream)
        assert r.health.disagreements == 0
    rig(t, account="sim-hedge")


def test_orders_are_read_of_their_kinds_and_leave_when_they_end():
    """A bot's resting entry, its trigger order and its position's TP/SL: the stream lists them
    of their kinds without REST and wakes on the entry while entries are watched; cancelled,
    each leaves the stream's open orders."""
    async def t(r: Rig):
        await r.live()
        r.adapter.wake_on_entries(True)
        r.wakes.clear()
        eng = r.engine
        entry = eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", quantity=0.01, price=50_000.0,
                                time_in_force="GTC", client_order_id="bot-1")
        plan = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=54_000.0,
                                    reduce_only=True)
        tpsl = eng.place_algo_order("sim-main", "BTCUSDT", "SELL", "TAKE_PROFIT_MARKET", quantity=None,
                                    trigger_price=70_000.0, close_position=True)
        await until(lambda: r.wakes, "a wake for the entry", DEADLINE_S)
        snap = await r.seen(lambda s: len(s.orders) == 3, "the three orders")
        got = {o.kind: (o.side, o.price, o.trigger_price, o.reduce_only) for o in snap.orders}
        assert got == {"regular": ("buy", 50_000.0, None, False), "conditional": ("sell", None, 54_000.0, True),
                       "tpsl": ("sell", None, 70_000.0, True)}
        eng.cancel_order("sim-main", "BTCUSDT", order_id=entry.order_id)
        eng.cancel_algo_order("sim-main", plan.algo_id)
        eng.cancel_algo_order("sim-main", tpsl.algo_id)
        await r.seen(lambda s: not s.orders, "every order gone")
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
            assert r.health.reason == "STREAM_STALE"
            stale = await r.adapter.snapshot()
            assert stale.fetch.ok and stale.fetch.calls > 0
            await until(lambda: r.health.reconnects >= 2, "reconnects of the stalled stream", 2 * DEADLINE_S)
            r.server.faults.switch_off("stream")
            await until(lambda: r.health.state == "live", "the stream live again", 2 * DEADLINE_S)
        assert states.seen[0] == ("live", None)
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert positions(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, timeout=80.0)


@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_personal_push_is_counted_and_the_next_is_read(body, kind, caplog):
    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[(BTC, "long")]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        r.buy()  # its order, position and asset pushes: the first broken
        await until(lambda: r.health.dropped.get(kind, 0) == 1, f"a frame counted {kind}", DEADLINE_S)
        r.buy()
        snap = await r.seen(lambda s: positions(s)[(BTC, "long")] == pytest.approx(before + 0.02), "the next fill")
        assert positions(snap) == pytest.approx(r.truth())
        assert r.health.state == "live" and r.health.reconnects == 0
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({kind})" in m.getMessage()]
    assert len(said) == 1, said
    if body == "fields":  # what was wrong, by the venue's channel and field
        assert "BAD_RESPONSE: mexc websocket push.personal." in said[0] and "field data: missing" in said[0], said


@pytest.mark.parametrize("kind,counted", [("stream_duplicate", "duplicate"), ("stream_out_of_order", "out_of_order")])
def test_duplicate_and_out_of_order_marks_are_counted_and_never_corrupt_the_state(kind, counted):
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream(kind, op="stream:market")
        # a ticker each, and the cadence's: the face holds or repeats whichever market frame comes
        # first, another symbol's cadence ticker as like as BTC's, so marks go on (within a bound)
        # until the stream has counted one of BTC's
        price = 59_000.0
        for _ in range(40):
            r.engine.set_mark("BTCUSDT", price)
            await asyncio.sleep(0.25)
            if r.health.dropped.get(counted):
                break
            price -= 250.0
        r.server.faults.switch_off("stream:market")
        last = price
        snap = await r.seen(lambda s: any(p.mark_price == pytest.approx(last) for p in s.positions), "the last mark")
        assert positions(snap) == pytest.approx(r.truth())
        dropped = r.health.dropped
        assert set(dropped) == {counted} and dropped[counted] >= 1, dropped
    rig(t)


def test_a_login_the_venue_ends_is_login_refused_then_reconnected_with_a_new_login():
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
