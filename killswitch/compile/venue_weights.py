"""The REST weight each venue's dialect declares, as a table ``ksctl validate`` reads (KS230-KS232).

What it owns: :data:`VENUE_WEIGHTS`, venue id → what one snapshot of an account reads there and
the venue's limit (:class:`~killswitch.weights.DeclaredWeights`), built by :func:`from_rows`;
:data:`VENUE_RATE_TIERS`, the venues' rate tiers (the lowest first), and each tier's per-UID
endpoint limits (:data:`TIER_ENDPOINT_LIMITS`, an account's at its ``rate_tier``); and
:func:`declared_costs`, the ``cost_of`` that :func:`killswitch.compile.weight_check.check_weight_budget` is handed.

The numbers are the ccxt adapter's dialects' (``snapshot_reads``, ``weight_limit``, the stream's
weights, ``open_orders_max_age_s``; ``adapters/ccxt_exchange/dialects``), which say where each
comes from. A check of policies must not import the adapters (their import, with asyncio and the
snapshot types, cost ``ksctl validate`` more than the rest of its checks together), so it reads
them from :mod:`.venue_tables`, which ``make schemas`` writes from the dialects
(:mod:`adapters.ccxt_exchange.declared`): plain rows, one a venue, a read, a limit and an
endpoint's limit, each table's columns named above it. Nobody edits it, and
``tests/unit/compile/test_venue_weights.py`` fails when it is stale. A venue not in the table
declares nothing (KS232), as a ccxt id without a dialect of its own does.

Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Optional

from ..policy.accounts_doc import Account
from ..weights import DeclaredWeights, Read, SnapshotCost, WeightLimit
from . import venue_tables


def from_rows(venues: Any, reads: Any, limits: Any, endpoint_limits: Any,
              spot_streams: Any = ()) -> dict[str, DeclaredWeights]:
    """Each venue's declaration from the rows of the tables of :mod:`.venue_tables` (their columns are
    named there: the order :func:`adapters.ccxt_exchange.declared.table_text` writes them in)."""
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


VENUE_WEIGHTS: dict[str, DeclaredWeights] = from_rows(venue_tables.VENUES, venue_tables.READS, venue_tables.LIMITS,
                                                      venue_tables.ENDPOINT_LIMITS, venue_tables.SPOT_STREAMS)

# venue → its rate tiers, the lowest first (an account's ``rate_tier``: :mod:`.tier_check`), and
# (venue, tier, market type) → that tier's per-UID endpoint limits
TierLimits = dict[tuple[str, str, str], dict[str, tuple[float, float]]]


def tiers_from_rows(rate_tiers: Any, tier_endpoint_limits: Any) -> tuple[dict[str, tuple[str, ...]], TierLimits]:
    """Each venue's rate tiers and each tier's endpoint limits from the rows of :mod:`.venue_tables`."""
    tiers: dict[str, tuple[str, ...]] = {}
    for venue, tier in rate_tiers:
        tiers[venue] = (*tiers.get(venue, ()), tier)
    limits: TierLimits = defaultdict(dict)
    for venue, tier, market, endpoint, requests, window_s in tier_endpoint_limits:
        limits[venue, tier, market][endpoint] = (requests, window_s)
    return tiers, dict(limits)


VENUE_RATE_TIERS, TIER_ENDPOINT_LIMITS = tiers_from_rows(venue_tables.RATE_TIERS, venue_tables.TIER_ENDPOINT_LIMITS)


def tier_of(venue: str, named: Optional[str]) -> Optional[str]:
    """The tier an account of ``venue`` naming ``named`` is paced at: ``named`` where the venue
    declares it, else its lowest (as the adapter paces it); None where the venue has no tiers."""
    tiers = VENUE_RATE_TIERS.get(venue, ())
    return (named if named in tiers else tiers[0]) if tiers else None


def venue_costs(venue: str, market_type: str, settle_coins: tuple[str, ...] = (),
                rate_tier: Optional[str] = None) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """What one snapshot of an account of ``venue`` (at ``rate_tier`` where the venue has tiers)
    costs and the limit it counts against; None where the venue (or its market type there)
    declares either not."""
    weights = VENUE_WEIGHTS.get(venue)
    if weights is None:
        return None
    cost = weights.snapshot_cost(market_type, settle_coins)
    limit = weights.limit_for(market_type)
    if cost is None or limit is None:
        return None
    tier = tier_of(venue, rate_tier)
    own = TIER_ENDPOINT_LIMITS.get((venue, tier, market_type)) if tier is not None else None
    return cost, limit if own is None else replace(limit, endpoint_limits=own)


def declared_costs(account: Account) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """``cost_of`` for :func:`~killswitch.compile.weight_check.check_weight_budget`: the declared
    cost of ``account``'s snapshot and its venue's limit at its rate tier (None: not declared, KS232)."""
    return venue_costs(account.venue, account.market_type, tuple(account.settle_coins), account.rate_tier)
