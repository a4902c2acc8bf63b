"""Pre-trade limits, checked: which of a policy's limits an order breaks, as a pure function of
the limits, the order, the scope's positions and open orders, the marks and the time.

:func:`order_breaches` is the one check: the pre-trade gate asks it before an order is sent
(``POST /v1/check-order``), and the venue watch asks it of an order that never asked (one seen
resting at the venue: ``resting=True``). The gate hands it the scope's usage made once per
snapshot (:class:`Usage`, :mod:`.limit_tables`), so a request costs one look-up per limit.

The limits (see :mod:`killswitch.policy.limits`) and the code each refusal carries:

- ``NO_MARK``: a limit needs the symbol's mark (a price collar; an order without a price that a
  notional limit must value) and there is none younger than ``mark_max_age``;
- ``PRICE_COLLAR``: a limit price outside mark × (1 ± collar), or a new order without a price
  under a collar (a market order cannot be collared);
- ``LIMIT_ORDER_QUANTITY`` / ``LIMIT_ORDER_NOTIONAL``: the order's amount (contracts) or its
  value (amount × its price, or the mark without one, × the contract size) above the limit;
- ``OPEN_ORDERS_LIMIT``: the scope's open orders (or the symbol's), the order counted, above the
  limit;
- ``POSITION_LIMIT``: the position the order acts on (its account, symbol and hedge leg) with
  the resting orders that would open it further and the order, as far as they can take it
  (:func:`killswitch.engine.exposure.reach`), above the symbol's limit;
- ``GROSS_LIMIT``: the same summed over the scope's legs, with the order, above the limit;
- ``MESSAGE_RATE``: the strategy's token bucket is empty (its level is handed in: the bucket
  lives with the runner, :mod:`killswitch.runner.gate.limits_state`).

An order that does not take its leg further than it can reach already (reduce-only, the opposite
side of the leg and no larger, a sell beside larger resting sells...) never breaks a position or
gross limit: a limit never stands in the way of less exposure. A breach of either says what the
positions, the resting orders and the order each bring (``Breach.parts``).

Resting orders are counted once by (account, order id): one the venue reports twice is one. A
resting order without a price is valued at the mark, else its trigger price; with neither it
cannot be valued, and a position or gross limit that needs it fails closed.
A value exactly at its limit passes; just over it is refused. What cannot be evaluated (the
positions or orders not read, a position that cannot be told apart) is a breach of the limit
that needed it: the check fails closed.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from ..compile.limits_node import LimitsNode
from ..figures import money
from .exposure import NONE, Resting, order_value, plus, reach

NO_MARK = "NO_MARK"
PRICE_COLLAR = "PRICE_COLLAR"
ORDER_QUANTITY = "LIMIT_ORDER_QUANTITY"
ORDER_NOTIONAL = "LIMIT_ORDER_NOTIONAL"
OPEN_ORDERS = "OPEN_ORDERS_LIMIT"
POSITION = "POSITION_LIMIT"
GROSS = "GROSS_LIMIT"
MESSAGE_RATE = "MESSAGE_RATE"
CODES = (NO_MARK, PRICE_COLLAR, ORDER_QUANTITY, ORDER_NOTIONAL, OPEN_ORDERS, POSITION, GROSS, MESSAGE_RATE)
_TOLERANCE = 1e-9  # relative: a value at its limit, give or take a float's last digits, passes


@dataclass(frozen=True)
class Mark:
    """A symbol's mark price, the notional of one contract at it (× ``contract_size``), and when it
    was read (UTC ms: the snapshot's ``ts_event``)."""

    price: float
    contract_size: float
    ts_ms: int


@dataclass(frozen=True)
class LimitOrder:
    """An order as the limits read it: ``amount`` in contracts (of a resting order, what is left
    of it), ``price`` its limit price (None: a market order), ``account`` ``venue/account``."""

    symbol: str
    side: str  # buy | sell
    amount: float
    price: Optional[float] = None
    reduce_only: bool = False
    position_side: Optional[str] = None  # LONG | SHORT (a hedge leg) | BOTH | None
    account: Optional[str] = None
    strategy: Optional[str] = None
    trigger_price: Optional[float] = None  # a resting stop's, valued at it without a price or a mark
    id: Optional[str] = None  # a resting order's id at the venue

    @staticmethod
    def resting(order: Any, account: Optional[str] = None) -> "LimitOrder":
        """A snapshot's open order (:class:`killswitch.snapshot.Order`), its unfilled part."""
        return LimitOrder(order.symbol, order.side, max(0.0, order.amount - order.filled), order.price,
                          order.reduce_only, order.position_side, account, order.strategy,
                          getattr(order, "trigger_price", None), order.id)


@dataclass(frozen=True)
class Breach:
    """One limit an order breaks: its code, the limit's value, the usage the order would bring it
    to (None: it could not be told), in ``unit`` (``quote``, ``contracts``, ``ratio``, ``orders``,
    ``messages``, ``ms``), and a detail a person reads."""

    code: str
    limit: float
    usage: Optional[float]
    unit: str
    detail: str
    symbol: Optional[str] = None
    parts: Optional[tuple[float, float, float]] = None  # an exposure's usage: (positions, resting, order)

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "value": self.limit, "usage": self.usage, "unit": self.unit,
                               "symbol": self.symbol}
        if self.parts is not None:
            out["exposure"] = parts_json(self.parts)
        return out


