"""The REST weight each venue's dialect declares, as a table ``ksctl validate`` reads (KS230-KS232).

What it owns: :data:`VENUE_WEIGHTS`, venue id → what one snapshot of an account reads there and
the venue's limit (:class:`~killswitch.weights.DeclaredWeights`), and :func:`declared_costs`, the ``cost_of`` that
:func:`killswitch.compile.weight_check.check_weight_budget` is handed.

The numbers are the ccxt adapter's dialects' (``snapshot_reads``, ``weight_limit``, the stream's
weights, ``open_orders_max_age_s``; ``adapters/ccxt_exchange/dialects``), which say where each
comes from. A check of policies must not import the adapters (their import, with asyncio and the
snapshot types, cost ``ksctl validate`` more than the rest of its checks together), so it reads
them from :mod:`.venue_tables`, which ``make schemas`` writes from the dialects
(:mod:`adapters.ccxt_exchange.declared`); nobody edits it, and ``tests/unit/compile/test_venue_weights.py``
fails when it is stale. A venue not in the table declares nothing (KS232), as a ccxt id without a
dialect of its own does.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Optional

from ..policy.accounts_doc import Account
from ..weights import SnapshotCost, WeightLimit
from .venue_tables import VENUE_WEIGHTS


def venue_costs(venue: str, market_type: str,
                settle_coins: tuple[str, ...] = ()) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """What one snapshot of an account of ``venue`` costs and the limit it counts against; None
    where the venue (or its market type there) declares either not."""
    weights = VENUE_WEIGHTS.get(venue)
    if weights is None:
        return None
    cost = weights.snapshot_cost(market_type, settle_coins)
    limit = weights.limit_for(market_type)
    if cost is None or limit is None:
        return None
    return cost, limit


def declared_costs(account: Account) -> Optional[tuple[SnapshotCost, WeightLimit]]:
    """``cost_of`` for :func:`~killswitch.compile.weight_check.check_weight_budget`: the declared
    cost of ``account``'s snapshot and its venue's limit (None: not declared, KS232)."""
    return venue_costs(account.venue, account.market_type, tuple(account.settle_coins))
