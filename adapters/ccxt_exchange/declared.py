"""The dialects' REST weights as the tables ``ksctl validate`` reads (:mod:`killswitch.dialect_tables`).

What it owns: :func:`declared`, one dialect's declaration as a
:class:`~killswitch.weights.DeclaredWeights` (what one snapshot reads, once a settle coin where the
venue lists by coin; its limit; what its stream costs), and :func:`tables`, every registered
dialect's as rows of plain values, not code per venue (its rate tiers' names too, which an
account's ``rate_tier`` is checked against: KS225; and where it arms no countdown, and why:
KS262; and the ids with a dialect: KS222), each table's columns named in :data:`COLUMNS`.
The check of policies must not import the adapters: pyproject.toml declares :func:`tables` in
the entry-point group ``killswitch.venue_tables``, where :mod:`killswitch.dialect_tables` finds
it and keeps its rows, read again once a dialect changes.

What it must not do: import ccxt, or hold a number of its own (each is its dialect's).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

from killswitch.weights import DeclaredWeights

from .dialects import DIALECTS
from .dialects.base import Dialect


def declared(d: Dialect) -> Optional[DeclaredWeights]:
    """What ``d`` declares: the futures snapshot's reads of one settle coin (the endpoints whose
    calls grow with the coins read listed in ``per_settle_coin``), the spot snapshot's, the limits
    and the stream's costs; None where it declares neither market type's."""
    one, two = d.snapshot_cost("futures", ("A",)), d.snapshot_cost("futures", ("A", "B"))
    spot = d.snapshot_cost("spot")
    futures_limit, spot_limit = d.weight_limit_for("futures"), d.weight_limit_for("spot")
    if (one is None or futures_limit is None) and (spot is None or spot_limit is None):
        return None
    per_coin = tuple(sorted(a.endpoint for a, b in zip(one.reads, two.reads) if b.calls != a.calls)) if one and two \
        else ()
    reads = tuple(replace(r, calls=1) if r.endpoint in per_coin else r for r in one.reads) if one else ()
    cost = one or spot
    assert cost is not None
    return DeclaredWeights(
        reads=reads, limit=futures_limit if one else None, open_orders_max_age_s=cost.open_orders_max_age_s,
        streams=cost.streams, stream_open=cost.stream_open, stream_keepalive=cost.stream_keepalive,
        keepalive_every_s=cost.keepalive_every_s, default_settle_coins=tuple(d.default_settle_coins),
        per_settle_coin=per_coin, spot_reads=spot.reads if spot else (),
        spot_limit=spot_limit if spot and spot_limit is not futures_limit else None,
        spot_stream=(spot.stream_open, spot.stream_keepalive, spot.keepalive_every_s) if spot and spot.streams
        else None)


# each table and its columns, the order killswitch.compile.venue_weights reads them in
COLUMNS = {
    "VENUES": ("venue", "open_orders_max_age_s", "streams", "stream_open", "stream_keepalive", "keepalive_every_s",
               "default_settle_coins"),
    "READS": ("venue", "market type", "endpoint", "weight", "calls", "orders", "every_s", "once a settle coin"),
    "LIMITS": ("venue", "market type", "limit", "window_s", "unit", "per", "counts_requests", "used_header",
               "source"),
    "ENDPOINT_LIMITS": ("venue", "market type", "endpoint", "requests", "window_s"),
    "SPOT_STREAMS": ("venue", "stream_open", "stream_keepalive", "keepalive_every_s"),
    "RATE_TIERS": ("venue", "tier (the lowest first)"),
    "TIER_ENDPOINT_LIMITS": ("venue", "tier", "market type", "endpoint", "requests", "window_s"),
    "NO_COUNTDOWN": ("venue", "market type", "why the dialect arms no countdown there"),
}


def tables() -> dict[str, tuple[Any, ...]]:
    """Every registered dialect's declaration as rows of the tables :data:`COLUMNS` names, then the
    ids of the registered dialects (``DIALECT_VENUES``, one a row): what the compiler reads
    (:func:`killswitch.dialect_tables.tables`, through the entry point pyproject.toml declares)."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    for venue in sorted(DIALECTS):
        got = declared(DIALECTS[venue])
        if got is not None:
            _add_rows(rows, venue, got)
        _add_tiers(rows, DIALECTS[venue])
        rows["NO_COUNTDOWN"] += no_countdown_rows(DIALECTS[venue])
    return {**{name: tuple(r) for name, r in rows.items()}, "DIALECT_VENUES": tuple(sorted(DIALECTS))}


def _add_rows(tables: dict[str, list[tuple[Any, ...]]], venue: str, w: DeclaredWeights) -> None:
    """``w``'s rows added to ``tables``: its venue's, then each market type's reads and limit."""
    tables["VENUES"].append((venue, w.open_orders_max_age_s, w.streams, w.stream_open, w.stream_keepalive,
                             w.keepalive_every_s, w.default_settle_coins))
    for market, reads, limit in (("futures", w.reads, w.limit), ("spot", w.spot_reads, w.spot_limit)):
        tables["READS"] += [(venue, market, r.endpoint, r.weight, r.calls, r.orders, r.every_s,
                             r.endpoint in w.per_settle_coin) for r in reads]
        if limit is not None:
            tables["LIMITS"].append((venue, market, limit.limit, limit.window_s, limit.unit, limit.per,
                                     limit.counts_requests, limit.used_header, limit.source))
            tables["ENDPOINT_LIMITS"] += [(venue, market, e, *v) for e, v in sorted(limit.endpoint_limits.items())]
    if w.spot_stream is not None:  # a spot account's own stream (the venue's row is its futures one's)
        tables["SPOT_STREAMS"].append((venue, *w.spot_stream))


def no_countdown_rows(d: Dialect) -> list[tuple[str, str, str]]:
    """(venue, market type, why) of each market type ``d`` arms no countdown on, as it says
    (:attr:`~.dialects.base.Dialect.no_countdown`); a dialect without a countdown method that
    says nothing is said in general terms, so that KS262 names its accounts all the same."""
    if d.countdown_method is None and not d.no_countdown:
        return [(d.id, "futures", f"the {d.id} dialect arms no countdown")]
    return [(d.id, market, why) for market, why in sorted(d.no_countdown.items())]


def _add_tiers(tables: dict[str, list[tuple[Any, ...]]], d: Dialect) -> None:
    """``d``'s rate tiers, the lowest first, and each one's per-UID endpoint limits (an account's
    own, at its tier: the rest of its limit is the venue's)."""
    for tier in d.rate_tiers:
        tables["RATE_TIERS"].append((d.id, tier))
        tiered = d.for_tier(tier)
        for market in ("futures", "spot"):
            limit = tiered.weight_limit_for(market)
            if limit is not None:
                tables["TIER_ENDPOINT_LIMITS"] += [(d.id, tier, market, e, *v)
                                                   for e, v in sorted(limit.endpoint_limits.items())]


__all__ = ["COLUMNS", "declared", "no_countdown_rows", "tables"]