def parts_json(parts: tuple[float, float, float]) -> dict[str, float]:
    """An exposure's usage split: what the positions, the resting orders and the order bring."""
    positions, resting, order = (round(x, 8) for x in parts)  # no float noise from the subtractions
    return {"positions": positions, "resting": resting, "order": order}


def parts_text(parts: tuple[float, float, float], order: str = "this order") -> str:
    positions, resting, added = parts
    return f"positions {money(positions)} + resting orders {money(resting)} + {order} {money(added)}"


# --- usage: the scope's positions and open orders, summed once --------------------------------------


@dataclass
class _Leg:
    contracts: float = 0.0  # signed: + long, - short
    notional: float = 0.0
    count: int = 0
    buys: Resting = NONE  # resting orders that are not reduce-only, by side
    sells: Resting = NONE
    unpriced: int = 0  # resting orders not reduce-only that cannot be valued

    def reach(self, leg: str, held: Optional[float] = None) -> float:
        """How far the leg can go with its resting orders (``held``: its position's value, else
        the snapshot's)."""
        return reach(leg, self.contracts, self.notional if held is None else held, self.buys, self.sells)


def _leg_of(position_side: Optional[str]) -> str:
    return position_side if position_side in ("LONG", "SHORT") else "BOTH"


@dataclass
class Usage:
    """What a scope instance holds: its gross notional, its open orders (all and by symbol, each
    once by account and id: ``twice`` counts those reported again) and each position by
    (account, symbol, leg) with the resting orders on it. ``known`` is False when one of its
    accounts was not read: then nothing that reads it can be told. Made by :func:`usage_of` or
    :meth:`add_position` and :meth:`add_order`."""

    gross: float = 0.0
    open_orders: int = 0
    open_by_symbol: dict[str, int] = field(default_factory=dict)
    legs: dict[tuple[Optional[str], str, str], _Leg] = field(default_factory=dict)
    hedged: set[tuple[Optional[str], str]] = field(default_factory=set)
    oneway: set[tuple[Optional[str], str]] = field(default_factory=set)
    known: bool = True
    seen: set[tuple[Optional[str], str]] = field(default_factory=set, repr=False)
    twice: int = 0
    unpriced: int = 0
    _resting: Optional[float] = field(default=None, repr=False, compare=False)
    # the orders summed on legs, as listed: ((account, id), leg's key, side, contracts, value)
    _listed: list[tuple[tuple[Optional[str], str], tuple[Optional[str], str, str], str, float, float]] = field(
        default_factory=list, repr=False, compare=False)
    _turns: Optional[tuple[LimitsNode, dict[tuple[Optional[str], str], tuple[Resting, Resting, float]]]] = field(
        default=None, repr=False, compare=False)

    def add_position(self, p: Any, account: Optional[str] = None) -> None:
        if not p.contracts or p.contracts <= 0:
            return
        leg = _leg_of(p.position_side)
        (self.hedged if leg != "BOTH" else self.oneway).add((account, p.symbol))
        held = self.legs.setdefault((account, p.symbol, leg), _Leg())
        held.contracts += p.contracts if p.side == "long" else -p.contracts
        held.notional += abs(p.notional)
        held.count += 1
        self.gross += abs(p.notional)
        self._resting = None

    def add_order(self, o: Any, account: Optional[str] = None, marks: Optional[Mapping[str, Mark]] = None,
                  opening: bool = True) -> None:
        """Count an open order (once by account and id), and sum what it may open on its leg:
        its unfilled part, valued at :func:`~.exposure.order_value` (``marks``: by symbol;
        ``opening`` False: counted only, for limits that read no position)."""
        key = (account, o.id)
        seen = self.seen
        if key in seen:
            self.twice += 1
            return
        seen.add(key)
        symbol = o.symbol
        self.open_orders += 1
        self.open_by_symbol[symbol] = self.open_by_symbol.get(symbol, 0) + 1
        left = o.amount - o.filled
        if not opening or o.reduce_only or left <= 0:
            return
        # valued as :func:`~.exposure.order_value` says, written out: a tick sums thousands of these
        mark = marks.get(symbol) if marks else None
        price = o.price
        if price is None:
            price = mark.price if mark is not None else getattr(o, "trigger_price", None)
        ps = o.position_side
        at = (account, symbol, ps if ps == "LONG" or ps == "SHORT" else "BOTH")
        held = self.legs.get(at)
        if held is None:
            held = self.legs[at] = _Leg()
        if price is None:
            held.unpriced += 1
            self.unpriced += 1
        else:
            value = left * price * (mark.contract_size if mark is not None else 1.0)
            side = o.side
            if side == "buy":
                n, v = held.buys
                held.buys = (n + left, v + value)
            else:
                n, v = held.sells
                held.sells = (n + left, v + value)
            self._listed.append((key, at, side, left, value))
        self._resting = self._turns = None

    def before(self, limits: LimitsNode, account: Optional[str], order_id: Optional[str]
               ) -> Optional[tuple[Resting, Resting, float]]:
        """What was resting before the order ``order_id`` of ``account`` took its turn: its leg's
        buys and sells, and what the scope's resting orders added to its gross. The orders take
        their turns as the venue listed them; one that would have broken the position or gross
        limit of ``limits`` had it asked then takes no room (the gate would have refused it, the
        watch cancels it). None: the order is not summed here."""
        turns = self._turns
        if turns is None or turns[0] is not limits:
            turns = self._turns = (limits, self._take_turns(limits))
        return turns[1].get((account, order_id)) if order_id is not None else None

    def _take_turns(self, limits: LimitsNode) -> dict[tuple[Optional[str], str], tuple[Resting, Resting, float]]:
        sides: dict[tuple[Optional[str], str, str], tuple[Resting, Resting]] = {}
        gross_cap, total = limits.max_gross_notional, 0.0
        out = {}
        for key, at, side, contracts, value in self._listed:
            held = self.legs[at]
            buys, sells = sides.get(at, (NONE, NONE))
            out[key] = (buys, sells, total)
            more = (plus(buys, contracts, value), sells) if side == "buy" else (buys, plus(sells, contracts, value))
            was = reach(at[2], held.contracts, held.notional, buys, sells)
            now = reach(at[2], held.contracts, held.notional, *more)
            if now > was * (1 + _TOLERANCE):
                cap = limits.for_symbol(at[1]).max_position_notional
                if (cap is not None and _over(now, cap)) or (
                        gross_cap is not None and _over(self.gross + total - was + now, gross_cap)):
                    continue  # refused had it asked: it takes no room
                total += now - was
            sides[at] = more
        return out

    @property
    def resting(self) -> Optional[float]:
        """What the resting orders add to the scope's gross: each leg as far as they can take it,
        beyond its position (None: one of them cannot be valued)."""
        if self.unpriced:
            return None
        found = self._resting
        if found is None:
            found = self._resting = sum(held.reach(leg) - held.notional for (_, _, leg), held in self.legs.items())
        return found

    def leg(self, order: LimitOrder) -> tuple[Optional[_Leg], Optional[str]]:
        """The position ``order`` acts on (an empty one when there is none), or None and why it
        cannot be told: two positions where one is expected, a hedge leg on a one-way symbol or
        the other way round."""
        at = (order.account, order.symbol)
        leg = _leg_of(order.position_side)
        if leg == "BOTH" and at in self.hedged:
            return None, f"{order.symbol} is held in hedge mode; position_side LONG or SHORT is required"
        if leg != "BOTH" and at in self.oneway:
            return None, f"position_side {leg} given but {order.symbol} is held in one-way mode"
        held = self.legs.get((order.account, order.symbol, leg))
        if held is not None and held.count > 1:
            return None, f"{held.count} {leg} positions in {order.symbol}"
        return (held or _Leg()), None


