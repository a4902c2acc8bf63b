"""The venue watch's values: what a lock enforces (:class:`Enforce`, :func:`enforce_of`), what an
extra per-order check flags (:class:`Flag`), a violation and a bot's order in it, what a call of
:func:`~.decide.watch` decided (:class:`Watch`); and the lock that binds an order or a position,
with who holds it.

Must not: decide anything (:mod:`.orders`, :mod:`.legs`, :mod:`.decide` do), read the clock or do I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Mapping, Optional

from ....engine.plans import Plan
from ....orders import CancelIntent
from ....snapshot import Order, Position, Snapshot
from ...gate.request import lock_keys
from ...lock.lock import LockBook, LockStatus

LOCK_VIOLATION = "LOCK_VIOLATION"
REVERT_SLIPPAGE = 0.02  # a revert's protected price: this far past the mark
# none: a bot's fill that reduced a position under a halt (no order may pass a halt), reported
# and left as it is
REDUCED = "none"
ACTIONS = ("cancel", "revert", REDUCED)
UNKNOWN_STRATEGY = "unknown"
_EPS = 1e-9

LEGS = ("long", "short", "LONG", "SHORT")
Leg = tuple[str, str, str]  # (account "venue/account", symbol, leg: LONG | SHORT in hedge mode, else long | short)


@dataclass(frozen=True)
class Enforce:
    """What a lock makes hold at the venue: cancel the orders that add exposure, revert growth."""

    cancel: bool = False
    revert_growth: bool = False

    def to_json(self) -> dict:
        return {"cancel": self.cancel, "revert_growth": self.revert_growth}


def default_enforce(mode: str) -> Enforce:
    """``halted``: cancel and revert; ``reducing``: cancel growth only; ``active``: nothing."""
    if mode == "halted":
        return Enforce(True, True)
    return Enforce(True, False) if mode == "reducing" else Enforce()


def enforce_of(lock: LockStatus) -> Enforce:
    """What ``lock`` enforces: its hold's ``enforce`` details (each flag it gives), else by its mode."""
    if not lock.locked:
        return Enforce()
    base = default_enforce(lock.mode)
    given = lock.details.get("enforce") if isinstance(lock.details, Mapping) else None
    if not isinstance(given, Mapping):
        return base
    cancel = given.get("cancel")
    revert = given.get("revert_growth")
    return Enforce(cancel if isinstance(cancel, bool) else base.cancel,
                   revert if isinstance(revert, bool) else base.revert_growth)


def enforce_details(cancel: Optional[bool], revert_growth: Optional[bool]) -> dict:
    """The ``enforce`` a hold's details carry (the flags given; a flag left out goes by the mode)."""
    out = {k: bool(v) for k, v in (("cancel", cancel), ("revert_growth", revert_growth)) if v is not None}
    return {"enforce": out} if out else {}


@dataclass(frozen=True)
class Flag:
    """What an extra per-order check found: the event kind (``LIMIT_VIOLATION``), the reason code
    with its numbers, and the scope whose rule the order breaks."""

    kind: str
    reason: str
    scope: str


OrderCheck = Callable[[Snapshot, Order], Optional[Flag]]


