"""MEXC spot's stream end to end: the real :class:`CcxtAdapter` of a spot account with a ``stream``
block (``ccxt.pro.mexc`` over the simulator's spot websocket: a listen key from ``POST
/api/v3/userDataStream``, the protobuf orders and account pushes read raw, the held pairs' mini
tickers), the book it answers against the polled one, and each of the face's stream faults.

The engine runs on the wall clock; marks pushed every 100 ms, ``stale_after`` 1 s. Waits are
bounded by :data:`DEADLINE_S` (a bound on events, never a measured duration).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from killswitch.runner.watch.enforce import leg_sizes
from tests.integration.sim_helpers import run
from tests.integration.stream.rig import DEADLINE_S, StreamRig
from tests.integration.stream.test_adapter import States
from tests.procs import until

pytest.importorskip("ccxt")
pytest.importorskip("google.protobuf")

ORDERS = "spot@private.orders.v3.api.pb"
PRIVATE = {ORDERS, "spot@private.account.v3.api.pb"}
DEALS = "spot@private.deals.v3.api.pb"


class Rig(StreamRig):
    """A server on the wall clock, the adapter of ``account``'s MEXC spot account with a stream
    block, and the wakes the adapter called (the desk's bot trades at the engine)."""

    VENUE = "mexc"

    def __init__(self, **kw: Any):
        super().__init__(market_type="spot", **kw)

    async def live(self) -> None:
        """Live, and both private channels subscribed (each its own request on the key's socket:
        a change before its subscription is the next reconcile's, as on the venue)."""
        await super().live()
        await until(lambda: PRIVATE <= self.subscribed(), "the orders and account channels", DEADLINE_S)

    def subscribed(self) -> set:
        return set().union(*(s.streams for s in self.server.mexc_stream.spot.sockets))

    def truth(self) -> dict:
        return {a: q for a, q in self.engine.accounts[self.account].spot.items() if q}

    def buy(self, symbol: str = "BTCUSDT", qty: float = 0.01, **kw: Any) -> None:
        self.engine.place_spot_order(self.account, symbol, "BUY", qty, **kw)


def held(snap: Any) -> dict:
    return {b.asset: b.total for b in snap.balances}


def prices(snap: Any) -> dict:
    return {b.asset: b.price for b in snap.balances}


rig = Rig.run


def test_a_live_stream_answers_snapshots_without_rest_as_the_polled_book():
    async def t(r: Rig):
        await r.live()
        snap = await r.from_stream()
        rest = await r.adapter._rest_snapshot()
        assert held(snap) == pytest.approx(held(rest))
        assert held(rest) == pytest.approx(r.truth()) and len(r.truth()) > 1
        # the venue watch's legs, the held base assets (not the quote), the same from either
        assert leg_sizes(snap) == pytest.approx(leg_sizes(rest)) and "BTC/USDT|long" in leg_sizes(rest)
        assert "USDT/USDT|long" not in leg_sizes(snap)
        assert prices(snap) == pytest.approx(prices(rest))
        assert snap.equity == pytest.approx(rest.equity, rel=1e-9) and not snap.positions
        h = r.health
        assert (h.state, h.reason, h.reconnects, h.disagreements, h.dropped) == ("live", None, 0, 0, {})
        assert "spot@public.miniTicker.v3.api.pb:BTCUSDT" in r.subscribed()
        assert {("POST", "/api/v3/userDataStream", 200)} <= set(r.server.requests)
    rig(t)


def test_a_fill_and_a_set_mark_reach_the_book_from_the_stream_and_wake_the_runner():
    async def t(r: Rig):
        await r.live()
        btc = held(await r.from_stream())["BTC"]
        r.wakes.clear()
        r.buy(qty=0.01)
        await until(lambda: r.wakes, "a wake for the fill", DEADLINE_S)
        snap = await r.seen(lambda s: held(s)["BTC"] == pytest.approx(btc + 0.01), "the fill's BTC")
        await r.seen(lambda s: held(s) == pytest.approx(r.truth()), "the fill's USDT")
        r.wakes.clear()
        r.engine.set_mark("ETHUSDT", 2_500.0)
        await until(lambda: r.wakes, "a wake for the mark", DEADLINE_S)
        snap = await r.seen(lambda s: prices(s)["ETH"] == pytest.approx(2_500.0), "ETH's mini ticker")
        rest = await r.adapter._rest_snapshot()
        assert snap.equity == pytest.approx(rest.equity, rel=1e-9)
        assert held(snap) == pytest.approx(held(rest))
        assert leg_sizes(snap) == pytest.approx(leg_sizes(rest))  # the fill's growth, as the watch reads it
        assert leg_sizes(snap)["BTC/USDT|long"] == pytest.approx(btc + 0.01)
        assert r.health.disagreements == 0
    rig(t)


def test_a_resting_order_is_read_as_its_rest_row_and_leaves_when_cancelled():
    async def t(r: Rig):
        await r.live()
        r.adapter.wake_on_entries(True)
        r.wakes.clear()
        o = r.engine.place_spot_order(r.account, "BTCUSDT", "BUY", 0.01, 50_000.0, time_in_force="GTC",
                                      client_order_id="bot-1")
        await until(lambda: r.wakes, "a wake for the entry", DEADLINE_S)
        snap = await r.seen(lambda s: len(s.orders) == 1, "the order")
        (got,) = snap.orders
        rest = await r.adapter._rest_snapshot()
        (listed,) = rest.orders
        assert got == listed
        assert (got.id, got.client_id, got.kind, got.side, got.price, got.amount) == (
            str(o.order_id), "bot-1", "regular", "buy", 50_000.0, 0.01)
        r.engine.cancel_spot_order(r.account, o.order_id)
        await r.seen(lambda s: not s.orders, "the order gone")
        await r.seen(lambda s: held(s) == pytest.approx(r.truth()), "its USDT free again")
        assert r.health.disagreements == 0
    rig(t)


# --- faults -------------------------------------------------------------------------------------------


def test_a_listen_key_the_venue_ends_is_said_polled_then_a_new_key_streams():
    async def t(r: Rig):
        await r.live()
        first = r.server.mexc_stream.spot.keys.live(r.account, r.engine.now())
        with States(r) as states:  # type: ignore[arg-type]
            r.server.faults.stream("listen_key_expired", op="stream:user", times=1)
            r.buy()
            await until(lambda: ("down", "LISTEN_KEY_EXPIRED") in states.seen, "the key ended", DEADLINE_S)
            down = await r.adapter.snapshot()
            assert down.fetch.ok and down.fetch.calls > 0  # polled meanwhile
            await until(lambda: r.health.state == "live", "the stream live again", 2 * DEADLINE_S)
        again = r.server.mexc_stream.spot.keys.live(r.account, r.engine.now())
        assert first is not None and again is not None and again.key != first.key
        await r.adapter.snapshot()  # the reconnect's reconcile
        assert held(await r.from_stream()) == pytest.approx(r.truth())
    rig(t, timeout=60.0)


def test_a_listen_key_that_lapses_unrenewed_is_said_and_the_account_polled():
    """MEXC's key lapses 60 minutes after its last PUT (ccxt PUTs every 20): here, made to lapse
    a second after each POST, the socket is told so and the stream says LISTEN_KEY_EXPIRED (the
    second time with no fault: the lapse), the snapshots reading REST meanwhile."""
    async def t(r: Rig):
        await r.live()
        r.server.mexc_stream.spot.keys.validity_ms = 1_000  # (the keys issued from now on)
        with States(r) as states:  # type: ignore[arg-type]
            r.server.mexc_stream.spot.expire(r.account)  # the live key ended: the next one lapses
            await until(lambda: states.seen.count(("down", "LISTEN_KEY_EXPIRED")) >= 2, "a lapsed key said",
                        2 * DEADLINE_S)
        snap = await r.adapter.snapshot()  # (REST's, or a fresh key's stream after its reconcile)
        assert snap.fetch.ok and held(snap) == pytest.approx(r.truth())
    rig(t, timeout=60.0)


def test_a_disconnect_is_down_then_reconnected_with_a_new_key_and_read_over_rest_first():
    async def t(r: Rig):
        await r.live()
        await r.down_and_back(r.buy)
        await until(lambda: PRIVATE <= r.subscribed(), "the channels subscribed again", DEADLINE_S)
        assert held(await r.from_stream()) == pytest.approx(r.truth())
    rig(t)


def test_a_listen_key_refused_keeps_the_stream_down_and_the_account_polled():
    async def t(r: Rig):
        r.server.faults.http_error("listen_key_new", 503)
        await r.adapter.start_streams()
        await until(lambda: r.health.state == "down", "the stream down", DEADLINE_S)
        snap = await r.adapter.snapshot()
        assert snap.fetch.ok and snap.fetch.calls > 0 and held(snap) == pytest.approx(r.truth())
        assert r.health.state != "live"
        r.server.faults.switch_off("listen_key_new")
        await until(lambda: r.health.state == "live", "the stream live once a key is had", 2 * DEADLINE_S)
    rig(t, timeout=60.0)


@pytest.mark.parametrize("body,kind", [("json", "malformed"), ("fields", "malformed"), ("event", "unknown")])
def test_a_malformed_push_is_counted_named_by_channel_and_field_and_the_next_is_read(body, kind, caplog):
    async def t(r: Rig):
        await r.live()
        btc = held(await r.from_stream())["BTC"]
        r.server.faults.stream("stream_malformed", op="stream:user", times=1, body=body)
        r.buy()  # its account pushes: the first broken
        await until(lambda: r.health.dropped.get(kind, 0) == 1, f"a frame counted {kind}", DEADLINE_S)
        r.buy()
        await r.seen(lambda s: held(s)["BTC"] == pytest.approx(btc + 0.02), "the next fill")
        await r.adapter._rest_reconcile(r.adapter._stream)
        assert held(await r.adapter.snapshot()) == pytest.approx(r.truth())
        assert r.health.reconnects == 0
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if f"dropped ({kind})" in m.getMessage()]
    assert len(said) == 1, said
    if body == "fields":  # what was wrong, by the venue's channel and field
        # a buy pushes its deal before the assets once the deals channel is subscribed, which
        # may land before or after the buy: the first push of either is the one broken
        named = [f"BAD_RESPONSE: mexc websocket spot@private.{c}.v3.api.pb: field private{f}: "
                 for c, f in (("account", "Account"), ("deals", "Deals"))]
        assert any(n in said[0] for n in named), said
    if body == "json":
        assert "cannot be decoded" in said[0], said


