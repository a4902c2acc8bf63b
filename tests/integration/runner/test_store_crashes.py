"""A runner that carries on after a store call failed, and one that takes over after a crash
between a stage entry's first wave and its rest: neither repeats nor loses an order.

The failure and crash points are many runs of a whole runner each, so each test takes every
fourth (or every other) point, in tests of their own that the suite's workers share; every point
runs. The runner, its simulated venue and the crash proxies are rig.py's.
"""

from __future__ import annotations

import asyncio
from typing import Optional

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import StoreError, open_store
from tests.integration.runner.rig import (
    LONG_LEASE_MS,
    T0,
    TICK_MS,
    Crash,
    DurablePager,
    entries_effects_complete,
    fills_by_client_id,
    graph,
    positions,
    probe,
    setup,
    started,
)


class FailingStore:
    """The store, whose ``at``-th call (counted from :meth:`arm`) raises a StoreError, once: the
    server unreachable before the call reached it (``after`` False), or the connection lost
    after it committed, its answer lost with it (``after`` True)."""

    def __init__(self, store, at: int, after: bool):
        self._s, self._at, self._after = store, at, after
        self.calls: Optional[int] = None  # None: not armed
        self.failed: Optional[str] = None
        self.names: list[str] = []  # the calls made since armed

    def arm(self) -> None:
        self.calls = 0

    def __getattr__(self, name):
        attr = getattr(self._s, name)
        if not callable(attr) or name.startswith("_") or name in ("reopen", "close"):
            return attr

        def call(*a, **k):
            if self.calls is None:
                return attr(*a, **k)
            self.calls += 1
            self.names.append(name)
            if self.calls != self._at:
                return attr(*a, **k)
            if self._after:
                attr(*a, **k)
            self.failed = name
            raise StoreError(f"sqlite://state.db: OperationalError: connection lost at {name}")

        return call


_STORE_CALLS: list[str] = []


def store_calls(work) -> list[str]:
    """The store calls a run makes (their names, in order), from a run without a failure."""
    if not _STORE_CALLS:
        clock = ManualClock(T0)
        engine = build("flash-crash", clock)
        store = open_store(f"sqlite://{work / 'probe.db'}")
        probe = FailingStore(store, 0, False)
        adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, probe,
                lock_path=work / "probe.json",
                              dry_run=False, clock=clock, confirm_gap_ms=TICK_MS, lease_ttl_ms=LONG_LEASE_MS)
        probe.arm()
        asyncio.run(asyncio.wait_for(started(runner, clock, ticks=STORE_FAILURE_TICKS), 60))
        store.close()
        _STORE_CALLS.extend(probe.names)
    return _STORE_CALLS


STORE_FAILURE_TICKS = 60  # five minutes: the crash, its three stages and the closes settled


STORE_FAILURE_PARTS = 4  # the failure points in four tests, every fourth each, which workers share


@pytest.mark.parametrize("part", range(STORE_FAILURE_PARTS))
def test_a_store_error_at_any_call_ends_no_runner_and_neither_repeats_nor_loses_an_order(work, part):
    """The same runner goes on after a store call failed, whatever the call and whether or not
    its write committed (the connection lost before the call reached the server, or after it
    committed, its answer lost): the tick stops there, the runner reads the store's state back
    before it acts again, as a restarted one would, and the journal does the rest. Every call
    of the ticks that journal orders or their results, and every 25th call elsewhere, fails once
    in a run of its own, each way (``part``: every fourth of those calls, from the ``part``-th)."""
    calls = store_calls(work)
    # the runs of calls from one look at the lease to the next that journal intents or results:
    # every call of the stage entries (journal, save, audit, the fence before each order, results)
    spans: list[list[int]] = []
    for i, name in enumerate(calls, 1):
        if name == "acquire_lease" or not spans:
            spans.append([])
        spans[-1].append(i)
    dense = {i for span in spans if {calls[j - 1] for j in span} & {"journal_intents", "journal_result"}
             for i in span}
    points = sorted(dense | set(range(1, len(calls) + 1, 25)))
    # the last ticks' chart writes, queued behind them: what one raises is taken up at the next
    # tick or at the runner's close, which these runs do not reach (test_runner.py's close test
    # covers it), and a run may end a tick before the probe did, its store closed before the
    # queued write runs: the chart writes after the third look at the lease from the end are left out
    leases = [i for i, name in enumerate(calls, 1) if name == "acquire_lease"]
    tail = leases[-3] if len(leases) >= 3 else 0
    points = [p for p in points if not (p > tail and calls[p - 1] == "save_signal_samples")]
    assert len(dense) > 30, dense  # (the three stage entries: journaled, saved, sent, settled)
    for fail_at in points[part::STORE_FAILURE_PARTS]:
        for after in (False, True):
            run = work / f"f{fail_at}-{'after' if after else 'before'}"
            run.mkdir()
            clock = ManualClock(T0)
            engine = build("flash-crash", clock)
            start = positions(engine)
            store = open_store("sqlite://:memory:")  # (one store object throughout: no file to sync)
            failing = FailingStore(store, fail_at, after)
            adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                       timeout_s=2.0)
            runner, _, parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, failing,
                    lock_path=run / "lock.json",
                                  dry_run=False, clock=clock, confirm_gap_ms=TICK_MS, lease_ttl_ms=LONG_LEASE_MS)
            failing.arm()
            reports = asyncio.run(asyncio.wait_for(started(runner, clock, ticks=STORE_FAILURE_TICKS), 60))
            case = f"a store error at {calls[fail_at - 1]} (call {fail_at}, {'after' if after else 'before'} it)"
            assert failing.failed == calls[fail_at - 1], case
            assert parts.counters["store_failures"] == 1, case
            assert sum(1 for r in reports if r.store_error) <= 1, case
            assert positions(engine) == {}, f"lost: positions left open after {case}"
            fills = fills_by_client_id(engine)
            assert fills and all(n == 1 for n in fills.values()), f"repeated after {case}: {fills}"
            assert store.pending_intents() == [], (case, [(e.client_order_id, e.status)
                                                          for e in store.pending_intents()])
            filled = sum(e.filled or 0 for e in store.journal(limit=1000) if e.status == "filled")
            assert filled <= sum(start.values()) + 1e-9, case  # never more than the book
            assert store.verify_audit()[0], case
            store.close()


