"""The venue watch end to end: a runner under an operator's lock against the simulated exchange's
HTTP faces, polled through the real ccxt adapter (Binance USDⓈ-M and OKX v5), a bot that never
asks trading at the engine directly.

- ``halted``: a rogue limit entry is cancelled at the next tick, a market buy that grew the long is
  brought back to its size at the lock by a reduce-only order of the runner, a reduce-only
  take-profit and the runner's own resting order are left alone; each violation is one audit row,
  one ``lock_violation`` event naming the strategy of the prefix map, counted on ``/metrics`` and
  shown in status; the next ticks add nothing.
- the first tick under a halt, polled where the dialect keeps its list of open orders a while:
  a rogue entry placed since the tick before is cancelled in the tick that reverts its growth.
- ``reducing``: an order that would grow the long is cancelled, one that reduces it is not, and
  growth is not reverted (off by default under reducing).
- a stop between the violation's audit row and the cancel: the next runner cancels it without a
  second row or event.
- a lock told not to enforce (``ksctl lock --no-cancel --no-revert``): the venue is left as is.

The runner and its venue: rig.py; a streamed account's watch: test_streamed.py.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from adapters.ccxt_exchange.dialects import dialect_for
from adapters.simulated.venues import VENUES, spot_venues
from killswitch.events import LOCK_VIOLATION
from killswitch.facts.violations import violation_lines
from killswitch.state import open_store
from killswitch.state.store import IntentRow
from tests.integration.enforcement.rig import Crash, engine, long_btc, open_ids, tick, violations, with_runner
from tests.integration.runner.rig import parts_of
from tests.integration.sim_helpers import quote_of

pytest.importorskip("ccxt")

# every dialect the simulator answers as for a futures account, each polled through the real ccxt
# adapter (a spot face's resting orders: tests/integration/simulator/test_<venue>.py)
POLLED = tuple(v for v in VENUES if v not in spot_venues())
TRADES_SERVED = ("binanceusdm", "hyperliquid")  # the faces that answer a read of the account's trades


class DiesOnCancel:
    """The adapter; its first ``cancel_orders`` dies, as a process killed just before the cancel."""

    def __init__(self, inner):
        self._inner, self.died = inner, False

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def cancel_orders(self, selector):
        if not self.died:
            self.died = True
            raise Crash("killed before the cancel left")
        return await self._inner.cancel_orders(selector)


def cid(venue: str, name: str) -> str:
    """A bot's client order id as the venue keeps it: OKX takes letters and digits only;
    Hyperliquid's cloid is ``0x`` and 32 hex digits (a bot of alpha's starts ``0xa1``, as its
    prefix in the Accounts document says)."""
    if venue == "hyperliquid":
        lead = "a1" if name.startswith("alp") else "be" if name.startswith("beta") else "cc"
        return "0x" + lead + hashlib.sha256(name.encode()).hexdigest()[:30]
    return name.replace("-", "") if venue == "okx" else name


def unified(venue: str, base: str) -> str:
    """The ccxt symbol of ``base``'s perpetual, settled in the venue's quote (Hyperliquid's USDC,
    Kraken Futures' USD: each contract's FACE_TERMS)."""
    quote = quote_of(venue)
    return f"{base}/{quote}:{quote}"


def own_at_venue(venue: str, client_order_id: str) -> str:
    """The runner's own client order id as the venue keeps it (Hyperliquid: its cloid)."""
    if venue == "hyperliquid":
        from adapters.venues.hyperliquid.dialect import to_cloid

        return to_cloid(client_order_id)
    return client_order_id


