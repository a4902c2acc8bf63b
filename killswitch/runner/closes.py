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

Must not: send anything itself, or accept a scope no policy instance has (``UNKNOWN_SCOPE`` with
close matches: a close of a typo would close nothing and say it did).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable, Mapping, Optional, Sequence

from ..compile.graph import StageNode
from ..compile.nodes import CloseAllAction
from ..engine.planner import plan
from ..engine.scope import instances
from ..events import MANUAL_CLOSE, Event
from ..snapshot import Snapshot
from ..state.store import FencedError
from .book import Book
from .leadership import Leadership
from .lock import iso_ms
from .scopes import Catalog, close_matches
from .shortfalls import MAX_HELD_ROUNDS
from .storeio import StoreIO
from .view import CloseResult, PlannedOrder

MAX_TRACKED_CLOSES = 100  # manual closes whose progress ``close_progress`` can still tell
RECOVER_WITHIN_MS = 5 * 60_000  # a request no tick planned before a stop is carried out if this recent
TRACK_HISTORY_MS = 24 * 3_600_000  # how far back a new leader reads the closes it tracks
FINAL_ORDER_STATUSES = ("filled", "canceled", "rejected", "expired", "failed")
_CLOSE_ALL = StageNode(0, "manual-close", (), None, "manual", None, 1, (CloseAllAction(),))


