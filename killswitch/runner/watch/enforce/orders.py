"""The venue watch's orders: which open order a lock in force cancels (one that can add exposure
under ``halted``, one that would grow a position under ``reducing``; never one that only reduces,
never the runner's own), or an extra per-order check flags; for a tick's snapshot
(:func:`_cancel_orders`) or one order a stream delivers (:func:`entry`). See the package's doc.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Mapping, Optional, Sequence

from ....snapshot import Order, Snapshot
from ...lock.lock import GLOBAL_SCOPE, LockBook
from .values import (
    _EPS,
    LOCK_VIOLATION,
    Flag,
    OrderCheck,
    Violation,
    _holder,
    _lock_for,
    enforce_of,
    strategy_name,
    with_step,
)

# only these can do no more than reduce, whatever their reduce-only flag says
_EXIT_KINDS = frozenset({"tpsl"})
_HEX = frozenset("0123456789abcdef")


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
    """One new open order as a stream delivers it, judged alone by the rules of :func:`~.decide.watch`
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
    """Whether ``client_id`` has the shape of the runner's own (:func:`~killswitch.engine.schedule.client_order_id`)."""
    return client_id is not None and len(client_id) == 32 and client_id.startswith("ks") and all(
        c in _HEX for c in client_id[2:])
