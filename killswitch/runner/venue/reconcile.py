"""Step 3 of an order's life (see :mod:`.executor`): every pending intent settled with its
venue by client order id, and the open remainders the venue keeps resting cancelled.

Owns :class:`Reconciliation`, the part of :class:`~.executor.Executor` that settles: found →
its status journaled; not found twice, ``confirm_gap_ms`` apart → it never arrived, and it is
sent now under the same client order id (a resend refused, and not found again, is taken as
refused: never sent a third time); resting → cancelled by its venue id, the cancel confirmed
by asking again, and until then its position held. It shares the executor's journal, fence and
"not found" sightings; sending an order (``_submit``) and journaling a result (``_result``) are
the executor's, declared here.

Must not: cancel an order it did not journal (a bot's orders are the planner's business), or
size anything.
"""

from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Callable, Optional

from adapters.base import AdapterError, CancelSelector, OrderResult, Reason

from ...orders import Fees, OrderIntent
from ...state.store import StateStore
from ..book.still_open import StillOpen, still_open_of
from ..lease.leadership import FencedAudit
from ..storeio import StoreIO
from .execution import FINAL, REMAINDER_CANCELED, RESTING, ExecutionReport, account_key, filled_short
from .lanes import RECONCILE_LANE, SendLanes
from .port import VenuePort, Venues


