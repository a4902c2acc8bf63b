"""Whose fills grew a position: a revert's violation attributed by the venue's own ids.

A position names no strategy (the venue keeps one per leg, whoever built it), so the growth a
halt reverts is attributed from the account's trades (:class:`killswitch.fills.Fill`, read by
the adapter with each order's client order id and the strategy its declared prefix names): the
newest fills of the leg's symbol that added to it (the growth's side; the leg in hedge mode), not
the runner's own, taken until they cover the growth. The violation then names the strategy with
the most of them, every strategy among them (``strategies``), the bot's order that filled most
as its ``client_order_id`` and ``order_id`` (the runner's own revert stays ``revert_id``), each
bot's order with its own ids, strategy and amount (``orders``: status, the report and the runbook
name every one, never the lead's id for another bot's fill), and how it was attributed
(``attribution``: the fills, each ``client id (strategy) amount``). Only fills at or before the
time of the snapshot the growth was seen in count (``until``): a bot's order placed after that
read did not grow what it saw.

Its key is the leg's size step and the orders of those fills (``revert|account|symbol|leg|from|
to|order ids``): a bot that brings the leg back to the same step after a revert, by another order,
breaks the halt again (a violation of its own), while a tick that sees the same growth again
(its revert not filled yet, or a runner started anew) reads the same fills, so the same key.
Where no fill names the growth the key is the size step alone.

Where nothing names a strategy it is said why, never a bare ``unknown``: ``unknown: no fill
read (...)`` (the venue offers no read of the trades, or the read failed), ``unknown: no fill of
the growth read`` (none of the leg's side since), ``unknown: client order id X matches no
declared prefix``, ``unknown: the fill carries no client order id``.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional, Sequence

from ...fills import Fill
from ..book.rejections import leg_of
from .enforce import UNKNOWN_STRATEGY, BotOrder, Violation, could_be_own

NO_FILL_READ = f"{UNKNOWN_STRATEGY}: no fill read"
NO_GROWTH_FILL = f"{UNKNOWN_STRATEGY}: no fill of the growth read"
_EPS = 1e-9


@dataclass(frozen=True)
class FillRead:
    """An account's fills of one symbol as read (``error``: why none could be, with its reason code)."""

    fills: tuple[Fill, ...] = ()
    error: Optional[str] = None


def growth_fills(v: Violation, fills: Iterable[Fill], own: frozenset[str] = frozenset(),
                 until: Optional[int] = None) -> list[Fill]:
    """The fills that grew ``v``'s leg (or shrank it, for a reduction): of its symbol and side
    (its leg in hedge mode), not the runner's own (journaled, or of its client id shape), at or
    before ``until`` (the snapshot's time; None: any), newest first until they cover ``v``'s
    growth (the last one taken whole)."""
    mine = [f for f in fills if f.symbol == v.symbol and f.side == v.side
            and (until is None or f.ts_ms <= until)
            and (v.position_side is None or f.position_side in (None, v.position_side))
            and not (f.client_id is not None and (f.client_id in own or could_be_own(f.client_id)))]
    out: list[Fill] = []
    covered = 0.0
    for f in sorted(mine, key=lambda f: f.ts_ms, reverse=True):
        if covered >= v.amount - _EPS * max(1.0, v.amount):
            break
        out.append(f)
        covered += f.amount
    return out


def _name(f: Fill) -> str:
    return f.strategy or UNKNOWN_STRATEGY


def _why_unknown(f: Fill) -> str:
    if f.client_id is None:
        return f"{UNKNOWN_STRATEGY}: the fill carries no client order id"
    return f"{UNKNOWN_STRATEGY}: client order id {f.client_id} matches no declared prefix"


