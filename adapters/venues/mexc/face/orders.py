"""The simulated MEXC contract face's writes: an order placed, orders and trigger orders cancelled.

What it owns
    :class:`MexcOrders`: ``order/create`` (``side`` 1 open long, 2 close short, 3 open short,
    4 close long; in hedge mode the code names the leg, in one-way mode a close code, or
    ``reduceOnly`` true, only reduces; ``type`` 1 limit, 2 post only, 3 IOC, 4 FOK, 5 market,
    6 market at the current price; ``externalOid`` of at most 32 characters, 2030 beyond;
    ``openType`` 2 cross: the engine keeps one cross margin, so an isolated close is refused as
    MEXC refuses a close of a position it does not hold, 2009; a ``positionMode`` other than the
    account's is refused, 600), answered ``data: {orderId, ts}``; ``order/cancel`` (a list of
    ids, at most 50, 2013 beyond: each row ``{orderId, errorCode, errorMsg}``, 0 "success", 2040 "order not
    exist", 2041 "order state cannot be cancelled"); ``order/cancel_all`` (every regular order of
    the symbol, or of the account, answered ``success`` with no list); ``planorder/cancel`` (a
    list of ``{symbol, orderId}``), ``planorder/cancel_all``, ``stoporder/cancel`` (a list of
    ``{stopPlanOrderId}``) and ``stoporder/cancel_all``, each answered ``success`` with no list
    (a trigger order the account has not is 2040).

What it must not do
    keep state beyond the request: the orders are the engine's.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.engine import SimError, SimOrder
from .rows import MexcRows, is_plan, is_stop
from .wire import CANNOT_CANCEL, NO_POSITION, NOT_FOUND, OVER_LIMIT, PARAMS, SIDES, TOO_LONG

TYPES = {1: ("LIMIT", "GTC"), 2: ("LIMIT", "GTX"), 3: ("LIMIT", "IOC"), 4: ("LIMIT", "FOK"), 5: ("MARKET", None),
         6: ("MARKET", None)}
MAX_CANCEL = 50


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class MexcOrders(MexcRows):
    """The writes of one request's view (see the module docstring)."""

    def place(self, account: str, p: Any) -> dict:
        eng = self.engine
        if not isinstance(p, dict):
            raise self.fail(*PARAMS)
        m = self.contract(p.get("symbol"))
        assert m is not None
        code, kind, open_type = _int(p.get("side")), _int(p.get("type")), _int(p.get("openType"))
        if code not in SIDES or kind not in TYPES or open_type not in (1, 2):
            raise self.fail(*PARAMS)
        cid = str(p.get("externalOid") or "")
        if len(cid) > 32:
            raise self.fail(*TOO_LONG)
        vol = self.number(p, "vol", required=True)
        otype, tif = TYPES[kind]
        price = self.number(p, "price", required=True) if otype == "LIMIT" else None
        side, leg, closes = SIDES[code]
        hedge = eng.hedge_mode(account)
        mode = _int(p.get("positionMode"))
        if mode is not None and mode != (1 if hedge else 2):
            raise self.fail(*PARAMS)
        if hedge:
            if p.get("reduceOnly") is not None:  # "two-way positions will not accept this parameter"
                raise self.fail(*PARAMS)
            reduce_only: Optional[bool] = None
        else:
            leg = "BOTH"
            reduce_only = True if (closes or p.get("reduceOnly") is True) else None
        if open_type == 1 and (closes or reduce_only):  # no isolated position to close: the engine's are cross
            raise self.fail(*NO_POSITION)
        o = eng.place_order(account, m.symbol, side, otype, vol, price, time_in_force=tif, reduce_only=reduce_only,
                            position_side=leg, client_order_id=cid or None)
        return self.ok({"orderId": str(o.order_id), "ts": o.time})

    def _find(self, account: str, oid: Any) -> tuple[Optional[SimOrder], bool]:
        """The order of ``oid`` (None: the account has none) and whether it is still open."""
        n = _int(oid)
        if n is None:
            return None, False
        for o in self.engine.open_orders(account, None, weight=0):
            if o.order_id == n:
                return o, True
        for m in self.engine.markets.values():
            try:
                return self.engine.get_order(account, m.symbol, n, None), False
            except SimError:
                continue
        return None, False

    def cancel(self, account: str, p: Any) -> dict:
        """order/cancel: each listed id's row (more than 50: 2013, nothing cancelled)."""
        if not isinstance(p, list) or not p:
            raise self.fail(*PARAMS)
        if len(p) > MAX_CANCEL:
            raise self.fail(*OVER_LIMIT)
        rows = []
        for oid in p:
            o, live = self._find(account, oid)
            if o is None:
                rows.append({"orderId": oid, "errorCode": NOT_FOUND[0], "errorMsg": NOT_FOUND[1]})
            elif not live:
                rows.append({"orderId": oid, "errorCode": CANNOT_CANCEL[0], "errorMsg": CANNOT_CANCEL[1]})
            else:
                self.engine.cancel_order(account, o.symbol, o.order_id)
                rows.append({"orderId": oid, "errorCode": 0, "errorMsg": "success"})
        return self.ok(rows)

    def cancel_all(self, account: str, p: Any) -> dict:
        """order/cancel_all: every regular order of the symbol (of the account without one)."""
        m = self.contract((p or {}).get("symbol"), required=False)
        symbols = [m.symbol] if m else sorted({o.symbol for o in self.engine.open_orders(account, None, weight=0)})
        for symbol in symbols:
            self.engine.cancel_all(account, symbol)
        return self.ok()

    def cancel_algos(self, account: str, path: str, p: Any) -> dict:
        """planorder/… and stoporder/…: cancel / cancel_all of the engine's conditional orders
        MEXC keeps in that list."""
        keeps = is_plan if "/planorder/" in path else is_stop
        mine = [o for o in self.engine.open_algo_orders(account, None, weight=0) if keeps(o)]
        if path.endswith("/cancel_all"):
            m = self.contract((p or {}).get("symbol"), required=False)
            targets = [o for o in mine if m is None or o.symbol == m.symbol]
        else:
            if not isinstance(p, list) or not p:
                raise self.fail(*PARAMS)
            if len(p) > MAX_CANCEL:
                raise self.fail(*OVER_LIMIT)
            key = "orderId" if "/planorder/" in path else "stopPlanOrderId"
            by_id = {str(o.algo_id): o for o in mine}
            targets = []
            for ref in p:
                o = by_id.get(str(ref.get(key))) if isinstance(ref, dict) else None
                if o is None:
                    raise self.fail(*NOT_FOUND)
                targets.append(o)
        for o in targets:
            self.engine.cancel_algo_order(account, o.algo_id)
        return self.ok()


__all__ = ["MAX_CANCEL", "MexcOrders", "TYPES"]
