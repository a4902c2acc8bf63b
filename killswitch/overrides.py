"""Overrides of the pre-trade limits: a temporary, audited exception to one limit of one scope
instance (RTS 6 Art. 15(6)), as values.

What it owns: :class:`Override` (what was asked, by whom, who approved it, until when, and how
it ended), its JSON form (the store keeps it as a document), the names of the limits an override
may raise or waive (:data:`LIMIT_NAMES`) and which a refusal's code is (:func:`limit_of`), and
:class:`OverrideIndex`, the overrides in force by scope instance, which the pre-trade gate and the
venue watch read (:meth:`OverrideIndex.lift`).

An override is of one of three kinds: ``raise`` (a limit's value raised to ``raise_to`` for its
scope instance and strategy), ``waive`` (the limit not checked) or ``order`` (one refused order,
by its client order id, let through its scope's limits once). It is in force once it holds the
approvals it needs (the requester's counts as the first) and until it ends: at its expiry, when
a person ends it, when the lock of its scope turns ``halted`` (at once, whatever follows: ended
``halted by <who> on <scope>``), or (an order's) once used. It never
touches a lock: the gate checks the limits only once the lock allows the order.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Sequence

from .figures import iso_ms as iso  # to the millisecond, as the audit trail and the pages write times

RAISE, WAIVE, ORDER = "raise", "waive", "order"
KINDS = (RAISE, WAIVE, ORDER)
PENDING, ACTIVE, ENDED = "pending", "active", "ended"
# how an override ended
EXPIRED, ENDED_BY_HAND, HALTED, USED = "expired", "ended", "halted", "used"

# the limits of ``spec.limits`` an override may raise or waive, and the refusal code of each
LIMIT_CODES: Mapping[str, str] = {
    "max_order_notional": "LIMIT_ORDER_NOTIONAL",
    "max_order_quantity": "LIMIT_ORDER_QUANTITY",
    "max_position_notional": "POSITION_LIMIT",
    "price_collar": "PRICE_COLLAR",
    "max_open_orders_per_symbol": "OPEN_ORDERS_LIMIT",
    "max_open_orders": "OPEN_ORDERS_LIMIT",
    "max_gross_notional": "GROSS_LIMIT",
    "message_rate": "MESSAGE_RATE",
}
LIMIT_NAMES = tuple(LIMIT_CODES)
NOT_RAISED = frozenset({"message_rate"})  # waived, never raised: its usage is a bucket's level


def limit_of(code: str, symbol: Optional[str]) -> Optional[str]:
    """The limit a refusal of ``code`` is about (an open orders' refusal with a symbol: the
    symbol's count); None for a refusal no override of a limit lifts (``NO_MARK``)."""
    if code == "OPEN_ORDERS_LIMIT":
        return "max_open_orders_per_symbol" if symbol else "max_open_orders"
    for name, c in LIMIT_CODES.items():
        if c == code:
            return name
    return None


@dataclass(frozen=True)
class Override:
    """One override, as stored. ``approvals``: (who, when) in order, the requester's first;
    ``needed``: how many it must hold to be in force (the policies' ``override.approvals``)."""

    id: str
    scope: str
    kind: str
    reason_code: str
    reason: str
    requester: str
    requested_ms: int
    expires_ms: int
    needed: int
    approvals: tuple[tuple[str, int], ...] = ()
    strategy: Optional[str] = None
    limit: Optional[str] = None
    raise_to: Optional[float] = None
    order: Optional[str] = None
    value: Optional[float] = None  # the limit's value when asked (a raise's "from")
    ended_ms: Optional[int] = None
    ended_by: Optional[str] = None
    end_reason: Optional[str] = None

    @property
    def approved(self) -> bool:
        return len(self.approvals) >= self.needed

    @property
    def approved_ms(self) -> Optional[int]:
        return self.approvals[self.needed - 1][1] if self.approved else None

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(who for who, _ in self.approvals[1:])

    def state(self, now_ms: int) -> str:
        if self.ended_ms is not None or now_ms >= self.expires_ms:
            return ENDED
        return ACTIVE if self.approved else PENDING

    def in_force(self, now_ms: int) -> bool:
        return self.state(now_ms) == ACTIVE

    def applies(self, strategy: Optional[str]) -> bool:
        """Whether it covers an order of ``strategy`` (an override naming none covers every one)."""
        return self.strategy is None or self.strategy == strategy

    def approve(self, who: str, now_ms: int) -> "Override":
        return replace(self, approvals=self.approvals + ((who, now_ms),))

    def end(self, now_ms: int, by: str, why: str) -> "Override":
        return replace(self, ended_ms=now_ms, ended_by=by, end_reason=why)

    @property
    def what(self) -> str:
        """What it does, in words: ``raise max_order_notional to 150000``."""
        if self.kind == ORDER:
            return f"release order {self.order}"
        if self.kind == WAIVE:
            return f"waive {self.limit}"
        return f"raise {self.limit} to {self.raise_to:g}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "scope": self.scope, "strategy": self.strategy, "kind": self.kind,
                "limit": self.limit, "raise_to": self.raise_to, "order": self.order, "value": self.value,
                "reason_code": self.reason_code, "reason": self.reason, "requester": self.requester,
                "requested_ms": self.requested_ms, "expires_ms": self.expires_ms, "needed": self.needed,
                "approvals": [{"by": w, "ts_ms": t} for w, t in self.approvals],
                "ended_ms": self.ended_ms, "ended_by": self.ended_by, "end_reason": self.end_reason}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> "Override":
        return Override(
            id=str(doc["id"]), scope=str(doc["scope"]), kind=str(doc["kind"]), reason_code=str(doc["reason_code"]),
            reason=str(doc["reason"]), requester=str(doc["requester"]), requested_ms=int(doc["requested_ms"]),
            expires_ms=int(doc["expires_ms"]), needed=int(doc["needed"]),
            approvals=tuple((str(a["by"]), int(a["ts_ms"])) for a in doc.get("approvals") or ()),
            strategy=doc.get("strategy"), limit=doc.get("limit"),
            raise_to=None if doc.get("raise_to") is None else float(doc["raise_to"]), order=doc.get("order"),
            value=None if doc.get("value") is None else float(doc["value"]),
            ended_ms=None if doc.get("ended_ms") is None else int(doc["ended_ms"]), ended_by=doc.get("ended_by"),
            end_reason=doc.get("end_reason"))


