"""The venue watch: what a lock in force does to the orders and positions a bot placed without asking.

A lock is a request to the bots (the lock file, ``POST /v1/check-order``); a bot that never asks
keeps trading through it. This module decides what makes the lock hold at the venue, as a pure
function of the lock book, the tick's snapshots, the runner's own client order ids, the
baselines kept since the lock came into force and the time — :func:`watch` — and returns what to
do; the runner part (:mod:`.enforcement`) only carries it out.

Rules, for each account whose snapshot was read, by the lock that binds each order or position
(the most restrictive of the ``global`` lock and those of its venue, its account, its strategy and
its symbol, as the pre-trade gate reads them: :func:`~.gate_request.lock_keys`):

- **an order that can add exposure is cancelled**: under ``halted`` every open order that is not
  reduce-only; under ``reducing`` one that would grow a position (the same side as the position
  of its symbol and leg, or no position, or a larger amount than the position it faces). Never
  cancelled: an order that can only reduce (``reduce_only``: the venue's flag, a hedge-mode
  closing leg, ``closePosition``; a take-profit or stop-loss attached to a position, kind
  ``tpsl``), and never one of the runner's own (its client order id is journaled);
- **growth under a halt is reverted**: the size of every position leg (account, symbol, leg) is
  the *baseline*: its size as last read before the lock was placed, where the caller has that
  read (``before``: the previous tick's, so that growth between the placement and the first tick
  under the lock is growth under it), else in the first snapshot the lock is in force for (a leg
  absent then is 0), lowered whenever the position shrinks; a leg above its baseline is brought back to it by one
  reduce-only order of the excess, never above the position, rounded down to the market's step
  (nothing when that is below the venue's minimum amount: said in ``notes``), at a protected
  price (:data:`REVERT_SLIPPAGE` past the mark). Never on a leg a plan of this tick already
  closes (``closing``);
- **a fill under a halt that reduced** is reported too (no order may pass a halt): a leg below
  its baseline under a ``halted`` lock is a candidate (``Watch.reduced``, action
  :data:`REDUCED`) that the caller keeps only where the account's trades show a bot's fill did
  it (:func:`.attribution.reduced_by_bots`); nothing is sent back;
- each is a :class:`Violation` with a key it is reported under once (an order: its id; a
  revert: the leg, its baseline and its size, so that growth again is reported again).

What a lock enforces (:func:`enforce_of`): its ``enforce`` (``{cancel, revert_growth}``, in the
hold's details: a ``lock_trading`` action's or ``ksctl lock``'s), else by its mode: ``halted``
cancels and reverts, ``reducing`` cancels growth and does not revert.

The baselines of an account live while a lock that reverts may bind part of it (one binding the
account as a whole, or a symbol or strategy lock naming what the account holds, lists or has open)
and are dropped when none does; a lock placed while another already holds keeps the earlier
baselines (growth since then was under a lock too).

One order alone (:func:`entry`): the cancel a new order a stream delivers calls for, decided
by the same rules and under the same key as :func:`watch` would, from the lock book and the
order (and, under ``reducing``, the positions of its symbol): what the runner sends at the
stream's event, before a tick reads the whole account.

Extra per-order checks (``checks``: each a function of the snapshot and an order, returning a
:class:`Flag` or None) let a caller have the watch cancel more: an order not the runner's and not
reduce-only that a check flags is cancelled as a violation of the flag's kind and scope, whether
a lock is in force or not (pre-trade limits applied to orders that never asked).

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from ...engine.amounts import _floor_step
from ...engine.planner import NOT_ATTRIBUTED
from ...engine.plans import Plan
from ...engine.schedule import client_order_id
from ...orders import CancelIntent, OrderIntent
from ...snapshot import Order, Position, Snapshot, columns_of
from ..gate.request import lock_keys
from ..lock.lock import GLOBAL_SCOPE, LockBook, LockStatus

LOCK_VIOLATION = "LOCK_VIOLATION"
REVERT_SLIPPAGE = 0.02  # a revert's protected price: this far past the mark
# none: a bot's fill that reduced a position under a halt (no order may pass a halt), reported
# and left as it is
REDUCED = "none"
ACTIONS = ("cancel", "revert", REDUCED)
UNKNOWN_STRATEGY = "unknown"
_EPS = 1e-9
# only these can do no more than reduce, whatever their reduce-only flag says
_EXIT_KINDS = frozenset({"tpsl"})
_HEX = frozenset("0123456789abcdef")

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
    out = {}
    if cancel is not None:
        out["cancel"] = bool(cancel)
    if revert_growth is not None:
        out["revert_growth"] = bool(revert_growth)
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
    """A bot's order among the fills that grew a reverted leg (:mod:`.attribution`)."""

    client_order_id: Optional[str]
    order_id: Optional[str]
    strategy: str  # ``unknown`` when its client id matches no declared prefix (or it carries none)
    amount: float  # what its fills added to the leg

    def to_json(self) -> dict:
        return {"client_order_id": self.client_order_id, "order_id": self.order_id, "strategy": self.strategy,
                "amount": self.amount}


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
    # :mod:`.attribution` read the fills; the runner's own order is ``revert_id``)
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
    """What :func:`watch` decided: the cancels (one per account), the reverts (one plan per leg,
    a reduce-only order each), the violations, the baselines to keep, what was left alone and
    why (a revert below the venue's minimum), and the legs that shrank under a halt (``reduced``:
    violations only where a bot's fill did it, which the caller reads: :data:`REDUCED`)."""

    cancels: tuple[CancelIntent, ...] = ()
    reverts: tuple[Plan, ...] = ()
    violations: tuple[Violation, ...] = ()
    baselines: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    reduced: tuple[Violation, ...] = ()

    @property
    def cancel_ids(self) -> frozenset[str]:
        return frozenset(v.client_order_id for v in self.violations if v.action == "cancel" and v.client_order_id)


