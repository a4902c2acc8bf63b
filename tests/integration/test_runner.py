"""The runner against the simulated exchange (in-process face) with a SQLite store.

A flash crash escalates through three stages, the book is closed, the lock is written, every
intent is journaled and settled. Then the same scenario with the runner "crashing" at every
k-th call into the store or the exchange: a new runner built on the same store finishes the
job, and no order is repeated or lost.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import textwrap
import time
import weakref
from collections import Counter
from typing import Optional

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.compile.compiler import compile_documents
from killswitch.events import STAGE_TRANSITION
from killswitch.orders import PLANNED_KIND, planned_count, planned_intents
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import StoreError, open_store

T0 = 1_772_456_400_000
TICK_MS = 5_000

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: crash-ladder}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
      triggers:
        soft: {when: "dd >= 1%", on_missing_data: hold}
        harder: {when: "dd >= 2.5%", on_missing_data: hold}
        hard: {when: "dd >= 4%", on_missing_data: hold}
      stages:
        - {level: 1, name: trim, on: [soft], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 2, fraction: 50%}}]}
        - {level: 2, name: trim-more, on: [harder], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 1, fraction: 25%}}]}
        - {level: 3, name: flatten, on: [hard], reset: manual,
           actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
      unwind: {chunk_notional: 200k}
    """
)


