"""OKX's stream end to end, where it differs from the other venues' (the cases they share run over
every streaming venue in tests/integration/stream/test_adapter.py): the algo service's orders
(``orders-algo`` on the business websocket) reaching the stream's state as events, with the kind
their channel says, and waking the runner while it watches entries; a login the venue drops,
down with the venue's code and words, then logged in again; order updates out of order on the
private channels; a push without its rows dropped as BAD_RESPONSE naming the channel and field.
The real :class:`CcxtAdapter` against the simulator's OKX faces (the Rig of that module)."""

from __future__ import annotations

import logging

import pytest

from adapters.simulated.engine import ManualClock
from tests.integration.sim_helpers import T0
from tests.integration.stream.test_adapter import BTC_U, DEADLINE_S, Rig, States, positions, rig
from tests.procs import until

OKX = "okx"


def orders_of(snap) -> dict:
    return {o.id: o for o in snap.orders}


def test_algo_orders_reach_the_stream_state_as_events_with_their_kind_and_an_entry_wakes_the_runner():
    async def t(r: Rig):
        await r.live()
        r.adapter.wake_on_entries(True)  # a lock that cancels entries binds the account
        before = positions(await r.from_stream())[BTC_U]
        r.wakes.clear()
        entry = await r.bot.create_order(BTC_U, "market", "buy", 0.01, params={"triggerPrice": 65_000.0})
        await until(lambda: r.wakes, "a wake for the entry trigger order", DEADLINE_S)
        snap = await r.seen(lambda s: entry["id"] in orders_of(s), "the trigger order")
        o = orders_of(snap)[entry["id"]]
        assert (o.kind, o.trigger_price, o.reduce_only, o.side) == ("conditional", 65_000.0, False, "buy")

        r.wakes.clear()
        stop = await r.bot.create_order(BTC_U, "market", "sell", 0.01, params={"stopLossPrice": 55_000.0,
                                                                             "reduceOnly": True})
        snap = await r.seen(lambda s: stop["id"] in orders_of(s), "the stop-loss")
        o = orders_of(snap)[stop["id"]]
        assert (o.kind, o.trigger_price, o.reduce_only) == ("tpsl", 55_000.0, True)
        assert r.wakes == []  # a TP/SL is no entry: it never wakes the runner

        await r.bot.cancel_order(entry["id"], BTC_U, params={"trigger": True})
        await r.seen(lambda s: entry["id"] not in orders_of(s), "the trigger order cancelled")
        r.engine.set_mark("BTCUSDT", 54_000.0)
        r.engine.open_orders("sim-main")  # the engine's timers run: the stop-loss triggers and fills
        snap = await r.seen(lambda s: stop["id"] not in orders_of(s)
                            and positions(s)[BTC_U] == pytest.approx(before - 0.01), "the stop-loss triggered")
        assert positions(snap) == pytest.approx(r.truth())
        assert r.health.reconciles == 1  # all of it from the stream: no REST read since the first
        await r.adapter._rest_reconcile(r.adapter._stream)  # and REST agrees with what it holds
        assert r.health.disagreements == 0 and r.health.dropped == {}
    rig(t, venue=OKX)


def test_a_login_the_venue_drops_is_down_with_its_words_then_logged_in_again(caplog):
    async def t(r: Rig):
        await r.live()
        with States(r) as states:
            r.server.faults.stream("listen_key_expired", op="stream:user", times=1)
            await r.bot.create_order(BTC_U, "limit", "buy", 0.01, 50_000.0)  # a frame on the private socket
            await until(lambda: r.health.reconnects == 1 and r.health.state == "live", "logged in again",
                        DEADLINE_S)
        assert ("down", "STREAM_LOGIN_REFUSED") in states.seen
        before = positions(await r.adapter.snapshot())[BTC_U]  # the reconnect's REST reconcile
        await r.bot.create_order(BTC_U, "market", "buy", 0.01)
        await r.seen(lambda s: positions(s)[BTC_U] == pytest.approx(before + 0.01), "a fill after the new login")
    with caplog.at_level(logging.WARNING):
        rig(t, venue=OKX)
    said = [m.getMessage() for m in caplog.records if "STREAM_LOGIN_REFUSED" in m.getMessage()]
    assert any("okx refused or dropped the stream's login: 60011 Please log in" in m for m in said), said


def test_order_updates_out_of_order_are_dropped_counted_and_never_reopen_an_order():
    """Each second private frame held back behind the next: a limit order's NEW arrives after its
    CANCELED (a second later on the venue's clock); the late NEW is dropped, the order stays
    gone, and the next reconcile agrees."""
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream("stream_out_of_order", op="stream:user")
        placed = await r.bot.create_order(BTC_U, "limit", "buy", 0.01, 50_000.0)
        clock.advance(1000)
        await r.bot.cancel_order(placed["id"], BTC_U)
        await until(lambda: r.health.dropped.get("out_of_order", 0) >= 1, "the late NEW dropped", DEADLINE_S)
        r.server.faults.switch_off("stream")
        snap = await r.from_stream()
        assert placed["id"] not in orders_of(snap)
        await r.adapter._rest_reconcile(r.adapter._stream)
        assert r.health.disagreements == 0
    clock = ManualClock(T0)
    rig(t, venue=OKX, clock=clock)


def test_a_push_without_its_rows_is_bad_response_naming_the_channel_and_field(caplog):
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body="fields")
        await r.bot.create_order(BTC_U, "limit", "buy", 0.01, 50_000.0)  # its orders push loses its data
        await until(lambda: r.health.dropped.get("malformed", 0) == 1, "the push counted malformed", DEADLINE_S)
        after = await r.bot.create_order(BTC_U, "limit", "buy", 0.01, 49_000.0)  # the next push, whole
        await r.seen(lambda s: after["id"] in orders_of(s), "the order pushed after the malformed one")
        assert r.health.state == "live" and r.health.reconnects == 0
    with caplog.at_level(logging.WARNING):
        rig(t, venue=OKX)
    said = [m.getMessage() for m in caplog.records if "dropped (malformed)" in m.getMessage()]
    assert len(said) == 1 and "channel 'orders': BAD_RESPONSE: okx websocket orders: field data: missing" in said[0]