@pytest.mark.parametrize("venue", POLLED)
def test_a_halt_cancels_a_rogue_entry_and_reverts_growth_and_leaves_reduce_only_and_own_orders(tmp_path, venue):
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        parts = parts_of(runner)
        await runner.start()
        await tick(runner, clock)
        locked = await desk.lock_scope(key, "halted", "desk halt", actor="op")
        assert locked.done, locked.reason
        await tick(runner, clock)  # the first snapshot under the lock: BTC long 5 is the baseline
        # a resting order of the runner's own (journaled), not reduce-only: never the watch's to cancel
        # (the executor cancels a remainder of ours it finds resting, as it does under no lock)
        own = "ks" + "0" * 30
        store.journal_intents(parts.lead.fence, [IntentRow(own, "d-own", venue, "sim-main", unified(venue, "ETH"),
                                                            "sell", None, 1.0, False, "{}")], ts_ms=clock())
        eng.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 1.0, price=3_500.0, time_in_force="GTC",
                        client_order_id=own_at_venue(venue, own))
        # the bot that never asks: a resting entry, a reduce-only take-profit, a market buy of 1 BTC
        rogue, tp, mkt = cid(venue, "alp-rogue-1"), cid(venue, "alp-tp-1"), cid(venue, "beta-mkt-1")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id=rogue)
        eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 1.0, price=70_000.0, time_in_force="GTC",
                        reduce_only=True, client_order_id=tp)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id=mkt)
        seen["grown"] = long_btc(eng)
        report = await tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LOCK_VIOLATION]
        seen["open"] = open_ids(eng)
        seen["long"] = long_btc(eng)
        seen["rows"] = violations(store)
        seen["metrics"] = desk.metrics_text()
        seen["status"] = desk.status().lock_violations
        more = [await tick(runner, clock) for _ in range(2)]
        seen["later_events"] = [e for r in more for e in r.events if e.kind == LOCK_VIOLATION]
        seen["later_rows"] = violations(store)
        seen["journal"] = [(e.client_order_id, e.side, e.amount, e.reduce_only, e.status)
                           for e in store.journal(limit=100) if e.decision_id.startswith("enforce/")]
        seen["ids"] = (own, rogue, tp, mkt)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, venue, scenario), 90))
    own, rogue, tp, mkt = seen["ids"]
    assert seen["grown"] == pytest.approx(6.0)
    assert rogue not in seen["open"] and tp in seen["open"], seen["open"]
    assert seen["long"] == pytest.approx(5.0)  # back to its size at the lock
    (revert,) = seen["journal"]  # one reduce-only sell of the growth (in the venue's contracts), filled
    assert revert[1] == "sell" and revert[3] is True and revert[4] == "filled"
    rows = seen["rows"]
    assert sorted(r["action"] for r in rows) == ["cancel", "revert"]
    assert not any(r.get("client_order_id") in (own, tp) for r in rows)  # ours and the take-profit: no violation
    cancel = next(r for r in rows if r["action"] == "cancel")
    btc = unified(venue, "BTC")
    assert (cancel["client_order_id"], cancel["strategy"], cancel["symbol"], cancel["side"]) == (rogue, "alpha", btc,
                                                                                                  "buy")
    assert cancel["scope"] == f"{venue}/sim-main" and cancel["mode"] == "halted"
    assert cancel["notional"] > 0 and cancel["amount"] > 0
    grow = next(r for r in rows if r["action"] == "revert")
    assert grow["symbol"] == btc and grow["side"] == "buy" and grow["revert_client_order_id"] == revert[0]
    assert grow["notional"] == pytest.approx(60_000.0, rel=0.01)
    # the growth named by the fill that made it (beta's market buy), where the face serves the
    # account's trades; elsewhere unknown, and why
    grower = "beta" if venue in TRADES_SERVED else "unknown"
    if venue in TRADES_SERVED:
        assert (grow["strategy"], grow["client_order_id"]) == ("beta", mkt) and grow["order_id"]
    else:
        assert grow["strategy"] == "unknown" and grow["attribution"].startswith("unknown: no fill read ("), grow
    assert {(e.labels["scope"], e.labels["strategy"]) for e in seen["events"]} == {
        (f"{venue}/sim-main", "alpha"), (f"{venue}/sim-main", grower)}
    assert f'killswitch_lock_violations_total{{action="cancel",scope="{venue}/sim-main",strategy="alpha"}} 1.0' \
        in seen["metrics"]
    assert f'killswitch_lock_violations_total{{action="revert",scope="{venue}/sim-main",strategy="{grower}"}} 1.0' \
        in seen["metrics"]
    assert seen["status"]["total"] == 2 and {r["action"] for r in seen["status"]["recent"]} == {"cancel", "revert"}
    assert next(r for r in seen["status"]["recent"] if r["action"] == "cancel")["outcome"] == "canceled"
    # the revert filled: status says so, as the journal does
    assert next(r for r in seen["status"]["recent"] if r["action"] == "revert")["outcome"] == "revert filled 1"
    shown = violation_lines(seen["status"])  # ksctl status
    # (counted from a day before the runner led: a start reads the last day's back from the store)
    assert shown[0].startswith("  LOCK VIOLATIONS: 2 since ") and "(24 h before this runner started)" in shown[0] \
        and shown[0].endswith("(the latest first)"), shown
    assert any(f"cancel {venue}/sim-main {btc} buy" in x and "strategy alpha" in x and f"order {rogue}" in x
               and x.endswith(": canceled") for x in shown), shown
    # repeated ticks: nothing more reported, nothing more sent
    assert seen["later_events"] == [] and len(seen["later_rows"]) == 2


