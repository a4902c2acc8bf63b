"""The order budget and how it shares the venue's limits with ccxt's own request pacing.

What it owns
    * :class:`OrderBudget`: an async token bucket of ``orders_per_second`` that every create and
      cancel of one account spends, callers served in arrival order;
    * :class:`RequestPacer`: ccxt's request-weight limit as a token bucket that credits idle time,
      in place of ccxt's own limiter, and the burst it may spend at once (:data:`RATE_LIMIT_BURST`,
      or the dialect's ceiling where the venue refuses past a counter: never overdrawn);
      the reads a cancel waits on (:func:`urgent_reads`) sent ahead of the others; the bucket
      both are (:class:`TokenBucket`), each spending it by its own rule;
    * the venue's limit of each endpoint on its own, where it refuses past it (declared by the
      dialect: :class:`EndpointWindows`), that the pacer's burst would let one endpoint pass;
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
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator, Callable, Iterator, Mapping, Optional

from killswitch.weights import WeightLimit

from ..base import last_look

RATE_LIMIT_BURST = 200  # cost units (Binance: request weight) the request pacer may spend at once


# Set around a read that stands between a bot's order and its cancel (the stream's look-up of an
# order's kind, :func:`urgent_reads`): :class:`RequestPacer` charges it and lets it go at once,
# as a :class:`Charged` action, while the debt it leaves is under one burst
_URGENT: ContextVar[bool] = ContextVar("ks_urgent_read", default=False)


@contextmanager
def urgent_reads() -> Iterator[None]:
    """The requests sent in this block (this task and those it starts) go ahead of the reads
    waiting out the weight's debt, charged, while that debt stays under the pacer's capacity
    (past it they wait as any read): a look-up of a bot's order under a halt never waits a
    reconcile's list or a revert's fills read out (Hyperliquid: orderStatus, 2, behind
    userFillsByTime and frontendOpenOrders, 20 each)."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


