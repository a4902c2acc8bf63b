"""The marks a stream reads: every mark watched once, the held symbols' read, an array of marks
late, again or unreadable, and a subscription the venue refuses."""

from __future__ import annotations

import asyncio
import logging

from tests.unit.adapters.ccxt.fake import (
    BTC,
    FakeExchange,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    )

from .rig import (
    Venue,
    adapter,
    mark,
    position_update,
    rest_exchange,
    settle,
)


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
