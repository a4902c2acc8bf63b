"""Binance: ``binance`` (spot, and USDⓈ-M futures through it), ``binanceusdm``, ``binancecoinm``.

What it owns
    the Binance forms the adapter needs: ``newClientOrderId`` / ``origClientOrderId`` (36
    characters), the hedge-mode leg as ``positionSide`` (without ``reduceOnly``), the leg read
    from ``positionSide``, the equity read from ``totalMarginBalance``, a close-position order
    read from ``closePosition``, the per-symbol
    ``countdownCancelAll`` (USDⓈ-M on ``fapi``, COIN-M on ``dapi``), the USDⓈ-M order endpoints
    that count against order limits rather than request weight, the USDⓈ-M reads' published
    weights, how often a snapshot lists every open order, the USDⓈ-M positions read from their
    raw rows (:func:`unified_position`), and Binance's reduce-only refusals (-2022, -4112, -4118).

What it must not do
    import ccxt or hold account state (see :mod:`.base`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Callable, Optional

from ..parsing import BadData, num
from .base import DEFAULT_ORDER_RATE, Call, Countdown, Dialect, Listed, Reads, read


@dataclass(frozen=True)
class SymbolCountdown:
    """``countdownCancelAll``: one countdown per symbol, in milliseconds; 0 turns it off."""

    method: str  # ccxt's implicit method of the fapi or dapi endpoint
    per_symbol = True
    disarm_refusal = None

    async def arm(self, call: Call, seconds: float, market_id: Optional[str]) -> float:
        await call(self.method, {"symbol": market_id, "countdownTime": int(round(seconds * 1000))})
        return float(seconds)

    async def disarm(self, call: Call, market_id: Optional[str]) -> None:
        await call(self.method, {"symbol": market_id, "countdownTime": 0})


@dataclass(frozen=True, kw_only=True)
class BinanceDialect(Dialect):
    client_id_param: str = "newClientOrderId"
    max_client_id_length: int = 36
    client_id_alphabet: str = r".A-Z:/a-z0-9_\-"  # ^[\.A-Z\:/a-z0-9_-]{1,36}$
    fetch_order_param: str = "origClientOrderId"
    # a snapshot lists every open order in one call; ccxt refuses that on Binance unless told
    # the (heavier) call without a symbol is meant
    client_options: Mapping[str, Any] = field(default_factory=lambda: {"warnOnFetchOpenOrdersWithoutSymbol": False})
    secret_headers: tuple[str, ...] = ("x-mbx-apikey",)
    reduce_only_rejections: tuple[str, ...] = (
        r'"code"\s*:\s*"?-2022\b',  # ReduceOnly Order is rejected.
        r"reduce\s*-?\s*only order is rejected",
        r"reduceonly order failed",  # -4112
        r"reduce_only_margin_check_failed",  # -4118
    )
    countdown_method: str = "fapiPrivatePostCountdownCancelAll"
    countdown_futures_only: bool = True  # the spot/futures ``binance`` id has the countdown on futures only

    # ccxt's implicit method of the positions endpoint whose raw rows this dialect reads itself
    # (None: ccxt's fetch_positions)
    positions_method: Optional[str] = None

    # the endpoint that lists the conditional (algo) orders of the account, None where the
    # regular list has them (spot keeps its stops there)
    algo_orders_endpoint: Optional[str] = "GET /fapi/v1/openAlgoOrders"

    async def fetch_positions(self, reads: Reads) -> Any:
        if self.positions_method is None or not reads.has_method(self.positions_method):
            return await super().fetch_positions(reads)
        rows = await reads.call(self.positions_method, {})
        if not isinstance(rows, list):
            raise BadData("the positions answer is not a list")
        return [p for p in (unified_position(r, reads.symbol_of) for r in rows) if p is not None]

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        """The regular list (``openOrders``) and, on futures, the algo service's
        (``openAlgoOrders``: since Binance moved stop, take-profit and trailing orders there, the
        regular list no longer has them), each in one call (neither is paged)."""
        regular = await super().fetch_open_orders(reads, symbol)
        if self.algo_orders_endpoint is None or reads.market_type != "futures":
            return regular
        algo = await read(reads, self.id, self.algo_orders_endpoint, "fetch_open_orders", symbol, None, None,
                          {"trigger": True})
        if not isinstance(algo, list):
            raise BadData(f"{self.algo_orders_endpoint}: the answer is not a list")
        return regular + [(_algo_kind(o), o) for o in algo]

    def cancel_params(self, kind: str) -> Mapping[str, Any]:
        # an algo order is cancelled by the algo service (DELETE /fapi/v1/algoOrder, algoOpenOrders)
        return {"trigger": True} if kind != "regular" and self.algo_orders_endpoint else {}

    def leg_params(self, leg: str) -> tuple[dict, bool]:
        # Binance refuses reduceOnly in hedge mode (-1106): a SELL on LONG can only close, and no
        # more than the leg holds
        return {"positionSide": leg}, False

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]:
        ps = info.get("positionSide")
        if isinstance(ps, str) and ps.upper() in ("LONG", "SHORT", "BOTH"):
            return ps.upper()
        return None

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]:
        return [info.get("totalMarginBalance")]

    def closes_position(self, info: Mapping[str, Any]) -> bool:
        value = info.get("closePosition")
        return value is True or str(value).lower() == "true"

    def countdown(self, client: Any, market_type: str, *, keeps_private_websocket: bool) -> Optional[Countdown]:
        if self.countdown_futures_only and market_type != "futures":
            return None
        if not hasattr(client, self.countdown_method):
            return None
        return SymbolCountdown(self.countdown_method)


def _algo_kind(order: Any) -> str:
    """An algo order's kind: a trailing stop, or a conditional (stop, take-profit) order."""
    # ccxt unifies an algo order's type to limit or market: the venue's own orderType says trailing
    info = order.get("info") if isinstance(order, Mapping) else None
    kind = info.get("orderType") if isinstance(info, Mapping) else None
    return "trailing" if "trailing" in str(kind or "").lower() else "conditional"


