"""The simulated exchange's order book and its matching: the third layer of
:class:`~.engine.SimExchange`, on :class:`~.ledger.Ledger`.

What it owns
    :class:`Matching`: a futures order placed as Binance USDⓈ-M validates it — market and limit
    orders (GTC, IOC, FOK, GTX), reduce-only, ``positionSide`` in hedge mode,
    ``newClientOrderId`` unique per account (-4116 on a duplicate), the reduce-only rules exactly
    (larger than the position, or on the wrong side, is -2022; in hedge mode the ``reduceOnly``
    parameter itself is refused, -1106, and a close is the opposite side on a leg, no larger
    than that leg), the margin an opening order needs; and executed: fills at the mark with a
    slippage model that grows with size (:class:`~.depth.SlippageModel`) or, for a symbol given a depth
    model, by walking its order book (:mod:`.depth`: levels around the mark that refill over
    time), an optional fill ratio (partial fills, a thin book: :meth:`Matching.set_fill_ratio`),
    taker fees, realized PnL into the wallet. It keeps the resting orders and finds an order by
    id or client id.

What it must not do
    evaluate timers (the top layer's), read the wall clock or do I/O.
"""

from __future__ import annotations

import math
from typing import Optional

from .accounts import AccountState, Leg, still_open
from .depth import DepthModel, SimBook
from .ledger import Ledger
from .rules import (
    ALGO_ONLY_TYPE,
    ALGO_ONLY_TYPES,
    EPS,
    INVALID_ORDER_TYPE,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM,
    MARGIN_INSUFFICIENT,
    MAX_OPEN_ORDERS,
    MAX_OPEN_ORDERS_PER_SYMBOL,
    NOTIONAL_TOO_SMALL,
    PARAM_NOT_REQUIRED,
    POST_ONLY_REJECTED,
    REDUCE_ONLY_REJECTED,
    MarketSpec,
    SimError,
    SimOrder,
    _round_px,
    floor_step,
    order_leg,
)