def usage_of(positions: Optional[Iterable[Any]], open_orders: Optional[Iterable[Any]],
             account: Optional[str] = None, marks: Optional[Mapping[str, Mark]] = None) -> Usage:
    """The usage of one account's ``positions`` and ``open_orders`` (None: not read); ``marks``
    value the resting orders without a price."""
    u = Usage(known=positions is not None and open_orders is not None)
    for p in positions or ():
        u.add_position(p, account)
    for o in open_orders or ():
        u.add_order(o, account, marks)
    return u


# --- the check ----------------------------------------------------------------------------------------


def order_breaches(limits: LimitsNode, order: LimitOrder, positions: Optional[Iterable[Any]],
                   open_orders: Optional[Iterable[Any]], marks: Mapping[str, Mark], now_ms: int, *,
                   tokens: Optional[float] = None, resting: bool = False) -> list["Breach"]:
    """Every limit of ``limits`` that ``order`` breaks (empty: none), given the scope's open
    ``positions`` and ``open_orders`` (None: not read; see the module doc for each limit).
    ``marks``: by symbol, of the order's venue. ``tokens``: the level of the strategy's message
    bucket (None: not counted here). ``resting``: the order is already open at the venue (it is
    among ``open_orders`` and is not counted again; its missing price is not collared)."""
    return breaches_in(limits, order, usage_of(positions, open_orders, order.account, marks), marks, now_ms,
                       tokens=tokens, resting=resting)


