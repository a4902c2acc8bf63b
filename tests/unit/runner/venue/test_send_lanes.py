"""Send lanes (killswitch/runner/venue/lanes.py): each account's orders sent beside the ticks.

One account's paced flatten must not hold another account's decision: the tick waits for its
lanes a moment and goes on. What must still hold while a lane sends: every order leaves once
and in plan order, nothing in flight is taken for lost (reconciled, resent), a close planned
on a position with an order in flight waits, and what a lane meets is raised in a tick, never
left unretrieved."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from adapters.base import AdapterError, OrderResult, Reason
from killswitch.engine.attribution import Attribution
from killswitch.engine.planner import Plan
from killswitch.orders import OrderIntent
from killswitch.runner.storeio import StoreIO
from killswitch.runner.venue.executor import Executor
from killswitch.runner.venue.port import Venues
from killswitch.state import open_store
from killswitch.state.store import FencedError
from tests.procs import until

NONE = Attribution("UNKNOWN", 0.0, 0.0, None, None)


class Venue:
    """One account. ``gate``: when set, every order waits until the test lets one through
    (``gate.release()`` once per order). Every submit and every ``fetch_order`` noted."""

    def __init__(self, account: str, gated: bool = False):
        self.account = account
        self.sent: list[str] = []
        self.asked: list[str] = []
        self.gate = asyncio.Semaphore(0) if gated else None

    async def submit(self, intent: OrderIntent):
        if self.gate is not None:
            await self.gate.acquire()
        self.sent.append(intent.client_order_id)
        return OrderResult(intent.client_order_id, f"v-{intent.client_order_id}", "filled", intent.amount,
                           intent.amount, 100.0)

    async def fetch_order(self, symbol, client_order_id):
        self.asked.append(client_order_id)
        if client_order_id in self.sent:
            return OrderResult(client_order_id, f"v-{client_order_id}", "filled", 1.0, 1.0, 100.0)
        raise AdapterError(Reason.ORDER_NOT_FOUND, "unknown order")


def order(account: str, k: int, decision: str = "d-1") -> OrderIntent:
    return OrderIntent(decision, f"ks-{decision}-{account}-{k}", "simulated", account, f"S{k}/USDT:USDT", "sell",
                       None, 1.0, True, 99.0, 100.0, 1, 1, 0, "close_all", "TEST")


def plan(account: str, n: int, decision: str = "d-1", first: int = 0) -> Plan:
    return Plan(decision, 1, NONE, orders=tuple(order(account, k, decision) for k in range(first, first + n)))


class Rig:
    def __init__(self, tmp_path, venues: dict, *, wait_s: float = 0.05, leader=None):
        self.venues = venues
        self.store = open_store(f"sqlite://{tmp_path / 'state.db'}")
        self.fence = self.store.acquire_lease("runner", 600_000, 0)
        self.io = StoreIO("test")
        self.clock = [1_000]
        self.ex = Executor(self.store, Venues({f"simulated/{a}": v for a, v in venues.items()}),
                           lambda: self.fence, dry_run=False, clock=lambda: self.clock[0], io=self.io,
                           confirm_gap_ms=0, send_wait_s=wait_s, still_leader=leader)

    async def tick(self, plans: list[Plan]):
        """What a tick does with its plans: hold, journal, send, reconcile (a resend of an
        order still at the gate would wait for ever: failed)."""
        async with asyncio.timeout(5):
            self.ex.reading()  # (the tick's snapshots are asked for here)
            plans, held = await self.ex.hold(plans)
            await self.ex.journal(plans)
            report = await self.ex.send(plans)
            report.merge(await self.ex.reconcile())
            return report, held

    def close(self):
        self.io.close()
        self.store.close()


async def settle(ex: Executor) -> None:
    """Until every lane has ended (an order sent twice would wait at the gate for ever: failed)."""
    async with asyncio.timeout(5):
        while ex.lanes.busy():
            await asyncio.sleep(0.01)


def test_a_paced_account_sends_beside_the_ticks_and_nothing_is_lost_or_sent_twice(tmp_path):
    slow, fast = Venue("slow", gated=True), Venue("fast")
    rig = Rig(tmp_path, {"slow": slow, "fast": fast})

    async def scenario():
        # tick 1: the slow account's flatten of 5 and the fast one's 2
        r1, _ = await rig.tick([plan("slow", 5), plan("fast", 2, "d-2")])
        assert fast.sent == ["ks-d-2-fast-0", "ks-d-2-fast-1"] and slow.sent == []
        assert r1.sent == 2 and r1.filled == 2  # the tick did not wait for the slow account
        assert rig.ex.lanes.in_flight() == {f"ks-d-1-slow-{k}" for k in range(5)}
        slow.gate.release()
        await until(lambda: slow.sent, "the slow lane's first order", 5)
        assert slow.sent == ["ks-d-1-slow-0"]
        # tick 2: the fast account's next decision is sent at once; the slow lane's orders are
        # neither asked for nor resent by the reconciliation (confirm gap 0: one "not found"
        # would resend it), and the same close planned again under its client id is not sent twice
        rig.clock[0] += 5_000
        r2, held = await rig.tick([plan("fast", 1, "d-3"), plan("slow", 5)])
        assert fast.sent[-1] == "ks-d-3-fast-0" and r2.sent == 1
        assert not any(c.startswith("ks-d-1-slow") for c in slow.asked)
        assert held.held == []  # the same decision's own orders are not held by themselves
        # tick 3: a new close of a leg the lane still holds waits (held), another leg goes
        r3, held = await rig.tick([plan("slow", 1, "d-4", first=4), plan("slow", 1, "d-5", first=7)])
        assert held.held == ["d-4"] and [o.client_order_id for o in held.held_orders] == ["ks-d-4-slow-4"]
        assert r3.sent == 0  # d-5 queued behind the account's earlier lane: its plan order
        for _ in range(4):
            slow.gate.release()
        await until(lambda: len(slow.sent) >= 5, "the slow lane's other four orders", 5)
        assert slow.sent == [f"ks-d-1-slow-{k}" for k in range(5)]  # d-5's order waits for the gate
        slow.gate.release()
        await settle(rig.ex)
        assert slow.sent == [f"ks-d-1-slow-{k}" for k in range(5)] + ["ks-d-5-slow-7"]
        # the lanes' reports are taken up by the next tick, whole
        r4, _ = await rig.tick([])
        assert r4.sent == 6 and r4.filled == 6
        assert rig.ex.lanes.in_flight() == frozenset()
        assert {e.client_order_id for e in rig.store.pending_intents()} == set()

    try:
        asyncio.run(scenario())
    finally:
        rig.close()
    assert len(slow.sent) == len(set(slow.sent)) and len(fast.sent) == len(set(fast.sent))


def test_a_lane_whose_write_is_fenced_off_raises_in_the_next_tick(tmp_path, caplog):
    slow = Venue("slow", gated=True)
    rig = Rig(tmp_path, {"slow": slow})

    async def scenario():
        await rig.tick([plan("slow", 2)])
        rig.store.release_lease("runner")
        assert rig.store.acquire_lease("rival", 600_000, 2_000) is not None  # another runner leads now
        slow.gate.release()
        await settle(rig.ex)
        with pytest.raises(FencedError):
            await rig.ex.send([])
        assert rig.ex.lanes.take_landed().sent == 0  # raised once, then forgotten

    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            asyncio.run(scenario())
            gc.collect()
    finally:
        rig.close()
    assert "never retrieved" not in caplog.text
    assert slow.sent == ["ks-d-1-slow-0"]  # its result write was refused; the second never left


def test_a_lane_of_a_runner_deposed_meanwhile_stops_and_leaves_the_rest_journaled(tmp_path):
    slow = Venue("slow", gated=True)
    leads = [True]
    asked: list[bool] = []  # what the lane was told, before each order

    async def leader():
        asked.append(leads[0])
        return leads[0]

    rig = Rig(tmp_path, {"slow": slow}, leader=leader)

    async def scenario():
        await rig.tick([plan("slow", 3)])
        slow.gate.release()
        # the first order answered and journaled, the second cleared to leave: deposed now
        await until(lambda: len(asked) == 2, "the lane to ask the lease before its second order", 5)
        leads[0] = False
        slow.gate.release()
        await settle(rig.ex)
        report = rig.ex.lanes.take_landed()
        assert report.deposed and slow.sent == ["ks-d-1-slow-0", "ks-d-1-slow-1"]
        assert asked == [True, True, False]  # stopped at its next order, asking the lease first
        unanswered = {e.client_order_id for e in rig.store.pending_intents() if e.status is None}
        assert unanswered == {"ks-d-1-slow-2"}  # for whoever leads next to settle

    try:
        asyncio.run(scenario())
    finally:
        rig.close()


def test_a_stopping_runner_lets_its_lanes_end_then_cuts_them(tmp_path, caplog):
    slow = Venue("slow", gated=True)
    rig = Rig(tmp_path, {"slow": slow})

    async def scenario():
        await rig.tick([plan("slow", 3)])
        slow.gate.release()
        with caplog.at_level(logging.WARNING, logger="killswitch.runner.executor"):
            await rig.ex.lanes.drain(0.1)
        assert rig.ex.lanes.busy() == 0 and slow.sent == ["ks-d-1-slow-0"]
        assert rig.ex.lanes.in_flight() == frozenset()  # the unsent two: journaled, no result
        assert {e.client_order_id for e in rig.store.pending_intents() if e.status is None} == \
            {"ks-d-1-slow-1", "ks-d-1-slow-2"}

    try:
        asyncio.run(scenario())
    finally:
        rig.close()
    assert "SEND_CUT: 1 account(s) still sending" in caplog.text


def test_without_a_wait_bound_the_send_waits_for_every_account(tmp_path):
    slow = Venue("slow")
    rig = Rig(tmp_path, {"slow": slow}, wait_s=None)
    try:
        report, _ = asyncio.run(rig.tick([plan("slow", 3)]))
    finally:
        rig.close()
    assert report.sent == 3 and slow.sent == [f"ks-d-1-slow-{k}" for k in range(3)]


def test_a_close_sized_before_a_lanes_fill_landed_waits_for_the_next_read(tmp_path):
    """The tick asks for its snapshots, then a lane's close fills: the positions the tick plans
    from may not show that fill, so a new close of the same leg waits a tick (and is planned
    again from the next snapshots); a close of another leg goes."""
    slow = Venue("slow", gated=True)
    rig = Rig(tmp_path, {"slow": slow})

    async def scenario():
        await rig.tick([plan("slow", 1)])  # S0's close: in its lane, at the gate
        rig.ex.reading()  # the next tick asks for its snapshots ...
        slow.gate.release()
        await settle(rig.ex)  # ... and S0's close fills meanwhile
        plans = [plan("slow", 1, "d-2"), plan("slow", 1, "d-3", first=1)]
        kept, held = await rig.ex.hold(plans)
        assert held.held == ["d-2"] and [o.code for o in held.held_orders] == ["ANSWERED_SINCE_READ"]
        assert [o.client_order_id for p in kept for o in p.orders] == ["ks-d-3-slow-1"]
        rig.ex.reading()  # the tick after: its snapshots show the fill
        kept, held = await rig.ex.hold([plan("slow", 1, "d-2")])
        assert held.held == [] and [o.client_order_id for p in kept for o in p.orders] == ["ks-d-2-slow-0"]

    try:
        asyncio.run(scenario())
    finally:
        rig.close()
