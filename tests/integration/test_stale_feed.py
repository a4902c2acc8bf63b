"""A frozen feed, end to end: the simulator's STALE fault repeats one old answer (with its own
times, or — the worst case — with fresh-looking ones), and the runner's data age grows from the
last answer that changed, until a ``stale > 3s`` trigger fires.

Faces: the in-process adapter, the HTTP face read by the real ``ccxt.binanceusdm`` (through the
production ccxt adapter), and the runner over the in-process adapter on SQLite and PostgreSQL,
across a restart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.faults import FaultPlan
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import FROZEN_AFTER_MS, State
from killswitch.policy.accounts_doc import Account
from killswitch.process.bootstrap import RunnerAndDesk, build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

from .sim_helpers import T0, run

STEP = 5_000  # the runner's interval
FREEZE = T0 + 20_000  # the feed freezes here (engine time) ...
THAW = T0 + 80_000  # ... and answers again from here
POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: fresh}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals: {age: {data_age: {}}}
      triggers: {blind: {when: "age > 3s", on_missing_data: hold}}
      stages:
        - {level: 1, name: reduce-only, on: [blind], actions: [{lock_trading: {mode: reducing}}]}
    """)
# ticks a freeze needs before it shows: the venue's clock must move more than the tolerance
DETECT_TICKS = FROZEN_AFTER_MS // STEP + 1


def frozen_plan(stamp: str, stale_ms: int = 2_000) -> FaultPlan:
    plan = FaultPlan()
    for op in ("account", "positions"):
        plan.stale(op, stale_ms, stamp=stamp, window=(FREEZE, THAW), account="sim-main")
    return plan


def content(s):
    return s.equity, [(p.symbol, p.contracts, p.mark_price) for p in s.positions]


# --- the fault itself ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["old", "now"])
def test_the_in_process_stale_fault_repeats_one_old_answer(stamp):
    clock = ManualClock(T0)
    engine = build("calm", clock, faults=frozen_plan(stamp))
    ad = SimulatedAdapter(engine, "sim-main")
    snaps = []
    while clock() < THAW + 2 * STEP:
        clock.advance(STEP)
        snaps.append(run(ad.snapshot()))
    during = [s for s in snaps if FREEZE <= s.ts_observed < THAW]
    before = [s for s in snaps if s.ts_observed < FREEZE]
    after = [s for s in snaps if s.ts_observed >= THAW]
    assert len(during) >= 10 and all(s.fetch.ok for s in snaps)
    assert len({repr(content(s)) for s in during}) == 1  # one answer, repeated
    assert content(during[0]) not in [content(s) for s in before + after]  # the calm market moves outside it
    assert len({repr(content(s)) for s in after}) == len(after)
    first = during[0].ts_observed
    for s in during:
        assert s.ts_event == (s.ts_observed if stamp == "now" else first - 2_000)
    assert [s.ts_event for s in after] == [s.ts_observed for s in after]


def test_a_stale_stamp_must_be_known():
    with pytest.raises(ValueError, match="BAD_FAULT: stamp 'fresh'"):
        FaultPlan().stale("account", 1_000, stamp="fresh")
    with pytest.raises(ValueError, match="BAD_FAULT"):
        FaultPlan.from_dicts([{"op": "account", "kind": "stale", "stale_ms": 1_000, "stamp": "later"}])


# --- through ccxt and the HTTP face --------------------------------------------------------------------------------


@asynccontextmanager
async def ccxt_face(plan: FaultPlan, clock: ManualClock):
    from adapters.ccxt_exchange import CcxtAdapter

    engine = build("calm", clock, faults=plan)
    os.environ["KS_FRESH_KEY"], os.environ["KS_FRESH_SECRET"] = "sim-main-key", "sim-main-secret"
    acc = Account.model_validate({
        "name": "sim-main", "venue": "binanceusdm", "market_type": "futures", "labels": {"book": "futures"},
        "credentials": {"api_key": {"env": "KS_FRESH_KEY"}, "secret": {"env": "KS_FRESH_SECRET"}},
    })
    async with SimServer(engine, faults=plan, auth_clock=wall_clock, hang_s=3.0) as server:
        # ccxt paces requests by Binance's weights in wall time; the engine's clock here is manual,
        # and a snapshot every simulated 5 s would wait ~1.3 s of real time each
        adapter = CcxtAdapter(acc, urls=server.base_url, timeout=2.0, max_retries=1, backoff_s=0.05,
                              ccxt_rate_limit=False)
        try:
            yield adapter
        finally:
            await adapter.close()


