"""Countdowns: heartbeats, the dead man's switch, and the venues' cancel-all-after.

What it owns: taking a source's heartbeat in (its heartbeat age, a signal; and its dead man's
switch) when something names the source, and refusing it otherwise or past the bound on sources
held (:mod:`.beat_sources`); forgetting, at the leader's tick, the sources nothing names any
more; firing an armed source that stayed silent past its timeout — once per silence: its
scope is halted (saved with the tick's state) and the open orders the last good snapshots
attribute to it are cancelled after the tick's orders; a stage's ``arm_exchange_dms``, which
arms the own countdown of each account the entering scope instance acts on (and no other), read
back from the venue's answer, refreshed at a third of the countdown while a scope in such a stage
acts on the account, disarmed once none does and at a deliberate stop, and paged when found
lapsed (the venue may have cancelled the account's orders); and the dead man's switch's status:
whole (``GET /v1/dms``), or as the runner's status shows it — the most urgent sources, the
counts of each kind and where every one is read — so that a status read does not grow with the
sources an operator armed (1,024 made it 170 KB, written to every reader).

Silence is counted from when this runner started listening (start or takeover) at the
earliest: a runner that was down could not hear anyone beat. A halt a firing left stays until
the source is armed again (someone looked) or an operator unlocks it.

Must not: send an order of the policies, or lift a lock a stage holds. Refresh failures, lapses
and cancel failures are audited and shown in status, and retried at the next call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from adapters.base import AdapterError, CancelSelector, DmsStatus

from ...engine.evaluate import Evaluation
from ...engine.scope import accounts_acted_on
from ...engine.state import forget_heartbeats, record_heartbeat
from ...events import DMS_NATIVE_LAPSED, Event
from ...snapshot import Snapshot
from ...state.store import StateStore
from ...view.dms import summarised, venue_said
from ..book.book import Book
from ..book.keeper import Keeper
from ..book.still_open import still_open_of
from ..collaborators import Audits, Saves
from ..lock.lock import DEAD_MANS_SWITCH, iso_ms
from ..storeio import StoreIO
from ..venue.port import Venues
from .beat_sources import SourceGate, named_by

log = logging.getLogger("killswitch.runner.countdowns")


@dataclass(frozen=True)
class Firing:
    """A dead man's switch firing: the source, why, and the orders to cancel (account, order id)."""

    source: str
    reason: str
    silent_s: float
    timeout_s: float
    orders: tuple[tuple[str, str], ...]
    unknown: tuple[str, ...]  # accounts whose last snapshot failed: their orders are not known