# --- the runner -----------------------------------------------------------------------------------------


def test_a_streamed_spot_account_cancels_a_rogue_entry_at_the_stream_events_tick(tmp_path, monkeypatch):
    """``ksctl run`` in-process over the simulator's faces, a 30 s interval, the MEXC spot account
    streamed: under an operator's halt, a rogue spot entry placed at the engine reaches the runner
    by its orders push and is cancelled at that event, long before the next interval, and reported
    once with the strategy of the account's prefix map. (enforcement/test_streamed.py's venues are
    each venue's own face — MEXC's the contract API's, its positions and conditional orders —; a
    spot account holds no position and no conditional order, so this case is its own.)"""
    import asyncio
    import time

    from tests.integration.enforcement.rig import open_ids, violations
    from tests.integration.stream.test_runner import serve, stream_of

    key = "mexc/sim-main"
    seen: dict = {}

    async def scenario(daemon: Any, server: Any) -> None:
        parts = daemon.parts
        assert (await daemon.desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        daemon.wakes.nudge()  # a tick under the lock asks the adapter to watch entries
        await until(lambda: parts.enforcement.waking.get(key), "entries watched", 30.0)
        await until(lambda: stream_of(daemon, key)["state"] == "live", "the stream live", 30.0)
        started = time.monotonic()
        server.engine.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.01, 55_000.0, time_in_force="GTC",
                                       client_order_id="alp-rogue-9")
        await until(lambda: "alp-rogue-9" not in open_ids(server.engine), "the rogue entry cancelled", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["rows"] = violations(daemon.runner.store)

    extra = "market_type: spot\nhedge_mode: false\nstrategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "30s", scenario, venue="mexc", extra=extra,
                                       ready=lambda srv: PRIVATE <= set().union(
                                           *(s.streams for s in srv.mexc_stream.spot.sockets))), 90))
    logging.getLogger(__name__).info("mexc spot: cancelled %.3f s after the order", seen["after_s"])
    assert seen["after_s"] < 10.0, seen  # at the stream's event: the 30 s interval did not pass
    (row,) = seen["rows"]
    assert (row["client_order_id"], row["action"], row["strategy"], row["scope"]) == (
        "alp-rogue-9", "cancel", "alpha", key)


