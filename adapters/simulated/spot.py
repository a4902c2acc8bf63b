"""The simulated exchange's spot desk: the fourth layer of :class:`~.engine.SimExchange`, on
:class:`~.matching.Matching`.

What it owns
    :class:`SpotDesk`: an immediate (IOC) spot order against an account's spot balances, at the
    mark with slippage and a protective limit, never resting, and its lookup by client id.

What it must not do
    touch the futures legs or wallet, read the wall clock or do I/O.
"""

from __future__ import annotations

from typing import Optional

from .matching import Matching
from .rules import (
    EPS,
    INSUFFICIENT_BALANCE,
    NO_SUCH_ORDER,
    PRECISION,
    QTY_NOT_POSITIVE,
    TICK_SIZE,
    SimError,
    SimOrder,
    _clean,
    _round_px,
    floor_step,
    on_grid,
)


class SpotDesk(Matching):
    """Every account's spot orders."""

    def place_spot_order(self, account: str, symbol: str, side: str, quantity: float, price: Optional[float] = None,
                         *, client_order_id: Optional[str] = None) -> SimOrder:
        """An immediate (IOC) spot order on ``symbol``'s base against the USDT spot balance, at
        the mark with slippage; ``price`` is a protective limit. Never rests."""
        now, a, m, side = self._order_start(account, symbol, side)
        qty = float(quantity)
        if qty <= 0:
            raise SimError(QTY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if not on_grid(qty, m.amount_step):
            raise SimError(PRECISION, "Precision is over the maximum defined for this asset.")
        if qty < m.min_amount - EPS:
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        px_limit = None
        if price is not None:
            px_limit = float(price)
            if not on_grid(px_limit, m.price_tick):
                raise SimError(TICK_SIZE, "Price not increased by tick size.")
        mark = self.mark(m.symbol, now)
        if qty * mark < m.min_notional - EPS:
            raise SimError(-1013, "Filter failure: NOTIONAL")
        if side == "SELL" and a.spot.get(m.base, 0.0) < qty - EPS:
            raise SimError(INSUFFICIENT_BALANCE, "Account has insufficient balance for requested action.")
        cid = self._client_id(a, client_order_id)
        o = SimOrder(0, cid, account, m.symbol, side, "LIMIT" if px_limit else "MARKET", "IOC", qty, px_limit or 0.0,
                     False, "BOTH", now, now, spot=True)
        bps = self.slippage.bps(qty * mark)
        if side == "BUY":
            px = _round_px(mark * (1 + bps / 1e4), m.price_tick, up=True)
            ok = px_limit is None or mark <= px_limit + EPS
            px = min(px, px_limit) if px_limit else px
        else:
            px = _round_px(mark * (1 - bps / 1e4), m.price_tick, up=False)
            ok = px_limit is None or mark >= px_limit - EPS
            px = max(px, px_limit) if px_limit else px
        fill = floor_step(qty * self._ratio(m.symbol), m.amount_step) if ok else 0.0
        if side == "BUY" and a.spot.get(m.quote, 0.0) < fill * px * (1 + self.taker_fee) - EPS:
            raise SimError(INSUFFICIENT_BALANCE, "Account has insufficient balance for requested action.")
        self._register(a, o)
        if fill > 0:
            notional = fill * px
            fee = notional * self.taker_fee
            sign = 1 if side == "BUY" else -1
            a.spot[m.base] = _clean(a.spot.get(m.base, 0.0) + sign * fill)
            a.spot[m.quote] = a.spot.get(m.quote, 0.0) - sign * notional - fee
            a.fees_paid += fee
            o.executed_qty, o.cum_quote, o.fee = fill, notional, fee
            self.events.append({"event": "spot_fill", "account": account, "order": o.order_id, "symbol": m.symbol,
                                "side": side, "qty": fill, "price": px, "fee": round(fee, 10), "ts": now})
        o.status = "FILLED" if o.remaining <= EPS else "EXPIRED"
        return o.copy()

    def get_spot_order(self, account: str, client_order_id: str) -> SimOrder:
        now, a = self._request(account, 1)
        o = self._find(a, None, client_order_id)
        if o is None or not o.spot or not a.shown(o.order_id):
            raise SimError(NO_SUCH_ORDER, "Order does not exist.")
        return o.copy()


__all__ = ["SpotDesk"]
