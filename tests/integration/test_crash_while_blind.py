"""The README's futures-book story through the runner: the simulator's ``crash-while-blind``
scenario (the one ``ksctl demo --scenario crash-while-blind`` runs) against the example policy
``policies/futures-book.yaml``, on a :class:`ManualClock`, as ``tests/integration/runner/rig.py``
sets a runner up.

The crash comes at minute 1, while a runner just started is blind: its ``dd_15m`` needs 12
minutes of history (80 % of 15m). Meanwhile the scope cannot act, the ``while_blind`` lock holds
the bots to reducing orders, and nothing is sent. At minute 12 the window is whole with the
crash in it: stage 3 (flatten) is entered at once, the book closed, trading halted.
"""

from __future__ import annotations

import asyncio
import json

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from killswitch.cli.demo import STORIES, story_engine
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.sources import read_sources
from killswitch.state import open_store
from tests.conftest import ROOT
from tests.integration.runner.rig import T0, TICK_MS
from tests.unit.engine_helpers import compile_graph

MINUTE = 60_000
SCOPE = "simulated/sim-main"


def futures_book():
    src = read_sources([str(ROOT / "policies" / "futures-book.yaml"), str(ROOT / "policies" / "routes.yaml")])
    return compile_graph(src.files, revision=src.revision)


def test_a_crash_at_minute_1_is_flattened_at_minute_12_when_the_runner_sees_again(tmp_path):
    clock = ManualClock(T0)
    engine = story_engine("crash-while-blind", clock)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner, desk, _ = build_runner_and_desk(futures_book(), {SCOPE: adapter}, store,
                                            lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                            confirm_gap_ms=TICK_MS)
    equity0 = engine.account_state("sim-main").equity
    first_tick = T0 + TICK_MS
    sees_at = first_tick + 12 * MINUTE  # dd_15m: 80 % of 15 minutes of history after the first tick
    ticks = STORIES["crash-while-blind"].minutes * MINUTE // TICK_MS

    async def go():
        seen = []  # (tick time, coverage row, lock, transitions, equity)
        await runner.start()
        for _ in range(ticks):
            clock.advance(TICK_MS)
            report = await runner.tick()
            (row,) = desk.status().coverage
            lock = json.loads((tmp_path / "lock.json").read_text())
            seen.append((report.now_ms, row, lock, [t.transition for t in report.transitions],
                         engine.account_state("sim-main").equity))
        await runner.aclose()
        return seen

    seen = asyncio.run(asyncio.wait_for(go(), 120))
    blind = [s for s in seen if s[0] < sees_at]
    after = [s for s in seen if s[0] >= sees_at]
    assert len(blind) == 12 * MINUTE // TICK_MS

    # blind from the first tick: no trigger can fire, and it says until when
    _, row, lock, _, _ = blind[0]
    assert (row.state, row.reason, row.partly) == ("blind", "INSUFFICIENT_HISTORY", None), row
    assert row.acts_from_ms == sees_at and set(row.acts_first) == {"soft", "harder", "hard"}, row
    # the crash: over 10 % of the equity gone by minute 3, while still blind
    crashed = [s for s in blind if s[0] >= T0 + 3 * MINUTE]
    assert all(eq < 0.9 * equity0 for *_, eq in crashed), (equity0, crashed[0][4])
    # meanwhile: blind every tick, the bots held to reducing orders, no stage, nothing sent
    assert all(r.state == "blind" and r.partly is None for _, r, _, _, _ in blind)
    assert all(lk["mode"] == "reducing" and lk["reason"].startswith("WHILE_BLIND: policy=futures-book")
               for _, _, lk, _, _ in blind), [lk["mode"] for _, _, lk, _, _ in blind]
    assert not any(tr for *_, tr, _ in blind)
    journal = store.journal(limit=100)
    assert journal and min(e.created_ms for e in journal) >= sees_at  # not one order before minute 12

    # at minute 12 it sees the crash whole: flatten at once, from stage 0
    at, row, lock, transitions, _ = after[0]
    assert at == sees_at
    assert [(t.from_level, t.to_level, t.stage) for t in transitions] == [(0, 3, "flatten")], transitions
    assert "triggers=hard" in transitions[0].reason
    assert row.partly is not None and "dd_1h unknown" in row.partly  # dd_1h still fills (48 minutes)
    assert lock["mode"] == "halted" and "stage=3 (flatten)" in lock["reason"], lock
    assert [p for p in engine.positions("sim-main") if abs(p.amount) > 0] == []
    assert all(e.status == "filled" for e in journal), [(e.client_order_id, e.status) for e in journal]
    assert all(not tr for *_, tr, _ in after[1:])  # nothing more: halted until its two approvers reset it
    store.close()
