"""The REST weight budget: what polling (or streaming) a set of accounts costs a venue's
per-IP limit, in the venue's own unit, and how many accounts one runner can hold within it.

What it owns
    * :class:`Read`, :class:`SnapshotCost` and :class:`WeightLimit`: the numbers a venue's
      dialect declares (``adapters/ccxt_exchange/dialects``): what one snapshot reads, endpoint
      by endpoint, and the venue's limit (per IP, or per UID and endpoint where the venue
      counts that way);
    * the arithmetic on them: weight a minute of one account polled every ``interval_s``
      (:func:`polling_per_minute`) or kept by a stream with a REST reconcile every
      ``reconcile_s`` (:func:`streaming_per_minute`), the accounts one runner holds within a
      limit (:func:`accounts_within`), and the load of a set of accounts on one venue
      (:func:`venue_load`), with the sentence that prints it.

What it must not do
    import the adapters (they hand their numbers in), read a file or the clock. ``ksctl
    validate`` / ``plan`` (:mod:`killswitch.compile.weight_check`) and the runner's weight
    report use it with the dialects' numbers.
"""

from __future__ import annotations

import math
from dataclasses import field, replace
from typing import Mapping, Optional, Sequence

from .records import record

PER_IP = "ip"
PER_UID = "uid"


@record
class Read:
    """One endpoint a snapshot calls: its cost in the venue's unit, the calls a snapshot makes
    (one per settle coin or algo order type), and whether it is part of the open-order list
    (listed only when the last list is ``open_orders_max_age_s`` old). ``every_s`` above 0: a
    read a snapshot makes only when the last one is that old (an account's position mode,
    read at start and every few minutes), counted at that rate whatever the interval."""

    endpoint: str  # "GET /fapi/v3/account"
    weight: float  # per call, in the venue's unit
    calls: int = 1
    orders: bool = False
    every_s: float = 0.0


@record
class WeightLimit:
    """A venue's REST limit as it counts it. ``per`` is :data:`PER_IP` (every account of a
    runner on one IP shares it) or :data:`PER_UID` (each account has its own; no IP-wide limit
    binds private reads). ``endpoint_limits``: endpoint → (requests, window_s) a UID may call."""

    limit: Optional[float]  # per window, in ``unit``; None: no per-IP limit on private reads
    window_s: float
    unit: str  # "REQUEST_WEIGHT", "requests", "weight"
    per: str
    source: str  # the venue's page that documents it
    counts_requests: bool = False  # the unit is requests (each costs 1), not ccxt's cost
    used_header: Optional[str] = None  # the response header carrying the venue's own count
    endpoint_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def per_minute(self) -> Optional[float]:
        return None if self.limit is None else self.limit * 60.0 / self.window_s


@record
class SnapshotCost:
    """What one snapshot of an account reads, and what a private stream of it costs over REST
    (``streams`` False: the venue's dialect has none this wave, an account with ``stream:``
    polls)."""

    reads: tuple[Read, ...]
    open_orders_max_age_s: float = 0.0
    streams: bool = False
    stream_open: float = 0.0  # a stream's start (Binance: POST listenKey, 1), again at each reconnect
    stream_keepalive: float = 0.0  # one keepalive (Binance: PUT listenKey, 1)
    keepalive_every_s: float = 3600.0

    @property
    def every(self) -> float:
        """The weight read at every snapshot."""
        return sum(r.weight * r.calls for r in self.reads if not r.orders and not r.every_s)

    @property
    def orders(self) -> float:
        """The weight of the open-order list."""
        return sum(r.weight * r.calls for r in self.reads if r.orders and not r.every_s)

    @property
    def periodic_per_minute(self) -> float:
        """The weight a minute of the reads made every ``every_s`` (the position mode's)."""
        return sum(r.weight * r.calls * 60.0 / r.every_s for r in self.reads if r.every_s)

    @property
    def full(self) -> float:
        """One snapshot that lists the open orders."""
        return self.every + self.orders