def breaches_in(limits: LimitsNode, order: LimitOrder, usage: Optional[Usage], marks: Mapping[str, Mark],
                now_ms: int, *, tokens: Optional[float] = None, resting: bool = False) -> list[Breach]:
    """:func:`order_breaches` over a usage made already (None: the scope's book is not known)."""
    sym = limits.for_symbol(order.symbol)
    out: list[Optional[Breach]] = []
    mark = marks.get(order.symbol)
    fresh = mark if mark is not None and now_ms - mark.ts_ms <= limits.mark_max_age_ms else None
    no_mark = _no_mark(order.symbol, mark, now_ms, limits.mark_max_age_ms)
    size = mark.contract_size if mark is not None else 1.0

    # a market order that can only reduce is not collared: a bot closing into a crash must not be
    # held in its position by a limit meant for fat fingers (a priced one still is)
    if sym.price_collar is not None and not (order.price is None and (resting or order.reduce_only)):
        out.append(no_mark if fresh is None else _collar(order, sym.price_collar, fresh))
    if sym.max_order_quantity is not None and _over(order.amount, sym.max_order_quantity):
        out.append(Breach(ORDER_QUANTITY, sym.max_order_quantity, order.amount, "contracts",
                          f"amount {order.amount:g} > limit {sym.max_order_quantity:g} for {order.symbol}",
                          order.symbol))
    price = order.price if order.price is not None else fresh.price if fresh is not None else None
    if sym.max_order_notional is not None:
        if price is None:
            out.append(no_mark)
        else:
            notional = order.amount * price * size
            if _over(notional, sym.max_order_notional):
                out.append(Breach(ORDER_NOTIONAL, sym.max_order_notional, notional, "quote",
                                  f"notional {money(notional)} > limit {money(sym.max_order_notional)} "
                                  f"for {order.symbol}",
                                  order.symbol))
    out += _open_orders(limits, order, usage, resting)
    out += _exposure(limits, order, usage, fresh, mark, size, no_mark, resting)
    if limits.message_rate is not None and tokens is not None and tokens < 1:
        out.append(Breach(MESSAGE_RATE, limits.message_rate, tokens, "messages",
                          f"strategy {order.strategy or '(none)'} used its burst of {limits.message_burst}; "
                          f"{limits.message_rate:g} a second refill it", order.symbol))
    found: dict[str, Breach] = {}
    for b in out:
        if b is not None and b.code not in found:  # one NO_MARK, however many limits wanted the mark
            found[b.code] = b
    return list(found.values())