class Charged(float):
    """The cost of an order endpoint that the venue counts in the same request weight as its
    reads (Hyperliquid's actions: one IP budget for both): :class:`RequestPacer` charges it but
    lets it go at once, ahead of reads waiting out the weight's debt, which then wait it out too.
    A close or a cancel never waits behind a reconcile's reads; the weight a minute stays the
    venue's."""


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` a second up to it and full at start: what the
    order budget and the request pacer each spend, each by its own rule (callers in arrival
    order, under its lock)."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float], what: str):
        if rate <= 0:
            raise ValueError(f"{what} must be positive")
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


class RequestPacer(TokenBucket):
    """ccxt's request-weight limit, paced the way the venue counts it: a token bucket of
    ``capacity`` cost units, refilled at ``rate`` units a second — *idle time included* — and
    full at start; a request goes when the bucket is not in debt (ccxt's rule: one request may
    overdraw it), callers in arrival order. It replaces ccxt's ``throttle`` on our clients. A
    request that costs nothing (an order or a cancel: the venue counts those against its order
    limits) goes at once, never behind a read waiting out a debt (a cancel under a halt waited
    seconds behind a list of every open order).

    ccxt's own leaky bucket refills only while a request waits in it: the time between two
    snapshots is never credited, so once its first tokens are spent every snapshot waits its
    whole cost (Binance: 50 weight at ccxt's 20 a second, 2.5 s) however long the runner was
    idle. This bucket keeps ccxt's long-run rate (``1 / rateLimit``: half of the venue's
    published limit on Binance) without that wait: at a 1 s interval a snapshot that weighs
    less than a second's refill never waits.

    ``ceiling``: the capacity is the venue's own counter, which refuses the call past it (Kraken
    spot's call counter: ``EAPI:Rate limit exceeded``, then the key locked out a while): no
    request overdraws it, an urgent read's neither; each waits until its whole cost is there
    (one costing more than the capacity: a full bucket), so what goes at once is never more than
    the capacity."""

    def __init__(self, rate: float, capacity: float = RATE_LIMIT_BURST, clock: Callable[[], float] = time.monotonic,
                 *, ceiling: bool = False):
        super().__init__(rate, capacity, clock, "the request rate")
        self.ceiling = ceiling

    def _room(self, cost: float) -> float:
        """The tokens the bucket must hold before a request of ``cost`` goes: any but a debt (one
        request may overdraw it), or under a ceiling its whole cost."""
        return min(cost, self.capacity) if self.ceiling else 0.0

    def available(self) -> float:
        """The cost units that could go now without a wait (below 0: the debt a request waits out)."""
        self._refill()
        return self.tokens

    async def __call__(self, cost: Optional[float] = None) -> None:
        charged = isinstance(cost, Charged)  # an order the venue weighs like a read: charged, never queued
        cost = 1.0 if cost is None else float(cost)
        # a look-up a cancel waits on (:func:`urgent_reads`): the same, within a burst of debt
        floor = 0.0 if self.ceiling else -self.capacity
        if charged or (cost > 0 and _URGENT.get() and self.available() - cost >= floor):
            self._refill()
            last_look("request")
            self.tokens -= cost  # the reads after it wait out what it cost
            return
        if cost <= 0:  # an order endpoint (:func:`weigh_endpoints`): paced by the order budget, never
            last_look("request")  # queued behind a read that waits out the weight's debt
            return
        async with self._lock:
            self._refill()
            room = self._room(cost)
            # (within a millionth of a unit: a cost like a Starter key's 1 / 0.33 refilled over a
            # wait of exactly its shortfall can fall short of it by 1e-15 for ever, where the clock
            # cannot step so little)
            while room - self.tokens > 1e-6:
                await asyncio.sleep((room - self.tokens) / self.rate)
                self._refill()
            # the last wait before a request leaves: an order in it asks its caller's send gate
            # again (a runner's lease term may have run out meanwhile); reads pass
            last_look("request")
            self.tokens -= cost


def pace_requests(ex: Any, ceiling: Optional[float] = None) -> None:
    """Put a :class:`RequestPacer` at ccxt's own rate in place of ccxt's ``throttle`` on ``ex``
    (a client with ccxt's rate limiting on), its capacity the venue's ``ceiling`` where it has one
    (in ccxt's cost units; never overdrawn), else :data:`RATE_LIMIT_BURST`; a client without
    ``rateLimit`` is left as it is."""
    rate_limit_ms = getattr(ex, "rateLimit", None)
    if not getattr(ex, "enableRateLimit", False) or not isinstance(rate_limit_ms, (int, float)) or rate_limit_ms <= 0:
        return
    rate = 1000.0 / rate_limit_ms
    ex.throttle = RequestPacer(rate) if ceiling is None else RequestPacer(rate, ceiling, ceiling=True)


def weigh_endpoints(ex: Any, costs: Mapping[tuple[str, str, str], float],
                    charged: frozenset[tuple[str, str, str]] = frozenset()) -> None:
    """Let ccxt's weight limiter charge ``costs`` ((api, METHOD, path) → cost) instead of its own
    table: 0 for a venue's order endpoints (they count against the venue's order limits, which
    our budget keeps below, not against the request weight ccxt models), the venue's published
    weight for a read ccxt's table undercounts; ``charged``: order endpoints the venue weighs with
    its reads, charged as :class:`Charged` (they go at once, the reads after them wait)."""
    costs = dict(costs)
    base = ex.calculate_rate_limiter_cost

    def cost(api, method, path, params, config={}):  # noqa: B006 - ccxt's own signature
        key = _key(api, method, path)
        own = costs.get(key)
        out = own if own is not None else base(api, method, path, params, config)
        return Charged(out) if key in charged else out

    ex.calculate_rate_limiter_cost = cost


Key = tuple[str, str, str]  # (api, METHOD, path) of a ccxt request


def _key(api: Any, method: Any, path: str) -> Key:
    return (api[0] if isinstance(api, (list, tuple)) and api else str(api), str(method).upper(), path)


class EndpointWindows:
    """The venue's limit of each endpoint on its own: ``limits`` ((api, METHOD, path) → (requests,
    window_s)), past which it refuses the call (OKX's positions, 10 requests per 2 s per UID:
    50011). A request of a limited endpoint waits until fewer than its limit were sent over the
    last window, callers in arrival order; a request counts from when it was sent until its
    answer came back, then over the window after that (the venue counted it somewhere between).
    The pacer's burst (:data:`RATE_LIMIT_BURST`) let a halt's closes, each reading its symbol's
    position afresh, call one endpoint past its limit at once. The requests that waited and how
    long, by endpoint (:attr:`waited`), are the runner's to show (a halt's closes slowed by the
    venue's limit are otherwise only slower closes)."""

    def __init__(self, limits: Mapping[Key, tuple[float, float]], clock: Optional[Callable[[], float]] = None):
        self.limits = dict(limits)
        self._clock = clock or time.monotonic
        self._sent: dict[Key, list[list[float]]] = {}  # [at, answered (0/1)] of each request counted
        self._locks: dict[Key, asyncio.Lock] = {}
        self.waited: dict[str, tuple[int, float]] = {}  # "METHOD path" → (requests that waited, seconds)

    def _counted(self, key: Key, window_s: float) -> list[list[float]]:
        edge = self._clock() - window_s
        sent = self._sent[key] = [s for s in self._sent.get(key, []) if not s[1] or s[0] > edge]
        return sent

    @asynccontextmanager
    async def request(self, key: Key) -> AsyncIterator[None]:
        """One request of ``key``: it goes once the endpoint's window has room, and counts there
        until a window after its answer."""
        got = self.limits.get(key)
        if got is None:
            yield
            return
        requests, window_s = got
        came = self._clock()
        async with self._locks.setdefault(key, asyncio.Lock()):
            while len(sent := self._counted(key, window_s)) >= requests:
                answered = [s[0] for s in sent if s[1]]  # (one in flight: looked at again soon)
                wait = min(answered) + window_s - self._clock() if answered else window_s / requests
                await asyncio.sleep(max(wait, 1e-3))
            mark = [self._clock(), 0.0]
            sent.append(mark)
        if mark[0] > came:
            name = f"{key[1]} {key[2]}"
            n, s = self.waited.get(name, (0, 0.0))
            self.waited[name] = (n + 1, s + mark[0] - came)
        try:
            yield
        finally:
            mark[:] = [self._clock(), 1.0]


def window_requests(ex: Any, limits: Mapping[Key, tuple[float, float]]) -> None:
    """Keep every REST request of ``ex`` (a client with ccxt's rate limiting on) to an endpoint of
    ``limits`` within the venue's limit of it, in ``ex.endpoint_windows`` (an
    :class:`EndpointWindows`, which another client of the same account may share: one count a
    UID); wraps ``fetch2``, the one call every REST request of ccxt goes through, outside ccxt's
    own pacing. Nothing where ``limits`` is empty."""
    inner = getattr(ex, "fetch2", None)
    if inner is None or not limits or not getattr(ex, "enableRateLimit", False):
        return
    ex.endpoint_windows = EndpointWindows(limits)

    async def fetch2(path, api=["public"], method="GET", params={}, config={}):  # noqa: B006 - ccxt's own signature
        async with ex.endpoint_windows.request(_key(api, method, path)):
            return await inner(path, api, method, params, config)

    ex.fetch2 = fetch2


class OrderBudget(TokenBucket):
    """An async token bucket: ``rate`` orders per second, bursts of up to ``burst`` (one
    second's worth by default: its ``capacity``). Callers queue in arrival order."""

    def __init__(self, rate: float, burst: Optional[float] = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(rate, burst if burst is not None else max(1.0, rate), clock, "orders_per_second")

    async def acquire(self, cost: float = 1.0) -> None:
        """One request's turn: it waits for one order's token (``cost``'s, when less) and spends
        ``cost`` orders' worth; a request the venue weighs as more than one order (a batch
        weighed by its size) leaves the bucket in debt by the rest, which the callers after it
        wait out: the rate holds over time, whatever a request costs."""
        need = min(1.0, cost)
        async with self._lock:
            while True:
                self._refill()
                if self.tokens >= need:
                    self.tokens -= cost
                    return
                await asyncio.sleep((need - self.tokens) / self.rate)

    def available(self) -> bool:
        """Whether a request would go at once: no caller waits and a token is there."""
        if self._lock.locked():
            return False
        self._refill()
        return self.tokens >= 1.0

    async def ready(self) -> None:
        """Wait, in the callers' order, until a token is there, spending none (a batch gathering
        what comes while the budget makes it wait, sent once it may go)."""
        async with self._lock:
            while True:
                self._refill()
                if self.tokens >= 1.0:
                    return
                await asyncio.sleep((1.0 - self.tokens) / self.rate)


class WeightMeter:
    """The weight this client's requests cost the venue over the last ``window_s`` (a sliding
    window, in the venue's unit: ccxt's cost of each request as :func:`weigh_endpoints` corrects
    it, or 1 a request where the venue counts requests), and the venue's own count of the IP's
    weight when its answers carry one (Binance: ``X-MBX-USED-WEIGHT-1M``), with when it was read.
    The runner sums the meters of a venue's accounts (they share the IP) and prefers the venue's
    count while it is fresh. ``windows``: the client's :class:`EndpointWindows`, where the venue
    limits endpoints on their own (:meth:`endpoint_waits`)."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.window_s = float(window_s)
        self._clock = clock
        self._costs: deque[tuple[float, float]] = deque()
        self.venue_used: Optional[tuple[float, float]] = None  # (monotonic time read, the venue's count)
        self.windows: Optional[EndpointWindows] = None

    def endpoint_waits(self) -> dict[str, tuple[int, float]]:
        """"METHOD path" → (requests that waited for the venue's window of that endpoint, seconds
        waited), since the start."""
        return dict(self.windows.waited) if self.windows is not None else {}

    def add(self, cost: float) -> None:
        self._costs.append((self._clock(), float(cost)))
        self._trim()

    def _trim(self) -> None:
        edge = self._clock() - self.window_s
        while self._costs and self._costs[0][0] <= edge:
            self._costs.popleft()

    def used(self) -> float:
        """The weight counted over the last window."""
        self._trim()
        return sum(c for _, c in self._costs)

    def venue_count(self) -> Optional[tuple[float, float]]:
        """(age in seconds, the venue's count) of its latest count, while younger than the window."""
        if self.venue_used is None:
            return None
        age = self._clock() - self.venue_used[0]
        return (age, self.venue_used[1]) if age < self.window_s else None

    def read_header(self, headers: Any, name: Optional[str]) -> None:
        if not name or not isinstance(headers, Mapping):
            return
        want = name.lower()
        for key, value in headers.items():
            if str(key).lower() == want:
                try:
                    self.venue_used = (self._clock(), float(value))
                except (TypeError, ValueError):
                    pass
                return


def meter_requests(ex: Any, meter: WeightMeter, limit: Optional[WeightLimit],
                   weigh: Optional[Callable[[str, str, str, Any, float], float]] = None) -> None:
    """Count every request ``ex`` sends in ``meter``: at ccxt's cost (``calculate_rate_limiter_cost``,
    whether or not ccxt's limiter is on) as ``weigh(api, METHOD, path, params, cost)`` corrects it
    (the dialect's :meth:`~.dialects.base.Dialect.request_weight`), or 1 where the venue counts
    requests (``limit.counts_requests``), and the venue's ``limit.used_header`` from each answer.
    Wraps ``fetch2``, the one call every REST request of ccxt goes through (ccxt's own retries of
    it are rare and not counted)."""
    inner = getattr(ex, "fetch2", None)
    if inner is None:
        return
    has_cost = hasattr(ex, "calculate_rate_limiter_cost")
    counts_requests = bool(limit and limit.counts_requests)
    used_header = limit.used_header if limit else None

    async def fetch2(path, api=["public"], method="GET", params={}, config={}):  # noqa: B006 - ccxt's own signature
        cost = 1.0
        if not counts_requests and has_cost:
            try:
                cost = float(ex.calculate_rate_limiter_cost(api, method, path, params, config))
                if weigh is not None:
                    name = api[0] if isinstance(api, (list, tuple)) and api else str(api)
                    cost = float(weigh(name, str(method).upper(), path, params, cost))
            except Exception:  # noqa: BLE001 - a cost it cannot say is one request
                cost = 1.0
        meter.add(cost)
        try:
            return await inner(path, api, method, params, config)
        finally:
            meter.read_header(getattr(ex, "last_response_headers", None), used_header)

    ex.fetch2 = fetch2