def leg_of_position(p: Position) -> str:
    return p.position_side if p.position_side in ("LONG", "SHORT") else p.side


def _order_leg(o: Order) -> tuple[str, str]:
    """(the leg an order faces, whether it opens that leg): a hedge-mode order names its leg; a
    one-way order buys into a long (or out of a short) and sells into a short."""
    if o.position_side in ("LONG", "SHORT"):
        opens = (o.side == "buy") == (o.position_side == "LONG")
        return o.position_side, "open" if opens else "close"
    return ("long" if o.side == "buy" else "short"), "either"


def only_reduces(o: Order) -> bool:
    """An order that can do no more than reduce a position: never cancelled here."""
    return o.reduce_only or o.kind in _EXIT_KINDS


def grows(o: Order, positions: Mapping[str, float]) -> bool:
    """Whether ``o`` (not reduce-only) would grow a position: under ``reducing``, what is not
    allowed (``positions``: contracts by ``SYMBOL|leg``). One-way: it buys with no short to face
    (or more than the short), or sells with no long (or more than the long); hedge mode: it opens
    its leg."""
    leg, how = _order_leg(o)
    if how == "open":
        return True
    if how == "close":
        return False
    facing = positions.get(f"{o.symbol}|{'short' if o.side == 'buy' else 'long'}", 0.0)
    return _open_amount(o) > facing + _EPS * max(1.0, facing)


def _open_amount(o: Order) -> float:
    return max(0.0, o.amount - o.filled)


def strategy_name(strategy: Optional[str]) -> str:
    return strategy or UNKNOWN_STRATEGY


def _lock_for(book: LockBook, account: str, symbol: str, strategy: Optional[str], now: int) -> LockStatus:
    return book.effective(lock_keys(symbol=symbol, account=account, strategy=strategy), now)


def _reverts_somewhere(book: LockBook, holds: Sequence[Any], snap: Snapshot, account: str, legs: Mapping[str, Any],
                       now: int) -> bool:
    """Whether a lock that reverts growth may bind part of ``snap``'s account: one binding the
    account as a whole, or a lock of a symbol or a strategy the account holds, lists or has open
    (``legs``: what it holds, by ``SYMBOL|leg``)."""
    if enforce_of(book.effective(lock_keys(account=account), now)).revert_growth:
        return True
    keys = lock_keys(account=account)
    for h in holds:
        if h.scope in keys or not enforce_of(LockStatus.of(h)).revert_growth:
            continue
        if any(f"{h.scope}|{leg}" in legs for leg in LEGS) or h.scope in snap.markets or any(
                h.scope in (o.symbol, o.strategy) for o in snap.orders) or h.scope in _strategies(snap):
            return True
    return False


def _strategies(snap: Snapshot) -> Sequence[Optional[str]]:
    """The strategies of ``snap``'s positions: their column where the adapter made one (no model read)."""
    cols = columns_of(snap.positions) if isinstance(snap.positions, list) else getattr(snap.positions, "columns", None)
    if cols is not None and len(cols) == len(snap.positions):
        return cols.column("strategy")
    return [p.strategy for p in snap.positions]