def _no_mark(symbol: str, mark: Optional[Mark], now_ms: int, max_age_ms: int) -> Breach:
    if mark is None:
        return Breach(NO_MARK, max_age_ms, None, "ms", f"no mark of {symbol} is known; the limits cannot "
                                                     f"value or collar the order", symbol)
    age = now_ms - mark.ts_ms
    return Breach(NO_MARK, max_age_ms, age, "ms", f"the mark of {symbol} is {age / 1000:.1f}s old > "
                                                 f"{max_age_ms / 1000:g}s", symbol)


def _collar(order: LimitOrder, collar: float, mark: Mark) -> Optional[Breach]:
    if order.price is None:
        return Breach(PRICE_COLLAR, collar, None, "ratio", f"the order has no limit price; a collar of "
                                                          f"{collar:.2%} needs one (mark {mark.price:g})", order.symbol)
    lo, hi = mark.price * (1 - collar), mark.price * (1 + collar)
    off = abs(order.price / mark.price - 1)
    if order.price < lo * (1 - _TOLERANCE) or order.price > hi * (1 + _TOLERANCE):
        return Breach(PRICE_COLLAR, collar, off, "ratio",
                      f"price {order.price:g} is {off:.2%} from mark {mark.price:g} of {order.symbol}, outside "
                      f"[{lo:g}, {hi:g}] (collar {collar:.2%})", order.symbol)
    return None


def _over(value: float, limit: float) -> bool:
    return value > limit * (1 + _TOLERANCE)


def _open_orders(limits: LimitsNode, order: LimitOrder, usage: Optional[Usage], resting: bool) -> list[Breach]:
    out = []
    per_symbol = limits.for_symbol(order.symbol).max_open_orders
    added = 0 if resting else 1
    for limit, what in ((limits.max_open_orders, "scope"), (per_symbol, order.symbol)):
        if limit is None:
            continue
        if usage is None or not usage.known:
            out.append(Breach(OPEN_ORDERS, limit, None, "orders", "the scope's open orders are not known "
                                                                  "(an account not read); cannot count them"))
            break
        n = (usage.open_orders if what == "scope" else usage.open_by_symbol.get(order.symbol, 0)) + added
        if n > limit:
            of = "the scope" if what == "scope" else f"{order.symbol}"
            out.append(Breach(OPEN_ORDERS, limit, n, "orders", f"open orders of {of} would be {n} > limit {limit}",
                              None if what == "scope" else order.symbol))
    return out


def _within(position_limit: Optional[float], gross_limit: Optional[float], usage: Usage, held: _Leg, leg: str,
            pv: float, others: float) -> bool:
    """Whether the leg and the scope, every resting order counted, stay within their limits."""
    full = reach(leg, held.contracts, pv, held.buys, held.sells)
    return not (position_limit is not None and _over(full, position_limit)) and not (
        gross_limit is not None and _over(usage.gross + others - held.reach(leg) + full, gross_limit))