def test_a_streamed_spot_holding_grown_under_a_halt_is_sold_back_at_the_stream_events_tick(tmp_path, monkeypatch):
    """``ksctl run`` in-process, a 30 s interval, the MEXC spot account streamed, an operator's
    halt told not to cancel (no entry wakes the runner, only the fill can): a bot's market buy of
    BTC grows the holding; the account push wakes the runner, whose venue watch sells the excess
    back (one sale, not reduce-only) within seconds, long before the next interval."""
    import asyncio
    import time

    from tests.integration.enforcement.rig import violations
    from tests.integration.stream.test_runner import serve, stream_of

    key = "mexc/sim-main"
    seen: dict = {}

    def btc(engine: Any) -> float:
        return float(engine.accounts["sim-main"].spot.get("BTC", 0.0))

    async def scenario(daemon: Any, server: Any) -> None:
        parts = daemon.parts
        assert (await daemon.desk.lock_scope(key, "halted", "desk halt", actor="op",
                                             enforce={"cancel": False, "revert_growth": True})).done
        daemon.wakes.nudge()  # the first tick under the lock: each holding's size at the lock is its baseline
        await until(lambda: parts.book.baselines.get(key), "the baselines kept", 30.0)
        seen["legs"] = dict(parts.book.baselines[key]["legs"])
        await until(lambda: stream_of(daemon, key)["state"] == "live", "the stream live", 30.0)
        seen["before"] = btc(server.engine)
        started = time.monotonic()
        server.engine.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.2, client_order_id="alp-mkt-9")
        seen["grown"] = btc(server.engine)
        await until(lambda: btc(server.engine) == pytest.approx(seen["before"]), "the growth sold back", 30.0)
        seen["after_s"] = time.monotonic() - started
        seen["rows"] = violations(daemon.runner.store)
        seen["journal"] = [(e.symbol, e.side, e.amount, e.reduce_only) for e in daemon.runner.store.journal(limit=100)
                           if e.decision_id.startswith("enforce/")]

    extra = "market_type: spot\nhedge_mode: false\nstrategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "30s", scenario, venue="mexc", extra=extra,
                                       ready=lambda srv: PRIVATE <= set().union(
                                           *(s.streams for s in srv.mexc_stream.spot.sockets))), 90))
    assert seen["legs"]["BTC/USDT|long"] == pytest.approx(seen["before"]) and "USDT/USDT|long" not in seen["legs"]
    assert seen["grown"] == pytest.approx(seen["before"] + 0.2)
    assert seen["after_s"] < 10.0, seen  # woken by the stream: the 30 s interval did not pass
    assert seen["journal"] == [("BTC/USDT", "sell", pytest.approx(0.2), False)]
    (row,) = seen["rows"]
    assert (row["action"], row["symbol"], row["side"]) == ("revert", "BTC/USDT", "buy")