def test_growth_under_a_halt_names_the_bot_by_its_fill_and_its_revert_as_the_runners_own_filled(tmp_path):
    """Two bots of declared prefixes grow the BTC long under a halt by market buys (Binance's
    trades carry the order id alone: the adapter looks the orders up): the revert's violation
    names both strategies from the fills, the bot's order that filled most as the order that
    broke the lock, and the runner's own revert apart; once the revert filled, status, the
    console's model and the page's title say so."""
    from killswitch.face.console.model import page_model
    from killswitch.notify.alerts import Alert
    from killswitch.notify.dispatch import Notification
    from killswitch.notify.message import compose

    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline: 5 BTC long
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.5, client_order_id="alp-mkt-7")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.5, client_order_id="beta-mkt-8")
        seen["bot"] = str(eng.order_by_client_id("sim-main", "alp-mkt-7").order_id)
        report = await tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LOCK_VIOLATION]
        seen["long"] = long_btc(eng)
        seen["rows"] = violations(store)
        seen["status"] = desk.status().lock_violations
        seen["model"] = page_model(desk.status(), (True, "LEADER"), desk.lock_document(), desk.dms_status(), (),
                                   await desk.incidents())
        seen["journal"] = {e.client_order_id: e.status for e in store.journal(limit=100)}

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert seen["long"] == pytest.approx(5.0)
    (row,) = seen["rows"]
    assert (row["action"], row["strategy"], row["strategies"]) == ("revert", "alpha", ["alpha", "beta"])
    assert (row["client_order_id"], row["order_id"]) == ("alp-mkt-7", seen["bot"])  # the bot's order
    revert = row["revert_client_order_id"]
    assert revert.startswith("ks") and seen["journal"][revert] == "filled"  # the runner's own, filled
    (shown,) = seen["status"]["recent"]
    assert shown["outcome"] == "revert filled 2"
    (line,) = violation_lines(seen["status"])[1:]
    # each bot's order with its own strategy, the larger first (not alp-mkt-7's id for both)
    orders = f"alp-mkt-7 (alpha, id {seen['bot']}) 1.5, beta-mkt-8 (beta, id "
    assert f"strategies alpha, beta orders {orders}" in line and line.endswith(
        f"the runner's own revert sell {revert}: revert filled 2"), line
    assert " BTC/USDT:USDT bot buy 2.000 " in line, line  # the bots' side, said as theirs
    (console,) = seen["model"]["violations"]["rows"]
    assert (console["strategy"], console["outcome"]) == (  # in the words of status's line
        "alpha, beta", f"the runner's own revert sell {revert}: revert filled 2")
    assert console["order"].startswith(orders) and console["order"].endswith(") 0.5"), console["order"]
    (event,) = seen["events"]
    alert = Alert("fp", event.labels, event, event.ts_ms, event.ts_ms, False)
    title = compose(Notification("t", "desk", "g", {}, "r", (alert,), ("fp",), 0, event.ts_ms)).title
    assert "by strategies alpha and beta" in title, title


# the dialects whose snapshots keep their list of every open order a while in calm times (listing
# them all is the venue's heavy read: Binance 9 s, Hyperliquid 5 s)
KEEPS_ORDERS = tuple(v for v in POLLED if dialect_for(v).open_orders_max_age_s > 0)


