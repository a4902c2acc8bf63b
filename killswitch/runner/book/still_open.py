"""Orders still open: what a cancel meant to take that the venue still lists, a standing fact.

A cancel of a symbol, a flatten's cancels, a dead man's switch firing, a lock's enforcement, a
firm directive's cancel, a remainder of ours cancelled: each is answered by the runner's one
way out (:meth:`killswitch.runner.venue.port.VenuePort.cancel`), which lists the open orders
again after it and names in ``CancelResult.still_open`` each order meant to go that is still
listed (reason code ``ORDER_STILL_OPEN``), with what the venue said of it. Each becomes a
:class:`StillOpen`: the order (account, symbol, side, amount, order id), the venue's words, the
incident it belongs to where the cancel was a stage entry's (the entry's decision id, without
``/r<n>``), else ``None``, and what the cancel was for (``cause``: the cancel's reason as sent,
``DMS_FIRED``, ``LOCK_VIOLATION``, ``REMAINDER_CANCELED``, a firm directive).

A stored fact, as residuals are (:mod:`.residuals`): recorded by the part that cancelled,
saved with the book, audited and paged once (``order_still_open``; ``told`` says it was),
shown in status, the console, the incident's runbook and the closure report, rebuilt from the
saved book after a restart. It ends when a good snapshot taken after it no longer lists the
order (``ORDER_GONE``) or when its incident is no longer in force (``INCIDENT_ENDED``: reset,
or entered again, which plans anew); one without a stage entry lasts as long as the order.

Pure data and bookkeeping: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Optional

from ...engine.stages import incident_of
from .fact_book import FactBook

ORDER_STILL_OPEN = "ORDER_STILL_OPEN"  # the reason code of the fact (as CancelResult.failed says it)
ORDER_GONE = "ORDER_GONE"  # ended: a later good snapshot no longer lists the order
INCIDENT_ENDED = "INCIDENT_ENDED"  # ended: its stage entry is no longer in force

# a stage entry's decision id (``engine.stages.decision_id``), a re-plan of it (``/r<n>``)
_ENTRY_ID = re.compile(r"^(?P<policy>[^/]+)/(?P<scope>.+)/L(?P<level>\d+)/e\d+$")


@dataclass(frozen=True)
class StillOpen:
    account: str  # "venue/account"
    order_id: str  # the venue's id
    symbol: str
    side: str  # buy | sell
    amount: float  # the order's amount, as the last list gave it
    filled: float
    said: str  # what the venue said of it: ``ORDER_STILL_OPEN: ...`` (CancelResult.said_of)
    cause: str  # what the cancel was for: the cancel's reason, DMS_FIRED, LOCK_VIOLATION, ...
    incident: Optional[str]  # the stage entry's decision id (no "/r<n>"), or a manual close's; None else
    policy: Optional[str]  # the entry's policy (None without a stage entry)
    scope: str  # the entry's scope, else what the cause names (the lock's scope, the source, the account)
    level: int  # the stage level (0 without one)
    since_ms: int  # when the cancel's answer said so
    as_of_ms: int  # the list its amount comes from
    client_id: Optional[str] = None
    price: Optional[float] = None
    strategy: Optional[str] = None
    told: bool = False  # audited and paged (saved so: a restart tells only what was not)

    @property
    def key(self) -> tuple[str, str]:
        return self.account, self.order_id

    @property
    def left(self) -> float:
        return max(0.0, self.amount - self.filled)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "StillOpen":
        return cls(**d)

    def audit(self) -> dict:
        """The ``order_still_open`` audit row: the fact, without its bookkeeping."""
        return {k: v for k, v in self.to_json().items() if k != "told"}


def owner_of(incident: Optional[str]) -> tuple[Optional[str], Optional[str], int]:
    """(policy, scope, level) a stage entry's decision id names; a manual close's
    (``manual/<scope>/m<ms>``) its scope; (None, None, 0) for anything else."""
    if not incident:
        return None, None, 0
    m = _ENTRY_ID.match(incident)
    if m is not None:
        return m["policy"], m["scope"], int(m["level"])
    if incident.startswith("manual/"):
        return None, manual_scope(incident), 0
    return None, None, 0


def manual_scope(decision_id: str) -> str:
    """The scope of a manual close's decision id, "manual/<scope>/m<ms>"."""
    return re.sub(r"^manual/|/m\d+$", "", decision_id)


