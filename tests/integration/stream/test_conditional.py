"""Conditional orders on the private stream, end to end: the real :class:`CcxtAdapter` with a
``stream`` block against the simulated exchange's websocket faces (Binance USDⓈ-M's
``ALGO_UPDATE`` of its algo service, Bybit v5's ``order`` topic with ``stopOrderType``, OKX's
``orders-algo``, Bitget's ``orders-algo`` with its ``planType``, MEXC's plan orders), a bot (a REST client of the same
account) placing and cancelling them at the venue the way its folder's ``contract.BOT_STOP`` says
(on Bitget and MEXC, whose simulated faces serve no place-plan-order, the venue's own book: the
engine).

- A stop placed at the venue reaches the snapshot from the stream, of its kind (conditional, its
  trigger price, reduce-only), with no REST read; a REST reconcile then finds the stream right (no
  disagreement counted, no "stream and REST disagree" line). On the old code the stream read no
  conditional order: it reached the snapshot only at the next reconcile, as a disagreement.
- Cancelled at the venue, it leaves the snapshot from the stream the same way.
- Triggered by the mark, it leaves the snapshot and the order it became fills: the position is
  the venue's, and a reconcile agrees.

Waits are bounded by ``DEADLINE_S`` (the rig's), a bound on events, never a measured duration.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

import pytest

from adapters.registry import sim_venues
from tests.integration.stream.test_adapter import BTC_U, VENUES, Rig, positions, rig

DISAGREE = "stream and REST disagree"


def bot_stop(venue: str) -> dict:
    """How a bot places and cancels a stop on ``venue``'s face: its folder's ``contract.BOT_STOP``."""
    pkg = sim_venues()[venue]
    stop = getattr(import_module(f"{pkg.__name__}.contract"), "BOT_STOP", None)
    assert stop is not None, (f"adapters/venues/{pkg.__name__.rsplit('.', 1)[1]}/contract.py has no BOT_STOP: how a "
                              "bot places a reduce-only stop-market sell on its face")
    return stop


async def place_stop(r: Rig, trigger: float, amount: float = 0.01) -> str:
    """The bot's reduce-only stop-market sell of the BTC long at ``trigger``, the venue's way
    (:func:`bot_stop`: Binance through the algo service; Bybit a conditional order,
    ``triggerDirection`` falling; OKX a trigger order of its algo service, at market; Bitget and
    MEXC a plan that closes, placed in the venue's book); its venue id."""
    stop = bot_stop(r.venue)
    if stop.get("engine"):  # a face that serves no place of a plan order
        return str(r.engine.place_algo_order("sim-main", "BTCUSDT", "SELL", "STOP_MARKET", quantity=amount,
                                             trigger_price=trigger, reduce_only=True,
                                             label="normal_plan").algo_id)
    o = await r.bot.create_order(BTC_U, stop["type"], "sell", amount, None,
                                 {**stop["params"], "triggerPrice": trigger, "reduceOnly": True})
    return str(o["id"])


async def cancel_stop(r: Rig, oid: str) -> None:
    stop = bot_stop(r.venue)
    if stop.get("engine"):
        r.engine.cancel_algo_order("sim-main", int(oid))
        return
    await r.bot.cancel_order(oid, BTC_U, dict(stop["cancel"]))


async def reconcile(r: Rig) -> Any:
    """A REST reconcile now, every open order listed in it: REST compared with the stream's state
    and put in its place (what the cadence does every ``reconcile_every``)."""
    r.adapter.open_orders_max_age_s = 0.0
    snap = await r.adapter._rest_reconcile(r.adapter._stream)
    assert snap.fetch.ok, snap.fetch
    return snap


def orders_of(snap: Any) -> dict:
    return {o.id: o for o in snap.orders}


@pytest.mark.parametrize("venue", VENUES)
def test_a_stop_placed_and_cancelled_at_the_venue_reaches_the_snapshot_from_the_stream(venue, caplog):
    caplog.set_level(logging.WARNING)

    async def t(r: Rig):
        await r.live()
        reconciles = r.health.reconciles
        oid = await place_stop(r, 55_000.0)
        snap = await r.seen(lambda s: oid in orders_of(s), "the stop placed")
        stop = orders_of(snap)[oid]
        assert (stop.kind, stop.trigger_price, stop.reduce_only, stop.amount, stop.side) == (
            "conditional", 55_000.0, True, 0.01, "sell")
        assert r.health.reconciles == reconciles  # the stream's word, no REST read
        rest = await reconcile(r)
        assert oid in orders_of(rest) and r.health.disagreements == 0

        await cancel_stop(r, oid)
        reconciles = r.health.reconciles
        await r.seen(lambda s: oid not in orders_of(s), "the stop cancelled")
        assert r.health.reconciles == reconciles
        rest = await reconcile(r)
        assert oid not in orders_of(rest)
        h = r.health
        assert (h.state, h.disagreements, h.dropped) == ("live", 0, {})
        assert not [m for m in caplog.messages if DISAGREE in m], caplog.messages

    rig(t, venue=venue)


@pytest.mark.parametrize("venue", VENUES)
def test_a_stop_triggered_by_the_mark_leaves_the_snapshot_and_its_fill_reaches_the_position(venue, caplog):
    caplog.set_level(logging.WARNING)

    async def t(r: Rig):
        await r.live()
        before = positions(await r.from_stream())[BTC_U]
        oid = await place_stop(r, 55_000.0, 0.02)
        await r.seen(lambda s: oid in orders_of(s), "the stop placed")
        r.engine.set_mark("BTCUSDT", 54_000.0)
        r.engine.tick()  # the venue's trigger check (the simulator evaluates its timers at each call)
        snap = await r.seen(lambda s: oid not in orders_of(s) and positions(s)[BTC_U] == pytest.approx(before - 0.02),
                            "the stop triggered and filled")
        assert [o for o in snap.orders if o.symbol == BTC_U] == []  # the market order it became filled
        assert positions(snap)[BTC_U] == pytest.approx(r.truth()[BTC_U])
        rest = await reconcile(r)
        assert oid not in orders_of(rest)
        assert (r.health.disagreements, r.health.dropped) == (0, {})
        assert not [m for m in caplog.messages if DISAGREE in m], caplog.messages

    rig(t, venue=venue)
