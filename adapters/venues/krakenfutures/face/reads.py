"""The simulated Kraken Futures face's request view and its reads that are no order's.

What it owns
    :class:`KrakenReads`, the base of the face's request view (:class:`..face.KrakenFace`): the
    shared face's pipeline (:class:`adapters.simulated.faces.shared.RestFace`), Kraken's envelope
    (``result: success`` and ``serverTime`` beside the answer's own key), its refusals (HTTP 400
    ``result: error``), the parameters' reading (a contract ``symbol``, a number), and the rows of
    ``instruments``, ``tickers``, ``orderbook``, ``accounts`` (the multi-collateral ``flex``
    account) and ``openpositions`` over the engine's markets and accounts (``at``: as of that
    engine time, for a frozen feed).

What it must not do
    change the engine.
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.engine import MarketSpec, decimals
from ....simulated.faces.shared import RestFace, VenueFail, finite_number
from .wire import _f, error, iso, market_id


class KrakenReads(RestFace):
    """One request's view of the engine in Kraken Futures' terms (no state beyond the request)."""

    # --- the envelope ------------------------------------------------------------------------------

    def ok(self, key: Optional[str] = None, value: Any = None, at: Optional[int] = None, **more: Any) -> dict:
        body: dict = {"result": "success"}
        if key is not None:
            body[key] = value
        body.update(more)
        body["serverTime"] = iso(self.engine.now() if at is None else at)
        return body

    def fail(self, code: str, status: int = 400) -> VenueFail:
        return VenueFail(status, error(code, self.engine.now()))

    # --- parameters --------------------------------------------------------------------------------

    def market(self, p: dict, required: bool = True) -> Optional[MarketSpec]:
        sid = str(p.get("symbol") or "")
        if not sid:
            if required:
                raise self.fail("requiredArgumentMissing")
            return None
        m = next((mk for mk in self.engine.markets.values() if market_id(mk) == sid.upper()), None)
        if m is None:
            raise self.fail("contractNotFound")
        return m

    def number(self, p: dict, name: str, required: bool = False) -> Optional[float]:
        missing = self.fail("requiredArgumentMissing") if required else None
        return finite_number(p, name, missing, self.fail("invalidArgument"))

    # --- market data -------------------------------------------------------------------------------

    def instrument(self, m: MarketSpec) -> dict:
        return {"symbol": market_id(m), "type": "flexible_futures", "tradeable": True, "tickSize": m.price_tick,
                "contractSize": m.contract_size, "impactMidSize": 1, "maxPositionSize": m.max_amount,
                "openingDate": "2022-01-01T00:00:00.000Z", "contractValueTradePrecision": decimals(m.amount_step),
                "postOnly": False, "feeScheduleUid": "5b755fea-c5b0-4307-a66e-b392cd5bd931",
                "marginLevels": [{"numNonContractUnits": 0, "initialMargin": round(1 / m.max_leverage, 6),
                                  "maintenanceMargin": m.maint_margin_rate}],
                "fundingRateCoefficient": 8, "maxRelativeFundingRate": 0.001, "category": "Layer 1", "tags": []}

    def instruments(self) -> dict:
        return self.ok("instruments", [self.instrument(m) for m in self.engine.markets.values()])

    def ticker(self, m: MarketSpec, at: int) -> dict:
        px = self.engine.mark(m.symbol, at)
        return {"tag": "perpetual", "pair": f"{market_id(m)[3:-3]}:USD", "symbol": market_id(m), "markPrice": px,
                "bid": px, "bidSize": 0, "ask": px, "askSize": 0, "vol24h": 0, "volumeQuote": 0, "openInterest": 0,
                "open24h": px, "indexPrice": px, "last": px, "lastTime": iso(at), "lastSize": 0,
                "suspended": False, "fundingRate": 0, "fundingRatePrediction": 0, "postOnly": False}

    def tickers(self, at: int) -> dict:
        rows = [self.ticker(m, at) for m in self.engine.markets.values()]
        # an index's row has no mark, as the venue lists its indices beside the contracts
        rows.append({"tag": "index", "symbol": "in_xbtusd", "last": rows[0]["markPrice"] if rows else 0,
                     "lastTime": iso(at)})
        return self.ok("tickers", rows, at=at)

    def orderbook(self, p: dict) -> dict:
        m = self.market(p)
        assert m is not None
        bids, asks, ts = self.engine.order_book(m.symbol, 100)
        return self.ok("orderBook", {"bids": [[px, q] for px, q in bids], "asks": [[px, q] for px, q in asks]}, at=ts)

    # --- the account -------------------------------------------------------------------------------

    def accounts(self, account: str, at: Optional[int]) -> dict:
        eng = self.engine
        now = eng.now() if at is None else at
        v = eng.account_state(account, at=now)
        flex = {
            "type": "multiCollateralMarginAccount",
            "currencies": {"USD": {"quantity": v.wallet, "value": v.wallet, "collateral": v.wallet,
                                   "available": v.available}},
            "balanceValue": v.wallet, "portfolioValue": v.equity, "collateralValue": v.wallet,
            "initialMargin": v.initial_margin, "initialMarginWithOrders": v.initial_margin + v.open_order_margin,
            "maintenanceMargin": v.maint_margin, "pnl": 0, "unrealizedFunding": 0, "totalUnrealized": v.unrealized_pnl,
            "totalUnrealizedAsMargin": v.unrealized_pnl, "marginEquity": v.equity, "availableMargin": v.available}
        return self.ok("accounts", {"cash": {"type": "cashAccount", "balances": {}}, "flex": flex}, at=now)

    def positions(self, account: str, at: Optional[int]) -> dict:
        eng = self.engine
        rows = []
        for pv in eng.positions(account, at=at):
            m = eng.markets[pv.symbol]
            rows.append({"side": pv.side, "symbol": market_id(m),
                         "price": _f(pv.entry_price, decimals(m.price_tick) + 2), "fillTime": iso(pv.update_time),
                         "size": _f(abs(pv.amount), decimals(m.amount_step)),
                         "unrealizedFunding": "0", "pnlCurrency": "USD"})
        return self.ok("openPositions", rows, at=eng.now() if at is None else at)
