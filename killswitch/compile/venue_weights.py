"""The REST weight each venue's dialect declares, as a table ``ksctl validate`` reads (KS230-KS232).

What it owns: :func:`venue_weights`, venue id → what one snapshot of an account reads there and
the venue's limit (:class:`~killswitch.weights.DeclaredWeights`), built by :func:`from_rows`;
:func:`venue_rate_tiers`, the venues' rate tiers (the lowest first), and each tier's per-UID
endpoint limits (:func:`tier_endpoint_limits`, an account's at its ``rate_tier``); and
:func:`declared_costs`, the ``cost_of`` that :func:`killswitch.compile.weight_check.check_weight_budget` is handed.

The numbers are the ccxt adapter's dialects' (``snapshot_reads``, ``weight_limit``, the stream's
weights, ``open_orders_max_age_s``; ``adapters/ccxt_exchange/dialects``), which say where each
comes from. A check of policies must not import the adapters (their import, with asyncio and the
snapshot types, cost ``ksctl validate`` more than the rest of its checks together), so it is
handed them by :func:`killswitch.dialect_tables.tables`, which finds the dialects' provider
(:func:`adapters.ccxt_exchange.declared.tables`) at run time and keeps its rows: plain rows, one
a venue, a read, a limit and an endpoint's limit, each table's columns named where they are
written. They are read when a check first asks, not when this module is imported.
A venue not in the tables declares nothing (KS232), as a ccxt id without a dialect of its own does.

Pure but for that read: no I/O of its own.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import replace
from typing import Any, Optional

from ..dialect_tables import tables
from ..policy.accounts_doc import Account
from ..weights import DeclaredWeights, Read, SnapshotCost, WeightLimit


def from_rows(venues: Any, reads: Any, limits: Any, endpoint_limits: Any,
              spot_streams: Any = ()) -> dict[str, DeclaredWeights]:
    """Each venue's declaration from the rows of the venues' tables (their columns are named where
    they are written: :data:`adapters.ccxt_exchange.declared.COLUMNS`)."""
    by_market: dict[tuple[str, str], list[Read]] = defaultdict(list)
    per_coin: dict[str, set[str]] = defaultdict(set)
    for venue, market, endpoint, weight, calls, orders, every_s, once_a_coin in reads:
        by_market[venue, market].append(Read(endpoint, weight, calls, orders, every_s))
        if once_a_coin:
            per_coin[venue].add(endpoint)
    spot_stream = {venue: (float(start), float(keepalive), float(every_s))
                   for venue, start, keepalive, every_s in spot_streams}
    per_endpoint: dict[tuple[str, str], dict[str, tuple[float, float]]] = defaultdict(dict)
    for venue, market, endpoint, requests, window_s in endpoint_limits:
        per_endpoint[venue, market][endpoint] = (requests, window_s)
    limit = {(venue, market): WeightLimit(n, window_s, unit, per, source, counts, header, per_endpoint[venue, market])
             for venue, market, n, window_s, unit, per, counts, header, source in limits}
    return {venue: DeclaredWeights(tuple(by_market[venue, "futures"]), limit.get((venue, "futures")), age, streams,
                                   stream_open, keepalive, keepalive_every_s, coins, tuple(sorted(per_coin[venue])),
                                   tuple(by_market[venue, "spot"]), limit.get((venue, "spot")),
                                   spot_stream.get(venue))
            for venue, age, streams, stream_open, keepalive, keepalive_every_s, coins in venues}


@functools.cache
def venue_weights() -> dict[str, DeclaredWeights]:
    """Venue id → its declaration, from the dialects' tables (read once)."""
    t = tables()
    return from_rows(t["VENUES"], t["READS"], t["LIMITS"], t["ENDPOINT_LIMITS"], t["SPOT_STREAMS"])


# venue → its rate tiers, the lowest first (an account's ``rate_tier``: :mod:`.tier_check`), and
# (venue, tier, market type) → that tier's per-UID endpoint limits
TierLimits = dict[tuple[str, str, str], dict[str, tuple[float, float]]]


def tiers_from_rows(rate_tiers: Any, tier_endpoint_limits: Any) -> tuple[dict[str, tuple[str, ...]], TierLimits]:
    """Each venue's rate tiers and each tier's endpoint limits from the rows of the venues' tables."""
    tiers: dict[str, tuple[str, ...]] = {}
    for venue, tier in rate_tiers:
        tiers[venue] = (*tiers.get(venue, ()), tier)
    limits: TierLimits = defaultdict(dict)
    for venue, tier, market, endpoint, requests, window_s in tier_endpoint_limits:
        limits[venue, tier, market][endpoint] = (requests, window_s)
    return tiers, dict(limits)


@functools.cache
def _tiers() -> tuple[dict[str, tuple[str, ...]], TierLimits]:
    t = tables()
    return tiers_from_rows(t["RATE_TIERS"], t["TIER_ENDPOINT_LIMITS"])


def venue_rate_tiers() -> dict[str, tuple[str, ...]]:
    """Venue → its rate tiers, the lowest first (none: its limits are every account's alike)."""
    return _tiers()[0]


def tier_endpoint_limits() -> TierLimits:
    """(venue, tier, market type) → that tier's per-UID endpoint limits."""
    return _tiers()[1]


def tier_of(venue: str, named: Optional[str]) -> Optional[str]:
    """The tier an account of ``venue`` naming ``named`` is paced at: ``named`` where the venue
    declares it, else its lowest (as the adapter paces it); None where the venue has no tiers."""
    tiers = venue_rate_tiers().get(venue, ())
    return (named if named in tiers else tiers[0]) if tiers else None


def venue_costs(venue: str, market_type: str, settle_coins: tuple[str, ...] = (),
                rate_tier: Optional[str] = None) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """What one snapshot of an account of ``venue`` (at ``rate_tier`` where the venue has tiers)
    costs and the limit it counts against; None where the venue (or its market type there)
    declares either not."""
    weights = venue_weights().get(venue)
    if weights is None:
        return None
    cost = weights.snapshot_cost(market_type, settle_coins)
    limit = weights.limit_for(market_type)
    if cost is None or limit is None:
        return None
    tier = tier_of(venue, rate_tier)
    own = tier_endpoint_limits().get((venue, tier, market_type)) if tier is not None else None
    return cost, limit if own is None else replace(limit, endpoint_limits=own)


def declared_costs(account: Account) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """``cost_of`` for :func:`~killswitch.compile.weight_check.check_weight_budget`: the declared
    cost of ``account``'s snapshot and its venue's limit at its rate tier (None: not declared, KS232)."""
    return venue_costs(account.venue, account.market_type, tuple(account.settle_coins), account.rate_tier)
