"""What a chart sample write raised, taken up by the runner's next tick.

The write is queued on the store thread behind the tick and never awaited; what it raised is
taken up at the next tick as any store call outside a tick: a write fenced off by another
runner's lease makes the runner a standby that reads the store's state back when it leads
again, a store error is counted and the state read back (no order lost or repeated), the
process dying in it dies at the next tick, and a bug (not the store's) is counted in
``killswitch_chart_sample_failures_total`` and said once a minute at most. The runner of the
flash crash (``runner/rig.py``) on a SQLite store, through a store that acts at the n-th sample
write; after each tick the queued write is let through, so that the next tick finds what it
raised.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, Callable, Optional

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runner.storeio import StoreIO
from killswitch.state import StoreError, open_store
from tests.integration.runner.rig import LONG_LEASE_MS, T0, TICK_MS, Crash, fills_by_client_id, graph, positions

SAMPLES = "save_signal_samples"
Act = Callable[..., Any]  # act(store, call, *args, **kwargs): what the n-th sample write does instead


class OnSampleWrites:
    """The store, whose n-th ``save_signal_samples`` call (counted from 1) does ``acts[n]``
    instead; every call's name is noted, in order."""

    def __init__(self, store: Any, acts: dict[int, Act]):
        self._s, self._acts = store, acts
        self.samples = 0
        self.names: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._s, name)
        if not callable(attr) or name.startswith("_") or name in ("reopen", "close"):
            return attr

        def call(*a: Any, **k: Any) -> Any:
            self.names.append(name)
            if name != SAMPLES:
                return attr(*a, **k)
            self.samples += 1
            act = self._acts.get(self.samples)
            return attr(*a, **k) if act is None else act(self._s, attr, *a, **k)

        return call


def raising(error: BaseException) -> Act:
    def act(store: Any, call: Any, *a: Any, **k: Any) -> Any:
        raise error
    return act


def with_a_nan(store: Any, call: Any, rows: Any, fence: int, **k: Any) -> Any:
    """A bug: a sample value the engine never produces (NaN), refused by the store's encoder."""
    return call([r._replace(values={**r.values, "equity": math.nan}) for r in rows], fence, **k)


class World:
    def __init__(self, tmp_path: Any, acts: dict[int, Act]):
        self.clock = ManualClock(T0)
        self.engine = build("flash-crash", self.clock)
        self.start = positions(self.engine)
        self.raw = open_store(f"sqlite://{tmp_path / 'state.db'}")
        self.store = OnSampleWrites(self.raw, acts)
        adapter = SimulatedAdapter(self.engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                   timeout_s=2.0)
        # the lease outlives a tick: the token is kept, so a read-back comes from the failure alone
        self.runner, self.desk, self.parts = build_runner_and_desk(graph(), {"simulated/sim-main": adapter}, self.store,
                                                       lock_path=tmp_path / "lock.json", dry_run=False,
                                                       clock=self.clock, confirm_gap_ms=TICK_MS,
                                                       lease_ttl_ms=LONG_LEASE_MS)

    async def step(self) -> Any:
        """One tick, then what it queued written (the sample write), so that the next tick finds
        what that write raised."""
        self.clock.advance(TICK_MS)
        report = await self.runner.tick()
        await self.parts.io(lambda: None)
        return report

    def run(self, ticks: int, *, start: bool = True) -> list:
        async def go() -> list:
            if start:
                await self.runner.start()
            return [await self.step() for _ in range(ticks)]
        return asyncio.run(asyncio.wait_for(go(), 60))

    def close(self) -> None:
        asyncio.run(self.runner.aclose())
        self.raw.close()


@pytest.fixture
def worlds():
    made: list[World] = []

    def make(tmp_path: Any, acts: dict[int, Act]) -> World:
        made.append(World(tmp_path, acts))
        return made[-1]
    yield make
    for w in made:
        w.close()


def metric(w: World, name: str, labels: str = "") -> Optional[float]:
    for line in w.desk.metrics_text().splitlines():
        key, _, value = line.rpartition(" ")
        if key == name + labels:
            return float(value)
    return None


def entry_ticks(tmp_path: Any) -> list[int]:
    """The ticks (from 1) of the flash crash that entered a stage: orders were sent there."""
    w = World(tmp_path, {})
    try:
        return [i for i, r in enumerate(w.run(60), 1) if r.transitions]
    finally:
        w.close()


def test_a_sample_write_fenced_off_by_a_takeover_makes_the_next_tick_a_standby_that_reads_the_state_back(
        tmp_path, worlds):
    """Another runner takes the lease while the leader's third sample write waits on the store
    thread: the store fences the write off. The next tick is a standby's, and when the lease
    comes back the runner goes on from the store's state, not from what it held."""
    took: list[int] = []

    def taken_over(store: Any, call: Any, *a: Any, **k: Any) -> Any:
        at = w.clock() + LONG_LEASE_MS + 1  # our lease lapsed there: the other runner's term starts
        took.append(store.acquire_lease("ks-2", LONG_LEASE_MS, at))
        return call(*a, **k)

    w = worlds(tmp_path, {3: taken_over})
    before = w.run(3)
    assert all(r.leader for r in before) and took and took[0] is not None
    assert w.parts.charts.failures == {"fenced": 1, "store_error": 0, "error": 0}
    stored = len(w.raw.signal_samples("crash-ladder", "simulated/sim-main", 0))
    calls = len(w.store.names)

    (standby,) = w.run(1, start=False)
    assert not standby.leader and not w.parts.lead.leader
    assert len(w.raw.signal_samples("crash-ladder", "simulated/sim-main", 0)) == stored  # a standby stores none
    assert "load_engine_state_and_pnl" not in w.store.names[calls:]

    w.clock.advance(2 * LONG_LEASE_MS)  # the other runner's term runs out: the lease comes back, a new token
    calls = len(w.store.names)
    (back,) = w.run(1, start=False)
    assert back.leader and back.fence != before[-1].fence
    assert "load_engine_state_and_pnl" in w.store.names[calls:], "led again without reading the store's state"
    assert w.parts.counters["store_failures"] == 0  # a refusal is an answer, not a store failure
    assert metric(w, "killswitch_chart_sample_failures_total", '{reason="fenced"}') == 1


