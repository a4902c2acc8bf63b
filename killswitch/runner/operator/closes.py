"""Manual emergency closes: ``ksctl close`` and where each one stands.

What it owns: an operator's close of a policy instance's scope — previewed now from the last
snapshots (``--dry-run``: the orders it would send, refused as ``INCOMPLETE`` when an
account of the scope could not be read), audited, then planned at the next tick as ``close_all``
through the planner, the journal and the executor like a stage's closes (reduce-only, never
larger than the position), under the id ``manual/<scope>/m<ms>``; a close whose orders waited
for an earlier order on their position is planned again at the next tick, a bounded number of
times; and the progress of the latest closes (``close_progress``), read from the journal.

A close survives a stop of its runner: the request is audited before it is answered
(``manual_close_requested``), and each tick that plans it audits that too
(``manual_close_planned``, after the journal and the state save). A runner that starts leading
reads both back (:meth:`ManualCloses.recover`): what was planned is tracked again (its orders are
in the journal, reconciled by client order id); a request no tick planned is planned at this tick
when it is at most ``RECOVER_WITHIN_MS`` old, under its own id (deterministic client order ids:
nothing journaled is sent twice), and otherwise is not carried out: it is audited
``manual_close_expired`` and its progress says ``expired``, so nobody reads an old request as done.

A close of one symbol (``symbol``) closes only that symbol's positions in the scope: the planner's
``close_positions`` over the same instance (reduce-only, never larger than the position; the
symbol's entry orders cancelled first, nothing else touched). A symbol the scope holds no
position in is refused: ``NO_POSITION`` for a symbol the runner knows (a venue lists it, or the
journal traded it: a position closed already), else ``UNKNOWN_SYMBOL`` with close matches.
A hedge-mode account holds a symbol
in two legs: a close of one symbol closes both unless it names one (``leg``: ``long`` or
``short``, the side of the position it closes); a leg the scope does not hold in that symbol is
refused ``UNKNOWN_LEG`` with the legs it holds, and a leg without a symbol ``BAD_REQUEST``.

A close is worked out (:meth:`ManualCloses.draft`) from the last snapshots less what the orders
journaled since their tick filled (:mod:`..venue.settled`), and says how old those snapshots are. A
preview (``dry_run``) is recorded with an id (:mod:`.close_plans`); a live close must carry one
(``PREVIEW_REQUIRED`` otherwise) and is refused when its fresh plan differs materially from
the preview or is above its maximum notional (``PREVIEW_MISMATCH``, ``OVER_MAX_NOTIONAL``,
``PREVIEW_EXPIRED``, ``PREVIEW_UNKNOWN``), at its request and again at its tick (then its
progress says ``refused``, audited with the planned row, and nothing is sent). A dry-run runner
says up front that nothing will be sent (``QUEUED_DRY_RUN``).

A shard's runner also names the instances of its firm-wide policies at account level
(:attr:`ManualCloses.also`): the firm's close of one of its accounts is planned under the firm
policy when no local policy has the account as an instance (a shard with no local policy).

Must not: send anything itself, or accept a scope no policy instance has (``UNKNOWN_SCOPE`` with
close matches: a close of a typo would close nothing and say it did).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ...compile.graph import StageNode
from ...compile.node_build import kind_action
from ...engine.planner import plan
from ...engine.scope import instances
from ...events import MANUAL_CLOSE, Event
from ...policy.kinds import close_all, close_positions
from ...policy.kinds.close_positions import ClosePositions
from ...snapshot import Snapshot
from ...state.store import StateStore
from ...view import CloseResult, PlannedOrder
from ..book.view import BookView
from ..collaborators import Emits, Names
from ..lease.leadership import Leadership
from ..lock.lock import iso_ms
from ..names import near_hint
from ..storeio import StoreIO
from ..venue.settled import take_off_fills
from ..venue.shortfalls import MAX_HELD_ROUNDS
from .close_plans import Envelope, PlanLegs, PreviewLedger, default_max_notional, gone, refusal, unknown_preview

MAX_TRACKED_CLOSES = 100  # manual closes whose progress ``close_progress`` can still tell
RECOVER_WITHIN_MS = 5 * 60_000  # a request no tick planned before a stop is carried out if this recent
TRACK_HISTORY_MS = 24 * 3_600_000  # how far back a new leader reads the closes it tracks
FINAL_ORDER_STATUSES = ("filled", "canceled", "rejected", "expired", "failed")
FILLS_READ = 10_000  # journal rows a draft reads for the fills its snapshots do not show yet
_CLOSE_ALL = StageNode(0, "manual-close", (), None, "manual", None, 1,
                       (kind_action(close_all.KIND, {}, close_all.CloseAll()),))


LEGS = ("long", "short")


def _close_symbol(symbol: str, leg: Optional[str] = None) -> StageNode:
    """The stage a close of one symbol plans: every position of ``symbol`` in the scope (of its
    ``leg`` alone when given: the positions on that side), whole."""
    action = kind_action(close_positions.KIND, {}, ClosePositions(symbols=[symbol], side=leg or "any"))
    return StageNode(0, "manual-close-symbol", (), None, "manual", None, 1, (action,))


def planned_orders(plans: Sequence[Any], snapshots: Sequence[Snapshot] = ()) -> tuple[PlannedOrder, ...]:
    """The orders of ``plans``, each with its market's price tick when ``snapshots`` list it."""
    by_account = {f"{s.venue}/{s.account}": s for s in snapshots}

    def tick(account: str, symbol: str) -> Optional[float]:
        snap = by_account.get(account)
        rules = snap.markets.get(symbol) if snap is not None else None
        return rules.price_tick if rules is not None and rules.price_tick > 0 else None

    return tuple(PlannedOrder(acct, o.symbol, o.side, o.position_side, o.amount, o.notional, o.limit_price,
                              o.reduce_only, o.chunk, o.chunks, tick(acct, o.symbol))
                 for p in plans for o in p.orders for acct in (f"{o.venue}/{o.account}",))