def _exposure(limits: LimitsNode, order: LimitOrder, usage: Optional[Usage], mark: Optional[Mark],
              any_mark: Optional[Mark], size: float, no_mark: Breach, resting: bool) -> list[Breach]:
    """The position and gross limits: how far the order's leg can go with its resting orders and
    the order (a resting ``order``: already among them), beside how far it goes without it."""
    position_limit = limits.for_symbol(order.symbol).max_position_notional
    gross_limit = limits.max_gross_notional
    if position_limit is None and gross_limit is None:
        return []
    code, limit = (POSITION, position_limit) if position_limit is not None else (GROSS, gross_limit)
    assert limit is not None
    if usage is None or not usage.known:
        return [Breach(code, limit, None, "quote", "the scope's positions are not known (an account not read); "
                                                   "cannot value the position after the order", order.symbol)]
    held, why = usage.leg(order)
    if held is None:
        return [Breach(code, limit, None, "quote", f"cannot tell which position the order changes: {why}",
                       order.symbol)]
    if order.reduce_only:
        return []
    if held.unpriced:
        return [Breach(code, limit, None, "quote", f"{held.unpriced} resting order(s) of {order.symbol} have no "
                                                   "price, no mark and no trigger price; cannot value what they open",
                       order.symbol)]
    leg = _leg_of(order.position_side)
    # the position at the mark (else as the snapshot valued it)
    pv = abs(held.contracts) * mark.price * mark.contract_size if mark is not None else held.notional
    buys, sells, others = held.buys, held.sells, usage.resting
    if resting:  # at its turn: the orders listed before it (:meth:`Usage.before`), valued as summed
        if others is not None and _within(position_limit, gross_limit, usage, held, leg, pv, others):
            return []  # every resting order together stays within: so does each at its turn
        own = order_value(order.amount, order.price, order.trigger_price,
                          any_mark.price if any_mark is not None else None, size)
        turn = usage.before(limits, order.account, order.id)
        if own is None or turn is None:
            return [] if turn is None else [no_mark]
        buys, sells, others = turn
    else:
        unit = (order.price * size if order.price is not None else mark.price * mark.contract_size
                if mark is not None else held.notional / abs(held.contracts) if held.contracts else None)
        if unit is None:
            return [no_mark]
        own = order.amount * unit
    before = reach(leg, held.contracts, pv, buys, sells)
    after = (reach(leg, held.contracts, pv, plus(buys, order.amount, own), sells) if order.side == "buy"
             else reach(leg, held.contracts, pv, buys, plus(sells, order.amount, own)))
    if after <= before * (1 + _TOLERANCE):  # it takes the leg no further
        return []
    added = after - before
    said = "resting order" if resting else "this order"
    out = []
    if position_limit is not None and _over(after, position_limit):
        parts = (pv, before - pv, added)
        side = "" if leg == "BOTH" else f" ({leg})"
        out.append(Breach(POSITION, position_limit, after, "quote",
                          f"position in {order.symbol}{side} could reach {money(after)} ({parts_text(parts, said)}) "
                          f"> limit {money(position_limit)}", order.symbol, parts))
    if gross_limit is not None:
        if others is None:
            out.append(Breach(GROSS, gross_limit, None, "quote",
                              f"{usage.unpriced} resting order(s) of the scope have no price, no mark and no trigger "
                              "price; cannot value the scope's gross"))
            return out
        positions = usage.gross - held.notional + pv
        gross = usage.gross + others - reach(leg, held.contracts, held.notional, buys, sells) + after
        if _over(gross, gross_limit):
            parts = (positions, gross - positions - added, added)
            out.append(Breach(GROSS, gross_limit, gross, "quote",
                              f"gross notional of the scope could reach {money(gross)} ({parts_text(parts, said)}) "
                              f"> limit {money(gross_limit)}", None, parts))
    return out


__all__ = ["Breach", "CODES", "GROSS", "LimitOrder", "MESSAGE_RATE", "Mark", "NO_MARK", "OPEN_ORDERS",
           "ORDER_NOTIONAL", "ORDER_QUANTITY", "POSITION", "PRICE_COLLAR", "Usage", "breaches_in",
           "order_breaches", "parts_json", "parts_text", "usage_of"]
