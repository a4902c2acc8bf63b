"""The venue watch carried out: what :func:`~killswitch.runner.watch.enforce.watch` decides, done once a tick.

What it owns: the tick's one call (:meth:`Enforcement.watch`, after evaluation and the tick's
plans, before the journal) that

1. decides from the lock book, this tick's snapshots, the baselines the book keeps and the
   runner's own client order ids (read from the journal only when an order would be cancelled:
   its pending intents and those of the last day), never on a leg a plan of this tick closes;
2. keeps the new baselines in the book (saved with the tick's state: a restart or a takeover
   holds positions to the same sizes);
3. writes one ``lock_violation`` audit row per violation not reported yet (fenced, before any
   cancel or revert leaves), then tells the sinks (``LOCK_VIOLATION``, labelled by scope and
   strategy: the notification routes group a violation repeated every tick into one page),
   counts it (``killswitch_lock_violations_total{scope,strategy,action}``) and keeps the latest
   for status and the console (:mod:`.shown`, which a start or a takeover fills with the last
   day's, read back from the audit trail: :meth:`Enforcement.recall`);
4. sends the cancels at once (one request per account, by venue order id; nothing in a dry run,
   nothing once the fence is lost), audits what each came to (one ``violation_cancel_result``
   row per account: each venue order id, ``canceled`` or the venue's refusal; what the closure
   report shows), and hands the reverts back to the tick as plans, to be journaled with its own
   and sent by the executor (reduce-only, a spot holding's a sale of at most what is held; client
   ids derived from the decision), unless an order of ours on that leg is not final yet (a sale a
   plan of the tick makes of a spot holding closes its leg as a reduce-only order does). A
   revert's violation is
   attributed before its row is written by the fills that grew the leg (the adapter's read of
   the account's trades, :mod:`.attribution`): the bot's order and strategy, never the runner's
   own revert, which the row names apart (``revert_client_order_id``); and each revert sent is
   followed in the journal until final (:meth:`Enforcement.follow_reverts`, at the tick's end
   and the next watch), so that status and the console say what the history says (filled, and
   how much);
5. asks each adapter to watch the entries of an account a lock that cancels may bind
   (``wake_on_entries``): a polled one lists every open order at its next snapshot and then
   at a short age, a streaming one wakes the runner on a new open order that is not
   reduce-only and hands that order to the fast path (:mod:`.entry_watch`; what it took is
   kept here by this class's methods alone, so the tick after neither audits nor cancels it
   again). The tick asks this before it reads the snapshots (:meth:`Enforcement.watch_entries`),
   so that the first snapshot under a lock placed since the last tick lists the entries the
   watch judges, and the watch asks again for a lock the tick itself placed.

The baselines of an account's first tick under a lock are the account as the previous call read
it (before the lock was placed), when that read is recent (``BEFORE_MAX_MS``).

Crash points. The audit row is the record of "already reported": a runner that starts leading
reads back the keys of the ``lock_violation`` rows written since the oldest lock in force, so a
stop between the row and the cancel (or the revert's journal) cancels again at the next tick
without a second row or page. A revert is journaled before it is sent like every close: a stop
after the journal leaves a pending intent the next runner reconciles, and the leg waits for it
(no second revert of the same growth). A page is told once the row is written; a stop between
the two loses that page, never the row.

Extra per-order checks (``checks``, :data:`~killswitch.runner.watch.enforce.OrderCheck`): the caller
hands in its own when it builds this (pre-trade limits applied to orders that never asked); what
they flag is cancelled, audited, paged and counted the same way, under the flag's kind.

Must not: take the Runner, decide anything itself (the pure function does), or send an order
(the executor does).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, Awaitable, Callable, Iterator, Mapping, Optional, Sequence

from adapters.base import CancelSelector

from ...engine.plans import Plan
from ...events import LOCK_VIOLATION as LOCK_VIOLATION_EVENT, Event
from ...metrics import Registry
from ...orders import CancelIntent
from ...snapshot import Snapshot
from ...state.store import FencedError, StateStore
from ...state.violations import CANCEL_RESULT_KIND, REDUCED_OUTCOME
from ..book.book import Book
from ..book.rejections import leg_of
from ..book.still_open import still_open_of
from ..gate.request import lock_keys
from ..lease.leadership import Leadership
from ..lock.lock import GLOBAL_SCOPE, LockStatus
from ..storeio import StoreIO
from ..venue.port import Venues
from .attribution import FillRead, reduced_by_bots, reductions_to_read
from .enforce import REDUCED, UNKNOWN_STRATEGY, OrderCheck, SizesMemo, Violation, enforce_of, watch as decide
from .growth import BEFORE_MAX_MS, FILL_READS_MAX, GrowthNames, read_fills
from .shown import Shown, revert_outcome

log = logging.getLogger("killswitch.runner.enforcement")

AUDIT_KIND = "lock_violation"
OWN_HISTORY_MS = 86_400_000  # journaled client ids read back as ours: the last day's (and every pending one)
RECOVER_LIMIT = 100_000
STILL_LISTED_MS = 30_000  # a cancel the venue confirmed, its order still listed this long after: cancelled again


class Enforcement:
    """See the module doc. ``lead``: the fenced audit and the fence asked before a cancel
    leaves; ``venues``: the accounts' ways out, by account key."""

    def __init__(self, book: Book, store: StateStore, io: StoreIO, lead: Leadership,
                 venues: Venues, *, dry_run: bool, clock: Callable[[], int],
                 checks: Sequence[OrderCheck] = ()):
        self.book = book
        self.store = store
        self.io = io
        self.lead = lead
        self.venues = venues
        self.dry_run = dry_run
        self.clock = clock
        self.checks: list[OrderCheck] = list(checks)  # extra per-order checks (see the module doc)
        self.reported: set[str] = set()  # the keys of the violations audited (see :meth:`recover`)
        self._recovered_fence: Optional[int] = None
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (scope, strategy, action) → violations
        self.shown = Shown(clock())  # the latest violations, for status and the console
        self.waking: dict[str, bool] = {}  # account → whether its adapter was asked to watch its entries
        self._noted: set[str] = set()  # notes said once (a revert below the venue's minimum)
        # shared with the stream's fast path (:mod:`.entry_watch`), which reports and cancels an
        # order between two ticks: see :meth:`report` and :meth:`_settle`
        self.calls = 0  # the tick's watch calls started (a claim is settled two calls later)
        self.claimed: dict[str, tuple[str, str, int]] = {}  # key → (account, order id, calls) reported between ticks
        self.sending: set[tuple[str, str]] = set()  # (account, order id) whose cancel one of the two is sending
        # (account, order id) → (calls, ms) when the venue said it was cancelled
        self.cancelled: dict[tuple[str, str], tuple[int, int]] = {}
        self._before: dict[str, Snapshot] = {}  # the accounts as the last watch call read them
        self._before_at: Optional[int] = None  # ... when
        self._memo = SizesMemo()  # what the watch worked out at its last call (see enforce.SizesMemo)
        # a revert sent back: its client order id → (its decision, when), followed in the journal
        # until final (:meth:`follow_reverts`)
        self._reverts: dict[str, tuple[str, int]] = {}
        # a revert's violation by its size-step key, as attributed, while it stands with nothing sent
        self.names = GrowthNames(venues, self._own, dry_run)  # whose fills grew each reverted leg

    def watch_entries(self, now: int) -> None:
        """Before the tick reads its snapshots: see the module doc, 5."""
        self._wake_on_entries(self.book.lock_book.in_force(now))

    async def watch(self, snapshots: Sequence[Snapshot], plans: list[Plan], now: int, events: list[Event]
                    ) -> list[Plan]:
        """The tick's venue watch (see the module doc): ``plans`` with the reverts added; the
        violations' events appended to ``events``."""
        self.calls += 1
        await self.follow_reverts()
        holds = self.book.lock_book.in_force(now)
        self._wake_on_entries(holds)  # (a lock this tick placed, or one placed while it read)
        # the accounts as read before a lock came to bind them: the baselines of its first tick
        # (a read older than BEFORE_MAX_MS, from before a spell as a standby, is not taken)
        before = self._before if self._before_at is not None and now - self._before_at <= BEFORE_MAX_MS else {}
        previous = self._before_at  # (whatever its age: where a reduction's fills are read from)
        self._before = {f"{s.venue}/{s.account}": s for s in snapshots}
        self._before_at = now
        # a check with nothing to check (no policy sets limits) costs the tick nothing
        checks = [c for c in self.checks if getattr(c, "active", _always)()]
        if not holds and not checks:
            self.book.keep_baselines({})
            self.reported.clear()
            self.claimed.clear()
            self.cancelled.clear()
            return plans
        await self.recover(holds, now)
        closing = closing_legs(plans, snapshots)
        w = decide(self.book.lock_book, snapshots, frozenset(), self.book.baselines, now, closing=closing,
                   checks=checks, before=before, memo=self._memo)
        if w.cancels:  # the runner's own orders are never cancelled: read them only when it matters
            w = decide(self.book.lock_book, snapshots, await self._own(now), self.book.baselines, now,
                       closing=closing, checks=checks, before=before, memo=self._memo)
        self.book.keep_baselines(w.baselines)  # saved with the tick's state
        # whose fills grew each leg, by the venue's own ids: what keys a revert's violation (a
        # leg back at the same size step by another order is a breach of its own)
        found = await self.names.name(list(w.violations), w.baselines, snapshots, now)
        new = [v for v in found if v.key not in self.reported]
        shrank = [v for v in w.reduced if v.key not in self.reported]
        if shrank:  # a violation only where a bot's fill did it
            ours = await self._ours(now)
            new += await _reduced(shrank, ours, frozenset(e.client_order_id for e in ours),
                                  partial(read_fills, self.venues), lambda v: previous if previous is not None
                                  else _taken(self.book.baselines.get(v.account), now) - BEFORE_MAX_MS)
        if new:  # audited before anything leaves: the row is what says "reported" after a stop
            await self.report(new, now)
            self.tell(new, now, events)
        reverts = await self._not_busy(list(w.reverts), now) if w.reverts else []
        # what an account read now no longer shows is forgotten (growth again is a new violation),
        # but for an order the fast path reported after this tick's read (see :meth:`_settle`)
        self._settle(snapshots, now)
        read = {f"{s.venue}/{s.account}" for s in snapshots if s.fetch.ok}
        self.reported = {k for k in self.reported if k.split("|")[1] not in read or k in self.claimed} | {
            v.key for v in (*found, *w.reduced)}
        for note in w.notes:
            if note not in self._noted:
                self._noted.add(note)
                log.warning("%s", note)
        # an order a plan of this tick cancels already (a stage's cancel_orders) is left to it, and
        # so is one whose cancel the fast path is sending or the venue confirmed
        planned = {(c.venue, c.account, oid) for p in plans for c in p.cancels for oid in c.order_ids}
        cancels = [replace(c, order_ids=ids) for c in w.cancels
                   if (ids := tuple(i for i in c.order_ids if (c.venue, c.account, i) not in planned
                                    and not self.handled(f"{c.venue}/{c.account}", i)))]
        if cancels and not self.dry_run:
            await self.cancel(cancels, now)
        return plans + reverts if reverts else plans

    # --- what is reported ------------------------------------------------------------------------------

    async def report(self, new: Sequence[Violation], now: int) -> None:
        """The audit rows of ``new`` in one fenced append. Their keys count as reported from
        before the append is awaited (the tick and the fast path never both report one), and
        not any more if it fails (reported at the next tick)."""
        keys = {v.key for v in new} - self.reported
        self.reported |= keys
        try:
            await self.lead.audit_many([(AUDIT_KIND, now, {**v.to_json(), "dry_run": self.dry_run}) for v in new])
        except BaseException:
            self.reported -= keys
            raise

    async def claim(self, v: Violation, now: int) -> list[Event]:
        """An entry the fast path (:mod:`.entry_watch`) found breaking a lock between two ticks:
        reported (:meth:`report`), claimed until a read after it no longer lists the order (see
        :meth:`_settle`), counted and kept as the tick would; its events, for the sinks."""
        await self.report([v], now)
        self.claimed[v.key] = (v.account, str(v.order_id), self.calls)
        events: list[Event] = []
        self.tell([v], now, events)
        return events

    @contextmanager
    def sending_cancel(self, account: str, order_id: str) -> Iterator[None]:
        """The order's cancel is the fast path's for the block's length: marked before the block
        awaits anything, so that a tick meanwhile neither audits nor cancels it (:meth:`handled`)."""
        pair = (account, order_id)
        self.sending.add(pair)
        try:
            yield
        finally:
            self.sending.discard(pair)

    def handled(self, account: str, order_id: str) -> bool:
        """Whether an order's cancel is being sent (by the tick or the fast path), or the venue
        said it was cancelled and no tick since read the account without it."""
        return (account, order_id) in self.sending or (account, order_id) in self.cancelled

    def _settle(self, snapshots: Sequence[Snapshot], now: int) -> None:
        """The fast path's claims and confirmed cancels, ended once an account read after them
        (two watch calls on: the snapshots of the call after a claim may have been read before
        it) no longer lists the order. A cancel the venue confirmed whose order is still listed
        ``STILL_LISTED_MS`` later is the tick's again (a list read before the cancel is kept a
        while; past that, the venue's word is checked by cancelling once more)."""
        listed = {f"{s.venue}/{s.account}": {o.id for o in s.orders} for s in snapshots if s.fetch.ok}
        for key, (account, oid, at) in list(self.claimed.items()):
            if self.calls >= at + 2 and account in listed and oid not in listed[account]:
                del self.claimed[key]
        for (account, oid), (at, ms) in list(self.cancelled.items()):
            if self.calls >= at + 2 and account in listed and (
                    oid not in listed[account] or now - ms > STILL_LISTED_MS):
                del self.cancelled[(account, oid)]

    async def recover(self, holds: Sequence[Any], now: int) -> None:
        """Under a new fencing token (a start, a takeover): the keys of the violations audited
        since the oldest lock in force, so that none is audited or paged twice."""
        if self._recovered_fence == self.lead.fence:
            return
        since = min((h.created_ms for h in holds), default=now) if holds else now - OWN_HISTORY_MS
        rows = await self.io(self.store.audit_rows, since, (AUDIT_KIND,), RECOVER_LIMIT)
        self.reported |= {str(r.payload.get("key")) for r in rows if isinstance(r.payload, dict)}
        self._recovered_fence = self.lead.fence

    async def recall(self, now: int) -> None:
        """At a start or a takeover: the last day's violations shown again (:meth:`.shown.Shown.recall`)
        and a revert among them not final yet followed in the journal."""
        self._reverts.update(await self.shown.recall(self.store, self.io, now))

    def tell(self, new: Sequence[Violation], now: int, events: list[Event]) -> None:
        for v in new:
            self.counts[(v.scope, v.strategy, v.action)] += 1
            # for venue_violations (engine/tally.py): an order of unknown strategy is no strategy's
            self.book.counted.violated(v.account, "-" if v.strategy == UNKNOWN_STRATEGY else v.strategy, v.symbol,
                                       v.kind)
            self.shown.keep({**v.to_json(), "ts_ms": now, "dry_run": self.dry_run,
                             "outcome": REDUCED_OUTCOME if v.action == REDUCED else None})
            log.warning("%s: %s %s %s %s %g (notional %s) client order id %s strategy %s%s: %s",
                        v.kind, v.account, v.action, v.symbol, v.side, v.amount,
                        "unknown" if v.notional is None else f"{v.notional:,.2f}", v.client_order_id or "-",
                        ", ".join(v.strategies) if v.strategies else v.strategy,
                        f" ({v.attribution})" + (f"; the runner's own revert {v.revert_id or '-'}"
                                                 if v.action == "revert" else "")
                        if v.action in ("revert", REDUCED) else "", v.reason)
            events.append(Event.make(LOCK_VIOLATION_EVENT if v.kind == "LOCK_VIOLATION" else v.kind.lower(), now,
                                     {**v.to_json(), "dry_run": self.dry_run}, scope=v.scope, strategy=v.strategy,
                                     reason=v.kind, venue=v.account.partition("/")[0], account=v.account,
                                     symbol=v.symbol))

    # --- what it sends -----------------------------------------------------------------------------------

    async def cancel(self, cancels: Sequence[CancelIntent], now: int) -> None:
        """Each account's cancel by venue order id; a refusal is said with the venue's code and
        tried again at the next tick (the order is still seen open, its violation already audited)."""
        if not await self.lead.fence_holds():
            return
        results: list[tuple[str, int, dict]] = []
        for c in cancels:
            key = f"{c.venue}/{c.account}"
            sending = {(key, oid) for oid in c.order_ids} - self.sending
            self.sending |= sending
            try:  # (a failure is tried again at the next tick: the order is still seen open)
                res = await self.venues.cancel(key, CancelSelector(order_ids=c.order_ids), c.reason)
            finally:
                self.sending -= sending
            if res.reason is not None:
                self.shown.cancelled(c.order_ids, res.said())
                results.append(_result(key, {oid: res.said() for oid in c.order_ids}, now))
                continue
            for oid in res.canceled:
                self.cancelled[(key, oid)] = (self.calls, now)
            said = {oid: res.said_of(oid) for oid in res.failed}  # the venue's code and words
            self.shown.cancelled(tuple(res.failed), None, failed=said)
            self.shown.cancelled(res.canceled, "canceled")
            results.append(_result(key, {**said, **{oid: "canceled" for oid in res.canceled}}, now))
            # an order the venue still lists after its cancel: left open (saved, paged once), tied
            # to the lock's scope its violation names
            scopes = self.shown.scopes()
            for fact in still_open_of(key, res, cause=c.reason, now=self.clock()):
                self.book.still_open.record(replace(fact, scope=scopes.get(fact.order_id, key)))
        rows = [r for r in results if r[2]["outcomes"]]
        try:  # the cancels' results for the closure report; a stop before it leaves them unrecorded
            if rows:
                await self.lead.audit_many(rows)
        except FencedError:  # deposed since the cancels left: the next leader's tick tells what is open
            log.warning("LOCK_VIOLATION_CANCEL_RESULT_UNRECORDED: the lease was lost after the cancels of %s",
                        ", ".join(r[2]["account"] for r in results))

    async def _own(self, now: int) -> frozenset[str]:
        """The client order ids the runner journaled: every pending intent and the last day's."""
        return frozenset(e.client_order_id for e in await self._ours(now))

    async def _ours(self, now: int) -> list[Any]:
        return [*await self.io(self.store.pending_intents),
                *await self.io(self.store.journal, 100_000, now - OWN_HISTORY_MS)]

    async def follow_reverts(self) -> None:
        """Each revert sent back followed to its end in the journal (what the history and the
        closure report read): its row's outcome says what the journal says (``revert filled 1``,
        ``revert partially_filled 0.4 of 1``, ``revert rejected: ...``) until it is final."""
        if not self._reverts:
            return
        read: dict[tuple, dict] = {}  # (decision, since) -> its journal by client id: one read each
        for cid, (decision, at) in list(self._reverts.items()):
            if (decision, at) not in read:
                read[(decision, at)] = {e.client_order_id: e for e in await self.io(self.store.journal_of, decision,
                                                                                     at)}
            entry = read[(decision, at)].get(cid)
            if entry is None:
                continue
            self.shown.reverted(cid, revert_outcome(entry))
            if entry.final:
                del self._reverts[cid]

    async def _not_busy(self, reverts: list[Plan], now: int) -> list[Plan]:
        """The reverts whose leg has no order of ours still pending (an earlier revert, a close)."""
        busy = {leg_of(e.venue, e.account, e.symbol, e.side, e.position_side)
                for e in await self.io(self.store.pending_intents)}
        out = []
        for p in reverts:
            o = p.orders[0]
            if leg_of(o.venue, o.account, o.symbol, o.side, o.position_side) in busy:
                continue
            out.append(p)
            self.shown.reverted(o.client_order_id, "dry run: not sent" if self.dry_run else "revert journaled",
                                unless_said=True)
            if not self.dry_run:
                self._reverts[o.client_order_id] = (p.decision_id, now)
        return out

    # --- the streams ---------------------------------------------------------------------------------------

    def _wake_on_entries(self, holds: Sequence[Any]) -> None:
        """Ask each adapter to watch its account's entries while a lock that cancels may bind
        it (one of it, its venue or global, or any symbol or strategy lock; see the module doc,
        5.); told only when that changes."""
        accounts = set(self.venues)
        venues = {k.split("/", 1)[0] for k in accounts}
        for key, port in self.venues.items():
            mine = lock_keys(account=key)
            on = any(enforce_of(LockStatus.of(h)).cancel for h in holds
                     if h.scope in mine or (h.scope not in accounts and h.scope not in venues
                                            and h.scope != GLOBAL_SCOPE))
            if self.waking.get(key, False) != on:
                self.waking[key] = on
                port.wake_on_entries(on)

    # --- what others read ----------------------------------------------------------------------------------

    def status(self) -> dict:
        """The violations as status and the console show them (:meth:`.shown.Shown.status`)."""
        return self.shown.status()

    def collect_metrics(self, registry: Registry) -> None:
        fam = registry.sampled("killswitch_lock_violations_total", "counter",
                               "Orders and positions that broke a lock at the venue, by the lock's scope, the strategy "
                               "they belong to and what was done (cancel, revert).", ("scope", "strategy", "action"))
        for (scope, strategy, action), n in sorted(self.counts.items()):
            fam.add(n, scope=scope, strategy=strategy, action=action)