class Matching(Ledger):
    """The order book of every account: orders placed, matched, filled and found."""

    def set_fill_ratio(self, ratio: float, symbol: Optional[str] = None, *,
                       rest_remainder: Optional[bool] = None) -> None:
        """Fraction of an order's quantity that fills when it is placed, rounded down to the
        amount step (the rest expires for market/IOC orders and rests for GTC limits; with
        ``rest_remainder`` the rest of an IOC limit rests too, for every symbol). While a
        symbol's ratio is below 1 its book is thin: resting orders do not fill; at 1 a crossed
        resting limit fills fully. Deterministic: the same orders fill the same amounts."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("a fill ratio is in [0, 1]")
        if symbol is None:
            self.fill_ratio = ratio
        else:
            self.fill_ratios[symbol] = ratio
        if rest_remainder is not None:
            self.rest_remainder = bool(rest_remainder)

    def set_depth(self, model: Optional[DepthModel], symbol: Optional[str] = None) -> None:
        """Give ``symbol`` (every symbol without its own, when None) an order book of ``model``
        (:mod:`.depth`), which orders taking liquidity walk instead of the slippage model and
        the fill ratio; None takes it away. The book starts full."""
        if symbol is None:
            self.depth = model
            self._sim_books.clear()
        else:
            self._market(symbol)
            self.depths[symbol] = model
            self._sim_books.pop(symbol, None)

    def _book_of(self, symbol: str) -> Optional[SimBook]:
        model = self.depths[symbol] if symbol in self.depths else self.depth
        if model is None:
            return None
        book = self._sim_books.get(symbol)
        if book is None or book.model is not model:
            book = self._sim_books[symbol] = SimBook(model, at=self.now())
        return book

    def order_book(self, symbol: str, limit: Optional[int] = None) -> tuple[list[tuple[float, float]],
                                                                             list[tuple[float, float]], int]:
        """(bids, asks, time) of ``symbol``'s book now, each side best first, at most ``limit``
        levels; both sides empty for a symbol without a depth model."""
        now = self._begin()
        m = self._market(symbol)
        book = self._book_of(m.symbol)
        if book is None:
            return [], [], now
        mark = self.mark(m.symbol, now)
        tick = m.price_tick
        return book.levels("bids", mark, tick, now, limit), book.levels("asks", mark, tick, now, limit), now

    @staticmethod
    def _live(a: AccountState) -> list[SimOrder]:
        """The account's open orders by id (only limit futures orders ever rest)."""
        return still_open(a.live)

    def _cancel_symbol(self, a: AccountState, symbol: str, ts: int, status: str,
                       limit: Optional[int] = None) -> list[int]:
        ids: list[int] = []
        for o in self._live(a):
            if limit is not None and len(ids) >= limit:
                break
            if o.symbol == symbol and o.is_open:
                ids.append(o.order_id)
                self._ended(o, status, ts)
        return ids

    # --- orders -------------------------------------------------------------------------------------------

    def _client_id(self, a: AccountState, cid: Optional[str]) -> str:
        return self.client_id(cid, "newClientOrderId", "auto", a.by_client, a.orders)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _order_start(self, account: str, symbol: str, side: str) -> tuple[int, AccountState, MarketSpec, str]:
        """A new order's start: the timers run, the account charged its request weight and its
        order count; its market, and its side (BUY or SELL)."""
        now, a = self._request(account, 1)
        self._count_order(a, now)
        m = self._market(symbol)
        side = (side or "").upper()
        if side not in ("BUY", "SELL"):
            raise SimError(INVALID_SIDE, "Invalid side.")
        return now, a, m, side

    def place_order(self, account: str, symbol: str, side: str, type: str, quantity: Optional[float],
                    price: Optional[float] = None, *, time_in_force: Optional[str] = None,
                    reduce_only: Optional[bool] = None, position_side: Optional[str] = None,
                    client_order_id: Optional[str] = None) -> SimOrder:
        """Place a futures order. ``reduce_only=None`` means "not sent" (it must not be sent in
        hedge mode). Returns a copy of the order after its immediate execution."""
        now, a, m, side = self._order_start(account, symbol, side)
        otype = (type or "").upper()
        if otype in ALGO_ONLY_TYPES:  # since Binance moved them to its algo service (place_algo_order)
            raise SimError(ALGO_ONLY_TYPE, "Order type not supported for this endpoint. Please use the Algo Order "
                           "API endpoints instead.")
        if otype not in ("MARKET", "LIMIT"):
            raise SimError(INVALID_ORDER_TYPE, "Invalid orderType.")
        if quantity is None:
            raise SimError(MANDATORY_PARAM,
                           "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        qty = m.order_quantity(float(quantity))
        tif, px = _limit_terms(m, otype, price, time_in_force)
        ps = order_leg(a.hedge_mode, position_side, reduce_only)
        cid = self._client_id(a, client_order_id)
        o = SimOrder(0, cid, account, m.symbol, side, otype, tif, qty, px, bool(reduce_only), ps, now, now,
                     contract_size=m.contract_size)
        self._check_room(a, m, o, now)
        self._submit(a, m, o, now)
        return o.copy()

    def seed_order(self, account: str, symbol: str, side: str, quantity: float, price: float,
                   position_side: Optional[str] = None) -> SimOrder:
        """Seed a resting GTC limit order (scenario setup, like ``open_position``): no rate limit,
        margin or open-order check, and not matched now (a price that crosses fills at the next
        move). What a book of thousands of resting orders is made of in a blink."""
        a, m = self._acct(account), self._market(symbol)
        now = self.now()
        o = SimOrder(0, self._client_id(a, None), account, m.symbol, side.upper(), "LIMIT", "GTC",
                     m.order_quantity(float(quantity)), float(price), False,
                     order_leg(a.hedge_mode, position_side, None), now, now, contract_size=m.contract_size)
        self._register(a, o)
        a.live[o.order_id] = o
        return o.copy()

    def _check_room(self, a: AccountState, m: MarketSpec, o: SimOrder, now: int) -> None:
        """Refuses an order the account has no room for: a close beyond what it can close; an
        opening order under the minimum notional or beyond the margin; one past the open orders'
        limit; a post-only order that would take."""
        mark = self.mark(m.symbol, now)
        if o.closes:
            if o.quantity > self._closable(a, o) + EPS:
                raise SimError(REDUCE_ONLY_REJECTED, "ReduceOnly Order is rejected.")
        else:
            ref = o.price if o.type == "LIMIT" else mark
            if o.quantity * ref * m.contract_size < m.min_notional - EPS:
                raise SimError(NOTIONAL_TOO_SMALL, f"Order's notional must be no smaller than {m.min_notional:g} "
                               "(unless you choose reduce only).")
            if not self._margin_ok(a, m, o, now):
                raise SimError(MARGIN_INSUFFICIENT, "Margin is insufficient.")
        if sum(1 for x in self._live(a) if x.symbol == m.symbol) >= MAX_OPEN_ORDERS_PER_SYMBOL:
            raise SimError(MAX_OPEN_ORDERS, "Reach max open order limit.")
        if o.time_in_force == "GTX" and self._crosses(o, mark):
            raise SimError(POST_ONLY_REJECTED, "Due to the order could not be executed as maker, the Post Only order "
                           "will be rejected.")

    def _margin_ok(self, a: AccountState, m: MarketSpec, o: SimOrder, now: int) -> bool:
        """Whether the account's available margin covers an opening order: only the part that
        opens (one-way: beyond an opposite position) needs margin, at its price or the mark."""
        opposite = self._closable(a, o)
        opening = max(0.0, o.quantity - opposite) if o.position_side == "BOTH" else o.quantity
        ref = o.price if o.type == "LIMIT" else self.mark(m.symbol, now)
        need = opening * ref * m.contract_size * (1.0 / self.leverage(a.spec.name, m.symbol) + self.taker_fee)
        return need <= self._view(a, now).available + EPS

    def _submit(self, a: AccountState, m: MarketSpec, o: SimOrder, now: int) -> None:
        """Register a validated order and execute it: what fills at once fills, a market, FOK or
        IOC remainder expires, a limit remainder rests."""
        mark = self.mark(m.symbol, now)
        tif = o.time_in_force
        if tif == "FOK" and self._book_of(m.symbol) is None and (not self._crosses(o, mark)
                                                                  or self._ratio(m.symbol) < 1.0):
            self._register(a, o)
            self._ended(o, "EXPIRED", now)
            return
        self._register(a, o)
        self._execute(a, m, o, now, resting=False)
        if o.is_open and (o.type == "MARKET" or tif == "FOK" or (tif == "IOC" and not self.rest_remainder)):
            self._ended(o, "EXPIRED", now)
        if o.is_open:
            a.live[o.order_id] = o

    def _register(self, a: AccountState, o: SimOrder) -> int:
        oid = self._new_id()
        o.order_id = oid
        a.orders[oid] = o
        a.by_client[o.client_order_id] = oid
        self._order_changed(o, "NEW", o.time)
        return oid

    def _ratio(self, symbol: str) -> float:
        return self.fill_ratios.get(symbol, self.fill_ratio)

    @staticmethod
    def _crosses(o: SimOrder, mark: float) -> bool:
        if o.type == "MARKET":
            return True
        return mark <= o.price + EPS if o.side == "BUY" else mark >= o.price - EPS

    def _execute(self, a: AccountState, m: MarketSpec, o: SimOrder, now: int, resting: bool) -> None:
        mark = self.mark(m.symbol, now)
        if o.closes:
            closable = self._closable(a, o)
            if closable <= EPS:
                if resting:  # the position is gone: a resting reduce-only order expires
                    self.events.append({"event": "expire", "account": a.spec.name, "order": o.order_id, "ts": now})
                    self._ended(o, "EXPIRED", now)
                return
        else:
            closable = math.inf
        book = None if resting else self._book_of(m.symbol)
        if book is not None:  # the order walks the book, no further than its limit price
            cap = min(o.remaining, floor_step(closable, m.amount_step) if closable != math.inf else o.remaining)
            qty, avg = book.take(o.side, cap, o.price if o.type == "LIMIT" else None, mark, m.price_tick,
                                 m.amount_step, now, all_or_none=o.time_in_force == "FOK")
            if qty > EPS:
                self._fill(a, m, o, qty, avg, now)
            return
        if not self._crosses(o, mark):
            return
        want = o.remaining
        if not resting:
            r = self._ratio(m.symbol)
            if r < 1.0:
                want = floor_step(want * r, m.amount_step)
        qty = min(want, floor_step(closable, m.amount_step) if closable != math.inf else want)
        if qty <= EPS:
            return
        bps = self.slippage.bps(qty * mark * m.contract_size)
        if o.side == "BUY":
            px = _round_px(mark * (1 + bps / 1e4), m.price_tick, up=True)
            if o.type == "LIMIT":
                px = min(px, o.price)
        else:
            px = _round_px(mark * (1 - bps / 1e4), m.price_tick, up=False)
            if o.type == "LIMIT":
                px = max(px, o.price)
        self._fill(a, m, o, qty, px, now)

    def _fill(self, a: AccountState, m: MarketSpec, o: SimOrder, qty: float, px: float, now: int) -> None:
        leg = a.legs.setdefault((m.symbol, o.position_side), Leg())
        signed = qty if o.side == "BUY" else -qty
        realized = self._apply(a, m, leg, signed, px, now)
        notional = qty * px * m.contract_size
        fee = notional * self.taker_fee
        a.wallet = a.wallet + realized - fee
        a.rev += 1
        a.fees_paid += fee
        a.realized_pnl += realized
        o.record_fill(qty, notional, fee, now)
        o.realized_pnl += realized
        self.events.append({"event": "fill", "account": a.spec.name, "order": o.order_id, "symbol": m.symbol,
                            "side": o.side, "position_side": o.position_side, "qty": qty, "price": px,
                            "fee": round(fee, 10), "realized": round(realized, 10), "ts": now})
        self._trade_id += 1
        if self.listeners:  # as Binance: the account's update, then the order's trade
            self._account_changed(a, "ORDER", [(m.symbol, o.position_side)], now)
            self._order_changed(o, "TRADE", now, last_qty=qty, last_price=px, fee=fee, realized=realized,
                                trade_id=self._trade_id, maker=o.type == "LIMIT" and o.time != now)

    def _lookup(self, a: AccountState, symbol: str, order_id: Optional[int], client_order_id: Optional[str]):
        """The market and the order an order query names (by id or client id; one is mandatory)."""
        m = self._market(symbol)
        if order_id is None and not client_order_id:
            raise SimError(MANDATORY_PARAM,
                           "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return m, self._find(a, order_id, client_order_id)

    def _find(self, a: AccountState, order_id: Optional[int], client_order_id: Optional[str]) -> Optional[SimOrder]:
        if order_id is not None:
            return a.orders.get(int(order_id))
        oid = a.by_client.get(client_order_id)
        return a.orders.get(oid) if oid is not None else None


__all__ = ["Matching"]


def _limit_terms(m: MarketSpec, otype: str, price: Optional[float], time_in_force: Optional[str]) -> tuple[str, float]:
    """A limit order's time in force and price on the tick; a market order's (GTC, 0), which
    takes no price."""
    if otype != "LIMIT":
        if price is not None and float(price) != 0:
            raise SimError(PARAM_NOT_REQUIRED, "Parameter 'price' sent when not required.")
        return "GTC", 0.0
    if price is None:
        raise SimError(MANDATORY_PARAM,
                       "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
    if time_in_force is None:
        raise SimError(MANDATORY_PARAM,
                       "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
    tif = time_in_force.upper()
    if tif not in ("GTC", "IOC", "FOK", "GTX"):
        raise SimError(INVALID_TIF, "Invalid timeInForce.")
    return tif, m.order_price(float(price))