@dataclass(frozen=True)
class BotOrder:
    """A bot's order among the fills that grew a reverted leg (:mod:`..attribution`)."""

    client_order_id: Optional[str]
    order_id: Optional[str]
    strategy: str  # ``unknown`` when its client id matches no declared prefix (or it carries none)
    amount: float  # what its fills added to the leg

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Violation:
    """An order or a position that broke the lock binding it, and what the watch does about it."""

    key: str  # reported once under this key
    kind: str  # LOCK_VIOLATION, or an extra check's kind
    action: str  # cancel | revert | none (a bot's fill that reduced under a halt: REDUCED)
    scope: str  # the scope of the lock (or of the check's rule) it broke
    mode: str  # the lock's mode (active: a check's flag outside any lock)
    venue: str
    account: str  # "venue/account"
    symbol: str
    side: str  # buy | sell: the order's, or the growth's (buy: a long grew), or the bots' fills' that reduced
    amount: float  # the order's open amount, or the growth in contracts, or what the bots' fills reduced
    notional: Optional[float]  # in the quote currency (None: neither a price nor a mark to value it)
    client_order_id: Optional[str]
    order_id: Optional[str]
    strategy: str  # the strategy it belongs to (``unknown`` when the client id names none)
    # (a revert's client order id and order id: the bot's order whose fill grew the leg, once
    # :mod:`..attribution` read the fills; the runner's own order is ``revert_id``)
    reason: str  # why, with the numbers
    position_side: Optional[str] = None
    baseline: Optional[float] = None  # a revert: the leg's size at the lock
    contracts: Optional[float] = None  # a revert: the leg's size now
    revert_id: Optional[str] = None  # a revert: the client order id of the runner's own reduce-only order
    # a revert: every strategy whose fills grew the leg (most first), and how it was attributed
    # (the fills read, or why none names a strategy: ``unknown: no fill read (...)``)
    strategies: tuple[str, ...] = ()
    attribution: Optional[str] = None
    # the lock it broke: who holds it (a policy's name, "@operator", "@dms"), its stage, and the
    # operator who placed it (so that the report files it under that lock, not an incident's)
    holder: tuple[Optional[str], Optional[int], Optional[str]] = (None, None, None)
    amount_step: Optional[float] = None  # the market's amount step, where known: amounts are shown to it
    # a revert: each bot's order whose fills grew the leg, with its own ids, strategy and amount
    # (most first): two bots in one tick are two orders, never one client id for both
    orders: tuple[BotOrder, ...] = ()

    def to_json(self) -> dict:
        out = {"key": self.key, "kind": self.kind, "action": self.action, "scope": self.scope, "mode": self.mode,
               "venue": self.venue, "account": self.account, "symbol": self.symbol, "side": self.side,
               "amount": self.amount, "notional": self.notional, "client_order_id": self.client_order_id,
               "order_id": self.order_id, "strategy": self.strategy, "reason": self.reason}
        if self.position_side is not None:
            out["position_side"] = self.position_side
        if self.amount_step:
            out["amount_step"] = self.amount_step
        if self.kind == LOCK_VIOLATION and self.holder[0] is not None:
            out["lock"] = {"policy": self.holder[0], "stage": self.holder[1], "by": self.holder[2]}
        if self.action in ("revert", REDUCED):
            out["baseline"] = self.baseline
            out["contracts"] = self.contracts
            if self.action == "revert":
                out["revert_client_order_id"] = self.revert_id
            out["strategies"] = list(self.strategies) or [self.strategy]
            if self.attribution is not None:
                out["attribution"] = self.attribution
            if self.orders:
                out["orders"] = [o.to_json() for o in self.orders]
        return out


@dataclass(frozen=True)
class Watch:
    """What :func:`~.decide.watch` decided: the cancels (one per account), the reverts (one plan per leg,
    a reduce-only order each), the violations, the baselines to keep, what was left alone and
    why (a revert below the venue's minimum), and the legs that shrank under a halt (``reduced``:
    violations only where a bot's fill did it, which the caller reads: :data:`REDUCED`)."""

    cancels: tuple[CancelIntent, ...] = ()
    reverts: tuple[Plan, ...] = ()
    violations: tuple[Violation, ...] = ()
    baselines: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    reduced: tuple[Violation, ...] = ()


def leg_of_position(p: Position) -> str:
    return p.position_side if p.position_side in ("LONG", "SHORT") else p.side


def strategy_name(strategy: Optional[str]) -> str:
    return strategy or UNKNOWN_STRATEGY


def _lock_for(book: LockBook, account: str, symbol: str, strategy: Optional[str], now: int) -> LockStatus:
    return book.effective(lock_keys(symbol=symbol, account=account, strategy=strategy), now)


def _holder(lock: LockStatus) -> tuple[Optional[str], Optional[int], Optional[str]]:
    """Who holds the lock an order or a position broke (see :attr:`Violation.holder`)."""
    by = lock.details.get("by") if lock.locked else None
    return (lock.policy, lock.stage, by if isinstance(by, str) else None) if lock.locked else (None, None, None)


def with_step(v: Optional[Violation], snap: Optional[Snapshot]) -> Optional[Violation]:
    """``v`` with its market's amount step, when ``snap`` knows it (amounts are shown to it)."""
    rules = snap.markets.get(v.symbol) if v is not None and snap is not None else None
    return replace(v, amount_step=rules.amount_step) if v is not None and rules and rules.amount_step > 0 else v
