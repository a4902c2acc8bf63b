"""The simulated Hyperliquid's payload shapes: one account's clearinghouse state and its order rows.

What it owns
    the venue's rows as both Hyperliquid faces render them: the REST face's ``/info`` answers
    (:mod:`..face`: ``clearinghouseState``, ``frontendOpenOrders``, ``orderStatus``) and
    the websocket face's pushes (:mod:`.stream`: the ``clearinghouseState``
    channel carries the same state as the read). Numbers are written as the venue writes them
    (:func:`dec`: decimal strings, trailing zeros dropped but one).

What it must not do
    read the engine's charged methods (its callers hand it the views they read, charged or
    not), or keep state.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional

from ....simulated.rules import SimOrder
from ....simulated.views import money

TIF = {"Gtc": "GTC", "Ioc": "IOC", "Alo": "GTX"}
TIF_BACK = {v: k for k, v in TIF.items()}
CLOID_RE = re.compile(r"^0x[0-9a-fA-F]{32}$")


def dec(x: float, d: int) -> str:
    """A number as the venue writes it: at most ``d`` decimals, trailing zeros dropped but one."""
    s = "%.*f" % (d, x)
    s = s.rstrip("0") if "." in s else s + "."
    s = s + "0" if s.endswith(".") else s
    return "0.0" if s in ("-0.0", "-0") else s


def usd(x: float) -> str:
    return dec(money(x), 6)


def cloid(client_id: str) -> Optional[str]:
    """The cloid an engine client id is (one of 0x and 32 hex digits), else None."""
    return client_id if CLOID_RE.match(client_id) else None


def empty_clearinghouse(now: int) -> dict:
    """The state of an address no account has (the venue answers any address: an empty account)."""
    zero = {"accountValue": "0.0", "totalMarginUsed": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0"}
    return {"assetPositions": [], "crossMaintenanceMarginUsed": "0.0", "crossMarginSummary": zero,
            "marginSummary": dict(zero), "time": now, "withdrawable": "0.0"}


def position_row(eng: Any, p: Any) -> dict:
    """One row of ``assetPositions``: an engine position view, one-way."""
    m = eng.markets[p.symbol]
    im = p.initial_margin
    return {"position": {
        "coin": m.base, "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"},
        "entryPx": dec(p.entry_price, m.price_decimals + 2),
        "leverage": {"type": "cross", "value": p.leverage},
        "liquidationPx": dec(p.liquidation_price, m.price_decimals + 6) if p.liquidation_price > 0 else None,
        "marginUsed": usd(im), "maxLeverage": m.max_leverage, "positionValue": usd(abs(p.notional)),
        "returnOnEquity": dec(p.unrealized_pnl / im if im else 0.0, 8),
        "szi": dec(p.amount, m.amount_decimals), "unrealizedPnl": usd(p.unrealized_pnl)},
        "type": "oneWay"}


def account_fields(v: Any, ntl: float, now: int) -> dict:
    """What ``clearinghouseState`` says beside the positions: the account view ``v``'s summaries
    (``ntl`` the positions' notional), ``time`` and ``withdrawable``."""
    summary = {"accountValue": usd(v.equity), "totalMarginUsed": usd(v.initial_margin + v.open_order_margin),
               "totalNtlPos": usd(ntl), "totalRawUsd": usd(v.wallet)}
    return {"crossMaintenanceMarginUsed": usd(v.maint_margin), "crossMarginSummary": dict(summary),
            "marginSummary": summary, "time": now, "withdrawable": usd(v.available)}


def clearinghouse(eng: Any, coins: Iterable[str], views: Iterable[Any], v: Any, now: int) -> dict:
    """``clearinghouseState`` of an account: its positions ``views`` (engine position views) on
    the ``coins``' markets (the engine symbols of the coins the venue lists), one-way, and its
    account view ``v``, at ``now``."""
    listed = set(coins)
    rows, ntl = [], 0.0
    for p in views:
        if p.symbol not in listed:
            continue
        ntl += abs(p.notional)
        rows.append(position_row(eng, p))
    return {"assetPositions": rows, **account_fields(v, ntl, now)}


def order_row(eng: Any, o: SimOrder) -> dict:
    """A resting (regular) order as ``frontendOpenOrders`` lists it."""
    m = eng.markets[o.symbol]
    return {"coin": m.base, "isPositionTpsl": False, "isTrigger": False,
            "limitPx": dec(o.price, m.price_decimals), "oid": o.order_id, "orderType": "Limit",
            "origSz": dec(o.quantity, m.amount_decimals), "reduceOnly": o.closes,
            "side": "B" if o.side == "BUY" else "A", "sz": dec(o.remaining, m.amount_decimals),
            "timestamp": o.time, "triggerCondition": "N/A", "triggerPx": "0.0", "children": [],
            "tif": TIF_BACK.get(o.time_in_force, "Gtc"), "cloid": cloid(o.client_order_id)}


def fill_row(eng: Any, t: dict, o: Optional[SimOrder]) -> dict:
    """One of the account's trades (the engine's ``fill`` event) as ``userFills`` documents it:
    the coin, price, size, side (B buy, A sell), time, the order's oid and cloid, the fee in
    USDC, the realized PnL, and the direction against the position it started from."""
    m = eng.markets[t["symbol"]]
    buy = t["side"] == "BUY"
    row = {"coin": m.base, "px": dec(t["price"], m.price_decimals), "sz": dec(t["qty"], m.amount_decimals),
           "side": "B" if buy else "A", "time": t["ts"], "startPosition": "0.0",
           "dir": ("Close Short" if buy else "Close Long") if o is not None and o.closes
           else ("Open Long" if buy else "Open Short"),
           "closedPnl": dec(t["realized"], 6), "hash": "0x" + format(t["id"], "064x"), "oid": t["order"],
           "crossed": True, "fee": dec(t["fee"], 6), "tid": t["id"], "feeToken": "USDC"}
    said = cloid(o.client_order_id) if o is not None else None
    if said is not None:
        row["cloid"] = said
    return row


def order_status(o: SimOrder) -> str:
    """A regular order's status as ``orderStatus`` and ``orderUpdates`` say it."""
    if o.is_open:
        return "open"
    if o.status == "FILLED":
        return "filled"
    if o.status == "EXPIRED":
        if o.time_in_force == "IOC" and o.executed_qty <= 0:
            return "iocCancelRejected"  # nothing crossed: the venue refuses such an IOC
        return "reduceOnlyCanceled" if o.closes and o.time_in_force != "IOC" else "canceled"
    return "canceled"


# a trigger order's status (the engine's conditional order's) as the venue says it
ALGO_STATUS = {"NEW": "open", "TRIGGERED": "triggered", "CANCELED": "canceled", "EXPIRED": "reduceOnlyCanceled",
               "REJECTED": "rejected"}


def trigger_row(eng: Any, o: Any) -> dict:
    """A trigger order (a conditional order of the engine) as ``frontendOpenOrders`` lists it."""
    from ....simulated.conditional import LIMIT_TYPES

    m = eng.markets[o.symbol]
    pd = m.price_decimals
    limit = o.order_type in LIMIT_TYPES
    kind = "Stop" if o.order_type.startswith(("STOP", "TRAILING")) else "Take Profit"
    rising = (o.side == "BUY") == (kind == "Stop")
    trig = dec(o.trigger_price, pd)
    return {"coin": m.base, "isPositionTpsl": bool(o.close_position), "isTrigger": True,
            "limitPx": dec(o.price if limit else o.trigger_price, pd), "oid": o.algo_id,
            "orderType": f"{kind} {'Limit' if limit else 'Market'}",
            "origSz": dec(o.quantity, m.amount_decimals), "reduceOnly": bool(o.reduce_only or o.close_position),
            "side": "B" if o.side == "BUY" else "A", "sz": dec(o.quantity, m.amount_decimals),
            "timestamp": o.create_time, "triggerCondition": f"Price {'above' if rising else 'below'} {trig}",
            "triggerPx": trig, "children": [], "tif": None, "cloid": cloid(o.client_algo_id)}


__all__ = ["ALGO_STATUS", "TIF", "TIF_BACK", "CLOID_RE", "account_fields", "dec", "usd", "cloid", "empty_clearinghouse",
           "clearinghouse", "fill_row", "order_row", "order_status", "position_row", "trigger_row"]