def test_a_store_error_in_a_sample_write_is_counted_and_the_state_read_back_losing_and_repeating_no_order(
        tmp_path, worlds):
    """The sample write of each tick that entered a stage (its orders just sent) fails, in a run
    of its own: the next tick counts a store failure and leads again only from the state read
    back from the store; the crash is closed out, each order filled once."""
    (tmp_path / "probe").mkdir()
    entries = entry_ticks(tmp_path / "probe")
    assert len(entries) == 3, entries  # the flash crash's three stages
    for tick in entries:
        run = tmp_path / f"t{tick}"
        run.mkdir()
        error = StoreError("sqlite://state.db: OperationalError: connection lost at save_signal_samples")
        w = worlds(run, {tick: raising(error)})
        reports = w.run(tick)
        case = f"a store error in the sample write of tick {tick}"
        assert w.parts.counters["store_failures"] == 0 and w.parts.charts.failures["store_error"] == 1, case
        # the token kept: nothing read back since the runner was built from the store
        assert w.store.names.count("load_engine_state_and_pnl") == 1, case
        calls = len(w.store.names)
        reports += w.run(60 - tick, start=False)
        assert reports[tick].leader, case  # the next tick: counted, read back, and leading again
        assert "load_engine_state_and_pnl" in w.store.names[calls:calls + 3], (case, w.store.names[calls:calls + 3])
        assert w.parts.counters["store_failures"] == 1, case
        assert metric(w, "killswitch_store_failures_total") == 1, case
        assert metric(w, "killswitch_chart_sample_failures_total", '{reason="store_error"}') == 1, case
        assert not any(r.store_error for r in reports), case  # no tick stopped: the write was off the tick
        assert positions(w.engine) == {}, f"lost: positions left open after {case}"
        fills = fills_by_client_id(w.engine)
        assert fills and all(n == 1 for n in fills.values()), f"repeated after {case}: {fills}"
        assert w.raw.pending_intents() == [], case
        filled = sum(e.filled or 0 for e in w.raw.journal(limit=1000) if e.status == "filled")
        assert filled <= sum(w.start.values()) + 1e-9, case
        assert w.raw.verify_audit()[0], case


def test_the_process_dying_in_a_sample_write_dies_at_the_next_tick_before_it_calls_the_store(tmp_path, worlds):
    w = worlds(tmp_path, {3: raising(Crash("crash in the third sample write"))})
    w.run(3)
    calls = len(w.store.names)
    with pytest.raises(Crash, match="third sample write"):
        w.run(1, start=False)
    assert w.store.names[calls:] == []  # it died where the tick began: nothing more was asked of the store
    assert w.parts.charts.failed() is None  # taken once


def test_a_bug_in_a_sample_write_is_counted_and_said_once_a_minute_and_the_ticks_go_on(tmp_path, worlds, caplog):
    """Sample writes 2 and 3 (five seconds apart) and 16 (70 s after the 2nd) raise a ValueError,
    which is not the store's: the ticks go on leading, no store failure is counted, the metric
    counts all three, and the log says it at the 2nd and again at the 16th (with the count)."""
    caplog.set_level(logging.WARNING, logger="killswitch.runner.charts")
    w = worlds(tmp_path, {2: with_a_nan, 3: with_a_nan, 16: with_a_nan})
    reports = w.run(20)
    assert all(r.leader and not r.store_error for r in reports)
    assert w.parts.counters["store_failures"] == 0
    assert metric(w, "killswitch_chart_sample_failures_total", '{reason="error"}') == 3
    assert metric(w, "killswitch_chart_sample_failures_total", '{reason="store_error"}') == 0
    said = [r for r in caplog.records if r.name == "killswitch.runner.charts"]
    assert [r.levelno for r in said] == [logging.WARNING, logging.WARNING]
    first, second = (r.getMessage() for r in said)
    assert first.startswith("CHART_SAMPLE_FAILED: a chart sample write raised ValueError: ")
    assert "(1 failed since the last line" in first and "(2 failed since the last line" in second
    assert said[0].exc_info is not None  # the traceback of the bug goes with it
    stored = w.raw.signal_samples("crash-ladder", "simulated/sim-main", 0)
    assert len(stored) == 17  # the ticks' other samples are in the chart


def test_a_process_dying_in_one_sample_write_is_not_hidden_by_a_later_ones_failure(tmp_path, worlds):
    """Two writes failed before a tick asked (a slow store thread): the next tick takes up the
    graver, each once, and every failure is counted."""
    charts = worlds(tmp_path, {}).parts.charts
    io = StoreIO("store-test")

    def fails(error: BaseException) -> Callable[[], None]:
        def call() -> None:
            raise error
        return call

    for error in (Crash("dying"), StoreError("connection lost"), ValueError("a bug")):
        io.submit(fails(error)).add_done_callback(charts._done)
    io.close()
    assert isinstance(charts.failed(), Crash) and charts.failed() is None
    assert charts.failures == {"fenced": 0, "store_error": 1, "error": 1}
