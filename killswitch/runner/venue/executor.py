"""The executor: plans → orders at the venues, journaled so that a crash neither loses nor repeats one.

The order of things is the safety argument:

1. :meth:`Executor.journal` writes every order intent of the tick (idempotent by client order
   id, fenced by the leader's token) — *before* the runner saves the engine state that says
   the stage was entered;
2. :meth:`Executor.send` sends each journaled intent that has no result yet and records what
   the venue answered (an unclear answer — timeout, dropped connection — is ``unknown``);
   before each order the fence is read (``still_leader``), and the adapter asks the lease
   term once more at the moment the request leaves (``may_send`` in a send gate): an order
   held back there stays journaled without a result, for the next leader to settle;
3. :meth:`Executor.reconcile` settles every pending intent with the venue by client order id:
   found → its status is recorded; not found twice, ``confirm_gap_ms`` apart → it never
   arrived, and it is sent now under the same client order id.

Every order the runner sends is meant to act at once (a limit IOC at the protected price). One
the venue leaves *resting* — open, or partly filled and still working — is an open remainder:
reconciliation cancels it by its venue id (found by its client order id), confirms the cancel
by asking again, and journals the final status and filled amount; a remainder that ended short
of its amount is reported unfilled, so its position is closed again at fresh prices. Until a
remainder is confirmed gone, :meth:`Executor.hold` keeps every new close off its position
(account, symbol, leg): the closes of ours open on a position never add up to more than it.
What this module must not do: cancel an order it did not journal (a bot's orders are the
planner's business, through the stage's ``cancel_orders``), or size anything (the planner does).

A crash before (1) completes leaves no saved stage entry: the restarted runner plans the same
decision again from the same positions, and the journal refuses the ids it already holds. A
crash after (1) leaves pending intents with their original amounts for (3); the same decision
planned again, split another way by a changed order book, adds nothing to them
(:func:`surplus`). Client order ids derive from the decision and the leg (see the planner),
never from time or randomness.

**A first wave.** A ``close_all`` entry over thousands of positions would hold its first close
back while every close is planned and journaled. The runner evaluates it as its first wave
alone (the entry's cancels and directives, every chunk of the leg the whole plan sends first)
and goes through (1)–(2) with the wave, saving the stage entry marked *deferred* ("its closes
are still to plan"); then it plans the whole entry, journals the rest (the whole plan's
orders but the wave's) in one transaction, saves the entry no longer deferred, and sends the
rest. Where a crash leaves it:

- before the first save: no stage entry saved, as above (the wave's intents, if journaled,
  are refused when the same decision is planned again, and sent if they never were);
- after the first save, before the rest is journaled: the saved entry is deferred, so the
  next runner plans its closes again under the *same decision id*, from the positions then.
  The wave's leg, if it was filled, is gone from them; if not, it gets the same client order
  ids, which the journal refuses (sent then only if it never was). Every other leg was never
  journaled, so none was sent: each is planned, journaled and sent once. The wave is a whole
  leg, never part of one, so a re-plan cannot split that position's remaining amount into
  chunks whose ids collide with the wave's at other amounts;
- after the rest is journaled, before the second save: the same re-plan finds every intent
  journaled (refused), and sends those without a result (never sent);
- after the second save: pending intents for (3), as above.

A close of the wave held back (an order of ours still open on its position) asks for a new
round (``/r<n>``) before the first save; the second save leaves that request in place.

In dry run nothing is journaled or sent: what would have been sent goes to the audit trail.

Steps 0-2 are this module's; step 3, settling with the venue, is :mod:`.reconcile`'s, a part of
the same :class:`Executor`.

Every store call goes through the runner's :class:`~killswitch.runner.storeio.StoreIO` (one
thread, calls in order) and is awaited: the tick's loop never blocks on the disk, and an
intent is durable before its order leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from functools import partial
from typing import Awaitable, Callable, Optional, Sequence

from adapters.base import AdapterError, CancelSelector, SendWithheld, send_gate

from ...engine.plans import Plan
from ...orders import PLANNED_KIND, CancelIntent, Fees, OrderIntent, planned_payloads, position_of, send_order
from ...snapshot import Snapshot
from ...state.store import IntentRow, StateStore, canonical_json
from ..book.rejections import Leg, leg_of
from ..book.still_open import StillOpen, still_open_of
from ..lease.leadership import FencedAudit
from ..storeio import StoreIO
from .entries import entries_of
from .execution import (
    ANSWERED_SINCE_READ,
    FINAL,
    REMAINDER_OPEN,
    RESTING,
    UNCLEAR,
    ExecutionReport,
    OrderOutcome,
    account_key,
    filled_short,
)
from .lanes import SendLanes
from .port import NO_ADAPTER, VenuePort, Venues
from .reconcile import Reconciliation

log = logging.getLogger("killswitch.runner.executor")


class Executor(Reconciliation):
    """Sends a tick's cancels and orders and settles them with the venue: holds the closes of a
    position an order of ours may still rest on, journals, sends (a resend refused stays unknown
    until asked again); reconciling and cancelling remainders is its :class:`Reconciliation`
    part, which shares the journal, the fence and the venue's "not found" sightings."""

    def __init__(self, store: StateStore, venues: Venues, fence: Callable[[], int], *,
                 dry_run: bool = True, clock: Callable[[], int], confirm_gap_ms: int = 2_000,
                 still_leader: Optional[Callable[[], Awaitable[bool]]] = None,
                 may_send: Optional[Callable[[], bool]] = None, io: Optional[StoreIO] = None,
                 audit: Optional[FencedAudit] = None, send_wait_s: Optional[float] = None):
        self.store = store
        self.io = io if io is not None else StoreIO()
        # its audit rows, under the term's token (the runner's leadership gives it; alone, ``fence``)
        self.audit = audit if audit is not None else FencedAudit(store, self.io, fence)
        # Asked before every order: a deposed leader must not send (store writes are fenced by
        # the database; orders can only be fenced here, as close to the send as possible).
        self.still_leader = still_leader or _always
        # ... and asked once more by the adapter, immediately before the order's request leaves
        # (adapters.base.send_gate): between the two, the adapter may wait (markets, a position
        # read, the order budget, the request pacer) past the end of our term
        self.may_send = may_send or (lambda: True)
        self.venues = venues  # account key "venue/account" → its way out
        self.fence = fence
        self.dry_run = dry_run
        self.clock = clock
        self.confirm_gap_ms = confirm_gap_ms
        self._not_found: dict[str, int] = {}  # client id → when the venue first said it does not know it
        self._resent_refused: dict[str, tuple[str, str]] = {}  # client id → why its resend was refused
        # the intents the last journal() wrote, when every one of them was new (else empty)
        self._journaled_new: set[str] = set()
        # whether a remainder may still rest (a cancel not yet confirmed): until the first
        # reconciliation says otherwise, assume so
        self._resting_left = True
        # orders a cancel left open (the venue still lists them), until the tick takes them
        self._still_open: list[StillOpen] = []
        # each account's sends, beside the ticks; a tick waits for them ``send_wait_s`` at most
        # (None: until they end)
        self.lanes = SendLanes(send_wait_s)
        # the legs an order of ours was answered on since this tick's snapshots were asked for
        # (by a lane beside the tick): a close sized on them waits a tick (see hold)
        self._answered_since_read: dict[Leg, str] = {}

    def reading(self) -> None:
        """The tick asks for its snapshots now: an order of ours answered from here on may be
        missing from the positions they show, so :meth:`hold` keeps closes off its leg until
        the next tick's. (Answers before now are in them, as before a send inside the tick.)"""
        self._answered_since_read = {}

    def _answered_on(self, venue: str, account: str, symbol: str, side: str, position_side: Optional[str],
                     cid: str) -> None:
        self._answered_since_read[leg_of(venue, account, symbol, side, position_side)] = cid

    # --- 0. hold the closes of a position an earlier order of ours may still be open on ---------

    async def hold(self, plans: list[Plan]) -> tuple[list[Plan], ExecutionReport]:
        """``plans`` without the orders whose position has an earlier order of ours that is not
        final (resting, or its outcome unknown, or journaled and not yet answered): sending
        them now could put more closes on the position than it holds, each sized on the
        position as if nothing else were open. They are reported in ``held_orders`` (status
        ``held``; not among the orders sent) and their decisions listed in ``held``: the runner
        plans them again at the next tick, once the earlier order is settled. Orders already
        journaled (a restarted runner re-planning a decision) are never held: they are the
        earlier orders. Nothing is held in dry run."""
        report = ExecutionReport()
        if self.dry_run or not any(p.orders for p in plans):
            return plans, report
        planned = {o.client_order_id for p in plans for o in p.orders}
        busy: dict[Leg, tuple[str, str]] = {}
        for e in await self.io(self.store.pending_intents):
            if e.client_order_id not in planned:
                busy.setdefault(leg_of(e.venue, e.account, e.symbol, e.side, e.position_side),
                                (e.client_order_id, REMAINDER_OPEN))
        for leg, cid in self._answered_since_read.items():  # (a lane's fill the snapshot may not show)
            busy.setdefault(leg, (cid, ANSWERED_SINCE_READ))
        if not busy:
            return plans, report
        out = []
        for p in plans:
            keep = []
            for o in p.orders:
                waits = busy.get(leg_of(o.venue, o.account, o.symbol, o.side, o.position_side))
                if waits is None:
                    keep.append(o)
                    continue
                waits_for, why = waits
                report.held_orders.append(OrderOutcome(o.client_order_id, o.decision_id, o.venue, o.account,
                                                       o.symbol, o.side, o.amount, o.reduce_only, "held",
                                                       why, 0.0, time.time_ns(), 0.0))
                if o.decision_id not in report.held:
                    report.held.append(o.decision_id)
                await self.audit.audit("close_held", self.clock(), {
                    "client_order_id": o.client_order_id, "decision_id": o.decision_id, "symbol": o.symbol,
                    "reason": why, "waits_for": waits_for})
            out.append(p if len(keep) == len(p.orders) else replace(p, orders=tuple(keep)))
        return out, report

    # --- 1. journal ----------------------------------------------------------------------------------

    async def journal(self, plans: list[Plan], planned: Optional[list[tuple[str, int, dict]]] = None,
                      snapshots: Sequence[Snapshot] = ()) -> ExecutionReport:
        """Every planned order, journaled in one transaction before anything is sent (a dry run
        audits them instead, as tables of intents, also in one: :func:`~killswitch.orders.planned_payloads`).
        Thousands of closes are one durable write. ``planned``: a dry run's audit rows are added
        to it instead, for the caller to append with the stage entry's own (the tick: one
        append after the state save, so that a stage entry and the orders it planned are stored
        together or not at all). ``snapshots``: those the plans were made of; each close is
        journaled with the entry price and contract size of its position there (:mod:`.entries`:
        the PnL its fill realized is reckoned from them)."""
        report = ExecutionReport()
        orders = [o for plan in plans for o in plan.orders]
        if not orders:
            return report
        if self.dry_run:
            now = self.clock()
            tables = [(PLANNED_KIND, now, doc) for doc in planned_payloads(orders)]
            if planned is None:
                await self.audit.audit_many(tables)
            else:
                planned += tables
            report.dry_run += len(orders)
            return report
        self._journaled_new = set()
        # the rows made on the store thread: at 10,000 closes their JSON is a tenth of a second
        # that the loop does not hold (the intents are frozen values)
        new = await self.io(_journal_intents, self.store, self.fence(), orders, self.clock(), snapshots)
        report.skipped += sum(1 for fresh in new if not fresh)
        if all(new):  # none was known: none has a result yet (see send)
            self._journaled_new = {o.client_order_id for o in orders}
            return report
        for o in surplus(orders, new):  # the close journaled before a restart is the one sent
            await self._result(o.client_order_id, "canceled", 0.0, None, "REPLANNED_SPLIT",
                               "this close was journaled before a restart split another way; that one is sent")
            report.skipped += 1
        return report

    # --- 2. send -----------------------------------------------------------------------------------------

    async def send(self, plans: list[Plan]) -> ExecutionReport:
        """Cancels first, then the orders; each account's in plan order, the accounts at once."""
        report = ExecutionReport()
        if self.dry_run:
            return report
        cancels, ordered = send_order(plans)  # the order previews show (``send_seq``)
        # each cancel's incident: the stage entry (or manual close) whose plan holds it
        incidents = {id(c): p.decision_id for p in plans for c in p.cancels}
        await self._cancels([(c, incidents.get(id(c))) for c in cancels], report)
        planned = {o.client_order_id for p in plans for o in p.orders}
        if planned and planned <= self._journaled_new:
            # journaled new just now, in this tick: none can have a result yet, and reading every
            # pending intent back (10,000 at a close_all of 10,000) would delay the first order
            pending = planned
        else:
            pending = {e.client_order_id for e in await self.io(self.store.pending_intents) if e.status is None}
        self._journaled_new = set()
        # an order a lane still holds (planned again meanwhile under the same client id) is its
        pending = pending - self.lanes.in_flight()
        per_account = {k: kept for k, v in ordered.items() if (kept := [o for o in v if o.client_order_id in pending])}

        async def run(key: str, orders: list[OrderIntent]) -> ExecutionReport:
            r = ExecutionReport()
            port = self.venues.get(key)
            for o in orders:
                if not await self.still_leader():
                    r.deposed = True
                    return r
                if port is None:
                    await self._result(o.client_order_id, "failed", 0.0, None, NO_ADAPTER, f"no adapter for {key}")
                    r.rejected.append(f"{o.client_order_id} NO_ADAPTER")
                    continue
                await self._submit(port, o, r)
                if r.deposed:  # held back at the adapter: our term ran out while it waited
                    return r
            return r

        # each account's orders a lane beside the tick (runner/venue/lanes.py): the tick waits for
        # them a moment, not for one account's paced flatten; what a lane ends with is merged
        # into the report of the tick that takes it up (this one, or a later one)
        report.merge(await self.lanes.run(
            (k, [o.client_order_id for o in v], partial(run, k, v)) for k, v in per_account.items()))
        return report

    async def _submit(self, port: VenuePort, o: OrderIntent, r: ExecutionReport,
                      resent: bool = False) -> None:
        r.sent += 1
        start_ns, t0 = time.time_ns(), time.perf_counter()

        def outcome(status: str, code: Optional[str], filled: float, detail: Optional[str] = None,
                    refusal: Optional[str] = None) -> None:
            r.orders.append(OrderOutcome(o.client_order_id, o.decision_id, o.venue, o.account, o.symbol, o.side,
                                         o.amount, o.reduce_only, status, code, filled, start_ns,
                                         (time.perf_counter() - t0) * 1000, resent, detail, refusal,
                                         o.position_side))

        try:
            with send_gate(self.may_send):
                try:
                    res = await port.submit(o)
                finally:  # whatever the answer (an unclear one too): the position may have moved
                    self._answered_on(o.venue, o.account, o.symbol, o.side, o.position_side, o.client_order_id)
        except SendWithheld:
            # Nothing left: the intent stays journaled without a result, and whoever leads next
            # settles it with the venue (asks, finds nothing, sends it under the same client id).
            r.sent -= 1
            r.deposed = True
            log.warning("ORDER_WITHHELD: %s %s %s: not sent, this runner's lease term ran out while the order "
                        "waited in the adapter; the next leader settles the journaled intent",
                        o.venue, o.account, o.client_order_id)
            return
        except AdapterError as e:
            if e.reason in UNCLEAR or (resent and o.client_order_id not in self._resent_refused):
                # A resend that is refused says nothing of the first send under the same client
                # id: late, it may have reached the venue and filled meanwhile (the resend then
                # meets a duplicate id, a reduce-only refusal or a position already closed). It
                # stays unknown until the venue is asked again; not found a second time, it is
                # taken as refused (_not_found_yet), never sent a third time.
                if resent:
                    self._resent_refused[o.client_order_id] = (e.reason.value, e.message)
                outcome("unknown", e.reason.value, 0.0)
                await self._result(o.client_order_id, "unknown", 0.0, None, e.reason.value, e.message)
                r.unknown.append(o.client_order_id)
            else:
                # what the venue said, as it said it (its code and message), where it refused
                said = e.refusal.text() if e.refusal is not None else e.message
                kind = e.refusal.kind if e.refusal is not None else None
                outcome("rejected", e.reason.value, 0.0, said, kind)
                # (how a retry fares, journaled: a runner that takes over counts the refusal by it)
                await self._result(o.client_order_id, "rejected", 0.0, None, e.reason.value, said, kind)
                r.rejected.append(f"{o.client_order_id} {e.reason.value}: {said}")
                if o.reduce_only:
                    # A refused close leaves the position open whatever the reason (rate limit,
                    # a venue glitch, a stale reduce-only view): plan it again from fresh
                    # positions, within the runner's close retry budget, which reports what is left.
                    r.unfilled.append(o.decision_id)
            return
        status = res.status if res.status in FINAL + RESTING else "unknown"
        outcome(status, None, res.filled)
        await self._result(o.client_order_id, status, res.filled, res.average_price, None, None, fees=res.fees)
        if status == "filled":
            r.filled += 1
        if filled_short(status, res.filled, o.amount, o.reduce_only):
            r.unfilled.append(o.decision_id)  # the market moved past the protected price, or was thin

    async def cancel(self, cancels: list[CancelIntent], incident: Optional[str] = None,
                     cause: Optional[str] = None) -> ExecutionReport:
        """``cancels`` sent now, as a tick sends a plan's (a firm directive's ``cancel_orders``
        carried out by a shard); nothing in dry run. ``incident``: the stage entry they are
        for, where one is; ``cause``: what they are for, in what an order left open says
        (the cancel's reason by default)."""
        report = ExecutionReport()
        if not self.dry_run:
            await self._cancels([(c, incident) for c in cancels], report, cause)
        return report

    def take_still_open(self) -> list[StillOpen]:
        """The orders the cancels sent since the last call left open (the tick records them)."""
        out, self._still_open = self._still_open, []
        return out

    async def _cancels(self, cancels: list[tuple[CancelIntent, Optional[str]]], report: ExecutionReport,
                       cause: Optional[str] = None) -> None:
        """Each account's cancels in plan order, the accounts at once: a global scope's first
        close waits for the slowest account's cancels, not for every account's one by one. Only
        what the venue confirmed counts as cancelled; every other order is said with the
        venue's words (``CancelResult.said_of``), and one it still lists is an order left open
        (``ExecutionReport.still_open``, and kept for :meth:`take_still_open`)."""
        per_account: dict[str, list[tuple[CancelIntent, Optional[str]]]] = {}
        for c, incident in cancels:
            per_account.setdefault(account_key(c.venue, c.account), []).append((c, incident))

        async def run(key: str, mine: list[tuple[CancelIntent, Optional[str]]]) -> ExecutionReport:
            r = ExecutionReport()
            for c, incident in mine:
                res = await self.venues.cancel(key, CancelSelector(c.which, c.symbols, c.order_ids), c.reason)
                r.canceled += len(res.canceled)
                r.cancel_failed += [f"{key} {res.said_of(oid)}: order {oid}" for oid in res.failed]
                left = still_open_of(key, res, cause=cause or c.reason, now=self.clock(), incident=incident)
                r.still_open += left
                if res.failed:
                    await self.audit.audit("cancel_orders_failed", self.clock(), {
                        "venue": c.venue, "account": c.account, "reason": c.reason, "incident": incident,
                        "canceled": list(res.canceled),
                        "failed": {oid: res.said_of(oid) for oid in res.failed},
                        "still_open": [x.order_id for x in left]})
                if res.reason is not None:
                    r.cancel_failed.append(f"{key} {res.said()}")
                    await self.audit.audit("cancel_failed", self.clock(),
                                           {"venue": c.venue, "account": c.account, "reason": res.reason,
                                            "said": res.said(), "incident": incident})
            return r

        for r in await asyncio.gather(*(run(k, v) for k, v in per_account.items())):
            report.merge(r)
            self._still_open += r.still_open

    async def _result(self, cid: str, status: str, filled: float, avg: Optional[float], code: Optional[str],
                      detail: Optional[str], refusal: Optional[str] = None, *, fees: Optional[Fees] = None) -> None:
        """What became of ``cid``, journaled; ``fees``: what the venue's answer said of the fee
        (None: the result is the runner's own, no answer's)."""
        await self.io(self.store.journal_result, self.fence(), cid, status, filled, avg, code, detail,
                      ts_ms=self.clock(), refusal=refusal, fees=fees)
        self.lanes.answered(cid)
        if status in RESTING:
            self._resting_left = True  # (a reconciliation under way may have said none is left)