_WAVE_CALLS: dict[int, list[tuple[int, str]]] = {}


def wave_calls(work, level: int) -> list[tuple[int, str]]:
    """The calls (number, name) a run makes from the first journal write of the tick that enters
    stage ``level`` (its first wave) to the end of that tick: every point a crash can split a
    first wave from its rest."""
    if level not in _WAVE_CALLS:
        clock, store, runner, log = probe(work / f"probe-{level}")

        async def go():
            await runner.start()
            for _ in range(60):
                clock.advance(TICK_MS)
                before = len(log)
                r = await runner.tick()
                if any(t.transition.to_level == level for t in r.transitions):
                    return log[before:]
            raise AssertionError(f"stage {level} never entered")

        tick = asyncio.run(go())
        store.close()
        batches = [n for n, name in tick if name == "journal_intents"]
        assert len(batches) == 2, tick  # the first wave, then the rest
        _WAVE_CALLS[level] = [(n, name) for n, name in tick if n >= batches[0]]
    return _WAVE_CALLS[level]


@pytest.mark.parametrize("part", [0, 1], ids=["even", "odd"])  # the crash points in two tests, for two workers
@pytest.mark.parametrize("level", [1, 3], ids=["ranked-entry", "close-all"])
def test_a_crash_between_a_first_wave_and_its_rest_neither_repeats_nor_loses_an_order(work, monkeypatch, level,
                                                                                       part):
    """The flatten stage (close_all) sends its first wave before it plans and journals the rest;
    so does any entry of at least ``planner._WAVE_FROM`` orders (here the trim stage's two, the
    bar lowered to 2), each account's first leg first. A crash at every call from the first
    wave's journal write to the end of its tick (every other one from the ``part``-th): the next
    runner plans the entry again under the same decision id (the stage was saved deferred until
    the rest was journaled), sends what was never sent, once, and closes the book."""
    import killswitch.engine.planner as planner

    if level == 1:
        monkeypatch.setattr(planner, "_WAVE_FROM", 2)
    (work / f"probe-{level}").mkdir()
    calls = wave_calls(work, level)
    names = [name for _, name in calls]
    assert names.count("submit") == (2 if level == 1 else 3)
    assert names.index("submit") < names.index("journal_intents", 1)  # the first wave sent before the rest is journaled
    for crash_at, name in calls[part::2]:
        run = work / f"c{crash_at}"
        run.mkdir()
        clock = ManualClock(T0)
        engine = build("flash-crash", clock)
        start = positions(engine)
        receiver: list[str] = []
        runner, _, _, store, counter, _ = setup(run, crash_at=crash_at, engine=engine, clock=clock,
                                             sinks=[RunbookSink(None), DurablePager(receiver)])

        with pytest.raises(Crash):
            asyncio.run(asyncio.wait_for(started(runner, clock), 60))
        store.close()
        again, _, _, store2, _, _ = setup(run, engine=engine, clock=clock,
                                       sinks=[RunbookSink(None), DurablePager(receiver)])
        asyncio.run(asyncio.wait_for(started(again, clock), 60))
        entries_effects_complete(store2, receiver, f"a crash at {name} (call {crash_at})")
        assert positions(engine) == {}, f"lost: positions left open after a crash at {name} (call {crash_at})"
        fills = fills_by_client_id(engine)
        assert fills and all(n == 1 for n in fills.values()), f"repeated after a crash at {name}: {fills}"
        assert store2.pending_intents() == [], name
        journal = store2.journal(limit=1000)
        assert sum(e.filled or 0 for e in journal if e.status == "filled") <= sum(start.values()) + 1e-9
        # the entry's closes: its own decision id, or a re-plan of it (/r<n>) when one ended short
        entry = [e for e in journal if f"/L{level}/" in e.decision_id]
        assert entry and len({e.decision_id.split(f"/L{level}/")[1].split("/")[0] for e in entry}) == 1, name
        store2.close()

