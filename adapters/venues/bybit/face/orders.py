"""The simulated Bybit v5 face's orders, regular and conditional: their lists, placing and cancelling them.

What it owns
    :class:`BybitOrders`: ``order/realtime`` (open orders) and ``order/history`` (ended ones)
    of every kind unless ``orderFilter`` says one, an order's row and a conditional order's
    (``stopOrderType`` Stop or TrailingStop), ``order/create`` (a ``triggerPrice`` makes it
    conditional, in the engine's conditional book; ``reduceOnly`` kept in hedge mode as Bybit
    keeps it), ``order/cancel`` of any order by ``orderId`` or ``orderLinkId``, and
    ``order/cancel-all`` of a symbol or a settle coin.

What it must not do
    keep state beyond the request: the orders are the engine's.
"""

from __future__ import annotations

from typing import Optional, cast

from ....simulated.conditional import LIMIT_TYPES, SimAlgoOrder
from ....simulated.engine import SimOrder
from ....simulated.faces.shared import REQUEST_WEIGHT
from .params import BybitParams, _flag, _num
from .wire import (
    ALGO_STATUS,
    FALLING_TRIGGER,
    IDX_OF_LEG,
    LEG_OF_IDX,
    ORDER_FILTERS,
    ORDER_STATUS,
    RET_CODES,
    RISING_TRIGGER,
    TIF_IN,
    TIF_OUT,
    BybitFail,
    _digits,
    _f,
    _money,
    _params,
)

# The most orders one cancel-all takes on futures, by Bybit's documentation (linear and inverse:
# at most 500; holding more, the venue picks 500 and the rest stay open; spot and options
# unlimited): https://bybit-exchange.github.io/docs/v5/order/cancel-all
CANCEL_ALL_CAP = 500