def still_open_of(account: str, res: Any, *, cause: str, now: int, incident: Optional[str] = None,
                  scope: Optional[str] = None, incidents: Optional[Mapping[str, str]] = None) -> list[StillOpen]:
    """The facts of a cancel's result ``res`` (a :class:`adapters.base.CancelResult`) on
    ``account``: one per order of ``res.still_open``, with what the venue said of it, tied to
    ``incident`` (or, by order id, ``incidents``) where the cancel was a stage entry's."""
    out: list[StillOpen] = []
    for o in getattr(res, "still_open", ()) or ():
        oid = str(o.id)
        inc = incidents.get(oid, incident) if incidents is not None else incident
        inc = incident_of(inc) if inc else None
        policy, owner_scope, level = owner_of(inc)
        out.append(StillOpen(account, oid, o.symbol, o.side, float(o.amount), float(o.filled or 0.0),
                             res.said_of(oid) or ORDER_STILL_OPEN, cause, inc, policy,
                             owner_scope or scope or account, level, now, now, o.client_id, o.price, o.strategy))
    return out


class StillOpenBook(FactBook[StillOpen]):
    """The orders still open in force, by (account, order id)."""

    DOC_KEY = "still_open"
    FACT = StillOpen

    def __init__(self, items: Iterable[StillOpen] = ()):
        super().__init__(items)
        self._seen: dict[str, Any] = {}  # account → the snapshot last compared with (see refresh)

    @staticmethod
    def order(r: StillOpen) -> tuple[Any, ...]:
        return r.since_ms, r.account, r.order_id

    def untold(self) -> list[StillOpen]:
        return [r for r in self if not r.told]

    def record(self, r: StillOpen) -> bool:
        """Add ``r``; True when it is new. A known one keeps its first incident, cause, words and
        time, and takes the newer amount."""
        old = self.items.get(r.key)
        if old is None:
            self.items[r.key] = r
            self._seen.pop(r.account, None)
            return True
        self.items[r.key] = replace(old, amount=r.amount, filled=r.filled, as_of_ms=r.as_of_ms)
        return False

    def mark_told(self, keys: Iterable[tuple[str, str]]) -> None:
        for k in keys:
            r = self.items.get(k)
            if r is not None and not r.told:
                self.items[k] = replace(r, told=True)

    def refresh(self, snapshots: Mapping[str, Any], in_force: Callable[[StillOpen], bool],
                now_ms: int) -> list[tuple[StillOpen, str]]:
        """Drop the facts that ended; returns them with why (``ORDER_GONE``, ``INCIDENT_ENDED``).
        ``snapshots``: account → its last snapshot. Only a good snapshot taken after a fact
        (``ts_observed`` past its ``since_ms``) can end it; an account whose snapshot is the
        one compared before is not read again (a tick with nothing new costs nothing per order)."""
        ended: list[tuple[StillOpen, str]] = []
        if not self.items:
            return ended
        for key, r in list(self.items.items()):
            if not in_force(r):
                ended.append((r, INCIDENT_ENDED))
                del self.items[key]
        by_account: dict[str, list[StillOpen]] = {}
        for r in self.items.values():
            by_account.setdefault(r.account, []).append(r)
        for account, facts in sorted(by_account.items()):
            snap = snapshots.get(account)
            if snap is None or not snap.fetch.ok or self._seen.get(account) is snap:
                continue
            self._seen[account] = snap
            listed = {o.id: o for o in snap.orders}
            for r in facts:
                if (snap.ts_observed or snap.ts_event or 0) <= r.since_ms:
                    self._seen.pop(account, None)  # (this one is older than a fact: compare the next)
                    continue
                key = r.key
                o = listed.get(r.order_id)
                if o is None:
                    ended.append((r, ORDER_GONE))
                    del self.items[key]
                elif (o.amount, o.filled) != (r.amount, r.filled):
                    self.items[key] = replace(r, amount=float(o.amount), filled=float(o.filled), as_of_ms=now_ms)
        return ended


__all__ = ["INCIDENT_ENDED", "ORDER_GONE", "ORDER_STILL_OPEN", "StillOpen", "StillOpenBook",
           "manual_scope", "owner_of", "still_open_of"]
