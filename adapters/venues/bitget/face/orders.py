"""The simulated Bitget v2 face's regular orders: their rows, placing and cancelling them.

What it owns
    :class:`BitgetOrders`: an order's row (``orders-pending``, ``detail``, the websocket's
    ``orders`` push), one order placed by ``place-order`` (hedge mode by ``tradeSide`` open /
    close, one-way mode by ``reduceOnly``; ``force`` gtc / ioc / fok / post_only; ``clientOid``)
    and orders cancelled by ``cancel-order`` or ``batch-cancel-orders`` (the listed ones, or
    every order of the symbol).

What it must not do
    keep state beyond the request: the orders are the engine's.
"""

from __future__ import annotations

import re

from ....simulated.engine import MarketSpec, SimError, SimOrder
from ....simulated.faces.shared import VenueFail
from .params import BitgetParams
from .wire import CANCEL_NOT_FOUND, NO_ORDER_ID, NO_POSITION, UNILATERAL, _money, _px, _sides, _sz, symbol_id

CLIENT_OID_RE = re.compile(r"^[A-Za-z0-9\-]{1,36}$")


class BitgetOrders(BitgetParams):
    """The regular orders of one request's view (see the module docstring)."""

    def order(self, o: SimOrder, detail: bool = False) -> dict:
        m = self.engine.markets[o.symbol]
        closes = o.reduce_only or (o.position_side == "LONG") == (o.side == "SELL") and o.position_side != "BOTH"
        side, pos_side, trade_side = _sides(o.side, o.position_side, closes)
        status = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled"}.get(o.status, "canceled")
        avg = o.cum_quote / o.executed_qty if o.executed_qty else 0.0
        return {
            "symbol": symbol_id(m), "size": _sz(m, o.quantity), "orderId": str(o.order_id),
            "clientOid": o.client_order_id, "baseVolume": _sz(m, o.executed_qty), "fee": _money(-o.fee),
            "price": _px(m, o.price), "priceAvg": _px(m, avg), ("state" if detail else "status"): status,
            "side": side, "force": {"GTC": "gtc", "IOC": "ioc", "FOK": "fok", "GTX": "post_only"}.get(
                o.time_in_force, "gtc"), "totalProfits": _money(o.realized_pnl), "posSide": pos_side,
            "marginCoin": "USDT", "quoteVolume": _money(o.cum_quote), "leverage": str(
                self.engine.leverage(o.account, o.symbol)), "marginMode": "crossed", "enterPointSource": "API",
            "tradeSide": trade_side, "posMode": "one_way_mode" if o.position_side == "BOTH" else "hedge_mode",
            "orderType": o.type.lower(), "orderSource": o.type.lower(), "presetStopSurplusPrice": "",
            "presetStopLossPrice": "", "reduceOnly": "YES" if closes else "NO", "cTime": str(o.time),
            "uTime": str(o.update_time)}

    def place(self, account: str, p: dict) -> dict:
        eng = self.engine
        self.product(p)
        m = self.market(p)
        assert m is not None
        cid = str(p.get("clientOid") or "")
        if cid and not CLIENT_OID_RE.match(cid):
            raise self.bad("clientOid")
        side = str(p.get("side") or "").lower()
        if side not in ("buy", "sell"):
            raise self.bad("side")
        otype = str(p.get("orderType") or "").lower()
        if otype not in ("market", "limit"):
            raise self.bad("orderType")
        tifs = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "post_only": "GTX"}
        force = str(p.get("force") or "gtc").lower()
        if force not in tifs:
            raise self.bad("force")
        size = self.number(p, "size", required=True)
        price = self.number(p, "price", required=True) if otype == "limit" else None
        trade_side = str(p.get("tradeSide") or "").lower()
        if eng.hedge_mode(account):
            if trade_side not in ("open", "close"):
                raise self.fail(*UNILATERAL)
            leg = "LONG" if side == "buy" else "SHORT"
            closes = trade_side == "close"
            engine_side = ({"buy": "SELL", "sell": "BUY"}[side]) if closes else side.upper()
            reduce_only = None
        else:  # one-way mode: tradeSide is ignored
            leg, engine_side = "BOTH", side.upper()
            ro = str(p.get("reduceOnly") or "NO").upper()
            if ro not in ("YES", "NO"):
                raise self.bad("reduceOnly")
            closes = ro == "YES"
            reduce_only = True if closes else None
        mode = str(p.get("marginMode") or "").lower()
        if mode not in ("crossed", "isolated"):
            raise self.bad("marginMode")
        if mode == "isolated":  # the engine's positions are all cross: none isolated to close
            raise self.fail(*NO_POSITION) if closes else self.bad("marginMode")
        o = eng.place_order(account, m.symbol, engine_side, otype.upper(), size, price,
                            time_in_force=tifs[force] if otype == "limit" else None, reduce_only=reduce_only,
                            position_side=leg, client_order_id=cid or None)
        return self.ok({"clientOid": o.client_order_id, "orderId": str(o.order_id)})

    def cancel(self, account: str, path: str, p: dict) -> dict:
        eng = self.engine
        self.product(p)
        m = self.market(p)
        assert m is not None
        if path.endswith("batch-cancel-orders"):
            ids = p.get("orderIdList")
            if ids is None:  # every order of the symbol
                done = eng.cancel_all(account, m.symbol)
                return self.ok({"successList": [{"orderId": str(o.order_id), "clientOid": o.client_order_id}
                                                for o in done], "failureList": []})
            if not isinstance(ids, list):
                raise self.bad("orderIdList")
            ok, failed = [], []
            for ref in ids:
                try:
                    o = self._cancel_one(account, m, ref if isinstance(ref, dict) else {})
                    ok.append({"orderId": str(o.order_id), "clientOid": o.client_order_id})
                except (SimError, VenueFail):
                    failed.append({**(ref if isinstance(ref, dict) else {}), "errorMsg": CANCEL_NOT_FOUND[1],
                                   "errorCode": CANCEL_NOT_FOUND[0]})
            return self.ok({"successList": ok, "failureList": failed})
        o = self._cancel_one(account, m, p)
        return self.ok({"orderId": str(o.order_id), "clientOid": o.client_order_id})

    def _cancel_one(self, account: str, m: MarketSpec, ref: dict) -> SimOrder:
        return self.engine.cancel_order(account, m.symbol, *self.order_ref(
            ref.get("orderId"), ref.get("clientOid"), self.fail(*NO_ORDER_ID), self.fail(*CANCEL_NOT_FOUND)))
