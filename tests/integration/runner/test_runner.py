"""The runner against the simulated exchange (in-process face) with a SQLite store.

A flash crash escalates through three stages, the book is closed, the lock is written, every
intent is journaled and settled. Then the same scenario with the runner "crashing" at every
k-th call into the store or the exchange: a new runner built on the same store finishes the
job, and no order is repeated or lost. The runner, its proxies and the crash run: rig.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections import Counter

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.events import STAGE_TRANSITION
from killswitch.orders import PLANNED_KIND, planned_count, planned_intents
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import StoreError, open_store
from tests.integration.runner.rig import (
    CRASH_POINTS,
    T0,
    TICK_MS,
    Crash,
    CrashingProxy,
    DurablePager,
    RecordingSink,
    crash_run,
    drive,
    entries_effects_complete,
    fills_by_client_id,
    graph,
    lived,
    parts_of,
    positions,
    probe,
    setup,
    started,
)


def test_flash_crash_escalates_closes_the_book_and_locks(work):
    runner, engine, clock, store, _, _ = setup(work)
    start = dict(positions(engine))
    assert start  # a long BTC/ETH, short SOL book

    reports = asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    levels = [t.transition.to_level for r in reports for t in r.transitions]
    assert levels == [1, 2, 3]
    assert positions(engine) == {}, "the book is flat after the flatten stage"
    lock = json.loads((work / "lock.json").read_text())
    assert lock["locked"] is True and lock["mode"] == "halted"
    journal = store.journal(limit=1000)
    assert journal and all(e.status == "filled" for e in journal), [(e.client_order_id, e.status) for e in journal]
    assert store.pending_intents() == []
    assert all(n == 1 for n in fills_by_client_id(engine).values())
    assert store.verify_audit()[0]


def test_the_intents_of_a_tick_are_journaled_in_one_transaction_before_anything_is_sent(work):
    """Each stage's closes are one durable write before any of them is sent; the flatten stage
    (close_all) journals and sends its first wave — the leg it closes first — before it plans,
    journals and sends the rest, so that its first close does not wait for the others."""
    runner, engine, clock, store, _, _ = setup(work)
    calls: list[tuple[str, object]] = []
    batch, place = store.journal_intents, engine.place_order

    def journal_intents(fence, intents, **kw):
        calls.append(("journal", [i.client_order_id for i in intents]))
        return batch(fence, intents, **kw)

    def place_order(*a, **kw):
        calls.append(("order", kw.get("client_order_id")))
        return place(*a, **kw)

    store.journal_intents, engine.place_order = journal_intents, place_order

    reports = asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    journaled = [ids for kind, ids in calls if kind == "journal"]
    assert [len(ids) for ids in journaled] == [2, 1, 1, 2]  # trim, trim more, flatten: its first wave, the rest
    assert sum(map(len, journaled)) == len(store.journal(limit=1000))
    # every batch is followed by its own orders, all of them, before the next batch is written
    assert calls[0][0] == "journal"
    seen: list[str] = []
    last: list[str] = []
    for kind, ids in calls:
        if kind == "journal":
            assert seen == [] or set(seen) == set(last), (seen, last)
            last, seen = ids, []
        else:
            assert ids in last, f"{ids} sent before it was journaled"
            seen.append(ids)
    flatten = next(r for r in reports if r.transitions and r.transitions[0].transition.to_level == 3)
    assert len(flatten.evaluation.plans[0].orders) == 3  # the report holds the whole plan
    assert [o.client_order_id for o in flatten.evaluation.plans[0].orders] == journaled[2] + journaled[3]


def test_a_restarted_runner_keeps_the_halt(work):
    runner, engine, clock, store, _, _ = setup(work)
    asyncio.run(asyncio.wait_for(drive(runner, clock, 60), 60))
    store.close()
    again, _, _, _, _, _ = setup(work, engine=engine, clock=clock)
    again_parts = parts_of(again)
    assert again_parts.book.state.scopes["crash-ladder|simulated/sim-main"].stage.level == 3
    reports = asyncio.run(asyncio.wait_for(drive(again, clock, 3), 30))
    assert all(not r.transitions for r in reports)
    assert json.loads((work / "lock.json").read_text())["mode"] == "halted"


def test_a_restarted_runner_says_in_its_log_that_the_stage_still_holds(work, caplog):
    """Not only what is blind: one tailing the new process's log is told the halt still stands."""
    runner, engine, clock, store, _, _ = setup(work)
    asyncio.run(asyncio.wait_for(drive(runner, clock, 60), 60))
    store.close()
    again, _, _, _, _, _ = setup(work, engine=engine, clock=clock)
    with caplog.at_level(logging.WARNING, logger="killswitch.runner"):
        asyncio.run(asyncio.wait_for(drive(again, clock, 3), 30))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("STAGE_HOLDS")]
    assert len(said) == 1 and said[0].startswith("STAGE_HOLDS: crash-ladder simulated/sim-main stage 3 "), said


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_crash_at_any_call_neither_repeats_nor_loses_an_order(work, crash_at):
    crash_run(work, crash_at)


