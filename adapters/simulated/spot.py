"""The simulated exchange's spot desk: the fourth layer of :class:`~.engine.SimExchange`, on
:class:`~.matching.Matching`.

What it owns
    :class:`SpotDesk`: an account's spot orders against its spot balances, and their lookup by
    id or client id.

    * an immediate (IOC) order fills at the mark with slippage, no worse than its protective
      limit, what it cannot fill expiring;
    * a GTC limit order fills what crosses at once and rests with the rest: listed open, filled
      when the mark crosses its price (the whole of it, as a resting futures order), cancelled
      by id, by symbol or all (and by the countdown cancel-all of its symbol);
    * a conditional order (:data:`TRIGGERS`: a stop-loss or a take-profit, as Kraken keeps them)
      rests untriggered until the mark reaches its trigger price (a stop-loss sells at or below
      it and buys at or above it, a take-profit the other way round; one already reached
      triggers at once), then is the same order working: a market order fills at the mark, a
      limit one rests at its price;
    * the balances: a sell never exceeds the base's free balance, a buy never the quote's
      (:data:`~.rules.INSUFFICIENT_BALANCE`); a resting order holds what it may spend
      (:meth:`SpotDesk.spot_locked`: a sell its remaining base, a buy its remaining quantity at
      its limit, or at its trigger for a stop's market order, and the fee), free = balance -
      held.

    Each order's change and each fill's balances are told to the engine's listeners
    (:class:`~.changes.SpotOrderChanged`, :class:`~.changes.SpotBalancesChanged`): a spot face
    that pushes renders them.

What it must not do
    touch the futures legs or wallet, read the wall clock or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .accounts import AccountState, still_open
from .matching import Matching
from .rules import (
    EPS,
    INSUFFICIENT_BALANCE,
    INVALID_ORDER_TYPE,
    INVALID_TIF,
    MANDATORY_PARAM,
    NO_SUCH_ORDER,
    PRECISION,
    QTY_NOT_POSITIVE,
    TICK_SIZE,
    UNKNOWN_ORDER,
    MarketSpec,
    SimError,
    SimOrder,
    _clean,
    _round_px,
    floor_step,
    on_grid,
)

STOP_LOSS = "STOP_LOSS"
TAKE_PROFIT = "TAKE_PROFIT"
TRIGGERS = (STOP_LOSS, TAKE_PROFIT)
NO_FUNDS = "Account has insufficient balance for requested action."


@dataclass
class SpotOrder(SimOrder):
    """A spot order that may wait for a trigger: ``trigger`` (one of :data:`TRIGGERS`, "" for
    none) at ``trigger_price``; ``trigger_time`` when it triggered (0: still waiting)."""

    trigger: str = ""
    trigger_price: float = 0.0
    trigger_time: int = 0

    @property
    def waiting(self) -> bool:
        return bool(self.trigger) and not self.trigger_time and self.is_open


def reached(o: SpotOrder, mark: float) -> bool:
    """Whether the mark has reached a conditional order's trigger."""
    rising = (o.side == "BUY") == (o.trigger == STOP_LOSS)  # a buy stop-loss, a sell take-profit
    return mark >= o.trigger_price - EPS if rising else mark <= o.trigger_price + EPS


