"""The simulated Binance USDⓈ-M's payload shapes: the engine's state as the REST face answers it.

What it owns
    :class:`BinanceRows`, the venue's JSON of one engine's state (``exchangeInfo`` with each
    symbol's filters, the tickers and the mark price, the order book, the account and its
    positions, ``positionRisk``, the leverage brackets, an order row and an algo-service row),
    with the venue's numbers (:mod:`adapters.simulated.numbers`: fixed decimals, money at 8), and
    :func:`err`, an answer in the venue's error shape (``{"code": -nnnn, "msg": ...}``). The
    face (:mod:`..face`) asks the engine and hands what it read here.

What it must not do
    parse a request, check a signature or keep state (every read is the engine's).
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.conditional import SimAlgoOrder
from ....simulated.engine import MarketSpec, PositionView, SimExchange, SimOrder, floor_step
from ....simulated.faces.shared import VenueFail, whole
from ....simulated.numbers import digits as _digits, fixed as _f, money_text as _money

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # what GET /fapi/v1/depth accepts as ``limit``
# Binance's answer to a key that may not trade, or to none it knows (-2015), and to a bad signature (-1022)
INVALID_KEY = "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"
BAD_SIGNATURE = "Signature for this request is not valid."


def err(code: int, msg: str, status: int = 400) -> VenueFail:
    """The venue's refusal: HTTP ``status`` with ``{"code": code, "msg": msg}``."""
    return VenueFail(status, {"code": code, "msg": msg})


