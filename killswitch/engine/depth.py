"""Order-book-aware unwinding: one position's close sized and priced against the top of the book.

A policy whose ``unwind`` sets ``max_impact`` or ``book_depth`` reads the venue's book for the
positions it closes (the runner fetches it once a close is planned, :func:`~.evaluate.book_requests`, and
plans again with it, :func:`~.evaluate.replan`). For one close (a *leg*):

* the side it takes is the bids for a sell (closing a long) and the asks for a buy;
* the *reference* price is the position's mark, the same reference ``max_slippage`` has
  without a book;
* walking the levels from the best price, an amount's *impact* is how far the last level it
  reaches lies from the best price, and its *slippage* how far that level lies from the
  reference (for a sell: ``(best - p) / best`` and ``(mark - p) / mark``);
* the leg's *capacity* is what the book holds at levels within both caps (``max_impact``
  from the best price, ``max_slippage`` from the mark);
* the leg is split into the fewest equal children (on the amount step; ``chunk_notional``
  still caps each) no larger than the capacity, and each child is a reduce-only limit IOC
  priced at the last level the largest child reaches: it moves the price by at most
  ``max_impact``, fills no worse than ``max_slippage`` from the mark, and the children add up
  to the leg, never more.

A book so thin that the close would need more than :data:`MAX_CHILDREN` children gets that
many, larger ones (never larger than ``chunk_notional``), each still priced at the capped level
(``BOOK_THIN``): their IOCs take what the book holds within the caps and the rest is planned
again. Children go out spaced by the venue's order rate, and each is sized against the book as
it was read: when the book has not refilled by the time a later child arrives, that IOC fills
what the book holds up to its price and the rest expires; the runner's shortfall machinery
plans that remainder again at the next tick, from the position and a book read then.

Fail-safe (the reason code goes into the plan's ``skipped``): no book for the symbol
(``BOOK_MISSING``: not fetched, the fetch failed, the venue cannot serve one), an empty or
malformed side (``BOOK_EMPTY``, ``BOOK_INVALID``), or not even one amount step within the
caps (``BOOK_OUTSIDE_CAP``): the leg is planned as without a book, split by
``chunk_notional``, each order a limit IOC at the slippage cap from the mark. No close is
ever larger, less protected or left out because a book was missing.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from typing import Optional, Sequence

from ..compile.nodes import UnwindNode
from ..snapshot import OrderBook
from .amounts import split_on_grid

Level = tuple[float, float]  # (price, amount)
Child = tuple[float, float]  # (amount, limit price)
EPS = 1e-12
MAX_CHILDREN = 100  # children of one close in one plan (a book too thin for that: see BOOK_THIN)


def book_side(book: OrderBook, side: str) -> tuple[Level, ...]:
    """The levels a ``side`` (sell: bids, buy: asks) order takes, best first."""
    return book.bids if side == "sell" else book.asks


def valid_side(levels: Sequence[Level], side: str) -> bool:
    """Prices positive and finite, amounts not negative, best first (bids falling, asks rising)."""
    last: Optional[float] = None
    for price, amount in levels:
        if not (math.isfinite(price) and price > 0 and math.isfinite(amount) and amount >= 0):
            return False
        if last is not None and (price > last if side == "sell" else price < last):
            return False
        last = price
    return True


def within_caps(levels: Sequence[Level], side: str, mark: float, max_impact: Optional[float],
                max_slippage: float) -> tuple[Level, ...]:
    """The levels, from the best, that lie within both caps (a level past one cap ends the walk)."""
    if not levels:
        return ()
    best = levels[0][0]
    out = []
    for price, amount in levels:
        impact = (best - price) / best if side == "sell" else (price - best) / best
        slip = (mark - price) / mark if side == "sell" else (price - mark) / mark
        if (max_impact is not None and impact > max_impact + EPS) or slip > max_slippage + EPS:
            break
        out.append((price, amount))
    return tuple(out)


def walk(levels: Sequence[Level], amount: float) -> tuple[float, float, int]:
    """Walk ``amount`` through ``levels`` from the best: (price of the last level reached,
    average price, levels reached). Beyond the levels given, the last level's price."""
    left, cost, n, price = amount, 0.0, 0, levels[0][0]
    for level, size in levels:
        if left <= EPS:
            break
        take = min(left, size)
        price = level
        cost += take * price
        left -= take
        n += 1
    cost += max(0.0, left) * price
    return price, cost / amount if amount > 0 else price, max(n, 1)


def split_steps(amount: float, most: float, step: float) -> list[float]:
    """The fewest equal pieces of ``amount``, each at most ``most``, on the ``step`` grid (exact
    decimals, as the planner's ``split_amount``): they add up to ``amount``, dust below one step
    riding with the last piece. ``most`` below one step: one step per piece."""
    if amount <= most or amount <= 0:
        return [amount]
    return split_on_grid(amount, step,
                         lambda st: int((Decimal(repr(most)) / st).to_integral_value(rounding=ROUND_FLOOR)),
                         lambda: math.ceil(amount / most - 1e-9))


def children(amount: float, side: str, mark: float, unit_price: float, step: float, book: Optional[OrderBook],
             unwind: UnwindNode) -> tuple[Optional[list[Child]], str]:
    """One leg's children (amount, limit price) against ``book``, and a note for the order's
    reason; or None and the reason code why the book cannot size it (the caller falls back)."""
    if book is None:
        return None, "BOOK_MISSING: no order book for the symbol"
    levels = book_side(book, side)
    if not valid_side(levels, side):
        return None, "BOOK_INVALID: levels out of order or not positive"
    levels = tuple(lv for lv in levels if lv[1] > 0)
    if not levels:
        return None, f"BOOK_EMPTY: no {'bids' if side == 'sell' else 'asks'}"
    ok = within_caps(levels, side, mark, unwind.max_impact, unwind.max_slippage)
    capacity = sum(a for _, a in ok)
    if capacity < max(step, EPS):
        best = levels[0][0]
        return None, (f"BOOK_OUTSIDE_CAP: best {'bid' if side == 'sell' else 'ask'} {best:g} holds less than one "
                      f"step within max_slippage {unwind.max_slippage:.2%} of mark {mark:g}")
    most, thin = capacity, ""
    if amount / capacity > MAX_CHILDREN:  # bounded: larger children, each still priced within the caps
        most = math.ceil(amount / MAX_CHILDREN / step - 1e-9) * step if step > 0 else amount / MAX_CHILDREN
        thin = (f"; BOOK_THIN: {math.ceil(amount / capacity)} children would fit the book, {MAX_CHILDREN} at most "
                f"are sized by it: each IOC takes what the book holds within the caps, the rest is planned again")
    if unwind.chunk_notional and unit_price > 0:  # the policy's own cap on an order holds whatever the book
        most = min(most, unwind.chunk_notional / unit_price)
    pieces = split_steps(amount, most, step)
    # every child at the level the largest reaches: a later child finding the top of the book
    # not yet refilled still takes what is left down to there (never past the caps)
    last, _, reached = walk(ok, min(max(pieces), capacity))
    impact = abs(levels[0][0] - last) / levels[0][0]
    slip = (mark - last) / mark if side == "sell" else (last - mark) / mark
    return [(p, last) for p in pieces], (
        f"BOOK: {len(pieces)} child(ren) of at most {most:g}, capacity {capacity:g} in {len(ok)} level(s); "
        f"limit {last:g} at level {reached}: impact {impact:.2%}, slippage {max(0.0, slip):.2%}{thin}")


__all__ = ["book_side", "valid_side", "within_caps", "walk", "split_steps", "children"]