def _columns(snap: Snapshot) -> tuple[list[str], list[str], list[float], list[float], list[float]]:
    """Symbols, legs (hedge-mode leg, else side), contracts, notional and marks of ``snap``'s
    positions: the columns an adapter made (no position model read), else read off the positions."""
    cols = columns_of(snap.positions) if isinstance(snap.positions, list) else getattr(snap.positions, "columns", None)
    if cols is not None and len(cols) == len(snap.positions):
        legs = cols.side_keys
        if "BOTH" in legs:  # (a one-way position's leg as some venues name it: its side)
            legs = [k if k in ("LONG", "SHORT") else s for k, s in zip(legs, cols.sides)]
        return cols.symbols, legs, cols.contracts, cols.notional, cols.marks
    ps = snap.positions
    return ([p.symbol for p in ps], [leg_of_position(p) for p in ps], [p.contracts for p in ps],
            [p.notional for p in ps], [p.mark_price for p in ps])


def watch(book: LockBook, snapshots: Iterable[Snapshot], own: Iterable[str],  # noqa: C901 - one pass an account, kept whole
          baselines: Mapping[str, Any],
          now: int, *, closing: Iterable[Leg] = (), checks: Sequence[OrderCheck] = (),
          before: Mapping[str, Snapshot] = {}, memo: Optional["SizesMemo"] = None) -> Watch:
    """What the locks in force at ``now`` make the runner do to ``snapshots`` (see the module doc).

    ``own``: the client order ids the runner journaled (its orders are never touched);
    ``baselines``: what the last call returned (``{"venue/account": {"since": ms, "legs":
    {"SYMBOL|leg": contracts}}}``, as saved); ``closing``: the legs a plan of this tick closes
    (never reverted); ``checks``: extra per-order checks (see the module doc); ``before``: each
    account as last read before a lock that reverts came to bind it (the previous call's
    snapshots), whose sizes are the baseline of an account that has none yet — else the sizes of
    this first snapshot under the lock are. ``memo``: the caller's :class:`SizesMemo`, the same
    at every call (what did not change is not worked out again; the answer is the same)."""
    mine = own if isinstance(own, frozenset) else frozenset(own)
    shut = closing if isinstance(closing, (set, frozenset)) else frozenset(closing)
    holds = book.in_force(now)
    cancels: list[CancelIntent] = []
    reverts: list[Plan] = []
    violations: list[Violation] = []
    reduced: list[Violation] = []
    notes: list[str] = []
    kept: dict[str, Any] = {}
    if not holds and not checks:
        return Watch()
    for snap in snapshots:
        account = f"{snap.venue}/{snap.account}"
        if not snap.fetch.ok:  # nothing is known of it now: its baselines are kept as they were
            if account in baselines and holds:
                kept[account] = baselines[account]
            continue
        symbols, legs_of, contracts, notional, mark_of = _columns(snap)
        sizes, first = memo.sizes(account, symbols, legs_of, contracts) if memo is not None else \
            _sizes(symbols, legs_of, contracts)
        if snap.orders:
            marks = dict(zip(symbols, mark_of))
            units = {s: n / c for s, n, c in zip(symbols, notional, contracts) if c > 0}
            ids = _cancel_orders(book, snap, account, mine, sizes, marks, units, now, checks, violations)
            if ids:
                cancels.append(CancelIntent(snap.venue, snap.account, "entries", tuple(ids), LOCK_VIOLATION))
        if not holds or not _reverts_somewhere(book, holds, snap, account, first, now):
            continue  # no lock reverts anything of it: its baselines end
        record = baselines.get(account)
        legs_before = record.get("legs") if isinstance(record, Mapping) else None
        if not isinstance(legs_before, Mapping):  # the first snapshot under the lock
            read = before.get(account)
            if read is None or not read.fetch.ok:  # nothing read before the lock: its sizes are the baseline
                kept[account] = {"since": now, "legs": {k: c for k, c in sorted(sizes.items()) if c > 0}}
                continue
            # the account as read before the lock was placed: growth since is growth under it
            record, legs_before = {"since": now}, leg_sizes(read)
        since = record.get("since", now) if isinstance(record, Mapping) else now
        if memo is not None and memo.calm(account, sizes, legs_before):
            # the same sizes against the baselines the last call left them with: nothing grew
            # then, nothing can now, and the baselines stand as they are
            kept[account] = {"since": since, "legs": legs_before}
            continue
        legs: dict[str, float] = {}
        for key, base in legs_before.items():
            low = min(float(base), sizes.get(key, 0.0))  # lowered when the position shrinks
            if low > 0:
                legs[key] = low
        kept[account] = {"since": since, "legs": legs}
        reduced.extend(_reductions(book, snap, account, legs_before, sizes, now))
        grew = False
        for key, size in sizes.items():
            base = float(legs_before.get(key, 0.0))
            if size <= base * (1 + _EPS) + _EPS:
                continue
            grew = True
            p = snap.positions[first[key]]
            leg = legs_of[first[key]]
            if (account, p.symbol, leg) in shut:
                continue
            lock = _lock_for(book, account, p.symbol, p.strategy, now)
            if not enforce_of(lock).revert_growth:
                continue
            plan, v, note = _revert(snap, account, p, leg, base, size, lock, now)
            if note:
                notes.append(note)
            if v is not None:
                violations.append(v)
            if plan is not None:
                reverts.append(plan)
        if memo is not None and not grew:
            memo.settled(account, sizes, legs)
    return Watch(tuple(cancels), tuple(reverts), tuple(violations), kept, tuple(notes), tuple(reduced))


