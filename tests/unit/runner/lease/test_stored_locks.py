"""An operator's halt is never refused by a runner that stood itself down with no rival.

Runner ``a`` holds the lease through a :class:`LeaseKeeper` driven by the test on fake clocks;
its term runs out unrenewed (its loop held past the term: the keeper is simply not asked to
renew), and nobody else holds the lease. A tightening lock sent then is applied once its own
lease is back within a renewal period, or stored (``LOCK_STORED``) and applied by whoever leads
next before its first tick decides anything — exactly once, whatever point a crash cuts it at.
Another runner holding the lease still means ``NOT_LEADER`` naming it; a typo'd scope is still
refused before anything is stored; unlocks are still refused.
"""

from __future__ import annotations

import asyncio
from typing import Optional

import pytest

from killswitch.client import LockDocument
from killswitch.render.status import status_text
from killswitch.runbooks.operator_actions import operator_actions
from killswitch.runner.lease.keeper import LeaseKeeper
from killswitch.runner.lease.stored import look_for_stored
from killswitch.runner.lock.lock import OPERATOR
from killswitch.state import StoreError, open_store
from killswitch.view import decode
from tests.unit.runner.operator import rig as runner_operator
from tests.unit.runner.operator.rig import ACCOUNT, make, run, start, ticks

from .test_lapse import Mono

TTL_MS = 3_000  # a term of 2 s, renewed every 1 s: a runner that does not lead waits at most 1 s
# A case whose lock is to be stored, with nothing to take the lease back meanwhile, waits that
# second out on the wall clock for nothing: it waits this long instead (the wait the runner's
# StoredLocks is built with, ``wait_ms``). The cases that race the wait (the lease back within it,
# a burst stored after one wait) keep the renewal period.
STORE_WAIT_MS = 100


