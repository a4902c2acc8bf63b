"""What a Kraken spot answer of the simulated exchange is made of: its ids, rows and refusals.

What it owns
    an engine market as Kraken's pair (``BTCUSDT`` → ``XBTUSDT``, its assets ``XXBT`` and
    ``USDT``: :func:`pair_id`, :func:`asset_id`), the rows of ``AssetPairs``, ``Assets``,
    ``Ticker`` and ``BalanceEx``, a spot order as a row of ``OpenOrders`` and ``ClosedOrders``
    (:func:`order_row`, its kind :data:`ORDER_TYPES`)
    and its ``txid`` (:func:`txid`, :func:`engine_id`), and the engine's refusals as Kraken's
    error strings (:data:`CODES`).

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ....simulated.engine import MarketSpec, SimOrder
from ....simulated.faces.shared import engine_codes
from ....simulated.numbers import log_places
from ....simulated.spot import STOP_LOSS, TAKE_PROFIT

# Kraken's own names of the engine's assets where they differ (its X-prefixed crypto ids)
ASSETS = {"BTC": "XXBT", "ETH": "XETH", "LTC": "XLTC", "XRP": "XXRP"}
PAIR_BASES = {"BTC": "XBT"}  # the base's name in a pair id (XBTUSDT)

UNKNOWN_ORDER = "EOrder:Unknown order"
INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
PERMISSION_DENIED = "EGeneral:Permission denied"
RATE_LIMIT = "EAPI:Rate limit exceeded"
UNKNOWN_METHOD = "EGeneral:Unknown method"

# the key's call counter (https://docs.kraken.com/api/docs/guides/spot-rest-ratelimits), as an
# Intermediate key's: at most 20, decaying 0.5 a second; trade history 2 a call, the trading
# endpoints nothing (the engine's per-pair counter), every other private call 1
COUNTER_TIER = "Intermediate"  # (the simulated accounts' rate_tier: :func:`..face.sim_account`)
COUNTER_MAX, COUNTER_DECAY = 20.0, 0.5
COUNTER_FREE = frozenset({"AddOrder", "CancelOrder", "CancelAll", "CancelAllOrdersAfter"})
COUNTER_DOUBLE = frozenset({"TradesHistory"})


def counter_cost(path: str) -> float:
    """What a private call of ``path`` (``/0/private/<name>``) adds to the key's counter."""
    name = path.rsplit("/", 1)[-1]
    return 0.0 if name in COUNTER_FREE else 2.0 if name in COUNTER_DOUBLE else 1.0

# the engine's (Binance) codes → Kraken's error strings (code and words are one string there)
CODES: dict[int, tuple[str, str]] = engine_codes(
    duplicate_id=(INVALID_ARGUMENTS, "cl_ord_id"),
    no_margin=("EOrder:Insufficient funds", ""),
    unknown_symbol=("EQuery:Unknown asset pair", ""),
    too_small=("EOrder:Order minimum not met", ""),
    precision=(INVALID_ARGUMENTS, "volume"),
)


def error_text(code: int, message: str) -> str:
    """Kraken's error string of an engine refusal: its table's, else invalid arguments."""
    known = CODES.get(code)
    if known is None:
        return f"{INVALID_ARGUMENTS}:{message}"
    return f"{known[0]}:{known[1]}" if known[1] else known[0]


def asset_id(asset: str) -> str:
    return ASSETS.get(asset, asset)


def pair_id(m: MarketSpec) -> str:
    return PAIR_BASES.get(m.base, m.base) + m.quote


def asset_pair(m: MarketSpec) -> dict:
    """A row of ``GET /0/public/AssetPairs`` (the documented fields ccxt reads)."""
    base = PAIR_BASES.get(m.base, m.base)
    return {"altname": pair_id(m), "wsname": f"{base}/{m.quote}", "aclass_base": "currency", "base": asset_id(m.base),
            "aclass_quote": "currency", "quote": asset_id(m.quote), "lot": "unit",
            "cost_decimals": 5, "pair_decimals": log_places(m.price_tick), "lot_decimals": log_places(m.amount_step),
            "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [], "fees": [[0, 0.26]],
            "fees_maker": [[0, 0.16]], "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": f"{m.min_amount:g}", "costmin": f"{m.min_notional:g}", "tick_size": f"{m.price_tick:g}",
            "status": "online"}


def asset_row(asset: str) -> dict:
    """A row of ``GET /0/public/Assets``."""
    return {"aclass": "currency", "altname": PAIR_BASES.get(asset, asset), "decimals": 10, "display_decimals": 5,
            "status": "enabled"}


def ticker_row(mark: float) -> dict:
    """A row of ``GET /0/public/Ticker``: every price the engine's mark (it has no book spread)."""
    px = f"{mark:.5f}"
    return {"a": [px, "1", "1.000"], "b": [px, "1", "1.000"], "c": [px, "0.00100000"], "v": ["0", "0"],
            "p": [px, px], "t": [0, 0], "l": [px, px], "h": [px, px], "o": px}


TXID = re.compile(r"^OSIM(?P<n>[0-9]+)-KRAKN-SPOTS$")


def txid(order_id: int) -> str:
    """Kraken's txid of an engine order (three groups, as the venue's ``OXXXXX-XXXXX-XXXXXX``)."""
    return f"OSIM{order_id}-KRAKN-SPOTS"


