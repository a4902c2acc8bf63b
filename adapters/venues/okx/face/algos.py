"""The simulated OKX v5 face's algo orders, in the engine's conditional book.

What it owns
    :class:`OkxAlgos`: an algo order's row (``trade/order-algo``, ``orders-algo-pending``, the
    websocket's ``orders-algo`` push) by its ``ordType`` (``conditional``, ``trigger``,
    ``move_order_stop``), ``orders-algo-pending`` of one type or ``conditional,oco``, one algo
    order placed or cancelled with its ``sCode`` (what it refuses: :mod:`..face`).

What it must not do
    keep state beyond the request: the algo orders are the engine's.
"""

from __future__ import annotations

from typing import Any

from ....simulated.conditional import SimAlgoOrder
from ....simulated.faces.shared import REQUEST_WEIGHT
from .params import OkxParams
from .wire import NO_ORDER, _bad, _empty, _Fail, _okx_error, _px, _sz, inst_id

ALGO_TYPES = ("conditional", "oco", "trigger", "move_order_stop")


class OkxAlgos(OkxParams):
    """The algo orders of one request's view (see the module docstring)."""

    def algo_type(self, o: SimAlgoOrder) -> str:
        if o.label in ALGO_TYPES:
            return o.label
        return "move_order_stop" if o.order_type == "TRAILING_STOP_MARKET" else "conditional"

    def algo(self, o: SimAlgoOrder) -> dict:
        m = self.engine.markets[o.symbol]
        hedge = o.position_side != "BOTH"
        kind = self.algo_type(o)
        market = o.order_type.endswith("_MARKET")
        ord_px = "-1" if market else _px(m, o.price)
        row: dict[str, Any] = {
            "instType": "SWAP", "instId": inst_id(m), "algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id,
            "clOrdId": "", "ordId": str(o.actual_order_id) if o.actual_order_id else "", "ordIdList": [],
            "ordType": kind, "side": o.side.lower(), "posSide": o.position_side.lower() if hedge else "net",
            "tdMode": "cross", "sz": _sz(m, o.quantity) if o.quantity else "", "closeFraction": "1" if o.close_position
            else "", "reduceOnly": "true" if o.reduce_only else "false", "lever": str(self.engine.leverage(
                o.account, o.symbol)), "state": {"NEW": "live", "TRIGGERED": "effective"}.get(o.status, "canceled"),
            "triggerPx": "", "triggerPxType": "", "ordPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
            "tpOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "callbackRatio": "",
            "callbackSpread": "", "activePx": "", "moveTriggerPx": "", "actualSz": "0", "actualPx": "",
            "actualSide": "", "tag": "", "failCode": "0", "cTime": str(o.create_time), "uTime": str(o.update_time),
            "triggerTime": str(o.trigger_time) if o.trigger_time else "",
        }
        pxtype = "mark" if o.working_type == "MARK_PRICE" else "last"
        if kind == "trigger":
            row.update(triggerPx=_px(m, o.trigger_price), triggerPxType=pxtype, ordPx=ord_px)
        elif kind == "move_order_stop":
            row.update(callbackRatio=f"{o.callback_rate / 100:g}", activePx=_px(m, o.activate_price))
            if o.best_mark > 0:  # active: the mark it triggers at now
                rate = o.callback_rate / 100
                row["moveTriggerPx"] = _px(m, o.best_mark * (1 - rate if o.side == "SELL" else 1 + rate))
        elif o.order_type.startswith("TAKE_PROFIT"):
            row.update(tpTriggerPx=_px(m, o.trigger_price), tpTriggerPxType=pxtype, tpOrdPx=ord_px)
        else:
            row.update(slTriggerPx=_px(m, o.trigger_price), slTriggerPxType=pxtype, slOrdPx=ord_px)
        return row

    def algo_pending(self, account: str, p: dict) -> dict:
        ord_type = p.get("ordType")
        if not ord_type:
            raise _empty("ordType")
        wanted = str(ord_type).split(",")
        if not (len(wanted) == 1 and wanted[0] in ALGO_TYPES + ("iceberg", "twap", "chase")) and \
                sorted(wanted) != ["conditional", "oco"]:
            raise _bad("ordType")
        return self.pending_page(p, "algoId", lambda symbol: [self.algo(o) for o in self.engine.open_algo_orders(
            account, symbol, weight=REQUEST_WEIGHT)], wanted, same="algoId")

    def place_algo(self, account: str, p: dict) -> dict:
        cid = p.get("algoClOrdId") or ""

        def placed() -> dict:
            o = self._place_algo(account, p, cid)
            return {"algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id, "sCode": "0", "sMsg": "Order placed"}

        return self.row_of({"algoId": "", "algoClOrdId": cid, "clOrdId": "", "tag": p.get("tag", "")}, placed)

    def _place_algo(self, account: str, p: dict, cid: str) -> SimAlgoOrder:
        eng = self.engine
        m, side = self.market_side(p, cid, "algoClOrdId")
        kind = p.get("ordType")
        if kind not in ("conditional", "trigger", "move_order_stop"):
            raise _bad("ordType")  # oco, iceberg, twap, chase: not in the simulated venue
        leg = self.leg(account, p)
        hedge = leg != "BOTH"
        ro = self.reduce_only(p)
        close_all = str(p.get("closeFraction") or "") == "1"
        if p.get("closeFraction") not in (None, "", "1"):
            raise _bad("closeFraction")
        closes = (ro or close_all) if not hedge else (leg == "LONG") == (side == "sell")
        self.check_td_mode(p, closes)
        qty = None if close_all else self.number(p, "sz", required=True)
        mark = eng.mark(m.symbol)
        kw: dict[str, Any] = {"position_side": leg, "client_algo_id": cid or None, "quantity": qty,
                              "reduce_only": (True if ro else None) if not (hedge or close_all) else None,
                              "close_position": close_all, "label": kind}
        if kind == "move_order_stop":
            if p.get("callbackSpread") not in (None, ""):
                raise _bad("callbackSpread")  # the engine trails by a ratio only
            ratio = self.number(p, "callbackRatio", required=True)
            kw.update(callback_rate=(ratio or 0) * 100, activate_price=self.number(p, "activePx"))
            return eng.place_algo_order(account, m.symbol, side.upper(), "TRAILING_STOP_MARKET", **kw)
        if kind == "trigger":
            trig = self.number(p, "triggerPx", required=True)
            ord_px = self.number(p, "orderPx", required=True)
            # OKX's trigger order wakes when the price reaches triggerPx, from below or above:
            # the engine's stop (a buy that rises, a sell that falls) or its take-profit
            rising = (trig or 0) >= mark
            stop = rising == (side == "buy")
            kw["working_type"] = "MARK_PRICE" if p.get("triggerPxType") == "mark" else None
        else:
            sl, tp = self.number(p, "slTriggerPx"), self.number(p, "tpTriggerPx")
            if (sl is None) == (tp is None):
                raise _bad("slTriggerPx" if sl is None else "tpTriggerPx")  # one trigger an order here
            stop = sl is not None
            trig = sl if stop else tp
            ord_px = self.number(p, "slOrdPx" if stop else "tpOrdPx", required=True)
            kw["working_type"] = "MARK_PRICE" if p.get("slTriggerPxType" if stop else "tpTriggerPxType") == "mark" \
                else None
        limit = ord_px is not None and ord_px != -1
        if close_all and limit:
            raise _bad("ordPx")  # a whole-position TP/SL is a market order
        otype = ("STOP" if stop else "TAKE_PROFIT") + ("" if limit else "_MARKET")
        return eng.place_algo_order(account, m.symbol, side.upper(), otype, trigger_price=trig,
                                    price=ord_px if limit else None, **kw)

    def cancel_algo(self, account: str, p: dict) -> dict:
        aid, cid = p.get("algoId") or "", p.get("algoClOrdId") or ""

        def canceled() -> dict:
            m = self.market(p)
            ref = self.order_ref(aid, cid, _empty("algoId"), _Fail(*NO_ORDER))
            eng = self.engine
            o = eng.get_algo_order(account, *ref)
            if o.symbol != m.symbol:
                raise _Fail(*NO_ORDER)
            o = eng.cancel_algo_order(account, o.algo_id)
            return {"algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id, "sCode": "0", "sMsg": ""}

        return self.row_of({"algoId": aid, "algoClOrdId": cid, "clOrdId": "", "tag": ""}, canceled,
                           lambda e: _okx_error(e, cancel=True))
