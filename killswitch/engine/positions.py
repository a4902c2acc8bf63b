"""The facts of one position that position conditions read, and picking positions by them.

What it owns: the computation of every fact ``policy/positions.py`` names (losses over equity,
margin and entry notional, the liquidation distance, the notional), the selection of the
positions a ``where:`` holds for, and the order in which ``close_positions {count}`` takes the
worst of them. The ``position_count`` signal (its verdicts through :mod:`.signals`' kind inputs)
and the planner share it, so a condition means the same in a trigger's signal and in the close
it leads to.

A fact that cannot be computed is None (unknown): a losing position without a margin or an
entry price, a position without a liquidation price, a scope without positive equity. A
position that is not losing has a loss of 0 whatever it reports.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
import math
from itertools import count
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, TypeVar

from ..compile.nodes import PositionCondition
from ..snapshot import Position
from .columns import ARRAYS_FROM

T = TypeVar("T")


def entry_notional(p: Position) -> Optional[float]:
    """The position's notional at its entry price: the venue's notional at the mark, scaled by
    entry / mark (so the contract size is the venue's). None without an entry price."""
    if not p.entry_price or p.entry_price <= 0:
        return None
    return p.notional * p.entry_price / p.mark_price


def liquidation_distance(p: Position) -> Optional[float]:
    liq = p.liquidation_price
    return abs(p.mark_price - liq) / p.mark_price if liq else None


def near_liquidation(liqs: Sequence[Optional[float]], marks: Sequence[float], limit: float) -> list[int]:
    """The indexes of the positions whose :func:`liquidation_distance` is at most ``limit``, read
    from their columns (liquidation prices, marks); one without a liquidation price is not. From
    :data:`~.columns.ARRAYS_FROM` positions on, computed over the columns with numpy: the same
    operations on the same floats, a None a NaN there (within no limit, as the loop skips it)."""
    if len(marks) < ARRAYS_FROM:
        return [i for i, liq, mark in zip(count(), liqs, marks) if liq and abs(mark - liq) / mark <= limit]
    import numpy as np  # imported when a runner is made (columns.load_arrays), never by validate

    liq = np.array(liqs, dtype=float)
    mark = np.array(marks, dtype=float)
    with np.errstate(all="ignore"):  # an inf or NaN, as the loop's float arithmetic gives it, without a warning
        near: list[int] = np.flatnonzero((liq != 0) & (np.abs(mark - liq) / mark <= limit)).tolist()
    return near


def _loss(p: Position) -> float:
    return -p.unrealized_pnl if p.unrealized_pnl < 0 else 0.0


def _loss_on_equity(p: Position, equity: Optional[float]) -> Optional[float]:
    return _loss(p) / equity if equity is not None and equity > 0 else None


def _loss_on_margin(p: Position, equity: Optional[float]) -> Optional[float]:
    loss = _loss(p)
    if loss == 0.0:
        return 0.0  # nothing lost is 0 of any base, reported or not
    return loss / p.margin if p.margin is not None and p.margin > 0 else None


def _loss_on_notional(p: Position, equity: Optional[float]) -> Optional[float]:
    loss = _loss(p)
    if loss == 0.0:
        return 0.0
    base = entry_notional(p)
    return loss / base if base else None


_FACTS: dict[str, Callable[[Position, Optional[float]], Optional[float]]] = {
    "loss_on_equity": _loss_on_equity,
    "loss_on_margin": _loss_on_margin,
    "loss_on_notional": _loss_on_notional,
    "liquidation_distance": lambda p, _: liquidation_distance(p),
    "notional": lambda p, _: p.notional,
}


def fact(p: Position, name: str, equity: Optional[float]) -> Optional[float]:
    """One fact of ``p`` (see ``POSITION_FIELDS``); None when it cannot be computed."""
    return _FACTS[name](p, equity)


class _Facts(Mapping[str, Optional[float]]):
    """The facts of one position as the condition's predicate reads them (``.get(name)``),
    each computed only when read: ``a && b`` with ``a`` false never computes ``b``."""

    __slots__ = ("p", "equity")

    def __init__(self, p: Position, equity: Optional[float]):
        self.p, self.equity = p, equity

    def get(self, name: str, default: object = None) -> Optional[float]:
        return _FACTS[name](self.p, self.equity)  # the model admits only names _FACTS has

    def __getitem__(self, name: str) -> Optional[float]:
        return _FACTS[name](self.p, self.equity)

    def __iter__(self) -> Iterator[str]:
        return iter(_FACTS)

    def __len__(self) -> int:
        return len(_FACTS)


def holds(cond: PositionCondition, p: Position, equity: Optional[float]) -> Optional[bool]:
    """Whether ``cond`` holds for ``p``: True, False, or None when a fact it needs is unknown."""
    return cond.predicate(_Facts(p, equity))


def unknown_facts(cond: PositionCondition, p: Position, equity: Optional[float]) -> list[str]:
    """The facts ``cond`` reads that are unknown for ``p`` (for the reason of an unknown)."""
    return [name for name in cond.reads if fact(p, name, equity) is None]


def smallest(items: list[T], count: Optional[int], primary: Callable[[T], tuple[Any, ...]],
             tiebreak: Callable[[T], str]) -> list[T]:
    """The first ``count`` of ``items`` (all of them when None) ordered by ``(primary, tiebreak)``.

    Without sorting them all: the ``count`` smallest by ``primary`` come from a heap (n log count),
    then those and every item tied with the last of them are sorted by the full key, so the
    result is exactly the head of the full sort, and ``tiebreak`` (a string to build) is made for
    a few items only. Ranking 100,000 positions for the top 3 costs one pass."""
    if count is None or count >= len(items):
        return sorted(items, key=lambda x: (primary(x), tiebreak(x)))
    if count <= 0:
        return []
    keys = [primary(x) for x in items]
    best = heapq.nsmallest(count, range(len(items)), key=keys.__getitem__)
    bound = keys[best[-1]]
    ties = [i for i, k in enumerate(keys) if k <= bound]
    ties.sort(key=lambda i: (keys[i], tiebreak(items[i])))
    return [items[i] for i in ties[:count]]


def highest(items: list[int], count: int, score: list[float], then: list[float],
            tiebreak: Callable[[int], str]) -> list[int]:
    """The first ``count`` of ``items`` (indexes into ``score`` and ``then``) ordered by
    ``(-score[i], -then[i], tiebreak(i))``: what :func:`smallest` gives for that key, without a
    key tuple per item. The ``count``-th highest score bounds the answer (every item of it scores
    at least that), so only the items at or above it are ordered by the full key; finding the
    bound runs in C over the scores. Ranking 100,000 positions for the top 3 is one pass."""
    if count <= 0 or not items:
        return []
    if count >= len(items):
        return smallest(items, None, lambda i: (-score[i], -then[i]), tiebreak)
    # the scores of items (``score`` itself when items are every index: only their values count here)
    scores = score if len(items) == len(score) else list(map(score.__getitem__, items))
    total = sum(scores)
    if total != total:  # a NaN score (or inf - inf): no order to bound by; the general ranking decides
        return smallest(items, count, lambda i: (-score[i], -then[i]), tiebreak)
    bound = heapq.nlargest(count, scores)[-1]
    near = [i for i in items if score[i] >= bound]
    if len(near) <= count:
        return smallest(near, count, lambda i: (-score[i], -then[i]), tiebreak)
    # More tied at the bound than the count takes (a book of like positions: thousands). Every
    # item above the bound is in (fewer than ``count``); those at it are ordered by ``then``,
    # bounded the same way, and only the ones tied on both are ranked by ``tiebreak``, picked
    # without a key tuple each and without sorting them all.
    # (a pass is saved where every item is at the bound: the like positions of a crash's book)
    at = [i for i in near if score[i] == bound]
    above = [i for i in near if score[i] > bound] if len(at) < len(near) else []
    rest = count - len(above)
    thens = list(map(then.__getitem__, at))
    if any(map(math.isnan, thens)):  # no order to bound by: the general ranking decides
        return smallest(near, count, lambda i: (-score[i], -then[i]), tiebreak)
    then_bound = heapq.nlargest(rest, thens)[-1]
    tied = [i for i in at if then[i] == then_bound]
    lead = [i for i in at if then[i] > then_bound] if len(tied) < len(at) else []
    head = smallest(above, None, lambda i: (-score[i], -then[i]), tiebreak) + \
        smallest(lead, None, lambda i: (-then[i],), tiebreak)
    return head + heapq.nsmallest(rest - len(lead), tied, key=tiebreak)


def worst_first(items: list[T], position: Callable[[T], Position], key: Callable[[T], str], rank_by: str,
                equity: Optional[float], score: Callable[[T], float],
                count: Optional[int] = None) -> list[tuple[T, Optional[float]]]:
    """The ``count`` worst of ``items`` (all when None), worst first by ``rank_by``, each with its
    ranking value: the risk score (``score``) or a loss, largest first; the liquidation distance,
    nearest first. Items whose value is unknown come last; ties go to the larger notional, then
    to the position key (a stable order)."""
    values: list[Optional[float]]
    if rank_by == "risk_score":
        values = [score(x) for x in items]
    else:
        values = [fact(position(x), rank_by, equity) for x in items]
    nearest = rank_by == "liquidation_distance"

    def order(j: int) -> tuple[bool, float, float]:
        v = values[j]
        worst = 0.0 if v is None else (v if nearest else -v)
        return (v is None, worst, -position(items[j]).notional)

    return [(items[j], values[j]) for j in smallest(list(range(len(items))), count, order, lambda j: key(items[j]))]


__all__ = ["entry_notional", "liquidation_distance", "near_liquidation", "fact", "holds", "highest", "unknown_facts",
           "smallest", "worst_first"]
