"""The connection and its frames: a disconnect, a stall, a subscription's answer, frames dropped
before ccxt and counted, a burst, a listen key's expiry, the client's configuration, and an
account that does not stream (off with its reason)."""

from __future__ import annotations

import asyncio
import logging

import ccxt
import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.client import _rehost
from killswitch.runner.venue.port import Venues
from killswitch.runner.venue.streams import StreamWatch
from tests.unit.adapters.ccxt.fake import (
    API_KEY,
    FakeExchange,
    _creds,  # noqa: F401 — the credentials' environment, for every test
    account,
)

from .rig import (
    Venue,
    adapter,
    mark,
    order_update,
    position_update,
    rest_exchange,
    settle,
    wallet_update,
)


def test_a_disconnect_is_down_then_reconnected_and_the_next_snapshot_reads_rest(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        a._stream.backoff_s = 0.3
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(wallet_update(900, 5))
        await settle(lambda: a.stream_health().state == "live")
        live = await a.snapshot()
        assert live.fetch.calls == 0
        venue.push("orders", ccxt.NetworkError(f"connection reset apiKey={API_KEY}"))
        await settle(lambda: a.stream_health().state == "down")
        assert a.stream_health().reason == "STREAM_DOWN"
        assert (await a.snapshot()).fetch.calls > 0  # down: REST
        await settle(lambda: len(venue.clients) == 2)
        assert venue.clients[0].closed and a.stream_health().reconnects == 1
        venue.raw(mark(50000.0, 2000))  # the venue as REST says it (a reconcile that disagrees reads REST again)
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).fetch.calls > 0  # after a reconnect REST wins first
        assert (await a.snapshot()).fetch.calls == 0
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "stream down (EXCHANGE_UNAVAILABLE)" in text and API_KEY not in text


def test_a_stalled_stream_is_stale_and_the_snapshot_reads_rest():
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue, stream={"stale_after": "150ms"})
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(mark(50500.0, 2000))
        await settle(lambda: a.stream_health().state == "live")
        assert (await a.snapshot()).fetch.calls == 0
        await settle(lambda: a.stream_health().state == "stale")  # nothing comes
        h = a.stream_health()
        assert (h.state, h.reason) == ("stale", "STREAM_STALE")
        assert h.since_ms == h.last_message_ms + 150
        assert (await a.snapshot()).fetch.calls > 0
        await a.close()

    asyncio.run(body())


def test_a_subscription_answer_reaches_ccxt_but_never_makes_a_silent_stream_live():
    """A stalled venue still answers a new connection's subscriptions: were that a message, a
    stall would flap live and stale at every reconnect."""
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue, stream={"stale_after": "150ms"})
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        answer = {"result": None, "id": 1}
        venue.raw(answer)
        assert venue.clients[0].handled == [answer]
        h = a.stream_health()
        assert (h.state, h.last_message_ms) == ("connecting", None)
        venue.raw({"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "50000"})
        assert a.stream_health().state == "live"
        await a.close()

    asyncio.run(body())


def test_out_of_order_duplicate_and_malformed_frames_are_dropped_before_ccxt_and_counted_never_applied(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        newer = position_update(0.9, 1000)
        venue.raw(newer, position_update(0.1, 900))  # older than what is held
        venue.raw(newer, position_update(0.1, 950))  # the same again; another older
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 1100, "a": {"B": [], "P": [{"s": "BTCUSDT", "ps": "BOTH"}]}})
        venue.raw(mark(51000.0, 1200), mark(50000.0, 1150))
        assert a.stream_health().dropped == {"out_of_order": 3, "duplicate": 1, "malformed": 1}
        assert venue.clients[0].handled == [newer]  # (a mark never reaches ccxt)
        (p,) = (await a.snapshot()).positions
        assert (p.contracts, p.mark_price) == (0.9, 51000.0)
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    said = [r.getMessage() for r in caplog.records if "dropped (out_of_order)" in r.getMessage()]
    assert len(said) == 1  # once per kind and account


def test_every_frame_of_a_burst_reaches_the_state_though_ccxt_resolves_a_watch_with_one():
    """Five fills and marks back to back, read by ccxt before any watch is awaited again: the
    state holds the last of each, not the first."""
    async def body():
        rest, venue = rest_exchange(contracts=0.5), Venue()
        a = adapter(rest, venue)
        woken: list[str] = []
        a.set_wake(woken.append)
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        venue.raw(*[position_update(-0.1 * i, 1000 + i, wallet=1000 - i) for i in range(1, 6)],
                  mark(49000.0, 1006), mark(48500.0, 1007), order_update(7, "NEW", 1008),
                  order_update(8, "NEW", 1009), order_update(7, "FILLED", 1010))
        snap = await a.snapshot()
        assert snap.fetch.calls == 0
        (p,) = snap.positions
        assert (p.side, p.contracts, p.mark_price) == ("short", pytest.approx(0.5), 48500.0)
        assert snap.equity == pytest.approx(995 + p.unrealized_pnl)
        assert [o.id for o in snap.orders] == ["8"]
        assert a.stream_health().dropped == {} and len(woken) == 7  # 5 positions, 2 marks; orders never wake
        await a.close()

    asyncio.run(body())


def test_raw_messages_unknown_or_malformed_never_reach_ccxt_and_a_listen_key_expiry_reconnects(caplog):
    async def body():
        rest, venue = rest_exchange(), Venue()
        a = adapter(rest, venue)
        a._stream.backoff_s = 0.05
        await a.start_streams()
        await settle(lambda: venue.clients)  # the connection began: REST read after it seeds the state
        await a.snapshot()
        good = {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "50000"}
        venue.raw(good)
        venue.raw({"e": "SOMETHING_NEW", "E": 2})
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 3, "a": {"B": [{"a": "USDT"}], "P": []}})  # no wb
        venue.raw({"e": "ACCOUNT_UPDATE", "E": 3, "a": {"B": [{"a": "USDT"}], "P": []}})
        assert venue.clients[0].handled == []  # a mark is read here, the others dropped
        assert a.stream_health().dropped == {"unknown": 1, "malformed": 2}
        venue.raw({"e": "listenKeyExpired", "E": 4})
        h = a.stream_health()
        assert (h.state, h.reason) == ("down", "LISTEN_KEY_EXPIRED")
        await settle(lambda: len(venue.clients) == 2)
        venue.raw(mark(50500.0, 2000))
        await settle(lambda: a.stream_health().state == "live")
        assert a.stream_health().reconnects == 1
        await a.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    dropped = [r.getMessage() for r in caplog.records if "dropped (malformed)" in r.getMessage()]
    assert len(dropped) == 1  # once per kind and account


