"""A store that answers late, or not at all: the runner sends nothing past its term, and hands
the lease over instead of holding it while it cannot act.

- An answer that comes late (a paused PostgreSQL resumed, a lock released) may still carry
  this runner's token after its term ran out, when a standby is free to take the lease: the
  term is looked at again after every store call that precedes an order.
- The store thread says how long the store has left it without an answer, and the loop shows
  life to the lease thread only while that is under a term.

The clocks are manual; a store call is held on an event only the test (on the loop) releases.
"""

from __future__ import annotations

import asyncio
import json

from adapters.base import AdapterError, Reason
from killswitch.orders import OrderIntent
from killswitch.runner.lease.keeper import LeaseKeeper, show_life
from killswitch.runner.storeio import StoreIO
from killswitch.runner.venue.executor import Executor
from killswitch.runner.venue.port import Venues
from killswitch.state import open_store
from killswitch.state.store import FencedError, IntentRow, StoreError
from tests.procs import until
from tests.unit.runner.operator.rig import make, run, start
from tests.unit.runner.test_storeio import Held

# --- the term, looked at after the store answered ----------------------------------------------------


def test_no_order_leaves_when_the_term_ran_out_while_the_store_read_the_fence(tmp_path):
    """The check before every order reads the token from the store, then sends. A store that
    answers that read after the term ran out (it still says the token is ours: nobody could
    take the lease while it did not answer) must not let the order go."""
    w = make(tmp_path)
    keeper = LeaseKeeper.for_store(w.store, "runner", 3_000, clock=w.clock)
    keeper.attempt()  # the lease, for a term of 2 s of the manual clock (no thread: nothing renews it)
    w.runner.hold_lease_with(keeper)
    start(w)
    lead = w.parts.lead
    assert w.parts.lead.leader and run(lead.fence_holds())
    held = Held(w.store, "current_fence")

    async def go():
        check = asyncio.ensure_future(lead.fence_holds())
        await held.wait_entered()  # the store is slow to answer (a paused server)...
        w.clock.advance(keeper.term_ms + 1)  # ...past the end of the term
        held.release()
        return await check

    assert run(go()) is False, "the token read back after the term ran out let an order go"
    assert held.released_in_time
    keeper.stop()


class Venue:
    """A venue that knows no order (every lookup: not found) and records what it is sent."""

    capabilities = None

    def __init__(self):
        self.sent: list[str] = []

    async def fetch_order(self, symbol: str, client_order_id: str):
        raise AdapterError(Reason.ORDER_NOT_FOUND, f"no order {client_order_id}", venue="simulated")

    async def submit(self, intent: OrderIntent):
        self.sent.append(intent.client_order_id)
        raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "not in this test", venue="simulated")


def test_an_order_resent_after_its_audit_row_is_asked_about_again_after_that_write(tmp_path):
    """An intent the venue does not know, twice, is sent again, after an ``order_resent`` audit
    row: a write that may wait (a paused server) past the end of the term. The runner asks
    whether it may send after the row is written, and sends nothing when it may not."""
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    fence = store.acquire_lease("runner", 60_000, 0)
    intent = OrderIntent("d-1", "ks-resend-1", "simulated", "sim-main", "BTC/USDT:USDT", "sell", None, 0.1, True,
                         59_000.0, 6_000.0, 1, 1, 0, "close_all", "TEST")
    store.journal_intents(fence, [IntentRow(intent.client_order_id, "d-1", "simulated", "sim-main", intent.symbol,
                                            "sell", None, 0.1, True, json.dumps(vars(intent)))], ts_ms=0)
    events: list[str] = []
    answers = iter([True, False])  # yes before the audit row; its write outlasted the term

    async def still_leader() -> bool:
        ok = next(answers)
        events.append(f"asked: {ok}")
        return ok

    real_audit = store.audit

    def audit(*a, **k):
        events.append(f"audit {a[0]}")
        return real_audit(*a, **k)

    store.audit = audit
    now = [1_000]
    venue = Venue()
    io = StoreIO("test")
    ex = Executor(store, Venues({"simulated/sim-main": venue}), lambda: fence, dry_run=False, clock=lambda: now[0],
                  confirm_gap_ms=1_000, still_leader=still_leader, io=io)
    try:
        first = run(ex.reconcile())  # not found once: could be lag
        now[0] += 1_000
        second = run(ex.reconcile())  # not found again, a gap later: never arrived
    finally:
        io.close()
        store.close()
    assert not first.deposed and events[:2] == ["asked: True", "audit order_resent"], events
    assert events == ["asked: True", "audit order_resent", "asked: False"], events
    assert venue.sent == [] and second.deposed and second.sent == 0