def test_through_ccxt_a_freshly_stamped_frozen_feed_fires_the_stale_trigger():
    """The ccxt adapter stamps every answer with its receive time (Binance USD-M reports no
    account-wide time), so only the repeating content can give the freeze away. The snapshots
    are read from the HTTP face as the engine's clock moves; each is then evaluated at the tick
    it stands for (its times set to that tick), since the freeze is judged over seconds of the
    venue's clock that a test should not spend waiting."""
    clock = ManualClock(T0)
    plan = frozen_plan("now")

    async def read():
        out = []
        async with ccxt_face(plan, clock) as ad:
            await ad.snapshot()  # markets loaded before the fault window
            while clock() < THAW + 2 * STEP:
                clock.advance(STEP)
                out.append((clock(), await ad.snapshot()))
        return out

    snaps = run(read(), 60)
    assert all(s.fetch.ok for _, s in snaps)
    assert plan.fired("stale"), "the fault never fired"
    g, state, ages, firing = compile_graph(POLICY, "fresh.yaml"), State(), {}, {}
    for t, s in snaps:
        s = s.model_copy(update={"ts_event": t, "ts_observed": t})
        ev, state = evaluate(g, [s], state, t)
        sc = ev.scopes[0]
        ages[t] = next(v.value for v in sc.signals if v.name == "age")
        firing[t] = sc.stage_after
    frozen_ticks = [t for t in ages if FREEZE <= t < THAW]
    first_freeze = frozen_ticks[0]
    assert all(ages[t] == 0 for t in ages if t < first_freeze + FROZEN_AFTER_MS)
    shown = first_freeze + DETECT_TICKS * STEP
    assert ages[shown] == (shown - first_freeze) / 1000 and firing[shown] == 1
    assert ages[frozen_ticks[-1]] == (frozen_ticks[-1] - first_freeze) / 1000
    assert all(ages[t] == 0 for t in ages if t >= THAW)  # it moves again: fresh again


def test_the_http_face_repeats_the_old_body_with_fresh_times():
    clock = ManualClock(T0)
    plan = frozen_plan("now")
    for op in ("balance",):  # the raw balance endpoint too (the adapter reads the account one)
        plan.stale(op, 2_000, stamp="now", window=(FREEZE, THAW), account="sim-main")

    async def body():
        async with ccxt_face(plan, clock) as ad:
            ex = ad._ex  # the ccxt client underneath: the raw answer
            clock.advance(FREEZE - T0)
            a = await ex.fapiPrivateV2GetBalance()
            p = await ex.fapiPrivateV2GetPositionRisk()
            clock.advance(3 * STEP)
            b = await ex.fapiPrivateV2GetBalance()
            q = await ex.fapiPrivateV2GetPositionRisk()
            return a, b, p, q

    a, b, p, q = run(body(), 30)
    assert a[0]["updateTime"] == FREEZE and b[0]["updateTime"] == FREEZE + 3 * STEP  # fresh-looking
    assert {k: v for k, v in a[0].items() if k != "updateTime"} == {k: v for k, v in b[0].items() if k != "updateTime"}
    marks = lambda rows: [(r["symbol"], r["positionSide"], r["markPrice"], r["positionAmt"]) for r in rows]  # noqa: E731
    assert marks(p) == marks(q)  # the same old content


# --- the runner ----------------------------------------------------------------------------------------------------


@pytest.fixture
def work():
    d = Path(tempfile.mkdtemp(prefix="ks-fresh-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request, work) -> str:
    if request.param == "sqlite":
        return f"sqlite://{work / 'state.db'}"
    return request.getfixturevalue("pg_database")


def test_the_runner_sees_a_freshly_stamped_frozen_feed_age_and_fires_and_a_restart_keeps_the_age(state_url, work):
    clock = ManualClock(T0)
    engine = build("calm", clock, faults=frozen_plan("now"))
    adapters = {f"simulated/{a}": SimulatedAdapter(engine, a, labels={"book": "futures"}) for a in ("sim-main",
                                                                                                     "sim-hedge")}
    seen: list[tuple[int, float, float, int]] = []  # (tick time, sim-main age, sim-hedge age, sim-main stage)

    def runner() -> RunnerAndDesk:
        return build_runner_and_desk(compile_graph(POLICY, "fresh.yaml"), adapters, open_store(state_url),
                                     lock_path=work / "lock.json", dry_run=True, clock=clock)

    async def drive(built: RunnerAndDesk, until: int) -> None:
        r, desk, parts = built
        await r.start()
        while clock() < until:
            clock.advance(STEP)
            await r.tick()
            ages = desk.status().data_age_s
            seen.append((clock(), ages["simulated/sim-main"], ages["simulated/sim-hedge"],
                         parts.book.state.scopes["fresh|simulated/sim-main"].stage.level))

    first = runner()
    halfway = FREEZE + (DETECT_TICKS + 2) * STEP
    run(drive(first, halfway))
    before = seen[-1]
    metrics = first.desk.metrics_text()
    first.runner.store.close()
    assert before[1] > 3 and before[3] == 1, seen
    assert f'killswitch_data_age_seconds{{account="simulated/sim-main"}} {before[1]:g}' in metrics

    second = runner()  # restarted on the same store, the feed still frozen
    run(drive(second, THAW + 2 * STEP))
    second.runner.store.close()
    after_restart = seen[len(seen) - (THAW + 2 * STEP - halfway) // STEP]
    assert after_restart[1] == before[1] + STEP / 1000  # it kept ageing: the freeze was remembered

    for t, main, hedge, level in seen:
        assert hedge == 0  # the other account's live feed never ages
        if t < FREEZE + FROZEN_AFTER_MS:
            assert main == 0 and level == 0
        if FREEZE + DETECT_TICKS * STEP <= t < THAW:
            assert main > 3 and level == 1
        if t >= THAW:
            assert main == 0
    fired_at = next(t for t, _, _, level in seen if level == 1)
    assert fired_at - FREEZE <= DETECT_TICKS * STEP  # within a few ticks of the tolerance
