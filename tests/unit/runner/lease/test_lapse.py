"""A leader whose lease is not renewed within its term says so at the term's end, by its own clock.

The store stops answering the leader (its lease thread's renewal and its runner's store calls
hang, as when the connections are black-holed): the standby takes the lease as the term runs
out, and from that moment the old leader reports not-leader in status, 0 in ``killswitch_leader``
and 503 on ``/readyz`` at once, without waiting on the store or on the tick stuck behind it; it
counts the loss in ``killswitch_lease_lost_total`` and says it once in its log, as the standby
says its takeover once. Fake clocks (wall and monotonic) and SQLite stores whose calls the test
holds; the same with PostgreSQL and a proxy that drops packets is
``tests/integration/test_lease_cutoff.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from killswitch.metrics import Registry
from killswitch.runner.lease.keeper import LeaseKeeper
from killswitch.runner.lease.log import LeaseLog
from killswitch.state import StoreError, open_store
from killswitch.state.postgres import call_timeout_s
from tests.procs import until
from tests.unit.runner.operator.rig import make, run, start

TTL_MS = 3_000  # a term of 2 s, renewed every 1 s


class Mono:
    """A monotonic clock that moves when told."""

    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def advance(self, ms: int) -> None:
        self.t += ms / 1000


class Hang:
    """Makes ``store.<name>`` hang until :meth:`answer` (a connection whose packets are dropped)."""

    def __init__(self, store, name: str):
        self.store, self.name, self.real = store, name, getattr(store, name)
        self.entered, self.gate = threading.Event(), threading.Event()
        setattr(store, name, self)

    def __call__(self, *args, **kwargs):
        self.entered.set()
        assert self.gate.wait(30), "never answered"
        return self.real(*args, **kwargs)

    def answer(self) -> None:
        setattr(self.store, self.name, self.real)
        self.gate.set()


def lines(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "killswitch.runner.lease" and text in r.getMessage()]


def metric(desk, name: str) -> str:
    return next(line for line in desk.metrics_text().splitlines() if line.startswith(name + " "))


def leader_with_keeper(tmp_path, mono):
    w = make(tmp_path, holder="a")
    keeper = LeaseKeeper.for_store(w.store, "a", TTL_MS, clock=w.clock, monotonic=mono)
    w.runner.hold_lease_with(keeper)
    keeper.attempt()  # token 1, for a term of 2 s of both clocks (no thread: the test drives it)
    start(w)
    run(w.runner.tick())
    return w, keeper


def test_a_leader_cut_off_from_its_store_says_not_leader_and_503_at_its_terms_end(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    mono = Mono()
    w, keeper = leader_with_keeper(tmp_path, mono)
    runner, desk, parts = w.runner, w.desk, w.parts
    assert desk.status().leader and run(desk.ready()) == (True, "LEADER")
    assert metric(desk, "killswitch_leader") == "killswitch_leader 1.0"
    assert lines(caplog, "lease acquired, token 1 (holder a") != []
    standby_store = open_store(f"sqlite://{w.db}")
    b = LeaseKeeper.for_store(standby_store, "b", TTL_MS, clock=w.clock, monotonic=mono)
    assert b.attempt() and b.token(w.clock()) is None  # stands by: a's term runs

    # The store stops answering a: its runner's store thread is stuck in a call, and so is the
    # renewal its lease thread sends a third of the TTL later.
    stuck, renewal = threading.Event(), Hang(keeper.store, "acquire_lease")
    parts.io.submit(stuck.wait, 30)
    w.clock.advance(1_000)
    mono.advance(1_000)
    keeper.alive()  # (its loop runs: show_life's stamp)
    renewing = threading.Thread(target=keeper.attempt)
    renewing.start()
    assert renewal.entered.wait(10)

    queued, submit = threading.Event(), parts.io.submit

    def watched(*args, **kwargs):
        queued.set()
        return submit(*args, **kwargs)

    parts.io.submit = watched  # type: ignore[method-assign]

    async def cut_off():
        tick = asyncio.ensure_future(runner.tick())  # gets stuck behind the store thread, holding the turn
        await until(queued.is_set, "the tick's store call queued behind the stuck one", 60)
        assert not tick.done()
        assert desk.status().leader, "the term still runs"
        w.clock.advance(1_001)  # the term ends: 2 s after the renewal that granted it was sent
        mono.advance(1_001)
        assert keeper.check_term()  # the term watch wakes, and ends it
        assert not keeper.check_term()  # once
        # what a reads and answers, at once, with the tick still stuck and the store silent
        ready = await asyncio.wait_for(desk.ready(), 1)
        said = (desk.status().leader, ready, metric(desk, "killswitch_leader"),
                metric(desk, "killswitch_lease_lost_total"), parts.lead.term_holds(),
                await asyncio.wait_for(parts.lead.fence_holds(), 1),  # the check before every order
                parts.lead.not_leader("lock"))  # an operator's change, refused at once
        # the standby takes the lease as the term runs out, and says so once
        b.alive()
        taken = b.attempt() and b.token(w.clock())
        b.attempt()  # renews: nothing more to say
        stuck.set()  # the store answers the runner again (its call ends)
        renewal.answer()  # and the renewal in flight comes back: the lease is b's
        renewing.join(10)
        await asyncio.wait_for(tick, 10)  # the stuck tick ends once its store call does
        return said, taken

    said, taken = run(cut_off())
    leader, (ready, why), gauge, lost, term_holds, may_send, refusal = said
    assert leader is False and gauge == "killswitch_leader 0.0" and not term_holds
    assert may_send is False, "an order could leave"
    assert refusal == ("NOT_LEADER: this runner (a) did not renew its lease within its term (the state store has "
                       "not answered it) and acts on nothing; send the lock to the leader"), refusal
    assert ready is False and why.startswith("LEASE_LOST: not renewed within its term (holder a, token 1"), why
    assert lost == "killswitch_lease_lost_total 1.0"
    assert taken == 2
    gone = lines(caplog, "lease lost")
    assert len(gone) == 1 and "not renewed within its term" in gone[0] and "holder a, token 1" in gone[0], gone
    assert "has had no answer from the state store" in gone[0], gone
    took = lines(caplog, "lease taken over")
    assert took == [took[0]] and took[0].startswith("lease taken over from a, token 2 (holder b"), took
    # a is a standby now, and says nothing more of the change it already said
    for _ in range(2):
        run(runner.tick())
    assert not parts.lead.leader and run(desk.ready()) == (True, "STANDBY")
    assert len(lines(caplog, "lease lost")) == 1 and metric(desk, "killswitch_lease_lost_total").endswith(" 1.0")
    assert parts.lead.lease_log.acquired_total == 1 and b.lease_log.acquired_total == 1
    keeper.stop()
    b.stop()
    standby_store.close()


def test_a_renewal_confirmed_after_the_term_was_given_up_leads_again_and_says_so(tmp_path, caplog):
    """The renewal got through (nobody could take the lease meanwhile) but its answer came after
    the term it renewed had been given up: the lease is held again, said once; the loss was real
    for what a reported and sent meanwhile, so it stays counted."""
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    mono = Mono()
    w, keeper = leader_with_keeper(tmp_path, mono)
    w.clock.advance(1_000)
    mono.advance(1_000)
    keeper.alive()
    renewal = Hang(keeper.store, "acquire_lease")
    renewing = threading.Thread(target=keeper.attempt)  # sent now: its term would run to +3 s
    renewing.start()
    assert renewal.entered.wait(10)
    w.clock.advance(1_001)
    mono.advance(1_001)
    assert keeper.check_term() and not w.desk.status().leader
    w.clock.advance(500)
    mono.advance(500)
    renewal.answer()
    renewing.join(10)
    assert keeper.token(w.clock()) == 1
    run(w.runner.tick())
    assert w.desk.status().leader and run(w.desk.ready()) == (True, "LEADER")
    again = lines(caplog, "lease held again")
    assert len(again) == 1 and "holder a, token 1" in again[0], again
    assert len(lines(caplog, "lease lost")) == 1
    log_ = w.parts.lead.lease_log
    assert (log_.acquired_total, log_.lost_total) == (1, 1)
    keeper.stop()


def test_a_clean_stop_says_the_lease_released_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    w, keeper = leader_with_keeper(tmp_path, Mono())
    assert keeper.stop(release=True)
    said = lines(caplog, "lease ")
    assert [x.split(" (")[0] for x in said] == ["lease acquired, token 1", "lease released"], said
    assert "holder a, token 1" in said[1]
    assert w.parts.lead.lease_log.lost_total == 0


def test_a_clean_stop_gives_the_row_up_even_where_its_own_term_ran_out_first(tmp_path, caplog):
    """A runner whose term ran out by its own clocks (its watchdog stopped renewing, a renewal
    not confirmed in time) still names itself the holder in the store until the row's expiry: its
    clean stop gives that row up, so that a standby takes over at once; another's is left alone."""
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    mono = Mono()
    w, keeper = leader_with_keeper(tmp_path, mono)
    w.clock.advance(2_100)  # past its own term (2 s), within the row's 3 s
    mono.advance(2_100)
    assert keeper.token(w.clock()) is None and w.store.lease().holder == "a"
    assert keeper.stop(release=True)
    assert w.store.lease().holder is None
    assert [x.split(" (")[0] for x in lines(caplog, "lease released")] == ["lease released"]
    # another's lease: not given up by a stop of a runner that does not hold it
    (tmp_path / "b").mkdir()
    other = make(tmp_path / "b", holder="b")
    assert other.store.acquire_lease("b", TTL_MS, now_ms=other.clock()) is not None
    stranger = LeaseKeeper.for_store(other.store, "a", TTL_MS, clock=other.clock, monotonic=Mono())
    assert not stranger.stop(release=True)
    assert other.store.lease().holder == "b"