_RUN_CALLS: list[tuple[int, str]] = []


def run_calls(work) -> list[tuple[int, str]]:
    """The calls (number, name) a run without a crash makes, from its start to its close."""
    if not _RUN_CALLS:
        clock, store, runner, log = probe(work)
        asyncio.run(asyncio.wait_for(lived(runner, clock), 60))
        store.close()
        _RUN_CALLS.extend(log)
    return _RUN_CALLS


def test_a_crash_in_the_sample_writes_of_the_last_ticks_is_taken_up_at_the_close(work):
    """The last two ticks' chart sample writes are queued behind them and have no later tick to
    take up what they raised (the one before the last is still queued when the last tick asks):
    a crash in either dies at the close, and the property holds there as at any other call. The
    crash points above span the whole run, so that its end is not left out."""
    calls = run_calls(work)
    assert [n for n, _ in calls] == list(range(1, len(calls) + 1))
    assert CRASH_POINTS[-1] >= len(calls) - (CRASH_POINTS[1] - CRASH_POINTS[0]), \
        f"the crash points end at {CRASH_POINTS[-1]}; a run makes {len(calls)} calls"
    samples = [n for n, name in calls if name == "save_signal_samples"]
    # a write per tick, the last one the run's last call but the audit row of its stop (runner_stopped)
    assert len(samples) == 60 and samples[-1] == len(calls) - 1 and calls[-1][1] == "audit", calls[-3:]
    for crash_at in samples[-2:]:
        run = work / f"c{crash_at}"
        run.mkdir()
        crash_run(run, crash_at)


class BrokenSink(RecordingSink):
    name = "broken"

    def on_tick(self, report, runner):
        raise RuntimeError("a sink bug")


def test_sinks_see_every_tick_its_phases_and_its_events_and_a_broken_one_changes_nothing(work):
    rec = RecordingSink()
    runner, engine, clock, store, _, _ = setup(work, sinks=[BrokenSink(), rec])
    parts = parts_of(runner)
    reports = asyncio.run(asyncio.wait_for(drive(runner, clock, 60), 60))
    assert positions(engine) == {}, "a failing sink does not stop the kill switch"
    assert parts.fanout.errors == 60
    assert len(rec.ticks) == 60
    stages = [(e.labels["level"], e.labels["stage"]) for e in rec.events if e.kind == "stage_transition"]
    assert stages == [("1", "trim"), ("2", "trim-more"), ("3", "flatten")]
    first = next(e for e in rec.events if e.kind == "stage_transition")
    assert first.labels["policy"] == "crash-ladder" and first.labels["scope"] == "simulated/sim-main"
    assert first.labels["severity"] == "critical" and first.data["signals"][0]["name"] == "dd"
    acting = next(r for r in reports if r.execution.orders)
    assert list(acting.phases) == ["snapshots", "evaluate", "journal", "persist", "send", "reconcile"]
    assert acting.started_ns <= acting.phases["snapshots"][0] <= acting.phases["reconcile"][1] <= acting.ended_ns
    o = acting.execution.orders[0]
    assert o.status == "filled" and o.reduce_only and o.latency_ms >= 0 and o.client_order_id


def dry_runner(work):
    """A dry-run runner over the flash crash: (runner, its store, its clock)."""
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    store = open_store(f"sqlite://{work / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, store,
            lock_path=work / "lock.json",
                          dry_run=True, clock=clock)
    return runner, store, clock, parts


def test_a_dry_run_plans_a_flatten_whole_and_audits_every_close_it_would_send_at_once(work):
    """Nothing is sent in a dry run, so nothing goes in waves: each stage's closes are one
    batch of ``orders_planned_dry_run`` rows, the flatten's included."""
    runner, store, clock, parts = dry_runner(work)
    batches: list[int] = []
    many = store.audit_many

    def audit_many(rows, **kw):
        planned = [planned_count(kind, payload) for kind, _, payload in rows if kind == PLANNED_KIND]
        if planned:
            batches.append(sum(planned))
        return many(rows, **kw)

    store.audit_many = audit_many

    reports = asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    assert [t.transition.to_level for r in reports for t in r.transitions] == [1, 2, 3]
    planned = [len(p.orders) for r in reports if r.evaluation for p in r.evaluation.plans]
    assert batches == planned and len(planned) == 3 and planned[2] > 1  # the flatten's closes: one batch
    assert all(p.rest is None for r in reports if r.evaluation for p in r.evaluation.plans)


