"""A request to the simulated MEXC contract face, and the rows it reads of the engine.

What it owns
    :class:`MexcRows`, the base of the face's request view (:class:`..face.MexcFace`): MEXC's
    envelope (``{"success": true, "code": 0, "data": ...}``) and refusal (``success`` false, its
    ``code`` and ``message``: :meth:`~MexcRows.ok`, :meth:`~MexcRows.fail`), a contract named by
    its id (``BTC_USDT``), and the rows of the reads in MEXC's fields: the contracts
    (``contract/detail``), the tickers (``contract/ticker``, ``fairPrice`` the engine's mark), the
    book (``contract/depth/{symbol}``), the assets (``account/assets``, one USDT row), the
    positions (``position/open_positions``: ``positionType`` 1 long / 2 short, ``holdVol`` in
    contracts of one unit each, no mark: the venue's rows carry none), the regular orders (their
    side codes, ``orderType``, ``state`` and ``positionMode``), the trigger orders
    (``planorder``: the engine's conditional orders of a size) and the Stop-Limit orders
    (``stoporder``: its close-position ones, a position's TP/SL).

    The engine's trailing stops have no list here: MEXC keeps them in a track-order service
    (``trackorder``) the dialect does not read; the face lists none of them.

What it must not do
    keep state beyond the request, or change the engine.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

from ....simulated.conditional import SimAlgoOrder
from ....simulated.engine import MarketSpec, SimOrder
from ....simulated.faces.shared import RestFace, VenueFail, finite_number
from .wire import NO_CONTRACT, PARAMS, contract_id, order_type_code, side_code

STATES = {"NEW": 2, "PARTIALLY_FILLED": 2, "FILLED": 3, "CANCELED": 4, "EXPIRED": 4, "REJECTED": 5}
PAGE = 100


def is_stop(o: SimAlgoOrder) -> bool:
    """An engine conditional order MEXC keeps as a Stop-Limit order: one that closes the position."""
    return o.close_position


def is_plan(o: SimAlgoOrder) -> bool:
    """One MEXC keeps as a trigger order (``planorder``): of a size, not trailing."""
    return not o.close_position and not o.order_type.startswith("TRAILING")


class MexcRows(RestFace):
    """One request's view of the engine in MEXC's terms: its envelope, its parameters, its rows."""

    # --- the envelope ----------------------------------------------------------------------------------

    def ok(self, data: Any = None) -> dict:
        return {"success": True, "code": 0} if data is None else {"success": True, "code": 0, "data": data}

    def fail(self, code: int, message: str, status: int = 200) -> VenueFail:
        return VenueFail(status, {"success": False, "code": code, "message": message})

    # --- parameters ---------------------------------------------------------------------------------

    def contract(self, sid: Any, required: bool = True) -> Optional[MarketSpec]:
        """The engine's market of a contract id (``BTC_USDT``)."""
        if not sid:
            if required:
                raise self.fail(*PARAMS)
            return None
        for m in self.engine.markets.values():
            if contract_id(m) == sid:
                return m
        raise self.fail(*NO_CONTRACT)

    def number(self, p: dict, name: str, required: bool = False) -> Optional[float]:
        return finite_number(p, name, self.fail(*PARAMS) if required else None, self.fail(*PARAMS))

    def page(self, rows: list, p: dict) -> list:
        """``page_num`` (from 1) of ``page_size`` rows (at most 100), newest first."""
        try:
            num, size = int(p.get("page_num") or 1), int(p.get("page_size") or 20)
        except (TypeError, ValueError):
            raise self.fail(*PARAMS) from None
        if num < 1 or not 1 <= size <= PAGE:
            raise self.fail(*PARAMS)
        return rows[(num - 1) * size: num * size]

    # --- market data ---------------------------------------------------------------------------------

    def detail(self, m: MarketSpec) -> dict:
        sid = contract_id(m)
        return {"symbol": sid, "displayName": f"{sid}永续", "displayNameEn": f"{sid} SWAP", "positionOpenType": 3,
                "baseCoin": m.base, "quoteCoin": m.quote, "settleCoin": m.quote,
                "contractSize": 1, "minLeverage": 1, "maxLeverage": m.max_leverage, "priceUnit": m.price_tick,
                "volUnit": m.amount_step, "minVol": m.min_amount, "maxVol": m.max_amount,
                "takerFeeRate": 0.0006, "makerFeeRate": 0.0002, "maintenanceMarginRate": m.maint_margin_rate,
                "initialMarginRate": 1 / m.max_leverage, "state": 0, "isNew": False, "isHot": False,
                "isHidden": False, "apiAllowed": True}

    def ticker(self, m: MarketSpec, at: int) -> dict:
        px = self.engine.mark(m.symbol, at)
        return {"symbol": contract_id(m), "lastPrice": px, "bid1": px, "ask1": px, "volume24": 0, "amount24": 0,
                "holdVol": 0, "lower24Price": px, "high24Price": px, "riseFallRate": 0, "riseFallValue": 0,
                "indexPrice": px, "fairPrice": px, "fundingRate": 0, "maxBidPrice": px, "minAskPrice": px,
                "timestamp": at}

    # --- the account -----------------------------------------------------------------------------------

    def assets(self, account: str, at: Optional[int]) -> list[dict]:
        eng = self.engine
        v = eng.account_state(account, at=eng.now() if at is None else at)
        return [{"currency": "USDT", "positionMargin": v.initial_margin, "availableBalance": v.available,
                 "cashBalance": v.wallet, "frozenBalance": v.open_order_margin, "equity": v.equity,
                 "unrealized": v.unrealized_pnl, "bonus": 0}]

    def positions(self, account: str, at: Optional[int]) -> list[dict]:
        rows = []
        for pv in self.engine.positions(account, at=at):
            m = self.engine.markets[pv.symbol]
            rows.append({
                "positionId": zlib.crc32(f"{account}/{pv.symbol}/{pv.position_side}".encode()),
                "symbol": contract_id(m), "positionType": 1 if pv.amount > 0 else 2, "openType": 2, "state": 1,
                "holdVol": abs(pv.amount), "frozenVol": 0, "closeVol": 0, "holdAvgPrice": pv.entry_price,
                "openAvgPrice": pv.entry_price, "closeAvgPrice": 0, "liquidatePrice": pv.liquidation_price,
                "oim": pv.initial_margin, "im": pv.initial_margin, "holdFee": 0, "realised": 0,
                "leverage": pv.leverage, "createTime": pv.update_time, "updateTime": pv.update_time,
                "autoAddIm": False})
        return rows

    def mode_code(self, account: str) -> int:
        return 1 if self.engine.hedge_mode(account) else 2

    # --- orders ---------------------------------------------------------------------------------------

    def order_row(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        avg = o.cum_quote / o.executed_qty if o.executed_qty else 0
        return {
            "orderId": str(o.order_id), "symbol": contract_id(m), "positionId": 0, "price": o.price or 0,
            "vol": o.quantity, "leverage": self.engine.leverage(o.account, o.symbol),
            "side": side_code(o.side, o.position_side, o.reduce_only), "category": 1,
            "orderType": order_type_code(o.type, o.time_in_force), "dealAvgPrice": avg, "dealVol": o.executed_qty,
            "orderMargin": 0, "takerFee": o.fee, "makerFee": 0, "profit": o.realized_pnl, "feeCurrency": "USDT",
            "openType": 2, "state": STATES.get(o.status, 4), "externalOid": o.client_order_id or "", "errorCode": 0,
            "usedMargin": 0, "createTime": o.time, "updateTime": o.update_time,
            "positionMode": 2 if o.position_side == "BOTH" else 1}

    def plan_row(self, o: SimAlgoOrder) -> dict:
        m = self.engine.markets[o.symbol]
        mark = self.engine.mark(o.symbol, self.engine.now())
        return {
            "id": str(o.algo_id), "symbol": contract_id(m), "leverage": self.engine.leverage(o.account, o.symbol),
            "side": side_code(o.side, o.position_side, o.reduce_only), "triggerPrice": o.trigger_price,
            "price": o.price or 0, "vol": o.quantity, "openType": 2,
            "triggerType": 1 if o.trigger_price >= mark else 2, "state": 1, "executeCycle": 24,
            "trend": 2 if o.working_type == "MARK_PRICE" else 1, "errorCode": 0, "orderId": 0,
            "orderType": order_type_code(o.order_type, o.time_in_force), "createTime": o.create_time,
            "updateTime": o.update_time}

    def stop_row(self, o: SimAlgoOrder) -> dict:
        m = self.engine.markets[o.symbol]
        # a close-position order closes the long (a sell) or the short (a buy), whatever its size
        long_leg = o.position_side == "LONG" or (o.position_side == "BOTH" and o.side == "SELL")
        loss = o.order_type.startswith("STOP")
        return {
            "id": str(o.algo_id), "orderId": 0, "symbol": contract_id(m), "positionId": 0,
            "stopLossPrice": o.trigger_price if loss else 0, "takeProfitPrice": 0 if loss else o.trigger_price,
            "state": 1, "triggerSide": 0, "positionType": 1 if long_leg else 2, "vol": o.quantity, "realityVol": 0,
            "placeOrderId": 0, "errorCode": 0, "version": 1, "isFinished": 0, "createTime": o.create_time,
            "updateTime": o.update_time}


__all__ = ["MexcRows", "PAGE", "STATES", "is_plan", "is_stop"]
