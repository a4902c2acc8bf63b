"""The runner's re-plans of closes the venue did not fill, against the simulated exchange with a
SQLite store (the runner's other end-to-end tests are test_runner.py's): a close held behind an
order still being confirmed is owed again in the save of its stage entry, held closes do not
spend the re-plans, closes that expire unfilled are planned again until the book is flat, and a
shortfall whose re-plan a stop dropped is planned again by the next runner.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from killswitch.state.store import IntentRow
from tests.integration.runner.rig import (
    T0,
    TICK_MS,
    Crash,
    Recording,
    fills_by_client_id,
    graph,
    parts_of,
    positions,
    setup,
    started,
)


def test_a_held_close_is_to_be_planned_again_in_the_same_save_as_its_stage_entry(tmp_path):
    """A close that waits behind an earlier order of ours on its position (held) is never
    journaled, so nothing but the saved state says it is to be planned again. That must be in
    the save that records the stage entry: a runner stopped any time after it plans the close
    again; one stopped before it plans the whole entry again."""
    import dataclasses

    from killswitch.engine.planner import OrderIntent

    runner, engine, clock, store, _, _ = setup(tmp_path)

    parts = parts_of(runner)
    saves: list[dict] = []
    real = runner.store.save_engine_state

    def spy(doc, *a, **k):
        saves.append(doc)
        return real(doc, *a, **k)

    runner.store.save_engine_state = spy

    async def go():
        await runner.start()
        for i in range(60):
            clock.advance(TICK_MS)
            # an earlier order of ours on BTC the venue has not answered yet (journaled by a runner
            # that stopped before sending it): every new close of BTC waits for it
            cid = f"ks-earlier-btc-{i}"
            earlier = OrderIntent("earlier", cid, "simulated", "sim-main", "BTC/USDT:USDT", "sell", None, 0.001,
                                  True, None, 60.0, 1, 1, 0, "close_all", "test")
            store.journal_intents(parts.lead.fence, [IntentRow(cid, "earlier", "simulated", "sim-main", "BTC/USDT:USDT",
                                                               "sell", None, 0.001, True,
                                                               json.dumps(dataclasses.asdict(earlier)))],
                                  ts_ms=clock())
            saves.clear()
            report = await runner.tick()
            if report.execution.held:
                return report
        return None

    report = asyncio.run(asyncio.wait_for(go(), 60))
    assert report is not None, "no close was ever held"
    entered = [t for t in report.transitions if t.transition.to_level]
    assert entered and report.execution.held == [entered[0].transition.decision_id]
    key = f"{entered[0].policy}|{entered[0].scope}"
    first = saves[0]["engine"]["scopes"][key]["stage"]
    assert first["level"] == entered[0].transition.to_level
    assert first["deferred"] is True and first["retries"] == 1, first


def test_closes_held_behind_an_order_still_being_confirmed_do_not_spend_the_re_plans(tmp_path):
    """Found by the crash soak: a runner killed between journaling the first stage's closes and
    sending them leaves them pending, and the next one learns they never reached the venue only
    a confirmation gap later (here 30 ticks; in the soak, a restart each second kept it from
    ever completing). Meanwhile every later close of those positions waits behind them (held),
    planned again each tick as a new round: those rounds spend nothing of the 20 re-plans of
    closes that ended short, and the flatten closes the book once they are settled."""
    probe, log = [0], []
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    store = open_store(f"sqlite://{tmp_path / 'probe.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": Recording(adapter, probe, None, log)},
                          Recording(store, probe, None, log), lock_path=tmp_path / "probe.json", dry_run=False,
                          clock=clock, confirm_gap_ms=TICK_MS)
    asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    store.close()
    first_send = next(n for n, name in log if name == "submit")

    run = tmp_path / "run"
    run.mkdir()
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    start = positions(engine)
    runner, _, _, store, _, _ = setup(run, crash_at=first_send, engine=engine, clock=clock)
    with pytest.raises(Crash):  # the first stage's closes journaled, none sent
        asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    store.close()
    store = open_store(f"sqlite://{run / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    again, _, again_parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, store,
            lock_path=run / "lock.json",
                         dry_run=False, clock=clock, confirm_gap_ms=30 * TICK_MS)
    reports = asyncio.run(asyncio.wait_for(started(again, clock, ticks=90), 60))
    held = sum(1 for r in reports if r.execution.held)
    assert held > again.MAX_CLOSE_RETRIES, f"held at {held} ticks only: the case is not made"
    assert positions(engine) == {}, "the flatten gave up while its closes waited behind unconfirmed orders"
    assert len(again_parts.book.residuals) == 0, list(again_parts.book.residuals)
    fills = fills_by_client_id(engine)
    assert fills and all(n == 1 for n in fills.values()), fills
    assert store.pending_intents() == []
    filled = sum(e.filled or 0 for e in store.journal(limit=1000) if e.status == "filled")
    assert filled <= sum(start.values()) + 1e-9
    store.close()


def test_closes_that_expire_unfilled_are_planned_again_until_the_book_is_flat(tmp_path):
    """An IOC close past its protected price (a market that ran, a send delayed by a crash)
    expires unfilled: the runner plans the entry's closes again, at fresh prices, as "/r<n>"."""
    runner, engine, clock, store, _, _ = setup(tmp_path)

    async def go():
        await runner.start()
        level = 0
        engine.set_fill_ratio(0.0)  # nothing fills until the flatten has been entered...
        for _ in range(60):
            clock.advance(TICK_MS)
            report = await runner.tick()
            level = max([level] + [t.transition.to_level for t in report.transitions])
            if level == 3:
                engine.set_fill_ratio(1.0)  # ...then the market fills again
            if level == 3 and not positions(engine):
                break
        return level

    level = asyncio.run(asyncio.wait_for(go(), 60))
    assert level == 3
    assert positions(engine) == {}, "closes that expired were never planned again"
    journal = store.journal(limit=1000)
    flatten_retries = [e for e in journal if "/L3/" in e.decision_id and re.search(r"/r\d+$", e.decision_id)]
    assert flatten_retries and all(e.status == "filled" for e in flatten_retries)
    assert any(e.status == "expired" for e in journal if "/L3/" in e.decision_id)