def test_holdings_rogue_buys_grew_are_sold_back_under_a_halt_reading_my_trades_once_not_once_a_sale(
        tmp_path, monkeypatch):
    """``ksctl run`` over the MEXC spot faces, streamed, under an operator's halt: a bot's market
    buy of BTC is sold back, attributed to the bot by its trades, then a second one. The trades
    are read over REST once (``myTrades``, and the first bot order looked up for its client id,
    which a ``myTrades`` row does not carry): the second growth's trade is the deals push's, its
    client id on it. Each sale costs its order and its look-up by client id; no ``myTrades`` a
    sale (before the deals were read: one each, and none served by the face)."""
    import asyncio

    from tests.integration.stream.rig import halt_sales
    from tests.integration.stream.test_runner import serve

    seen: dict = {}
    scenario = halt_sales("mexc/sim-main", seen, lambda m, p: p.startswith("/api/v3/") and p not in (
        "/api/v3/account", "/api/v3/openOrders", "/api/v3/ticker/price"))
    extra = "market_type: spot\nhedge_mode: false\nstrategies: [{name: alpha, client_id_prefixes: [alp-]}]\n"
    # (no cadence reconcile inside the counted window)
    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "30s", scenario, reconcile_every="10m", venue="mexc",
                                       extra=extra, ready=lambda srv: PRIVATE | {DEALS} <= set().union(
                                           *(s.streams for s in srv.mexc_stream.spot.sockets))), 90))
    assert seen["sales"] == [("BTC/USDT", "sell", pytest.approx(0.25), "filled")] * 2, seen
    assert seen["btc"][1] == pytest.approx(seen["btc"][0])  # back at its size at the lock
    # each growth reported once, named by the bot's own order: the first from REST's trades, the
    # second from the deals push
    named = sorted((r["client_order_id"], r["strategy"]) for r in seen["rows"] if r["action"] == "revert")
    assert named == [("alp-mkt-1", "alpha"), ("alp-mkt-2", "alpha")], seen["rows"]
    sent = seen["sent"]
    assert sent["GET /api/v3/myTrades"] == 1, sent  # once the symbol, not once a sale
    assert sent["POST /api/v3/order"] == 2, sent