class Countdowns(Keeper[Audits]):
    """See the module doc. ``lead`` writes the audit rows under the runner's fencing token and
    says whether the runner leads now (only a leader refreshes the venues' countdowns)."""

    def __init__(self, book: Book, venues: Venues, store: StateStore, io: StoreIO, *,
                 dry_run: bool, clock: Callable[[], int],
                 lead: Audits, counters: dict[str, int], persist: Saves):
        super().__init__(book, store, io, lead=lead, persist=persist, clock=clock, dry_run=dry_run)
        self.venues = venues
        self.listening_since_ms = clock()  # silence is counted from here at the earliest
        self.native_errors: dict[str, str] = {}  # account → why its countdown's last refresh failed
        self.counters = counters  # the runner's: "dms_fired" counts the firings
        self._stored_beats: dict[str, int] = {}  # source → the stored beat last taken in (from a standby)
        self.sources = SourceGate()  # which sources are taken, and the latest refused
        self.at_venue: dict[str, DmsStatus] = {}  # account → the venue's answer to its last arm
        self._lapse_told: set[str] = set()  # accounts whose countdown's lapse was paged (until re-armed)

    def listen_from(self, now: int) -> None:
        """Silence counted from ``now`` at the earliest: another leader moved the state on, and
        the heartbeats sent to it were not heard here."""
        self.listening_since_ms = now

    # --- heartbeats ----------------------------------------------------------------------------------

    def named(self) -> frozenset[str]:
        """The sources a heartbeat is taken from now (see :mod:`.beat_sources`)."""
        accounts = frozenset(name for port in self.venues.values() for name in port.strategy_names())
        return self.sources.named(self.book.graph, accounts, self.book.dms.armed)

    def held(self) -> frozenset[str]:
        """The sources held: a heartbeat age or an entry in the dead man's switch."""
        return frozenset(self.book.state.heartbeats) | frozenset(self.book.dms.sources)

    def refusals(self, sources: Sequence[str], now: int) -> dict[str, str]:
        """Which of ``sources`` are refused (``UNKNOWN_SOURCE``, ``SOURCES_FULL``), each with its
        reason; the rest are to be taken."""
        return self.sources.refusals(sources, self.named(), self.held(), now)

    def beat(self, source: str, ts_ms: int) -> None:
        self.beat_many((source,), ts_ms)

    def beat_many(self, sources: Sequence[str], ts_ms: int) -> None:
        """Each of ``sources`` beat at ``ts_ms`` (the switch copied once, not once a source)."""
        for source in sources:
            record_heartbeat(self.book.state, source, ts_ms)
        self.book.switch_beat(sources, ts_ms)

    def forget_unnamed(self) -> None:
        """Forget the heartbeats and the unarmed switch entries of the sources nothing names any
        more (a policy reloaded without one, a switch disarmed): the bound counts what is named.
        An armed source is named; a halt its firing left is the lock book's, and stays."""
        named = self.named()
        book = self.book
        forget_heartbeats(book.state, named)
        if any(name not in named for name in book.dms.sources):
            book.keep_switch_sources(named)

    async def take_stored_beats(self, now: int) -> None:
        """Beats the standbys stored since the last tick. A beat is stamped with the clock of
        the replica that took it: one ahead of ours is taken as heard now, once (each stored
        beat counts once, so a fast clock can never keep a silent source alive). A stored beat
        of a source nothing names now, or a new one past the bound, is left (as the standby
        that stored it would have refused it now)."""
        named, held = self.named(), set(self.held())
        for source, ts_ms in (await self.io(self.store.heartbeats)).items():
            if self._stored_beats.get(source) == ts_ms or source not in named:
                continue
            if source not in held and len(held) >= self.sources.limit:
                continue
            held.add(source)
            self._stored_beats[source] = ts_ms
            self.beat(source, min(ts_ms, now))

    # --- the dead man's switch -----------------------------------------------------------------------

    def fire_due(self, now: int) -> list[Firing]:
        """Mark the overdue sources fired and halt their scopes (saved with the tick's state;
        the cancels go out with the tick's orders)."""
        book = self.book
        names = book.fire_switch(now, self.listening_since_ms)
        out = []
        for name in names:
            st = book.dms.sources[name]
            silent_s = (now - (st.last_beat_ms or now)) / 1000
            timeout_s = (st.timeout_ms or 0) / 1000
            orders = tuple((key, o.id) for key, snap in sorted(book.snapshots.items()) if snap.fetch.ok
                           for o in snap.orders if o.strategy == name)
            unknown = tuple(sorted(k for k, snap in book.snapshots.items() if not snap.fetch.ok))
            reason = f"DMS_FIRED: source={name} silent={silent_s:g}s timeout={timeout_s:g}s"
            book.lock_source(
                name, "halted", now_ms=now, policy=DEAD_MANS_SWITCH,
                reason=reason + "; held until the source is armed again (ksctl dms arm) or ksctl unlock",
                details={"source": name, "last_beat_ts": iso_ms(st.last_beat_ms) if st.last_beat_ms else None})
            self.counters["dms_fired"] += 1
            out.append(Firing(name, reason, silent_s, timeout_s, orders, unknown))
        return out

    async def cancel_fired(self, fired: Sequence[Firing], now: int) -> None:
        """The open orders of the fired sources, cancelled by id (after the tick's orders)."""
        for f in fired:
            by_account: dict[str, list[str]] = {}
            for key, oid in f.orders:
                by_account.setdefault(key, []).append(oid)
            for key, ids in sorted(by_account.items()):
                doc: dict[str, Any] = {"source": f.source, "account": key, "orders": len(ids)}
                if self.dry_run:
                    await self.lead.audit("dms_cancel_dry_run", now, doc)
                    continue
                res = await self.venues.cancel(key, CancelSelector(order_ids=tuple(ids)), "DMS_FIRED")
                if res.reason is not None:  # the halt holds; the failure is on record
                    await self.lead.audit("dms_cancel_failed", now, {**doc, "reason": res.reason,
                                                                     "said": res.said()})
                    continue
                # what the venue still lists after the cancel is an order left open (saved, paged)
                left = still_open_of(key, res, cause=f"DMS_FIRED source={f.source}", now=self.clock(),
                                     scope=f.source)
                for r in left:
                    self.book.still_open.record(r)
                await self.lead.audit("dms_orders_canceled", now, {
                    **doc, "canceled": len(res.canceled), "failed": {oid: res.said_of(oid) for oid in res.failed},
                    "still_open": [r.order_id for r in left]})

    # --- the venues' countdowns ----------------------------------------------------------------------

    def arm_native(self, ev: Evaluation, snapshots: Sequence[Snapshot]) -> None:
        """A stage's ``arm_exchange_dms``: keep the countdown of every account the entering scope
        instance acts on armed, starting now (a re-entry arms it again at once). Only those: a
        lapse cancels every order of the account, so an account no stage of it acts on is never
        armed. An account reached on a venue without the countdown is said, and left."""
        if self.dry_run:
            return
        for se, _, node, stage in ev.entries(self.book.graph):
            asked = [ms for a in stage.actions for ms in a.asks.countdowns]
            if not asked:
                continue
            for key in sorted(accounts_acted_on(node, se.scope, snapshots, self.venues)):
                port = self.venues.get(key)
                if port is None or not port.capabilities.cancel_all_after:
                    log.warning("DMS_NATIVE_UNSUPPORTED: %s stage %s on %s: %s has no cancel-all-after; "
                                "the runner's own switch and the lock hold there", se.policy, stage.level,
                                se.scope, key)
                    continue
                self.book.arm_venue_countdown(key, min(asked) / 1000)

    def _wanted(self) -> Optional[frozenset[str]]:
        """The accounts a scope in a stage that arms the venues' countdowns acts on now; None
        before any snapshot was read (nothing is disarmed on no knowledge)."""
        book = self.book
        snapshots = list(book.snapshots.values())
        if not snapshots:
            return None
        out: set[str] = set()
        for key, ss in book.state.scopes.items():
            if not ss.stage.level:
                continue
            policy, _, scope = key.partition("|")
            node = book.node(policy)
            stage = next((st for st in node.stages if st.level == ss.stage.level), None) if node else None
            if node is not None and stage is not None and any(a.asks.countdowns for a in stage.actions):
                out |= accounts_acted_on(node, scope, snapshots, self.venues)
        return frozenset(out)

    async def refresh_native(self) -> list[Event]:
        """Re-arm the venues' cancel-all-after countdowns that are due (a third of the countdown
        since the last refresh), each read back from the venue's answer; disarm those of the
        accounts no scope in an arming stage acts on any more. A countdown found lapsed (the
        runner was down, or its refreshes failed past the countdown) is paged once per lapse:
        the venue may have cancelled that account's orders. Leader only; failures are audited
        and shown in status, and retried at the next call. Returns the events to tell."""
        book = self.book
        if self.dry_run or not self.lead.leader or not book.dms.native:
            return []
        now = self.clock()
        wanted = self._wanted()
        # only an account read well now (or no longer the runner's) is let go: a blind one (its
        # snapshot failed, its labels unknown) keeps its countdown rather than lose it for want
        # of knowing it is still wanted
        seen = {k for k, snap in book.snapshots.items() if snap.fetch.ok} | (set(book.dms.native) - set(self.venues))
        for key in sorted((set(book.dms.native) - wanted) & seen) if wanted is not None else ():
            if await self._disarm(key, now, "no stage that arms it acts on the account"):
                book.disarm_venue_countdown(key)
        if not book.dms.native:
            return []
        events: list[Event] = []
        first = False  # a countdown armed at the venue for the first time: saved at once (see below)
        plan = book.dms.native_plan(now, {k: p.capabilities.cancel_all_after for k, p in self.venues.items()})
        for key in plan.refresh:
            countdown_s = book.dms.native[key].countdown_ms / 1000
            if key in plan.lapsed and key not in self._lapse_told:
                events.append(await self._lapsed(key, now))
            try:
                said = await self.venues[key].arm_countdown(countdown_s)
            except Exception as e:  # noqa: BLE001 - a refresh that failed is retried at the next call
                self.native_errors[key] = error_code(e)
                await self.lead.audit("dms_refresh_failed", now, {"account": key, "reason": error_code(e),
                                                             "countdown_s": countdown_s})
                continue
            self.at_venue[key] = said
            first = first or book.dms.native[key].last_refresh_ms is None
            book.venue_countdown_refreshed(key, now)
            self.native_errors.pop(key, None)
            self._lapse_told.discard(key)
        if first:  # a runner stopped before the next tick's save still knows it armed it, and when
            await self.persist.save()
        return events

    async def _lapsed(self, key: str, now: int) -> Event:
        """``key``'s countdown found lapsed: audited, said and paged (once per lapse)."""
        n = self.book.dms.native[key]
        last = n.last_refresh_ms or now
        at = iso_ms(last + n.countdown_ms)
        self._lapse_told.add(key)
        doc = {"account": key, "countdown_s": n.countdown_ms / 1000, "last_refresh_ms": n.last_refresh_ms,
               "lapsed_at": at}
        log.warning("DMS_NATIVE_LAPSED: %s: the venue's cancel-all-after (%gs) lapsed at %s with no refresh: the "
                    "venue may have cancelled every open order of the account since; armed again now",
                    key, n.countdown_ms / 1000, at)
        await self.lead.audit("dms_native_lapsed", now, doc)
        venue = key.split("/", 1)[0]
        return Event.make(DMS_NATIVE_LAPSED, now, doc, account=key, venue=venue,
                          reason=f"DMS_NATIVE_LAPSED: countdown={n.countdown_ms / 1000:g}s lapsed_at={at}")

    async def _disarm(self, key: str, now: int, why: str) -> bool:
        """``key``'s countdown turned off at the venue (audited ``dms_native_disarmed`` with why);
        False, audited and shown, when the venue did not answer or refused (tried again later)."""
        port = self.venues.get(key)
        try:
            if port is not None:
                await port.disarm_countdown()
        except Exception as e:  # noqa: BLE001 - kept, so the next call tries again
            self.native_errors[key] = error_code(e)
            await self.lead.audit("dms_native_disarm_failed", now, {"account": key, "reason": error_code(e),
                                                                   "why": why})
            return False
        self.native_errors.pop(key, None)
        self.at_venue.pop(key, None)
        await self.lead.audit("dms_native_disarmed", now, {"account": key, "why": why})
        return True

    async def stand_down(self) -> tuple[bool, list[str]]:
        """A deliberate stop (SIGTERM) of the leader: every countdown it keeps is turned off at
        the venue, so that its lapse cancels no order while no runner refreshes it (the runner
        that takes up the state arms it again at once). Each is kept in the book as due now.
        A countdown the venue would not turn off is said, with when it cancels the account's
        orders. Returns whether the book changed (to save), and what is left armed, each with why
        (the caller logs it)."""
        book = self.book
        if self.dry_run or not self.lead.leader or not book.dms.native:
            return False, []
        now, left, changed = self.clock(), [], False
        for key in sorted(book.dms.native):
            if await self._disarm(key, now, "the runner stopped; armed again by the runner that takes up the state"):
                book.venue_countdown_stood_down(key)
                changed = True
                continue
            n = book.dms.native[key]
            cancels = iso_ms(n.last_refresh_ms + n.countdown_ms) if n.last_refresh_ms is not None else "unknown"
            left.append(f"{key}: {self.native_errors.get(key)}; the venue cancels its open orders at {cancels} "
                        "unless a runner takes over")
        return changed, left

    # --- status --------------------------------------------------------------------------------------

    def status(self, shown: Optional[int] = None) -> dict:
        """The dead man's switch as ``GET /v1/dms`` shows it: every source held (``sources``), the
        venues' countdowns, the latest refused sources and every source watched. With ``shown``,
        as the status shows it (:func:`~killswitch.view.dms.summarised`): the ``shown`` most urgent sources, the
        watched sources never heard from (at most ``shown``), and ``summary``: how many there are
        of each, the soonest to fire, and where every one is read."""
        now = self.clock()
        dms = self.book.dms
        locked = {h.scope for h in self.book.lock_book.in_force(now) if h.policy == DEAD_MANS_SWITCH}
        states = dms.status(now)
        doc = {"format_version": 1, "listening_since_ts": iso_ms(self.listening_since_ms), "sources": {},
               "native": self._native_status(now), "refused": self.sources.status(now), "watched": self.watched()}
        if shown is not None:
            return summarised(doc, states, locked, shown)
        doc["sources"] = {name: {**st.to_json(), "locked": name in locked} for name, st in states.items()}
        return {**doc, "summary": None}  # (every source listed)

    def _native_status(self, now: int) -> dict:
        dms = self.book.dms
        native: dict = {}
        if dms.native:
            plan = dms.native_plan(now, {k: p.capabilities.cancel_all_after for k, p in self.venues.items()})
            for key, n in sorted(dms.native.items()):
                last = n.last_refresh_ms
                native[key] = {
                    "countdown_s": n.countdown_ms / 1000,
                    "last_refresh_age_s": None if last is None else max(0, now - last) / 1000,
                    # when the venue cancels everything if no refresh comes before
                    "cancels_in_s": None if last is None else max(0, last + n.countdown_ms - now) / 1000,
                    "refresh_due": key in plan.refresh, "lapsed": key in plan.lapsed,
                    "supported": key not in plan.unsupported, "error": self.native_errors.get(key),
                    "at_venue": venue_said(self.at_venue.get(key))}
                if native[key]["at_venue"].startswith("not armed"):  # nothing the venue would cancel
                    native[key]["cancels_in_s"] = None
        return native

    def watched(self) -> dict[str, list[str]]:
        """Every source a heartbeat is taken from, with what names it (heard from or not)."""
        accounts = {name for port in self.venues.values() for name in port.strategy_names()}
        return {s: list(by) for s, by in named_by(self.book.graph, accounts, self.book.dms.armed).items()}


def error_code(e: BaseException) -> str:
    """An adapter's reason code, TIMEOUT, or the error's type: never its text."""
    if isinstance(e, AdapterError):
        return e.reason.value
    return "TIMEOUT" if isinstance(e, asyncio.TimeoutError) else type(e).__name__