@dataclass(frozen=True)
class Draft:
    """A close worked out now: why it is refused (or None), its plans and their orders, the
    accounts of the scope whose last snapshot failed (their positions are left out), the oldest
    snapshot it is made from (``as_of_ms``, the runner's clock) and the fills taken off them."""

    refusal: Optional[str]
    plans: tuple = ()
    orders: tuple[PlannedOrder, ...] = ()
    unread: tuple[str, ...] = ()
    as_of_ms: Optional[int] = None
    taken_off: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # the venue's refusals of closes of these legs the ledger holds (REFUSED_BEFORE)

    @property
    def notional(self) -> float:
        return sum(o.notional for o in self.orders)


@dataclass(frozen=True)
class _Request:
    """A close asked for, planned at the next tick."""

    scope: str
    reason: str
    at: int
    symbol: Optional[str] = None
    envelope: Optional[Envelope] = None
    leg: Optional[str] = None  # long | short: that leg of ``symbol`` alone; None: both


def preview_reason(dry_run: bool, orders: int, notional: float) -> str:
    """What a close's preview answers: up front, on a dry-run runner, that nothing will be sent."""
    if dry_run:
        return (f"DRY_RUN: nothing will be sent (this runner is a dry run): {orders} order(s) would be planned "
                f"and audited, notional {notional:,.2f}")
    return f"PREVIEW: {orders} order(s) would be sent, notional {notional:,.2f}"


