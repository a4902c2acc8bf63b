"""The runner's store calls run off its event loop, in order.

A store call held up (an fsync on a busy disk, a PostgreSQL lock wait) must leave the loop
running: it shows life to the lease thread, answers reads and goes on with what it can. Each
test holds a store call on a :class:`threading.Event` that only the loop can set — were the
call made on the loop, the loop could never set it and the test would fail on the event's
timeout, not hang.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from killswitch.runner.lock import read_lock_file
from killswitch.runner.storeio import StoreIO
from killswitch.state.store import FencedError

from .test_runner_operator import ACCOUNT, GUARD, audit_kinds, make, run, start, ticks

HOLD_S = 10.0  # how long a held call waits for the loop before the test fails


class Held:
    """Wraps one store method: its next call waits until :meth:`release` (from the loop)."""

    def __init__(self, store, name: str):
        self.store, self.name = store, name
        self.real = getattr(store, name)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.released_in_time = None
        setattr(store, name, self)

    def __call__(self, *args, **kwargs):
        setattr(self.store, self.name, self.real)  # only the first call is held
        self.entered.set()
        self.released_in_time = self.gate.wait(HOLD_S)
        return self.real(*args, **kwargs)

    async def wait_entered(self) -> None:
        while not self.entered.is_set():
            await asyncio.sleep(0.005)

    def release(self) -> None:
        self.gate.set()


def test_an_operator_lock_whose_audit_is_held_leaves_the_loop_answering(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    held = Held(w.store, "audit")

    async def go():
        op = asyncio.ensure_future(w.runner.lock_scope(ACCOUNT, "halted", "drill", None))
        await held.wait_entered()  # the audit row is being written, on the store thread
        beats = 0
        for _ in range(5):  # the loop runs meanwhile
            await asyncio.sleep(0.01)
            beats += 1
        status = w.runner.status()  # and reads answer
        pending = not op.done()
        held.release()
        return await op, status, beats, pending

    result, status, beats, pending = run(go())
    assert held.released_in_time, "the loop could not run while the audit row was being written"
    assert beats == 5 and pending and status.leader
    assert result.done, result
    assert read_lock_file(w.runner.lock_path).for_scope(ACCOUNT, w.clock()).mode == "halted"


def test_a_tick_whose_state_save_is_held_leaves_the_loop_running(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    held = Held(w.store, "save_engine_state")

    async def go():
        w.clock.advance(5_000)
        tick = asyncio.ensure_future(w.runner.tick())
        await held.wait_entered()
        lock_doc = w.runner.lock_document()  # the gate and the lock answer while the save waits
        pending = not tick.done()
        held.release()
        return await tick, lock_doc, pending

    report, lock_doc, pending = run(go())
    assert held.released_in_time, "the loop could not run while the tick's state was being saved"
    assert pending and report.leader and not report.execution.deposed
    assert "scopes" in lock_doc


def test_store_calls_run_one_at_a_time_in_the_order_they_were_made():
    io = StoreIO("test")
    seen: list[int] = []
    inside = [0]
    most = [0]

    def call(i: int, pause: float) -> int:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(pause)
        seen.append(i)
        inside[0] -= 1
        return i

    async def go():
        # the first call is the slowest: a pool of several threads would finish it last
        return await asyncio.gather(*(io(call, i, 0.05 if i == 0 else 0.0) for i in range(20)))

    try:
        answers = asyncio.run(go())
    finally:
        io.close()
    assert answers == list(range(20)) and seen == list(range(20)) and most[0] == 1


def test_an_error_of_a_store_call_reaches_whoever_awaits_it():
    io = StoreIO("test")

    def fails() -> None:
        raise ValueError("refused")

    try:
        with pytest.raises(ValueError, match="refused"):
            asyncio.run(io(fails))
    finally:
        io.close()


TWO_PERSON = GUARD.replace("reset: manual,", "reset: manual, approvals: 2,")


def test_an_approval_whose_stage_moved_while_it_was_audited_is_void_and_applies_nothing(tmp_path):
    w = make(tmp_path, text=TWO_PERSON)
    start(w)
    run(w.runner.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent past a minute: the latched stage is entered
    key = f"bot-guard|{ACCOUNT}"
    assert w.runner.state.scopes[key].stage.level == 1
    held = Held(w.store, "audit")

    async def go():
        reset = asyncio.ensure_future(w.runner.reset("bot-guard", ACCOUNT, "alice", "looked"))
        await held.wait_entered()
        # what a tick does to the stage while the approval is being written: enter it again
        w.runner.state.scopes[key].stage.entries += 1
        held.release()
        return await reset

    answer = run(go())
    assert not answer.done and answer.reason.startswith("STAGE_CHANGED:"), answer
    stage = w.runner.state.scopes[key].stage
    assert stage.level == 1 and not stage.approvals, "a void approval must not count"
    assert audit_kinds(w)[-2:] == ["reset_approval", "reset_approval_void"]


def test_a_reset_whose_save_is_fenced_off_stays_undone_when_the_same_runner_leads_again(tmp_path):
    """The reset's approval row is stored, then the save of the released stage is fenced off (the
    lease lapsed under it): the operator is told nothing changed, and nothing may change later.
    When the same runner takes the lease back and nobody ticked meanwhile, it goes on from the
    store, where the stage is still entered, not from the release it applied in memory."""
    w = make(tmp_path)
    start(w)
    run(w.runner.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent past a minute: the latched stage is entered
    key = f"bot-guard|{ACCOUNT}"
    entered = w.runner.state.scopes[key].stage
    assert entered.level == 1
    real = w.store.save_engine_state

    def fenced_once(*a, **k):
        w.store.save_engine_state = real
        raise FencedError(w.runner.fence, w.runner.fence + 1)

    w.store.save_engine_state = fenced_once
    answer = run(w.runner.reset("bot-guard", ACCOUNT, "alice", "looked"))
    assert not answer.done and answer.reason.startswith("DEPOSED:"), answer
    w.store.release_lease("runner")  # the lease comes back to this runner under a new token
    [report] = ticks(w, 1)
    assert report.leader and not report.transitions, [t.transition.reason for t in report.transitions]
    stage = w.runner.state.scopes[key].stage
    assert (stage.level, stage.entries) == (entered.level, entered.entries)
    assert w.runner.lock_document(ACCOUNT)["locked"]