def test_the_deals_push_tells_each_fill_as_my_trades_lists_it_with_its_client_id():
    """The face pushes one deal a fill of the account after the channel's subscription, encoded
    as MEXC's (the wrapper's ``symbol``, ``privateDeals``): its ``tradeId`` the ``id`` of the same
    trade in ``GET /api/v3/myTrades``, its order's id and ``clientOrderId``, side, amount, price
    and time; a fill before the subscription is not pushed; the dialect reads the push into the
    trade the REST row is."""
    import aiohttp

    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.scenarios import build
    from adapters.venues.mexc.face.stream import mexc_pro_client

    async def t() -> None:
        async with SimServer(build("calm", wall_clock), auth_clock=wall_clock) as server:
            eng = server.engine
            ex = mexc_pro_client(server, "sim-main", options={"defaultType": "spot"})
            ws_url = "ws" + server.base_url[len("http"):] + "/ws"
            try:
                await ex.load_markets()
                key = (await ex.spotPrivatePostUserDataStream())["listenKey"]
                eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.1, client_order_id="alp-old")
                async with aiohttp.ClientSession() as http:
                    async with http.ws_connect(f"{ws_url}?listenKey={key}") as private:
                        await private.send_json({"method": "SUBSCRIPTION", "params": [DEALS]})
                        assert (await private.receive_json()) == {"id": 0, "code": 0, "msg": DEALS}
                        eng.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.25, client_order_id="alp-mkt-1")
                        pushed = ex.decode_proto_msg((await private.receive(timeout=DEADLINE_S)).data)
                rows = await ex.spotPrivateGetMyTrades({"symbol": "BTCUSDT"})
            finally:
                await ex.close()
        assert pushed["channel"] == DEALS and pushed["symbol"] == "BTCUSDT"
        deal, row = pushed["privateDeals"], rows[-1]
        assert (deal["tradeId"], deal["orderId"], deal["price"], deal["quantity"], deal["time"]) == (
            row["id"], row["orderId"], row["price"], row["qty"], row["time"])
        assert (deal["clientOrderId"], deal["tradeType"], row["isBuyer"]) == ("alp-mkt-1", 2, False)
        (ev,) = dialect_for("mexc").stream_reader(lambda: None)(pushed, ex.safe_symbol, None, None)
        (fill,) = ev.fills
        assert (fill.id, fill.client_id, fill.side, fill.amount, fill.symbol, fill.ts_ms) == (
            row["id"], "alp-mkt-1", "sell", 0.25, "BTC/USDT", int(row["time"]))

    run(t(), 30)