def test_a_dry_runs_stage_entry_and_the_orders_it_planned_are_stored_together_after_its_save(work):
    """A dry run's planned orders go in the tick's one append with its stage transition, after
    the state save in the same store call: a save that fails stores neither, the tick says so,
    and the next one stores the entry and its orders once, never twice."""
    runner, store, clock, parts = dry_runner(work)
    made: list[tuple[int, str]] = []  # (store-thread call, what it wrote)
    calls = [0]
    timed = parts.io._timed

    def counted(fn, args, kwargs):
        calls[0] += 1
        return timed(fn, args, kwargs)

    parts.io._timed = counted
    save, many = store.save_engine_state, store.audit_many
    failed: list[int] = []

    def saving(doc, *a, **k):
        levels = [sc["stage"]["level"] for sc in doc["engine"]["scopes"].values() if sc.get("stage")]
        if any(levels) and not failed:  # the first save of a stage entry: the connection drops
            failed.append(calls[0])
            raise StoreError("connection lost")
        made.append((calls[0], "save"))
        return save(doc, *a, **k)

    def appending(rows, **k):
        out = many(rows, **k)
        made.append((calls[0], "+".join(sorted({kind for kind, _, _ in rows}))))
        return out

    store.save_engine_state, store.audit_many = saving, appending
    reports = asyncio.run(asyncio.wait_for(started(runner, clock), 60))

    [lost] = [r for r in reports if r.store_error]
    assert failed and lost.transitions, "the failing save was not a stage entry's"
    assert not [e for e in lost.events if e.kind == STAGE_TRANSITION], "an entry told that was never stored"
    stored = store.audit_rows()
    assert [r.payload["to"] for r in stored if r.kind == "stage_transition"] == [1, 2, 3], "entered once each"
    assert all(r.seq for r in stored) and store.verify_audit()[0]
    planned = [o for r in stored for o in planned_intents(r.kind, r.payload)]
    ids = Counter(o["client_order_id"] for o in planned)
    assert ids and max(ids.values()) == 1, "an order planned twice"
    entered = [p for r in reports if r.evaluation and not r.store_error for p in r.evaluation.plans if p.orders]
    assert sorted(ids) == sorted(o.client_order_id for p in entered for o in p.orders)
    # each entry: the save, then in the same call its planned orders and its transition in one append
    for n, what in made:
        if PLANNED_KIND in what.split("+"):
            assert "stage_transition" in what.split("+") and (n, "save") in made, made


def _note_collector(port, seen: list) -> None:
    """``port``'s orders sent as before, each noting whether the cyclic collector is on then."""
    send = port.submit

    async def submit(intent):
        seen.append(gc.isenabled())
        return await send(intent)

    port.submit = submit


def test_the_collector_is_held_off_from_the_snapshots_to_the_first_send_and_on_again_however_the_tick_ends(
        work):
    """The cyclic collector does not run while an entry is evaluated, journaled and saved (its
    tens of thousands of new objects walked again and again before the first order leaves); it
    is on again for every order sent, and after a tick that ended on a store error or a crash."""
    starts: list[int] = []

    def note(phase, info):
        if phase == "start":
            starts.append(time.time_ns())

    threshold = gc.get_threshold()
    gc.set_threshold(50, 5, 5)  # a collection every 50 new objects: any stretch left to it shows one
    gc.callbacks.append(note)
    try:
        runner, engine, clock, store, calls, _ = setup(work)
        sent: list[bool] = []
        _note_collector(next(iter(runner.venues.values())), sent)
        reports = asyncio.run(asyncio.wait_for(started(runner, clock), 60))
        entries = [r for r in reports if r.transitions and r.execution.orders]
        assert entries and sent and all(sent), "an order went out with the collector held off"
        for r in entries:
            held = (r.phases["snapshots"][1], r.phases["persist"][1])
            assert not [t for t in starts if held[0] <= t <= held[1]], "the collector ran inside the entry"
        assert [t for t in starts if not any(r.phases["snapshots"][1] <= t <= r.phases["persist"][1]
                                             for r in entries)], "the probe saw no collection at all"
        assert gc.isenabled()

        class Failing:  # the store fails as the next tick journals: StoreError, the tick reports it
            def __init__(self, target):
                self._t = target

            def __getattr__(self, name):
                if name == "journal_intents":
                    raise StoreError("the store is gone")
                return getattr(self._t, name)

        (work / "failing").mkdir()
        r2, _, c2, _, _, _ = setup(work / "failing")
        executor = parts_of(r2).executor  # the part that journals, as bootstrap built it
        executor.store = Failing(executor.store)
        reports = asyncio.run(asyncio.wait_for(started(r2, c2), 60))
        assert any(r.store_error for r in reports) and gc.isenabled()
        for at in (calls[0] // 4, calls[0] // 2, 3 * calls[0] // 4):  # the process dies mid-run: on after
            (work / f"crash-{at}").mkdir()
            r3, _, c3, _, _, _ = setup(work / f"crash-{at}", crash_at=at)
            with pytest.raises(Crash):
                asyncio.run(asyncio.wait_for(started(r3, c3), 60))
            assert gc.isenabled()
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*threshold)


