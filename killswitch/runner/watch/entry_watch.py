"""The venue watch's fast path: a bot's new entry order cancelled at the stream's event, not at a tick.

A tick's venue watch (:mod:`.enforcement`) reads the whole account first: at 10,000 positions
the snapshot, the evaluation and the watch over every leg stand between a stream's event and the
cancel. Here, an order a private stream delivers while a lock that cancels binds its account
(the adapter's ``set_entry_watch``: an open order that is not reduce-only, came or changed) is
judged alone, by the same pure rule and under the same key as the tick's watch
(:func:`~.enforce.entry`), from the lock book as it is now and that order — and, under
``reducing``, the stream's positions of its symbol (none trusted: left to the tick).

What it owns: one short task per order found breaking a lock, which

1. reads back what was audited before a new token (a start, a takeover), as the tick does;
2. marks its cancel as its own (:meth:`Enforcement.sending_cancel`) and reports it through
   :meth:`Enforcement.claim` — its key counts as reported and the order as being cancelled
   *before* the fenced ``lock_violation`` row is awaited, so that a tick running meanwhile
   neither audits nor cancels it again — then tells the sinks, counts it and keeps it for
   status exactly as the tick would (the page grouped by strategy and scope);
3. decides again from the lock book as it is after the row (an operator's unlock applied
   meanwhile, in the turn: nothing is sent), and sends the cancel by venue order id through
   :meth:`Enforcement.cancel` (the fence asked first; nothing in a dry run), which audits what
   it came to and marks a confirmed cancel so that the ticks after it do not send it again.

The tick still runs after (the stream's wake) and still watches everything; what this did is
read through :class:`Enforcement`'s ``reported``, ``sending``, ``cancelled`` and ``claimed``,
which :class:`Enforcement`'s methods alone write.

Crash points: the same as the tick's — a stop between the row and the cancel leaves the order
open and its key audited: the next leader's first tick reads the key back and cancels it with
no second row or page; a stop after the cancel leaves nothing to redo (the order is gone; the
cancel's result row may be lost, as the tick's).

Turn-taking: this runs outside the turn (:mod:`..lease.turn`) — waiting for it would wait out the very
tick it exists to overtake — and changes none of what the turn guards (the lock book, the stages,
the baselines, the saved state): it reads the lock book with no await between the read and the
decision, and again before the cancel leaves; its own marks are set before any await. Only a
leader acts (a standby's stream, if one runs, is ignored), and the cancel asks the fence.

Not judged here, left to the tick: an order whose client id has the runner's own shape (whether
it is journaled is a store read), an order under ``reducing`` without a trusted stream position,
and the extra per-order checks (pre-trade limits).

Must not: take the Runner, decide anything itself (the pure function does), or touch the book.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional

from ...events import Event
from ...metrics import Registry
from ...orders import CancelIntent
from ...snapshot import Order, Snapshot
from ...state.store import FencedError, StoreError
from ..venue.port import Venues
from .enforce import LOCK_VIOLATION, Violation, entry, with_step
from .enforcement import Enforcement

log = logging.getLogger("killswitch.runner.entry_watch")


class EntryWatch:
    """See the module doc. ``emit``: the sinks' (a violation's event between ticks)."""

    def __init__(self, enforcement: Enforcement, venues: Venues,
                 emit: Callable[[Event], None], clock: Callable[[], int]):
        self.enforcement = enforcement
        self.venues = venues
        self.emit = emit
        self.clock = clock
        self.taken = 0  # orders cancelled (or, in a dry run, reported) here, between ticks
        self._deciding: set[str] = set()  # the keys of the orders a task of this is on
        self._tasks: set[asyncio.Task] = set()
        self._index: dict[str, tuple[int, dict[str, tuple[float, float]]]] = {}  # account → (snapshot id, by symbol)

    def attach(self) -> None:
        """Give the callback to every account's port (a stream that can hand over entries calls it)."""
        for port in self.venues.values():
            port.set_entry_watch(self.on_entry)

    def on_entry(self, account: str, order: Order) -> None:
        """The adapter's callback (on the loop): ``order`` came or changed on ``account``'s stream."""
        e = self.enforcement
        if not e.lead.leader:
            return
        key = f"cancel|{account}|{order.id}"
        if order.type == "market":  # it does not rest: filled at once, its growth is the revert's (the tick's)
            return
        if key in e.reported or key in self._deciding or e.handled(account, order.id):
            return
        now = self.clock()
        v = self._judge(account, order, now)
        if v is None:
            return
        self._deciding.add(key)
        task = asyncio.get_running_loop().create_task(self._take(v, order, now), name=f"entry-watch {key}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _judge(self, account: str, order: Order, now: int) -> Optional[Violation]:
        """The pure decision, with the stream's positions of the order's symbol (under
        ``reducing``) and its mark and contract size as the account was last read."""
        book = self.enforcement.book
        venue = account.partition("/")[0]
        port = self.venues.get(account)
        legs = port.stream_legs(order.symbol) if port is not None else None
        mark, size = self._marks(account, book.snapshots.get(account)).get(order.symbol, (None, 1.0))
        return with_step(entry(book.lock_book, venue, account, order, now, legs=legs, mark=mark, contract_size=size),
                         book.snapshots.get(account))

    def _marks(self, account: str, snap: Optional[Snapshot]) -> dict[str, tuple[float, float]]:
        """Each held symbol's mark and contract size (notional per contract over the mark), as
        the tick's watch values an order; made once per snapshot, when an order needs it."""
        if snap is None:
            return {}
        known = self._index.get(account)
        if known is not None and known[0] == id(snap):
            return known[1]
        out = {p.symbol: (p.mark_price, p.notional / p.contracts / p.mark_price) for p in snap.positions
               if p.contracts > 0 and p.mark_price}
        self._index[account] = (id(snap), out)
        return out

    async def _take(self, v: Violation, order: Order, now: int) -> None:
        e = self.enforcement
        pair = (v.account, str(v.order_id))
        try:
            await e.recover(e.book.lock_book.in_force(now), now)
            if v.key in e.reported or e.handled(*pair) or not e.lead.leader or self._gone(v):
                return  # the tick took it meanwhile, the lease went, or it filled (a revert's, if it grew)
            with e.sending_cancel(*pair):  # (before the row is awaited: a tick meanwhile leaves it to this)
                for event in await e.claim(v, now):
                    self.emit(event)
                if e.dry_run:
                    self.taken += 1
                    return
                later = self.clock()
                if self._judge(v.account, order, later) is None:  # the lock changed in the turn meanwhile
                    log.info("%s: %s order %s not cancelled: no lock cancels it any more", LOCK_VIOLATION, v.account,
                             v.order_id)
                    return
                if self._gone(v):
                    return
                await e.cancel([CancelIntent(v.venue, v.account.partition("/")[2], "entries",
                                             (str(v.order_id),), LOCK_VIOLATION)], later)
                if pair in e.cancelled:
                    self.taken += 1
        except FencedError:  # another runner leads: it reads the row back, or reports the order itself
            e.lead.fenced_off()
        except StoreError as err:  # not reported: the next tick reports and cancels it
            log.warning("%s: %s order %s left to the next tick: the store failed (%s)", LOCK_VIOLATION, v.account,
                        v.order_id, type(err).__name__)
            e.lead.store_failed()

    def _gone(self, v: Violation) -> bool:
        """The stream no longer holds the order open: it filled or ended since it came (a
        cancel then would miss and list every open order, the venue's heaviest read)."""
        port = self.venues.get(v.account)
        return port is not None and port.stream_holds_open(str(v.order_id)) is False

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        name = task.get_name().partition(" ")[2]
        self._deciding.discard(name)
        if not task.cancelled() and task.exception() is not None:
            log.error("ENTRY_WATCH_FAILED: %s: %r (the tick's watch takes the order)", name, task.exception())

    async def aclose(self) -> None:
        """The tasks under way ended (a stop)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # ending them, not judging them

    def collect_metrics(self, registry: Registry) -> None:
        registry.sampled("killswitch_lock_violations_fast_total", "counter",
                         "Entry orders that broke a lock cancelled at their stream event, before a tick read the "
                         "account (a dry run: reported).", ()).add(self.taken)
