"""The REST weight each venue's dialect declares, as a table ``ksctl validate`` reads (KS230-KS232).

What it owns: :data:`VENUE_WEIGHTS`, venue id → what one snapshot of an account reads there and
the venue's limit (:class:`DeclaredWeights`), and :func:`declared_costs`, the ``cost_of`` that
:func:`killswitch.compile.weight_check.check_weight_budget` is handed.

The numbers are the ccxt adapter's dialects' (``snapshot_reads``, ``weight_limit``, the stream's
weights, ``open_orders_max_age_s``; ``adapters/ccxt_exchange/dialects``), which say where each
comes from. They are kept here as well because a check of policies must not import the adapters
(their import, with asyncio and the snapshot types, cost ``ksctl validate`` more than the rest of
its checks together); ``tests/unit/test_venue_weights.py`` holds every entry equal to its
dialect's ``snapshot_cost`` and ``weight_limit_for``, for every market type and settle coins, so a
dialect's number that changes alone fails there, naming the venue. A venue not in the table
declares nothing (KS232), as a ccxt id without a dialect of its own does.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ..policy.model import Account
from ..weights import PER_IP, PER_UID, Read, SnapshotCost, WeightLimit


@dataclass(frozen=True)
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
    per_settle_coin: frozenset[str] = frozenset()  # endpoints called once for each settle coin read
    spot_reads: tuple[Read, ...] = ()
    spot_limit: Optional[WeightLimit] = None

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        """What one snapshot of a ``market_type`` account reading ``settle_coins`` (empty: the
        venue's default) costs; None where nothing is declared."""
        if market_type == "spot":
            return SnapshotCost(self.spot_reads, self.open_orders_max_age_s) if self.spot_reads else None
        if market_type != "futures" or not self.reads:
            return None
        coins = max(1, len(settle_coins or self.default_settle_coins))
        reads = tuple(replace(r, calls=coins) if r.endpoint in self.per_settle_coin else r for r in self.reads)
        return SnapshotCost(reads, self.open_orders_max_age_s, streams=self.streams, stream_open=self.stream_open,
                            stream_keepalive=self.stream_keepalive, keepalive_every_s=self.keepalive_every_s)

    def limit_for(self, market_type: str) -> Optional[WeightLimit]:
        return self.spot_limit if market_type == "spot" else self.limit


_BINANCE_USED = "X-MBX-USED-WEIGHT-1M"
_BYBIT_POSITIONS = "GET /v5/position/list"
_BYBIT_ORDERS = "GET /v5/order/realtime"
_OKX_POSITIONS = "GET /api/v5/account/positions"
_OKX_ORDERS = "GET /api/v5/trade/orders-pending"
_OKX_ALGO_ORDERS = "GET /api/v5/trade/orders-algo-pending"
_OKX_CONFIG = "GET /api/v5/account/config"
_BITGET_ACCOUNTS = "GET /api/v2/mix/account/accounts"
_BITGET_POSITIONS = "GET /api/v2/mix/position/all-position"
_BITGET_ORDERS = "GET /api/v2/mix/order/orders-pending"
_BITGET_PLANS = "GET /api/v2/mix/order/orders-plan-pending"

# ccxt id → its dialect's declaration (the dialect modules say where each number comes from)
VENUE_WEIGHTS: dict[str, DeclaredWeights] = {
    "binance": DeclaredWeights(
        spot_reads=(Read("GET /api/v3/account", 20), Read("GET /api/v3/ticker/24hr", 80),
                    Read("GET /api/v3/openOrders", 80, orders=True)),
        spot_limit=WeightLimit(6000, 60.0, "REQUEST_WEIGHT", PER_IP,
                               "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits",
                               used_header=_BINANCE_USED)),
    "binanceusdm": DeclaredWeights(
        reads=(Read("GET /fapi/v3/account", 5), Read("GET /fapi/v3/positionRisk", 5),
               Read("GET /fapi/v1/openOrders", 40, orders=True), Read("GET /fapi/v1/openAlgoOrders", 40, orders=True)),
        limit=WeightLimit(2400, 60.0, "REQUEST_WEIGHT", PER_IP,
                          "https://www.binance.com/en/support/faq/rate-limits-on-binance-futures-"
                          "281596e222414cdd9051664ea621cdc3", used_header=_BINANCE_USED),
        open_orders_max_age_s=9.0, streams=True, stream_open=1.0, stream_keepalive=1.0, keepalive_every_s=1200.0),
    "bybit": DeclaredWeights(
        reads=(Read("GET /v5/account/wallet-balance", 1), Read(_BYBIT_POSITIONS, 1), Read(_BYBIT_ORDERS, 1)),
        limit=WeightLimit(600, 5.0, "requests", PER_IP, "https://bybit-exchange.github.io/docs/v5/rate-limit",
                          counts_requests=True,
                          endpoint_limits={"GET /v5/account/wallet-balance": (50, 1.0), _BYBIT_POSITIONS: (50, 1.0),
                                           _BYBIT_ORDERS: (50, 1.0)}),
        streams=True, stream_open=2.0, default_settle_coins=("USDT", "USDC"),
        per_settle_coin=frozenset({_BYBIT_POSITIONS, _BYBIT_ORDERS})),
    "okx": DeclaredWeights(
        reads=(Read("GET /api/v5/account/balance", 1), Read(_OKX_POSITIONS, 1), Read(_OKX_ORDERS, 1),
               Read(_OKX_ALGO_ORDERS, 1, calls=3), Read(_OKX_CONFIG, 1, every_s=300.0)),
        limit=WeightLimit(None, 2.0, "requests", PER_UID, "https://www.okx.com/docs-v5/en/#overview-rate-limits",
                          counts_requests=True,
                          endpoint_limits={"GET /api/v5/account/balance": (10, 2.0), _OKX_POSITIONS: (10, 2.0),
                                           _OKX_ORDERS: (60, 2.0), _OKX_ALGO_ORDERS: (20, 2.0),
                                           _OKX_CONFIG: (5, 2.0)})),
    "hyperliquid": DeclaredWeights(
        reads=(Read("POST /info clearinghouseState", 2, calls=2),
               Read("POST /info frontendOpenOrders", 20, orders=True)),
        limit=WeightLimit(1200, 60.0, "weight", PER_IP,
                          "https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/"
                          "rate-limits-and-user-limits"),
        open_orders_max_age_s=5.0),
    "bitget": DeclaredWeights(
        reads=(Read(_BITGET_ACCOUNTS, 1), Read(_BITGET_POSITIONS, 1), Read(_BITGET_ORDERS, 1),
               Read(_BITGET_PLANS, 1, calls=3)),
        limit=WeightLimit(None, 1.0, "requests", PER_UID,
                          "https://www.bitget.com/api-doc/contract/position/get-all-position", counts_requests=True,
                          endpoint_limits={_BITGET_ACCOUNTS: (10, 1.0), _BITGET_POSITIONS: (5, 1.0),
                                           _BITGET_ORDERS: (10, 1.0), _BITGET_PLANS: (10, 1.0)})),
}


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
