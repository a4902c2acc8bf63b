"""The simulated Bybit v5 face's reads that are no order's: instruments, tickers, wallet, positions.

What it owns
    :class:`BybitReads`, the results of ``market/instruments-info``, ``market/tickers``,
    ``account/wallet-balance`` (the unified account) and ``position/list`` in Bybit's fields,
    over the engine's markets and accounts (``at``: as of that engine time, for a frozen feed).

What it must not do
    change the engine.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.engine import MarketSpec
from .params import BybitParams
from .wire import IDX_OF_LEG, _digits, _f, _money, _params


class BybitReads(BybitParams):
    """The market data and the account of one request's view (see the module docstring)."""

    def _instruments(self, p: dict) -> dict:
        self._linear(p)
        category = p["category"]
        if category != "linear" or p.get("status") not in (None, "", "Trading"):
            return {"category": category, "list": [], "nextPageCursor": ""}
        markets = list(self.engine.markets.values())
        if p.get("symbol"):
            markets = [m for m in markets if m.symbol == p["symbol"]]
        if p.get("baseCoin"):
            markets = [m for m in markets if m.base == p["baseCoin"]]
        rows = [self._instrument(m) for m in markets]
        limit_s = str(p.get("limit", "") or "")
        if limit_s and (not limit_s.isdigit() or not 1 <= int(limit_s) <= 1000):
            raise _params("params error: limit must be 1 to 1000")
        limit = int(limit_s) if limit_s else 500
        cursor = str(p.get("cursor", "") or "")
        start = int(cursor[4:]) if cursor.startswith("page") and cursor[4:].isdigit() else 0
        more = start + limit < len(rows)
        return {"category": "linear", "list": rows[start:start + limit],
                "nextPageCursor": f"page{start + limit}" if more else ""}

    def _instrument(self, m: MarketSpec) -> dict:
        pd, ad = _digits(m)
        return {
            "symbol": m.symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": m.base,
            "quoteCoin": m.quote, "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(pd),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{m.max_leverage:.2f}", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": _f(m.price_tick, pd), "maxPrice": "1999999.80",
                            "tickSize": _f(m.price_tick, pd)},
            "lotSizeFilter": {"maxOrderQty": _f(m.max_amount, ad), "minOrderQty": _f(m.min_amount, ad),
                              "qtyStep": _f(m.amount_step, ad), "postOnlyMaxOrderQty": _f(m.max_amount, ad),
                              "maxMktOrderQty": _f(m.max_amount, ad), "minNotionalValue": f"{m.min_notional:g}"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": m.quote, "copyTrading": "both",
            "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        }

    def _tickers(self, p: dict, at: int) -> dict:
        markets = self._scope(p, need=False)
        if markets is None:
            return {"category": p["category"], "list": []}
        eng = self.engine
        rows = []
        for m in markets:
            pd = _digits(m)[0]
            px = _f(eng.mark(m.symbol, at), pd)
            prev = _f(eng.mark(m.symbol, at - 86_400_000), pd)
            rows.append({"symbol": m.symbol, "lastPrice": px, "indexPrice": px, "markPrice": px,
                         "prevPrice24h": prev, "price24hPcnt": "%.6f" % (float(px) / float(prev) - 1),
                         "highPrice24h": max(px, prev, key=float), "lowPrice24h": min(px, prev, key=float),
                         "prevPrice1h": px, "openInterest": "0", "openInterestValue": "0", "turnover24h": "0",
                         "volume24h": "0", "fundingRate": "0.0001",
                         "nextFundingTime": str((at // 28_800_000 + 1) * 28_800_000), "predictedDeliveryPrice": "",
                         "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0", "ask1Size": "0",
                         "bid1Price": px, "ask1Price": px, "bid1Size": "0", "basis": ""})
        return {"category": "linear", "list": rows}

    def _wallet(self, account: str, p: dict, at: Optional[int]) -> dict:
        if p.get("accountType") != "UNIFIED":
            raise _params("accountType only support UNIFIED")
        v = self.engine.account_state(account, at=at)
        im = v.initial_margin + v.open_order_margin
        coin = {"coin": "USDT", "equity": _money(v.equity), "usdValue": _money(v.equity),
                "walletBalance": _money(v.wallet), "unrealisedPnl": _money(v.unrealized_pnl),
                "cumRealisedPnl": "0", "totalOrderIM": _money(v.open_order_margin),
                "totalPositionIM": _money(v.initial_margin), "totalPositionMM": _money(v.maint_margin),
                "locked": "0", "borrowAmount": "0", "accruedInterest": "0", "bonus": "0",
                "availableToWithdraw": "", "availableToBorrow": "", "spotHedgingQty": "0",
                "collateralSwitch": True, "marginCollateral": True}
        coins = [coin] if p.get("coin") in (None, "", "USDT") or "USDT" in str(p.get("coin")).split(",") else []
        return {"list": [{
            "accountType": "UNIFIED", "totalEquity": _money(v.equity), "totalWalletBalance": _money(v.wallet),
            "totalMarginBalance": _money(v.equity), "totalAvailableBalance": _money(v.available),
            "totalPerpUPL": _money(v.unrealized_pnl), "totalInitialMargin": _money(im),
            "totalMaintenanceMargin": _money(v.maint_margin),
            "accountIMRate": "%.4f" % (im / v.equity if v.equity > 0 else 0),
            "accountMMRate": "%.4f" % (v.maint_margin / v.equity if v.equity > 0 else 0),
            "accountLTV": "0", "coin": coins}]}

    def _positions(self, account: str, p: dict, at: Optional[int]) -> dict:
        markets = self._scope(p)
        if markets is None:
            return {"category": p["category"], "list": [], "nextPageCursor": ""}
        eng = self.engine
        symbols = {m.symbol for m in markets}
        by_symbol = bool(p.get("symbol"))
        held = {(v.symbol, v.position_side): v for v in eng.positions(account, p.get("symbol") or None, at=at)
                if v.symbol in symbols}
        legs = ("LONG", "SHORT") if eng.hedge_mode(account) else ("BOTH",)
        rows = []
        for m in markets:
            for leg in legs:
                v = held.get((m.symbol, leg))
                if v is None and not by_symbol:
                    continue  # by settle coin: the open positions only
                rows.append(self._position(account, m, leg, v, at))
        return self._page(rows, p, "positions", "linear")

    def _position(self, account: str, m: MarketSpec, leg: str, v: Any, at: Optional[int]) -> dict:
        pd, ad = _digits(m)
        eng = self.engine
        mark = v.mark_price if v is not None else eng.mark(m.symbol, at)
        side = "" if v is None else ("Buy" if v.amount > 0 else "Sell")
        return {
            "positionIdx": IDX_OF_LEG[leg], "riskId": 1, "riskLimitValue": "2000000", "symbol": m.symbol,
            "side": side, "size": _f(abs(v.amount) if v else 0, ad),
            "avgPrice": _f(v.entry_price if v else 0, pd + 2), "positionValue": _money(abs(v.notional) if v else 0),
            "tradeMode": 0, "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 2 if v else 0,
            "leverage": str(eng.leverage(account, m.symbol)), "positionBalance": _money(v.initial_margin if v else 0),
            "markPrice": _f(mark, pd), "liqPrice": _f(v.liquidation_price, pd) if v and v.liquidation_price else "",
            "bustPrice": "", "positionMM": _money(v.maint_margin if v else 0),
            "positionIM": _money(v.initial_margin if v else 0), "tpslMode": "Full", "takeProfit": "0",
            "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": _money(v.unrealized_pnl if v else 0),
            "curRealisedPnl": "0", "cumRealisedPnl": "0", "seq": v.update_time if v else -1, "isReduceOnly": False,
            "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "sessionAvgPrice": "",
            "createdTime": str(eng.t0), "updatedTime": str(v.update_time if v else eng.t0),
        }
