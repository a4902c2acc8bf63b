"""What one Hyperliquid position row says, as ``clearinghouseState`` lists it over REST.

What it owns
    :func:`unified_position`: one row of ``assetPositions`` (``{"type": "oneWay", "position":
    {coin, szi, entryPx, positionValue, unrealizedPnl, marginUsed, liquidationPx, leverage:
    {type, value}}}``) as the fields of ccxt's position structure that
    :func:`adapters.ccxt_exchange.parsing.parse_position` reads, derived the way ccxt's
    ``parse_position`` derives them: the side from the size's sign, the mark as
    ``positionValue / |szi|``, the initial margin ``marginUsed`` (less the unrealized PnL where
    the position is isolated). A field the row lacks is None, as ccxt leaves it, and the checks
    after it (:meth:`adapters.ccxt_exchange.dialects.base.Dialect.checked_position`) name it.

    ccxt's parse computes each field in decimal strings, and more fields than are read: 1,000
    rows held the reader's loop 75-150 ms a snapshot, a stream's frames and a rogue order's
    look-up waiting behind it. These are read in a tenth of that, the loop given turns between.

What it must not do
    import ccxt or hold account state.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Optional

from ....ccxt_exchange.parsing import num
from .stream import symbol_of_coin


def _exact(value: Any) -> Optional[Decimal]:
    try:
        return Decimal(str(value)) if isinstance(value, (str, int, float)) else None
    except InvalidOperation:
        return None


def _float(value: Optional[Decimal]) -> Optional[float]:
    return None if value is None else float(value)


def unified_position(row: Any) -> Optional[dict]:
    """One ``assetPositions`` row as ccxt's position structure (see the module docstring)."""
    got = row.get("position") if isinstance(row, Mapping) else None
    entry: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
    coin = entry.get("coin")
    lev = entry.get("leverage")
    leverage: Mapping[str, Any] = lev if isinstance(lev, Mapping) else {}
    mode = leverage.get("type")
    isolated = mode == "isolated"
    size, value, pnl = _exact(entry.get("szi")), _exact(entry.get("positionValue")), _exact(entry.get("unrealizedPnl"))
    used = _exact(entry.get("marginUsed"))
    initial = used - pnl if isolated and used is not None and pnl is not None else (None if isolated else used)
    mark = value / abs(size) if value is not None and size else None
    return {
        "info": row, "symbol": symbol_of_coin(coin) if isinstance(coin, str) and coin else None,
        "isolated": isolated, "hedged": None, "contractSize": None,
        "side": None if size is None else "long" if size > 0 else "short",
        "contracts": _float(None if size is None else abs(size)), "entryPrice": num(entry.get("entryPx")),
        "markPrice": _float(mark), "notional": _float(value), "leverage": num(leverage.get("value")),
        "collateral": _float(used), "initialMargin": _float(initial), "unrealizedPnl": _float(pnl),
        "liquidationPrice": num(entry.get("liquidationPx")), "marginMode": mode,
    }


__all__ = ["unified_position"]