class SpotDesk(Matching):
    """Every account's spot orders."""

    def place_spot_order(self, account: str, symbol: str, side: str, quantity: float, price: Optional[float] = None,
                         *, client_order_id: Optional[str] = None, time_in_force: str = "IOC",
                         trigger: Optional[str] = None, trigger_price: Optional[float] = None) -> SimOrder:
        """A spot order on ``symbol``'s base against its quote's spot balance. IOC (the default):
        immediate, at the mark with slippage, ``price`` a protective limit, never resting. GTC:
        a limit order (``price``) that rests what does not fill at once. ``trigger``
        (:data:`TRIGGERS`) with ``trigger_price``: a conditional order that rests until the mark
        reaches its trigger, then works as a market order (no ``price``) or a GTC limit."""
        now, a, m, side = self._order_start(account, symbol, side)
        qty = float(quantity)
        if qty <= 0:
            raise SimError(QTY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if not on_grid(qty, m.amount_step):
            raise SimError(PRECISION, "Precision is over the maximum defined for this asset.")
        if qty < m.min_amount - EPS:
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        px_limit = None if price is None or float(price) == 0 else self._spot_price(m, price)
        tif = (time_in_force or "IOC").upper()
        if tif not in ("IOC", "GTC"):
            raise SimError(INVALID_TIF, "Invalid timeInForce.")
        trig = (trigger or "").upper()
        if trig and trig not in TRIGGERS:
            raise SimError(INVALID_ORDER_TYPE, "Invalid orderType.")
        if trig:
            if trigger_price is None:
                raise SimError(MANDATORY_PARAM, "Mandatory parameter 'stopPrice' was not sent, was empty/null, "
                               "or malformed.")
            tif = "GTC"
        elif tif == "GTC" and px_limit is None:
            raise SimError(MANDATORY_PARAM, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        trig_px = self._spot_price(m, trigger_price) if trig else 0.0
        mark = self.mark(m.symbol, now)
        if qty * (mark if tif == "IOC" else px_limit or trig_px) < m.min_notional - EPS:
            raise SimError(-1013, "Filter failure: NOTIONAL")
        kind = "LIMIT" if px_limit else "MARKET"
        if tif == "IOC":  # a plain order of the book's shape: nothing rests or triggers
            now_order = SimOrder(0, "", account, m.symbol, side, kind, tif, qty, px_limit or 0.0, False, "BOTH", now,
                                 now, spot=True)
            self._spot_immediate(a, m, now_order, client_order_id, now)
            return now_order.copy()
        o = SpotOrder(0, "", account, m.symbol, side, kind, tif, qty, px_limit or 0.0, False, "BOTH", now, now,
                      spot=True, trigger=trig, trigger_price=trig_px)
        if side == "SELL" and self._spot_free(a, m.base) < qty - EPS:
            raise SimError(INSUFFICIENT_BALANCE, NO_FUNDS)
        if side == "BUY" and self._spot_free(a, m.quote) < self._spot_hold(o)[1] - EPS:
            raise SimError(INSUFFICIENT_BALANCE, NO_FUNDS)
        o.client_order_id = self._client_id(a, client_order_id)
        self._register(a, o)
        a.spot_live[o.order_id] = o
        self.events.append({"event": "spot_order", "account": account, "order": o.order_id, "symbol": m.symbol,
                            "side": side, "qty": qty, "price": o.price, "trigger": trig, "trigger_price": trig_px,
                            "ts": now})
        self._spot_work(a, m, o, now, arriving=True)
        return o.copy()

    def _spot_price(self, m: MarketSpec, price: Any) -> float:
        px = float(price)
        if px <= 0 or not on_grid(px, m.price_tick):
            raise SimError(TICK_SIZE, "Price not increased by tick size.")
        return px

    def _spot_immediate(self, a: AccountState, m: MarketSpec, o: SimOrder, client_order_id: Optional[str],
                        now: int) -> None:
        """An IOC order: what it can fill now fills, the rest expires."""
        if o.side == "SELL" and self._spot_free(a, m.base) < o.quantity - EPS:
            raise SimError(INSUFFICIENT_BALANCE, NO_FUNDS)
        o.client_order_id = self._client_id(a, client_order_id)
        fill, px = self._spot_match(m, o, now, self._ratio(m.symbol))
        if o.side == "BUY" and self._spot_free(a, m.quote) < fill * px * (1 + self.taker_fee) - EPS:
            raise SimError(INSUFFICIENT_BALANCE, NO_FUNDS)
        self._register(a, o)
        if fill > 0:
            self._spot_fill(a, m, o, fill, px, now)
        o.status = "FILLED" if o.remaining <= EPS else "EXPIRED"
        if o.status == "EXPIRED":
            self._order_changed(o, "EXPIRED", now)

    def _spot_match(self, m: MarketSpec, o: SimOrder, now: int, ratio: float) -> tuple[float, float]:
        """What of ``o`` fills now (``ratio`` of what is left, on the step) and at what price: the
        mark with slippage, no worse than its limit; nothing when the limit is not crossed."""
        mark = self.mark(m.symbol, now)
        qty = o.remaining
        bps = self.slippage.bps(qty * mark)
        limit = o.price if o.type == "LIMIT" else None
        if o.side == "BUY":
            px = _round_px(mark * (1 + bps / 1e4), m.price_tick, up=True)
            ok = limit is None or mark <= limit + EPS
            px = min(px, limit) if limit else px
        else:
            px = _round_px(mark * (1 - bps / 1e4), m.price_tick, up=False)
            ok = limit is None or mark >= limit - EPS
            px = max(px, limit) if limit else px
        fill = floor_step(qty * ratio, m.amount_step) if ok else 0.0
        return fill, px

    def _spot_fill(self, a: AccountState, m: MarketSpec, o: SimOrder, fill: float, px: float, now: int) -> None:
        notional = fill * px
        fee = notional * self.taker_fee
        sign = 1 if o.side == "BUY" else -1
        a.spot[m.base] = _clean(a.spot.get(m.base, 0.0) + sign * fill)
        a.spot[m.quote] = a.spot.get(m.quote, 0.0) - sign * notional - fee
        a.fees_paid += fee
        o.record_fill(fill, notional, fee, now)
        self.events.append({"event": "spot_fill", "account": a.spec.name, "order": o.order_id, "symbol": m.symbol,
                            "side": o.side, "qty": fill, "price": px, "fee": round(fee, 10), "ts": now})
        self._spot_balances_changed(a, (m.base, m.quote), now)
        self._order_changed(o, "TRADE", now, last_qty=fill, last_price=px, fee=fee)

    def _spot_work(self, a: AccountState, m: MarketSpec, o: SpotOrder, now: int, arriving: bool = False) -> None:
        """A resting order at ``now``: a conditional one whose trigger the mark reached triggers;
        a working one fills what crosses (on arrival as much as the fill ratio gives; resting,
        the whole of it, unless the book is thin); a triggered market order's rest expires."""
        mark = self.mark(m.symbol, now)
        if o.waiting:
            if not reached(o, mark):
                return
            o.trigger_time = o.update_time = now
            self.events.append({"event": "spot_trigger", "account": a.spec.name, "order": o.order_id,
                                "symbol": m.symbol, "ts": now})
            arriving = True
        ratio = self._ratio(m.symbol)
        if not arriving and ratio < 1.0:
            return  # a thin book has no liquidity for resting orders
        fill, px = self._spot_match(m, o, now, ratio if arriving else 1.0)
        if fill > 0:
            asset, need = (m.quote, fill * px * (1 + self.taker_fee)) if o.side == "BUY" else (m.base, fill)
            if a.spot.get(asset, 0.0) - self._spot_held(a, asset, but=o) < need - EPS:  # the venue cancels it
                self.events.append({"event": "spot_cancel", "account": a.spec.name, "order": o.order_id,
                                    "reason": "insufficient funds", "ts": now})
                self._ended(o, "CANCELED", now)
                return
            self._spot_fill(a, m, o, fill, px, now)
        if o.type == "MARKET" and o.is_open:  # what a triggered market order could not fill expires
            self._ended(o, "EXPIRED", now)

    def _spot_tick(self, a: AccountState, now: int) -> None:
        for o in still_open(a.spot_live):
            self._spot_work(a, self.markets[o.symbol], o, now)

    # --- balances -------------------------------------------------------------------------------------

    def _spot_hold(self, o: SimOrder) -> tuple[str, float]:
        """The asset an open order holds and how much: a sell its remaining base; a buy its
        remaining quantity at its limit (a stop's market order: at its trigger) and the fee."""
        m = self.markets[o.symbol]
        if o.side == "SELL":
            return m.base, o.remaining
        ref = o.price if o.type == "LIMIT" else getattr(o, "trigger_price", 0.0)
        return m.quote, o.remaining * ref * (1 + self.taker_fee)

    def _spot_held(self, a: AccountState, asset: str, but: Optional[SimOrder] = None) -> float:
        held = 0.0
        for o in still_open(a.spot_live):
            if o is not but:
                what, n = self._spot_hold(o)
                held += n if what == asset else 0.0
        return held

    def _spot_free(self, a: AccountState, asset: str) -> float:
        return a.spot.get(asset, 0.0) - self._spot_held(a, asset)

    def spot_locked(self, account: str) -> dict[str, float]:
        """What the account's resting spot orders hold, by asset (no weight, no timers: a face
        reads it beside the balances it was charged for)."""
        out: dict[str, float] = {}
        for o in still_open(self._acct(account).spot_live):
            asset, n = self._spot_hold(o)
            out[asset] = out.get(asset, 0.0) + n
        return out

    # --- queries and cancels ------------------------------------------------------------------------------

    def get_spot_order(self, account: str, client_order_id: Optional[str] = None,
                       order_id: Optional[int] = None) -> SimOrder:
        now, a = self._request(account, 1)
        o = self._find(a, order_id, client_order_id) if order_id is not None or client_order_id else None
        if o is None or not o.spot or not a.shown(o.order_id):
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()

    def open_spot_orders(self, account: str, symbol: Optional[str] = None, *, weight: int = 1) -> list[SimOrder]:
        now, a = self._request(account, weight)
        sym = self._market(symbol).symbol if symbol else None
        return [o.copy() for o in still_open(a.spot_live) if (sym is None or o.symbol == sym) and a.shown(o.order_id)]

    def cancel_spot_order(self, account: str, order_id: Optional[int] = None,
                          client_order_id: Optional[str] = None) -> SimOrder:
        now, a = self._request(account, 1)
        o = self._find(a, order_id, client_order_id) if order_id is not None or client_order_id else None
        if o is None or not o.spot or not o.is_open:
            raise SimError(UNKNOWN_ORDER, "Unknown order sent.")
        self._spot_end(a, [o], now, "spot_cancel")
        return o.copy()

    def cancel_all_spot(self, account: str, symbol: Optional[str] = None) -> list[SimOrder]:
        """Cancel every resting spot order of the account (of ``symbol``); the orders cancelled."""
        now, a = self._request(account, 1)
        sym = self._market(symbol).symbol if symbol else None
        done = self._spot_end(a, [o for o in still_open(a.spot_live) if sym is None or o.symbol == sym], now,
                              "spot_cancel_all")
        return [o.copy() for o in done]

    def _spot_end(self, a: AccountState, orders: list[SimOrder], ts: int, event: str) -> list[SimOrder]:
        for o in orders:
            self._ended(o, "CANCELED", ts)
        if orders:
            self.events.append({"event": event, "account": a.spec.name, "orders": [o.order_id for o in orders],
                                "ts": ts})
        return orders

    def _cancel_spot_symbol(self, a: AccountState, symbol: str, ts: int) -> list[int]:
        """The countdown cancel-all's part: every resting spot order of ``symbol`` cancelled."""
        return [o.order_id for o in self._spot_end(a, [o for o in still_open(a.spot_live) if o.symbol == symbol],
                                                   ts, "spot_countdown_cancel")]


__all__ = ["STOP_LOSS", "SpotDesk", "SpotOrder", "TAKE_PROFIT", "TRIGGERS", "reached"]
