"""The order budget and how it shares the venue's limits with ccxt's own request pacing.

What it owns
    * :class:`OrderBudget`: an async token bucket of ``orders_per_second`` that every create and
      cancel of one account spends, callers served in arrival order;
    * :class:`RequestPacer`: ccxt's request-weight limit as a token bucket that credits idle time,
      in place of ccxt's own limiter, and the burst it may spend at once (:data:`RATE_LIMIT_BURST`);
    * taking a venue's order-count-limited endpoints (declared by its dialect) off ccxt's weight
      limiter, so that orders are paced once, by the budget, and charging reads the weight the
      venue publishes where ccxt's table says less (also the dialect's).

What it must not do
    choose a venue's rate (the dialect declares it; the caller may override it), retry, or import
    ccxt.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping, Optional

from ..base import last_look

RATE_LIMIT_BURST = 200  # cost units (Binance: request weight) the request pacer may spend at once


class RequestPacer:
    """ccxt's request-weight limit, paced the way the venue counts it: a token bucket of
    ``capacity`` cost units, refilled at ``rate`` units a second — *idle time included* — and
    full at start; a request goes when the bucket is not in debt (ccxt's rule: one request may
    overdraw it), callers in arrival order. It replaces ccxt's ``throttle`` on our clients.

    ccxt's own leaky bucket refills only while a request waits in it: the time between two
    snapshots is never credited, so once its first tokens are spent every snapshot waits its
    whole cost (Binance: 50 weight at ccxt's 20 a second, 2.5 s) however long the runner was
    idle. This bucket keeps ccxt's long-run rate (``1 / rateLimit``: half of the venue's
    published limit on Binance) without that wait: at a 1 s interval a snapshot that weighs
    less than a second's refill never waits."""

    def __init__(self, rate: float, capacity: float = RATE_LIMIT_BURST, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("the request rate must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now

    async def __call__(self, cost: Optional[float] = None) -> None:
        cost = 1.0 if cost is None else float(cost)
        async with self._lock:
            self._refill()
            while self.tokens < 0:
                await asyncio.sleep(-self.tokens / self.rate)
                self._refill()
            # the last wait before a request leaves: an order in it asks its caller's send gate
            # again (a runner's lease term may have run out meanwhile); reads pass
            last_look("request")
            self.tokens -= cost


def pace_requests(ex: Any) -> None:
    """Put a :class:`RequestPacer` at ccxt's own rate in place of ccxt's ``throttle`` on ``ex``
    (a client with ccxt's rate limiting on); a client without ``rateLimit`` is left as it is."""
    rate_limit_ms = getattr(ex, "rateLimit", None)
    if not getattr(ex, "enableRateLimit", False) or not isinstance(rate_limit_ms, (int, float)) or rate_limit_ms <= 0:
        return
    ex.throttle = RequestPacer(1000.0 / rate_limit_ms)


def weigh_endpoints(ex: Any, costs: Mapping[tuple[str, str, str], float]) -> None:
    """Let ccxt's weight limiter charge ``costs`` ((api, METHOD, path) → cost) instead of its own
    table: 0 for a venue's order endpoints (they count against the venue's order limits, which
    our budget keeps below, not against the request weight ccxt models), the venue's published
    weight for a read ccxt's table undercounts."""
    costs = dict(costs)
    base = ex.calculate_rate_limiter_cost

    def cost(api, method, path, params, config={}):  # noqa: B006 - ccxt's own signature
        key = (api[0] if isinstance(api, (list, tuple)) and api else api, str(method).upper(), path)
        own = costs.get(key)
        return own if own is not None else base(api, method, path, params, config)

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