@pytest.mark.parametrize("venue", KEEPS_ORDERS)
def test_a_polled_halt_cancels_a_rogue_entry_at_the_first_tick_under_it(tmp_path, venue):
    """Polled at the dialect's own age of the open orders' list: the account read (every open order
    listed) at a tick, halted by an operator before the next, where a bot places a resting entry
    and a market buy. The first tick under the halt reads the entry with the growth: it reverts the
    growth and cancels the entry in that same tick, not one tick later from a list read before the
    lock."""
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        parts = parts_of(runner)
        await runner.start()
        await tick(runner, clock)  # calm: every open order listed, the list kept for the dialect's age
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        rogue, mkt = cid(venue, "alp-rogue-2"), cid(venue, "beta-mkt-2")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id=rogue)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id=mkt)
        report = await tick(runner, clock)  # the first tick under the halt
        seen["listed"] = {o.client_id for o in parts.book.snapshots[key].orders}
        seen["open"] = open_ids(eng)
        seen["long"] = long_btc(eng)
        seen["events"] = [e.data["action"] for e in report.events if e.kind == LOCK_VIOLATION]
        more = [await tick(runner, clock) for _ in range(2)]
        seen["later_events"] = [e for r in more for e in r.events if e.kind == LOCK_VIOLATION]
        seen["rows"] = violations(store)
        seen["rogue"] = rogue

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, venue, scenario, orders_max_age=None), 90))
    rogue = seen["rogue"]
    assert rogue in seen["listed"], seen["listed"]  # the first snapshot under the halt lists it
    assert rogue not in seen["open"], seen["open"]  # and it is cancelled in that tick
    assert seen["long"] == pytest.approx(5.0)  # the growth reverted in the same tick
    assert sorted(seen["events"]) == ["cancel", "revert"]
    assert seen["later_events"] == [] and sorted(r["action"] for r in seen["rows"]) == ["cancel", "revert"]


def test_a_reducing_lock_cancels_growth_orders_only_and_does_not_revert(tmp_path):
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "reducing", "wind down", actor="op")).done
        await tick(runner, clock)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id="alp-grow-1")
        eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 2.0, price=65_000.0, time_in_force="GTC",
                        client_order_id="alp-trim-1")  # not flagged reduce-only, but it reduces the long
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="alp-mkt-1")
        await tick(runner, clock)
        seen["open"] = open_ids(eng)
        seen["long"] = long_btc(eng)
        seen["rows"] = violations(store)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert "alp-grow-1" not in seen["open"] and "alp-trim-1" in seen["open"]
    assert seen["long"] == pytest.approx(6.0)  # revert is off under reducing
    assert [(r["action"], r["client_order_id"], r["mode"]) for r in seen["rows"]] == [
        ("cancel", "alp-grow-1", "reducing")]


def test_a_stop_between_the_audit_row_and_the_cancel_cancels_again_without_a_second_row(tmp_path):
    eng, clock = engine()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    seen: dict = {}

    async def first(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id="alp-rogue-1")
        with pytest.raises(Crash):
            await tick(runner, clock)
        seen["rows_at_crash"] = violations(store)
        seen["open_at_crash"] = open_ids(eng)

    async def second(runner, desk, eng, clock, store, key):
        clock.advance(10_000)  # the dead runner's lease runs out
        await runner.start()
        report = await tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LOCK_VIOLATION]
        seen["open"] = open_ids(eng)
        seen["rows"] = violations(store)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", first, wrap=DiesOnCancel, store=store,
                                             eng=(eng, clock)), 90))
    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", second, store=store, eng=(eng, clock)), 90))
    assert len(seen["rows_at_crash"]) == 1 and "alp-rogue-1" in seen["open_at_crash"]  # audited, not cancelled
    assert "alp-rogue-1" not in seen["open"]  # cancelled by the next runner
    assert seen["events"] == [] and len(seen["rows"]) == 1  # no second row, no second page


def test_a_lock_told_not_to_enforce_leaves_the_rogue_entry_and_the_growth(tmp_path):
    """``ksctl lock --no-cancel --no-revert``: the lock stands for the bots that ask; the venue is left as is."""
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        parts = parts_of(runner)
        await runner.start()
        await tick(runner, clock)
        done = await desk.lock_scope(key, "halted", "ask only", actor="op",
                                       enforce={"cancel": False, "revert_growth": False})
        assert done.done, done.reason
        await tick(runner, clock)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id="alp-rogue-1")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="alp-mkt-1")
        await tick(runner, clock)
        seen["open"], seen["long"], seen["rows"] = open_ids(eng), long_btc(eng), violations(store)
        seen["hold"] = parts.book.lock_book.in_force(clock())[0].details
        seen["audit"] = [r.payload for r in store.audit_rows(None, ("manual_lock",), 10)]

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert "alp-rogue-1" in seen["open"] and seen["long"] == pytest.approx(6.0) and seen["rows"] == []
    assert seen["hold"]["enforce"] == {"cancel": False, "revert_growth": False}
    assert seen["audit"][0]["enforce"] == {"cancel": False, "revert_growth": False}