def attribute(v: Violation, read: Optional[FillRead], own: frozenset[str] = frozenset(),
              until: Optional[int] = None) -> Violation:
    """``v`` (a revert) attributed by the fills that grew its leg by ``until`` (see the module
    doc), keyed by their orders; a cancel, which names its own order, as it is."""
    if v.action != "revert":
        return v
    if read is None or read.error is not None:
        why = f"{NO_FILL_READ} ({read.error})" if read is not None else NO_FILL_READ
        return replace(v, strategy=UNKNOWN_STRATEGY, strategies=(UNKNOWN_STRATEGY,), attribution=why)
    grew = growth_fills(v, read.fills, own, until)
    if not grew:
        return replace(v, strategy=UNKNOWN_STRATEGY, strategies=(UNKNOWN_STRATEGY,), attribution=NO_GROWTH_FILL)
    named = _named(v, grew)
    ids = sorted({f.order_id or f.client_id or f.id for f in grew})
    return replace(named, key=f"{v.key}|{','.join(ids)}")


def reduced_by_bots(v: Violation, read: Optional[FillRead], own: frozenset[str], since_ms: int) -> Optional[Violation]:
    """``v`` (a leg that shrank under a halt, :data:`~.enforce.REDUCED`) as the bots' fills that
    shrank it since ``since_ms`` (the account's previous read): their orders and strategies, and
    what they reduced (at most the shrink); None when no bot's fill is read — the runner's own
    close, a liquidation, or a read that failed, which cannot tell."""
    if read is None or read.error is not None:
        return None
    bots = growth_fills(v, [f for f in read.fills if f.ts_ms >= since_ms], own)
    if not bots:
        return None
    amount = min(v.amount, sum(f.amount for f in bots))
    notional = v.notional * amount / v.amount if v.notional is not None and v.amount > 0 else None
    return replace(_named(v, bots), amount=amount, notional=notional)


def reductions_to_read(new: Iterable[Violation], ours: Sequence[Any], since_of: Callable[[Violation], int]
                       ) -> list[tuple[Violation, int]]:
    """Each reduction of ``new`` with the time its fills are read from (``since_of``), but those
    an order of ours faced since then (``ours``: the journal's entries, pending or of the last
    day; one of the leg pending, or created or updated since): the runner's close or revert shrank
    it, and no trade is read for it (a stage's closes cost no reads)."""
    out = []
    for v in new:
        since = since_of(v)
        leg = leg_of(v.venue, v.account.partition("/")[2], v.symbol, v.side, v.position_side)
        if not any(leg_of(e.venue, e.account, e.symbol, e.side, e.position_side) == leg
                   and (e.status is None or max(e.created_ms, e.updated_ms or 0) >= since) for e in ours):
            out.append((v, since))
    return out


def _named(v: Violation, grew: list[Fill]) -> Violation:
    """``v`` named by the bots' fills ``grew``: the strategy with most, every one, the lead order."""
    by: dict[str, float] = {}
    for f in grew:
        by[_name(f)] = by.get(_name(f), 0.0) + f.amount
    names = tuple(sorted(by, key=lambda n: (-by[n], n)))
    lead = max((f for f in grew if _name(f) == names[0]), key=lambda f: (f.amount, f.ts_ms))
    said = ", ".join(f"{f.client_id or f.order_id or '?'} ({_name(f)}) {f.amount:g}" for f in grew)
    unknown = next((_why_unknown(f) for f in grew if f.strategy is None), None)
    return replace(v, strategy=names[0], strategies=names, client_order_id=lead.client_id, order_id=lead.order_id,
                   attribution=f"from fills: {said}" + (f"; {unknown}" if unknown else ""), orders=_orders(grew))


def _orders(grew: list[Fill]) -> tuple[BotOrder, ...]:
    """Each order among ``grew`` once (its fills summed), with its own ids and strategy, most first."""
    by: dict[tuple[Optional[str], Optional[str]], BotOrder] = {}
    for f in grew:
        key = (f.client_id, None) if f.client_id is not None else (None, f.order_id)
        had = by.get(key)
        by[key] = BotOrder(f.client_id, (had.order_id if had is not None else None) or f.order_id, _name(f),
                           f.amount + (had.amount if had is not None else 0.0))
    return tuple(sorted(by.values(), key=lambda o: -o.amount))


__all__ = ["FillRead", "NO_FILL_READ", "NO_GROWTH_FILL", "attribute", "growth_fills", "reduced_by_bots",
           "reductions_to_read"]
