"""Overrides of the pre-trade limits, as operator commands and reads of the runner (RTS 6 Art.
15(6): an order the pre-trade controls blocked released only by a temporary, exceptional
override, verified and authorised by a designated person).

What it owns: :class:`Overrides` — a request (an operator: ``raise`` or ``waive`` one limit of one
scope instance, for one strategy or every one, or release one refused ``order`` by its client
order id; a reason code, a reason and an expiry, bounded by the policies whose limits bind the
scope), an approval (the approver role; never the requester, never twice by one person), an end
(by hand; by itself at its expiry; when the lock of its scope turns ``halted``, as that halt
is applied — :meth:`Overrides.end_halted` before an operator's lock is saved,
:meth:`Overrides.sweep` for the tick's own — so a halt lifted at once still ended it; an
order's release once used) and the list — and the index of those in force that the gate and
the venue watch read (:attr:`~killswitch.runner.gate.limits_state.LimitsState.overrides`).

Every change is stored with its audit row in one transaction, fenced
(:meth:`~killswitch.state.store.StateStore.save_override`): a crash between an approval and its
audit row cannot lose one or keep the other. A runner that starts or takes over reads them back
(:meth:`Overrides.reload`, at its first tick under the token) and goes on from the store; a
standby reads them at each of its ticks (its status and list show them; it takes over with
them). A refusal is audited too (``override_refused``), with who asked and why.

Must not: lift a lock (the gate checks the limits only once the lock allows), or run outside the
operator turn (the API's view calls take it) and the tick.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any, Callable, Optional

from ...holds import LockHold as Hold, holder
from ...overrides import (
    ENDED_BY_HAND,
    EXPIRED,
    HALTED,
    NOT_RAISED,
    ORDER,
    RAISE,
    USED,
    WAIVE,
    Override,
    OverrideIndex,
    iso,
)
from ...state.store import FencedError, StateStore
from ...view.overrides import OverrideResult, OverrideStatus, override_status
from ..book.view import BookView
from ..gate.gate import binding_lock
from ..gate.limits_state import LimitsState
from ..lease.leadership import Leadership
from ..names import Catalog, near_hint
from ..storeio import StoreIO
from .resolve import bound_of

SHOWN_ENDED_MS = 86_400_000  # ended overrides listed (and read back at a start) for a day
MAX_REASON = 500
REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,39}")
RUNNER = "runner"  # who ends an override that ends by itself


class Overrides:
    """See the module doc. ``catalog``: the names the runner knows now; ``changed``: the gate's
    view published again (an override that comes into force or ends is seen by the next check)."""

    def __init__(self, book: BookView, lead: Leadership, store: StateStore, io: StoreIO, limits: LimitsState, *,
                 clock: Callable[[], int], catalog: Callable[[], Catalog], changed: Callable[[], None]):
        self.book, self.lead, self.store, self.io, self.limits = book, lead, store, io, limits
        self.clock, self.catalog, self.changed = clock, catalog, changed
        self._all: dict[str, Override] = {}
        self.stale = True  # another runner may have changed them since they were read (set on a takeover)

    # --- reads ----------------------------------------------------------------------------------------

    def shown(self) -> tuple[OverrideStatus, ...]:
        """Every override not ended, and those ended in the last day, oldest first."""
        now = self.clock()
        return tuple(override_status(o, now) for o in self.limits.listed
                     if (o.ended_ms or o.expires_ms) > now - SHOWN_ENDED_MS)

    # --- commands -------------------------------------------------------------------------------------

    async def request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float, *,
                      actor: str, strategy: Optional[str] = None, limit: Optional[str] = None,
                      raise_to: Optional[float] = None, order: Optional[str] = None) -> OverrideResult:
        """A request by ``actor`` (its first approval). Refused, audited, when it names what the
        runner does not know or asks more than the policies allow; else stored, pending the
        approvals the policies ask."""
        if (refused := self.lead.not_leader("override")) is not None:
            return OverrideResult(False, refused)
        now = self.clock()
        asked = {"scope": scope, "strategy": strategy, "kind": kind, "limit": limit, "raise_to": raise_to,
                 "order": order, "reason_code": reason_code, "reason": reason, "expires_s": expires_s,
                 "requester": actor}
        why, bound = self._check_request(scope, kind, reason_code, reason, expires_s, strategy, limit, raise_to,
                                         order, now)
        if why is not None or bound is None:
            return await self._refuse("request", asked, why or "BAD_REQUEST", now)
        o = Override(id=f"ovr-{uuid.uuid4().hex[:10]}", scope=scope, kind=kind, reason_code=reason_code,
                     reason=reason, requester=actor, requested_ms=now, expires_ms=now + int(expires_s * 1000),
                     needed=bound.approvals, approvals=((actor, now),), strategy=strategy, limit=limit,
                     raise_to=raise_to, order=order, value=bound.value)
        payload = {**o.to_json(), "policies": list(bound.policies)}
        failed = await self._save(o, "override_requested", now, payload)
        if failed:
            return OverrideResult(False, failed)
        return OverrideResult(True, f"OVERRIDE_REQUESTED: {o.id} {o.what} on {scope}"
                                    f"{' for ' + strategy if strategy else ''} until {iso(o.expires_ms)}; "
                                    f"needs {o.needed - 1} more approval(s) by another person "
                                    f"(ksctl override approve --override {o.id})", override_status(o, now))

    async def approve(self, override_id: str, *, actor: str) -> OverrideResult:
        """An approval by ``actor``: never the requester's, never twice by one person; the
        override comes into force with the last one it needs."""
        if (refused := self.lead.not_leader("approval")) is not None:
            return OverrideResult(False, refused)
        now = self.clock()
        o, why = self._find(override_id, now)
        asked = {"id": override_id, "approver": actor}
        if o is None:
            return await self._refuse("approve", asked, why or "UNKNOWN_OVERRIDE", now)
        if o.approved:  # whoever asks, the one who gave the last approval too: nothing is left to approve
            why = f"OVERRIDE_IN_FORCE: {o.id} holds its {o.needed} approvals; it is in force until {iso(o.expires_ms)}"
        elif actor == o.requester:
            why = (f"SELF_APPROVAL: {actor} requested {o.id}; another person with the approver role must "
                   "approve it")
        elif actor in o.approvers:
            why = f"DUPLICATE_APPROVER: {actor} approved {o.id} already; it needs another person"
        if why is not None:
            return await self._refuse("approve", asked, why, now, o)
        if (halt := self._halt(o.scope, now)) is not None:
            await self._end(o, now, RUNNER, halt)
            return await self._refuse("approve", asked, f"SCOPE_HALTED: {o.scope} is halted; {o.id} ended with it "
                                                         "(an override never lifts a lock)", now, o)
        new = o.approve(actor, now)
        failed = await self._save(new, "override_approved", now,
                                  {"id": o.id, "scope": o.scope, "approver": actor, "approvals": len(new.approvals),
                                   "needed": new.needed, "in_force": new.approved, "expires_ms": o.expires_ms})
        if failed:
            return OverrideResult(False, failed)
        if new.approved:
            return OverrideResult(True, f"OVERRIDE_IN_FORCE: {o.id} {o.what} on {o.scope} in force until "
                                        f"{iso(o.expires_ms)} (requested by {o.requester}, approved by "
                                        f"{', '.join(new.approvers)})", override_status(new, now))
        return OverrideResult(True, f"OVERRIDE_APPROVAL_RECORDED: {o.id} holds {len(new.approvals)} of "
                                    f"{new.needed} approvals", override_status(new, now))

    async def end(self, override_id: str, *, actor: str) -> OverrideResult:
        """``actor`` ends an override now (pending or in force)."""
        if (refused := self.lead.not_leader("end")) is not None:
            return OverrideResult(False, refused)
        now = self.clock()
        o, why = self._find(override_id, now)
        if o is None:
            return await self._refuse("end", {"id": override_id, "by": actor}, why or "UNKNOWN_OVERRIDE", now)
        failed = await self._end(o, now, actor, ENDED_BY_HAND)
        if failed:
            return OverrideResult(False, failed)
        return OverrideResult(True, f"OVERRIDE_ENDED: {o.id} ended by {actor}", override_status(self._all[o.id], now))

    # --- the tick and a start --------------------------------------------------------------------------

    async def sweep(self) -> None:
        """End what ends by itself: past its expiry, on a scope now ``halted``, an order's release
        used. On the leader, at every tick (a halt the tick itself applied ends them here, before
        the tick's save); the index handed to the gate is made again."""
        if not self.lead.leader or not self._all:
            return
        now = self.clock()
        used = self.limits.refusals.used
        for o in list(self._all.values()):
            if o.ended_ms is not None:
                continue
            why = EXPIRED if now >= o.expires_ms else self._halt(o.scope, now) or (USED if o.id in used else None)
            if why is not None and await self._end(o, now, RUNNER, why):
                return  # deposed: whoever leads goes on from the store
        self._publish(now)

    async def end_halted(self) -> Optional[str]:
        """End every override not ended whose scope a halt binds now, as that halt is applied:
        an operator's, a firm's or a stored lock's change calls it before its lock is saved, so
        an override never outlives a halt lifted before the next tick. Each end is stored with
        its audit row (``override_ended``, the halt named), once: an ended override is not ended
        again. None when done; the refusal when this runner is deposed (nothing more ended)."""
        if not self.lead.leader or not self._all:
            return None
        now = self.clock()
        for o in list(self._all.values()):
            if o.ended_ms is None and now < o.expires_ms and (halt := self._halt(o.scope, now)) is not None:
                if (refused := await self._end(o, now, RUNNER, halt)) is not None:
                    return refused
        return None

    def read_again(self) -> None:
        """Another leader moved the state on: read the overrides again at the next chance."""
        self.stale = True

    async def reload(self, *, if_stale: bool = False) -> None:
        """The overrides as stored (a start, a takeover, a standby's tick): those not ended and
        those ended in the last day; what this runner had is replaced. ``if_stale``: only when
        another runner may have changed them since this one read them (:attr:`stale`: from the
        start, and from each time another leader moved the state on)."""
        if if_stale and not self.stale:
            return
        now = self.clock()
        self._all = {o.id: o for o in await self.io(self.store.overrides, now - SHOWN_ENDED_MS)}
        self.stale = False
        self._publish(now)

    # --- the parts ------------------------------------------------------------------------------------

    def _check_request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float,
                       strategy: Optional[str], limit: Optional[str], raise_to: Optional[float],
                       order: Optional[str], now: int) -> tuple[Optional[str], Any]:
        if kind not in (RAISE, WAIVE, ORDER):
            return f"BAD_REQUEST: kind {kind!r} is not raise, waive or order", None
        if (kind == ORDER) != (order is not None) or (kind == ORDER) == (limit is not None) \
                or (kind == RAISE) != (raise_to is not None):
            return "BAD_REQUEST: give a limit and raise_to (raise), a limit (waive) or an order id (order)", None
        if not REASON_CODE.fullmatch(reason_code or ""):
            return (f"BAD_REQUEST: reason code {reason_code!r} is not a code such as FAT_FINGER_REVIEWED "
                    "(capitals, digits and _, 2 to 40)"), None
        if not reason.strip() or len(reason) > MAX_REASON:
            return f"BAD_REQUEST: a reason of 1 to {MAX_REASON} characters is required", None
        if isinstance(expires_s, bool) or not isinstance(expires_s, (int, float)) or not math.isfinite(expires_s) \
                or expires_s <= 0:
            return "BAD_REQUEST: an expiry above 0 is required (an override is temporary)", None
        bound, why = bound_of(self.book.graph, self.limits.tables(self.book.graph, self.book.snapshots),
                              self.catalog(), scope, limit)
        if bound is None:
            return why, None
        why = self._within(bound, scope, kind, expires_s, strategy, limit, raise_to, order, now)
        return (why, None) if why is not None else (None, bound)

    def _within(self, bound: Any, scope: str, kind: str, expires_s: float, strategy: Optional[str],
                limit: Optional[str], raise_to: Optional[float], order: Optional[str], now: int) -> Optional[str]:
        """Why a request of a scope and limit the policies know asks more than they allow, if it does."""
        if strategy is not None and strategy not in self.catalog().strategies:
            return (f"UNKNOWN_STRATEGY: {strategy!r} is not a strategy this runner knows"
                    f"{near_hint(strategy, self.catalog().strategies)}")
        if expires_s * 1000 > bound.max_ms:
            return (f"EXPIRY_TOO_LONG: {_dur(expires_s * 1000)} asked > {_dur(bound.max_ms)} the policies allow "
                    f"({', '.join(bound.policies)}: limits.override.max_duration)")
        if kind == RAISE:
            assert raise_to is not None and limit is not None
            if limit in NOT_RAISED:
                return f"BAD_REQUEST: {limit} is waived (--waive {limit}), not raised"
            if not math.isfinite(raise_to) or raise_to <= 0 or (limit == "price_collar" and raise_to >= 1):
                return f"BAD_REQUEST: raise_to {raise_to:g} is out of range for {limit}"
            if bound.value is not None and raise_to <= bound.value:
                return f"BAD_REQUEST: raise_to {raise_to:g} is not above {limit} {bound.value:g} in force"
        if kind == ORDER:
            assert order is not None
            with self.limits.buckets.lock:
                refused = self.limits.refusals.refused.get(order)
            if refused is None or scope not in refused[0]:
                where = f" (refused by the limits of {', '.join(sorted(refused[0]))})" if refused else ""
                return (f"ORDER_NOT_REFUSED: no order with client_order_id {order!r} was refused by the limits of "
                        f"{scope}{where}; an override releases an order the gate refused")
        if self._halted(scope, now):
            return f"SCOPE_HALTED: {scope} is halted; an override never lifts a lock"
        return None

    def _find(self, override_id: str, now: int) -> tuple[Optional[Override], Optional[str]]:
        o = self._all.get(override_id)
        if o is None:
            return None, f"UNKNOWN_OVERRIDE: {override_id!r}{near_hint(override_id, self._all)} (ksctl override list)"
        if o.ended_ms is not None:
            return None, f"OVERRIDE_ENDED: {o.id} ended at {iso(o.ended_ms)} ({o.end_reason}, by {o.ended_by})"
        if now >= o.expires_ms:
            return None, f"OVERRIDE_EXPIRED: {o.id} expired at {iso(o.expires_ms)}"
        return o, None

    def _halted(self, scope: str, now: int) -> bool:
        return self._halt(scope, now) is not None

    def _halt(self, scope: str, now: int) -> Optional[str]:
        """The halt binding ``scope`` now, as an override's end names it (``halted by operator
        alice on global``), or None when none does."""
        account = scope in self.catalog().accounts
        lock = binding_lock(self.book.lock_book, scope, now, account=account)
        if lock.mode != "halted":
            return None
        who = holder(Hold(mode=lock.mode, policy=lock.policy, stage=lock.stage, reason=lock.reason,
                          manual=lock.manual, created_ts=None, expires_ts=None, details=dict(lock.details)))
        return f"{HALTED} by {who} on {lock.scope}"

    async def _end(self, o: Override, now: int, by: str, why: str) -> Optional[str]:
        ended = o.end(now, by, why)
        return await self._save(ended, "override_ended", now, {"id": o.id, "scope": o.scope, "by": by, "why": why,
                                                               "what": o.what, "requester": o.requester,
                                                               "approvers": list(o.approvers)})

    async def _save(self, o: Override, kind: str, now: int, payload: dict) -> Optional[str]:
        """Store ``o`` with its audit row (one transaction, fenced); the refusal when deposed."""
        try:
            await self.io(self.store.save_override, o, self.lead.fence, (kind, now, payload))
        except FencedError:
            return self.lead.deposed()
        self._all[o.id] = o
        self._publish(now)
        return None

    async def _refuse(self, what: str, asked: dict, why: str, now: int, o: Optional[Override] = None
                      ) -> OverrideResult:
        try:
            await self.lead.audit("override_refused", now, {"command": what, **asked, "refused": why})
        except FencedError:
            return OverrideResult(False, self.lead.deposed())
        return OverrideResult(False, why, override_status(o, now) if o is not None else None)

    def _publish(self, now: int) -> None:
        """The index of those in force handed to the gate and the watch, published."""
        self.limits.overrides = OverrideIndex.of(self._all.values(), now)
        self.limits.listed = tuple(sorted(self._all.values(), key=lambda o: (o.requested_ms, o.id)))
        self.limits.released = frozenset(o.order for o in self._all.values() if o.kind == ORDER and o.order
                                         and o.approved and (o.ended_ms is None or o.end_reason == USED))
        done = {o.id for o in self._all.values() if o.ended_ms is not None}
        with self.limits.buckets.lock:
            for k in [k for k in self.limits.refusals.used if k in done]:
                del self.limits.refusals.used[k]
        self.changed()


def _dur(ms: float) -> str:
    s = int(ms // 1000)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


__all__ = ["Overrides"]