async def _always() -> bool:
    return True


def surplus(orders: list[OrderIntent], new: list[bool]) -> list[OrderIntent]:
    """The orders journaled new for a position whose close this decision journaled before (some
    of the same decision and position were already held). A close sized by the order book is
    split by the book at planning time: planned again after a crash between the journal and the
    saved stage entry, the same decision may come out in more children than before. Those the
    journal did not hold are surplus — the close it holds is sent as journaled — so that the
    children of a close never add up to more than its position."""
    known = {(o.decision_id, position_of(o)) for o, fresh in zip(orders, new) if not fresh}
    return [o for o, fresh in zip(orders, new) if fresh and (o.decision_id, position_of(o)) in known]


def _journal_intents(store: StateStore, fence: int, orders: list[OrderIntent], ts_ms: int,
                     snapshots: Sequence[Snapshot]) -> list[bool]:
    """``orders`` journaled as intents (on the store thread), each with the entry price and
    contract size of its position in ``snapshots`` (:func:`.entries.entries_of`): which were new."""
    rows = [IntentRow(o.client_order_id, o.decision_id, o.venue, o.account, o.symbol, o.side, o.position_side,
                      o.amount, o.reduce_only, canonical_json(_intent_doc(o)), *entry)  # its encoder made once
            for o, entry in zip(orders, entries_of(orders, snapshots))]
    return store.journal_intents(fence, rows, ts_ms=ts_ms)


def _intent_doc(o: OrderIntent) -> dict:
    """The intent as a JSON object: every field (all plain values). A copy of the instance's own
    dict: a frozen dataclass holds exactly its fields there (``asdict`` would deep-copy each, and
    a ``getattr`` per field costs as much as the JSON it becomes, times 10,000 at a close_all)."""
    return dict(vars(o))