class ManualCloses:
    """See the module doc. ``catalog()`` is the runner's names; ``emit`` hands an event to the
    sinks; ``rates()`` the venues' order rates the planner paces closes by."""

    def __init__(self, book: BookView, lead: Leadership, store: StateStore, io: StoreIO, *, dry_run: bool,
                 clock: Callable[[], int], known: Names, sinks: Emits, rates: Callable[[], Mapping[str, float]],
                 also: Callable[[], Sequence[Any]] = tuple):
        self.book = book
        self.lead = lead
        self.store = store
        self.io = io
        self.dry_run = dry_run
        self.clock = clock
        self.known = known  # the names a close may give
        self.sinks = sinks
        self.rates = rates  # the venues' order rates, as the adapters declare them
        self.queued: list[_Request] = []  # for the next tick
        self.ledger = PreviewLedger()  # the latest close previews, by id
        self.tracked: dict[str, dict] = {}  # close id → its progress (the latest MAX_TRACKED_CLOSES)
        self.holds: dict[str, int] = {}  # close id → ticks its orders waited (REMAINDER_OPEN)
        self.planned: list[dict] = []  # closes planned this tick, audited once the state is saved
        # policies whose instances a close may also name, after the graph's: a shard's firm-wide ones at
        # account level, so that the firm's close of an account no local policy has as an instance is planned
        self.also = also

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else "live"

    async def _refused(self, tried: dict, answer: CloseResult) -> CloseResult:
        """A live close refused (``answer``), audited with its author (``manual_close_refused``: a
        ``manual_close_requested`` row is a close queued) while this runner leads (a standby's
        ``NOT_LEADER`` is said, not audited)."""
        if self.lead.not_leader("close") is None:
            await self.lead.audit_refusal("manual_close_refused", self.clock(), tried, answer.reason)
        return answer

    def _answer(self, accepted: bool, why: str, d: Draft, symbol: Optional[str], **kw: Any) -> CloseResult:
        age = None if d.as_of_ms is None else max(0.0, (self.clock() - d.as_of_ms) / 1000)
        return CloseResult(accepted, why, len(d.orders), kw.pop("id", None), d.orders, symbol=symbol,
                           notional=d.notional, as_of_ms=d.as_of_ms, age_s=age, mode=self.mode, notes=d.taken_off,
                           refused=d.refused, **kw)

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None,
                    symbol: Optional[str] = None, preview_id: Optional[str] = None,
                    max_notional: Optional[float] = None, leg: Optional[str] = None) -> CloseResult:
        """A manual emergency close of ``scope`` (only ``symbol`` in it, when given; only its
        ``leg``, when given) at the next tick. ``dry_run``: the preview, recorded under the id the
        answer carries; else the close of that preview (``preview_id``), held to ``max_notional``
        (default: the preview's plus the slack of :mod:`.close_plans`). ``actor``: the
        authenticated caller, audited."""
        d = await self.draft(scope, symbol, leg)
        tried = {"scope": scope, "reason": reason, **({"symbol": symbol} if symbol else {}),
                 **({"leg": leg} if leg else {}), **by(actor)}
        if d.refusal is not None:
            answer = CloseResult(False, d.refusal, symbol=symbol, mode=self.mode, leg=leg)
            return answer if dry_run else await self._refused(tried, answer)
        orders, notional = len(d.orders), d.notional
        if dry_run:
            recorded = self.ledger.record(scope, symbol, self.clock(), d.orders, leg)
            kw = {"preview_id": recorded.id, "max_notional": default_max_notional(notional)}
            if d.unread:
                incomplete = (f"INCOMPLETE: {', '.join(d.unread)} could not be read: the {orders} order(s) counted "
                              "leave out its positions; nothing was sent")
                return self._answer(False, incomplete, d, symbol, leg=leg, **kw)
            return self._answer(True, preview_reason(self.dry_run, orders, notional), d, symbol, leg=leg, **kw)
        if (refused := self.lead.not_leader("close")) is not None:
            return CloseResult(False, refused, orders, mode=self.mode)
        at = self.clock()
        if preview_id is None:
            return await self._refused(tried, self._answer(
                False, "PREVIEW_REQUIRED: a live close carries the id of its preview (preview it, then send it with "
                       "that id and a maximum notional); nothing was sent", d, symbol, leg=leg))
        rec = self.ledger.get(preview_id)
        if rec is None:
            return await self._refused(tried, self._answer(False, unknown_preview(preview_id), d, symbol, leg=leg))
        cap = default_max_notional(rec.legs.notional) if max_notional is None else max_notional
        fresh = PlanLegs.of(d.orders)
        why = refusal(rec.legs, fresh, cap, scope=scope, symbol=symbol, of_scope=rec.scope, of_symbol=rec.symbol,
                      age_ms=at - rec.at_ms, leg=leg, of_leg=rec.leg)
        if why is not None:
            return await self._refused(tried, self._answer(False, why, d, symbol, leg=leg, preview_id=rec.id,
                                                           max_notional=cap))
        envelope = Envelope(rec.id, rec.legs, cap, scope, symbol, leg)
        close_id = f"manual/{scope}/m{at}"
        named = {**({"symbol": symbol} if symbol else {}), **({"leg": leg} if leg else {})}
        if deposed := await self.lead.audit_or_deposed("manual_close_requested", at, {
                "scope": scope, "reason": reason, "id": close_id, "orders": orders,
                **named, "preview": envelope.to_json(), **by(actor)}):
            return CloseResult(False, deposed, orders)
        self.queued.append(_Request(scope, reason, at, symbol, envelope, leg))
        self._track(close_id, {"scope": scope, "symbol": symbol, "leg": leg, "envelope": envelope,
                               "requested_ms": at, "preview": orders, "processed_ms": None, "orders": None,
                               "by": actor})
        self.sinks.emit(Event.make(MANUAL_CLOSE, at, {"reason": reason, "orders": orders, "id": close_id,
                                                **named},
                                   **{**self.known.catalog().labels_of(scope), "scope": scope, "incident": close_id,
                                      **({"symbol": symbol} if symbol else {})}))
        what = (f"the {leg} leg of " if leg else "") + (f"{symbol} in {scope}" if symbol else scope)
        now_text = f"{orders} order(s) now, notional {notional:,.2f}"
        not_read = f"; not read now: {', '.join(d.unread)}" if d.unread else ""
        left = gone(rec.legs, fresh)
        closed = f"; closed since the preview: {', '.join(left)}" if left else ""
        if self.dry_run:
            why = (f"QUEUED_DRY_RUN: nothing will be sent (this runner is a dry run): the close of {what} is planned "
                   f"and audited at the next tick ({now_text}{not_read}{closed})")
        else:
            why = f"QUEUED: close of {what} at the next tick ({now_text}{not_read}{closed})"
        return self._answer(True, why, d, symbol, leg=leg, id=close_id, preview_id=rec.id, max_notional=cap)

    async def draft(self, scope: str, symbol: Optional[str] = None, leg: Optional[str] = None) -> Draft:
        """What a close of ``scope`` (of ``symbol`` in it, of its ``leg`` alone when given) would
        plan now, sending nothing: from the last snapshots less what the orders journaled since
        their tick filled (see the module doc); refused when there is no snapshot, the scope, the
        symbol or the leg is unknown."""
        if leg is not None and (symbol is None or leg not in LEGS):
            return Draft(f"BAD_REQUEST: leg is {' or '.join(LEGS)}, of one symbol (give symbol too), not {leg!r}"
                         if leg not in LEGS else "BAD_REQUEST: a leg is of one symbol: give the symbol too")
        snaps = list(self.book.snapshots.values())
        if not snaps:
            return Draft(f"NO_SNAPSHOT: this runner ({self.lead.holder}) has no snapshot yet (a standby takes none): "
                         "nothing to close or preview here")
        since = self.book.state.last_tick_ms
        entries = await self.io(self.store.journal, limit=FILLS_READ, since=since) if since is not None else []
        snaps, taken_off = take_off_fills(snaps, entries, since)
        found = self._instance(scope, snaps)
        if found is None:
            known = set().union(*self.known.catalog().policy_scopes.values()) if self.book.graph.policies else set()
            return Draft(f"UNKNOWN_SCOPE: no policy instance named {scope!r} in the last snapshots"
                         f"{near_hint(scope, known)}")
        node, view = found
        if symbol is not None:
            held = {p.symbol for _, p in view.positions}
            if symbol not in held:
                if await self._known_symbol(symbol):  # closed already, or never held: no typo to correct
                    holds = f"it holds {', '.join(sorted(held))}" if held else "it holds no position"
                    return Draft(f"NO_POSITION: {scope} has no position in {symbol} now (the last snapshots, less "
                                 f"the fills since); {holds}; nothing to close")
                hint = near_hint(symbol, held)
                return Draft(f"UNKNOWN_SYMBOL: {scope} holds no position in {symbol!r} in the last snapshots (less "
                             f"the fills since){hint}; nothing to close")
            sides = sorted({p.side for _, p in view.positions if p.symbol == symbol})
            if leg is not None and leg not in sides:
                return Draft(f"UNKNOWN_LEG: {scope} holds no {leg} leg of {symbol} in the last snapshots (less the "
                             f"fills since); it holds: {', '.join(sides)}; nothing to close")
        plans = (self._plan(node, view, scope, symbol, self.clock(), "preview", leg),)
        unread = tuple(sorted(f"{s.venue}/{s.account} ({s.fetch.error_code})" for s in view.snapshots
                              if not s.fetch.ok))
        seen = [s.ts_observed if s.ts_observed is not None else s.ts_event for s in view.snapshots if s.fetch.ok]
        orders = planned_orders(plans, view.snapshots)
        refused = self.book.rejections.notes({(o.account, o.symbol, o.position_side if o.position_side in
                                               ("LONG", "SHORT") else ("long" if o.side == "sell" else "short"))
                                              for o in orders})
        return Draft(None, plans, orders, unread, min(seen) if seen else None,
                     tuple(n for n in taken_off if any(n.startswith(f"{s.venue}/{s.account} ")
                                                       for s in view.snapshots)), tuple(refused))

    async def _known_symbol(self, symbol: str) -> bool:
        """Whether ``symbol`` is one the runner knows (a venue lists it, or an order of the
        journal's latest traded it), not a typo."""
        if symbol in self.known.catalog().all_symbols:
            return True
        recent = await self.io(self.store.journal, limit=FILLS_READ)
        return any(e.symbol == symbol for e in recent)

    def take_plans(self, snapshots: Sequence[Snapshot], now: int) -> list:
        """The queued closes, planned from this tick's snapshots (the queue is emptied). A close
        sent with a preview's id whose plan now differs materially from it is not planned: its
        progress says ``refused``, and why."""
        plans = []
        for q in self.queued:
            found = self._instance(q.scope, snapshots)
            mine = [self._plan(*found, q.scope, q.symbol, now, f"m{q.at}", q.leg)] if found is not None else []
            why = q.envelope.check(PlanLegs.of(planned_orders(mine))) if q.envelope is not None and mine else None
            close_id = f"manual/{q.scope}/m{q.at}"
            n = (0 if why else sum(len(p.orders) for p in mine)) if mine else None
            info = self.tracked.get(close_id)
            if info is not None:
                info.update(processed_ms=now, orders=n, refused=why)
            self.planned.append({"id": close_id, "scope": q.scope, "orders": n, **({"refused": why} if why else {})})
            plans += [] if why else mine
        self.queued = []
        return plans

    def take_planned(self, now: int) -> list[tuple[str, int, dict]]:
        """The audit rows of the closes this tick planned, taken for the tick to write after the
        journal and with the state save: a runner that starts leading later knows they were
        carried out (see :meth:`recover`)."""
        planned, self.planned = self.planned, []
        return [("manual_close_planned", now, row) for row in planned]

    def incidents(self) -> list[tuple[str, int]]:
        """The manual closes tracked that were planned: (close id, asked at ms), oldest first."""
        return [(cid, int(info.get("requested_ms") or 0)) for cid, info in self.tracked.items()
                if info.get("processed_ms") is not None]

    async def recover(self, now: int) -> None:
        """The closes of the last ``TRACK_HISTORY_MS``, read back from the audit trail when this
        runner starts leading (see the module doc): tracked again, a recent request no tick
        planned queued for this tick, an older one audited as expired."""
        rows = await self.io(self.store.audit_rows, now - TRACK_HISTORY_MS,
                             ("manual_close_requested", "manual_close_planned", "manual_close_expired"), 100_000)
        requested: dict[str, Any] = {}
        planned: dict[str, Any] = {}
        expired: set[str] = set()
        for row in rows:
            cid = row.payload.get("id")
            if not isinstance(cid, str):
                continue
            if row.kind == "manual_close_requested" and isinstance(row.payload.get("scope"), str):
                requested[cid] = row
            elif row.kind == "manual_close_planned":
                planned[cid] = row
            else:
                expired.add(cid)
        queued = {f"manual/{q.scope}/m{q.at}" for q in self.queued}
        for cid, row in list(requested.items())[-MAX_TRACKED_CLOSES:]:
            if cid in self.tracked or cid in queued:
                continue  # this runner knows it already (it led before)
            scope = row.payload["scope"]
            symbol = row.payload.get("symbol") if isinstance(row.payload.get("symbol"), str) else None
            leg = row.payload.get("leg") if row.payload.get("leg") in LEGS else None
            envelope = Envelope.from_json(row.payload.get("preview"), scope, symbol, leg)
            info = {"scope": scope, "symbol": symbol, "leg": leg, "envelope": envelope, "requested_ms": row.ts_ms,
                    "preview": row.payload.get("orders"), "processed_ms": None, "orders": None,
                    "by": row.payload.get("by")}
            if cid in planned:
                info.update(processed_ms=planned[cid].ts_ms, orders=planned[cid].payload.get("orders"),
                            refused=planned[cid].payload.get("refused"))
            elif cid in expired:
                info["expired"] = True
            elif now - row.ts_ms <= RECOVER_WITHIN_MS and (envelope is not None or "preview" not in row.payload):
                self.queued.append(_Request(scope, "recovered", row.ts_ms, symbol, envelope, leg))
            else:
                await self.lead.audit("manual_close_expired", now, {
                    "id": cid, "scope": scope, "age_ms": now - row.ts_ms,
                    "reason": "NOT_CARRIED_OUT: no tick planned it before its runner stopped, and it is older than "
                              f"{RECOVER_WITHIN_MS // 1000}s: ask again"})
                info["expired"] = True
            self._track(cid, info)

    def _track(self, close_id: str, info: dict) -> None:
        self.tracked[close_id] = info
        while len(self.tracked) > MAX_TRACKED_CLOSES:
            del self.tracked[next(iter(self.tracked))]

    async def requeue_held(self, decisions: Sequence[str]) -> None:
        """A manual close whose orders waited for an earlier order on their position is planned
        again at the next tick under its own id (what it journaled already is not sent twice),
        at most MAX_HELD_ROUNDS times (a round a tick while the earlier order is settled); then
        it is given up, audited."""
        for did in decisions:
            m = re.fullmatch(r"manual/(.+)/m(\d+)", did)
            if m is None:
                continue
            n = self.holds.get(did, 0) + 1
            self.holds[did] = n
            info = self.tracked.get(did)
            if n > MAX_HELD_ROUNDS or info is None:  # (untracked: what it was limited to is not known here)
                await self.lead.audit("manual_close_given_up", self.clock(),
                                      {"id": did, "reason": "REMAINDER_OPEN" if info is not None else "UNTRACKED"})
                continue
            self.queued.append(_Request(m.group(1), "held", int(m.group(2)), info.get("symbol"), info.get("envelope"),
                                        info.get("leg")))

    async def progress(self, close_id: str) -> Optional[dict]:
        """:meth:`_progress`, and who asked for the close (``by``: the caller's identity, as audited)."""
        info = self.tracked.get(close_id)
        doc = await self._progress(close_id)
        if doc is None or info is None:
            return None
        said = doc.pop("venue_said", [])  # (last, as the client reads the fields: none said yet is [])
        return {**doc, "by": info.get("by"), "venue_said": said}

    async def _progress(self, close_id: str) -> Optional[dict]:
        """Where a manual close stands: ``queued`` (before its tick), ``working`` (orders without a
        final result), ``settled`` (every order has one), ``dry_run`` (planned and audited, not
        sent), ``unplanned`` (its scope was not in the tick's snapshots: nothing was sent),
        ``expired`` (asked for before a stop, never planned, too old to carry out: nothing sent),
        ``refused`` (its plan at the tick differed materially from its preview: nothing sent;
        ``reason`` says why)."""
        info = self.tracked.get(close_id)
        if info is None:
            return None
        doc: dict[str, Any] = {"id": close_id, "scope": info["scope"], "requested_ts": iso_ms(info["requested_ms"]),
                               "mode": "dry-run" if self.dry_run else "live", "orders": info["preview"],
                               "settled": 0, "filled": 0, "open": 0, "unfilled": 0, "statuses": {}}
        tail = {"symbol": info.get("symbol"), "reason": None}  # (after ``state``, as the client reads them)
        if info.get("expired"):
            return {**doc, "state": "expired", "orders": 0, **tail}
        if info.get("refused"):
            return {**doc, "state": "refused", "orders": 0, **tail, "reason": info["refused"]}
        if info["processed_ms"] is None:
            return {**doc, "state": "queued", **tail}
        if info["orders"] is None:
            return {**doc, "state": "unplanned", "orders": 0, **tail}
        doc["orders"] = info["orders"]
        if self.dry_run:
            return {**doc, "state": "dry_run", **tail}
        entries = [e for e in await self.io(self.store.journal, limit=10_000, since=info["requested_ms"])
                   if e.decision_id == close_id or e.decision_id.startswith(close_id + "/")]
        statuses = Counter(e.status or "pending" for e in entries)
        settled = sum(statuses[s] for s in FINAL_ORDER_STATUSES)
        done = settled == len(entries) and len(entries) >= info["orders"]
        # what the venue said of the orders it refused, in its own words (its code and message)
        said = sorted({e.detail for e in entries if e.status in ("rejected", "failed") and e.detail})
        return {**doc, "state": "settled" if done else "working", "settled": settled, "filled": statuses["filled"],
                "open": len(entries) - settled, "unfilled": settled - statuses["filled"],
                "statuses": dict(sorted(statuses.items())), **tail, "venue_said": said}

    def _instance(self, scope: str, snapshots: Sequence[Snapshot]) -> Optional[tuple[Any, Any]]:
        """The policy and the instance named ``scope`` in ``snapshots`` (the first policy that has
        it: the graph's, then :attr:`also`)."""
        for node in (*self.book.graph.policies, *self.also()):
            for view in instances(node, list(snapshots)):
                if view.key == scope:
                    return node, view
        return None

    def _plan(self, node: Any, view: Any, scope: str, symbol: Optional[str], now: int, tag: str,
              leg: Optional[str] = None) -> Any:
        hist = self.book.state.pnl.get(node.attribution.reference_window_ms)
        stage = _CLOSE_ALL if symbol is None else _close_symbol(symbol, leg)
        return plan(node, stage, view, f"manual/{scope}/{tag}", now, hist, rates=self.rates())


def by(actor: Optional[str]) -> dict:
    """The audited author of an operator's change (the authenticated identity), when known."""
    return {"by": actor} if actor else {}
