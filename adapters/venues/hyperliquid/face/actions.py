"""The simulated Hyperliquid face's ``/exchange`` actions: orders, cancels, the scheduled cancel.

What it owns
    :class:`HyperliquidActions`: ``order`` (limit Gtc / Ioc / Alo, reduce-only ``r``, the cloid
    as the engine's client id; a trigger ``t`` is a conditional order, ``positionTpsl`` or size
    0 one that closes the position), each order's status (``resting``, ``filled`` or ``error`` in
    the venue's words), ``cancel`` (by oid) and ``cancelByCloid`` of regular and trigger orders
    alike, and ``scheduleCancel``: the engine's countdown cancel-all of every market at ``time``
    (no ``time`` removes it; one under 5 s after the action's nonce is refused).

What it must not do
    keep state beyond the request: the orders and countdowns are the engine's.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.rules import (
    MARGIN_INSUFFICIENT,
    NOTIONAL_TOO_SMALL,
    PRECISION,
    QTY_NOT_POSITIVE,
    QTY_TOO_LARGE,
    REDUCE_ONLY_REJECTED,
    TICK_SIZE,
    MarketSpec,
    SimError,
)
from .params import HyperliquidParams, _refused, _unprocessable
from .rows import CLOID_RE, TIF, dec as _dec

SCHEDULE_CANCEL_MIN_MS = 5_000
NOT_FOUND = "Order was never placed, already canceled, or filled."
NO_MATCH = "Order could not immediately match against any resting orders."


class HyperliquidActions(HyperliquidParams):
    """The ``/exchange`` actions of one request's view (see the module docstring)."""

    def act(self, account: str, action: dict, body: dict, reject_reduce_only: bool) -> Any:
        kind = action.get("type")
        if kind == "order":
            return self.orders(account, action, reject_reduce_only)
        if kind in ("cancel", "cancelByCloid"):
            return self.cancels(account, kind, action)
        if kind == "scheduleCancel":
            return self.schedule_cancel(account, action, int(body["nonce"]))
        raise _unprocessable(f"unknown variant `{kind}`")

    def orders(self, account: str, action: dict, reject_reduce_only: bool) -> dict:
        orders = action.get("orders")
        if not isinstance(orders, list) or not orders:
            raise _unprocessable("orders: expected a non-empty sequence")
        grouping = action.get("grouping", "na")
        statuses = [self.one_order(account, o, grouping, reject_reduce_only) for o in orders]
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def one_order(self, account: str, o: Any, grouping: str, reject_reduce_only: bool) -> Any:
        if not isinstance(o, dict) or not all(k in o for k in ("a", "b", "p", "s", "r", "t")):
            raise _unprocessable("order: missing field")
        asset = o["a"]
        m = self.coin(asset)
        tail = f" asset={asset}"
        cloid = o.get("c")
        if cloid is not None and (not isinstance(cloid, str) or not CLOID_RE.match(cloid)):
            raise _unprocessable("cloid: expected 16 bytes of hex")
        cid = cloid.lower() if cloid else None
        if reject_reduce_only:
            return {"error": "Reduce only order would increase position." + tail}
        try:
            px, sz = float(o["p"]), float(o["s"])
        except (TypeError, ValueError):
            raise _unprocessable("p, s: expected decimal strings") from None
        side = "BUY" if o["b"] is True else "SELL"
        t = o["t"]
        try:
            if isinstance(t, dict) and isinstance(t.get("trigger"), dict):
                return self.trigger(account, m, side, px, sz, bool(o["r"]), t["trigger"], grouping, cid)
            if not isinstance(t, dict) or not isinstance(t.get("limit"), dict) or t["limit"].get("tif") not in TIF:
                raise _unprocessable("t: expected a limit (Gtc, Ioc, Alo) or a trigger")
            placed = self.eng.place_order(account, m.symbol, side, "LIMIT", sz, px,
                                          time_in_force=TIF[t["limit"]["tif"]], reduce_only=True if o["r"] else None,
                                          client_order_id=cid)
        except SimError as e:
            return self.order_error(e, m, tail)
        ids: dict[str, Any] = {"oid": placed.order_id}
        if cid:
            ids["cloid"] = cid
        if placed.is_open and placed.executed_qty <= 0:
            return {"resting": ids}
        if placed.executed_qty > 0:
            return {"filled": {"totalSz": _dec(placed.executed_qty, m.amount_decimals),
                               "avgPx": _dec(placed.avg_price, m.price_decimals + 2), **ids}}
        return {"error": NO_MATCH + tail}

    def trigger(self, account: str, m: MarketSpec, side: str, px: float, sz: float, reduce_only: bool, trig: dict,
                grouping: str, cid: Optional[str]) -> dict:
        whole = grouping == "positionTpsl" or sz == 0
        is_market = trig.get("isMarket") is True
        kind = "TAKE_PROFIT" if trig.get("tpsl") == "tp" else "STOP"
        placed = self.eng.place_algo_order(
            account, m.symbol, side, kind + ("_MARKET" if is_market else ""), quantity=None if whole else sz,
            trigger_price=float(trig.get("triggerPx", 0)), price=None if is_market else px,
            reduce_only=None if whole else (True if reduce_only else None), close_position=whole,
            client_algo_id=cid)
        ids: dict[str, Any] = {"oid": placed.algo_id}
        if cid:
            ids["cloid"] = cid
        return {"resting": ids}

    @staticmethod
    def order_error(e: SimError, m: MarketSpec, tail: str) -> dict:
        if e.http_status in (429, 418):
            raise e
        text = {
            REDUCE_ONLY_REJECTED: "Reduce only order would increase position.",
            TICK_SIZE: "Price must be divisible by tick size.",
            NOTIONAL_TOO_SMALL: f"Order must have minimum value of ${m.min_notional:g}.",
            MARGIN_INSUFFICIENT: "Insufficient margin to place order.",
            PRECISION: "Order has invalid size.", QTY_NOT_POSITIVE: "Order has zero size.",
            QTY_TOO_LARGE: "Order has invalid size.", -2021: "Invalid TP/SL price.",
        }.get(e.code, e.msg)
        return {"error": text + tail}

    def cancels(self, account: str, kind: str, action: dict) -> dict:
        rows = action.get("cancels")
        if not isinstance(rows, list) or not rows:
            raise _unprocessable("cancels: expected a non-empty sequence")
        by_cloid = kind == "cancelByCloid"
        statuses: list[Any] = []
        for c in rows:
            if not isinstance(c, dict):
                raise _unprocessable("cancel: expected an object")
            asset, ref = (c.get("asset"), c.get("cloid")) if by_cloid else (c.get("a"), c.get("o"))
            m = self.coin(asset)
            if by_cloid and not (isinstance(ref, str) and CLOID_RE.match(ref)):
                raise _unprocessable("cloid: expected 16 bytes of hex")
            o, algo = self._find(account, str(ref).lower() if by_cloid else ref)
            try:
                if o is not None and o.symbol == m.symbol and o.is_open and not o.spot:
                    self.eng.cancel_order(account, m.symbol, order_id=o.order_id)
                elif algo is not None and algo.symbol == m.symbol and algo.is_open:
                    self.eng.cancel_algo_order(account, algo_id=algo.algo_id)
                else:
                    raise SimError(-2011, NOT_FOUND)
            except SimError as e:
                if e.http_status in (429, 418):
                    raise
                statuses.append({"error": f"{NOT_FOUND} asset={asset}"})
                continue
            statuses.append("success")
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def schedule_cancel(self, account: str, action: dict, nonce: int) -> dict:
        """Every market's countdown at ``time`` (measured from now on the server's clock, the one
        nonces come from, then kept on the engine's), or every countdown removed without it."""
        eng = self.eng
        when = action.get("time")
        if when is None:
            for symbol in list(eng.countdowns(account)):
                eng.countdown_cancel_all(account, symbol, 0)
            return {"status": "ok", "response": {"type": "default"}}
        if not isinstance(when, int) or isinstance(when, bool):
            raise _unprocessable("time: expected an integer")
        if when < nonce + SCHEDULE_CANCEL_MIN_MS:
            raise _refused("Scheduled cancel time too early, must be at least 5 seconds from now.")
        ms = max(1, when - int(self.server.auth_clock()))
        for symbol in eng.markets:
            eng.countdown_cancel_all(account, symbol, ms)
        return {"status": "ok", "response": {"type": "default"}}