@pytest.mark.parametrize("venue_id, spec, reason", [
    ("zzfutures", {"enabled": True}, "STREAM_UNSUPPORTED"),  # a made-up id, no folder: the generic dialect polls
    ("zzfutures", None, "STREAM_UNSUPPORTED"),
    ("okx", None, "STREAM_DISABLED"),
    ("bybit", None, "STREAM_DISABLED"),
    ("binanceusdm", None, "STREAM_DISABLED"),
    ("binanceusdm", {"enabled": False}, "STREAM_DISABLED"),
])
def test_an_account_without_a_stream_is_off_with_its_reason_and_polls(venue_id, spec, reason, monkeypatch, caplog):
    monkeypatch.setenv("KS_TEST_PASS", "pass-phrase-42xyz")
    rest, venue = FakeExchange(venue_id), Venue()
    kw = {} if spec is None else {"stream": spec}
    a = CcxtAdapter(account(venue_id, **kw), exchange_factory=rest.factory, stream_factory=venue.factory)

    async def body():
        await a.start_streams()
        await a.start_streams()
        return await a.snapshot()

    with caplog.at_level(logging.INFO):
        snap = asyncio.run(body())
    h = a.stream_health()
    assert (h.state, h.reason) == ("off", reason)
    assert venue.clients == [] and snap.fetch.calls > 0
    said = [r for r in caplog.records if "STREAM_UNSUPPORTED" in r.getMessage()]
    assert len(said) == (1 if reason == "STREAM_UNSUPPORTED" else 0)
    if said:
        assert said[0].levelno == (logging.WARNING if spec else logging.INFO)


def test_a_stream_asked_for_and_not_started_yet_is_connecting_and_the_runner_does_not_say_it_polls(caplog):
    rest, venue = rest_exchange(), Venue()
    a = adapter(rest, venue)
    h = a.stream_health()
    assert (h.state, h.reason) == ("connecting", None)
    with caplog.at_level(logging.INFO):
        StreamWatch(Venues({"binanceusdm/main": a}), clock=lambda: 0).announce()
    assert not [r for r in caplog.records if "STREAM_OFF" in r.getMessage()]
    asyncio.run(a.close())
    assert (a.stream_health().state, a.stream_health().reason) == ("off", "STREAM_DISABLED")


def test_the_streaming_client_is_configured_as_the_rest_one_and_websocket_urls_keep_their_scheme():
    rest, venue = rest_exchange(), Venue()
    a = adapter(rest, venue)
    ex = a._stream._build()
    assert venue.config["apiKey"] == API_KEY and venue.config["timeout"] == 2000
    assert ex.options["watchPositions"]["fetchPositionsSnapshot"] is False
    assert _rehost({"ws": "wss://fstream.binance.com/ws", "rest": "https://fapi.binance.com/fapi/v1"},
                   "http://127.0.0.1:8765") == {"ws": "ws://127.0.0.1:8765/ws", "rest": "http://127.0.0.1:8765/fapi/v1"}
    assert _rehost("wss://fstream.binance.com/ws", "https://testnet.example") == "wss://testnet.example/ws"