class BybitOrders(BybitParams):
    """The orders of one request's view (see the module docstring)."""

    def _orders(self, account: str, p: dict, open_only: bool) -> dict:
        """``order/realtime`` (open orders) or ``order/history`` (ended ones), newest first."""
        markets = self._scope(p, need=open_only and not (p.get("orderId") or p.get("orderLinkId")))
        op = "open_orders" if open_only else "get_order"
        if markets is None:
            return self._page([], p, op, p["category"])
        eng = self.engine
        symbols = {m.symbol for m in markets}
        flt = p.get("orderFilter") or None
        if flt is not None and flt not in ORDER_FILTERS:
            raise _params(f"params error: orderFilter {flt} is invalid")
        symbol = p.get("symbol") or None
        regular: list[SimOrder] = []
        algos: list[SimAlgoOrder] = []
        a = eng.accounts[account]
        if open_only:
            if flt in (None, "Order"):
                regular = eng.open_orders(account, symbol, weight=REQUEST_WEIGHT)
            if flt in (None, "StopOrder", "tpslOrder") and (eng.has_algo_orders(account) or flt is not None):
                algos = eng.open_algo_orders(account, symbol, weight=REQUEST_WEIGHT)
        else:
            eng.tick()  # (the engine's due timers first, as each of its reads does)
            eng.charge(account, 1)
            hidden = a.hidden
            regular = [o.copy() for o in a.orders.values() if not o.is_open and not o.spot] if flt in (None, "Order") \
                else []
            for o in list(regular):
                if o.order_id in hidden:  # hidden from this query, once
                    hidden.discard(o.order_id)
                    regular.remove(o)
            algos = [o.copy() for o in a.algos.values() if not o.is_open] if flt in (None, "StopOrder", "tpslOrder") \
                else []
        if flt == "StopOrder":
            algos = [o for o in algos if o.order_type != "TRAILING_STOP_MARKET"]
        elif flt == "tpslOrder":
            algos = [o for o in algos if o.order_type == "TRAILING_STOP_MARKET"]
        rows = [(o.order_id, self._order(o)) for o in regular if o.symbol in symbols]
        rows += [(o.algo_id, self._algo(o, account)) for o in algos if o.symbol in symbols]
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if oid:
            rows = [r for r in rows if r[1]["orderId"] == str(oid)]
        if link:
            rows = [r for r in rows if r[1]["orderLinkId"] == link]
        status = p.get("orderStatus")
        if status:
            wanted = set(str(status).split(","))
            rows = [r for r in rows if r[1]["orderStatus"] in wanted]
        rows.sort(key=lambda r: -r[0])
        return self._page([r for _, r in rows], p, op, "linear")

    def _order(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        pd, ad = _digits(m)
        if o.status in ORDER_STATUS:
            status = ORDER_STATUS[o.status]
        else:  # CANCELED, EXPIRED: a market or IOC remainder is cancelled too
            status = "PartiallyFilledCanceled" if o.executed_qty > 0 else "Cancelled"
        leaves = o.remaining if o.is_open else 0.0
        return {
            "orderId": str(o.order_id), "orderLinkId": o.client_order_id, "blockTradeId": "", "symbol": o.symbol,
            "price": _f(o.price, pd), "qty": _f(o.quantity, ad), "side": o.side.capitalize(), "isLeverage": "",
            "positionIdx": IDX_OF_LEG[o.position_side], "orderStatus": status,
            "cancelType": "CancelByUser" if o.status == "CANCELED" else "UNKNOWN", "rejectReason": "EC_NoError",
            "avgPrice": _f(o.avg_price, pd + 2) if o.executed_qty > 0 else "0", "leavesQty": _f(leaves, ad),
            "leavesValue": _money(leaves * o.price), "cumExecQty": _f(o.executed_qty, ad),
            "cumExecValue": _money(o.cum_quote), "cumExecFee": _money(o.fee),
            "timeInForce": TIF_OUT.get(o.time_in_force, o.time_in_force), "orderType": o.type.capitalize(),
            "stopOrderType": "", "orderIv": "", "triggerPrice": "0", "takeProfit": "", "stopLoss": "",
            "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "UNKNOWN",
            "lastPriceOnCreated": "", "reduceOnly": o.closes, "closeOnTrigger": False, "smpType": "None",
            "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "", "slLimitPrice": "",
            "placeType": "", "createdTime": str(o.time), "updatedTime": str(o.update_time),
        }

    def _algo(self, o: SimAlgoOrder, account: str) -> dict:
        eng = self.engine
        m = eng.markets[o.symbol]
        pd, ad = _digits(m)
        trailing = o.order_type == "TRAILING_STOP_MARKET"
        if trailing:  # the price it triggers at now: the best mark, the callback back from it
            best = o.best_mark or eng.mark(o.symbol)
            rate = o.callback_rate / 100.0
            trigger = best * (1 - rate) if o.side == "SELL" else best * (1 + rate)
            rising = o.side == "BUY"
        else:
            trigger = o.trigger_price
            rising = (o.side == "BUY") == o.order_type.startswith("STOP")
        limit = o.order_type in LIMIT_TYPES
        return {
            "orderId": str(o.algo_id), "orderLinkId": o.client_algo_id, "blockTradeId": "", "symbol": o.symbol,
            "price": _f(o.price, pd) if limit else "0", "qty": _f(o.quantity, ad), "side": o.side.capitalize(),
            "isLeverage": "", "positionIdx": IDX_OF_LEG[o.position_side], "orderStatus": ALGO_STATUS[o.status],
            "cancelType": "CancelByUser" if o.status == "CANCELED" else "UNKNOWN",
            "rejectReason": "EC_NoError", "avgPrice": "0", "leavesQty": _f(o.quantity if o.is_open else 0, ad),
            "leavesValue": "0", "cumExecQty": "0", "cumExecValue": "0", "cumExecFee": "0",
            "timeInForce": o.time_in_force if limit else "GTC", "orderType": "Limit" if limit else "Market",
            "stopOrderType": "TrailingStop" if trailing else "Stop", "orderIv": "",
            "triggerPrice": _f(trigger, pd), "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
            "slTriggerBy": "", "triggerDirection": 1 if rising else 2,
            "triggerBy": "MarkPrice" if o.working_type == "MARK_PRICE" else "LastPrice",
            "lastPriceOnCreated": "", "reduceOnly": o.closes, "closeOnTrigger": o.close_position,
            "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "",
            "slLimitPrice": "", "placeType": "", "createdTime": str(o.create_time), "updatedTime": str(o.update_time),
        }

    def _place(self, account: str, p: dict) -> dict:
        eng = self.engine
        self._linear(p)
        if p["category"] != "linear":
            raise _params(f"params error: category {p['category']} has no symbol here")
        m = self._market(p.get("symbol"))
        side = str(p.get("side", ""))
        if side not in ("Buy", "Sell"):
            raise _params("params error: side invalid")
        otype = str(p.get("orderType", ""))
        if otype not in ("Market", "Limit"):
            raise _params("params error: orderType invalid")
        qty = _num(p, "qty", required=True)
        price = _num(p, "price")
        tif_s = str(p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC"))
        tif = TIF_IN.get(tif_s.upper())
        if tif is None:
            raise _params("params error: timeInForce invalid")
        reduce_only = _flag(p, "reduceOnly")
        close_on_trigger = _flag(p, "closeOnTrigger")
        idx_s = str(p.get("positionIdx", 0))
        if idx_s not in ("0", "1", "2"):
            raise _params("params error: positionIdx invalid")
        leg = LEG_OF_IDX[int(idx_s)]
        hedge = eng.hedge_mode(account)
        if hedge != (leg != "BOTH"):
            raise _params("position idx not match position mode")
        link = p.get("orderLinkId") or None
        if link is not None and (len(link) > 36 or not all(c.isalnum() or c in "-_" for c in link)):
            raise _params("params error: orderLinkId invalid")
        engine_side = side.upper()
        if hedge:
            closing = (leg == "LONG") == (engine_side == "SELL")
            if (reduce_only or close_on_trigger) and not closing:
                raise BybitFail(*cast(tuple, RET_CODES[-2022]))
            ro: Optional[bool] = None  # the engine's hedge mode: the leg's closing side reduces
        else:
            ro = True if (reduce_only or close_on_trigger) else None
        trigger = _num(p, "triggerPrice")
        if trigger:
            direction = str(p.get("triggerDirection", ""))
            if direction not in ("1", "2"):
                raise _params("params error: triggerDirection must be 1 or 2 for a conditional order")
            if p.get("orderFilter") not in (None, "", "StopOrder", "Order"):
                raise _params("params error: orderFilter invalid")
            rising = direction == "1"
            kind = "STOP" if rising == (engine_side == "BUY") else "TAKE_PROFIT"
            mark = eng.mark(m.symbol)
            if (rising and trigger <= mark) or (not rising and trigger >= mark):
                code = RISING_TRIGGER if rising else FALLING_TRIGGER
                word, cmp = ("Rising", "<=") if rising else ("Falling", ">=")
                raise BybitFail(code, f"expect {word}, but trigger_price[{trigger:g}] {cmp} current[{mark:g}]")
            wt = {"MarkPrice": "MARK_PRICE", "IndexPrice": "MARK_PRICE"}.get(str(p.get("triggerBy")), "CONTRACT_PRICE")
            a = eng.place_algo_order(account, m.symbol, engine_side, kind if otype == "Limit" else kind + "_MARKET",
                                     quantity=qty, trigger_price=trigger, price=price if otype == "Limit" else None,
                                     time_in_force=None if tif == "GTX" else tif, reduce_only=ro,
                                     position_side=None if leg == "BOTH" else leg, client_algo_id=link,
                                     working_type=wt)
            return {"orderId": str(a.algo_id), "orderLinkId": a.client_algo_id}
        if otype == "Market":
            price, tif = None, None
        o = eng.place_order(account, m.symbol, engine_side, otype.upper(), qty, price,
                            time_in_force=tif, reduce_only=ro,
                            position_side=None if leg == "BOTH" else leg, client_order_id=link)
        return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id, "_regular": True}

    def _find(self, account: str, p: dict) -> tuple[Optional[SimOrder], Optional[SimAlgoOrder]]:
        """The order a cancel names, by ``orderId`` or ``orderLinkId``: regular or conditional."""
        a = self.engine.accounts[account]
        oid, link = p.get("orderId") or None, p.get("orderLinkId") or None
        if oid is None and link is None:
            raise _params("params error: orderId or orderLinkId is required")
        if oid is not None:
            if not str(oid).isdigit():
                return None, None
            return a.orders.get(int(oid)), a.algos.get(int(oid))
        rid, aid = a.by_client.get(link), a.algo_by_client.get(link)
        regular = a.orders.get(rid) if rid is not None else None
        algo = a.algos.get(aid) if aid is not None else None
        if regular is not None and algo is not None:  # the client id of both: the open one
            return (regular, None) if regular.is_open else (None, algo)
        return regular, algo

    def _cancel(self, account: str, p: dict) -> dict:
        self._linear(p)
        m = self._market(p.get("symbol"))
        regular, algo = self._find(account, p)
        eng = self.engine
        if algo is not None and algo.symbol == m.symbol:
            c = eng.cancel_algo_order(account, algo.algo_id)
            return {"orderId": str(c.algo_id), "orderLinkId": c.client_algo_id}
        if regular is not None:
            o = eng.cancel_order(account, m.symbol, regular.order_id)
            return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id}
        eng.charge(account, 1)
        raise BybitFail(*cast(tuple, RET_CODES[-2011]))

    def _cancel_all(self, account: str, p: dict) -> dict:
        markets = self._scope(p)
        if markets is None:
            return {"list": [], "success": "1"}
        flt = p.get("orderFilter") or None
        if flt is not None and flt not in ORDER_FILTERS:
            raise _params(f"params error: orderFilter {flt} is invalid")
        eng = self.engine
        a = eng.accounts[account]
        held = {o.symbol for o in a.live.values() if o.is_open} | {o.symbol for o in a.algo_live.values() if o.is_open}
        done: list[dict] = []
        for m in markets:
            if m.symbol not in held and not p.get("symbol"):
                continue  # by settle coin: only the symbols with an open order are visited
            if flt in (None, "Order"):
                done += [{"orderId": str(o.order_id), "orderLinkId": o.client_order_id}
                         for o in eng.cancel_all(account, m.symbol, CANCEL_ALL_CAP)]
            if flt is None or flt in ("StopOrder", "tpslOrder"):
                trailing = [o for o in eng.conditional.live(a) if o.symbol == m.symbol]
                if flt == "StopOrder":
                    trailing = [o for o in trailing if o.order_type != "TRAILING_STOP_MARKET"]
                elif flt == "tpslOrder":
                    trailing = [o for o in trailing if o.order_type == "TRAILING_STOP_MARKET"]
                if flt is None and trailing:
                    done += [{"orderId": str(o.algo_id), "orderLinkId": o.client_algo_id}
                             for o in eng.cancel_all_algo(account, m.symbol)]
                else:
                    for o in trailing:
                        c = eng.cancel_algo_order(account, o.algo_id)
                        done.append({"orderId": str(c.algo_id), "orderLinkId": c.client_algo_id})
        return {"list": done, "success": "1"}