@record
class DeclaredWeights:
    """One venue's declared REST weight: a futures snapshot's ``reads`` under ``limit`` (a spot
    snapshot's under ``spot_limit``, where the venue's spot API has a limit of its own), the
    endpoints listed once a settle coin, and what a private stream costs over REST."""

    reads: tuple[Read, ...] = ()
    limit: Optional[WeightLimit] = None
    open_orders_max_age_s: float = 0.0
    streams: bool = False
    stream_open: float = 0.0
    stream_keepalive: float = 0.0
    keepalive_every_s: float = 3600.0
    default_settle_coins: tuple[str, ...] = ()
    per_settle_coin: tuple[str, ...] = ()  # endpoints called once for each settle coin read (sorted)
    spot_reads: tuple[Read, ...] = ()
    spot_limit: Optional[WeightLimit] = None
    # a spot account's private stream, where its venue has one: (its start, one keepalive, how
    # often one is sent); None: a spot account polls
    spot_stream: Optional[tuple[float, float, float]] = None

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        """What one snapshot of a ``market_type`` account reading ``settle_coins`` (empty: the
        venue's default) costs; None where nothing is declared."""
        if market_type == "spot":
            if not self.spot_reads:
                return None
            if self.spot_stream is None:
                return SnapshotCost(self.spot_reads, self.open_orders_max_age_s)
            start, keepalive, every_s = self.spot_stream
            return SnapshotCost(self.spot_reads, self.open_orders_max_age_s, streams=True, stream_open=start,
                                stream_keepalive=keepalive, keepalive_every_s=every_s)
        if market_type != "futures" or not self.reads:
            return None
        coins = max(1, len(settle_coins or self.default_settle_coins))
        reads = tuple(replace(r, calls=coins) if r.endpoint in self.per_settle_coin else r for r in self.reads)
        return SnapshotCost(reads, self.open_orders_max_age_s, streams=self.streams, stream_open=self.stream_open,
                            stream_keepalive=self.stream_keepalive, keepalive_every_s=self.keepalive_every_s)

    def limit_for(self, market_type: str) -> Optional[WeightLimit]:
        return self.spot_limit if market_type == "spot" else self.limit


def polling_per_minute(cost: SnapshotCost, every_s: float) -> float:
    """Weight a minute of one account snapshotted over REST every ``every_s``; the open orders
    are listed when the last list is ``open_orders_max_age_s`` old: every ⌈age / every⌉
    snapshots, at most (a list a shade younger than the age waits one more snapshot; the bound
    is the one to plan for)."""
    if every_s <= 0:
        raise ValueError("the interval must be positive")
    k = max(1, math.ceil(cost.open_orders_max_age_s / every_s - 1e-9))
    return cost.every * 60.0 / every_s + cost.orders * 60.0 / (every_s * k) + cost.periodic_per_minute


def streaming_per_minute(cost: SnapshotCost, reconcile_s: float) -> float:
    """Weight a minute of one account kept by its stream: the keepalives and a REST reconcile
    every ``reconcile_s`` (the stream's start is once, and again at a reconnect: not a rate).
    A venue without streams polls: None is not returned, the caller asks ``cost.streams``."""
    return polling_per_minute(cost, reconcile_s) + cost.stream_keepalive * 60.0 / cost.keepalive_every_s


def accounts_within(limit_per_minute: float, per_account: float) -> int:
    """The accounts one runner (one IP) holds within the limit, each costing ``per_account``."""
    if per_account <= 0:
        return 0 if limit_per_minute <= 0 else 10**9
    return int(math.floor(limit_per_minute / per_account + 1e-9))


@record
class AccountLoad:
    """One account's part of a venue's load."""

    name: str
    cost: SnapshotCost
    streaming: bool  # kept by a stream (the account asks for one and the venue has it)
    reconcile_s: Optional[float]  # the stream's REST reconcile (None when polling)
    per_minute: float
    polled_per_minute: float  # what it would cost polled at the interval (the stream's saving is the difference)
    # its own per-UID endpoint limits where they are its rate tier's (Kraken spot); None: the venue's
    endpoint_limits: Optional[Mapping[str, tuple[float, float]]] = None


