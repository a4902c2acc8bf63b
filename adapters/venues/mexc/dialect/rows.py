"""MEXC contract rows as the adapter reads them: orders, trigger orders, stop orders, cancel answers.

What it owns
    * :func:`order_row`: a row of ``GET /api/v1/private/order/list/open_orders/{symbol}`` (and of
      ``order/external/{symbol}/{external_oid}``, ``order/get/{order_id}``) as ccxt's unified
      order. ccxt 4.5.90's ``parse_order`` does not read the contract rows: it reads the side
      codes 1 and 2 as buy and sell (2 is a close of a short: a buy) and leaves 3 and 4 as they
      are, reads no type (the row's is ``orderType``) and no ``externalOid``. The row is read
      here from its own fields, each checked against the venue's documented values: ``side`` 1
      open long (buy), 2 close short (buy), 3 open short (sell), 4 close long (sell); a close
      (2, 4) only reduces; ``orderType`` 1 limit, 2 post only, 3 IOC, 4 FOK (limits), 5 market,
      6 market converted to the current price; ``state`` 1 uninformed, 2 uncompleted (open),
      3 completed (closed), 4 cancelled, 5 invalid; ``vol`` and ``dealVol`` in contracts;
    * :func:`plan_row`: a trigger order of ``GET /api/v1/private/planorder/list/orders`` (its
      ``id``, ``triggerPrice``, ``price`` where a limit, ``vol``, the same side codes);
    * :func:`stop_row`: a Stop-Limit order of ``GET /api/v1/private/stoporder/list/orders``: the
      take-profit and stop-loss of a position (``positionType`` 1 long, 2 short) or of an order,
      closing ``vol`` contracts of the position when ``stopLossPrice`` or ``takeProfitPrice`` is
      reached; one order read with both prices in its ``info``, its trigger the stop-loss price
      (the take-profit's where it has no stop-loss);
    * :func:`cancel_rows`: the per-order rows of ``POST /api/v1/private/order/cancel``
      (``data: [{orderId, errorCode, errorMsg}]``: ``errorCode`` 0 cancelled, any other refused
      with the venue's code and words).

    A value outside the documented ones, or a field missing, raises :class:`BadField` naming the
    venue's field: the caller names the venue and the endpoint (BAD_RESPONSE), never an order
    read with a guess.

What it must not do
    import ccxt, reach the venue, or keep state.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ....ccxt_exchange.parsing import BadField, num

# side code → (ccxt side, only reduces, the leg it is on in hedge mode)
SIDES: Mapping[str, tuple[str, bool, str]] = {
    "1": ("buy", False, "LONG"), "2": ("buy", True, "SHORT"), "3": ("sell", False, "SHORT"),
    "4": ("sell", True, "LONG"),
}
# orderType → ccxt type and time in force
ORDER_TYPES: Mapping[str, tuple[str, Optional[str]]] = {
    "1": ("limit", "GTC"), "2": ("limit", "PO"), "3": ("limit", "IOC"), "4": ("limit", "FOK"),
    "5": ("market", None), "6": ("market", None),
}
STATES: Mapping[str, str] = {"1": "open", "2": "open", "3": "closed", "4": "canceled", "5": "rejected"}
# a trigger order's state (planorder / stoporder): 1 untriggered, 2 cancelled, 3 executed,
# 4 invalid, 5 execution failed
TRIGGER_STATES: Mapping[str, str] = {"1": "open", "2": "canceled", "3": "closed", "4": "rejected", "5": "rejected"}
POSITION_MODES: Mapping[str, bool] = {"1": True, "2": False}  # 1 hedge, 2 one-way


def text(value: Any) -> Optional[str]:
    """A code as text (the venue writes them as numbers, ccxt's recordings as strings)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def coded(row: Mapping[str, Any], name: str, table: Mapping[str, Any], oid: Any = None) -> Any:
    """The value of ``row[name]`` in ``table``; BadField naming the field otherwise."""
    value = text(row.get(name))
    if value is None or value not in table:
        where = f" (order {oid})" if oid is not None else ""
        raise BadField(name, ("missing" if row.get(name) is None else f"unknown value {row.get(name)!r}") + where)
    return table[value]


def _id(row: Mapping[str, Any], name: str) -> str:
    oid = text(row.get(name))
    if not oid:
        raise BadField(name, "missing")
    return oid


def _row_number(row: Mapping[str, Any], name: str, oid: str, required: bool = True) -> Optional[float]:
    value = num(row.get(name))
    if value is None and required:
        raise BadField(name, ("missing" if row.get(name) is None else f"not a number: {row.get(name)!r}")
                       + f" (order {oid})")
    return value


def order_row(row: Any, symbol_of: Callable[[str], str]) -> dict:
    """A regular contract order's row as ccxt's unified order (see the module docstring)."""
    if not isinstance(row, Mapping):
        raise BadField("data", "an order row is not an object")
    oid = _id(row, "orderId")
    side, closes, _ = coded(row, "side", SIDES, oid)
    kind, tif = coded(row, "orderType", ORDER_TYPES, oid)
    status = coded(row, "state", STATES, oid)
    market_id = row.get("symbol")
    if not isinstance(market_id, str) or not market_id:
        raise BadField("symbol", f"missing (order {oid})")
    amount = _row_number(row, "vol", oid)
    filled = _row_number(row, "dealVol", oid, required=False) or 0.0
    avg = _row_number(row, "dealAvgPrice", oid, required=False)
    price = _row_number(row, "price", oid, required=kind == "limit")
    return {
        "id": oid, "clientOrderId": row.get("externalOid") or None, "symbol": symbol_of(market_id),
        "side": side, "type": kind, "timeInForce": tif, "status": status, "amount": amount, "filled": filled,
        "remaining": None if amount is None else max(amount - filled, 0.0), "price": price if price else None,
        "average": avg if avg else None, "triggerPrice": None,
        "reduceOnly": closes or row.get("reduceOnly") is True, "timestamp": num(row.get("createTime")),
        "info": row,
    }


def plan_row(row: Any, symbol_of: Callable[[str], str]) -> dict:
    """A trigger order's row (``planorder/list/orders``) as ccxt's unified order."""
    if not isinstance(row, Mapping):
        raise BadField("data", "a trigger order row is not an object")
    oid = _id(row, "id")
    side, closes, _ = coded(row, "side", SIDES, oid)
    kind, tif = coded(row, "orderType", {k: v for k, v in ORDER_TYPES.items() if k != "6"}, oid)
    status = coded(row, "state", TRIGGER_STATES, oid)
    market_id = row.get("symbol")
    if not isinstance(market_id, str) or not market_id:
        raise BadField("symbol", f"missing (order {oid})")
    trigger = _row_number(row, "triggerPrice", oid)
    price = _row_number(row, "price", oid, required=kind == "limit")
    return {
        "id": oid, "clientOrderId": row.get("externalOid") or None, "symbol": symbol_of(market_id),
        "side": side, "type": kind, "timeInForce": tif, "status": status, "amount": _row_number(row, "vol", oid),
        "filled": 0.0, "price": price if price else None, "triggerPrice": trigger, "reduceOnly": closes,
        "timestamp": num(row.get("createTime")), "info": row,
    }


def stop_row(row: Any, symbol_of: Callable[[str], str]) -> dict:
    """A Stop-Limit order's row (``stoporder/list/orders``) as ccxt's unified order: it closes
    ``vol`` of the position on its side (``positionType`` 1 long: a sell; 2 short: a buy)."""
    if not isinstance(row, Mapping):
        raise BadField("data", "a stop order row is not an object")
    oid = _id(row, "id")
    side = coded(row, "positionType", {"1": "sell", "2": "buy"}, oid)
    status = coded(row, "state", TRIGGER_STATES, oid)
    market_id = row.get("symbol")
    if not isinstance(market_id, str) or not market_id:
        raise BadField("symbol", f"missing (order {oid})")
    stop_loss = _row_number(row, "stopLossPrice", oid, required=False)
    take_profit = _row_number(row, "takeProfitPrice", oid, required=False)
    trigger = stop_loss or take_profit
    if not trigger:
        raise BadField("stopLossPrice", f"neither a stop-loss nor a take-profit price (order {oid})")
    return {
        "id": oid, "clientOrderId": None, "symbol": symbol_of(market_id), "side": side, "type": "market",
        "status": status, "amount": _row_number(row, "vol", oid), "filled": 0.0, "price": None,
        "triggerPrice": trigger, "stopLossPrice": stop_loss or None, "takeProfitPrice": take_profit or None,
        "reduceOnly": True, "timestamp": num(row.get("createTime")), "info": row,
    }


def cancel_rows(rows: Any) -> list[tuple[str, str, str]]:
    """(orderId, errorCode, errorMsg) of each row of ``order/cancel``'s ``data``; a row without
    its ``orderId`` or ``errorCode`` raises BadField naming it."""
    if not isinstance(rows, list):
        raise BadField("data", "missing" if rows is None else f"not a list: {type(rows).__name__}")
    out = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise BadField("data", "a row is not an object")
        oid = _id(row, "orderId")
        code = text(row.get("errorCode"))
        if code is None:
            raise BadField("errorCode", f"missing (order {oid})")
        out.append((oid, code, str(row.get("errorMsg") or "")))
    return out


__all__ = ["ORDER_TYPES", "POSITION_MODES", "SIDES", "STATES", "TRIGGER_STATES", "cancel_rows", "coded",
           "order_row", "plan_row", "stop_row", "text"]