def test_a_shortfall_whose_replan_a_stop_dropped_is_planned_again_by_the_next_runner(tmp_path):
    """The flatten's closes expire unfilled, and the runner stops after journaling that but
    before saving that they are to be planned again (a kill between the two writes): the next
    runner finds the shortfall in the journal at its first tick and plans the closes again."""
    runner, engine, clock, store, _, _ = setup(tmp_path)
    parts = parts_of(runner)

    async def dropped(decisions, **kw):  # the stop: what would plan the shortfall again never runs
        return []

    parts.shortfalls.retry_unfilled = dropped

    async def first():
        await runner.start()
        engine.set_fill_ratio(0.0)
        for _ in range(60):
            clock.advance(TICK_MS)
            report = await runner.tick()
            if any(t.transition.to_level == 3 for t in report.transitions):
                break
        await runner.aclose()

    asyncio.run(asyncio.wait_for(first(), 60))
    left = positions(engine)
    assert left, "the test needs the flatten's closes to have filled nothing"
    assert any(e.status == "expired" for e in store.journal(limit=1000) if "/L3/" in e.decision_id)
    engine.set_fill_ratio(1.0)
    again, _, again_parts = build_runner_and_desk(graph(), {"simulated/sim-main": SimulatedAdapter(engine,
            "sim-main", venue="simulated",
                                                                    labels={"book": "futures"}, timeout_s=2.0)},
                   open_store(f"sqlite://{tmp_path / 'state.db'}"), lock_path=tmp_path / "lock.json", dry_run=False,
                   clock=clock, confirm_gap_ms=TICK_MS)

    async def second():
        await again.start()
        for _ in range(10):
            clock.advance(TICK_MS)
            await again.tick()
            if not positions(engine):
                break
        await again.aclose()

    asyncio.run(asyncio.wait_for(second(), 60))
    assert positions(engine) == {}, f"the flatten stopped at {left} after a restart"
    retries = [e for e in store.journal(limit=1000) if "/L3/" in e.decision_id and re.search(r"/r\d+$", e.decision_id)]
    assert retries and all(e.status == "filled" for e in retries)
