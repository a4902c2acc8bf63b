"""Binance's own rows, read without ccxt: the order types each list documents, the positions.

What it owns
    the order types ``openOrders`` and ``openAlgoOrders`` document (:data:`FUTURES_ORDER_TYPES`,
    :data:`SPOT_ORDER_TYPES`, the algo service's :data:`ALGO_ORDER_KINDS`, which the user-data
    stream's ``ALGO_UPDATE`` reads too), the venue's own row of ccxt's order read through
    :func:`adapters.ccxt_exchange.parsing.order_info`, and a USDⓈ-M ``positionRisk`` row as the
    fields of ccxt's position structure (:func:`unified_position`), read by the dialect
    (:mod:`..dialect`) itself rather than by ccxt's parser.

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional

from ....ccxt_exchange.parsing import BadData, BadField, num

# The order types each list documents (``type`` of openOrders, ``orderType`` of openAlgoOrders),
# as ccxt's parse_order_type_by_market reads them; any other value fails the snapshot
# (BAD_RESPONSE), never an order read as a kind it may not be.
FUTURES_ORDER_TYPES = frozenset({"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                                 "TRAILING_STOP_MARKET"})
SPOT_ORDER_TYPES = frozenset({"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT",
                              "LIMIT_MAKER"})
# the algo service's conditional orders (algoType CONDITIONAL): a trailing stop, else a stop or
# take-profit
ALGO_ORDER_KINDS: Mapping[str, str] = {"STOP": "conditional", "STOP_MARKET": "conditional",
                                       "TAKE_PROFIT": "conditional", "TAKE_PROFIT_MARKET": "conditional",
                                       "TRAILING_STOP_MARKET": "trailing"}


def unified_position(row: Any, symbol_of: Callable[[str], str]) -> Optional[dict]:
    """One row of ``positionRisk`` (USDⓈ-M v2 / v3) as the fields of ccxt's position structure
    that :func:`adapters.ccxt_exchange.parsing.parse_position` reads, the way ccxt's ``parse_position_risk`` derives
    them: the side from the notional's sign, zero mark and liquidation prices as absent, the
    initial margin as the notional over the leverage where the row has one (v2), else the row's
    own (v3); ``hedged`` unless the leg is BOTH. A row of a zero ``positionAmt`` is no open
    position (None); a row without a ``positionAmt`` raises :class:`BadField`: a size the venue
    did not give is not a flat position. (ccxt's ``fetch_positions`` leaves out a row without a
    positive entry price; a row with a size is a position here whatever its entry price says.)

    ccxt's parsing computes a dozen more fields per row in decimal strings (collateral, margin
    ratio, maintenance margin from the leverage brackets) that nothing here reads: at 1,000
    positions it took ~75 ms of a snapshot's ~100."""
    if not isinstance(row, Mapping):
        raise BadData("a position is not an object")
    amount = num(row.get("positionAmt"))
    if amount is None:
        raise BadField("positionAmt", "missing" if row.get("positionAmt") is None
                       else f"not a number: {row['positionAmt']!r}")
    if amount == 0:
        return None
    market_id = row.get("symbol")
    if not isinstance(market_id, str) or not market_id:
        raise BadField("symbol", "missing")
    entry = num(row.get("entryPrice"))
    notional = num(row.get("notional"))
    sign = notional if notional else amount
    leverage = num(row.get("leverage")) or None
    if leverage is not None and notional is not None:
        initial_margin: Optional[float] = round(abs(notional) / leverage, 8)
    else:
        initial_margin = num(row.get("initialMargin"))
    return {
        "info": row, "symbol": symbol_of(market_id),
        "contracts": abs(amount),
        "side": "long" if sign and sign > 0 else "short" if sign and sign < 0 else None,
        "notional": abs(notional) if notional is not None else None,
        "markPrice": num(row.get("markPrice")) or None, "entryPrice": entry if entry and entry > 0 else None,
        "unrealizedPnl": num(row.get("unRealizedProfit")),
        "liquidationPrice": num(row.get("liquidationPrice")) or None,
        "initialMargin": initial_margin, "leverage": leverage,
        "hedged": row.get("positionSide") != "BOTH",
    }
