"""Binance: ``binance`` (spot, and USDⓈ-M futures through it), ``binanceusdm``, ``binancecoinm``.

What it owns
    the Binance forms the adapter needs: ``newClientOrderId`` / ``origClientOrderId`` (36
    characters), the hedge-mode leg as ``positionSide`` (without ``reduceOnly``), the leg read
    from ``positionSide``, the equity read from ``totalMarginBalance``, a close-position order
    read from ``closePosition``, the per-symbol
    ``countdownCancelAll`` (USDⓈ-M on ``fapi``, COIN-M on ``dapi``), the USDⓈ-M order endpoints
    that count against order limits rather than request weight, the USDⓈ-M reads' published
    weights, how often a snapshot lists every open order, the USDⓈ-M positions read from their
    raw rows (:func:`unified_position`), Binance's reduce-only refusals (-2022, -4112, -4118),
    its refusal table (:data:`REFUSALS`), the account's position mode
    (``GET /fapi/v1/positionSide/dual``, ``dualSidePosition``), and the USDⓈ-M user-data stream's
    events, read by :mod:`.stream`: the account's and the regular orders' updates, the
    algo service's conditional orders (``ALGO_UPDATE``) and the marks. The rows it reads without
    ccxt (the positions, the order types each list documents) are :mod:`.rows`'.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Optional

from killswitch.weights import PER_IP, Read, SnapshotCost, WeightLimit

from ....base import MODE, PERMANENT, TRANSIENT
from ....ccxt_exchange.dialects.base import (
    DEFAULT_ORDER_RATE,
    Dialect,
    Listed,
    ModeRead,
    Reads,
    RefusalReader,
    bad_field,
    read_each,
)
from ....ccxt_exchange.dialects.cancel_hooks import Call
from ....ccxt_exchange.dialects.frames import latest_ms
from ....ccxt_exchange.dialects.limits import Limits
from ....ccxt_exchange.dialects.refusals import Rule
from ....ccxt_exchange.dialects.stream_hooks import ModuleStream
from ....ccxt_exchange.parsing import BadData, BadField, num, order_info
from ..switches import BinancePermissions
from . import stream as dialect_stream
from .rows import ALGO_ORDER_KINDS, FUTURES_ORDER_TYPES, SPOT_ORDER_TYPES, unified_position

# Binance's refusals of an order (USDⓈ-M and COIN-M futures, spot where the code is shared), from
# its error code list (https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code):
# the body is {"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}
REFUSALS: tuple[Rule, ...] = (
    # reduceOnly sent in hedge mode (a close built for one-way): the mode decides the order's form
    Rule("-1106", "POSITION_MODE_MISMATCH", MODE, r"reduce_?only|positionside"),
    Rule("-1106", "INVALID_ORDER", PERMANENT),  # another parameter sent when not required
    Rule("-4061", "POSITION_MODE_MISMATCH", MODE),  # Order's position side does not match user's setting.
    Rule("-2022", "REDUCE_ONLY_REJECTED", PERMANENT),  # ReduceOnly Order is rejected.
    Rule("-4112", "REDUCE_ONLY_REJECTED", PERMANENT),  # ReduceOnly Order Failed (existing position, open orders)
    Rule("-4118", "REDUCE_ONLY_REJECTED", PERMANENT),  # REDUCE_ONLY_MARGIN_CHECK_FAILED
    Rule("-2019", "INSUFFICIENT_MARGIN", TRANSIENT),  # Margin is insufficient.
    Rule("-2010", "INSUFFICIENT_MARGIN", TRANSIENT),  # NEW_ORDER_REJECTED (balance)
    Rule("-4164", "INVALID_ORDER", PERMANENT),  # Order's notional must be no smaller than %s
    Rule("-1013", "INVALID_ORDER", PERMANENT),  # filter failure (LOT_SIZE, MIN_NOTIONAL)
    Rule("-1111", "INVALID_ORDER", PERMANENT),  # Precision is over the maximum defined for this asset.
    Rule("-1102", "INVALID_ORDER", PERMANENT),  # Mandatory parameter was not sent, was empty/null, or malformed.
    Rule("-4003", "INVALID_ORDER", PERMANENT),  # Quantity less than or equal to zero.
    Rule("-4005", "INVALID_ORDER", PERMANENT),  # Quantity greater than max quantity.
    Rule("-4116", "INVALID_ORDER", PERMANENT),  # ClientOrderId is duplicated.
    Rule("-1121", "UNKNOWN_SYMBOL", PERMANENT),  # Invalid symbol.
    Rule("-4131", "INVALID_ORDER", TRANSIENT),  # best price outside the PERCENT_PRICE filter
    Rule("-1003", "RATE_LIMITED", TRANSIENT),  # Too many requests
    Rule("-1015", "RATE_LIMITED", TRANSIENT),  # Too many new orders
    Rule("-1008", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Server is currently overloaded / request throttled
    Rule("-1001", "EXCHANGE_UNAVAILABLE", TRANSIENT),  # Internal error; unable to process your request.
)


def binance_refusal(body: Any) -> Optional[tuple[str, str]]:
    """``{"code": -2022, "msg": "..."}``: the code and message of a refusal (a success has no code)."""
    if isinstance(body, Mapping) and num(body.get("code")) is not None and num(body.get("code")) != 200 \
            and "msg" in body:
        code = num(body.get("code"))
        return str(int(code)) if code is not None and code == int(code) else str(body.get("code")), \
            str(body.get("msg") or "")
    return None


@dataclass(frozen=True)
class SymbolCountdown:
    """``countdownCancelAll``: one countdown per symbol, in milliseconds; 0 turns it off."""

    method: str  # ccxt's implicit method of the fapi or dapi endpoint
    per_symbol = True
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        ms = int(round(seconds * 1000))
        echoed(await call(self.method, {"symbol": market_id, "countdownTime": ms}), ms)
        return float(seconds)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        echoed(await call(self.method, {"symbol": market_id, "countdownTime": 0}), 0)


COUNTDOWN = "POST /fapi/v1/countdownCancelAll"


def echoed(answer: Any, ms: int) -> None:
    """The countdown's answer names the countdown it set (``{"symbol": …, "countdownTime":
    "100000"}``): another, or none, is BAD_RESPONSE, never taken as armed (or disarmed)."""
    said = num(answer.get("countdownTime")) if isinstance(answer, Mapping) else None
    if said is None or int(said) != ms:
        raise bad_field("binance", COUNTDOWN, "countdownTime",
                        f"{'missing' if said is None else int(said)} where {ms} was sent")


@dataclass(frozen=True, kw_only=True)
class BinanceDialect(ModuleStream, Dialect):
    client_id_param: str = "newClientOrderId"
    max_client_id_length: int = 36
    client_id_alphabet: str = r".A-Z:/a-z0-9_\-"  # ^[\.A-Z\:/a-z0-9_-]{1,36}$
    fetch_order_param: str = "origClientOrderId"
    # a snapshot lists every open order in one call; ccxt refuses that on Binance unless told
    # the (heavier) call without a symbol is meant
    client_options: Mapping[str, Any] = field(default_factory=lambda: {"warnOnFetchOpenOrdersWithoutSymbol": False})
    # a symbol's openOrders (and openAlgoOrders) weighs 1, every symbol's 40: a cancel's list of a
    # few symbols reads each apart
    symbol_lists_below: int = 40
    secret_headers: tuple[str, ...] = ("x-mbx-apikey",)
    reduce_only_rejections: tuple[str, ...] = (
        r'"code"\s*:\s*"?-2022\b',  # ReduceOnly Order is rejected.
        r"reduce\s*-?\s*only order is rejected",
        r"reduceonly order failed",  # -4112
        r"reduce_only_margin_check_failed",  # -4118
    )
    countdown_method: Optional[str] = "fapiPrivatePostCountdownCancelAll"
    refusal_rules: tuple[Rule, ...] = REFUSALS
    # the account's position mode: ccxt's implicit method and the endpoint a message names
    mode_method: str = "fapiPrivateGetPositionSideDual"
    mode_endpoint: str = "GET /fapi/v1/positionSide/dual"
    # The mode's read (30 on USDⓈ-M) is made at start and after a refusal for the mode, not at a
    # rate (so not in snapshot_reads): every snapshot's positions say it for nothing (their
    # positionSide, BOTH or LONG / SHORT), and a flat account has nothing to close.
    mode_every_s: float = math.inf
    countdown_futures_only: bool = True  # the spot/futures ``binance`` id has the countdown on futures only
    # a spot account's snapshot and the spot API's limit (its own, apart from the futures API's)
    spot_snapshot_reads: tuple[Read, ...] = ()
    spot_weight_limit: Optional[WeightLimit] = None

    def snapshot_cost(self, market_type: str, settle_coins: tuple[str, ...] = ()) -> Optional[SnapshotCost]:
        if market_type == "spot":
            if not self.spot_snapshot_reads:
                return None
            return SnapshotCost(self.spot_snapshot_reads, self.open_orders_max_age_s)
        return super().snapshot_cost(market_type, settle_coins)

    def weight_limit_for(self, market_type: str) -> Optional[WeightLimit]:
        return self.spot_weight_limit if market_type == "spot" else self.weight_limit

    stream_module: ClassVar[ModuleType] = dialect_stream  # its frames read there (ModuleStream)

    def stream_time(self, message: Any) -> Optional[int]:
        """``E`` of the event, of an array's first row (one push: its rows share it)."""
        row = message[0] if isinstance(message, list) and message else message
        return latest_ms([row.get("E")]) if isinstance(row, Mapping) else None

    # ccxt's implicit method of the positions endpoint whose raw rows this dialect reads itself
    # (None: ccxt's fetch_positions)
    positions_method: Optional[str] = None

    # the endpoint that lists the conditional (algo) orders of the account, None where the
    # regular list has them (spot keeps its stops there)
    algo_orders_endpoint: Optional[str] = "GET /fapi/v1/openAlgoOrders"

    async def fetch_positions(self, reads: Reads) -> Any:
        if self.positions_method is None or not reads.has_method(self.positions_method):
            return await super().fetch_positions(reads)
        endpoint = self.futures_positions_endpoint
        rows = await reads.call(self.positions_method, {})
        if not isinstance(rows, list):
            raise BadData(f"{endpoint}: the answer is not a list")

        def read_row(row: Any) -> Any:
            try:
                return unified_position(row, reads.symbol_of)
            except BadField as e:
                raise self.bad_field(endpoint, e.field, e.problem) from None

        return await read_each(rows, read_row)  # (10,000 rows hold the loop a third of a second)

    # the venue's regular open-order list of futures and of spot, as messages name it
    orders_endpoint: str = "GET /fapi/v1/openOrders"
    spot_orders_endpoint: str = "GET /api/v3/openOrders"
    # the positions list: positions_method's, else what ccxt's fetch_positions reads
    # (positionRisk, its default method)
    futures_positions_endpoint: str = "GET /fapi/v3/positionRisk"
    raw_field_names: Mapping[tuple[str, str], str] = field(default_factory=lambda: {
        ("order", "id"): "orderId|algoId", ("order", "type"): "type|orderType",
        ("order", "amount"): "origQty|quantity", ("order", "triggerPrice"): "stopPrice|triggerPrice",
        ("position", "contracts"): "positionAmt", ("position", "side"): "positionAmt"})
    position_fields: Mapping[str, str] = field(default_factory=lambda: {"maintenance_margin": "maintMargin"})

    def open_orders_endpoint(self, market_type: str) -> str:
        return self.orders_endpoint if market_type == "futures" else self.spot_orders_endpoint

    def positions_endpoint(self, market_type: str) -> str:
        return self.futures_positions_endpoint

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        """The regular list (``openOrders``) and, on futures, the algo service's
        (``openAlgoOrders``: since Binance moved stop, take-profit and trailing orders there, the
        regular list no longer has them), each in one call (neither is paged). A row whose type
        is not one its list documents fails the snapshot (BAD_RESPONSE naming it)."""
        regular = await super().fetch_open_orders(reads, symbol)
        known = FUTURES_ORDER_TYPES if reads.market_type == "futures" else SPOT_ORDER_TYPES
        for row in regular:
            self.documented(row.endpoint, "type", order_info(row.order).get("type"), known)
        if self.algo_orders_endpoint is None or reads.market_type != "futures":
            return regular
        algo = await self.read(reads, self.algo_orders_endpoint, "fetch_open_orders", symbol, None, None,
                          {"trigger": True})
        if not isinstance(algo, list):
            raise BadData(f"{self.algo_orders_endpoint}: the answer is not a list")
        return regular + [Listed(self._algo_kind(o), o, self.algo_orders_endpoint) for o in algo]

    def _algo_kind(self, order: Any) -> str:
        """An algo order's kind from the venue's own ``orderType`` (ccxt unifies it to limit or
        market): a trailing stop, or a conditional (stop, take-profit) order."""
        return self.documented(str(self.algo_orders_endpoint), "orderType", order_info(order).get("orderType"),
                               ALGO_ORDER_KINDS)

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        # an algo order is cancelled by the algo service (DELETE /fapi/v1/algoOrder, algoOpenOrders)
        return {"trigger": True} if kind != "regular" and self.algo_orders_endpoint else {}

    refusal_of: RefusalReader = binance_refusal

    async def read_position_mode(self, reads: Reads) -> ModeRead:
        """``GET /fapi/v1/positionSide/dual`` (``/dapi`` on COIN-M): ``{"dualSidePosition": true}``
        is hedge mode, false one-way; anything else is BAD_RESPONSE naming the field."""
        if reads.market_type != "futures" or not reads.has_method(self.mode_method):
            return await super().read_position_mode(reads)
        answer = await self.read(reads, self.mode_endpoint, self.mode_method, {})
        value = answer.get("dualSidePosition") if isinstance(answer, Mapping) else None
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise self.unknown_value(self.mode_endpoint, "dualSidePosition", value)
        return ModeRead(value, self.mode_endpoint)

    def mode_from_positions(self, raw_positions: Any) -> Optional[ModeRead]:
        """The positions' own ``positionSide``: BOTH in one-way mode, LONG / SHORT in hedge mode
        (one mode for the whole account); None without a position (the last read holds)."""
        seen = {str(order_info(p).get("positionSide")).upper() for p in raw_positions or () if isinstance(p, Mapping)}
        legs = {s != "BOTH" for s in seen if s in ("BOTH", "LONG", "SHORT")}
        if len(legs) != 1:
            return None
        return ModeRead(legs.pop(), f"{self.futures_positions_endpoint} positionSide")

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        # Binance refuses reduceOnly in hedge mode (-1106): a SELL on LONG can only close, and no
        # more than the leg holds
        return {"positionSide": leg}, False

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        ps = info.get("positionSide")
        if ps is None and "ps" in info and "S" in info and "X" in info:
            # a user-data stream's order (ORDER_TRADE_UPDATE's or ALGO_UPDATE's ``o``), which ccxt's
            # parse_ws_order leaves in its info: a hedge-mode close seen first on the stream is one
            ps = info.get("ps")
        if isinstance(ps, str) and ps.upper() in ("LONG", "SHORT", "BOTH"):
            return ps.upper()
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [info.get("totalMarginBalance")]

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        # REST's closePosition; a user-data stream order's cp (close position) and R (reduce only),
        # which ccxt's parse_ws_order leaves out (its reduceOnly is None): a reduce-only take-profit
        # seen first on the stream is one, not an entry a lock's watch would cancel
        return any(v is True or str(v).lower() == "true" for v in (info.get("closePosition"), info.get("cp"),
                                                                   info.get("R")))

    def venue_countdown(self, client: Any, market_type: str, method: str) -> SymbolCountdown:
        return SymbolCountdown(method)

    def permission_switches(self) -> Mapping[str, Any]:
        return {"permissions": BinancePermissions()}