def graph():
    res = compile_documents(load_text(POLICY, "crash-ladder.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


class Crash(BaseException):
    """Stands for the process dying at this point: a BaseException, so no `except Exception` can absorb it."""


# an adapter's reads of what it holds in memory (no I/O, no effect): a process dying there dies at
# the next call that does something, and the pre-trade gate's view reads them from the loop's
# callbacks, where no crash of a test could end the process
PURE_READS = ("capabilities", "symbols", "strategy_names", "client_id_prefixes")


class CrashingProxy:
    """Forwards to ``target``; the ``at``-th call (counted across every proxy sharing ``counter``) dies."""

    def __init__(self, target, counter: list, at: int | None):
        self._t, self._c, self._at = target, counter, at

    def __getattr__(self, name):
        attr = getattr(self._t, name)
        if not callable(attr) or name.startswith("_") or name in PURE_READS:
            return attr

        def call(*a, **k):
            self._c[0] += 1
            if self._at is not None and self._c[0] == self._at:
                raise Crash(f"crash at call {self._at}: {name}")
            return attr(*a, **k)

        return call


class DurablePager:
    """A paging sink shaped like the notification sink: an event is queued by ``on_event``
    (lost by a crash), routed into the groups ``state_doc`` saves at the next ``on_tick``
    (held from then on), and delivered to ``receiver`` — the world outside, which outlives the
    process — at the tick after. A restored group that was delivered before the crash but
    saved before its delivery is delivered again: at least once."""

    name = "pager"

    def __init__(self, receiver: list):
        self.receiver = receiver
        self.queue: list = []
        self.groups: dict[str, bool] = {}  # incident → delivered

    def on_tick(self, report, ctx):
        for incident, sent in list(self.groups.items()):
            if not sent:
                self.receiver.append(incident)
                self.groups[incident] = True
        for e in self.queue:
            self.groups.setdefault(e.data["incident"], False)
        self.queue = []

    def on_event(self, event, ctx):
        if event.kind == STAGE_TRANSITION and event.data.get("incident"):
            self.queue.append(event)

    def holds(self, event):
        return all(e is not event for e in self.queue)

    def state_doc(self):
        return {"groups": dict(self.groups)}

    def restore_state(self, doc, ctx):
        self.groups = dict((doc or {}).get("groups") or {})

    async def aclose(self):
        pass


def setup(work, crash_at=None, counter=None, engine=None, clock=None, policies=None, sinks=(),
          lease_ttl_ms: Optional[int] = None, via=None):
    """A runner over the flash crash; ``via(key, adapter)`` is what the runner holds of the
    account (the adapter itself by default; a reader's across its link, test_runner_readers).

    The lease outlives a tick (:data:`LONG_LEASE_MS`) unless ``lease_ttl_ms`` says otherwise:
    with a TTL of one tick every tick takes a new token, and a store write of the tick before,
    late on a loaded machine, is fenced off and that tick stops short. A crash run keeps one
    tick's TTL, so that the runner started after it takes a new token."""
    if lease_ttl_ms is None:
        lease_ttl_ms = TICK_MS if crash_at is not None else LONG_LEASE_MS
    clock = clock or ManualClock(T0)
    engine = engine or build("flash-crash", clock)
    counter = counter if counter is not None else [0]
    store = open_store(f"sqlite://{work / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    held = adapter if via is None else via("simulated/sim-main", adapter)
    runner, desk, parts = build_runner_and_desk(
        policies or graph(), {"simulated/sim-main": CrashingProxy(held, counter, crash_at)},
        CrashingProxy(store, counter, crash_at), lock_path=work / "lock.json", dry_run=False,
        clock=clock, confirm_gap_ms=TICK_MS, sinks=sinks, lease_ttl_ms=lease_ttl_ms)
    BUILT[runner] = parts  # the parts the composition root built it from: what a test reads (parts_of)
    return runner, engine, clock, store, counter, desk  # the desk: what an operator (and the API) calls


# runner -> the parts bootstrap built it from: a test reads a part there, never through the runner
BUILT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def parts_of(runner):
    return BUILT[runner]


async def drive(runner, clock, ticks):
    reports = []
    for _ in range(ticks):
        clock.advance(TICK_MS)
        reports.append(await runner.tick())
    return reports


async def started(runner, clock, ticks=60):
    """``runner`` started (settling what a run before left), then ``ticks`` ticks (five minutes)."""
    await runner.start()
    return await drive(runner, clock, ticks)


def positions(engine):
    return {p.symbol: abs(p.amount) for p in engine.positions("sim-main") if abs(p.amount) > 0}


def fills_by_client_id(engine):
    state = engine.dump_state()
    orders = {}
    for acct in state["accounts"].values():
        for o in acct.get("orders", []):
            orders[o["order_id"]] = o.get("client_order_id")
    fills = Counter()
    for e in state["events"]:
        if e.get("event") == "fill" and e.get("account") == "sim-main":
            fills[orders.get(e["order"], e["order"])] += 1
    return fills


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


async def lived(runner, clock):
    """``runner`` :func:`started`, then closed as a process that ends: the writes queued off its
    last ticks are written and what they raised is taken up (a crash in the last tick's sample
    write, which no later tick takes up, dies at the close)."""
    reports = await started(runner, clock)
    await runner.aclose()
    return reports


def crash_run(work, crash_at, via=None):
    """A run whose ``crash_at``-th call dies, then a new process on the same store and exchange:
    no order repeated or lost, the book flat, nothing pending (``via``: see :func:`setup`)."""
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    start = positions(engine)
    receiver: list[str] = []  # the pages that reached people, across both processes
    counter, store = [0], None
    crashed = False
    try:  # a crash while the runner is built (its start's reads) is a crash like any other
        runner, _, _, store, counter, _ = setup(work, crash_at=crash_at, engine=engine, clock=clock,
                                             sinks=[RunbookSink(None), DurablePager(receiver)], counter=counter,
                                             via=via)
        asyncio.run(asyncio.wait_for(lived(runner, clock), 60))
    except Crash:
        crashed = True
    if store is not None:
        store.close()
    # a new process: same store, same exchange, fresh objects, no crash
    again, _, _, store2, _, _ = setup(work, engine=engine, clock=clock,
                                   sinks=[RunbookSink(None), DurablePager(receiver)], via=via)
    asyncio.run(asyncio.wait_for(lived(again, clock), 60))
    entries_effects_complete(store2, receiver, f"a crash at call {crash_at}")
    assert crashed or counter[0] < crash_at, f"the crash at call {crash_at} of {counter[0]} was never taken up"
    assert positions(engine) == {}, f"lost: positions left open after a crash at call {crash_at}"
    fills = fills_by_client_id(engine)
    assert all(n == 1 for n in fills.values()), f"repeated: {fills}"
    assert store2.pending_intents() == [], [(e.client_order_id, e.status) for e in store2.pending_intents()]
    filled = sum(e.filled or 0 for e in store2.journal(limit=1000) if e.status == "filled")
    assert filled <= sum(start.values()) + 1e-9  # never more than the book
    store2.close()


def entries_effects_complete(store, receiver: list[str], when: str) -> None:
    """Every stage entry — each decision id the audit trail or the journal names — audited
    exactly once, its runbook stored, and paged at least once."""
    rows = [r.payload for r in store.audit_rows(kinds=["stage_transition"], limit=10_000)]
    audited = Counter(p["decision_id"] for p in rows if p.get("decision_id"))
    journaled = {re.sub(r"/r\d+$", "", e.decision_id) for e in store.journal(limit=10_000)}
    entries = set(audited) | {d for d in journaled if re.search(r"/L\d+/e\d+$", d)}
    assert entries, when
    for did in sorted(entries):
        assert audited[did] == 1, f"{did} audited {audited[did]} times after {when}"
        assert store.runbook(did) is not None, f"{did} has no runbook after {when}"
        assert did in receiver, f"{did} never paged after {when}: {receiver}"


CRASH_POINTS = list(range(3, 1020, 9))  # a run makes ~1008 calls: 113 points across it


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_crash_at_any_call_neither_repeats_nor_loses_an_order(work, crash_at):
    crash_run(work, crash_at)


_RUN_CALLS: list[tuple[int, str]] = []


def _probe(work):
    """A runner on the flash crash whose every adapter and store call is numbered and logged
    (no crash): (clock, store, runner, log of (number, name))."""
    clock = ManualClock(T0)
    engine = build("flash-crash", clock)
    counter, log = [0], []
    store = open_store(f"sqlite://{work / 'probe.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": Recording(adapter, counter, None, log)},
                          Recording(store, counter, None, log), lock_path=work / "probe.json", dry_run=False,
                          clock=clock, confirm_gap_ms=TICK_MS)
    return clock, store, runner, log


def run_calls(work) -> list[tuple[int, str]]:
    """The calls (number, name) a run without a crash makes, from its start to its close."""
    if not _RUN_CALLS:
        clock, store, runner, log = _probe(work)
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


# The lease outlives a tick: the runner keeps its token across the failure (a lease lapsed
# between two ticks would hand it a new token, and a new token reloads the state anyway).
LONG_LEASE_MS = 60_000


class Recording(CrashingProxy):
    """A CrashingProxy that also notes each call's number and name."""

    def __init__(self, target, counter: list, at, log: list):
        super().__init__(target, counter, at)
        self._log = log

    def __getattr__(self, name):
        attr = super().__getattr__(name)
        if not callable(attr) or name.startswith("_") or name in PURE_READS:
            return attr

        def call(*a, **k):
            self._log.append((self._c[0] + 1, name))
            return attr(*a, **k)

        return call


class RecordingSink:
    name = "recording"

    def __init__(self):
        self.ticks, self.events = [], []

    def on_tick(self, report, runner):
        self.ticks.append(report)

    def on_event(self, event, runner):
        self.events.append(event)

    async def aclose(self):
        pass


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