@dataclass(frozen=True)
class Lifted:
    """What an override let through: the override and the refusals it lifted (their JSON)."""

    override: Override
    breaches: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class OverrideIndex:
    """The approved overrides not ended, by scope instance: what a check reads. Replaced whole
    when one changes; a check with no override of its scopes costs one look-up per scope."""

    by_scope: Mapping[str, tuple[Override, ...]] = field(default_factory=dict)

    @staticmethod
    def of(overrides: Iterable[Override], now_ms: int) -> "OverrideIndex":
        by: dict[str, list[Override]] = {}
        for o in overrides:
            if o.approved and o.ended_ms is None and now_ms < o.expires_ms:
                by.setdefault(o.scope, []).append(o)
        return OverrideIndex({k: tuple(v) for k, v in by.items()})

    def __bool__(self) -> bool:
        return bool(self.by_scope)

    def lift(self, scope: str, strategy: Optional[str], client_id: Optional[str], breaches: Sequence[Any],
             now_ms: int, used: Mapping[str, int]) -> tuple[list[Any], list[Lifted]]:
        """The refusals of ``breaches`` (:class:`~killswitch.engine.limits.Breach`) left once the
        overrides of ``scope`` in force at ``now_ms`` for ``strategy`` are applied, and what each
        override lifted. An order's release (its ``client_id``, not in ``used``) lifts every refusal
        of that scope's limits; a raise lifts a refusal of its limit whose usage is within the raised
        value; a waiver, every refusal of its limit."""
        mine = self.by_scope.get(scope)
        if not mine:
            return list(breaches), []
        live = [o for o in mine if now_ms < o.expires_ms and o.applies(strategy)]
        release = next((o for o in live if o.kind == ORDER and client_id is not None and o.order == client_id
                        and o.id not in used), None)
        if release is not None:
            return [], [Lifted(release, tuple(b.to_json() for b in breaches))]
        left: list[Any] = []
        lifted: dict[str, list[dict[str, Any]]] = {}
        for b in breaches:
            name = limit_of(b.code, b.symbol)
            by = next((o for o in live if o.limit == name and _lifts(o, b)), None) if name is not None else None
            if by is None:
                left.append(b)
            else:
                lifted.setdefault(by.id, []).append(b.to_json())
        found = {o.id: o for o in live}
        return left, [Lifted(found[i], tuple(bs)) for i, bs in lifted.items()]

    def all(self) -> list[Override]:
        return [o for v in self.by_scope.values() for o in v]


def scope_docs(overrides: Iterable[Override], scope: str, now_ms: int) -> list[dict[str, Any]]:
    """The overrides of ``scope`` not ended at ``now_ms`` (in force or pending), as a runbook's
    lock shows them: id, state, what, reason, who asked and approved, until when."""
    return [{"id": o.id, "state": o.state(now_ms), "what": o.what, "strategy": o.strategy,
             "reason_code": o.reason_code, "reason": o.reason, "requester": o.requester,
             "approvers": list(o.approvers), "until": iso(o.expires_ms)}
            for o in overrides if o.scope == scope and o.state(now_ms) != ENDED]


def _lifts(o: Override, b: Any) -> bool:
    if o.kind == WAIVE:
        return True
    if o.kind == RAISE and o.raise_to is not None and b.usage is not None:
        return b.usage <= o.raise_to * (1 + 1e-9)
    return False


__all__ = ["ACTIVE", "ENDED", "EXPIRED", "ENDED_BY_HAND", "HALTED", "KINDS", "LIMIT_CODES", "LIMIT_NAMES", "Lifted",
           "NOT_RAISED", "ORDER", "Override", "OverrideIndex", "PENDING", "RAISE", "USED", "WAIVE", "iso", "limit_of",
           "scope_docs"]