@pytest.fixture(autouse=True, params=["sqlite", "postgres"])
def backend(request, monkeypatch):
    """Every case on SQLite and on PostgreSQL: the runners a test makes share one store of the backend."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
        monkeypatch.setattr(runner_operator, "open_store", lambda _url, **kw: open_store(url, **kw))
    return request.param


def _rows(w, kind: str) -> list[dict]:
    return [r.payload for r in w.store.audit_rows(kinds=[kind])]


def _operator_holds(w, scope: str = ACCOUNT) -> list:
    return [h for h in w.parts.book.lock_book.in_force(w.clock()) if h.scope == scope and h.policy == OPERATOR]


def step(w, n: int = 1, ms: int = 100) -> list:
    """``n`` ticks ``ms`` apart (well within a keeper's term), bot-x beating."""
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(ms)
            await w.desk.heartbeat("bot-x")
            out.append(await w.runner.tick())
        return out
    return run(go())


def lapsed_leader(tmp_path, holder: str = "a", wait_ms: Optional[int] = None, **kw):
    """``holder`` led under token 1 with a keeper; its term has run out unrenewed, nobody took the
    lease. ``wait_ms``: how long its locks wait for the lease before they are stored (None: one
    renewal period of the keeper, as in production)."""
    mono = Mono()
    w = make(tmp_path, holder=holder, lease_ttl_ms=TTL_MS, **kw)
    w.parts.stored._wait_ms = wait_ms
    keeper = LeaseKeeper.for_store(w.store, holder, TTL_MS, clock=w.clock, monotonic=mono)
    w.runner.hold_lease_with(keeper)
    keeper.attempt()
    start(w)
    step(w)
    assert w.parts.lead.term_holds()
    w.clock.advance(2_001)
    mono.advance(2_001)
    assert keeper.check_term()  # the term watch ends it: the runner stood itself down
    assert not w.parts.lead.term_holds()
    return w, keeper, mono


def test_a_lock_sent_as_the_own_lease_comes_back_is_applied_as_a_leader_applies_it(tmp_path):
    w, keeper, mono = lapsed_leader(tmp_path)

    async def go():
        async def retake():  # the keeper takes again a lease nobody took, within a retry
            await asyncio.sleep(0.1)
            keeper.alive()
            await asyncio.to_thread(keeper.attempt)

        back = asyncio.ensure_future(retake())
        answer = await w.desk.lock_scope(ACCOUNT, "halted", "desk says stop", actor="alice")
        await back
        return answer

    answer = run(go())
    assert answer.done and answer.stored is None, answer
    assert answer.reason.startswith(f"LOCKED: scope={ACCOUNT} mode=halted"), answer.reason
    assert w.parts.lead.term_holds() and w.parts.lead.fence == 2
    assert len(_operator_holds(w)) == 1
    assert [r["by"] for r in _rows(w, "manual_lock")] == ["alice"]
    assert w.store.stored_locks(waiting=False) == []  # nothing stored


def test_a_lock_sent_while_no_runner_leads_is_stored_then_applied_once_by_the_same_runner(tmp_path):
    w, keeper, mono = lapsed_leader(tmp_path, wait_ms=STORE_WAIT_MS)
    answer = run(w.desk.lock_scope(ACCOUNT, "halted", "desk says stop", 600.0, actor="alice"))
    assert not answer.done and answer.stored is not None
    rid = answer.stored
    said = answer.reason
    assert said.startswith(f"LOCK_STORED: {ACCOUNT} halted stored at 2026-03-02T13:00:02.101Z; "), said
    assert answer.reason.endswith(f"no runner leads right now; the leader applies it the moment it acts "
                                  f"(request {rid})"), answer.reason
    assert _operator_holds(w) == [] and _rows(w, "manual_lock") == []
    stored_row = _rows(w, "lock_stored")
    assert [(r["request"], r["scope"], r["mode"], r["by"], r["stored_by"], r["standby"]) for r in stored_row] == \
        [(rid, ACCOUNT, "halted", "alice", "a", True)]
    # while it waits, status says so
    waiting = w.desk.status().locks_stored
    assert [(s["request"], s["scope"], s["mode"], s["by"]) for s in waiting] == [(rid, ACCOUNT, "halted", "alice")]
    assert "killswitch_locks_stored_waiting 1.0" in w.desk.metrics_text()
    text = status_text(w.desk.status(), decode(LockDocument, w.desk.lock_document(None)))
    assert f"LOCK STORED {ACCOUNT} halted by alice at 2026-03-02T13:00:02" in text, text
    assert f"(request {rid}): not in force until a runner leads" in text, text

    # its own lease comes back (a new token): the first tick under it applies the lock first
    keeper.alive()
    keeper.attempt()
    report = step(w)[0]
    assert report.leader and report.fence == 2
    holds = _operator_holds(w)
    assert len(holds) == 1 and holds[0].mode == "halted" and holds[0].details["by"] == "alice"
    applied = _rows(w, "manual_lock")
    assert [(r["request"], r["by"], r["stored_at"], r["stored_by"]) for r in applied] == \
        [(rid, "alice", "2026-03-02T13:00:02.101Z", "a")]
    [row] = w.store.stored_locks(waiting=False)
    assert row.applied_fence == 2 and row.result.startswith(f"LOCKED: scope={ACCOUNT} mode=halted"), row
    # the closure report's operator actions: alice's lock, saying it was stored while no runner led
    [action] = [a for a in operator_actions(w.store.audit_rows(), w.clock() + 1, lambda seq: True, {}, {})
                if a["action"] == "lock"]
    assert action["by"] == "alice" and action["reason"].endswith(
        f"(stored at 2026-03-02T13:00:02.101Z while no runner led, request {rid})"), action
    assert w.desk.status().locks_stored == ()
    assert "killswitch_locks_stored_waiting 0.0" in w.desk.metrics_text()
    # applied once: more ticks and more looks apply nothing again
    step(w, 2)
    assert run(w.parts.commands.take_up_stored()) == 0
    assert len(_rows(w, "manual_lock")) == 1 and len(_operator_holds(w)) == 1


def test_a_standby_while_another_runner_leads_still_answers_not_leader_naming_it(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    ticks(a, 1, beat=("bot-x",))
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    start(b)
    answer = run(b.desk.lock_scope(ACCOUNT, "halted", "desk says stop", actor="alice"))
    assert not answer.done and answer.stored is None
    assert answer.reason == ("NOT_LEADER: this runner (b) is a standby; the leader is a (the lease holder); "
                             "send the lock there"), answer.reason
    assert b.store.stored_locks(waiting=False) == []


def test_a_typo_scope_is_refused_before_anything_is_stored(tmp_path):
    w, keeper, mono = lapsed_leader(tmp_path)
    answer = run(w.desk.lock_scope("simulated/sim-mian", "halted", "desk says stop", actor="alice"))
    assert not answer.done and answer.stored is None
    assert answer.reason.startswith("UNKNOWN_SCOPE"), answer.reason
    assert "simulated/sim-main" in answer.reason  # the close match
    assert w.store.stored_locks(waiting=False) == [] and _rows(w, "lock_stored") == []


@pytest.mark.parametrize("call", ["unlock", "dms_arm", "reset"])
def test_unlock_dms_and_reset_are_still_refused_not_leader_with_no_runner_leading(tmp_path, call):
    w, keeper, mono = lapsed_leader(tmp_path)
    answer = run({"unlock": lambda: w.desk.unlock_scope(ACCOUNT, "all clear", actor="alice"),
                  "dms_arm": lambda: w.desk.dms_arm("bot-y", 60.0, actor="alice"),
                  "reset": lambda: w.desk.reset("bot-guard", ACCOUNT, "alice", "checked")}[call]())
    assert not answer.done and answer.reason.startswith("NOT_LEADER"), answer.reason
    assert w.store.stored_locks(waiting=False) == []


def test_a_lock_stored_as_another_runner_took_the_lease_is_taken_up_at_the_leaders_next_look(tmp_path):
    """The race: b takes the lease and runs its first tick; a, which did not know, stores a lock
    just after. b's look (every second, off the tick) finds it and applies it."""
    w, keeper, mono = lapsed_leader(tmp_path)
    b = make(tmp_path, engine=w.engine, clock=w.clock, holder="b", lease_ttl_ms=TTL_MS)
    start(b)  # b takes the free lease (token 2) and settles; its first tick takes nothing up
    ticks(b, 1, beat=("bot-x",))
    assert b.parts.lead.term_holds()
    rid = run(w.parts.stored.keep({"scope": ACCOUNT, "mode": "reducing", "ttl_s": None, "reason": "late",
                                   "by": "bob"})).request_id

    async def one_look():
        task = asyncio.ensure_future(look_for_stored(b.parts.stored, b.parts.commands.take_up_stored, 0.01))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not b.store.stored_locks():
                break
        task.cancel()

    run(one_look())
    holds = _operator_holds(b)
    assert len(holds) == 1 and holds[0].mode == "reducing"
    assert [r["request"] for r in _rows(b, "manual_lock")] == [rid]
    [row] = b.store.stored_locks(waiting=False)
    assert row.applied_fence == b.parts.lead.fence


class Crash(BaseException):
    """The process dies here (not an Exception: nothing catches it on the way out)."""


def _stored_then_dead(tmp_path):
    """a stores a lock while nobody leads, and dies. Returns it and the request id."""
    w, keeper, mono = lapsed_leader(tmp_path, wait_ms=STORE_WAIT_MS)
    answer = run(w.desk.lock_scope(ACCOUNT, "halted", "desk says stop", actor="alice"))
    assert answer.stored is not None
    return w, answer.stored


def _next_leader(tmp_path, w, holder: str = "b"):
    w.clock.advance(5_000)  # whatever a held has run out
    b = make(tmp_path, engine=w.engine, clock=w.clock, holder=holder)
    start(b)
    return b


def test_a_lock_stored_by_a_runner_that_then_died_is_applied_by_the_next_leader(tmp_path):
    w, rid = _stored_then_dead(tmp_path)
    b = _next_leader(tmp_path, w)
    report = ticks(b, 1, beat=("bot-x",))[0]
    assert report.leader
    assert len(_operator_holds(b)) == 1
    assert [r["request"] for r in _rows(b, "manual_lock")] == [rid]
    assert b.store.stored_locks() == []


def test_a_leader_dying_after_applying_before_marking_is_not_applied_twice(tmp_path):
    w, rid = _stored_then_dead(tmp_path)
    b = _next_leader(tmp_path, w)
    real = b.store.stored_lock_taken

    def dies(*args, **kwargs):
        raise Crash()

    b.store.stored_lock_taken = dies
    with pytest.raises(Crash):
        ticks(b, 1, beat=("bot-x",))
    b.store.stored_lock_taken = real
    assert [r["request"] for r in _rows(b, "manual_lock")] == [rid]
    assert [s.request_id for s in b.store.stored_locks()] == [rid]  # saved with the lock, not marked
    c = _next_leader(tmp_path, b, holder="c")
    assert c.parts.book.stored_applied == (rid,)
    assert len(_operator_holds(c)) == 1  # the lock, as saved
    ticks(c, 1, beat=("bot-x",))
    assert [r["request"] for r in _rows(c, "manual_lock")] == [rid], "applied twice"
    [row] = c.store.stored_locks(waiting=False)
    assert row.applied_ms is not None and "applied before" in row.result, row
    assert len(_operator_holds(c)) == 1
    ticks(c, 1, beat=("bot-x",))
    assert c.parts.book.stored_applied == ()  # let go once marked
    assert c.store.load_engine_state().get("stored_applied") is None


def test_a_leader_dying_between_the_audit_row_and_the_save_applies_it_once_after(tmp_path):
    w, rid = _stored_then_dead(tmp_path)
    b = _next_leader(tmp_path, w)
    real = b.store.save_engine_state

    def dies(*args, **kwargs):
        raise Crash()

    b.store.save_engine_state = dies
    with pytest.raises(Crash):
        ticks(b, 1, beat=("bot-x",))
    b.store.save_engine_state = real
    assert [r["request"] for r in _rows(b, "manual_lock")] == [rid]  # audited, not saved
    c = _next_leader(tmp_path, b, holder="c")
    assert _operator_holds(c) == []
    ticks(c, 1, beat=("bot-x",))
    assert len(_operator_holds(c)) == 1
    assert [r["request"] for r in _rows(c, "manual_lock")] == [rid], "a second manual_lock row"
    assert c.store.stored_locks() == []


def test_a_stored_lock_whose_scope_is_gone_is_marked_refused_not_retried_for_ever(tmp_path):
    w, keeper, mono = lapsed_leader(tmp_path)
    rid = run(w.parts.stored.keep({"scope": "simulated/gone", "mode": "halted", "ttl_s": None, "reason": "x",
                                   "by": "bob"})).request_id
    keeper.alive()
    keeper.attempt()
    step(w)
    [row] = w.store.stored_locks(waiting=False)
    assert row.request_id == rid and row.result.startswith("UNKNOWN_SCOPE"), row
    assert [r["refused"].split(":")[0] for r in _rows(w, "manual_lock")] == ["UNKNOWN_SCOPE"]


def test_a_lock_sent_after_the_keeper_took_its_lease_again_unseen_is_applied_under_the_new_token(tmp_path):
    """The issue's 409 DEPOSED with no other runner: the keeper took the lease again under a new
    token that the runner's loop had not taken up yet. The lock is applied under the new one."""
    w, keeper, mono = lapsed_leader(tmp_path)
    keeper.alive()
    keeper.attempt()  # token 2, not taken up by the loop yet
    answer = run(w.desk.lock_scope(ACCOUNT, "reducing", "desk says reduce", actor="alice"))
    assert answer.done and answer.reason.startswith(f"LOCKED: scope={ACCOUNT} mode=reducing"), answer
    assert w.parts.lead.fence == 2
    assert [r["by"] for r in _rows(w, "manual_lock")] == ["alice"]


def test_a_look_the_store_does_not_answer_is_skipped_and_the_next_takes_the_lock_up(tmp_path):
    w, keeper, mono = lapsed_leader(tmp_path)
    rid = run(w.parts.stored.keep({"scope": ACCOUNT, "mode": "halted", "ttl_s": None, "reason": "x",
                                   "by": "bob"})).request_id
    keeper.alive()
    keeper.attempt()
    run(w.parts.lead.lease(w.clock()))  # token 2 taken up between ticks, before any tick under it
    real, failed = w.store.stored_locks, []

    def unreachable(*args, **kwargs):
        if not failed:
            failed.append(1)
            raise StoreError("state: OperationalError: the server closed the connection")
        return real(*args, **kwargs)

    w.store.stored_locks = unreachable

    async def looks():
        task = asyncio.ensure_future(look_for_stored(w.parts.stored, w.parts.commands.take_up_stored, 0.01))
        for _ in range(300):
            await asyncio.sleep(0.01)
            if task.done() or not real():
                break
        done = task.done()
        task.cancel()
        return done

    assert run(looks()) is False, "the look task ended on a store error"
    assert failed and [r["request"] for r in _rows(w, "manual_lock")] == [rid]


def test_a_burst_of_locks_while_no_runner_leads_waits_once_not_once_each(tmp_path):
    import time

    w, keeper, mono = lapsed_leader(tmp_path)

    async def burst():
        began = time.monotonic()
        answers = [await w.desk.lock_scope(ACCOUNT, "halted", f"stop {i}", actor="alice") for i in range(5)]
        return answers, time.monotonic() - began

    answers, took = run(burst())
    assert all(a.stored is not None for a in answers), answers
    wait_s = w.parts.stored.wait_ms() / 1000
    assert wait_s <= took < 2 * wait_s, f"5 locks took {took:.2f}s for a wait of {wait_s:.2f}s"
    assert len(w.store.stored_locks()) == 5
