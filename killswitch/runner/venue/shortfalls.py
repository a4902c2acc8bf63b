"""Shortfalls: closes that ended short are planned again, and what stays open is a residual.

What it owns: a stage entry's closes that ended unfilled or short (an IOC past its protected
price, sent late after a crash, a thin book that filled part of it, a remainder we cancelled)
or that waited for an earlier order on their position (held) leave the position open: the
entry's closes are planned again at the next tick, from the positions then and at fresh prices,
as decision "<entry>/r<n>", within a bounded budget: ``MAX_CLOSE_RETRIES`` rounds after closes
that ended short, and apart from those ``MAX_HELD_ROUNDS`` rounds of closes that waited (a
round a tick while the earlier order is settled: a resting remainder cancelled, or an order
that never reached the venue confirmed so, which takes a confirmation gap after each restart);
a re-plan a stop dropped is found again in the journal when a runner starts leading. What cannot
be closed — below the venue's minimum, still open once the budget is spent, or refused by the
venue until its bound (``CLOSE_REJECTED``, :mod:`..book.rejections`) — is a residual:
recorded, audited and announced once, shown in status, and ended with its position or its
incident.

Must not: send anything (the next tick's closes go through the planner, the journal and the
executor like any other), or drop a residual that still has a position.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ...engine.evaluate import Evaluation
from ...engine.stages import decision_id as make_id, incident_of
from ...events import CLOSE_RESIDUAL, CLOSE_RETRIES_EXHAUSTED, Event
from ...state.store import StateStore
from ..book.book import Book
from ..book.keeper import Keeper
from ..book.rejections import CLOSE_REJECTED, LegKey, leg_of
from ..book.residuals import BELOW_MINIMUM, CLOSE_RETRIES_EXHAUSTED as RETRIES_SPENT, Residual
from ..book.still_open import manual_scope
from ..collaborators import Audits, Saves
from ..storeio import StoreIO
from .execution import ended_short

MAX_CLOSE_RETRIES = 20  # re-plans of an entry's closes that ended short
# rounds an entry's closes may wait behind earlier orders of ours (a minute of 200 ms ticks): a
# wait spends nothing of the above, or a flatten whose closes wait out a confirmation gap a
# round a tick (and one more gap after every restart) gave up with the book open
MAX_HELD_ROUNDS = 300


def budget_spent(retries: int, held: int) -> bool:
    """Whether an entry's re-plans are spent: of closes that ended short, or of waits."""
    return retries - held >= MAX_CLOSE_RETRIES or held >= MAX_HELD_ROUNDS