# --- the store thread's silence, and the watchdog ---------------------------------------------------------


class Mono:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_store_thread_counts_the_time_since_the_store_last_answered():
    mono = Mono()
    io = StoreIO("test", monotonic=mono)

    def fails():
        mono.t += 2.0  # unanswered for 2 s, then the connection is found lost
        raise StoreError("postgresql://db: OperationalError: connection lost")

    def fenced():
        raise FencedError(1, 2)

    def answers():
        return 42

    async def go():
        out = [io.unanswered_s()]
        try:
            await io(fails)
        except StoreError:
            pass
        out.append(io.unanswered_s())
        mono.t += 3.0  # idle since: still no answer
        out.append(io.unanswered_s())
        try:
            await io(fenced)  # a refusal is an answer
        except FencedError:
            pass
        out.append(io.unanswered_s())
        try:
            await io(fails)
        except StoreError:
            pass
        out.append(io.unanswered_s())
        await io(answers)
        out.append(io.unanswered_s())
        return out

    try:
        assert asyncio.run(go()) == [0.0, 2.0, 5.0, 0.0, 2.0, 0.0]
    finally:
        io.close()


def test_a_loop_whose_store_has_not_answered_for_a_term_shows_no_life(tmp_path):
    """The loop runs, but its store thread is stuck in a call: after a term the loop stops
    showing life, so the keeper renews no more and the lease runs out for a standby to take;
    once the store answers, the loop shows life again."""
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    keeper = LeaseKeeper(store, "a", 300)  # a term of 200 ms
    io = StoreIO("test")
    held = Held(store, "current_fence")

    async def go():
        life = asyncio.create_task(show_life(keeper, io))
        try:
            await until(lambda: keeper.silent_ms() < keeper.term_ms, "the loop showing life", 60)
            fresh = keeper.silent_ms()
            call = asyncio.ensure_future(io(store.current_fence))
            await held.wait_entered()
            # the store silent for a term: the loop stops showing life (it would go on, were it wrong)
            await until(lambda: keeper.silent_ms() > keeper.term_ms, "the loop to stop showing life", 60)
            stuck = keeper.silent_ms()
            held.release()
            await call
            await until(lambda: keeper.silent_ms() < keeper.term_ms, "the loop to show life again", 60)
            return fresh, stuck, keeper.silent_ms()
        finally:
            life.cancel()

    try:
        fresh, stuck, back = asyncio.run(asyncio.wait_for(go(), 200))
    finally:
        io.close()
        store.close()
    assert fresh < keeper.term_ms, fresh
    assert stuck > keeper.term_ms, f"the loop went on showing life {stuck:.0f} ms into a store call that hung"
    assert back < keeper.term_ms, back