@record
class VenueLoad:
    """The load of one runner's accounts on one venue at the policy interval ``interval_s``."""

    venue: str
    limit: WeightLimit
    interval_s: float
    accounts: tuple[AccountLoad, ...]

    @property
    def per_minute(self) -> float:
        return sum(a.per_minute for a in self.accounts)

    @property
    def polled_per_minute(self) -> float:
        """The load were every account polled (no stream)."""
        return sum(a.polled_per_minute for a in self.accounts)

    @property
    def streamed_per_minute(self) -> Optional[float]:
        """The load were every account kept by a stream reconciling at its own cadence (30 s by
        default); None where the venue has no streams."""
        if not self.accounts or not all(a.cost.streams for a in self.accounts):
            return None
        return sum(streaming_per_minute(a.cost, a.reconcile_s or 30.0) for a in self.accounts)

    @property
    def share(self) -> Optional[float]:
        """The load over the per-IP limit (None: no per-IP limit)."""
        per_minute = self.limit.per_minute
        return None if per_minute is None else self.per_minute / per_minute

    def fits_polling(self) -> Optional[int]:
        """The accounts like the heaviest of these one runner holds when polled at the interval."""
        heaviest = max((a.polled_per_minute for a in self.accounts), default=0.0)
        per_minute = self.limit.per_minute
        return None if per_minute is None else accounts_within(per_minute, heaviest)

    def fits_streaming(self) -> Optional[int]:
        per_minute = self.limit.per_minute
        if per_minute is None or not self.accounts or not all(a.cost.streams for a in self.accounts):
            return None
        heaviest = max(streaming_per_minute(a.cost, a.reconcile_s or 30.0) for a in self.accounts)
        return accounts_within(per_minute, heaviest)

    def uid_overloads(self) -> list[tuple[str, str, float]]:
        """(account, endpoint, share of its per-UID limit) of every endpoint an account calls
        faster than its UID may (the interval, or the reconcile when streaming)."""
        out = []
        for a in self.accounts:
            every_s = a.reconcile_s if a.streaming and a.reconcile_s else self.interval_s
            limits = self.limit.endpoint_limits if a.endpoint_limits is None else a.endpoint_limits
            for r in a.cost.reads:
                got = limits.get(r.endpoint)
                if got is None:
                    continue
                requests, window_s = got
                share = r.calls * (window_s / every_s if every_s < window_s else 1.0) / requests
                if share > 1.0:
                    out.append((a.name, r.endpoint, share))
        return out

    def arithmetic(self) -> str:
        """The sentence ``ksctl validate`` prints: the load, the limit, what fits, what streams save."""
        lim = self.limit
        unit = lim.unit.lower().replace("_", " ")
        polled = [a for a in self.accounts if not a.streaming]
        parts = [_terms(polled, self.interval_s, unit)] if polled else []
        streamed_now = [a for a in self.accounts if a.streaming]
        if streamed_now:
            parts.append(f"{len(streamed_now)} streamed account(s) (REST reconcile and keepalives) = "
                         f"{_n(sum(a.per_minute for a in streamed_now))}/min")
        head = f"{self.venue}: " + (" + ".join(parts) or "no account") + f" = {_n(self.per_minute)} {unit}/min"
        per_minute = lim.per_minute
        if per_minute is None:
            text = f"{head}; no per-IP limit on private reads ({lim.unit} counted per UID and endpoint)"
        else:
            op = ">" if self.per_minute > per_minute else "≤"
            text = (f"{head} {op} {_n(per_minute)} limit (per IP, {_n(lim.limit or 0)} per {lim.window_s:g}s); "
                    f"at most {self.fits_polling()} account(s) polled at {self.interval_s:g}s")
        streamed = self.streamed_per_minute
        if streamed is not None:
            reconcile = sorted({a.reconcile_s or 30.0 for a in self.accounts})
            text += (f"; streaming with reconcile every {'/'.join(f'{r:g}s' for r in reconcile)}: "
                     f"{_n(streamed)}/min")
            if per_minute is not None:
                text += f", at most {self.fits_streaming()} account(s)"
        elif self.accounts:
            text += f"; {self.venue} has no private streams here: every account polls"
        return text


def venue_load(venue: str, limit: WeightLimit, interval_s: float,
               accounts: Sequence[tuple[str, SnapshotCost, Optional[float]]],
               endpoint_limits: Optional[Mapping[str, Mapping[str, tuple[float, float]]]] = None) -> VenueLoad:
    """The load of ``accounts`` ((name, snapshot cost, stream reconcile in seconds or None when
    the account does not stream)) on ``venue``, each snapshotted every ``interval_s`` unless
    its stream keeps it (the venue must have streams: else it polls); ``endpoint_limits``, an
    account's name → its own per-UID endpoint limits (its rate tier's), else the venue's."""
    rows = []
    own = endpoint_limits or {}
    for name, cost, reconcile_s in accounts:
        polled = polling_per_minute(cost, interval_s)
        streaming = reconcile_s is not None and cost.streams
        rows.append(AccountLoad(name, cost, streaming, reconcile_s if streaming else None,
                                streaming_per_minute(cost, reconcile_s) if streaming and reconcile_s else polled,
                                polled, own.get(name)))
    return VenueLoad(venue, limit, interval_s, tuple(rows))


def _terms(accounts: Sequence[AccountLoad], interval_s: float, unit: str) -> str:
    """``60 account(s) × 600/min (10 a snapshot × 12 snapshots/min + 80 open orders × 6 lists/min)``,
    one term per distinct cost."""
    groups: dict[tuple[float, float, float, float], int] = {}
    for a in accounts:
        c = a.cost
        key = (c.every, c.orders, c.open_orders_max_age_s, c.periodic_per_minute)
        groups[key] = groups.get(key, 0) + 1
    terms = []
    for (every, orders, age, periodic), n in groups.items():
        snaps = 60.0 / interval_s
        each = f"{_n(every)} {unit} a snapshot × {_n(snaps)} snapshots/min"
        if orders:
            lists = 60.0 / (interval_s * max(1, math.ceil(age / interval_s - 1e-9)))
            each += f" + {_n(orders)} for the open orders × {_n(lists)} lists/min"
        if periodic:
            each += f" + {_n(periodic)} for the position mode"
        per = every * snaps + (orders * lists if orders else 0.0) + periodic
        terms.append(f"{n} account(s) × {_n(per)}/min ({each})")
    return " + ".join(terms)


def _n(x: float) -> str:
    """A figure as a person reads it: thousands separated, at most one decimal."""
    return f"{x:,.0f}" if abs(x - round(x)) < 0.05 else f"{x:,.1f}"
