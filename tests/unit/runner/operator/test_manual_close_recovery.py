"""A manual close survives a stop of its runner: a request no tick planned is carried out by the
next leader when recent, refused as expired when old; a close already planned is tracked again
from the audit trail and not sent twice. Against the simulated exchange on a manual clock, the
store on SQLite, each "runner" a new Runner over the same store and venue (a restart)."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from types import SimpleNamespace

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runner.operator.closes import RECOVER_WITHIN_MS
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph
from tests.unit.runner.operator.rig import live_close

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
SCOPE = "simulated/sim-main"

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: quiet}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 15m}}
      triggers:
        deep: {when: "dd >= 90%", on_missing_data: hold}
      stages:
        - {level: 1, name: flatten, on: [deep], actions: [close_all]}
    """
)


def world(tmp_path):
    clock = ManualClock(T0)
    engine = build("calm", clock)
    return SimpleNamespace(clock=clock, engine=engine, graph=compile_graph(POLICY, "quiet.yaml"),
                           db=tmp_path / "state.db", tmp=tmp_path)


def runner_of(w):
    """A runner (and its desk) as a restart makes it: the same store, venue and holder, nothing in
    memory."""
    adapter = SimulatedAdapter(w.engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    store = open_store(f"sqlite://{w.db}")
    return build_runner_and_desk(w.graph, {SCOPE: adapter}, store, lock_path=w.tmp / "lock.json", clock=w.clock,
                                 dry_run=False, holder="runner")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def tick(runner, w, n: int = 1):
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(TICK_MS)
            out.append(await runner.tick())
        return out
    return run(go())


def positions(w) -> dict:
    return {p.symbol: p.amount for p in w.engine.positions("sim-main") if p.amount}


def audit(w, kind: str) -> list[str]:
    db = sqlite3.connect(w.db)
    try:
        return [p for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))]
    finally:
        db.close()


def rows(w, sql: str):
    db = sqlite3.connect(w.db)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def stop(runner) -> None:
    """The runner stops: only what it stored remains (no tick, no cleanup of its queue)."""
    runner.store.close()


def asked_then_stopped(tmp_path):
    w = world(tmp_path)
    first, first_desk, first_parts = runner_of(w)
    run(first.start())
    tick(first, w)
    assert positions(w), "the calm book holds positions"
    queued = run(live_close(first_desk, SCOPE, "drill", actor="alice"))
    assert queued.accepted and queued.id, queued
    stop(first)
    return w, queued.id


def test_a_close_asked_for_just_before_a_stop_is_carried_out_by_the_next_leader(tmp_path):
    w, close_id = asked_then_stopped(tmp_path)
    w.clock.advance(30_000)  # a restart: well within the recovery window
    second, second_desk, second_parts = runner_of(w)
    run(second.start())
    tick(second, w, 6)
    assert positions(w) == {}, "the close the first runner was asked for flattened the book"
    progress = run(second_desk.close_progress(close_id))
    assert progress is not None and progress["state"] == "settled", progress
    assert len(audit(w, "manual_close_planned")) >= 1 and audit(w, "manual_close_expired") == []


def test_a_close_asked_for_long_before_the_restart_is_not_carried_out_and_says_so(tmp_path):
    w, close_id = asked_then_stopped(tmp_path)
    held = positions(w)
    w.clock.advance(RECOVER_WITHIN_MS + 60_000)
    second, second_desk, second_parts = runner_of(w)
    run(second.start())
    tick(second, w, 3)
    assert positions(w) == held, "an old request is not sent on its own after a restart"
    progress = run(second_desk.close_progress(close_id))
    assert progress is not None and progress["state"] == "expired" and progress["orders"] == 0, progress
    [row] = audit(w, "manual_close_expired")
    assert close_id in row and "NOT_CARRIED_OUT" in row
    stop(second)
    third, third_desk, third_parts = runner_of(w)  # once expired, always expired: no second row, nothing sent
    run(third.start())
    tick(third, w, 2)
    assert len(audit(w, "manual_close_expired")) == 1 and positions(w) == held
    assert run(third_desk.close_progress(close_id))["state"] == "expired"


def test_a_close_planned_before_the_restart_is_tracked_again_and_not_sent_twice(tmp_path):
    w = world(tmp_path)
    first, first_desk, first_parts = runner_of(w)
    run(first.start())
    tick(first, w)
    queued = run(live_close(first_desk, SCOPE, "drill"))
    tick(first, w, 6)
    assert positions(w) == {}
    journaled = rows(w, "SELECT COUNT(*) FROM order_intent")
    settled = run(first_desk.close_progress(queued.id))
    assert settled["state"] == "settled"
    stop(first)
    w.engine.open_position("sim-main", "BTCUSDT", "long", 1.0, 60_000.0)  # a new position after the close
    second, second_desk, second_parts = runner_of(w)
    run(second.start())
    tick(second, w, 3)
    assert positions(w) == {"BTCUSDT": 1.0}, "a close already planned is not planned again by the next leader"
    again = run(second_desk.close_progress(queued.id))
    assert again is not None and again["state"] == "settled" and again["orders"] == settled["orders"], again
    assert rows(w, "SELECT COUNT(*) FROM order_intent") == journaled