class LateVenue:
    """A venue whose first send of an order arrives late: not found twice, then the resend is
    refused (the first one filled meanwhile, so the reduce-only resend meets no position), and
    from then on the lookup finds the first one, filled — or, with ``arrives=False``, never."""

    capabilities = None

    def __init__(self, arrives: bool):
        self.arrives = arrives
        self.resent = False
        self.sent: list[str] = []

    async def fetch_order(self, symbol: str, client_order_id: str):
        from adapters.base import OrderResult

        if self.resent and self.arrives:
            return OrderResult(client_order_id, "1", "filled", 0.1, 0.1, 59_000.0)
        raise AdapterError(Reason.ORDER_NOT_FOUND, f"no order {client_order_id}", venue="simulated")

    async def submit(self, intent: OrderIntent):
        self.sent.append(intent.client_order_id)
        self.resent = True
        raise AdapterError(Reason.REDUCE_ONLY_REJECTED, "ReduceOnly Order is rejected.", venue="simulated")


def resend_refused(tmp_path, arrives: bool):
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    fence = store.acquire_lease("runner", 60_000, 0)
    intent = OrderIntent("d-1", "ks-late-1", "simulated", "sim-main", "BTC/USDT:USDT", "sell", None, 0.1, True,
                         59_000.0, 6_000.0, 1, 1, 0, "close_all", "TEST")
    store.journal_intents(fence, [IntentRow(intent.client_order_id, "d-1", "simulated", "sim-main", intent.symbol,
                                            "sell", None, 0.1, True, json.dumps(vars(intent)))], ts_ms=0)
    now = [1_000]
    venue = LateVenue(arrives)
    io = StoreIO("test")
    ex = Executor(store, Venues({"simulated/sim-main": venue}), lambda: fence, dry_run=False, clock=lambda: now[0],
                  confirm_gap_ms=1_000, still_leader=lambda: _yes(), io=io)
    try:
        for _ in range(6):  # not found, not found a gap later (resent, refused), then asked again
            run(ex.reconcile())
            now[0] += 1_000
        (entry,) = store.journal(limit=10)
        return venue.sent, entry, store.pending_intents()
    finally:
        io.close()
        store.close()


async def _yes() -> bool:
    return True


def test_a_refused_resend_leaves_the_order_to_the_venue_which_has_the_late_first_one_filled(tmp_path):
    sent, entry, pending = resend_refused(tmp_path, arrives=True)
    assert sent == ["ks-late-1"]  # resent once, never a third time
    assert (entry.status, entry.filled) == ("filled", 0.1) and pending == []  # the journal agrees with the venue


def test_a_refused_resend_of_an_order_the_venue_never_had_is_rejected_once_asked_again(tmp_path):
    sent, entry, pending = resend_refused(tmp_path, arrives=False)
    assert sent == ["ks-late-1"]
    assert (entry.status, entry.reason_code) == ("rejected", "REDUCE_ONLY_REJECTED") and pending == []


# --- the term, looked at once more as the order leaves the adapter ----------------------------------------


class SlowVenue:
    """A venue adapter whose send path waits before the request leaves (a stale position read
    again, the request pacer in debt): the wait outlasts the runner's term. It keeps the
    adapter's side of the send gate: :func:`adapters.base.last_look` just before sending."""

    capabilities = None

    def __init__(self, now: list[int], wait_ms: int):
        self.now = now
        self.wait_ms = wait_ms
        self.sent: list[str] = []
        self.waited: list[str] = []

    async def submit(self, intent: OrderIntent):
        from adapters.base import OrderResult, last_look

        self.waited.append(intent.client_order_id)
        await asyncio.sleep(0)
        self.now[0] += self.wait_ms  # the wait inside the adapter
        last_look("create_order", "simulated")
        self.sent.append(intent.client_order_id)
        return OrderResult(intent.client_order_id, "1", "filled", intent.amount, intent.amount, 59_000.0)