@pytest.mark.parametrize("ttl_ms", [300, 900, 3_000, 5_000, 60_000])
def test_the_lease_threads_calls_end_inside_the_term(ttl_ms):
    """Each call of the lease thread's connection has a deadline (its lock wait and as long
    again, see killswitch.state.postgres) shorter than the term: a renewal into a silent store
    ends in time for the next attempt, and a hung socket holds the thread for less than a term."""
    keeper = LeaseKeeper(object(), "a", ttl_ms)  # type: ignore[arg-type]
    assert call_timeout_s(keeper.lock_wait_ms) < keeper.term_ms / 1000


def test_the_tick_taken_lease_says_who_it_was_taken_over_from(tmp_path, caplog):
    """Without a lease thread (the demo, tests) the tick takes the lease: the standby that takes
    it over says from whom, and the deposed leader says it lost it at its next tick."""
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    a = make(tmp_path, holder="a")
    b = make(tmp_path, holder="b", engine=a.engine, clock=a.clock)  # the same store
    start(a)
    start(b)
    assert a.parts.lead.leader and not b.parts.lead.leader and b.parts.lead.lease_holder == "a"
    a.clock.advance(a.parts.lead.lease_ttl_ms + 1)  # a ticks no more: its lease runs out
    run(b.runner.tick())
    run(a.runner.tick())
    assert b.parts.lead.leader and not a.parts.lead.leader
    assert lines(caplog, "lease taken over from a, token 2 (holder b") != []
    gone = lines(caplog, "lease lost")
    assert len(gone) == 1 and gone[0].startswith("lease lost: taken by b (holder a, token 1)"), gone