def test_an_entry_journaled_but_never_saved_is_audited_paged_and_rendered_by_the_next_runner(work):
    """A runner stopped between journaling the trim entry's orders and saving the entry: the
    next one starts later in the crash, enters a higher stage under another decision id, and
    settles the trim's orders with the venue (they never left: it sends them). The trim entry
    is still audited once (JOURNALED_BEFORE_SAVE), paged and given a runbook."""
    class DiesAfterJournal(CrashingProxy):
        """The store; the first state save after an order journal write dies."""

        journaled = False

        def __getattr__(self, name):
            attr = getattr(self._t, name)
            if name == "journal_intents":
                self.journaled = True
            elif name == "save_engine_state" and self.journaled:
                raise Crash("stopped between the journal and the save")
            return attr

    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    receiver: list[str] = []
    store = open_store(f"sqlite://{work / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, DiesAfterJournal(store, [0],
            None),
                          lock_path=work / "lock.json", dry_run=False, clock=clock, confirm_gap_ms=TICK_MS,
                          sinks=[RunbookSink(None), DurablePager(receiver)])
    with pytest.raises(Crash):
        asyncio.run(asyncio.wait_for(started(runner, clock), 60))
    store.close()
    journaled = {e.decision_id for e in open_store(f"sqlite://{work / 'state.db'}").journal(limit=100)}
    assert journaled == {"crash-ladder/simulated/sim-main/L1/e1"}, journaled
    clock.advance(120_000)  # down for two minutes: the crash is deeper when the next runner starts
    again, _, _, store2, _, _ = setup(work, engine=engine, clock=clock,
                                   sinks=[RunbookSink(None), DurablePager(receiver)])
    asyncio.run(asyncio.wait_for(started(again, clock, 20), 60))
    entries_effects_complete(store2, receiver, "a stop between the journal and the save")
    rows = {r.payload["decision_id"]: r.payload for r in store2.audit_rows(kinds=["stage_transition"])}
    trim = rows["crash-ladder/simulated/sim-main/L1/e1"]
    assert trim["reason"].startswith("JOURNALED_BEFORE_SAVE") and trim["completed_by"]
    assert any(d.endswith("/e1") and "/L1/" not in d for d in rows), f"another stage under e1: {sorted(rows)}"
    store2.close()


class DiesAtFlattenSend:
    """The adapter; the first order of the flatten stage dies as it leaves (the entry saved, its
    first wave journaled, its audit row not yet written: a close_all's rows follow its first send)."""

    def __init__(self, adapter):
        self._a = adapter

    def __getattr__(self, name):
        attr = getattr(self._a, name)
        if name != "submit":
            return attr

        async def submit(intent):
            if "/L3/" in intent.decision_id:
                raise Crash("the leader died as the flatten's first order left")
            return await attr(intent)

        return submit


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_standby_that_takes_over_completes_the_entry_the_leader_died_in(work, kind, request):
    """The leader dies as the flatten's first order leaves; a standby (another holder) takes the
    lease once its term ran out and carries on: the flatten is audited once, paged and rendered,
    and the book ends flat."""
    if kind == "postgres":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite://{work / 'state.db'}"
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    receiver: list[str] = []

    def runner_of(holder, adapter_wrap):
        store = open_store(url)
        adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        return store, build_runner_and_desk(
            graph(), {"simulated/sim-main": adapter_wrap(adapter)}, store, holder=holder,
            lock_path=work / f"{holder}.json", dry_run=False, clock=clock, confirm_gap_ms=TICK_MS,
            sinks=[RunbookSink(None), DurablePager(receiver)]).runner

    store_a, leader = runner_of("a", DiesAtFlattenSend)
    with pytest.raises(Crash):
        asyncio.run(asyncio.wait_for(started(leader, clock), 60))
    store_a.close()
    assert not [r for r in open_store(url).audit_rows(kinds=["stage_transition"])
                if "/L3/" in (r.payload.get("decision_id") or "")], "the flatten's row is written after its send"
    clock.advance(6_000)  # past the dead leader's lease term
    store_b, standby = runner_of("b", lambda a: a)
    asyncio.run(asyncio.wait_for(started(standby, clock, 20), 60))
    entries_effects_complete(store_b, receiver, "a takeover after the leader died in the flatten")
    flatten = [r.payload for r in store_b.audit_rows(kinds=["stage_transition"]) if r.payload["to"] == 3]
    assert len(flatten) == 1 and flatten[0]["completed_by"] == "b", flatten
    assert positions(engine) == {}
    store_b.close()
