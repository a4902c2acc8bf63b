"""Two runners on one store, the leader and a standby, on the simulated exchange: what a deposed
runner may still write, what a standby answers and refuses, a heartbeat and a clock that reach the
standby, a slow tick that keeps its lease, and the sinks' state a runner taking the lease takes up.
The runners and their clock are test_runner_operator.py's.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.starved import Starvation
from tests.unit.runner.operator.rig import ACCOUNT, make, order, run, start, ticks


def test_a_deposed_daemons_reload_row_is_refused_then_written_as_a_standby(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)
    start(b)
    run(a.parts.lead.audit_or_standby("policy_reloaded", a.clock(), {"to": "sha256:x"}))
    assert not a.parts.lead.leader
    import sqlite3

    db = sqlite3.connect(tmp_path / "state.db")
    try:
        [(payload,)] = db.execute("SELECT payload FROM audit_log WHERE kind = 'policy_reloaded'").fetchall()
    finally:
        db.close()
    assert json.loads(payload) == {"to": "sha256:x", "standby": True}
    assert b.store.verify_audit() == (True, None)


def test_a_standby_answers_the_leaders_lock_and_gate_and_refuses_resets(tmp_path):
    """Behind one Service, a bot may reach the standby: it must see the leader's lock (at most a
    tick behind), never the state it loaded at start, and must not swallow a reset."""
    a = make(tmp_path, holder="a")
    start(a)
    ticks(a, 1, beat=("bot-x",))
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    start(b)
    assert a.parts.lead.leader and not b.parts.lead.leader
    assert b.desk.check_order(order()).allow
    assert run(a.desk.lock_scope(ACCOUNT, "halted", "desk says stop", None)).done
    assert not a.desk.check_order(order()).allow
    run(b.runner.tick())  # the standby's tick follows what the leader saved
    assert not b.desk.check_order(order()).allow, "the standby must answer the leader's lock"
    assert b.desk.lock_document(ACCOUNT)["locked"] is True
    answer = run(b.desk.reset("bot-guard", ACCOUNT, "alice", "checked", confirm_relatch=True))
    assert not answer.done and answer.reason.startswith("NOT_LEADER")


def leader_armed_and_standby(tmp_path):
    """Runner a leads with bot-x's switch armed (60 s) and one beat heard; b stands by."""
    a = make(tmp_path, holder="a")
    start(a)
    assert run(a.desk.dms_arm("bot-x", 60.0)).done
    ticks(a, 1, beat=("bot-x",))
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    start(b)
    return a, b


def test_a_heartbeat_sent_to_a_standby_reaches_the_leader(tmp_path):
    """A bot beating through the Service reaches either replica: a beat a standby took keeps the
    source's switch quiet and its heartbeat age young on the leader, from its next tick."""
    a, b = leader_armed_and_standby(tmp_path)
    assert not b.parts.lead.leader
    for _ in range(30):  # 150 s of beats, every one to the standby: past the switch's 60 s and the policy's
        a.clock.advance(5_000)
        run(b.desk.heartbeat("bot-x"))
        run(a.runner.tick())
    assert a.parts.book.state.heartbeats["bot-x"] == a.clock()
    assert a.parts.book.dms.sources["bot-x"].last_beat_ms == a.clock()
    assert a.parts.book.dms.sources["bot-x"].fired_ms is None
    assert a.desk.lock_document(ACCOUNT)["locked"] is False
    assert b.store.heartbeats() == {"bot-x": a.clock()}
    run(b.desk.heartbeat("bot-x", a.clock() - 1_000))  # a late, older beat changes nothing
    assert b.store.heartbeats() == {"bot-x": a.clock()}
    # and without the beats, the same 150 s fire both the switch and the policy
    for _ in range(30):
        ticks(a, 1)
    assert a.parts.book.dms.sources["bot-x"].fired_ms is not None
    assert a.desk.lock_document(ACCOUNT)["locked"] is True


class WallClock:
    """Wall-clock milliseconds, with ManualClock's advance() for the helpers (it adds an offset)."""

    def __init__(self):
        import time

        self._time, self.offset = time.time, 0

    def __call__(self) -> int:
        return int(self._time() * 1000) + self.offset

    def advance(self, ms: int) -> None:
        self.offset += ms


