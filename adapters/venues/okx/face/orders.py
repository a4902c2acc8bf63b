"""The simulated OKX v5 face's orders: their rows, the pending list, placing and cancelling them.

What it owns
    :class:`OkxOrders`: an order's row (``trade/order``, ``orders-pending``, the websocket's
    ``orders`` push), ``orders-pending`` paged as OKX pages it, one order of ``trade/order`` or
    ``batch-orders`` placed (market, limit, IOC, FOK, post-only; ``reduceOnly`` in net mode,
    ``posSide`` in long/short mode) or cancelled with its ``sCode``, and ``cancel-all-after``.

What it must not do
    keep state beyond the request: the orders are the engine's.
"""

from __future__ import annotations

from ....simulated.faces.shared import REQUEST_WEIGHT
from ....simulated.rules import REDUCE_ONLY_REJECTED, SimError, SimOrder
from .params import OkxParams
from .wire import CANCEL_NO_ORDER, _bad, _empty, _Fail, _money, _ok, _okx_error, _px, _sz, inst_id

CANCEL_ALL_AFTER_RANGE = (10, 120)


class OkxOrders(OkxParams):
    """The regular orders of one request's view (see the module docstring)."""

    def order(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        hedge = o.position_side != "BOTH"
        if o.type == "MARKET":
            ord_type = "market"
        else:
            ord_type = {"GTC": "limit", "IOC": "ioc", "FOK": "fok", "GTX": "post_only"}.get(o.time_in_force, "limit")
        state = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled"}.get(o.status, "canceled")
        return {
            "instType": "SWAP", "instId": inst_id(m), "ordId": str(o.order_id), "clOrdId": o.client_order_id,
            "tag": "", "px": _px(m, o.price), "sz": _sz(m, o.quantity), "ordType": ord_type, "side": o.side.lower(),
            "posSide": o.position_side.lower() if hedge else "net", "tdMode": "cross",
            "accFillSz": _sz(m, o.executed_qty), "fillSz": _sz(m, o.executed_qty),
            "fillPx": _px(m, o.avg_price), "avgPx": _px(m, o.avg_price), "state": state,
            "lever": str(self.engine.leverage(o.account, o.symbol)), "reduceOnly": "true" if o.reduce_only else "false",
            "fee": _money(-o.fee), "feeCcy": m.quote, "pnl": _money(o.realized_pnl), "rebate": "0",
            "rebateCcy": m.quote, "category": "normal", "algoId": "", "algoClOrdId": "", "attachAlgoOrds": [],
            "tpTriggerPx": "", "slTriggerPx": "", "tpOrdPx": "", "slOrdPx": "", "cancelSource": "",
            "source": "", "stpMode": "cancel_maker", "cTime": str(o.time), "uTime": str(o.update_time),
            "fillTime": str(o.update_time) if o.executed_qty else "",
        }

    def pending(self, account: str, p: dict) -> dict:
        kinds = str(p["ordType"]).split(",") if p.get("ordType") else None
        return self.pending_page(p, "ordId", lambda symbol: [self.order(o) for o in self.engine.open_orders(
            account, symbol, weight=REQUEST_WEIGHT)], kinds, same="state")

    # --- orders -------------------------------------------------------------------------------------------

    def place(self, account: str, p: dict) -> dict:
        """One order of trade/order or trade/batch-orders: its answer row, sCode "0" or OKX's refusal."""
        cid = p.get("clOrdId") or ""
        row = {"clOrdId": cid, "ordId": "", "tag": p.get("tag", ""), "ts": str(self.engine.now())}

        def placed() -> dict:
            o = self._place(account, p, cid)
            return {"clOrdId": o.client_order_id, "ordId": str(o.order_id), "sCode": "0", "sMsg": "Order placed"}

        def refusal(e: SimError) -> tuple[str, str]:
            if e.code != REDUCE_ONLY_REJECTED:
                return _okx_error(e)
            leg = self.leg(account, p)
            return self.reduce_refusal(account, self.by_inst[p["instId"]], str(p.get("side", "")).upper(), leg)

        return self.row_of(row, placed, refusal)

    def _place(self, account: str, p: dict, cid: str) -> SimOrder:
        m, side = self.market_side(p, cid, "clOrdId")
        ord_type = p.get("ordType")
        types = {"market": ("MARKET", None), "optimal_limit_ioc": ("MARKET", None), "limit": ("LIMIT", "GTC"),
                 "ioc": ("LIMIT", "IOC"), "fok": ("LIMIT", "FOK"), "post_only": ("LIMIT", "GTX")}
        if ord_type not in types:
            raise _bad("ordType")
        otype, tif = types[ord_type]
        sz = self.number(p, "sz", required=True)
        px = self.number(p, "px", required=otype == "LIMIT") if otype == "LIMIT" else None
        leg = self.leg(account, p)
        hedge = leg != "BOTH"
        ro = self.reduce_only(p)
        closes = ro if not hedge else (leg == "LONG") == (side == "sell")
        self.check_td_mode(p, closes)
        return self.engine.place_order(account, m.symbol, side.upper(), otype, sz, px, time_in_force=tif,
                                       reduce_only=(True if ro else None) if not hedge else None,
                                       position_side=leg, client_order_id=cid or None)

    def cancel(self, account: str, p: dict) -> dict:
        oid, cid = p.get("ordId") or "", p.get("clOrdId") or ""

        def canceled() -> dict:
            m = self.market(p)
            ref = self.order_ref(oid, cid, _empty("ordId"), _Fail(*CANCEL_NO_ORDER))
            o = self.engine.cancel_order(account, m.symbol, *ref)
            return {"ordId": str(o.order_id), "clOrdId": o.client_order_id, "sCode": "0", "sMsg": ""}

        return self.row_of({"ordId": oid, "clOrdId": cid, "ts": str(self.engine.now())}, canceled,
                           lambda e: _okx_error(e, cancel=True))

    def cancel_all_after(self, account: str, p: dict) -> dict:
        """``timeOut`` seconds (0: off, else 10-120) for the whole account: the engine's countdown
        of every market, armed or disarmed at once."""
        t = p.get("timeOut")
        if t in (None, ""):
            raise _empty("timeOut")
        if not str(t).isdigit():
            raise _bad("timeOut")
        n = int(t)
        if n and not CANCEL_ALL_AFTER_RANGE[0] <= n <= CANCEL_ALL_AFTER_RANGE[1]:
            raise _bad("timeOut")
        eng = self.engine
        for symbol in sorted(eng.markets):
            eng.countdown_cancel_all(account, symbol, n * 1000)
        now = eng.now()
        return _ok([{"triggerTime": str(now + n * 1000) if n else "0", "tag": p.get("tag", ""), "ts": str(now)}])
