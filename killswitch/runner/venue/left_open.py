"""Orders a cancel left open: recorded, saved, audited and paged once, ended with the order.

What it owns: the tick's part in the standing fact :mod:`killswitch.runner.book.still_open`
describes. The parts that cancel record their facts in the book as the venue's answers come
(the executor's plan, firm and remainder cancels through :meth:`StillOpenOrders.take`, the dead
man's switch and the venue watch directly); at the end of each tick :meth:`StillOpenOrders.tick`

1. ends the facts a good snapshot taken after them no longer lists (``ORDER_GONE``) or whose
   stage entry is no longer in force (``INCIDENT_ENDED``): audited ``order_still_open_ended``;
2. for each fact not yet told: saves the book with it (``told`` false), and in the same store
   call writes its ``order_still_open`` audit row; then marks it told (saved at the next save)
   and hands its event (``order_still_open``, critical) to the sinks.

Where a crash leaves it: before the save, the fact is lost with the tick (the order stays
listed; the next cancel of it names it again). After the save, before the audit row or the
event, the runner that carries on (:meth:`StillOpenOrders.resume`, at its first tick under a
new token) finds the fact untold: writes its row if the audit chain lacks it (looked up: once)
and pages it, marked ``resumed``. After the event, before the save that marks it told, it is
paged again by the runner that carries on, with the same labels (the notification groups take it
as the alert they hold). A tick with no fact does nothing here.

Must not: cancel anything (the parts that cancel do, by their own rules), or call an order
cancelled that the venue did not confirm.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from ...engine.stages import decision_id as make_id
from ...events import ORDER_STILL_OPEN, Event
from ..book.keeper import Keeper
from ..book.still_open import StillOpen
from ..lease.leadership import Leadership
from ..storeio import audit_pages

log = logging.getLogger("killswitch.runner.still_open")

AUDIT_KIND = "order_still_open"
ENDED_KIND = "order_still_open_ended"


def event_of(r: StillOpen, dry_run: bool, **extra: Any) -> Event:
    """The page of one order still open: the order by name and what the venue said of it."""
    return Event.make(ORDER_STILL_OPEN, r.since_ms, {
        "account": r.account, "order_id": r.order_id, "symbol": r.symbol, "side": r.side, "amount": r.left,
        "said": r.said, "cause": r.cause, "incident": r.incident, "client_id": r.client_id, "dry_run": dry_run,
        **extra},
        policy=r.policy, scope=r.scope, level=r.level or None, venue=r.account.partition("/")[0], account=r.account,
        symbol=r.symbol, reason="ORDER_STILL_OPEN", incident=r.incident)


class StillOpenOrders(Keeper[Leadership]):
    """See the module doc. ``lead`` writes the audit rows under the runner's fencing token;
    ``persist`` saves the book with rows in the same store call."""

    def take(self, facts: Sequence[StillOpen]) -> int:
        """Record ``facts`` (a cancel's answers); returns how many are new."""
        return sum(1 for r in facts if self.book.still_open.record(r))

    def _in_force(self, r: StillOpen) -> bool:
        if r.policy is None or r.incident is None or self.book.node(r.policy) is None:
            return True  # tied to no stage entry of this runner (a firm's): it lasts as long as the order
        ss = self.book.state.scopes.get(f"{r.policy}|{r.scope}")
        return ss is not None and ss.stage.level > 0 and \
            make_id(r.policy, r.scope, ss.stage.level, ss.stage.entries) == r.incident

    async def tick(self, now: int) -> list[Event]:
        """End what ended, then save, audit and tell what is new (see the module doc)."""
        facts = self.book.still_open
        if not facts:
            return []
        rows: list[tuple[str, int, dict]] = []
        for r, why in facts.refresh(self.book.snapshots, self._in_force, now):
            rows.append((ENDED_KIND, now, {"account": r.account, "order_id": r.order_id, "symbol": r.symbol,
                                           "side": r.side, "incident": r.incident, "cause": r.cause, "why": why}))
            log.info("ORDER_STILL_OPEN ended: %s order %s: %s", r.account, r.order_id, why)
        untold = facts.untold()
        if not untold:
            if rows:
                await self.persist.save(rows)
            return []
        rows += [(AUDIT_KIND, r.since_ms, r.audit()) for r in untold]
        for r in untold:
            log.warning("ORDER_STILL_OPEN: %s %s %s %g order %s (%s%s): %s", r.account, r.symbol, r.side, r.left,
                        r.order_id, r.cause, f", incident {r.incident}" if r.incident else "", r.said)
        await self.persist.save(rows)  # the facts saved untold, then their rows: one store call
        facts.mark_told([r.key for r in untold])
        return [event_of(r, self.dry_run) for r in untold]

    async def resume(self, now: int) -> list[Event]:
        """At the first tick under a new token: each fact saved untold gets its audit row if the
        chain lacks it, and is paged (``resumed``)."""
        untold = self.book.still_open.untold()
        if not untold:
            return []
        since = min(r.since_ms for r in untold)
        present = await self._audited_since(since)
        rows = [(AUDIT_KIND, r.since_ms, {**r.audit(), "completed_by": self.lead.holder}) for r in untold
                if r.key not in present]
        if rows:
            await self.lead.audit_many(rows)
        self.book.still_open.mark_told([r.key for r in untold])
        return [event_of(r, self.dry_run, resumed=True) for r in untold]

    async def _audited_since(self, since: int) -> set[tuple[str, str]]:
        keys: set[tuple[str, str]] = set()
        async for page in audit_pages(self.io, self.store.audit_rows, since, [AUDIT_KIND]):
            keys.update((str(r.payload.get("account")), str(r.payload.get("order_id"))) for r in page)
        return keys


__all__ = ["AUDIT_KIND", "ENDED_KIND", "StillOpenOrders", "event_of"]