def test_an_order_that_waited_in_the_adapter_past_the_term_is_held_back_and_left_journaled(tmp_path, caplog):
    """The fence was read and held before the order went to the adapter; the adapter then waited
    past the end of the term (a standby may hold the lease by now). The runner's send gate,
    asked by the adapter as the request leaves, holds it back: nothing sent, the tick reports
    itself deposed, the rest of the account's orders are not tried, and the intents stay
    journaled without a result for the next leader to settle."""
    from killswitch.engine.attribution import Attribution
    from killswitch.engine.planner import Plan

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    fence = store.acquire_lease("runner", 60_000, 0)
    now = [1_000]
    term_end = 3_000
    orders = tuple(OrderIntent("d-1", f"ks-slow-{i}", "simulated", "sim-main", "BTC/USDT:USDT", "sell", None, 0.1,
                               True, 59_000.0, 6_000.0, i + 1, 2, 0, "close_all", "TEST") for i in range(2))
    plans = [Plan("d-1", 3, Attribution("UNKNOWN", 0.0, 0.0, None, None), orders=orders)]
    venue = SlowVenue(now, wait_ms=2_500)
    io = StoreIO("test")
    ex = Executor(store, Venues({"simulated/sim-main": venue}), lambda: fence, dry_run=False, clock=lambda: now[0],
                  still_leader=lambda: _yes(), may_send=lambda: now[0] < term_end, io=io)
    try:
        run(ex.journal(plans))
        with caplog.at_level("WARNING", logger="killswitch.runner.executor"):
            report = run(ex.send(plans))
        pending = store.pending_intents()
    finally:
        io.close()
        store.close()
    assert venue.waited == ["ks-slow-0"] and venue.sent == [], "an order left after the term ran out"
    assert report.deposed and report.sent == 0 and report.orders == [] and report.rejected == []
    assert sorted(e.client_order_id for e in pending) == ["ks-slow-0", "ks-slow-1"]
    assert all(e.status is None for e in pending), "a held-back order got a result: the next leader would not send it"
    assert "ORDER_WITHHELD" in caplog.text and "ks-slow-0" in caplog.text


def test_the_same_order_leaves_while_the_term_holds(tmp_path):
    from killswitch.engine.attribution import Attribution
    from killswitch.engine.planner import Plan

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    fence = store.acquire_lease("runner", 60_000, 0)
    now = [1_000]
    o = OrderIntent("d-1", "ks-slow-0", "simulated", "sim-main", "BTC/USDT:USDT", "sell", None, 0.1, True,
                    59_000.0, 6_000.0, 1, 1, 0, "close_all", "TEST")
    plans = [Plan("d-1", 3, Attribution("UNKNOWN", 0.0, 0.0, None, None), orders=(o,))]
    venue = SlowVenue(now, wait_ms=500)
    io = StoreIO("test")
    ex = Executor(store, Venues({"simulated/sim-main": venue}), lambda: fence, dry_run=False, clock=lambda: now[0],
                  still_leader=lambda: _yes(), may_send=lambda: now[0] < 3_000, io=io)
    try:
        run(ex.journal(plans))
        report = run(ex.send(plans))
    finally:
        io.close()
        store.close()
    assert venue.sent == ["ks-slow-0"] and report.sent == 1 and not report.deposed


# --- a write of a lapsed term, refused after the same runner took the lease again -----------------


def test_a_write_of_a_lapsed_term_refused_in_the_next_term_deposes_nothing(tmp_path, caplog):
    """A tick's write made under token 1 reaches a store that has since given the same runner
    token 2 (its term lapsed while the store was paused, and it took the lease again). The
    refusal is of a term already over, not of another runner: the runner reads the store's state
    back and leads on under token 2, rather than standing by behind a lease it holds itself
    (nobody then acted until the term ran out). A refusal of the token held now deposes."""
    w = make(tmp_path)
    start(w)
    lead = w.parts.lead
    assert lead.leader and lead.fence >= 1
    held = lead.fence
    with caplog.at_level("INFO"):
        assert lead.fenced_off(FencedError(held - 1, held)) is False
    assert not lead.leader and lead.resync  # until the store's state is read back, at the next look
    assert not any("fenced off" in r.getMessage() for r in caplog.records)
    assert run(lead.lease(w.clock())) and lead.leader and lead.fence == held and not lead.resync
    assert lead.fenced_off(FencedError(held, held + 1)) is True
    assert not lead.leader and lead.stale
