"""The order of an entry's orders: which leg goes first, its chunks, and each venue's spacing.

What it owns: correlated positions are closed together, the group with the most exposure first
and the biggest position first inside it (a leg of no group is a bucket of its own, named ``~``
+ its key); large closes are split into chunks by notional, or against the order book when the
policy's unwind reads it (:mod:`.depth`: then in rounds, every close's first child, then every
second one, so that a book refills between two); each venue's orders are spaced to its order
budget: the policy's ``unwind.orders_per_second``, else the rate the caller gave for the venue,
else :data:`DEFAULT_ORDER_RATE`. Every order's client order id is :func:`client_order_id` of
the decision and its leg's chunk.

:func:`_first_leg` is here too: a first wave (:func:`.planner._first_wave`) sends the leg
:func:`schedule` puts first without making the others, so it picks it by the same rules, read
from the positions' columns; the two orderings are kept side by side so that they cannot drift.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import math
from itertools import compress, repeat
from operator import eq
from typing import Iterable, Mapping, Optional

from ..compile.graph import PolicyNode
from ..orders import OrderIntent
from . import depth
from .amounts import split_amount
from .attribution import column
from .legs import _Close, _Leg, _leg
from .scope import ScopeView, position_key
from .stage_planner import _Planner

# Orders per second for a venue no rate was given for: below what any venue we know accepts.
DEFAULT_ORDER_RATE = 5.0
_FIRST_TRIES = 64  # grouped positions a first wave may look at one by one


def symbol_groups(policy: PolicyNode) -> dict[str, str]:
    """Symbol → the correlation group it is closed with (the last group naming it)."""
    groups: dict[str, str] = {}
    for g in policy.correlation_groups:
        for sym in g.symbols:
            groups[sym] = g.name
    return groups


def schedule(self: _Planner, legs: list[_Leg]) -> list[OrderIntent]:
    """Correlated symbols together, the most exposed group and position first; chunks by
    notional, or by the book (:mod:`.depth`: then in rounds, every close's first child, then
    every second one, so that a book refills between two children of its close); each
    venue's orders spaced to its budget. Without a book, a leg's orders are :func:`emit`'s
    (a close_all's first wave emits its first leg alone)."""
    groups = symbol_groups(self.policy)
    buckets: dict[str, list[_Leg]] = {}
    for leg in legs:
        buckets.setdefault(groups.get(leg.symbol) or f"~{leg.key}", []).append(leg)
    ordered = sorted(buckets.items(), key=_bucket_order)
    unwind = self.policy.unwind
    venue_count: dict[str, int] = {}
    rates: dict[str, float] = {}  # by venue
    out: list[OrderIntent] = []
    if not unwind.uses_book:
        emit(self, ((leg, gkey) for gkey, members in ordered
                    for leg in (sorted(members, key=lambda x: (-x.exposure, x.key)) if len(members) > 1
                                else members)), venue_count, rates, out)
        return out
    return _schedule_by_book(self, ordered, venue_count, rates, out)


def emit(self: _Planner, legs: Iterable[tuple[_Leg, str]], venue_count: dict[str, int], rates: dict[str, float],
         out: list[OrderIntent]) -> None:
    """The orders of each of ``legs`` (a leg and its bucket) in turn, its chunks by notional,
    the ``venue_count``-th of its venue on: one loop for the hundreds of a crash's entry."""
    unwind = self.policy.unwind
    chunk_notional, slip = unwind.chunk_notional, unwind.max_slippage
    append = out.append
    for leg, gkey in legs:
        pieces = split_amount(leg.amount, leg.unit_price, chunk_notional, leg.step)
        limit = leg.mark * (1 - slip) if leg.side == "sell" else leg.mark * (1 + slip)
        chunks = len(pieces)
        for i, piece in enumerate(pieces, 1):
            append(order(self, leg, gkey, i, chunks, piece, limit, "", venue_count, rates))


def order(self: _Planner, leg: _Leg, gkey: str, chunk: int, chunks: int, amount: float, price: float, note: str,
          venue_count: dict[str, int], rates: dict[str, float]) -> OrderIntent:
    """One order of ``leg``: the next of its venue, spaced to the venue's budget (counted in
    ``venue_count``; the rate by venue cached in ``rates``)."""
    unwind = self.policy.unwind
    venue = leg.snap.venue
    rate = rates.get(venue)
    if rate is None:
        rate = rates[venue] = float(unwind.orders_per_second if unwind.orders_per_second is not None
                                    else self.rates.get(venue, DEFAULT_ORDER_RATE))
    k = venue_count.get(venue, 0)
    venue_count[venue] = k + 1
    return OrderIntent(
        self.decision, client_order_id(self.decision, f"{leg.key}#{chunk}"), venue, leg.snap.account,
        leg.symbol, leg.side, leg.position_side, amount, leg.reduce_only, price, amount * leg.unit_price,
        chunk, chunks, self.now + int(k * 1000 / rate), leg.action,
        f"{leg.reason}; {note}" if note else leg.reason, None if gkey.startswith("~") else gkey)


def _schedule_by_book(self: _Planner, ordered: list[tuple[str, list[_Leg]]], venue_count: dict[str, int],
                      rates: dict[str, float], out: list[OrderIntent]) -> list[OrderIntent]:
    """:func:`schedule` for a policy whose closes are sized against the book
    (:mod:`.depth`): every reduce-only leg split into the children its book holds within the
    caps (else, failing safe, by ``chunk_notional`` at the slippage cap from the mark), sent in
    rounds: every close's first child, then every second one, so a book refills between two."""
    unwind = self.policy.unwind
    slip = unwind.max_slippage
    sized_legs: list[tuple[str, _Leg, list[tuple[float, float]], str]] = []  # group, leg, children, note
    for gkey, members in ordered:
        for leg in sorted(members, key=lambda x: (-x.exposure, x.key)) if len(members) > 1 else members:
            step = leg.step
            limit = leg.mark * (1 - slip) if leg.side == "sell" else leg.mark * (1 + slip)
            sized, note = depth.children(leg.amount, leg.side, leg.mark, leg.unit_price, step,
                                         leg.snap.books.get(leg.symbol), unwind) if leg.reduce_only else (None, "")
            if sized is None and leg.reduce_only:  # fail safe: as without a book, at the slippage cap from the mark
                self.skipped.append(f"{note}: {leg.key} split by chunk_notional, limit IOC at the cap")
            pieces = sized or [(x, limit) for x in split_amount(leg.amount, leg.unit_price, unwind.chunk_notional,
                                                                  step)]
            sized_legs.append((gkey, leg, pieces, note if sized else ""))
    for r in range(max((len(x[2]) for x in sized_legs), default=0)):  # in rounds: every close's r-th child
        for gkey, leg, pieces, note in sized_legs:
            if r >= len(pieces):
                continue
            piece, price = pieces[r]
            out.append(order(self, leg, gkey, r + 1, len(pieces), piece, price, note, venue_count, rates))
    return out


def _first_leg(self: _Planner) -> Optional[tuple[_Leg, str]]:
    """The leg :func:`schedule` puts first, and its bucket: the most exposed bucket (a
    correlation group's legs together, any other leg alone, named ``~`` + its key), ties to
    the bucket's name; in a group, the most exposed leg, ties to its key. None when it
    cannot be told cheaply (many grouped positions, the most exposed all below the minimum).

    Read from the columns: the top notional, then among the positions at it the least key.
    Keys are built only for positions whose symbol starts with the least symbol there: a
    key is ``account/symbol/side``, so no other can be less."""
    view = self.view
    groups = symbol_groups(self.policy)
    best: Optional[tuple[tuple[float, str], _Leg, str]] = None

    def leg_of(i: int) -> Optional[_Leg]:
        s, p = view.pair(i)
        return _leg(position_key(s, p), _Close(s, p, p.contracts, True, "close_all", "CLOSE_ALL"), [], [])

    tops = _top_ungrouped(view, groups)
    if tops is None:  # no order of exposure to rely on
        return None
    if tops:
        bucket, i = min(tops)
        leg = leg_of(i)
        if leg is None:
            return None  # below the minimum: the next key, or a lesser notional, comes first: plan whole
        best = ((-leg.exposure, bucket), leg, bucket)
    if groups:
        members = _group_members(view, groups)
        if members is None:
            return None
        for name, at in members.items():
            legs = [x for x in map(leg_of, at) if x is not None]
            if not legs:
                continue
            key = (-sum(x.exposure for x in legs), name)
            if best is None or key < best[0]:
                lead = min(legs, key=lambda x: (-x.exposure, x.key)) if len(legs) > 1 else legs[0]
                best = (key, lead, name)
    return None if best is None else (best[1], best[2])


def _top_ungrouped(view: ScopeView, groups: Mapping[str, str]) -> Optional[list[tuple[str, int]]]:
    """The positions in no correlation group at the top notional, per account: (bucket, index)
    of those whose symbol starts with the least symbol there. None when a notional is unknown."""
    tops: list[tuple[str, int]] = []  # (bucket, index) of the least key at the top, per account
    top = None
    base = 0
    for (s, _), cols in zip(view.groups, view.columns):
        notional, symbols = cols.notional, cols.symbols
        n = len(notional)
        if any(map(math.isnan, notional)):  # no order of exposure to rely on
            return None
        # over 10,000 positions every pass here runs in C (map, compress, count, min, max)
        ungrouped = [i for i, sym in enumerate(symbols) if sym not in groups] if groups else None
        if ungrouped is None:
            here = max(notional) if n else None
        else:
            here = max(map(notional.__getitem__, ungrouped)) if ungrouped else None
        if here is not None and (top is None or here >= top):
            if top is None or here > top:
                top, tops = here, []
            if ungrouped is None and notional.count(here) == n:
                least = min(symbols)
            else:
                tied = compress(range(n), map(eq, notional, repeat(here)))
                least = min(symbols[i] for i in tied if ungrouped is None or symbols[i] not in groups)
            tops += [(f"~{position_key(s, cols.positions[i])}", base + i)
                     for i in compress(range(n), map(str.startswith, symbols, repeat(least)))
                     if notional[i] == here and symbols[i] not in groups]
        base += n
    return tops


def _group_members(view: ScopeView, groups: Mapping[str, str]) -> Optional[dict[str, list[int]]]:
    """The positions of each correlation group, by index; None when there are too many to try."""
    members: dict[str, list[int]] = {}
    symbols = column(view.columns, lambda c: c.symbols)
    for i, sym in enumerate(symbols):
        g = groups.get(sym)
        if g is not None:
            members.setdefault(g, []).append(i)
    if sum(len(v) for v in members.values()) > _FIRST_TRIES:
        return None
    return members


def _bucket_order(kv: tuple[str, list[_Leg]]) -> tuple[float, str]:
    """The most exposed bucket first, ties to its name (a lone leg's exposure is its sum)."""
    legs = kv[1]
    return -(legs[0].exposure if len(legs) == 1 else sum(x.exposure for x in legs)), kv[0]


def client_order_id(decision: str, leg: str) -> str:
    """Deterministic: the same decision and leg always give the same id, so a restarted runner
    can ask the venue whether it already sent the order. 32 characters from [a-z0-9]."""
    return "ks" + hashlib.sha256(f"{decision}|{leg}".encode()).hexdigest()[:30]
