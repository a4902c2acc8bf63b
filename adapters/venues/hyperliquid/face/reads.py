"""The simulated Hyperliquid face's ``/info`` reads: the coins, an account's state, its open orders.

What it owns
    :class:`HyperliquidReads`: ``metaAndAssetCtxs`` (the coins and their marks),
    ``clearinghouseState`` (the account's equity and one-way positions; an address no account
    has reads as an empty account), ``frontendOpenOrders`` / ``openOrders`` (the engine's
    regular and conditional books), ``orderStatus`` (by oid or cloid), ``userFills`` /
    ``userFillsByTime`` (the account's trades) and ``userAbstraction``,
    each as of ``at`` when a frozen feed asks; the rows are :mod:`.rows`'.

What it must not do
    change the engine.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.rules import SimError, SimOrder
from .params import HyperliquidParams, _unprocessable
from .rows import (
    ALGO_STATUS,
    clearinghouse,
    dec as _dec,
    empty_clearinghouse,
    fill_row,
    order_row,
    order_status,
    trigger_row,
)


class HyperliquidReads(HyperliquidParams):
    """The ``/info`` reads of one request's view (see the module docstring)."""

    def info(self, kind: str, body: dict, account: Optional[str], at: Optional[int]) -> Any:
        eng = self.eng
        if kind == "metaAndAssetCtxs":
            return self.meta(eng.now() if at is None else at)
        if kind == "userAbstraction":
            return "default"
        if kind == "clearinghouseState":
            return self.clearinghouse(account, at)
        if kind in ("frontendOpenOrders", "openOrders"):
            if account is None:
                return []
            rows = [self.row(o) for o in eng.open_orders(account) if o.symbol in self.index]
            rows += [self.trigger_row(o) for o in eng.open_algo_orders(account) if o.symbol in self.index]
            return sorted(rows, key=lambda r: r["oid"])
        if kind == "orderStatus":
            return self.order_status(account, body.get("oid"))
        if kind in ("userFills", "userFillsByTime"):
            return self.fills(kind, body, account)
        raise _unprocessable(f"unknown variant `{kind}`")

    def fills(self, kind: str, body: dict, account: Optional[str]) -> list:
        """``userFills`` (the newest 2,000) or ``userFillsByTime`` (``startTime`` to ``endTime``,
        the first 2,000): the account's trades, newest first, as the venue documents a fill
        (weight 20; an address no account has: none)."""
        if kind == "userFillsByTime":
            start, end = body.get("startTime"), body.get("endTime")
            if not isinstance(start, int) or isinstance(start, bool) or not (end is None or isinstance(end, int)):
                raise _unprocessable("startTime: expected an integer of milliseconds")
        else:
            start, end = None, None
        if account is None:
            return []
        trades = self.eng.trades(account, None, start, 0, until=end, weight=20)
        trades = trades[:2000] if kind == "userFillsByTime" else trades[-2000:]
        orders = self.eng.accounts[account].orders
        return [fill_row(self.eng, t, orders.get(t["order"])) for t in reversed(trades) if t["symbol"] in self.index]

    def meta(self, at: int) -> list:
        eng = self.eng
        universe_rows, ctxs = [], []
        for m in self.coins:
            pd = m.price_decimals
            mark = _dec(eng.mark(m.symbol, at), pd)
            universe_rows.append({"name": m.base, "szDecimals": m.amount_decimals, "maxLeverage": m.max_leverage,
                                  "onlyIsolated": False})
            ctxs.append({"dayNtlVlm": "0.0", "funding": "0.0000125", "impactPxs": [mark, mark], "markPx": mark,
                         "midPx": mark, "openInterest": "0.0", "oraclePx": mark, "premium": "0.0",
                         "prevDayPx": _dec(eng.mark(m.symbol, at - 86_400_000), pd)})
        return [{"universe": universe_rows}, ctxs]

    def clearinghouse(self, account: Optional[str], at: Optional[int]) -> dict:
        eng = self.eng
        now = eng.now() if at is None else at
        if account is None:  # the venue answers any address: an empty account
            return empty_clearinghouse(now)
        v = eng.account_state(account, at=now)
        return clearinghouse(eng, self.index, eng.positions(account, at=now), v, now)

    def row(self, o: SimOrder) -> dict:
        return order_row(self.eng, o)

    def trigger_row(self, o: Any) -> dict:
        return trigger_row(self.eng, o)

    def order_status(self, account: Optional[str], oid: Any) -> dict:
        if account is None:
            self._find_shape(oid)
            return {"status": "unknownOid"}
        o, algo = self._find(account, oid)
        eng = self.eng
        try:
            if o is not None and not o.spot and o.symbol in self.index:
                o = eng.get_order(account, o.symbol, order_id=o.order_id)  # weight, hiding, timers
                return {"status": "order", "order": {"order": self.row(o), "status": self.status(o),
                                                     "statusTimestamp": o.update_time}}
            if algo is not None and algo.symbol in self.index:
                algo = eng.get_algo_order(account, algo_id=algo.algo_id)
                status = ALGO_STATUS.get(algo.status, "canceled")
                return {"status": "order", "order": {"order": self.trigger_row(algo), "status": status,
                                                     "statusTimestamp": algo.update_time}}
        except SimError as e:
            if e.http_status in (429, 418):
                raise
        return {"status": "unknownOid"}

    @staticmethod
    def status(o: SimOrder) -> str:
        return order_status(o)
