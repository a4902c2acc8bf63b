"""Exposure with resting orders: the largest position one leg can reach if its resting orders fill,
in quote currency, as the position and gross limits read it (:mod:`.limits`).

A leg is one account's position in one symbol, one-way (``BOTH``) or a hedge leg (``LONG``,
``SHORT``). Its resting orders that are not reduce-only are summed by side (:class:`Resting`:
contracts and their value in quote). What the leg can reach:

- a ``LONG`` leg: its position plus its resting buys (sells on it only close it, never past
  zero); a ``SHORT`` leg: its position plus its resting sells;
- a one-way leg holding ``P`` contracts (signed): the larger of the long side (``P`` + the buys,
  when positive) and the short side (the sells − ``P``, when positive). Any set of fills leaves the
  position between those two ends, so this is the worst the resting orders can do. Orders that
  only reduce (sells no larger than a long position) add nothing; a quote on both sides of a flat
  position counts its larger side once.

A side's orders are valued at their average price (each at its limit price, else the mark, else
its trigger price: :func:`order_value`); the part of a side that first closes the position and
then opens the other way is valued at that average too. The position is valued as the caller
hands it (``held``: at the mark).

Adding a resting order that is not reduce-only never lowers what a leg can reach, and a
reduce-only one is never summed: :func:`reach` is monotone in each side (the tests hold it so).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Optional

Resting = tuple[float, float]  # the opening candidates on one side of a leg: (contracts, value in quote)
NONE: Resting = (0.0, 0.0)


def plus(side: Resting, contracts: float, value: float) -> Resting:
    return side[0] + contracts, side[1] + value


def reach(leg: str, contracts: float, held: float, buys: Resting = NONE, sells: Resting = NONE) -> float:
    """The largest notional the leg (``LONG``, ``SHORT`` or ``BOTH``) can reach: ``contracts``
    its position (signed: + long), ``held`` its value; ``buys`` and ``sells`` its resting orders
    that are not reduce-only (see the module doc). Plain floats and tuples: the venue watch asks
    it of every resting order."""
    if leg == "LONG":
        return held + buys[1]
    if leg == "SHORT":
        return held + sells[1]
    if contracts >= 0:
        long_side = held + buys[1]
        n, v = sells
        short_side = v * (n - contracts) / n if n > contracts else 0.0  # what is left once the long is closed
    else:
        n, v = buys
        long_side = v * (n + contracts) / n if n > -contracts else 0.0
        short_side = held + sells[1]
    return long_side if long_side >= short_side else short_side


def order_value(amount: float, price: Optional[float], trigger_price: Optional[float],
                mark_price: Optional[float], contract_size: float) -> Optional[float]:
    """A resting order's value: its amount at its limit price, else at the mark (a stop or market
    order without one), else at its trigger price; × the contract size. None: no price to use."""
    unit = price if price is not None else mark_price if mark_price is not None else trigger_price
    return None if unit is None else amount * unit * contract_size


__all__ = ["NONE", "Resting", "order_value", "plus", "reach"]
