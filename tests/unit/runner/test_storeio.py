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

from killswitch.runner.lock.file import read_lock_file
from killswitch.runner.storeio import StoreIO
from killswitch.runner.tick import persist
from killswitch.state.store import FencedError, StoreError
from tests.unit.runner.operator.rig import ACCOUNT, TWO_PERSON, audit_kinds, fired, make, run, start, ticks

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
        op = asyncio.ensure_future(w.desk.lock_scope(ACCOUNT, "halted", "drill", None))
        await held.wait_entered()  # the audit row is being written, on the store thread
        beats = 0
        for _ in range(5):  # the loop runs meanwhile
            await asyncio.sleep(0.01)
            beats += 1
        status = w.desk.status()  # and reads answer
        pending = not op.done()
        held.release()
        return await op, status, beats, pending

    result, status, beats, pending = run(go())
    assert held.released_in_time, "the loop could not run while the audit row was being written"
    assert beats == 5 and pending and status.leader
    assert result.done, result
    assert read_lock_file(w.lock).for_scope(ACCOUNT, w.clock()).mode == "halted"


def test_a_tick_whose_state_save_is_held_leaves_the_loop_running(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    held = Held(w.store, "save_engine_state")

    async def go():
        w.clock.advance(5_000)
        tick = asyncio.ensure_future(w.runner.tick())
        await held.wait_entered()
        lock_doc = w.desk.lock_document()  # the gate and the lock answer while the save waits
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


def test_calls_made_as_one_run_in_turn_and_the_first_that_raises_stops_the_rest():
    clock = [100.0]
    io = StoreIO("test", monotonic=lambda: clock[0])
    seen: list[str] = []
    threads: set[int] = set()

    def call(name: str, fails: bool = False):
        def run_it() -> None:
            threads.add(threading.get_ident())
            seen.append(name)
            if fails:
                raise StoreError(f"{name} refused")
        return run_it

    unanswered: list[float] = []

    async def go():
        await io.in_order(call("save"), call("audit"), call("lock"))
        with pytest.raises(StoreError, match="audit refused"):  # the driver's failure: no answer
            await io.in_order(call("save"), call("audit", fails=True), call("lock"))
        clock[0] += 7.0
        unanswered.append(io.unanswered_s())  # counted from the batch's start, as for one call
        await io.in_order()  # nothing to make: a call that makes nothing, and an answer
        unanswered.append(io.unanswered_s())

    try:
        asyncio.run(go())
    finally:
        io.close()
    assert seen == ["save", "audit", "lock", "save", "audit"], "a call after the one that raised was made"
    assert len(threads) == 1 and threading.get_ident() not in threads, "not on the store thread"
    assert unanswered == [7.0, 0.0], unanswered


class CallTap:
    """Which store-thread call (1, 2, ...) made each of the state save, the audit appends and
    the lock file writes, in the order they were made."""

    def __init__(self, w, monkeypatch):
        self.n = 0
        self.made: list[tuple[int, str]] = []
        io, real = w.parts.io, w.parts.io._timed

        def timed(fn, args, kwargs):
            self.n += 1
            return real(fn, args, kwargs)

        monkeypatch.setattr(io, "_timed", timed)
        for name in ("save_engine_state", "audit", "audit_many"):
            monkeypatch.setattr(w.store, name, self._spy(name, getattr(w.store, name)))
        monkeypatch.setattr(persist, "write_lock_file", self._spy("lock_file", persist.write_lock_file))

    def _spy(self, name, real):
        def spy(*args, **kwargs):
            self.made.append((self.n, name))
            return real(*args, **kwargs)
        return spy


def test_a_firing_tick_saves_audits_and_writes_the_lock_file_in_one_store_call(tmp_path, monkeypatch):
    """The tick's persist phase is one hop to the store thread: the state save, its audit rows
    (one append) and the lock file, in that order, as three awaited calls would make them."""
    w = make(tmp_path)
    start(w)
    assert run(w.desk.dms_arm("bot-a", 12)).done
    ticks(w, 2)  # 10 s of silence: not yet
    tap = CallTap(w, monkeypatch)
    [report] = ticks(w, 1)
    assert [e.labels["source"] for e in fired([report])] == ["bot-a"]
    writes = [(n, name) for n, name in tap.made if name != "audit"]  # (a cancel's own row: made apart)
    [(call, _)] = [x for x in writes if x[1] == "save_engine_state"]
    assert [name for n, name in writes if n == call] == ["save_engine_state", "audit_many", "lock_file"], tap.made
    assert audit_kinds(w).count("dms_fired") == 1
    assert read_lock_file(w.lock).for_scope("bot-a", w.clock()).mode == "halted"


def test_a_tick_whose_save_fails_audits_locks_and_tells_nothing_of_it_then_does_it_once(tmp_path, monkeypatch):
    """The rows and the lock file come after the save in the same call: a save that fails
    leaves no row, no lock file and no event of what it would have stored; the runner reads
    the store back and the next tick does it all, once."""
    w = make(tmp_path)
    start(w)
    assert run(w.desk.dms_arm("bot-a", 12)).done
    ticks(w, 2)
    real = w.store.save_engine_state

    def lost(*args, **kwargs):
        raise StoreError("connection lost")

    monkeypatch.setattr(w.store, "save_engine_state", lost)
    [failed] = ticks(w, 1)
    assert failed.store_error and fired([failed]) == []
    assert "dms_fired" not in audit_kinds(w)
    assert read_lock_file(w.lock).for_scope("bot-a", w.clock()).mode != "halted"
    monkeypatch.setattr(w.store, "save_engine_state", real)
    reports = ticks(w, 6)  # (silence counted again from the state read back: 12 s from it)
    assert [e.labels["source"] for e in fired(reports)] == ["bot-a"]
    assert audit_kinds(w).count("dms_fired") == 1
    assert read_lock_file(w.lock).for_scope("bot-a", w.clock()).mode == "halted"


def test_an_approval_whose_stage_moved_while_it_was_audited_is_void_and_applies_nothing(tmp_path):
    w = make(tmp_path, text=TWO_PERSON)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent past a minute: the latched stage is entered
    key = f"bot-guard|{ACCOUNT}"
    assert w.parts.book.state.scopes[key].stage.level == 1
    held = Held(w.store, "audit")

    async def go():
        reset = asyncio.ensure_future(w.desk.reset("bot-guard", ACCOUNT, "alice", "looked", confirm_relatch=True))
        await held.wait_entered()
        # what a tick does to the stage while the approval is being written: enter it again
        w.parts.book.state.scopes[key].stage.entries += 1
        held.release()
        return await reset

    answer = run(go())
    assert not answer.done and answer.reason.startswith("STAGE_CHANGED:"), answer
    stage = w.parts.book.state.scopes[key].stage
    assert stage.level == 1 and not stage.approvals, "a void approval must not count"
    assert audit_kinds(w)[-2:] == ["reset_approval", "reset_approval_void"]


def test_a_reset_whose_save_is_fenced_off_stays_undone_when_the_same_runner_leads_again(tmp_path):
    """The reset's approval row is stored, then the save of the released stage is fenced off (the
    lease lapsed under it): the operator is told nothing changed, and nothing may change later.
    When the same runner takes the lease back and nobody ticked meanwhile, it goes on from the
    store, where the stage is still entered, not from the release it applied in memory."""
    w = make(tmp_path)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent past a minute: the latched stage is entered
    key = f"bot-guard|{ACCOUNT}"
    entered = w.parts.book.state.scopes[key].stage
    assert entered.level == 1
    real = w.store.save_engine_state

    def fenced_once(*a, **k):
        w.store.save_engine_state = real
        raise FencedError(w.parts.lead.fence, w.parts.lead.fence + 1)

    w.store.save_engine_state = fenced_once
    answer = run(w.desk.reset("bot-guard", ACCOUNT, "alice", "looked", confirm_relatch=True))
    assert not answer.done and answer.reason.startswith("DEPOSED:"), answer
    w.store.release_lease("runner")  # the lease comes back to this runner under a new token
    [report] = ticks(w, 1)
    assert report.leader and not report.transitions, [t.transition.reason for t in report.transitions]
    stage = w.parts.book.state.scopes[key].stage
    assert (stage.level, stage.entries) == (entered.level, entered.entries)
    assert w.desk.lock_document(ACCOUNT)["locked"]


def test_sync_code_waits_for_a_store_call_a_bounded_time_and_not_at_all_while_one_is_unanswered():
    """A sink on the loop reads through :meth:`StoreIO.wait`: in order with the calls before it,
    answered as they are; a call with no answer within the bound fails the caller (the call
    still runs when the store answers) and, while it has none, every later wait fails at once
    without queueing behind it; answered, waits go through again."""
    io = StoreIO("test-wait")
    gate = threading.Event()
    done: list[str] = []
    try:
        io.submit(done.append, "before")
        assert io.wait(lambda: list(done)) == ["before"]  # after what was queued before it
        with pytest.raises(StoreError, match="did not answer within"):
            io.wait(lambda: gate.wait(HOLD_S) and done.append("held"), timeout_s=0.05)
        began = time.monotonic()
        with pytest.raises(StoreError, match="not waited for on the runner's loop"):
            io.wait(done.append, "never")  # not queued behind the held call
        assert time.monotonic() - began < HOLD_S / 2
        gate.set()
        io.submit(lambda: None).result(HOLD_S)  # the held call answered (queued behind it)
        assert io.wait(lambda: list(done)) == ["before", "held"]
        assert io.wait(lambda: io.wait(lambda: "on the store thread")) == "on the store thread"  # no deadlock
    finally:
        gate.set()
        io.close()
    assert "never" not in done
