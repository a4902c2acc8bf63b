"""ccxt's unified structures → killswitch's snapshot and order types.

What it owns
    * positions, open orders, balances, account equity and order answers, from ccxt's unified
      structures into :mod:`killswitch.snapshot` types and :class:`adapters.base.OrderResult`;
    * a market's rounding and minimum rules (:class:`~killswitch.snapshot.MarketRules`) and the
      arithmetic of rounding to a step;
    * :class:`BadData`: a structure without a field the engine needs, and :class:`BadField`, the
      field it lacks or cannot read (the adapter names the venue and the endpoint beside it). A
      live position or an open order that cannot be read fails the whole snapshot (BAD_RESPONSE)
      — never a silent gap read as "flat", nor a guessed type, amount or trigger.

What it must not do
    call the venue, import ccxt, keep state, or tell venues apart: where ccxt leaves a field in the
    venue's raw answer (the leg of a position, the account equity), a :class:`RawFields` reader
    given by the caller reads it (the dialects know the fields).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Literal, Optional, Protocol, Union

from killswitch.attribution import strategy_of
from killswitch.orders import Fees
from killswitch.snapshot import Balance, MarketRules, Order, OrderBook, Position

from ..base import OrderResult


class RawFields(Protocol):
    """Reads what ccxt leaves in a venue's raw answer (its ``info``); a dialect is one."""

    def position_side(self, info: Mapping[str, Any]) -> Optional[str]: ...

    def equity_candidates(self, info: Mapping[str, Any]) -> list[Any]: ...

    def closes_position(self, info: Mapping[str, Any]) -> bool: ...

    def position_number(self, info: Mapping[str, Any], name: str) -> Any: ...


class BadData(Exception):
    """A ccxt structure without a field the snapshot needs."""


class BadField(BadData):
    """One field of a row (ccxt's unified name) that is missing or holds a value not understood:
    the caller, who knows the venue and the endpoint the row came from, names them beside it
    (:func:`.dialects.base.bad_field`)."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"field {field}: {problem}")
        self.field = field
        self.problem = problem


def order_info(order: Any) -> Mapping[str, Any]:
    """The venue's own row of ccxt's order (its ``info``; empty where it has none); an order
    that is not an object is :class:`BadData`."""
    if not isinstance(order, Mapping):
        raise BadData("an order is not an object")
    info = order.get("info")
    return info if isinstance(info, Mapping) else {}


def dig(value: Any, *path: Union[str, int]) -> Any:
    """``value`` followed down ``path`` through a venue's answer (a text: an object's field, a
    whole number: a list's row); None where a step is missing or of another shape."""
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


# --- numbers and steps ------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping (an object of the answer), else an empty one."""
    return value if isinstance(value, Mapping) else {}


def num(value: Any) -> Optional[float]:
    """A finite float, or None for anything else (None, "", a bool, NaN, text)."""
    if type(value) is float:  # the common case, ~20 a position: no conversion
        return value if value - value == 0.0 else None  # (inf - inf and NaN - NaN are NaN)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def step_of(precision: Any, mode: int) -> Optional[float]:
    """The step an amount or price moves by: ccxt's precision is a tick size (TICK_SIZE = 4,
    most venues) or a number of decimal places (DECIMAL_PLACES = 2)."""
    p = num(precision)
    if p is None or p < 0:
        return None
    if mode == 4:
        return p if p > 0 else None
    if mode == 2:
        return float(Decimal(1).scaleb(-int(p)))
    return None  # significant digits: no fixed step


def round_to_step(value: float, step: Optional[float], up: bool) -> float:
    if not step:
        return value
    try:
        q = (_dec(value) / _dec(step)).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    except InvalidOperation:
        return value
    return float(q * _dec(step))