class Shortfalls(Keeper[Audits]):
    """See the module doc. ``lead`` writes the audit rows under the runner's fencing token;
    ``persist`` saves the book (awaited)."""

    def __init__(self, book: Book, store: StateStore, io: StoreIO, *, dry_run: bool, clock: Callable[[], int],
                 lead: Audits, persist: Saves):
        super().__init__(book, store, io, lead=lead, persist=persist, clock=clock, dry_run=dry_run)
        # the journal of each stage entry in force as lost_replans read it, for lost_refusals right
        # after it (the same leading tick's first steps, nothing journaled between): read once
        self._journaled: dict[str, list] = {}

    async def retry_unfilled(self, decisions: Sequence[str], *, seen: Optional[set[str]] = None,
                             save: bool = True, held: bool = False) -> list[Event]:
        """Plan again the entries of ``decisions`` (closes that ended short, or with ``held``
        closes that waited behind an earlier order) at the next tick — once per entry and tick
        (``seen``: the entries already re-planned this tick), however many of its closes fell
        short. Once the budget is spent, what is still open is recorded as residuals. ``save``
        False: the caller saves the state."""
        events: list[Event] = []
        seen = set() if seen is None else seen
        for did in dict.fromkeys(decisions):
            base = incident_of(did)  # a retry belongs to its entry
            if base in seen:
                continue
            seen.add(base)
            for key, ss in self.book.state.scopes.items():
                policy, _, scope = key.partition("|")
                if ss.stage.level and make_id(policy, scope, ss.stage.level, ss.stage.entries) == base:
                    if budget_spent(ss.stage.retries, ss.stage.held):
                        await self.lead.audit("close_retries_exhausted", self.clock(), {"decision_id": did})
                        events.append(Event.make(CLOSE_RETRIES_EXHAUSTED, self.clock(), {"decision_id": did},
                                                 policy=policy, scope=scope, level=ss.stage.level, incident=base))
                        events += await self._exhausted(policy, scope, ss, base)
                        continue
                    retry = self.book.replan_entry(key, held=held)
                    await self.lead.audit("close_replanned", self.clock(), {"decision_id": did, "retry": retry})
        if decisions and save:
            await self.persist.save()
        return events

    async def lost_replans(self) -> list[str]:
        """The stage entries whose closes ended short (expired, cancelled or filled short of
        their amount, refused) in their latest round, journaled as final, while the re-plan that
        shortfall calls for was never saved: a runner stopped between the two (a crash, a
        takeover). The latest round is the one the saved retry count names; a stage already
        deferred re-plans by itself. Read from the journal when a runner starts leading."""
        out = []
        self._journaled = {}
        for key, ss in sorted(self.book.state.scopes.items()):
            if not ss.stage.level or ss.stage.deferred or budget_spent(ss.stage.retries, ss.stage.held):
                continue  # (a spent budget was reported as residuals when it ran out)
            policy, _, scope = key.partition("|")
            base = make_id(policy, scope, ss.stage.level, ss.stage.entries)
            latest = f"{base}/r{ss.stage.retries}" if ss.stage.retries else base
            entries = self._journaled[base] = await self.io(self.store.journal_of, base, ss.stage.entered_ms or 0)
            if any(e.decision_id == latest and e.final and ended_short(e.status, e.filled or 0.0, e.amount,
                                                                        e.reduce_only) for e in entries):
                out.append(latest)
        return out

    # --- residuals: what closes left open ------------------------------------------------------------

    async def track_residuals(self, ev: Evaluation, plans: Sequence[Any], now: int) -> list[Event]:
        """Bring the residual book up to this tick's snapshots (a residual ends with its
        position or its incident), then record the positions this tick's plans found below the
        venue's minimum. Saved with the tick's state."""
        book = self.book

        def positions(account: str) -> Optional[dict]:
            snap = book.snapshots.get(account)
            if snap is None or not snap.fetch.ok:
                return None
            return {(p.symbol, p.position_side if p.position_side in ("LONG", "SHORT") else p.side): p.contracts
                    for p in snap.positions}

        def in_force(r: Residual) -> bool:
            if r.policy is None:
                return True  # a manual close's residual lasts as long as its position
            ss = book.state.scopes.get(f"{r.policy}|{r.scope}")
            return ss is not None and ss.stage.level > 0 and \
                make_id(r.policy, r.scope, ss.stage.level, ss.stage.entries) == r.incident

        for r, why in book.residuals.refresh(positions, in_force, now):
            await self.lead.audit("close_residual_ended", now, {"incident": r.incident, "account": r.account,
                                                           "symbol": r.symbol, "side": r.side, "why": why})
        # the legs still tried after a refusal end the same way (a stopped one: with its residual)
        for (incident, account, symbol, leg), refusals, why in book.rejections.refresh(
                positions, lambda incident: incident.startswith("manual/") or self._owner(incident) is not None):
            await self.lead.audit("close_rejection_ended", now, {
                "incident": incident, "account": account, "symbol": symbol, "leg": leg, "why": why,
                "tries": refusals.tries, "venue_said": refusals.said})
        owners = {se.plan.decision_id: (se.policy, se.scope) for se in ev.scopes if se.plan is not None}
        events = []
        for p in plans:
            incident = incident_of(p.decision_id)
            policy, scope = owners.get(p.decision_id, (None, manual_scope(p.decision_id)))
            for d in p.residuals:
                code, _, detail = d.reason.partition(": ")
                events += await self._residual(Residual(
                    incident, policy, scope, p.stage, f"{d.venue}/{d.account}", d.symbol, d.side, d.position_side,
                    d.amount, code or BELOW_MINIMUM, detail, now, now))
        return events

    async def rejected(self, stops: Sequence[Any], now: int) -> list[Event]:
        """Legs the venue refused until their bound (:class:`..book.rejections.Stop`): each still open
        in the last snapshot is a ``CLOSE_REJECTED`` residual, its detail the venue's own code and
        message (``2 of 2 orders rejected by the venue: -1106 Parameter 'reduceOnly' sent when not
        required.``), audited and announced once."""
        events: list[Event] = []
        for stop in stops:
            incident = stop.key[0]
            owner = self._owner(incident)
            policy, scope, level = owner if owner is not None else (None, manual_scope(incident), 0)
            events += await self._left_open(stop.key, policy, scope, level, CLOSE_REJECTED, stop.refusals.summary(),
                                            now, stop.refusals.meant or None)
        return events

    async def lost_refusals(self, manual: Sequence[tuple[str, int]]) -> list[Any]:
        """The refusals of closes the journal holds that the saved ledger does not (a runner stopped
        between the venue's answer and the save), counted now
        (:meth:`~..book.rejections.CloseRejections.recount`): of the stage entries in force and of
        the manual closes ``manual`` ((close id, asked at ms)). Read when a runner starts leading;
        the legs that reach their bound: for :meth:`rejected`."""
        incidents: list[tuple[str, int]] = []
        for key, ss in sorted(self.book.state.scopes.items()):
            if ss.stage.level:
                policy, _, scope = key.partition("|")
                incidents.append((make_id(policy, scope, ss.stage.level, ss.stage.entries), ss.stage.entered_ms or 0))
        stops = []
        read, self._journaled = self._journaled, {}  # (what lost_replans read of them just before)
        for incident, since in [*incidents, *manual]:
            known = read.get(incident)
            entries = known if known is not None else await self.io(self.store.journal_of, incident, since)
            stops += self.book.rejections.recount(entries, self.clock())
        return stops

    def _owner(self, incident: str) -> Optional[tuple[str, str, int]]:
        """(policy, scope, level) of the stage entry ``incident`` names; None for a manual close."""
        for key, ss in self.book.state.scopes.items():
            policy, _, scope = key.partition("|")
            if ss.stage.level and make_id(policy, scope, ss.stage.level, ss.stage.entries) == incident:
                return policy, scope, ss.stage.level
        return None

    async def _exhausted(self, policy: str, scope: str, ss: Any, incident: str) -> list[Event]:
        """The entry's retry budget is spent: every position one of its closes was for that the
        last snapshot still shows is a residual, with what its last close did."""
        last = {leg_of(e.venue, e.account, e.symbol, e.side, e.position_side): e
                for e in await self.io(self.store.journal_of, incident, ss.stage.entered_ms or 0)}
        now = self.clock()
        events = []
        for (account, symbol, leg), e in sorted(last.items()):
            detail = (f"{ss.stage.retries} re-plans; last close {e.status or 'pending'} "
                      f"filled={e.filled or 0:g} of {e.amount:g}" + (f" ({e.reason_code})" if e.reason_code else ""))
            events += await self._left_open((incident, account, symbol, leg), policy, scope, ss.stage.level,
                                            RETRIES_SPENT, detail, now)
        return events

    async def _left_open(self, key: LegKey, policy: Optional[str], scope: str, level: int, why: str, detail: str,
                         now: int, shortfall: Optional[float] = None) -> list[Event]:
        """The residual of ``key``'s leg (incident, account, symbol, leg) that its account's last
        snapshot still shows open, with that position's side and size; nothing when it shows none
        (closed meanwhile, by hand or by the venue: nothing is left)."""
        incident, account, symbol, leg = key
        snap = self.book.snapshots.get(account)
        pos = next((p for p in (snap.positions if snap is not None and snap.fetch.ok else ())
                    if p.symbol == symbol and (p.position_side if p.position_side in ("LONG", "SHORT")
                                               else p.side) == leg), None)
        if snap is None or pos is None:
            return []
        return await self._residual(Residual(incident, policy, scope, level, account, symbol, pos.side,
                                             pos.position_side if pos.position_side in ("LONG", "SHORT") else None,
                                             pos.contracts, why, detail, now, snap.ts_event, shortfall))

    async def _residual(self, r: Residual) -> list[Event]:
        """Record ``r``; a new one is audited and announced once (``close_residual``)."""
        if not self.book.residuals.record(r):
            return []
        await self.lead.audit("close_residual", r.since_ms, r.to_json())
        venue = r.account.split("/", 1)[0]
        return [Event.make(CLOSE_RESIDUAL, r.since_ms, {
            "incident": r.incident, "symbol": r.symbol, "side": r.side, "position_side": r.position_side,
            "amount": r.amount, "shortfall": r.shortfall, "why": r.why, "detail": r.detail, "dry_run": self.dry_run},
            policy=r.policy, scope=r.scope, level=r.level or None, venue=venue, account=r.account, symbol=r.symbol,
            leg=r.leg,  # each leg its own alert: a hedge's two legs of one symbol are two pages, not one
            reason=r.why, severity="warning" if r.why == BELOW_MINIMUM else "critical", incident=r.incident)]