async def _reduced(new: list[Violation], ours: Sequence[Any], own: frozenset[str],
                   read: Callable[[str, str, int], Awaitable[FillRead]], since_of: Callable[[Violation], int]
                   ) -> list[Violation]:
    """The legs ``new`` that bots' fills shrank under a halt, as :mod:`.attribution` names them
    (:func:`reductions_to_read`, :func:`reduced_by_bots`): the trades read (``read``) since the
    last watch (``since_of``), but for a leg an order of ours (``ours``: the journal's) faced since."""
    todo = reductions_to_read(new, ours, since_of)
    wanted: dict[tuple[str, str], int] = {}
    for v, since in todo:
        if len(wanted) < FILL_READS_MAX:
            wanted.setdefault((v.account, v.symbol), since)
    reads = dict(zip(wanted, await asyncio.gather(*(read(a, sym, since) for (a, sym), since in wanted.items()))))
    named = (reduced_by_bots(v, reads.get((v.account, v.symbol)), own, since) for v, since in todo)
    return [v for v in named if v is not None]


def _result(account: str, outcomes: dict[str, str], now: int) -> tuple[str, int, dict]:
    """The audit row of one account's cancel: each venue order id and what became of it
    (``canceled``, or the venue's refusal)."""
    return CANCEL_RESULT_KIND, now, {"account": account, "outcomes": outcomes}


def _taken(record: Any, now: int) -> int:
    """When an account's baselines were taken (``now`` when it has none)."""
    return int(record.get("since", now)) if isinstance(record, Mapping) else now


def closing_legs(plans: Sequence[Plan], snapshots: Sequence[Snapshot]) -> set[tuple[str, str, str]]:
    """The legs the orders of ``plans`` close (never reverted by the same tick): each reduce-only
    order's, and each sale of a spot account's (a ``close_all``'s of a holding: its long leg)."""
    spot = {f"{s.venue}/{s.account}" for s in snapshots if s.market_type == "spot"}
    return {leg_key(o) for p in plans for o in p.orders
            if o.reduce_only or (o.side == "sell" and f"{o.venue}/{o.account}" in spot)}


def leg_key(o: Any) -> tuple[str, str, str]:
    """The leg a reduce-only order of a plan closes, as the watch names legs: (account, symbol,
    LONG | SHORT in hedge mode, else the side a sell (long) or a buy (short) closes)."""
    leg = o.position_side if o.position_side in ("LONG", "SHORT") else ("long" if o.side == "sell" else "short")
    return f"{o.venue}/{o.account}", o.symbol, leg


def _always() -> bool:
    return True