class SizesMemo:
    """What :func:`watch` worked out of each account at its last call, kept by the caller across
    calls so that a tick under a lock costs in proportion to what changed: the legs' sizes, with
    the columns they were summed from (summed again only when a column differs: compared in C,
    and an adapter keeps a column that did not move as the same list), and whether those sizes
    stood within the baselines that call left (then they still do, and the baselines stand)."""

    __slots__ = ("_sums", "_calm")

    def __init__(self) -> None:
        self._sums: dict[str, tuple[Sequence[Any], Sequence[Any], Sequence[Any], dict, dict]] = {}
        self._calm: dict[str, tuple[dict, Mapping[str, Any]]] = {}

    def sizes(self, account: str, symbols: Sequence[str], legs_of: Sequence[str], contracts: Sequence[float]
              ) -> tuple[dict[str, float], dict[str, int]]:
        was = self._sums.get(account)
        if was is not None and _same(symbols, was[0]) and _same(legs_of, was[1]) and _same(contracts, was[2]):
            return was[3], was[4]
        sizes, first = _sizes(symbols, legs_of, contracts)
        self._sums[account] = (symbols, legs_of, contracts, sizes, first)
        return sizes, first

    def calm(self, account: str, sizes: dict, baselines: Any) -> bool:
        """Whether ``sizes`` are the very ones the last call found within ``baselines`` (the legs it left)."""
        was = self._calm.get(account)
        return was is not None and was[0] is sizes and was[1] is baselines

    def settled(self, account: str, sizes: dict, baselines: Mapping[str, Any]) -> None:
        self._calm[account] = (sizes, baselines)


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return a is b or a == b


def _cancel_orders(book: LockBook, snap: Snapshot, account: str, own: frozenset, sizes: dict, marks: dict,
                   units: dict, now: int, checks: Sequence[OrderCheck], out: list[Violation]) -> list[str]:
    ids: list[str] = []
    for o in snap.orders:
        if _open_amount(o) <= 0 or only_reduces(o) or (o.client_id is not None and o.client_id in own):
            continue
        mark = marks.get(o.symbol)
        # a contract's size read off the position of its symbol (notional per contract over the mark), else 1
        size = units[o.symbol] / mark if o.symbol in units and mark else 1.0
        v = with_step(_judge(book, snap.venue, account, o, sizes, mark, size, now, partial(_flag, checks, snap, o)),
                      snap)
        if v is not None:
            ids.append(o.id)
            out.append(v)
    return ids


def _flag(checks: Sequence[OrderCheck], snap: Snapshot, o: Order) -> Optional[Flag]:
    return next((f for f in (c(snap, o) for c in checks) if f is not None), None)


def with_step(v: Optional[Violation], snap: Optional[Snapshot]) -> Optional[Violation]:
    """``v`` with its market's amount step, when ``snap`` knows it (amounts are shown to it)."""
    rules = snap.markets.get(v.symbol) if v is not None and snap is not None else None
    return replace(v, amount_step=rules.amount_step) if v is not None and rules and rules.amount_step > 0 else v


def _holder(lock: LockStatus) -> tuple[Optional[str], Optional[int], Optional[str]]:
    """Who holds the lock an order or a position broke (see :attr:`Violation.holder`)."""
    by = lock.details.get("by") if lock.locked else None
    return (lock.policy, lock.stage, by if isinstance(by, str) else None) if lock.locked else (None, None, None)


