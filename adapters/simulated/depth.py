"""The simulated order book: levels around the mark that orders walk and that refill over time.

:class:`DepthModel` describes one symbol's book: ``levels`` price levels a side, the best one
``half_spread_bps`` from the mark and each next one ``level_bps`` further, every level holding
``amount`` contracts when full. :class:`SimBook` is its state: what orders took from each
level, which comes back linearly, a full level's worth every ``refill_ms``. Levels are counted
from the best price, so the book moves with the mark and what was taken stays taken relative
to it (a fair model of a few seconds of an emergency close, not of a matching engine).

An order that takes from the book (a market order or an IOC/FOK limit, on arrival) walks the
levels from the best, no further than its limit price, and fills at the average price of what
it took; what the book does not hold within its limit does not fill. A symbol without a depth
model keeps the engine's slippage model (:class:`SlippageModel`: a fill at the mark costs more
the larger it is).

What it must not do: read the wall clock (the engine passes ``now``) or draw randomness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

EPS = 1e-9


@dataclass(frozen=True)
class SlippageModel:
    """Slippage in basis points grows with the notional: ``base + per_100k * notional / 100k``."""

    base_bps: float = 1.0
    bps_per_100k: float = 2.0
    max_bps: float = 300.0

    def bps(self, notional: float) -> float:
        return min(self.max_bps, self.base_bps + self.bps_per_100k * abs(notional) / 100_000.0)


@dataclass(frozen=True)
class DepthModel:
    levels: int = 50
    half_spread_bps: float = 1.0
    level_bps: float = 5.0
    amount: float = 1.0  # contracts per level, when full
    refill_ms: int = 1_000  # a fully taken level is full again after this long

    def __post_init__(self) -> None:
        if self.levels < 1 or self.amount <= 0 or self.refill_ms <= 0 or self.level_bps <= 0:
            raise ValueError("a depth model has at least one level, positive amounts, spacing and refill time")
        if self.half_spread_bps < 0:
            raise ValueError("the half spread is not negative")


def _round_px(x: float, tick: float, up: bool) -> float:
    if tick <= 0:
        return x
    n = math.ceil(x / tick - 1e-9) if up else math.floor(x / tick + 1e-9)
    return round(n * tick, max(0, -int(math.floor(math.log10(tick)))) + 2)


@dataclass
class SimBook:
    """One symbol's book state: what was taken from each level of each side, as of ``at``."""

    model: DepthModel
    taken: dict[str, list[float]] = field(default_factory=dict)  # "bids" | "asks" → per level
    at: int = 0

    def _refill(self, now: int) -> None:
        if now > self.at:
            back = self.model.amount * (now - self.at) / self.model.refill_ms
            for side in self.taken.values():
                for i, t in enumerate(side):
                    side[i] = max(0.0, t - back)
            self.at = now

    def levels(self, side: str, mark: float, tick: float, now: int, limit: Optional[int] = None) -> list[
            tuple[float, float]]:
        """``side`` (bids | asks) best first: (price, amount left), levels with nothing left out."""
        self._refill(now)
        m = self.model
        taken = self.taken.get(side) or [0.0] * m.levels
        out: list[tuple[float, float]] = []
        for i in range(m.levels):
            if limit is not None and len(out) >= limit:
                break
            bps = m.half_spread_bps + i * m.level_bps
            price = _round_px(mark * (1 - bps / 1e4), tick, up=False) if side == "bids" \
                else _round_px(mark * (1 + bps / 1e4), tick, up=True)
            left = m.amount - taken[i]
            if left > EPS and price > 0:
                out.append((price, left))
        return out

    def take(self, order_side: str, qty: float, limit: Optional[float], mark: float, tick: float, step: float,
             now: int, all_or_none: bool = False) -> tuple[float, float]:
        """Walk the book for an order of ``qty`` (a BUY takes asks, a SELL bids) no further than
        ``limit``: (amount filled, on the amount step; average price). ``all_or_none``: fill it
        all or nothing (FOK)."""
        side = "asks" if order_side == "BUY" else "bids"
        self._refill(now)
        m = self.model
        taken = self.taken.setdefault(side, [0.0] * m.levels)
        plan: list[tuple[int, float, float]] = []
        left = qty
        for i in range(m.levels):
            if left <= EPS:
                break
            bps = m.half_spread_bps + i * m.level_bps
            price = _round_px(mark * (1 - bps / 1e4), tick, up=False) if side == "bids" \
                else _round_px(mark * (1 + bps / 1e4), tick, up=True)
            if limit is not None and (price < limit - EPS if side == "bids" else price > limit + EPS):
                break
            avail = m.amount - taken[i]
            if avail <= EPS:
                continue
            got = min(left, avail)
            plan.append((i, got, price))
            left -= got
        filled = qty - max(0.0, left)
        if step > 0:  # what fills is a whole number of steps: the last level gives back the rest
            on_step = math.floor(filled / step + 1e-9) * step
            excess = filled - on_step
            while excess > EPS and plan:
                i, got, price = plan[-1]
                back = min(got, excess)
                plan[-1] = (i, got - back, price)
                excess -= back
                if plan[-1][1] <= EPS:
                    plan.pop()
            filled = on_step
        if filled <= EPS or (all_or_none and filled < qty - EPS):
            return 0.0, 0.0
        cost = 0.0
        for i, got, price in plan:
            taken[i] += got
            cost += got * price
        return filled, cost / sum(g for _, g, _ in plan)


__all__ = ["DepthModel", "SimBook"]
