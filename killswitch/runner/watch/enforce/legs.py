"""The venue watch's positions: each leg's size (account, symbol, leg) read off the snapshot's
columns, and a spot account's holdings as long legs (:func:`~killswitch.snapshot.spot_holdings`,
what a ``close_all`` sells: ``ASSET/QUOTE``, the asset's total), the baselines kept while a lock
that reverts binds the account, and what a leg's change under the lock is: growth brought back by
one order (:func:`_revert`: reduce-only, or a spot holding's sale of at most what is held), or a
halt's reduction reported (:func:`_reductions`); :class:`SizesMemo`, what a caller keeps across
calls. See the package's doc.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Sequence

from ....engine.amounts import _floor_step
from ....engine.planner import NOT_ATTRIBUTED
from ....engine.plans import Plan
from ....engine.schedule import client_order_id
from ....orders import OrderIntent
from ....snapshot import Balance, Position, Snapshot, columns_of, spot_holdings
from ...gate.request import lock_keys
from ...lock.lock import GLOBAL_SCOPE, LockBook, LockStatus
from .values import (
    _EPS,
    LEGS,
    LOCK_VIOLATION,
    REDUCED,
    REVERT_SLIPPAGE,
    UNKNOWN_STRATEGY,
    Violation,
    _holder,
    _lock_for,
    enforce_of,
    leg_of_position,
    strategy_name,
)

SPOT_LEG = "long"  # a held base asset is a long leg (its close: a sale of at most the holding)


class _Held(NamedTuple):
    """What a leg's revert and valuation read of the position or spot holding it is."""

    symbol: str
    side: str  # long | short
    position_side: Optional[str]  # LONG | SHORT in hedge mode, else None
    contracts: float  # what is held: never sold or closed beyond it
    unit: Optional[float]  # notional per contract (None: a holding with no price)
    mark: Optional[float]
    strategy: Optional[str]
    spot: bool  # a spot holding: sold (never reduce-only), at or above the venue's minimum notional


def _of_position(p: Position) -> _Held:
    unit = p.notional / p.contracts if p.contracts > 0 else p.mark_price * p.contract_size
    return _Held(p.symbol, p.side, p.position_side if p.position_side in ("LONG", "SHORT") else None, p.contracts,
                 unit, p.mark_price, p.strategy, False)


def _of_holding(symbol: str, b: Balance) -> _Held:
    price = b.price if b.price is not None and b.price > 0 else None
    return _Held(symbol, "long", None, b.total, price, price, None, True)


def _held_at(snap: Snapshot, held: Sequence[tuple[str, Balance]], i: int) -> _Held:
    """The ``i``-th row of :func:`_with_holdings`: a position, then the spot holdings."""
    n = len(snap.positions)
    return _of_position(snap.positions[i]) if i < n else _of_holding(*held[i - n])


def _with_holdings(symbols: list[str], legs: list[str], contracts: list[float],
                   held: Sequence[tuple[str, Balance]]) -> tuple[list[str], list[str], list[float]]:
    """The positions' symbols, legs and contracts, each spot holding after them as a long leg."""
    if not held:
        return symbols, legs, contracts
    return ([*symbols, *(s for s, _ in held)], [*legs, *(SPOT_LEG for _ in held)],
            [*contracts, *(b.total for _, b in held)])


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