def test_a_mini_ticker_that_cannot_be_decoded_is_counted_and_the_next_values_the_book():
    """The held pairs' mini tickers come on the venue's shared public socket (its hub), binary
    too: one cut short is dropped there, counted in the account's stream, and the next is read."""
    async def t(r: Rig):
        await r.live()
        r.server.faults.stream("stream_malformed", op="stream:market", times=1, body="json")
        await until(lambda: r.health.dropped.get("malformed", 0) == 1, "a mini ticker counted malformed", DEADLINE_S)
        r.engine.set_mark("SOLUSDT", 150.0)
        await r.seen(lambda s: prices(s)["SOL"] == pytest.approx(150.0), "SOL's next mini ticker")
        assert r.health.state == "live" and r.health.reconnects == 0
    rig(t)


def test_a_mini_ticker_the_venue_refuses_is_named_and_its_pair_valued_from_rest_never_left_calm(caplog):
    """MEXC refuses ETHUSDT's mini ticker ("Not Subscribed successfully! [...]. Reason: Blocked!",
    the face's knob): the stream stays live but says STREAM_MARKS_REFUSED naming ETH/USDT, said
    once; it does not answer alone, so each snapshot reads REST and ETH's price moved at the
    venue is the book's at once, not the price the stream last held; the channel is not asked
    again on that connection, and once the venue takes it, a reconnect streams it."""
    ticker = "spot@public.miniTicker.v3.api.pb@ETHUSDT@UTC+8"

    async def t(r: Rig):
        face = r.server.mexc_stream.spot
        refused: list[str] = []
        answer = face._refused
        face._refused = lambda sock, channel: (refused.append(channel), answer(sock, channel))  # type: ignore
        face.refuse.add(ticker)
        await r.adapter.start_streams()
        await until(lambda: r.health.state == "live", "the stream live", DEADLINE_S)
        await r.adapter.snapshot()  # the reconcile: the pairs held are read, their tickers subscribed
        await until(lambda: r.health.unstreamed == ("ETH/USDT",), "ETH/USDT named unstreamed", DEADLINE_S)
        h = r.health
        assert (h.state, h.reason, h.answers, h.dropped) == ("live", "STREAM_MARKS_REFUSED", False, {})
        r.engine.set_mark("ETHUSDT", 2_500.0)
        snap = await r.adapter.snapshot()
        assert snap.fetch.ok and snap.fetch.calls > 0  # REST in front: the stream is not whole
        assert prices(snap)["ETH"] == pytest.approx(2_500.0) and held(snap) == pytest.approx(r.truth())
        # REST's ETH price is the stream's state's too (never compared: not the stream's word)
        assert r.adapter._stream.state.marks["ETH/USDT"] == pytest.approx(2_500.0)
        await r.adapter.snapshot()
        assert refused == [ticker]  # asked once on the socket: never again
        assert r.health.unstreamed == ("ETH/USDT",) and r.health.disagreements == 0
        # no longer blocked: the tickers' socket dropped, the reconnect asks again and ETH streams
        face.refuse.clear()
        r.server.faults.stream("stream_disconnect", op="stream:market", times=1)
        await until(lambda: r.health.reconnects == 1 and r.health.state == "live", "the stream back", DEADLINE_S)
        await r.adapter.snapshot()  # the reconnect's reconcile
        await until(lambda: len(face.sockets) == 2 and ticker in set().union(*(
            s.pushed["subscribed"] for s in face.sockets)), "ETH's ticker subscribed again", DEADLINE_S)
        assert r.health.unstreamed == () and r.health.reason is None
        r.engine.set_mark("ETHUSDT", 2_600.0)
        await r.seen(lambda s: prices(s)["ETH"] == pytest.approx(2_600.0), "ETH's mini ticker, from the stream")
        assert refused == [ticker]
    with caplog.at_level("WARNING"):
        rig(t)
    said = [m.getMessage() for m in caplog.records if "STREAM_MARKS_REFUSED" in m.getMessage()]
    assert len(said) == 1 and "ETH/USDT" in said[0] and "Blocked!" in said[0], said