class BinanceRows:
    """The engine's state in Binance USDⓈ-M's shapes (no state beyond the engine it reads)."""

    def __init__(self, engine: SimExchange):
        self.engine = engine

    def exchange_info(self, now: int) -> dict:
        rl = self.engine.rate_limits
        return {
            "timezone": "UTC", "serverTime": now, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": rl.weight_per_minute},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": rl.orders_per_second},
            ],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [self.symbol_info(m) for m in self.engine.markets.values()],
        }

    def symbol_info(self, m: MarketSpec) -> dict:
        pd, ad = _digits(m)
        return {
            "symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote, "marginAsset": m.quote,
            "pricePrecision": pd, "quantityPrecision": ad, "baseAssetPrecision": 8, "quotePrecision": 8,
            "underlyingType": "COIN", "underlyingSubType": [], "triggerProtect": "0.0500",
            "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": _f(m.price_tick, pd), "maxPrice": "10000000",
                 "tickSize": _f(m.price_tick, pd)},
                {"filterType": "LOT_SIZE", "minQty": _f(m.min_amount, ad), "maxQty": _f(m.max_amount, ad),
                 "stepSize": _f(m.amount_step, ad)},
                {"filterType": "MARKET_LOT_SIZE", "minQty": _f(m.min_amount, ad), "maxQty": _f(m.max_amount, ad),
                 "stepSize": _f(m.amount_step, ad)},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": f"{m.min_notional:g}"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                 "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                           "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "permissionSets": ["GRID", "COPY"],
        }

    def tickers(self, op: str, symbol: Optional[str], at: int) -> Any:
        eng = self.engine
        if symbol is not None and symbol not in eng.markets:
            raise err(-1121, "Invalid symbol.")
        rows = []
        for m in ([eng.markets[symbol]] if symbol else list(eng.markets.values())):
            pd = _digits(m)[0]
            px = _f(eng.mark(m.symbol, at), pd)
            if op == "ticker":
                rows.append({"symbol": m.symbol, "price": px, "time": at})
            elif op == "mark_price":
                rows.append({"symbol": m.symbol, "markPrice": px, "indexPrice": px, "estimatedSettlePrice": px,
                             "lastFundingRate": "0.00010000", "interestRate": "0.00010000",
                             "nextFundingTime": (at // 28_800_000 + 1) * 28_800_000, "time": at})
            else:
                open_px = _f(eng.mark(m.symbol, at - 86_400_000), pd)
                rows.append({"symbol": m.symbol, "priceChange": _f(float(px) - float(open_px), pd),
                             "priceChangePercent": _f((float(px) / float(open_px) - 1) * 100, 3),
                             "weightedAvgPrice": px, "lastPrice": px, "lastQty": "0", "openPrice": open_px,
                             "highPrice": max(px, open_px, key=float), "lowPrice": min(px, open_px, key=float),
                             "volume": "0", "quoteVolume": "0", "openTime": at - 86_400_000, "closeTime": at,
                             "firstId": 0, "lastId": 0, "count": 0})
        return rows[0] if symbol else rows

    def depth(self, symbol: str, limit: Optional[str]) -> dict[str, Any]:
        """``GET /fapi/v1/depth``: the top ``limit`` levels a side (5, 10, 20, 50, 100, 500 or
        1000; default 500) as [price, quantity] strings, best first."""
        eng = self.engine
        if symbol not in eng.markets:
            raise err(-1121, "Invalid symbol.")
        n = whole(limit, 500)
        if n not in DEPTH_LIMITS:
            raise err(-1130, "Data sent for parameter 'limit' is not valid.")
        bids, asks, ts = eng.order_book(symbol, n)
        m = eng.markets[symbol]
        pd, ad = _digits(m)

        def side(levels: list) -> list:  # amounts down to the step: a level never shows more than it holds
            return [[_f(px, pd), _f(q, ad)] for px, q in ((px, floor_step(q, m.amount_step)) for px, q in levels)
                    if q > 0]

        return {"lastUpdateId": ts, "E": ts, "T": ts, "bids": side(bids), "asks": side(asks)}

    def account(self, account: str, at: Optional[int], v3: bool) -> dict[str, Any]:
        eng = self.engine
        # one time for both reads: the engine marks the book once for it, not once per read
        at = eng.now() if at is None else at
        v = eng.account_state(account, at=at)
        positions = {(p.symbol, p.position_side): p for p in eng.positions(account, at=at)}
        asset: dict[str, Any] = {
            "asset": "USDT", "walletBalance": _money(v.wallet), "unrealizedProfit": _money(v.unrealized_pnl),
            "marginBalance": _money(v.equity), "maintMargin": _money(v.maint_margin),
            "initialMargin": _money(v.initial_margin + v.open_order_margin),
            "positionInitialMargin": _money(v.initial_margin), "openOrderInitialMargin": _money(v.open_order_margin),
            "crossWalletBalance": _money(v.wallet), "crossUnPnl": _money(v.unrealized_pnl),
            "availableBalance": _money(v.available), "maxWithdrawAmount": _money(v.available),
            "marginAvailable": True, "updateTime": v.update_time,
        }
        out: dict[str, Any] = {
            "totalInitialMargin": _money(v.initial_margin + v.open_order_margin),
            "totalMaintMargin": _money(v.maint_margin), "totalWalletBalance": _money(v.wallet),
            "totalUnrealizedProfit": _money(v.unrealized_pnl), "totalMarginBalance": _money(v.equity),
            "totalPositionInitialMargin": _money(v.initial_margin),
            "totalOpenOrderInitialMargin": _money(v.open_order_margin), "totalCrossWalletBalance": _money(v.wallet),
            "totalCrossUnPnl": _money(v.unrealized_pnl), "availableBalance": _money(v.available),
            "maxWithdrawAmount": _money(v.available), "assets": [asset],
        }
        rows = []
        p: Optional[PositionView]  # the v3 rows read every open one, the others look each up
        if v3:
            for p in positions.values():
                m = eng.markets[p.symbol]
                rows.append({"symbol": p.symbol, "positionSide": p.position_side,
                             "positionAmt": _f(p.amount, _digits(m)[1]),
                             "unrealizedProfit": _money(p.unrealized_pnl),
                             "isolatedMargin": "0", "notional": _money(p.notional), "isolatedWallet": "0",
                             "initialMargin": _money(p.initial_margin), "maintMargin": _money(p.maint_margin),
                             "updateTime": p.update_time})
        else:
            out.update({"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                        "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1})
            for m in eng.markets.values():
                for ps in self.sides(account):
                    p = positions.get((m.symbol, ps))
                    lev = eng.leverage(account, m.symbol)
                    pd, ad = _digits(m)
                    rows.append({"symbol": m.symbol, "initialMargin": _money(p.initial_margin if p else 0),
                                 "maintMargin": _money(p.maint_margin if p else 0),
                                 "unrealizedProfit": _money(p.unrealized_pnl if p else 0),
                                 "positionInitialMargin": _money(p.initial_margin if p else 0),
                                 "openOrderInitialMargin": "0", "leverage": str(lev), "isolated": False,
                                 "entryPrice": _f(p.entry_price if p else 0, pd + 2),
                                 "breakEvenPrice": _f(p.entry_price if p else 0, pd + 2),
                                 "maxNotional": "1000000000", "bidNotional": "0", "askNotional": "0",
                                 "positionSide": ps, "positionAmt": _f(p.amount if p else 0, ad),
                                 "updateTime": p.update_time if p else 0})
        out["positions"] = rows
        return out

    def sides(self, account: str) -> tuple[str, ...]:
        return ("LONG", "SHORT") if self.engine.hedge_mode(account) else ("BOTH",)

    def position_risk(self, account: str, symbol: Optional[str], at: Optional[int], v3: bool) -> list:
        eng = self.engine
        positions = {(p.symbol, p.position_side): p for p in eng.positions(account, symbol, at=at)}
        rows = []
        markets = [eng.markets[symbol]] if symbol else list(eng.markets.values())
        if v3:  # v3 lists only positions that are open: no walk of every market
            open_symbols = {s for s, _ in positions}
            markets = [m for m in markets if m.symbol in open_symbols]
        sides = self.sides(account)
        for m in markets:
            pd, ad = _digits(m)
            for ps in sides:
                p = positions.get((m.symbol, ps))
                if p is None and v3:
                    continue
                mark = p.mark_price if p else eng.mark(m.symbol, at)
                row = {"symbol": m.symbol, "positionSide": ps,
                       "positionAmt": _f(p.amount if p else 0, ad),
                       "entryPrice": _f(p.entry_price if p else 0, pd + 2),
                       "breakEvenPrice": _f(p.entry_price if p else 0, pd + 2),
                       "markPrice": _f(mark, pd + 6),
                       "unRealizedProfit": _money(p.unrealized_pnl if p else 0),
                       "liquidationPrice": _f(p.liquidation_price if p else 0, pd + 6),
                       "isolatedMargin": "0", "notional": _money(p.notional if p else 0), "marginAsset": "USDT",
                       "isolatedWallet": "0", "updateTime": p.update_time if p else 0}
                if v3 and p is not None:  # holds: v3 skipped the sides without a position
                    row.update({"initialMargin": _money(p.initial_margin), "maintMargin": _money(p.maint_margin),
                                "positionInitialMargin": _money(p.initial_margin), "openOrderInitialMargin": "0",
                                "adl": 2, "bidNotional": "0", "askNotional": "0"})
                else:
                    row.update({"leverage": str(eng.leverage(account, m.symbol)), "maxNotionalValue": "1000000000",
                                "marginType": "cross", "isAutoAddMargin": "false", "isolated": False,
                                "adlQuantile": 2})
                rows.append(row)
        return rows

    def brackets(self, symbol: Optional[str]) -> Any:
        eng = self.engine
        if symbol is not None and symbol not in eng.markets:
            raise err(-1121, "Invalid symbol.")
        rows = [{"symbol": m.symbol, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": m.max_leverage, "notionalCap": 1_000_000_000, "notionalFloor": 0,
             "maintMarginRatio": m.maint_margin_rate, "cum": 0.0}]}
            for m in ([eng.markets[symbol]] if symbol else list(eng.markets.values()))]
        return rows[0] if symbol else rows

    def order(self, o: SimOrder, with_time: bool) -> dict:
        m = self.engine.markets[o.symbol]
        pd, ad = _digits(m)
        d = {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_order_id,
            "price": _f(o.price, pd), "avgPrice": _f(o.avg_price, pd + 3), "origQty": _f(o.quantity, ad),
            "executedQty": _f(o.executed_qty, ad), "cumQty": _f(o.executed_qty, ad),
            "cumQuote": _money(o.cum_quote), "timeInForce": o.time_in_force, "type": o.type,
            "reduceOnly": o.closes, "closePosition": False, "side": o.side, "positionSide": o.position_side,
            "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.type,
            "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
            "updateTime": o.update_time,
        }
        if with_time:
            d["time"] = o.time
        return d

    def trades(self, fills: list[dict]) -> list[dict]:
        """``GET /fapi/v1/userTrades``'s rows: as Binance, the order's id and no client order id."""
        rows = []
        for t in fills:
            m = self.engine.markets[t["symbol"]]
            pd, ad = _digits(m)
            rows.append({"symbol": t["symbol"], "id": t["id"], "orderId": t["order"], "side": t["side"],
                         "price": _f(t["price"], pd), "qty": _f(t["qty"], ad),
                         "realizedPnl": _money(t["realized"]), "quoteQty": _money(t["qty"] * t["price"]),
                         "commission": _money(t["fee"]), "commissionAsset": "USDT", "time": t["ts"],
                         "positionSide": t["position_side"], "buyer": t["side"] == "BUY", "maker": False})
        return rows

    def algo(self, o: SimAlgoOrder) -> dict:
        """A conditional order as the algo service writes it (``reduceOnly`` as it was sent: a
        close-position or hedge-mode closing order says false)."""
        pd, ad = _digits(self.engine.markets[o.symbol])
        d: dict[str, Any] = {
            "algoId": o.algo_id, "clientAlgoId": o.client_algo_id, "algoType": "CONDITIONAL",
            "orderType": o.order_type, "symbol": o.symbol, "side": o.side, "positionSide": o.position_side,
            "timeInForce": o.time_in_force, "quantity": _f(o.quantity, ad), "algoStatus": o.status,
            "triggerPrice": _f(o.trigger_price, pd), "price": _f(o.price, pd), "icebergQuantity": None,
            "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": o.working_type, "priceMatch": "NONE",
            "closePosition": o.close_position, "priceProtect": o.price_protect, "reduceOnly": o.reduce_only,
            "createTime": o.create_time, "updateTime": o.update_time, "triggerTime": o.trigger_time,
            "goodTillDate": 0,
        }
        if o.order_type == "TRAILING_STOP_MARKET":
            d["activatePrice"] = _f(o.activate_price, pd)
            d["callbackRate"] = f"{o.callback_rate:g}"
        if o.actual_order_id:
            d["actualOrderId"] = str(o.actual_order_id)
        return d


__all__ = ["BinanceRows", "DEPTH_LIMITS", "err"]
