"""The runner's part of the venue watch (killswitch/runner/watch/enforcement.py) over the in-process
simulated adapter: a dry run audits and sends nothing, an order a plan of the tick cancels is left
to it, the baselines are saved with the state and read back by a new runner."""

from __future__ import annotations

import asyncio

from killswitch.engine.planner import NOT_ATTRIBUTED, Plan
from killswitch.orders import CancelIntent
from killswitch.state import open_store
from tests.unit.runner.operator.rig import ACCOUNT, TICK_MS, make


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def locked(w) -> None:
    await w.runner.start()
    w.clock.advance(TICK_MS)
    await w.runner.tick()
    assert (await w.desk.lock_scope(ACCOUNT, "halted", "desk halt", actor="op")).done
    w.clock.advance(TICK_MS)
    await w.runner.tick()


def rogue(w, cid: str = "bot-a-rogue-1") -> None:
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                         client_order_id=cid)


def is_open(w, cid: str) -> bool:
    o = w.engine.order_by_client_id("sim-main", cid)
    return o is not None and o.is_open


def test_a_dry_run_audits_the_violation_and_sends_nothing(tmp_path):
    w = make(tmp_path, dry_run=True)

    async def go():
        await locked(w)
        rogue(w)
        w.clock.advance(TICK_MS)
        report = await w.runner.tick()
        return [e for e in report.events if e.kind == "lock_violation"]

    (event,) = run(go())
    assert event.data["dry_run"] is True and event.labels["strategy"] == "bot-a"
    assert is_open(w, "bot-a-rogue-1")
    (row,) = [r.payload for r in w.store.audit_rows(None, ("lock_violation",), 10)]
    assert row["dry_run"] is True and row["action"] == "cancel"


def test_an_order_a_plan_of_the_tick_cancels_is_left_to_that_plan(tmp_path):
    w = make(tmp_path)

    async def go():
        await locked(w)
        rogue(w)
        snaps = [await w.adapter.snapshot()]
        oid = next(o.id for o in snaps[0].orders if o.client_id == "bot-a-rogue-1")
        stage = Plan("p/s/L1/e1", 1, NOT_ATTRIBUTED,
                     cancels=(CancelIntent("simulated", "sim-main", "entries", (oid,), "CANCEL_ORDERS"),))
        events: list = []
        plans = await w.parts.enforcement.watch(snaps, [stage], w.clock(), events)
        return plans, events

    plans, events = run(go())
    assert len(plans) == 1 and len(events) == 1  # reported, not cancelled twice
    assert is_open(w, "bot-a-rogue-1")  # the stage's cancel (not sent here) is the one that goes


def test_the_baselines_are_saved_with_the_state_and_a_new_runner_reverts_to_them(tmp_path):
    w = make(tmp_path)

    async def go():
        await locked(w)  # BTC long 5 is the baseline, saved with the tick's state
        await w.runner.aclose()

    run(go())
    saved = open_store(f"sqlite://{w.db}").load_engine_state()
    assert saved["baselines"][ACCOUNT]["legs"]["BTC/USDT:USDT|long"] == 5.0
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.5, client_order_id="bot-a-mkt-1")
    again = make(tmp_path, engine=w.engine, clock=w.clock, holder="runner-2")

    async def carry_on():
        w.clock.advance(10_000)  # the first runner's lease runs out
        await again.runner.start()
        w.clock.advance(TICK_MS)
        return await again.runner.tick()

    report = run(carry_on())
    (v,) = [e for e in report.events if e.kind == "lock_violation"]
    assert (v.data["action"], v.data["baseline"], v.data["contracts"]) == ("revert", 5.0, 6.5)
    assert sum(p.amount for p in w.engine.positions("sim-main") if p.symbol == "BTCUSDT") == 5.0


def test_a_violations_page_says_what_broke_the_lock_and_whose_it_was():
    from killswitch.events import LOCK_VIOLATION, Event
    from killswitch.notify.alerts import Alert
    from killswitch.notify.message import headline

    e = Event.make(LOCK_VIOLATION, 1, {"action": "revert", "account": ACCOUNT, "symbol": "BTC/USDT:USDT",
                                       "side": "buy"}, scope=ACCOUNT, strategy="bot-a", reason="LOCK_VIOLATION")
    assert e.labels["severity"] == "critical"
    assert headline(Alert("fp", e.labels, e, 1, 1, False)) == (
        f"lock broken at the venue in {ACCOUNT} by strategy bot-a: {ACCOUNT} BTC/USDT:USDT bot buy brought back by "
        "the runner's sell")


def test_growth_is_attributed_by_the_bots_fill_and_its_revert_followed_to_filled(tmp_path):
    """A bot of a declared prefix grows the long under the halt by a market buy: the revert's row
    names its strategy and its order from the fill, the runner's own revert apart; once the
    revert filled, status says so (from the journal), as the history does."""
    w = make(tmp_path)

    async def go():
        await locked(w)
        w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="bot-a-grow-1")
        w.clock.advance(TICK_MS)
        await w.runner.tick()
        return w.desk.status().lock_violations

    status = run(go())
    (row,) = [r.payload for r in w.store.audit_rows(None, ("lock_violation",), 10)]
    assert (row["action"], row["strategy"], row["client_order_id"]) == ("revert", "bot-a", "bot-a-grow-1")
    bot = w.engine.order_by_client_id("sim-main", "bot-a-grow-1")
    assert row["order_id"] == str(bot.order_id) and row["strategies"] == ["bot-a"]
    revert = row["revert_client_order_id"]
    assert revert and revert != row["client_order_id"]
    (entry,) = [e for e in w.store.journal(limit=100) if e.client_order_id == revert]
    assert entry.status == "filled"
    (shown,) = status["recent"]
    assert shown["outcome"] == f"revert filled {entry.filled:g}", shown


class SlowFills:
    """The simulated adapter, whose read of the account's trades never answers."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def fills(self, symbol, since_ms):
        await asyncio.sleep(3600)


def test_a_fill_read_that_does_not_answer_holds_the_revert_two_seconds_at_most_and_says_so(tmp_path, monkeypatch):
    from killswitch.runner.watch import growth

    monkeypatch.setattr(growth, "FILL_READ_S", 0.2)
    w = make(tmp_path)
    w.adapter.inner = SlowFills(w.adapter.inner)

    async def go():
        await locked(w)
        w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="bot-a-grow-1")
        w.clock.advance(TICK_MS)
        await w.runner.tick()

    run(go())
    (row,) = [r.payload for r in w.store.audit_rows(None, ("lock_violation",), 10)]
    assert row["strategy"] == "unknown"
    assert row["attribution"] == "unknown: no fill read (TIMEOUT: no answer within 0.2s)"
    (entry,) = [e for e in w.store.journal(limit=100) if e.client_order_id == row["revert_client_order_id"]]
    assert entry.status == "filled"  # reverted all the same