@pytest.mark.slow
def test_a_slow_tick_keeps_its_lease_so_a_standby_cannot_take_the_book_mid_incident(tmp_path):
    """A venue answering slowly makes a tick longer than the lease's TTL: renewed by the lease
    thread while the tick runs, the lease stays with the leader, which finishes the tick undeposed.
    The keeper runs on the wall clock and a thread of its own, so a run in which this process's
    threads were kept waiting for a third of the TTL or more (measured beside it) tells nothing and
    is run again, up to three times; a keeper that does not renew fails every run on time."""
    from killswitch.runner.lease.keeper import LeaseKeeper, show_life

    TTL_MS = 1200

    clock = WallClock()
    a = make(tmp_path, holder="a", clock=clock, lease_ttl_ms=TTL_MS)
    b = make(tmp_path, holder="b", engine=a.engine, clock=clock, lease_ttl_ms=TTL_MS)
    inner = a.adapter.snapshot

    async def slow_snapshot():
        await asyncio.sleep(3.5 * TTL_MS / 1000)  # over three TTLs
        return await inner()

    async def go(keep: bool):
        keeper = life = None
        if keep:
            keeper = LeaseKeeper.for_store(a.store, "a", TTL_MS, clock=clock)
            a.runner.hold_lease_with(keeper)
            life = asyncio.create_task(show_life(keeper))
            keeper.start()
        try:
            await a.runner.start()
            assert a.parts.lead.leader
            a.adapter.snapshot = slow_snapshot
            tick = asyncio.create_task(a.runner.tick())
            took = False
            while not tick.done():
                await asyncio.sleep(0.05)
                took = took or b.store.acquire_lease("b", TTL_MS, clock()) is not None
            return tick.result(), took
        finally:
            a.adapter.snapshot = inner
            if keeper is not None:
                life.cancel()
                keeper.stop(release=True)
                a.parts.lead.keeper = None

    runs = []
    for _ in range(3):
        with Starvation() as starved:
            report, took = run(go(keep=True))
        runs.append((round(starved.worst_s, 3), took))
        if starved.worst_s < TTL_MS / 3 / 1000:
            break
        if took:
            b.store.release_lease("b")
    assert starved.worst_s < TTL_MS / 3 / 1000, f"threads starved in every run (worst wait, taken): {runs}"
    assert not took, f"the standby took the lease during the leader's slow tick (worst wait, taken): {runs}"
    assert report.leader and not report.execution.deposed
    # without the lease thread the same slow tick lets the standby in (what the keeper prevents)
    run(asyncio.sleep(1.5 * TTL_MS / 1000))
    report, took = run(go(keep=False))
    assert took, "without the renewal the standby should have taken the lease"
    assert report.execution.deposed and not report.leader


def test_a_standby_clock_ahead_cannot_keep_a_silent_source_alive(tmp_path):
    a, b = leader_armed_and_standby(tmp_path)
    run(b.desk.heartbeat("bot-x", a.clock() + 600_000))  # a standby whose clock is 10 minutes ahead
    ticks(a, 1)
    assert a.parts.book.dms.sources["bot-x"].last_beat_ms == a.clock()  # heard now, not in the future
    ticks(a, 20)  # then silence: 100 s past the 60 s timeout
    assert a.parts.book.dms.sources["bot-x"].fired_ms is not None
    assert a.desk.lock_document(ACCOUNT)["locked"] is True


class KeptSink:
    """A sink that keeps a counter across restarts, through the runner's saved state."""

    name = "kept"

    def __init__(self):
        self.count, self.restored = 0, []

    def on_tick(self, report, runner):
        self.count += 1

    def on_event(self, event, runner):
        pass

    async def aclose(self):
        pass

    def state_doc(self):
        return {"count": self.count}

    def restore_state(self, doc, runner):
        self.restored.append(doc)
        self.count = (doc or {}).get("count", 0)


def test_a_runner_taking_the_lease_takes_up_its_sinks_saved_state(tmp_path):
    a = make(tmp_path, holder="a")
    a.parts.fanout.sinks.append(sink_a := KeptSink())
    start(a)
    assert sink_a.restored == [None]  # nothing saved yet
    ticks(a, 5)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    b.parts.fanout.sinks.append(sink_b := KeptSink())
    start(b)
    assert not b.parts.lead.leader and sink_b.restored == []  # a standby takes nothing up
    ticks(a, 3)
    a.clock.advance(60_000)  # a is gone; b takes over at its next tick
    run(b.runner.tick())
    assert b.parts.lead.leader and sink_b.restored[-1] == {"count": 7}  # saved by a's last tick, before its sinks ran
    # the leader renewing its own lease after a lapse nobody used keeps what it has in memory
    b.clock.advance(60_000)
    run(b.runner.tick())
    assert len(sink_b.restored) == 1