def test_the_lease_log_says_each_change_once_and_exports_its_counters_from_zero():
    said = LeaseLog("a")
    reg = Registry()
    said.collect_metrics(reg)
    text = reg.render()
    for family in ("killswitch_lease_acquired_total 0.0", "killswitch_lease_lost_total 0.0",
                   "killswitch_lease_fence 0.0"):
        assert family in text.splitlines()
    assert said.took(3, previous="b", ended_ms_ago=120) and not said.took(3)
    assert not said.lost(2, "not ours") and said.lost(3, "gone") and not said.lost(3, "gone again")
    assert said.took(3) and said.acquired_total == 1, "the same token again is no new acquisition"
    said.released(3)
    said.released(3)
    assert (said.acquired_total, said.lost_total, said.released_total, said.fence) == (1, 1, 1, 3)


class Wall:
    """Wall-clock milliseconds that move when told (the store compares them)."""

    def __init__(self):
        self.ms = 1_800_000_000_000

    def __call__(self) -> int:
        return self.ms


def test_a_late_takeover_says_what_kept_the_standby_from_it(tmp_path, caplog):
    """The standby takes a lapsed lease at its next look; when its looks were skipped (its own
    loop or store calls silent) or failed, the takeover line says so, counted from the last time
    it saw the leader's lease in force: the on-call reads why the book had no leader for longer
    than a term."""
    caplog.set_level(logging.INFO, logger="killswitch.runner.lease")
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    wall, mono = Wall(), Mono()
    a = LeaseKeeper(store, "a", TTL_MS, clock=wall, monotonic=mono)
    b = LeaseKeeper(store, "b", TTL_MS, clock=wall, monotonic=mono)

    def step(ms: int, *alive: LeaseKeeper) -> None:
        wall.ms += ms
        mono.advance(ms)
        for k in alive:
            k.alive()

    a.attempt()
    assert a.token(wall()) == 1
    step(500, a, b)
    b.attempt()  # sees a's lease in force
    assert b.token(wall()) is None and b.seen_holder(wall()) == "a"
    step(2_100)  # a's term runs out; b's loop is silent for it all
    assert b.attempt() == b.retry_ms and b.counts.stalls == 1  # silent for a term: no look
    step(100)
    b.attempt()
    real = store.lease
    store.lease = lambda: (_ for _ in ()).throw(StoreError("sqlite: database is locked"))
    step(100, b)
    b.attempt()  # a look that failed
    store.lease = real
    step(100, b)
    b.attempt()
    assert b.token(wall()) == 2
    took = lines(caplog, "lease taken over from a, token 2")
    assert len(took) == 1, took
    assert "2 attempt(s) skipped while this runner's loop or its store calls showed no life" in took[0], took
    assert "1 failed (last: StoreError)" in took[0], took
    # a takeover at the first look after the term says nothing more
    step(500, a)
    a.attempt()  # a sees b's lease in force
    step(2_100, a)
    a.attempt()
    assert a.token(wall()) == 3
    again = lines(caplog, "lease taken over from b, token 3")
    assert len(again) == 1 and "skipped" not in again[0] and "failed" not in again[0], again
    store.close()


@pytest.mark.parametrize("answer_ms, next_ms", [(0, 1_000), (300, 700), (800, 200), (999, 1)])
def test_a_slow_renewal_brings_the_next_forward_so_the_term_never_outruns_it(tmp_path, answer_ms, next_ms):
    """The next renewal goes a renewal period (1 s) after the last was *sent*: an answer that
    took 0.8 s of a 2 s term leaves 0.2 s to the next, never a whole period after the answer
    (which would come after the term had ended, and the lease lapse with no rival)."""
    mono = Mono()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    now = [1_000_000]
    keeper = LeaseKeeper(store, "a", TTL_MS, clock=lambda: now[0], monotonic=mono)
    real = store.acquire_lease

    def slow(*args):
        mono.advance(answer_ms)
        now[0] += answer_ms
        return real(*args)

    store.acquire_lease = slow  # type: ignore[method-assign]
    try:
        keeper.alive()
        assert keeper.attempt() == next_ms and keeper.token(now[0]) is not None  # the take
        keeper.alive()
        assert keeper.attempt() == next_ms and keeper.token(now[0]) is not None  # a renewal
    finally:
        store.close()
