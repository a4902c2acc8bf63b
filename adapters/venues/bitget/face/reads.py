"""The simulated Bitget v2 face's reads that are no order's: contracts, tickers, books, accounts, positions.

What it owns
    :class:`BitgetReads`, the rows of ``mix/market/contracts``, ``mix/market/ticker(s)``,
    ``mix/market/merge-depth``, ``mix/account/account(s)`` and ``mix/position/all-position`` in
    Bitget's fields, over the engine's markets and accounts (``at``: as of that engine time, for
    a frozen feed).

What it must not do
    change the engine.
"""

from __future__ import annotations

from typing import Optional

from ....simulated.engine import MarketSpec, decimals
from .params import BitgetParams
from .wire import _f, _money, _px, _sz, symbol_id


class BitgetReads(BitgetParams):
    """The market data and the account of one request's view (see the module docstring)."""

    def contract(self, m: MarketSpec) -> dict:
        d = decimals(m.price_tick)
        return {"symbol": symbol_id(m), "baseCoin": m.base, "quoteCoin": m.quote, "buyLimitPriceRatio": "0.05",
                "sellLimitPriceRatio": "0.05", "feeRateUpRatio": "0.005", "makerFeeRate": "0.0002",
                "takerFeeRate": "0.0006", "openCostUpRatio": "0.01", "supportMarginCoins": [m.quote],
                "minTradeNum": _sz(m, m.min_amount), "priceEndStep": str(round(m.price_tick * 10 ** d)),
                "volumePlace": str(decimals(m.amount_step)), "pricePlace": str(d),
                "sizeMultiplier": _sz(m, m.amount_step), "symbolType": "perpetual", "minTradeUSDT": "5",
                "maxSymbolOrderNum": "200", "maxProductOrderNum": "400", "maxPositionNum": "150",
                "symbolStatus": "normal", "offTime": "-1", "limitOpenTime": "-1", "deliveryTime": "",
                "deliveryStartTime": "", "launchTime": "", "fundInterval": "8", "minLever": "1",
                "maxLever": str(m.max_leverage), "posLimit": "0.05", "maintainTime": ""}

    def tickers(self, p: dict, at: int) -> dict:
        self.product(p)
        m = self.market(p, required=False)
        markets = [m] if m else list(self.engine.markets.values())
        rows = []
        for mk in markets:
            px = _px(mk, self.engine.mark(mk.symbol, at)) or "0"
            rows.append({"symbol": symbol_id(mk), "lastPr": px, "askPr": px, "bidPr": px, "bidSz": "0", "askSz": "0",
                         "high24h": px, "low24h": px, "ts": str(at), "change24h": "0", "baseVolume": "0",
                         "quoteVolume": "0", "usdtVolume": "0", "openUtc": px, "changeUtc24h": "0",
                         "indexPrice": px, "fundingRate": "0", "holdingAmount": "0", "open24h": px, "markPrice": px})
        return self.ok(rows)

    def depth(self, p: dict) -> dict:
        m = self.market(p)
        assert m is not None
        n = int(self.number(p, "limit") or 100)
        bids, asks, ts = self.engine.order_book(m.symbol, n)
        return self.ok({"asks": [[_px(m, px), _sz(m, q)] for px, q in asks],
                        "bids": [[_px(m, px), _sz(m, q)] for px, q in bids], "ts": str(ts), "scale": "0",
                        "precision": "scale0", "isMaxPrecision": "NO"})

    def account_row(self, account: str, at: Optional[int]) -> dict:
        eng = self.engine
        v = eng.account_state(account, at=eng.now() if at is None else at)
        return {"marginCoin": "USDT", "locked": _money(v.open_order_margin), "available": _money(v.available),
                "crossedMaxAvailable": _money(v.available), "isolatedMaxAvailable": _money(v.available),
                "maxTransferOut": _money(v.available), "accountEquity": _money(v.equity),
                "usdtEquity": _money(v.equity), "btcEquity": "0", "crossedRiskRate": "0",
                "crossedMarginLeverage": "10", "isolatedLongLever": "10", "isolatedShortLever": "10",
                "marginMode": "crossed", "posMode": "hedge_mode" if eng.hedge_mode(account) else "one_way_mode",
                "unrealizedPL": _money(v.unrealized_pnl), "coupon": "0",
                "crossedUnrealizedPL": _money(v.unrealized_pnl), "isolatedUnrealizedPL": "", "grant": "",
                "assetMode": "single"}

    def positions(self, account: str, at: Optional[int]) -> list[dict]:
        eng = self.engine
        mode = "hedge_mode" if eng.hedge_mode(account) else "one_way_mode"
        rows = []
        for pv in eng.positions(account, at=at):
            m = eng.markets[pv.symbol]
            pd = decimals(m.price_tick)
            size = _sz(m, abs(pv.amount))
            rows.append({
                "marginCoin": "USDT", "symbol": symbol_id(m), "holdSide": pv.side, "openDelegateSize": "0",
                "marginSize": _money(pv.initial_margin), "available": size, "locked": "0", "total": size,
                "leverage": str(pv.leverage), "achievedProfits": "0", "openPriceAvg": _f(pv.entry_price, pd + 2),
                "marginMode": "crossed", "posMode": mode, "unrealizedPL": _money(pv.unrealized_pnl),
                "liquidationPrice": _f(pv.liquidation_price, pd) if pv.liquidation_price else "0",
                "keepMarginRate": f"{m.maint_margin_rate:g}", "markPrice": _f(pv.mark_price, pd),
                "marginRatio": "0", "cTime": str(pv.update_time), "uTime": str(pv.update_time)})
        return rows