def unified_position(row: Any, symbol_of: Callable[[str], str]) -> Optional[dict]:
    """One row of ``positionRisk`` (USDⓈ-M v2 / v3) as the fields of ccxt's position structure
    that :func:`..parsing.parse_position` reads, the way ccxt's ``parse_position_risk`` derives
    them: the side from the notional's sign, zero mark and liquidation prices as absent, the
    initial margin as the notional over the leverage where the row has one (v2), else the row's
    own (v3); ``hedged`` unless the leg is BOTH. A row without a positive entry price is no open
    position (ccxt's ``fetch_positions`` leaves it out: None).

    ccxt's parsing computes a dozen more fields per row in decimal strings (collateral, margin
    ratio, maintenance margin from the leverage brackets) that nothing here reads: at 1,000
    positions it took ~75 ms of a snapshot's ~100."""
    if not isinstance(row, Mapping):
        raise BadData("a position is not an object")
    entry = num(row.get("entryPrice"))
    if entry is None or entry <= 0:
        return None
    market_id = row.get("symbol")
    if not isinstance(market_id, str) or not market_id:
        raise BadData("a position has no symbol")
    notional = num(row.get("notional"))
    amount = num(row.get("positionAmt"))
    sign = notional if notional else amount
    leverage = num(row.get("leverage")) or None
    if leverage is not None and notional is not None:
        initial_margin: Optional[float] = round(abs(notional) / leverage, 8)
    else:
        initial_margin = num(row.get("initialMargin"))
    return {
        "info": row, "symbol": symbol_of(market_id),
        "contracts": abs(amount) if amount is not None else None,
        "side": "long" if sign and sign > 0 else "short" if sign and sign < 0 else None,
        "notional": abs(notional) if notional is not None else None,
        "markPrice": num(row.get("markPrice")) or None, "entryPrice": entry,
        "unrealizedPnl": num(row.get("unRealizedProfit")),
        "liquidationPrice": num(row.get("liquidationPrice")) or None,
        "initialMargin": initial_margin, "leverage": leverage,
        "hedged": row.get("positionSide") != "BOTH",
    }


BINANCE = BinanceDialect(id="binance", order_rate=10.0)  # (its futures answer as binanceusdm's)
BINANCE_USDM = BinanceDialect(
    id="binanceusdm", order_rate=20.0,
    # POST/DELETE /fapi/v1/order weigh 0 on the IP weight limit and 1 on the 10 s and 1 min order
    # counts, which the order budget keeps below. ccxt charges a new order 4 weight units: at its
    # 50 ms a unit that paces closes at ~5/s, far below what the venue allows when a book must be
    # flattened.
    order_count_endpoints=frozenset({("fapiPrivate", "POST", "order"), ("fapiPrivate", "DELETE", "order")}),
    # The account, the balance and the positions weigh 5 each on the venue's 2,400 a minute (an
    # IP's); ccxt's table charges the v2 and v3 endpoints 1.
    read_weights={(api, "GET", path): 5 for api in ("fapiPrivateV2", "fapiPrivateV3")
                  for path in ("account", "balance", "positionRisk")},
    # Every open order in one call (no symbol) weighs 40, and so does every open algo (conditional)
    # order: 80 to list both. ccxt's limiter allows half the venue's limit, 20 a second; a
    # snapshot's account and positions take 10. Listed at every snapshot, a 1 s interval would need
    # 90 a second and ticks would wait on the limiter; listed when 9 s old (every tenth tick at
    # 1 s), a 1 s tick spends 10 + 80 / 9 ≈ 19. From a 5 s interval on (2 + 80 / 5 = 18) every
    # snapshot lists them. (One call per symbol weighs 1: 1,000 symbols would weigh 2,000.)
    open_orders_max_age_s=9.0,
    positions_method="fapiPrivateV3GetPositionRisk",
    book_limits=(5, 10, 20, 50, 100, 500, 1000),  # GET /fapi/v1/depth refuses any other limit (-1130)
)
BINANCE_COINM = BinanceDialect(
    id="binancecoinm", order_rate=DEFAULT_ORDER_RATE,
    countdown_method="dapiPrivatePostCountdownCancelAll", countdown_futures_only=False,
    algo_orders_endpoint="GET /dapi/v1/openAlgoOrders",
)

DIALECTS = (BINANCE, BINANCE_USDM, BINANCE_COINM)