class Reconciliation:
    """Settles the executor's pending intents with the venues and cancels its open remainders.

    The attributes below are the :class:`~.executor.Executor`'s, set when it is built."""

    store: StateStore
    io: StoreIO
    audit: FencedAudit
    venues: Venues
    dry_run: bool
    clock: Callable[[], int]
    confirm_gap_ms: int
    still_leader: Callable[[], Awaitable[bool]]
    _not_found: dict[str, int]  # client id → when the venue first said it does not know it
    _resent_refused: dict[str, tuple[str, str]]  # client id → why its resend was refused
    _resting_left: bool  # whether a remainder may still rest (a cancel not yet confirmed)
    _still_open: list[StillOpen]  # orders a cancel left open, until the tick takes them
    lanes: SendLanes  # each account's sends beside the ticks (what they hold unanswered is not lost)

    async def _result(self, cid: str, status: str, filled: float, avg: Optional[float], code: Optional[str],
                      detail: Optional[str], refusal: Optional[str] = None, *, fees: Optional[Fees] = None) -> None:
        raise NotImplementedError

    def _answered_on(self, venue: str, account: str, symbol: str, side: str, position_side: Optional[str],
                     cid: str) -> None:
        raise NotImplementedError

    async def _settled(self, e, status: str, found: OrderResult, detail: str) -> None:
        """``e``'s result journaled as the venue said it now (``found``: what it filled, at
        what price, for what fee). Filled further than the journal knew, its position may have
        moved since this tick's snapshots were asked for (see :meth:`~.executor.Executor.hold`)."""
        filled = found.filled
        await self._result(e.client_order_id, status, filled, found.average_price, None, detail, fees=found.fees)
        if filled != (e.filled or 0.0):
            self._answered_on(e.venue, e.account, e.symbol, e.side, e.position_side, e.client_order_id)

    async def _submit(self, port: VenuePort, o: OrderIntent, r: ExecutionReport,
                      resent: bool = False) -> None:
        raise NotImplementedError

    def forget_unconfirmed(self) -> None:
        """Drop the first "not at the venue" sightings (our state was replaced: start over)."""
        self._not_found.clear()
        self._resting_left = True  # another leader may have left a remainder resting

    async def reconcile(self) -> ExecutionReport:
        """Settle every pending intent with its venue (after a restart, and every tick); cancel
        the ones the venue keeps resting (see :meth:`_cancel_resting`). The accounts at once,
        each one's intents in turn; an intent a send lane still holds is left to it."""
        report = ExecutionReport()
        if self.dry_run:
            return report
        sending = self.lanes.in_flight()  # journaled and still to be answered in a send lane: not lost
        by_account: dict[str, list] = {}
        for e in await self.io(self.store.pending_intents):
            if e.client_order_id not in sending:
                by_account.setdefault(account_key(e.venue, e.account), []).append(e)
        left = 0
        for r, n in await asyncio.gather(*(self._settle_account(k, es) for k, es in by_account.items())):
            report.merge(r)
            left += n
        self._resting_left = left > 0
        return report

    async def reconcile_beside(self) -> ExecutionReport:
        """:meth:`reconcile` as a lane beside the ticks (one at a time; a tick waits for it a
        moment, not for a venue's reads of fifty orders), and what every lane ended since it
        was last asked. A remainder it finds is cancelled there; a close on its position is
        held meanwhile (:meth:`~.executor.Executor.hold` reads the journal)."""
        if self.dry_run:
            return ExecutionReport()
        if self.lanes.busy(RECONCILE_LANE):
            return self.lanes.take_landed()
        return await self.lanes.run([(RECONCILE_LANE, [], self.reconcile)])

    async def _settle_account(self, key: str, entries: list) -> tuple[ExecutionReport, int]:
        """One account's pending intents settled (see :meth:`reconcile`); returns the report and
        how many remainders may still rest (unasked, or their cancel unconfirmed)."""
        report = ExecutionReport()
        resting: list[tuple] = []
        unsure = 0  # remainders the venue could not be asked about
        port = self.venues.get(key)
        for e in entries:
            if port is None:
                unsure += e.status in RESTING
                continue
            try:
                found = await port.fetch_order(e.symbol, e.client_order_id)
            except AdapterError as err:
                if err.reason is not Reason.ORDER_NOT_FOUND:
                    unsure += e.status in RESTING
                    continue  # the venue cannot say now: ask again next tick
                await self._not_found_yet(port, e, report)
                continue
            self._not_found.pop(e.client_order_id, None)
            self._resent_refused.pop(e.client_order_id, None)
            status = found.status if found.status in FINAL + RESTING else "unknown"
            if status in RESTING:
                resting.append((e, found))
                continue
            if status != e.status:
                await self._settled(e, status, found, "RECONCILED")
            if status == "filled":
                report.filled += 1
            if filled_short(status, found.filled, e.amount, e.reduce_only):
                report.unfilled.append(e.decision_id)
        return report, unsure + await self._cancel_resting(resting, report)

    async def cancel_remainders(self) -> ExecutionReport:
        """The open remainders the journal knows of (a cancel that failed or was not confirmed
        at an earlier tick, an order a venue answered as open) cancelled before this tick's
        closes are held or sent — by the reconciliation, beside the tick (:meth:`reconcile_beside`):
        a close on a remainder's position is held until the cancel is confirmed. Nothing is
        read when the last reconciliation confirmed every remainder gone."""
        if self.dry_run or not self._resting_left:
            return self.lanes.take_landed()
        return await self.reconcile_beside()

    async def _cancel_resting(self, resting: list[tuple], report: ExecutionReport) -> int:
        """Cancel our open remainders — ``(journal entry, the venue's answer)`` — one cancel
        request per account, then ask the venue again about each: only an answer that it is
        final (canceled, or filled before the cancel reached it) settles it in the journal; else
        it stays pending (its position held). Returns how many are left unconfirmed."""
        settled = 0
        by_account: dict[str, list[tuple]] = {}
        for e, found in resting:
            if found.filled != (e.filled or 0.0) or found.status != e.status:  # it moved since last seen
                await self._settled(e, found.status, found, "RECONCILED")
            if found.order_id:
                by_account.setdefault(account_key(e.venue, e.account), []).append((e, found))
        for key, items in sorted(by_account.items()):
            port = self.venues[key]
            if not await self.still_leader():
                report.deposed = True
                break
            ids = tuple(str(found.order_id) for _, found in items)
            report.cancels_sent += len(ids)
            res = await port.cancel(CancelSelector(order_ids=ids), REMAINDER_CANCELED)
            if res.reason is not None:
                await self.audit.audit("remainder_cancel_failed", self.clock(), {
                    "account": key, "client_order_ids": [e.client_order_id for e, _ in items],
                    "reason": res.reason, "said": res.said()})
                continue
            # a remainder the venue still lists after its cancel: an order left open, the incident's
            left = still_open_of(key, res, cause=REMAINDER_CANCELED, now=self.clock(),
                                 incidents={str(found.order_id): e.decision_id for e, found in items})
            report.still_open += left
            self._still_open += left
            for e, found in items:
                why = res.failed.get(str(found.order_id))
                if why is not None and why != Reason.ORDER_NOT_FOUND.value:  # (not found: it may have ended)
                    await self.audit.audit("remainder_cancel_failed", self.clock(), {
                        "account": key, "client_order_ids": [e.client_order_id], "reason": why,
                        "said": res.said_of(str(found.order_id))})
                    continue
                try:
                    after = await port.fetch_order(e.symbol, e.client_order_id)
                except AdapterError:
                    continue  # sent, not confirmed: asked again at the next tick
                status = after.status if after.status in FINAL + RESTING else "unknown"
                if status in FINAL:
                    await self._settle(e, after, status, REMAINDER_CANCELED, report)
                    report.remainders_canceled += 1
                    settled += 1
        return len(resting) - settled

    async def _settle(self, e, found: OrderResult, status: str, detail: str, report: ExecutionReport) -> None:
        await self._settled(e, status, found, detail)
        if status == "filled":
            report.filled += 1
        if filled_short(status, found.filled, e.amount, e.reduce_only):
            report.unfilled.append(e.decision_id)
        if status == "canceled":
            report.canceled += 1

    async def _not_found_yet(self, port: VenuePort, e, report: ExecutionReport) -> None:
        """The venue does not know the order. Once could be lag; twice, a gap apart, means it never
        arrived: send it now, under the same client order id."""
        now = self.clock()
        first = self._not_found.setdefault(e.client_order_id, now)
        if now - first < self.confirm_gap_ms:
            return
        self._not_found.pop(e.client_order_id, None)
        refused = self._resent_refused.pop(e.client_order_id, None)
        if refused is not None:  # sent twice, refused the second time, at the venue neither time
            await self._result(e.client_order_id, "rejected", 0.0, None, refused[0], refused[1])
            if e.reduce_only:
                report.unfilled.append(e.decision_id)
            return
        intent = OrderIntent(**json.loads(e.payload_json)) if e.payload_json else None
        if intent is None or not await self.still_leader():
            return
        await self.audit.audit("order_resent", now, {"client_order_id": e.client_order_id, "reason": "NOT_AT_VENUE"})
        # asked again after the audit row: its write may have waited past the end of our term
        # (the order is still journaled without a result: the next leader settles it)
        if not await self.still_leader():
            report.deposed = True
            return
        await self._submit(port, intent, report, resent=True)