# Binance's limits, by ccxt id. binance: 10 orders a second (its futures answer as binanceusdm's).
# binanceusdm: 20; POST/DELETE /fapi/v1/order weigh 0 on the IP weight limit and 1 on the 10 s
# and 1 min order counts (1,200 a minute and 300 per 10 s per account), which the order budget
# keeps below. ccxt charges a new order 4 weight units: at its 50 ms a unit that paces closes at
# ~5/s, far below what the venue allows when a book must be flattened. The account, the balance
# and the positions weigh 5 each on the venue's 2,400 a minute (an IP's); ccxt's table charges
# the v2 and v3 endpoints 1. binancecoinm: the default rate.
LIMITS = {
    "binance": Limits(orders=10.0),
    "binanceusdm": Limits(
        orders=20.0, counted_as_orders=frozenset({("fapiPrivate", m, "order") for m in ("POST", "DELETE")}),
        read_weights={(api, "GET", path): 5 for api in ("fapiPrivateV2", "fapiPrivateV3")
                      for path in ("account", "balance", "positionRisk")}),
    "binancecoinm": Limits(orders=DEFAULT_ORDER_RATE),
}

BINANCE = BinanceDialect(
    id="binance", limits=LIMITS["binance"],
    # A spot snapshot: the balances (GET /api/v3/account, 20), the prices of the assets held
    # (ccxt's fetch_tickers: GET /api/v3/ticker/24hr with their symbols, 2 for up to 20, 40 up
    # to 100, 80 beyond — counted at 80, since the holdings are not known before the run), and
    # every open order without a symbol (GET /api/v3/openOrders, 80) when listed:
    # https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
    spot_snapshot_reads=(Read("GET /api/v3/account", 20), Read("GET /api/v3/ticker/24hr", 80),
                         Read("GET /api/v3/openOrders", 80, orders=True)),
    # 6,000 REQUEST_WEIGHT a minute per IP on the spot API (exchangeInfo's rateLimits), counted
    # in X-MBX-USED-WEIGHT-1M
    spot_weight_limit=WeightLimit(6000, 60.0, "REQUEST_WEIGHT", PER_IP,
                                  "https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits",
                                  used_header="X-MBX-USED-WEIGHT-1M"),
)
BINANCE_USDM = BinanceDialect(
    id="binanceusdm", limits=LIMITS["binanceusdm"],
    # Every open order in one call (no symbol) weighs 40, and so does every open algo (conditional)
    # order: 80 to list both. ccxt's limiter allows half the venue's limit, 20 a second; a
    # snapshot's account and positions take 10. Listed at every snapshot, a 1 s interval would need
    # 90 a second and ticks would wait on the limiter; listed when 9 s old (every tenth tick at
    # 1 s), a 1 s tick spends 10 + 80 / 9 ≈ 19. From a 5 s interval on (2 + 80 / 5 = 18) every
    # snapshot lists them. (One call per symbol weighs 1: 1,000 symbols would weigh 2,000.)
    open_orders_max_age_s=9.0,
    positions_method="fapiPrivateV3GetPositionRisk",
    book_limits=(5, 10, 20, 50, 100, 500, 1000),  # GET /fapi/v1/depth refuses any other limit (-1130)
    # A snapshot: the balance (fetch_balance reads GET /fapi/v3/account) and the positions, 5
    # each; every open order and every open algo order without a symbol, 40 each, when listed.
    snapshot_reads=(Read("GET /fapi/v3/account", 5), Read("GET /fapi/v3/positionRisk", 5),
                    Read("GET /fapi/v1/openOrders", 40, orders=True),
                    Read("GET /fapi/v1/openAlgoOrders", 40, orders=True)),
    # 2,400 REQUEST_WEIGHT a minute per IP (the default tier; exchangeInfo's rateLimits says the
    # account's), every response carrying the IP's count in X-MBX-USED-WEIGHT-1M:
    # https://www.binance.com/en/support/faq/rate-limits-on-binance-futures-281596e222414cdd9051664ea621cdc3
    # (orders count apart, kept by the order budget: LIMITS)
    weight_limit=WeightLimit(2400, 60.0, "REQUEST_WEIGHT", PER_IP,
                             "https://www.binance.com/en/support/faq/rate-limits-on-binance-futures-"
                             "281596e222414cdd9051664ea621cdc3", used_header="X-MBX-USED-WEIGHT-1M"),
    # the user-data stream: POST /fapi/v1/listenKey (1) at each connect, PUT (1) to keep it
    # alive, which ccxt's streaming client sends every 20 minutes (its listenKeyRefreshRate;
    # the key lives 60)
    streams=True, stream_open_weight=1.0, stream_keepalive_weight=1.0, stream_keepalive_every_s=1200.0,
)
BINANCE_COINM = BinanceDialect(
    id="binancecoinm", limits=LIMITS["binancecoinm"],
    countdown_method="dapiPrivatePostCountdownCancelAll", countdown_futures_only=False,
    algo_orders_endpoint="GET /dapi/v1/openAlgoOrders",
    orders_endpoint="GET /dapi/v1/openOrders", futures_positions_endpoint="GET /dapi/v1/positionRisk",
    mode_method="dapiPrivateGetPositionSideDual", mode_endpoint="GET /dapi/v1/positionSide/dual",
)

DIALECTS = (BINANCE, BINANCE_USDM, BINANCE_COINM)