class ManualCloses:
    """See the module doc. ``catalog()`` is the runner's names; ``emit`` hands an event to the
    sinks; ``rates()`` the venues' order rates the planner paces closes by."""

    def __init__(self, book: Book, lead: Leadership, store: Any, io: StoreIO, *, dry_run: bool,
                 clock: Callable[[], int], catalog: Callable[[], Catalog], emit: Callable[[Event], None],
                 rates: Callable[[], Mapping[str, float]]):
        self.book = book
        self.lead = lead
        self.store = store
        self.io = io
        self.dry_run = dry_run
        self.clock = clock
        self.catalog = catalog
        self.emit = emit
        self.rates = rates  # the venues' order rates, as the adapters declare them
        self.queued: list[tuple[str, str, int]] = []  # (scope, reason, requested at), for the next tick
        self.tracked: dict[str, dict] = {}  # close id → its progress (the latest MAX_TRACKED_CLOSES)
        self.holds: dict[str, int] = {}  # close id → ticks its orders waited (REMAINDER_OPEN)
        self.planned: list[dict] = []  # closes planned this tick, audited once the state is saved

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None) -> CloseResult:
        """A manual emergency close of ``scope`` at the next tick (``dry_run``: only say how
        many orders it would send now). ``actor``: the authenticated caller, audited."""
        refusal, plans, unread = self.preview(scope)
        if refusal is not None:
            return CloseResult(False, refusal)
        orders = sum(len(p.orders) for p in plans)
        preview = tuple(PlannedOrder(f"{o.venue}/{o.account}", o.symbol, o.side, o.position_side, o.amount,
                                     o.notional, o.limit_price, o.reduce_only, o.chunk, o.chunks)
                        for p in plans for o in p.orders)
        if dry_run:
            if unread:
                return CloseResult(False, f"INCOMPLETE: {', '.join(unread)} could not be read: the {orders} order(s) "
                                          "counted leave out its positions; nothing was sent", orders, plan=preview)
            return CloseResult(True, f"DRY_RUN: {orders} order(s) would be sent", orders, plan=preview)
        refused = self.lead.not_leader("close")
        if refused:
            return CloseResult(False, refused, orders)
        at = self.clock()
        close_id = f"manual/{scope}/m{at}"
        try:
            await self.lead.audit("manual_close_requested", at, {"scope": scope, "reason": reason, "id": close_id,
                                                                 "orders": orders, **by(actor)})
        except FencedError:
            return CloseResult(False, self.lead.deposed())
        self.queued.append((scope, reason, at))
        self._track(close_id, {"scope": scope, "requested_ms": at, "preview": orders, "processed_ms": None,
                               "orders": None, "by": actor})
        self.emit(Event.make(MANUAL_CLOSE, at, {"reason": reason, "orders": orders, "id": close_id}, scope=scope))
        not_read = f"; not read now: {', '.join(unread)}" if unread else ""
        return CloseResult(True, f"QUEUED: close of {scope} at the next tick ({orders} order(s) now{not_read})", orders,
                           close_id, preview)

    def preview(self, scope: str) -> tuple[Optional[str], list, list[str]]:
        """What a close of ``scope`` would plan from the last snapshots, sending nothing: (why it
        is refused, or None; the plans; the accounts of the scope whose last snapshot failed,
        whose positions the plans leave out)."""
        snaps = list(self.book.snapshots.values())
        if not snaps:
            return (f"NO_SNAPSHOT: this runner ({self.lead.holder}) has no snapshot yet (a standby takes none): "
                    "nothing to close or preview here"), [], []
        plans = self._plans(scope, snaps, self.clock(), "preview")
        if not plans:
            known = set().union(*self.catalog().policy_scopes.values()) if self.book.graph.policies else set()
            near = close_matches(scope, known)
            hint = f"; did you mean {', '.join(repr(k) for k in near)}?" if near else ""
            return f"UNKNOWN_SCOPE: no policy instance named {scope!r} in the last snapshots{hint}", [], []
        return None, plans, self._unread_in(scope)

    def take_plans(self, snapshots: Sequence[Snapshot], now: int) -> list:
        """The queued closes, planned from this tick's snapshots (the queue is emptied)."""
        plans = []
        for scope, _reason, at in self.queued:
            mine = self._plans(scope, snapshots, now, f"m{at}")
            close_id = f"manual/{scope}/m{at}"
            n = sum(len(p.orders) for p in mine) if mine else None
            info = self.tracked.get(close_id)
            if info is not None:
                info.update(processed_ms=now, orders=n)
            self.planned.append({"id": close_id, "scope": scope, "orders": n})
            plans += mine
        self.queued = []
        return plans

    async def audit_planned(self, now: int) -> None:
        """Audit the closes this tick planned (after the journal and the state save): a runner
        that starts leading later knows they were carried out (see :meth:`recover`)."""
        planned, self.planned = self.planned, []
        for row in planned:
            await self.lead.audit("manual_close_planned", now, row)

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
        queued = {f"manual/{scope}/m{at}" for scope, _, at in self.queued}
        for cid, row in list(requested.items())[-MAX_TRACKED_CLOSES:]:
            if cid in self.tracked or cid in queued:
                continue  # this runner knows it already (it led before)
            scope = row.payload["scope"]
            info = {"scope": scope, "requested_ms": row.ts_ms, "preview": row.payload.get("orders"),
                    "processed_ms": None, "orders": None, "by": row.payload.get("by")}
            if cid in planned:
                info.update(processed_ms=planned[cid].ts_ms, orders=planned[cid].payload.get("orders"))
            elif cid in expired:
                info["expired"] = True
            elif now - row.ts_ms <= RECOVER_WITHIN_MS:
                self.queued.append((scope, "recovered", row.ts_ms))
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
            if n > MAX_HELD_ROUNDS:
                await self.lead.audit("manual_close_given_up", self.clock(), {"id": did, "reason": "REMAINDER_OPEN"})
                continue
            self.queued.append((m.group(1), "held", int(m.group(2))))

    async def progress(self, close_id: str) -> Optional[dict]:
        """:meth:`_progress`, and who asked for the close (``by``: the caller's identity, as audited)."""
        info = self.tracked.get(close_id)
        doc = await self._progress(close_id)
        return None if doc is None or info is None else {**doc, "by": info.get("by")}

    async def _progress(self, close_id: str) -> Optional[dict]:
        """Where a manual close stands: ``queued`` (before its tick), ``working`` (orders without a
        final result), ``settled`` (every order has one), ``dry_run`` (planned and audited, not
        sent), ``unplanned`` (its scope was not in the tick's snapshots: nothing was sent),
        ``expired`` (asked for before a stop, never planned, too old to carry out: nothing sent)."""
        info = self.tracked.get(close_id)
        if info is None:
            return None
        doc: dict[str, Any] = {"id": close_id, "scope": info["scope"], "requested_ts": iso_ms(info["requested_ms"]),
                               "mode": "dry-run" if self.dry_run else "live", "orders": info["preview"],
                               "settled": 0, "filled": 0, "open": 0, "unfilled": 0, "statuses": {}}
        if info.get("expired"):
            return {**doc, "state": "expired", "orders": 0}
        if info["processed_ms"] is None:
            return {**doc, "state": "queued"}
        if info["orders"] is None:
            return {**doc, "state": "unplanned", "orders": 0}
        doc["orders"] = info["orders"]
        if self.dry_run:
            return {**doc, "state": "dry_run"}
        entries = [e for e in await self.io(self.store.journal, limit=10_000, since=info["requested_ms"])
                   if e.decision_id == close_id or e.decision_id.startswith(close_id + "/")]
        statuses = Counter(e.status or "pending" for e in entries)
        settled = sum(statuses[s] for s in FINAL_ORDER_STATUSES)
        done = settled == len(entries) and len(entries) >= info["orders"]
        return {**doc, "state": "settled" if done else "working", "settled": settled, "filled": statuses["filled"],
                "open": len(entries) - settled, "unfilled": settled - statuses["filled"],
                "statuses": dict(sorted(statuses.items()))}

    def _unread_in(self, scope: str) -> list[str]:
        """The accounts of ``scope``'s policy instance whose last snapshot failed."""
        for node in self.book.graph.policies:
            for view in instances(node, list(self.book.snapshots.values())):
                if view.key == scope:
                    return sorted(f"{s.venue}/{s.account} ({s.fetch.error_code})" for s in view.snapshots
                                  if not s.fetch.ok)
        return []

    def _plans(self, scope: str, snapshots: Sequence[Snapshot], now: int, tag: str) -> list:
        for node in self.book.graph.policies:
            for view in instances(node, list(snapshots)):
                if view.key == scope:
                    hist = self.book.state.pnl.get(node.attribution.reference_window_ms)
                    return [plan(node, _CLOSE_ALL, view, f"manual/{scope}/{tag}", now, hist, rates=self.rates())]
        return []


def by(actor: Optional[str]) -> dict:
    """The audited author of an operator's change (the authenticated identity), when known."""
    return {"by": actor} if actor else {}