def _judge(book: LockBook, venue: str, account: str, o: Order, sizes: Optional[Mapping[str, float]],
           mark: Optional[float], size: float, now: int, flagged: Callable[[], Optional[Flag]]
           ) -> Optional[Violation]:
    """The violation of one open order that is neither the runner's nor one that only reduces:
    the lock binding it (``sizes`` None: the positions are not known, and a ``reducing`` lock
    decides nothing), else the extra checks' flag; None when it breaks nothing."""
    left = _open_amount(o)
    lock = _lock_for(book, account, o.symbol, o.strategy, now)
    why = None
    if lock.locked and enforce_of(lock).cancel:
        if lock.mode == "halted":
            why = f"{LOCK_VIOLATION}: an order that is not reduce-only under the {lock.scope} halt"
        elif sizes is not None and grows(o, sizes):
            why = f"{LOCK_VIOLATION}: an order that would grow a position under the {lock.scope} reducing lock"
    kind, scope, mode = LOCK_VIOLATION, lock.scope or GLOBAL_SCOPE, lock.mode
    if why is None:
        flag = flagged()
        if flag is None:
            return None
        kind, scope, why = flag.kind, flag.scope, flag.reason
    price = o.price if o.price is not None and o.price > 0 else mark
    notional = left * price * size if price is not None and math.isfinite(price) else None
    return Violation(f"cancel|{account}|{o.id}", kind, "cancel", scope, mode, venue, account, o.symbol,
                     o.side, left, notional, o.client_id, o.id, strategy_name(o.strategy), why,
                     o.position_side if o.position_side in ("LONG", "SHORT") else None, holder=_holder(lock))


def entry(book: LockBook, venue: str, account: str, order: Order, now: int, *,
          legs: Optional[Mapping[str, float]] = None, mark: Optional[float] = None,
          contract_size: float = 1.0) -> Optional[Violation]:
    """One new open order as a stream delivers it, judged alone by the rules of :func:`watch`
    (the same violation, under the same key, that a tick's watch would find for it): the cancel
    the lock binding it asks for, or None. ``legs``: the positions of the order's symbol
    (contracts by ``SYMBOL|leg``), None when they are not known — then only a ``halted`` lock
    decides, and a ``reducing`` one is left to the tick's watch, which reads the whole account.

    Decides nothing for an order that only reduces, one whose client order id is of the runner's
    own shape (``ks`` and 30 of [0-9a-f]: whether it is journaled is the tick's to read), or one
    whose lock does not cancel; the extra per-order checks are the tick's."""
    if _open_amount(order) <= 0 or only_reduces(order) or could_be_own(order.client_id):
        return None
    return _judge(book, venue, account, order, legs, mark, contract_size, now, lambda: None)


def could_be_own(client_id: Optional[str]) -> bool:
    """Whether ``client_id`` has the shape of the runner's own (:func:`~..engine.schedule.client_order_id`)."""
    return client_id is not None and len(client_id) == 32 and client_id.startswith("ks") and all(
        c in _HEX for c in client_id[2:])


def _sizes(symbols: Sequence[str], legs_of: Sequence[str], contracts: Sequence[float]
           ) -> tuple[dict[str, float], dict[str, int]]:
    """Contracts by ``SYMBOL|leg``, and the index of each key's first position."""
    sizes: dict[str, float] = {}
    first: dict[str, int] = {}
    for i, (sym, leg, c) in enumerate(zip(symbols, legs_of, contracts)):
        key = f"{sym}|{leg}"
        if key in sizes:
            sizes[key] += c
        else:
            sizes[key], first[key] = c, i
    return sizes, first


def leg_sizes(snap: Snapshot) -> dict[str, float]:
    """The held legs of ``snap`` (contracts above 0 by ``SYMBOL|leg``, sorted): a baseline."""
    symbols, legs_of, contracts, _, _ = _columns(snap)
    sizes, _ = _sizes(symbols, legs_of, contracts)
    return {k: c for k, c in sorted(sizes.items()) if c > 0}