class SizesMemo:
    """What :func:`~.decide.watch` worked out of each account at its last call, kept by the caller across
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
    """The held legs of ``snap`` (contracts above 0 by ``SYMBOL|leg``, a spot account's holdings
    among them, sorted): a baseline."""
    symbols, legs_of, contracts, _, _ = _columns(snap)
    sizes, _ = _sizes(*_with_holdings(symbols, legs_of, contracts, spot_holdings(snap)))
    return {k: c for k, c in sorted(sizes.items()) if c > 0}


def _reductions(book: LockBook, snap: Snapshot, account: str, legs_before: Mapping[str, Any],
                sizes: Mapping[str, float], now: int, held: Sequence[tuple[str, Balance]] = ()) -> list[Violation]:
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
        # valued as the leg left is (None: it is closed whole, or a holding unpriced: nothing here values it)
        p = next((p for p in snap.positions if p.symbol == symbol and leg_of_position(p) == leg and p.contracts > 0),
                 None)
        unit = p.notional / p.contracts if p is not None else next(
            (h.unit for h in (_of_holding(s, b) for s, b in held) if h.symbol == symbol and leg == SPOT_LEG), None)
        why = (f"{LOCK_VIOLATION}: the {symbol} {leg} shrank from {before:g} to {size:g} under the {lock.scope} "
               f"halt: a bot's order filled, though no order may; it reduced, so nothing is sent back")
        out.append(Violation(f"{REDUCED}|{account}|{symbol}|{leg}|{before:g}|{size:g}", LOCK_VIOLATION, REDUCED,
                             lock.scope or GLOBAL_SCOPE, lock.mode, snap.venue, account, symbol, side, shrink,
                             shrink * unit if unit is not None else None,
                             None, None, UNKNOWN_STRATEGY, why, leg if leg in ("LONG", "SHORT") else None, before,
                             size, holder=_holder(lock),
                             amount_step=rules.amount_step if rules is not None and rules.amount_step > 0 else None))
    return out


def _revert(snap: Snapshot, account: str, p: _Held, leg: str, base: float, size: float, lock: LockStatus,
            now: int) -> tuple[Optional[Plan], Optional[Violation], Optional[str]]:
    """The order that brings ``p``'s leg back to ``base`` (reduce-only; a spot holding's sale, as
    a ``close_all``'s, is not), and the violation."""
    excess = size - base
    rules = snap.markets.get(p.symbol)
    amount = _floor_step(min(excess, p.contracts), rules.amount_step if rules else 0.0)  # never above the position
    unit = p.unit
    grew = "buy" if p.side == "long" else "sell"
    hedge = p.position_side
    strategy = strategy_name(p.strategy)
    why = (f"{LOCK_VIOLATION}: the {p.symbol} {leg} grew from {base:g} to {size:g} under the {lock.scope} "
           f"{lock.mode} lock; "
           f"brought back by {amount:g}")
    decision = f"enforce/{account}/{p.symbol}/{leg}/t{now}"
    cid = client_order_id(decision, f"{account}/{p.symbol}/{leg}")
    # a spot sale is not reduce-only: the venue's minimum notional holds for it (as for a close_all's)
    small = amount <= 0 or (rules is not None and (amount < rules.min_amount or (
        p.spot and unit is not None and amount * unit < rules.min_notional)))
    left = small or unit is None or p.mark is None
    v = Violation(f"revert|{account}|{p.symbol}|{leg}|{base:g}|{size:g}", LOCK_VIOLATION, "revert",
                  lock.scope or GLOBAL_SCOPE, lock.mode, snap.venue, account, p.symbol, grew, excess,
                  excess * unit if unit is not None else None,
                  None, None, strategy, why, hedge, base, size, None if left else cid, holder=_holder(lock),
                  amount_step=rules.amount_step if rules is not None and rules.amount_step > 0 else None)
    if small:
        return None, v, (f"REVERT_BELOW_MINIMUM: {account} {p.symbol} {leg}: growth {excess:g} rounds to {amount:g}, "
                         f"below what the venue takes (step {rules.amount_step if rules else 0:g}, "
                         f"minimum {rules.min_amount if rules else 0:g}"
                         + (f", minimum notional {rules.min_notional:g}" if p.spot and rules else "") + ")")
    if unit is None or p.mark is None:  # (a spot holding the venue gave no price for)
        return None, v, (f"REVERT_NO_PRICE: {account} {p.symbol} {leg}: growth {excess:g} cannot be priced; "
                         f"nothing is sent")
    side = "sell" if p.side == "long" else "buy"
    price = p.mark * (1 - REVERT_SLIPPAGE) if side == "sell" else p.mark * (1 + REVERT_SLIPPAGE)
    order = OrderIntent(decision, cid, snap.venue, snap.account,
                        p.symbol, side, hedge, amount, not p.spot, price, amount * unit, 1, 1, now, "revert_growth",
                        f"REVERT_GROWTH: back to {base:g} (lock {lock.scope})")
    return Plan(decision, 0, NOT_ATTRIBUTED, orders=(order,)), v, None