# --- the face -------------------------------------------------------------------------------------------


def test_the_faces_listen_keys_and_sockets_as_ccxt_meets_them():
    """A key from the signed POST, extended by PUT, ended by DELETE (its socket told ``Invalid
    listen key``, a PUT of it refused); a bare /ws whose first request is MEXC spot's is this
    face's (Binance's face holds the path), a private channel on it refused."""
    import aiohttp

    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.scenarios import build
    from adapters.venues.mexc.face.stream import mexc_pro_client

    async def t() -> None:
        async with SimServer(build("calm", wall_clock), auth_clock=wall_clock) as server:
            ex = mexc_pro_client(server, "sim-main", options={"defaultType": "spot"})
            ws_url = "ws" + server.base_url[len("http"):] + "/ws"
            try:
                key = (await ex.spotPrivatePostUserDataStream())["listenKey"]
                assert (await ex.spotPrivatePutUserDataStream({"listenKey": key}))["listenKey"] == key
                async with aiohttp.ClientSession() as http:
                    async with http.ws_connect(f"{ws_url}?listenKey={key}") as private, \
                            http.ws_connect(ws_url) as public:
                        await private.send_json({"method": "SUBSCRIPTION", "params": [ORDERS]})
                        assert (await private.receive_json()) == {"id": 0, "code": 0, "msg": ORDERS}
                        await public.send_json({"method": "SUBSCRIPTION", "params": [ORDERS]})
                        assert "Not Subscribed" in (await public.receive_json())["msg"]
                        ticker = "spot@public.miniTicker.v3.api.pb@BTCUSDT@UTC+8"
                        await public.send_json({"method": "SUBSCRIPTION", "params": [ticker]})
                        assert (await public.receive_json())["msg"] == ticker
                        pushed = ex.decode_proto_msg((await public.receive()).data)
                        assert pushed["channel"] == ticker and float(pushed["publicMiniTicker"]["price"]) > 0
                        await ex.spotPrivateDeleteUserDataStream({"listenKey": key})
                        assert (await private.receive()).data == "Invalid listen key"
                with pytest.raises(Exception, match="730001"):
                    await ex.spotPrivatePutUserDataStream({"listenKey": key})
            finally:
                await ex.close()

    run(t(), 30)



