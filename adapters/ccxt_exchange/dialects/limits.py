"""A venue's limits as one table: what our budgets and ccxt's request pacing keep below.

What it owns
    :class:`Limits`, one value a ccxt id, declared once in its venue's dialect module and read
    from there alone: by the adapter's order and cancel budgets, by its ccxt client's request
    pacing (:meth:`Limits.pace`), by the planner's spacing of the venue's closes (the adapters'
    rates) and by the venue's contract rows. Its figures: orders a second of our order budget
    (conservatively below the venue's published limits), the cancels' own rate where the venue
    limits its cancel endpoints apart, the most of ccxt's cost units the venue's request counter
    holds, the venue's limit of each endpoint on its own as its documentation names the endpoint
    (``"GET /api/v5/account/positions"``), and the endpoints ccxt's weight limiter must charge
    otherwise than its own table (orders counted by the venue as orders, orders weighed with the
    reads, reads the venue weighs more).

What it must not do
    import ccxt, name a venue, or choose a rate (each venue's dialect module declares its own;
    the caller of the adapter may override the order rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..budget import Key, pace_requests, weigh_endpoints, window_requests

# Orders per second for a ccxt id whose published limits we have not read: below any venue's.
DEFAULT_ORDER_RATE = 5.0


@dataclass(frozen=True)
class Limits:
    """One ccxt id's limits, as its venue publishes them and as far below them as we keep."""

    orders: float  # orders per second of our budget on this venue (below its published limit)
    # cancels per second of their own budget where the venue limits cancels apart (None: ``orders``')
    cancels: Optional[float] = None
    # The most of ccxt's cost units the venue's own counter holds, where it refuses the call past
    # it (Kraken spot's call counter: its maximum in the units its reads are paced in): the
    # request pacer's capacity, never overdrawn. None: the pacer's burst (budget.RATE_LIMIT_BURST),
    # where the venue counts over a window that holds more
    ceiling: Optional[float] = None
    # endpoint (``"GET /api/v5/account/positions"``, as the venue's documentation names it) →
    # (requests, window_s): the venue's own limit of one endpoint per account, past which it
    # refuses the call (OKX's positions: 10 per 2 s, 50011), where the pacer's burst would let more
    # of it go at once; the weight limit's table of the same (``WeightLimit.endpoint_limits``)
    endpoints: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # how ccxt sends the requests of ``endpoints``: its api, and the path's prefix it leaves off
    ccxt_api: tuple[str, str] = ("private", "/")
    # (api, METHOD, path) of order endpoints the venue limits by order count, not request weight:
    # our order budget paces them, ccxt's weight limiter must not charge them again
    counted_as_orders: frozenset[Key] = frozenset()
    # (api, METHOD, path) of order endpoints the venue weighs in the same request budget as its
    # reads (Hyperliquid's actions): charged by the pacer, but sent at once, never behind a read
    weighed_as_orders: frozenset[Key] = frozenset()
    # (api, METHOD, path) → the request weight the venue publishes for a read whose cost in ccxt's
    # table is another: ccxt's limiter then paces the snapshot's reads at what they cost the venue
    read_weights: Mapping[Key, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.windows()  # an endpoint outside ccxt's prefix fails where the venue declares it

    def windows(self) -> dict[Key, tuple[float, float]]:
        """:attr:`endpoints` keyed as ccxt sends the request: (api, METHOD, the path after the
        prefix of :attr:`ccxt_api`). An endpoint outside that prefix is a ValueError."""
        api, prefix = self.ccxt_api
        out = {}
        for endpoint, limit in self.endpoints.items():
            method, _, path = endpoint.partition(" ")
            if not path.startswith(prefix):
                raise ValueError(f"{endpoint}: not under {prefix}")
            out[(api, method.upper(), path[len(prefix):])] = limit
        return out

    def pace(self, ex: Any) -> None:
        """Keep the REST requests of ``ex`` (the account's ccxt client, or its stream's) to these
        limits: the request pacer at :attr:`ceiling`, each endpoint of :attr:`endpoints` within its
        window, and ccxt's weight limiter charging the order endpoints and reads as declared."""
        pace_requests(ex, self.ceiling)
        window_requests(ex, self.windows())
        costs = {**{e: 0.0 for e in self.counted_as_orders}, **self.read_weights}
        if (costs or self.weighed_as_orders) and hasattr(ex, "calculate_rate_limiter_cost"):
            weigh_endpoints(ex, costs, self.weighed_as_orders)


__all__ = ["DEFAULT_ORDER_RATE", "Limits"]
