"""Legs: a close the planner wants, as the orders a venue takes.

What it owns, the safety rules of every close: a leg is reduce-only (a spot sale aside: it sells a
holding, never opens one), its amount rounded *down* to the market's step and never larger than
the position; a whole position is closed with exactly the contracts the venue reports; a part
close that falls below the minimum amount is skipped (``BELOW_MINIMUM``), and a whole position
below what the venue accepts (less than one step, or less than the minimum amount once rounded
down; reduce-only closes are exempt from the minimum notional, as on Binance) gets no order: it
is a :class:`~.plans.Residual`, reported, never retried.

:class:`_Close` is what an action asked for (:mod:`.stage_planner` adds them up), :class:`_Leg`
what is sent; the order and the spacing of the legs' orders are :mod:`.schedule`'s.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..snapshot import Balance, MarketRules, Snapshot
from .amounts import _floor_step, step_of
from .columns import Held
from .plans import Residual
from .scope import position_key


@dataclass(slots=True)
class _Close:
    snap: Snapshot
    pos: Held  # the model, or the columns' row of a position made on reading
    amount: float  # contracts
    full: bool
    action: str
    reason: str


@dataclass(slots=True)
class _Leg:
    snap: Snapshot
    symbol: str
    side: str
    position_side: Optional[str]
    amount: float
    unit_price: float  # notional per unit of amount
    mark: float
    reduce_only: bool
    action: str
    reason: str
    key: str  # identity of the leg: part of its client order ids
    exposure: float  # notional of what is being closed, for ordering
    step: float  # its market's amount step (0: unknown), read once for its chunks


_Holding = tuple[Snapshot, str, Balance, float]  # a spot holding close_all sells: symbol, balance, price


def _leg(key: str, c: _Close, skipped: list[str], residuals: list[Residual]) -> Optional[_Leg]:
    """The close ``c`` of the position ``key`` as a leg to send; None when there is nothing
    the venue accepts (said in ``skipped``, and a whole position left is a residual)."""
    pos = c.pos
    rules = c.snap.markets.get(pos.symbol)
    amount = _round_amount(c, rules, skipped)
    if amount <= 0:
        return None
    dust = _below_minimum(pos, rules) if c.full else None
    if dust is not None:  # nothing the venue accepts can close it: report it, do not send
        skipped.append(f"BELOW_MINIMUM: {key} {dust}")
        residuals.append(Residual(c.snap.venue, c.snap.account, pos.symbol, pos.side,
                                  pos.position_side if pos.position_side in ("LONG", "SHORT") else None,
                                  pos.contracts, f"BELOW_MINIMUM: {dust}"))
        return None
    unit = pos.notional / pos.contracts if pos.contracts else pos.mark_price
    return _Leg(c.snap, pos.symbol, "sell" if pos.side == "long" else "buy",
                pos.position_side if pos.position_side in ("LONG", "SHORT") else None,
                amount, unit, pos.mark_price, True, c.action, c.reason, key, pos.notional, step_of(rules))


def _round_amount(c: _Close, rules: Optional[MarketRules], skipped: list[str]) -> float:
    """What ``c`` closes on the step grid of its market (``rules``, None: unknown), never more
    than the position; 0 (said in ``skipped``) when a part close falls below the minimum."""
    pos = c.pos
    if c.full:
        amount = pos.contracts  # the whole position: exactly what the venue reports
    else:
        amount = _floor_step(min(c.amount, pos.contracts), step_of(rules))
    if rules and amount < rules.min_amount and not c.full:
        skipped.append(f"BELOW_MINIMUM: {position_key(c.snap, pos)} amount={amount:g} min={rules.min_amount:g}")
        return 0.0
    return min(amount, pos.contracts)


def _below_minimum(pos: Held, rules: Optional[MarketRules]) -> Optional[str]:
    """Why the venue cannot take a close of the whole position ``pos`` in its market (``rules``)
    (its numbers; None: it can): less than one amount step, or less than the minimum amount
    once rounded down to it."""
    if rules is None:
        return None
    if pos.contracts >= (rules.min_amount + rules.amount_step) * (1 + 1e-6):
        return None  # rounding down loses less than a step: what is left is at least the minimum
    sendable = _floor_step(pos.contracts, rules.amount_step)
    if sendable <= 0 or sendable < rules.min_amount * (1 - 1e-9):
        return f"amount={pos.contracts:g} step={rules.amount_step:g} min_amount={rules.min_amount:g}"
    return None
