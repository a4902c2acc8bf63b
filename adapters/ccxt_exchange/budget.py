"""The order budget and how it shares the venue's limits with ccxt's own request pacing.

What it owns
    * :class:`OrderBudget`: an async token bucket of ``orders_per_second`` that every create and
      cancel of one account spends, callers served in arrival order;
    * the burst ccxt's request-weight limiter may spend at once (:data:`RATE_LIMIT_BURST`);
    * taking a venue's order-count-limited endpoints (declared by its dialect) off ccxt's weight
      limiter, so that orders are paced once, by the budget.

What it must not do
    choose a venue's rate (the dialect declares it; the caller may override it), retry, or import
    ccxt.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterable, Optional

RATE_LIMIT_BURST = 200  # cost units (Binance: request weight) ccxt's limiter may spend at once


def token_bucket_config() -> dict:
    """ccxt's ``tokenBucket`` option: room for a burst of :data:`RATE_LIMIT_BURST`, full at start.

    ccxt's leaky bucket starts empty with room for one request, so one expensive call (Binance
    openOrders without a symbol weighs 40) makes every snapshot wait ~2 s. Holding a burst keeps
    the long-run rate ccxt's own (half of the venue's published limit), but a snapshot after an
    idle tick goes through at once."""
    return {"capacity": float(RATE_LIMIT_BURST), "tokens": float(RATE_LIMIT_BURST)}


def orders_off_weight_limiter(ex: Any, endpoints: Iterable[tuple[str, str, str]]) -> None:
    """Let ccxt's weight limiter charge nothing for ``endpoints`` ((api, METHOD, path) of the
    venue's order endpoints): they count against the venue's order limits, which our budget
    keeps below, not against the request weight ccxt models."""
    endpoints = set(endpoints)
    base = ex.calculate_rate_limiter_cost

    def cost(api, method, path, params, config={}):  # noqa: B006 - ccxt's own signature
        key = (api[0] if isinstance(api, (list, tuple)) and api else api, str(method).upper(), path)
        if key in endpoints:
            return 0
        return base(api, method, path, params, config)

    ex.calculate_rate_limiter_cost = cost


class OrderBudget:
    """An async token bucket: ``rate`` orders per second, bursts of up to ``burst`` (one
    second's worth by default). Callers queue in arrival order."""

    def __init__(self, rate: float, burst: Optional[float] = None, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("orders_per_second must be positive")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        self._tokens = self.burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
