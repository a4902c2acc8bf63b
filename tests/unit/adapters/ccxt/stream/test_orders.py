"""Closes and cancels checked against what the stream holds, and new entries handed to the venue
watch while it watches them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from tests.unit.adapters.ccxt.fake import (
    BTC,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    ccxt_order,
    ccxt_position,
    intent,
)

from .rig import (
    Venue,
    adapter,
    live,
    order_update,
    position_update,
    rest_exchange,
    settle,
)


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