def market_rules(market: Mapping[str, Any], precision_mode: int) -> MarketRules:
    """The rounding and minimum rules of a ccxt market structure."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    step = step_of(precision.get("amount"), precision_mode) or 0.0
    min_amount = num((limits.get("amount") or {}).get("min")) or 0.0
    min_notional = num((limits.get("cost") or {}).get("min")) or 0.0
    tick = step_of(precision.get("price"), precision_mode) or 0.0
    return MarketRules(amount_step=step, min_amount=max(0.0, min_amount),
                       min_notional=max(0.0, min_notional), base=market.get("base"), price_tick=max(0.0, tick))


# --- account state ------------------------------------------------------------------------------


def venue_stamp(raw_balance: Any, observed: int) -> tuple[int, Literal["venue", "runner"]]:
    """When the venue says the state held, and who stamped it: ``venue`` (the balance's timestamp
    where the venue reports one for the whole account, clamped to ``observed``: never a time in
    our future) or ``runner`` (our receive time: the venue gave none).

    Position ``updateTime``s are not used: on Binance they are the time a position last
    *changed*, so an untouched position would look hours stale and trip data-age triggers."""
    t = raw_balance.get("timestamp") if isinstance(raw_balance, Mapping) else None
    if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0:
        return min(int(t), observed), "venue"
    return observed, "runner"


def position_side(info: Any, hedged: Any, side: Optional[str], raw: RawFields) -> Optional[str]:
    """LONG / SHORT / BOTH from the venue's own field (read by ``raw``), else from ccxt's
    ``hedged`` flag."""
    info = info if isinstance(info, Mapping) else {}
    leg = raw.position_side(info)
    if leg is not None:
        return leg
    if hedged is True and side in ("long", "short"):
        return side.upper()
    return None


# The fields of a position parse_position reads from ccxt's unified structure (the strategy is the
# adapter's, from the client ids). Every other field Position declares is read from the venue's
# own field a dialect names (``Dialect.position_fields``), as a number: its default (None) where
# the venue says none.
_UNIFIED = frozenset(("symbol", "side", "position_side", "contracts", "contract_size", "notional", "entry_price",
                      "mark_price", "unrealized_pnl", "liquidation_price", "margin", "leverage", "strategy"))
VENUE_NUMBERS = tuple(f for f in Position.model_fields if f not in _UNIFIED)


def parse_position(p: Any, market_of: Callable[[str], Optional[Mapping]], raw: RawFields) -> Optional[Position]:
    """A ccxt position structure → Position; None for a flat one. A live position without a
    field the engine needs raises :class:`BadData`, never a silent gap. ``market_of(symbol)``
    is the loaded market (its contract size stands in for a missing one)."""
    if not isinstance(p, Mapping):
        raise BadData("a position is not an object")
    contracts = num(p.get("contracts"))
    if contracts is None:
        # a size the venue did not give (or gave as text) is not a flat position
        raise BadField("contracts", "missing" if p.get("contracts") is None else f"not a number: {p['contracts']!r}")
    if contracts == 0:
        return None
    symbol = p.get("symbol")
    side = p.get("side")
    if not isinstance(symbol, str) or not symbol:
        raise BadField("symbol", "missing")
    if side not in ("long", "short"):
        # ccxt's contracts are unsigned: only a negative size says short, and a positive one
        # without a side could be either
        if contracts < 0 and side is None:
            side = "short"
        else:
            # (ccxt writes None for a side it does not know, as for none)
            raise BadField("side", ("missing or unknown" if side is None else f"unknown value {side!r}")
                           + f" ({symbol})")
    contracts = abs(contracts)
    market = market_of(symbol) or {}
    contract_size = num(p.get("contractSize")) or num(market.get("contractSize")) or 1.0
    if contract_size <= 0:
        contract_size = 1.0
    notional = num(p.get("notional"))
    mark = num(p.get("markPrice"))
    if (mark is None or mark <= 0) and notional:
        mark = abs(notional) / (contracts * contract_size)
    if mark is None or mark <= 0:
        raise BadData(f"{symbol}: position without a mark price")
    if notional is None:
        notional = contracts * contract_size * mark
    entry = num(p.get("entryPrice"))
    upnl = num(p.get("unrealizedPnl"))
    if upnl is None:
        if entry is None:
            raise BadData(f"{symbol}: position without unrealized PnL or entry price")
        upnl = (mark - entry) * contracts * contract_size * (1 if side == "long" else -1)
    liq = num(p.get("liquidationPrice"))
    margin = num(p.get("initialMargin"))
    if margin is None:
        margin = num(p.get("collateral"))
    leverage = num(p.get("leverage"))
    info = _mapping(p.get("info"))
    said = {name: value for name in VENUE_NUMBERS if (value := num(raw.position_number(info, name))) is not None}
    return Position(
        symbol=symbol, side=side,
        position_side=position_side(info, p.get("hedged"), side, raw),
        contracts=contracts, contract_size=contract_size, notional=abs(notional),
        entry_price=entry if entry and entry > 0 else None, mark_price=mark, unrealized_pnl=upnl,
        liquidation_price=liq if liq and liq > 0 else None,
        margin=margin, leverage=leverage if leverage and leverage > 0 else None, **said,
    )


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def reduces(side: str, leg: Optional[str], reduce_only: Any, close_position: Any) -> bool:
    """Whether an open order can only reduce: the venue's reduce-only flag; in hedge mode, the
    order's side against its position side (SELL on LONG, BUY on SHORT closes: Binance reports
    ``reduceOnly: false`` on every hedge-mode order, and OKX long/short and Bybit's position
    index work the same way); or a close-position order (the venue's own field, read by the
    caller's :class:`RawFields`: Binance ``closePosition``, Bybit ``closeOnTrigger``)."""
    if _true(reduce_only) or _true(close_position):
        return True
    return (leg == "LONG" and side == "sell") or (leg == "SHORT" and side == "buy")


def order_kind(o: Mapping[str, Any]) -> str:
    """The kind of an open order read from ccxt's unified fields, when its list does not say:
    a trailing stop by its type, a conditional order by its trigger price (or a stop /
    take-profit type), else regular."""
    kind = str(o.get("type") or "").lower()
    if "trailing" in kind:
        return "trailing"
    if num(o.get("triggerPrice")) or num(o.get("stopPrice")) or "stop" in kind or "take_profit" in kind:
        return "conditional"
    return "regular"


# The kinds of order that wait on a price: one without a trigger price is not understood. (A
# trailing stop's price moves; its activation price may be absent.)
TRIGGERED_KINDS = ("conditional", "tpsl", "oco")


def parse_order(o: Any, raw: RawFields, strategies: Union[Iterable[str], Mapping[str, str]], kind: Optional[str] = None,
                price_trigger: bool = True) -> Order:
    """A ccxt open-order structure → Order (``reduce_only``: it can only reduce, :func:`reduces`;
    ``kind``: what the list it came from says it is, else :func:`order_kind`). An order without
    an id, a symbol, a side, a type or an amount, or a conditional one without a trigger price
    (unless its list says it triggers on something else: ``price_trigger`` False), raises
    :class:`BadField` naming ccxt's field: never an order read with a guess."""
    if not isinstance(o, Mapping):
        raise BadData("an order is not an object")
    oid, symbol, side, type_ = o.get("id"), o.get("symbol"), o.get("side"), o.get("type")
    if oid is None or oid == "":
        raise BadField("id", "missing")
    if not isinstance(symbol, str) or not symbol:
        raise BadField("symbol", f"missing (order {oid})")
    if side not in ("buy", "sell"):
        raise BadField("side", ("missing" if side is None else f"unknown value {side!r}") + f" (order {oid})")
    if not isinstance(type_, str) or not type_:
        raise BadField("type", f"missing (order {oid})")
    info = _mapping(o.get("info"))
    closes = raw.closes_position(info)
    amount = num(o.get("amount"))
    if amount is None:
        if not closes:
            raise BadField("amount", f"missing (order {oid})")
        amount = 0.0  # an order of the whole position, whatever its size (Binance closePosition, OKX closeFraction)
    kind = kind or order_kind(o)
    trigger = num(o.get("triggerPrice")) or num(o.get("stopPrice")) or None
    if trigger is None and kind in TRIGGERED_KINDS and price_trigger:
        raise BadField("triggerPrice", f"missing on a {kind} order (order {oid})")
    ro = o.get("reduceOnly")
    if ro is None:
        ro = info.get("reduceOnly")
    client_id = o.get("clientOrderId")
    filled = num(o.get("filled")) or 0.0
    ps = position_side(info, None, None, raw)
    return Order(
        id=str(oid), client_id=str(client_id) if client_id else None, symbol=symbol, side=side,
        type=type_, kind=kind, trigger_price=trigger,
        reduce_only=reduces(side, ps, ro, closes),
        amount=abs(amount), filled=abs(filled), price=num(o.get("price")) or None,
        position_side=ps, strategy=strategy_of(str(client_id) if client_id else None, strategies),
    )


def margin_modes(raw_positions: Any) -> dict[tuple[str, str], str]:
    """(symbol, long | short) → ``cross`` or ``isolated`` of each open position, from ccxt's
    unified ``marginMode`` or the venue's own field (OKX ``mgnMode``, Binance ``marginType``,
    Bybit ``tradeMode`` 0/1); positions that say nothing are left out."""
    out: dict[tuple[str, str], str] = {}
    for p in raw_positions or ():
        if not isinstance(p, Mapping):
            continue
        info = _mapping(p.get("info"))
        mode = p.get("marginMode") or info.get("mgnMode") or info.get("marginType")
        if mode is None and str(info.get("tradeMode")) in ("0", "1"):
            mode = "cross" if str(info.get("tradeMode")) == "0" else "isolated"
        symbol, side = p.get("symbol"), p.get("side")
        if isinstance(symbol, str) and side in ("long", "short") and isinstance(mode, str) \
                and mode.lower() in ("cross", "isolated", "crossed"):
            out[(symbol, side)] = "cross" if mode.lower() == "crossed" else mode.lower()
    return out


def parse_balances(raw: Any, prices: Mapping[str, float]) -> list[Balance]:
    """Every asset with a non-zero balance, valued at ``prices`` where given."""
    if not isinstance(raw, Mapping):
        raise BadData("the balance is not an object")
    totals = _mapping(raw.get("total"))
    out = []
    for asset in sorted(totals):
        entry = raw.get(asset) if isinstance(raw.get(asset), Mapping) else {}
        total = num(entry.get("total")) if entry else None
        if total is None:
            total = num(totals.get(asset))
        free = num(entry.get("free")) if entry else None
        used = num(entry.get("used")) if entry else None
        if total is None:
            continue
        if total == 0 and not free and not used:
            continue
        out.append(Balance(asset=asset, free=free if free is not None else max(0.0, total - (used or 0.0)),
                           used=used or 0.0, total=total, price=prices.get(asset)))
    return out


def held_assets(raw_balance: Any) -> list[str]:
    """The assets of a balance answer with a non-zero total."""
    if not isinstance(raw_balance, Mapping):
        raise BadData("the balance is not an object")
    totals = _mapping(raw_balance.get("total"))
    return [a for a, t in totals.items() if (num(t) or 0) != 0]


def futures_equity(balance: Any, quote_currency: str, raw: RawFields) -> float:
    """Account equity in the quote currency, unrealized PnL included: the venue's account total
    where ccxt passes it through (``raw`` knows the fields), else ccxt's unified ``total`` of
    the quote currency."""
    if not isinstance(balance, Mapping):
        raise BadData("the balance is not an object")
    info = balance.get("info")
    candidates = raw.equity_candidates(info) if isinstance(info, Mapping) else []
    for c in candidates:
        v = num(c)
        if v is not None:
            return v
    totals = _mapping(balance.get("total"))
    v = num(totals.get(quote_currency))
    if v is None:
        entry = balance.get(quote_currency)
        v = num(entry.get("total")) if isinstance(entry, Mapping) else None
    if v is None:
        raise BadData(f"the balance has no {quote_currency} total and no account equity")
    return v


def ticker_price(t: Any) -> Optional[float]:
    """The last price of a ccxt ticker, else its close, else the bid/ask midpoint; None when
    it has no positive price."""
    if not isinstance(t, Mapping):
        return None
    price = num(t.get("last")) or num(t.get("close"))
    bid, ask = num(t.get("bid")), num(t.get("ask"))
    if price is None and bid and ask:
        price = (bid + ask) / 2

    return price if price and price > 0 else None


# --- order answers ------------------------------------------------------------------------------

_ORDER_STATUS = {"open": "open", "closed": "filled", "canceled": "canceled", "cancelled": "canceled",
                 "expired": "expired", "rejected": "rejected"}


def order_result(o: Any, client_order_id: str, amount: float) -> OrderResult:
    """A ccxt order answer → OrderResult; ``client_order_id`` stands in for what the answer
    leaves out, ``amount`` is what was asked (0: unknown)."""
    if not isinstance(o, Mapping):
        raise BadData("the order answer is not an object")
    filled = abs(num(o.get("filled")) or 0.0)
    answered = abs(num(o.get("amount")) or 0.0)
    total = max(answered, amount)
    raw = str(o.get("status") or "open").lower()
    status = _ORDER_STATUS.get(raw, raw)
    if status == "open" and filled > 0:
        status = "partially_filled" if filled < total else "filled"
    elif raw == "closed" and filled < total * (1 - 1e-9):
        if answered >= total * (1 - 1e-9):
            # the venue says the order ended with a remainder unfilled, and ccxt calls it
            # "closed" (Bybit's PartiallyFilledCanceled: an IOC close that met a thin book)
            status = "canceled"
        else:
            # the answer describes the part that filled alone (Hyperliquid's "filled" with its
            # totalSz): whether the rest was cancelled or rests on the book is not said, so the
            # order is not final; the runner asks the venue again and cancels a remainder
            status = "partially_filled"
    fees = order_fees(o)
    ts = o.get("lastTradeTimestamp") or o.get("timestamp")
    oid = o.get("id")
    return OrderResult(
        client_order_id=str(o.get("clientOrderId") or client_order_id),
        order_id=str(oid) if oid not in (None, "") else None,
        status=status, filled=filled, amount=total,
        average_price=num(o.get("average")) or None, fee=fees[0][0] if len(fees) == 1 else None,
        ts_ms=int(ts) if isinstance(ts, (int, float)) else None, fees=fees,
    )


def order_fees(o: Mapping) -> Fees:
    """The fee a ccxt order answer reports, per currency: its ``fees`` (one per currency, ccxt's
    reduced list), else its ``fee``; each ``{cost, currency}`` with a cost, the costs of one
    currency added up. Empty: the answer carried no fee (a venue that does not report one)."""
    listed = o.get("fees")
    given = [f for f in listed if isinstance(f, Mapping)] if isinstance(listed, list) else []
    if not any(num(f.get("cost")) is not None for f in given) and isinstance(o.get("fee"), Mapping):
        given = [o["fee"]]
    out: dict[Optional[str], float] = {}
    for f in given:
        cost = num(f.get("cost"))
        if cost is not None:
            currency = f.get("currency")
            key = str(currency) if currency not in (None, "") else None
            out[key] = out.get(key, 0.0) + cost
    return tuple((cost, currency) for currency, cost in out.items())


def order_book(raw: Any, depth: int) -> OrderBook:
    """ccxt's unified order book (``bids``, ``asks``: [price, amount, ...] best first,
    ``timestamp``) → the top ``depth`` levels a side. A level that is not two finite numbers,
    a price not above zero or a negative amount is BadData: the planner then falls back."""
    if not isinstance(raw, Mapping):
        raise BadData(f"expected a mapping, got {type(raw).__name__}")

    def side(name: str) -> tuple[tuple[float, float], ...]:
        rows = raw.get(name)
        if not isinstance(rows, (list, tuple)):
            raise BadData(f"{name}: expected a list")
        out = []
        for row in rows[:depth]:
            price = num(row[0]) if isinstance(row, (list, tuple)) and len(row) >= 2 else None
            amount = num(row[1]) if price is not None else None
            if price is None or amount is None or price <= 0 or amount < 0:
                raise BadData(f"{name}: level {str(row)[:40]} is not [price, amount]")
            out.append((price, amount))
        return tuple(out)

    ts = raw.get("timestamp")
    return OrderBook(bids=side("bids"), asks=side("asks"), ts=int(ts) if isinstance(ts, (int, float)) else None)
