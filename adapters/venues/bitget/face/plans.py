"""The simulated Bitget v2 face's plan orders, in the engine's conditional book.

What it owns
    :class:`BitgetPlans`: a plan order's row (``orders-plan-pending``, the websocket's
    ``orders-algo`` push) by its ``planType`` (normal_plan, track_plan, and the profit_loss
    family: profit_plan, loss_plan, pos_profit, pos_loss, moving_plan), ``orders-plan-pending``
    of one type, and ``cancel-plan-order`` of the plan orders of one type (an order of another
    planType is not found; one whose cancel the engine refuses, a fault, is a ``failureList``
    row with Bitget's 40725, the answer HTTP 200 code 00000 as a whole).

What it must not do
    keep state beyond the request: the plan orders are the engine's.
"""

from __future__ import annotations

from ....simulated.conditional import CANCEL_REFUSED, SimAlgoOrder
from ....simulated.engine import SimError
from .params import BitgetParams
from .wire import CLOSING_PLANS, PLAN_CANCEL_REFUSED, PLAN_TYPES, PROFIT_LOSS, _px, _sides, _sz, symbol_id


class BitgetPlans(BitgetParams):
    """The plan orders of one request's view (see the module docstring)."""

    def plan_type(self, o: SimAlgoOrder) -> str:
        if o.label in PLAN_TYPES:
            return o.label
        if o.order_type == "TRAILING_STOP_MARKET":
            return "moving_plan" if o.reduce_only or o.close_position else "track_plan"
        if o.close_position:
            return "pos_loss" if o.order_type.startswith("STOP") else "pos_profit"
        return "normal_plan"

    def plan(self, o: SimAlgoOrder) -> dict:
        m = self.engine.markets[o.symbol]
        plan = self.plan_type(o)
        closes = plan in CLOSING_PLANS or o.reduce_only or (
            o.position_side != "BOTH" and (o.position_side == "LONG") == (o.side == "SELL"))
        side, pos_side, trade_side = _sides(o.side, o.position_side, closes)
        trigger = o.trigger_price or o.activate_price or o.best_mark
        return {
            "planType": plan, "symbol": symbol_id(m), "size": _sz(m, o.quantity) if o.quantity else "",
            "orderId": str(o.algo_id), "clientOid": o.client_algo_id, "price": _px(m, o.price),
            "executePrice": _px(m, o.price), "callbackRatio": f"{o.callback_rate / 100:g}" if o.callback_rate else "",
            "triggerPrice": _px(m, trigger), "triggerType": "mark_price" if o.working_type == "MARK_PRICE"
            else "fill_price", "planStatus": "live", "side": side, "posSide": pos_side, "marginCoin": "USDT",
            "marginMode": "crossed", "enterPointSource": "API", "tradeSide": trade_side,
            "posMode": "one_way_mode" if o.position_side == "BOTH" else "hedge_mode",
            "orderType": "market" if o.order_type.endswith("_MARKET") else "limit",
            "stopSurplusTriggerPrice": "", "stopSurplusExecutePrice": "", "stopSurplusTriggerType": "fill_price",
            "stopLossTriggerPrice": "", "stopLossExecutePrice": "", "stopLossTriggerType": "fill_price",
            "cTime": str(o.create_time), "uTime": str(o.update_time)}

    def plans(self, account: str, p: dict) -> dict:
        self.product(p)
        asked = p.get("planType")
        if asked not in ("normal_plan", "track_plan", "profit_loss"):
            raise self.fail("40019", "Parameter planType cannot be empty") if not asked else self.bad("planType")
        wanted = PROFIT_LOSS if asked == "profit_loss" else (asked,)
        m = self.market(p, required=False)
        rows = [self.plan(o) for o in self.engine.open_algo_orders(account, m.symbol if m else None, weight=1)]
        return self.page([r for r in rows if r["planType"] in wanted], p)

    def cancel_plans(self, account: str, p: dict) -> dict:
        """cancel-plan-order: the listed plan orders of ``planType`` (default normal_plan), or every
        one of that type of the symbol; an order of another planType is not found."""
        eng = self.engine
        self.product(p)
        m = self.market(p)
        assert m is not None
        plan = p.get("planType") or "normal_plan"
        if plan not in PLAN_TYPES:
            raise self.bad("planType")
        mine = [o for o in eng.open_algo_orders(account, m.symbol, weight=1) if self.plan_type(o) == plan]
        ids = p.get("orderIdList")
        failed: list[dict] = []
        if ids is None:
            targets = mine
        else:
            if not isinstance(ids, list):
                raise self.bad("orderIdList")
            by_id = {str(o.algo_id): o for o in mine}
            by_cid = {o.client_algo_id: o for o in mine}
            targets = []
            for ref in ids:
                ref = ref if isinstance(ref, dict) else {}
                o = by_id.get(str(ref.get("orderId") or "")) or by_cid.get(str(ref.get("clientOid") or ""))
                if o is None:
                    failed.append({**ref, "errorMsg": "Plan order does not exist", "errorCode": "43025"})
                else:
                    targets.append(o)
        ok = []
        for o in targets:
            try:
                done = eng.cancel_algo_order(account, o.algo_id)
            except SimError as e:  # refused (a fault): the row Bitget documents, HTTP 200 as a whole
                if e.code != CANCEL_REFUSED:
                    raise
                code, words = PLAN_CANCEL_REFUSED
                failed.append({"orderId": str(o.algo_id), "clientOid": o.client_algo_id, "errorMsg": words,
                               "errorCode": code})
                continue
            ok.append({"orderId": str(done.algo_id), "clientOid": done.client_algo_id})
        return self.ok({"successList": ok, "failureList": failed})