def trade_row(t: dict, o_type: str, m: MarketSpec) -> dict:
    """A spot fill (the engine's ``spot_fill`` event) as ``TradesHistory`` lists it: its order's
    txid (``ordertxid``), never the order's client id (Kraken's trade rows carry none)."""
    return {"ordertxid": txid(t["order"]), "postxid": f"PSIM{t['id']}-KRAKN-SPOTS", "pair": pair_id(m),
            "time": t["ts"] / 1000, "type": t["side"].lower(), "ordertype": o_type,
            "price": price_text(t["price"], m), "cost": f"{t['qty'] * t['price']:.5f}", "fee": f"{t['fee']:.5f}",
            "vol": f"{t['qty']:.8f}", "margin": "0.00000", "misc": "", "trade_id": t["id"], "maker": False}


def trade_txid(n: int) -> str:
    """Kraken's id of an engine trade (``TradesHistory``'s key)."""
    return f"TSIM{n}-KRAKN-SPOTS"


def engine_id(tx: Any) -> Optional[int]:
    m = TXID.match(tx) if isinstance(tx, str) else None
    return int(m.group("n")) if m else None


STATUSES = {"NEW": "open", "PARTIALLY_FILLED": "open", "FILLED": "closed", "CANCELED": "canceled",
            "EXPIRED": "expired"}

# AddOrder's ordertype → (the engine's trigger, "" for none; whether it has a limit price)
ORDER_TYPES: dict[str, tuple[str, bool]] = {
    "market": ("", False), "limit": ("", True),
    "stop-loss": (STOP_LOSS, False), "stop-loss-limit": (STOP_LOSS, True),
    "take-profit": (TAKE_PROFIT, False), "take-profit-limit": (TAKE_PROFIT, True),
}


def order_type(o: SimOrder) -> str:
    """The order's ``descr.ordertype``: market, limit, or a stop-loss / take-profit (``-limit``)."""
    trigger = getattr(o, "trigger", "")
    limited = o.type == "LIMIT"
    return next(k for k, v in ORDER_TYPES.items() if v == (trigger, limited))


def price_text(px: float, m: MarketSpec) -> str:
    """A price as Kraken prints it: the pair's decimals (``pair_decimals``), never rounded to a few
    significant digits."""
    return f"{px:.{log_places(m.price_tick)}f}"


def describe(o: SimOrder, m: MarketSpec) -> str:
    """``descr.order``: ``sell 1.00000000 XBTUSDT @ stop loss 55000.0 -> limit 54900.0``, as Kraken
    words it."""
    head = f"{o.side.lower()} {o.quantity:.8f} {pair_id(m)} @ "
    kind = order_type(o)
    if kind == "market":
        return head + "market"
    if kind == "limit":
        return head + f"limit {price_text(o.price, m)}"
    words = kind.replace("-limit", "").replace("-", " ")
    trig = f"{words} {price_text(getattr(o, 'trigger_price', 0.0), m)}"
    return head + (f"{trig} -> limit {price_text(o.price, m)}" if o.type == "LIMIT" else trig)


def order_row(o: SimOrder, m: MarketSpec) -> dict:
    """A spot order as ``OpenOrders`` and ``ClosedOrders`` list it (its cl_ord_id, its kind, its
    fill, its average price): a stop-loss or take-profit's trigger in ``descr.price``, its limit
    (a ``-limit`` form) in ``descr.price2``; a limit order's price in ``descr.price``."""
    kind = order_type(o)
    side = o.side.lower()
    trigger = getattr(o, "trigger_price", 0.0)
    if kind in ("market", "limit"):
        price, price2 = (price_text(o.price, m) if kind == "limit" else "0"), "0"
    else:
        price, price2 = price_text(trigger, m), (price_text(o.price, m) if o.type == "LIMIT" else "0")
    avg = o.cum_quote / o.executed_qty if o.executed_qty else 0.0
    at = f"{o.time / 1000:.4f}"
    return {"refid": None, "userref": 0, "cl_ord_id": o.client_order_id, "status": STATUSES.get(o.status, "closed"),
            "opentm": at, "closetm": f"{o.update_time / 1000:.4f}", "starttm": 0, "expiretm": 0,
            "descr": {"pair": pair_id(m), "type": side, "ordertype": kind, "price": price, "price2": price2,
                      "leverage": "none", "order": describe(o, m), "close": ""},
            "vol": f"{o.quantity:.8f}", "vol_exec": f"{o.executed_qty:.8f}", "cost": f"{o.cum_quote:.5f}",
            "fee": f"{o.fee:.5f}", "price": f"{avg:.5f}", "stopprice": "0.00000", "limitprice": "0.00000",
            "misc": "", "oflags": "fciq", "timeinforce": o.time_in_force, "reason": None}


__all__ = ["ASSETS", "CODES", "INVALID_ARGUMENTS", "INVALID_KEY", "INVALID_NONCE", "INVALID_SIGNATURE",
           "ORDER_TYPES", "PERMISSION_DENIED", "RATE_LIMIT", "UNKNOWN_METHOD", "UNKNOWN_ORDER", "asset_id",
           "asset_pair", "asset_row", "describe", "engine_id", "error_text", "order_row", "order_type", "pair_id",
           "price_text",
           "ticker_row", "trade_row", "trade_txid", "txid"]