def test_the_face_refuses_a_sockets_31st_subscription_in_mexcs_refusal_shape():
    """MEXC documents 30 subscriptions a socket: the 31st is refused (the face's answer: MEXC's
    refusal shape, see face/spot_stream.py's docstring), the 30 kept; an unsubscription frees one;
    every pair's mini tickers come in one push of one subscription."""
    import aiohttp

    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.scenarios import build

    zones = ("UTC+8", "UTC+0", "UTC+1", "UTC+2", "UTC+3", "UTC+4", "UTC+5", "UTC+6", "UTC+7", "UTC+9", "UTC+10")
    tickers = [f"spot@public.miniTicker.v3.api.pb@{m}@{z}" for z in zones for m in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]

    async def answers(ws: Any, n: int) -> list:
        out: list = []
        while len(out) < n:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                out.append(msg.json()["msg"])
        return out

    async def t() -> None:
        async with SimServer(build("calm", wall_clock), auth_clock=wall_clock) as server:
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect("ws" + server.base_url[len("http"):] + "/ws") as ws:
                    await ws.send_json({"method": "SUBSCRIPTION", "params": tickers[:31]})
                    said = await answers(ws, 31)
                    assert said[:30] == tickers[:30]
                    assert said[30] == f"Not Subscribed successfully! [{tickers[30]}]. Reason: Blocked!"
                    every = "spot@public.miniTickers.v3.api.pb@UTC+8"
                    await ws.send_json({"method": "SUBSCRIPTION", "params": [every]})
                    assert (await answers(ws, 1))[0].startswith("Not Subscribed successfully!")
                    await ws.send_json({"method": "UNSUBSCRIPTION", "params": [tickers[0]]})
                    await ws.send_json({"method": "SUBSCRIPTION", "params": [every]})
                    assert await answers(ws, 2) == [tickers[0], every]
                    face = server.mexc_stream.spot
                    (sock,) = face.sockets
                    assert len(sock.pushed["subscribed"]) == 30
                    await until(lambda: any(b"miniTickers" in f[:64] for _, f in face.frames), "every pair's push",
                                DEADLINE_S)
                    pb = next(f for _, f in face.frames if b"miniTickers" in f[:64])
                    from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2

                    w = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper.FromString(pb)
                    assert w.channel == every and w.sendTime > 0
                    assert {i.symbol for i in w.publicMiniTickers.items} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
                    assert all(float(i.price) > 0 for i in w.publicMiniTickers.items)

    run(t(), 30)


class WideRig(Rig):
    """``sim-main`` holding 40 pairs' base assets (more than one MEXC socket's 30 subscriptions),
    each at 100, and USDT."""

    PAIRS = 40

    def __init__(self, **kw: Any):
        from adapters.simulated.engine import AccountSpec, MarketSpec, SimExchange
        from adapters.simulated.http import SimServer, wall_clock

        super().__init__(**kw)
        markets = [MarketSpec(f"C{i}USDT", f"C{i}") for i in range(self.PAIRS)]
        self.engine = SimExchange(wall_clock, markets=markets, accounts=[AccountSpec(
            self.account, f"{self.account}-key", f"{self.account}-secret",
            spot=(("USDT", 1_000_000.0), *((m.base, 10.0) for m in markets)))])
        for m in markets:
            self.engine.set_mark(m.symbol, 100.0)
        self.server = SimServer(self.engine, auth_clock=wall_clock, venue_streams={self.VENUE: self.FACE})


def test_a_book_of_more_pairs_than_a_socket_takes_is_valued_by_the_stream_without_a_refused_subscription():
    """40 pairs held: their mini tickers come in every pair's push of one subscription, each held
    pair's price set at the venue read from the stream (no REST call), no subscription refused and
    no socket past MEXC's 30."""
    async def t(r: WideRig):
        face = r.server.mexc_stream.spot
        refused: list[str] = []
        answer = face._refused
        face._refused = lambda sock, channel: (refused.append(channel), answer(sock, channel))  # type: ignore
        await r.live()
        for i in range(r.PAIRS):
            r.engine.set_mark(f"C{i}USDT", 90.0 + i / 10)
        want = {f"C{i}": pytest.approx(90.0 + i / 10) for i in range(r.PAIRS)}
        snap = await r.seen(lambda s: {a: p for a, p in prices(s).items() if a != "USDT"} == want,
                            "every held pair's price from the stream")
        assert r.health.state == "live" and r.health.disagreements == 0 and snap.fetch.calls == 0
        assert refused == []
        assert all(len(s.pushed["subscribed"]) <= 30 for s in face.sockets)
        # the public socket: every pair's, and the first pair's own from before the book was read (flat)
        assert {"spot@public.miniTickers.v3.api.pb@UTC+8", "spot@public.miniTicker.v3.api.pb@C0USDT@UTC+8"} in [
            s.pushed["subscribed"] for s in face.sockets]
    WideRig.run(t)
