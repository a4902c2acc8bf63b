"""Order amounts on a market's step grid: rounding down, and splitting a close into chunks.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from typing import Callable, Optional

from ..snapshot import MarketRules


def step_of(rules: Optional[MarketRules]) -> float:
    """A market's amount step; 0 (no grid) when its rules are unknown."""
    return rules.amount_step if rules else 0.0


def _floor_step(amount: float, step: float) -> float:
    """Round down to a multiple of ``step``. A product like 0.7 * 0.1 = 0.06999999999999999 is
    0.07 on the step grid: float noise below 1e-9 of a step does not cost a whole step."""
    if step <= 0:
        return amount
    n = math.floor(amount / step + 1e-9)
    v = round(n * step, 12)
    while v > amount * (1 + 1e-12) + 1e-15 and n > 0:
        n -= 1
        v = round(n * step, 12)
    return max(0.0, v)


def split_amount(amount: float, unit_price: float, chunk_notional: Optional[float], step: float) -> list[float]:
    """Split ``amount`` into chunks of at most ``chunk_notional`` each, on the step grid.

    Works in whole steps (exact decimals): n = the fewest chunks that fit, then steps are spread
    evenly, so no chunk exceeds the limit and the chunks add up exactly to ``amount`` (dust below
    one step, in a full close, rides with the last chunk). A single step larger than the limit
    gives one step per chunk.
    """
    if not chunk_notional or amount * unit_price <= chunk_notional or amount <= 0:
        return [amount]
    return split_on_grid(amount, step,
                         lambda st: int(Decimal(repr(chunk_notional)) // (st * Decimal(repr(unit_price)))),
                         lambda: math.ceil(amount * unit_price / chunk_notional))


def split_on_grid(amount: float, step: float, steps_per_piece: Callable[[Decimal], int],
                  pieces_off_grid: Callable[[], int]) -> list[float]:
    """``amount`` in the fewest pieces of at most ``steps_per_piece(step)`` whole steps (at least
    one), the steps spread evenly, in exact decimals: the pieces add up to ``amount``, dust below
    one step riding with the last. Without a step (``step`` <= 0): ``pieces_off_grid()`` equal
    pieces. The splits by notional (:func:`split_amount`) and by the book (``engine.depth``)."""
    if step <= 0:
        n = pieces_off_grid()
        piece = amount / n
        return [piece] * (n - 1) + [amount - piece * (n - 1)]
    a, st = Decimal(repr(amount)), Decimal(repr(step))
    units = int((a / st).to_integral_value(rounding=ROUND_FLOOR))
    dust = a - units * st
    if units <= 1:
        return [amount]
    per = max(1, steps_per_piece(st))
    n = math.ceil(units / per)
    base, extra = divmod(units, n)
    pieces = [(base + (1 if i < extra else 0)) * st for i in range(n)]
    pieces[-1] += dust
    return [float(p) for p in pieces if p > 0]


__all__ = ["split_amount", "split_on_grid", "step_of"]