def _reductions(book: LockBook, snap: Snapshot, account: str, legs_before: Mapping[str, Any],
                sizes: Mapping[str, float], now: int) -> list[Violation]:
    """Each leg of ``snap`` below its baseline under a ``halted`` lock: a fill under the halt,
    whoever's (a candidate: the caller keeps it only when a bot's fill did it, see
    :data:`REDUCED`). Nothing is sent back: it reduced."""
    out = []
    for key, base in legs_before.items():
        before, size = float(base), sizes.get(key, 0.0)
        if size >= before * (1 - _EPS) - _EPS:
            continue
        symbol, _, leg = key.rpartition("|")
        lock = _lock_for(book, account, symbol, None, now)
        if not lock.locked or lock.mode != "halted":
            continue
        side = "sell" if leg in ("long", "LONG") else "buy"  # what shrinks a long, a short
        shrink = before - size
        rules = snap.markets.get(symbol)
        # valued as the leg left is (None: it is closed whole, and nothing here values it)
        p = next((p for p in snap.positions if p.symbol == symbol and leg_of_position(p) == leg and p.contracts > 0),
                 None)
        why = (f"{LOCK_VIOLATION}: the {symbol} {leg} shrank from {before:g} to {size:g} under the {lock.scope} "
               f"halt: a bot's order filled, though no order may; it reduced, so nothing is sent back")
        out.append(Violation(f"{REDUCED}|{account}|{symbol}|{leg}|{before:g}|{size:g}", LOCK_VIOLATION, REDUCED,
                             lock.scope or GLOBAL_SCOPE, lock.mode, snap.venue, account, symbol, side, shrink,
                             shrink * p.notional / p.contracts if p is not None else None,
                             None, None, UNKNOWN_STRATEGY, why, leg if leg in ("LONG", "SHORT") else None, before,
                             size, holder=_holder(lock),
                             amount_step=rules.amount_step if rules is not None and rules.amount_step > 0 else None))
    return out


def _revert(snap: Snapshot, account: str, p: Position, leg: str, base: float, size: float, lock: LockStatus,
            now: int) -> tuple[Optional[Plan], Optional[Violation], Optional[str]]:
    """The reduce-only order that brings ``p``'s leg back to ``base``, and the violation."""
    excess = size - base
    rules = snap.markets.get(p.symbol)
    amount = _floor_step(min(excess, p.contracts), rules.amount_step if rules else 0.0)  # never above the position
    unit = p.notional / p.contracts if p.contracts > 0 else p.mark_price * p.contract_size
    grew = "buy" if p.side == "long" else "sell"
    hedge = p.position_side if p.position_side in ("LONG", "SHORT") else None
    strategy = strategy_name(p.strategy)
    why = (f"{LOCK_VIOLATION}: the {p.symbol} {leg} grew from {base:g} to {size:g} under the {lock.scope} "
           f"{lock.mode} lock; "
           f"brought back by {amount:g}")
    decision = f"enforce/{account}/{p.symbol}/{leg}/t{now}"
    cid = client_order_id(decision, f"{account}/{p.symbol}/{leg}")
    small = amount <= 0 or (rules is not None and amount < rules.min_amount)
    v = Violation(f"revert|{account}|{p.symbol}|{leg}|{base:g}|{size:g}", LOCK_VIOLATION, "revert",
                  lock.scope or GLOBAL_SCOPE, lock.mode, snap.venue, account, p.symbol, grew, excess, excess * unit,
                  None, None, strategy, why, hedge, base, size, None if small else cid, holder=_holder(lock),
                  amount_step=rules.amount_step if rules is not None and rules.amount_step > 0 else None)
    if small:
        return None, v, (f"REVERT_BELOW_MINIMUM: {account} {p.symbol} {leg}: growth {excess:g} rounds to {amount:g}, "
                         f"below what the venue takes (step {rules.amount_step if rules else 0:g}, "
                         f"minimum {rules.min_amount if rules else 0:g})")
    side = "sell" if p.side == "long" else "buy"
    price = p.mark_price * (1 - REVERT_SLIPPAGE) if side == "sell" else p.mark_price * (1 + REVERT_SLIPPAGE)
    order = OrderIntent(decision, cid, snap.venue, snap.account,
                        p.symbol, side, hedge, amount, True, price, amount * unit, 1, 1, now, "revert_growth",
                        f"REVERT_GROWTH: back to {base:g} (lock {lock.scope})")
    return Plan(decision, 0, NOT_ATTRIBUTED, orders=(order,)), v, None


__all__ = ["ACTIONS", "Enforce", "Flag", "LOCK_VIOLATION", "OrderCheck", "REDUCED", "REVERT_SLIPPAGE",
           "UNKNOWN_STRATEGY", "SizesMemo", "Violation", "Watch", "could_be_own", "default_enforce", "enforce_details",
           "enforce_of", "entry", "grows", "leg_sizes", "only_reduces", "watch"]
