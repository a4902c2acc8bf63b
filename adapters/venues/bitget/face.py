"""The simulated exchange's Bitget face: the classic account's v2 USDT-M futures subset that
``ccxt.async_support.bitget`` and the Bitget dialect (:mod:`adapters.venues.bitget.dialect`)
ask, over the one engine, in the shared face shape (:class:`adapters.simulated.faces.shared.RestFace`).

public   GET  /api/v2/public/time, /api/v2/mix/market/contracts, /api/v2/mix/market/tickers,
              /api/v2/mix/market/ticker, /api/v2/mix/market/merge-depth; the spot and margin
              lists ccxt loads with its markets (/api/v2/spot/public/symbols, /coins,
              /api/v2/margin/currencies) answer empty: the face is the futures account's
signed   GET  /api/v2/mix/account/accounts, /api/v2/mix/account/account, /api/v2/mix/position/all-position,
              /api/v2/mix/order/orders-pending, /api/v2/mix/order/orders-plan-pending, /api/v2/mix/order/detail
         POST /api/v2/mix/order/place-order, /api/v2/mix/order/cancel-order,
              /api/v2/mix/order/batch-cancel-orders, /api/v2/mix/order/cancel-plan-order

What it answers, as Bitget does
    * the envelope ``{"code": "00000", "msg": "success", "requestTime": ..., "data": ...}`` and
      the error ``{"code": "40xxx", "msg": ..., "requestTime": ..., "data": null}`` (HTTP 400;
      429 for a rate limit);
    * signed requests: ``ACCESS-KEY`` (40001 missing, 40006 unknown), ``ACCESS-PASSPHRASE``
      (40011 missing, 40012 wrong), ``ACCESS-TIMESTAMP`` in milliseconds within 30 s (40005,
      40008), ``ACCESS-SIGN`` = base64 HMAC-SHA256 of timestamp + METHOD + path (+ ``?`` and the
      query as signed) + body (40003 missing, 40009 wrong);
    * positions by ``holdSide`` with the account's ``posMode`` (hedge_mode / one_way_mode),
      ``marginMode`` crossed (the engine keeps one cross margin: an isolated close is refused as
      the venue refuses a close of a position it does not hold, 40757);
    * orders: hedge mode takes ``tradeSide`` open / close with ``side`` the leg's direction (buy:
      the long leg) and refuses an order without it (40774); one-way mode ignores ``tradeSide``
      and takes ``reduceOnly`` YES; ``clientOid`` of at most 36 letters, digits and dashes;
      ``force`` gtc / ioc / fok / post_only; rows written back the same way;
    * plan orders: the engine's conditional book, listed by ``orders-plan-pending`` per
      ``planType`` (normal_plan, track_plan, profit_loss: profit_plan, loss_plan, pos_profit,
      pos_loss, moving_plan), cancelled by ``cancel-plan-order`` naming their own planType;
      placed in tests through the engine (``label`` the planType);
    * lists newest first, ``limit`` at most 100, ``idLessThan`` the older rows, ``endId`` the
      page's oldest id;
    * errors: 40757 reduce-only without the position, 40786 duplicate clientOid, 40762 balance,
      45110 below the minimum, 40808 size precision, 40109 / 40768 order not found, 40774 the
      position mode's order type, 40017 a bad parameter, 40014 a key without trade permission.

    Bitget's classic account has no countdown-cancel-all: the face has none.

What it must not do
    keep exchange state, or reach beyond the server it is handed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any, MutableMapping, Optional
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from ...simulated.conditional import SimAlgoOrder
from ...simulated.engine import (DUPLICATE_CLIENT_ID, INSUFFICIENT_BALANCE, INVALID_SYMBOL, MARGIN_INSUFFICIENT,
                                 NO_SUCH_ORDER, NOTIONAL_TOO_SMALL, PRECISION, REDUCE_ONLY_REJECTED, TOO_MANY_ORDERS,
                                 TOO_MANY_REQUESTS, UNKNOWN_ORDER, MarketSpec, SimError, SimOrder, decimals)
from ...simulated.views import money
from ...simulated.faces.shared import RestFace, VenueFail, passphrase_account

PREFIXES = ("/api/v2/",)
V2 = "/api/v2"

ROUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", f"{V2}/public/time"): ("time", False),
    ("GET", f"{V2}/mix/market/contracts"): ("exchange_info", False),
    ("GET", f"{V2}/spot/public/symbols"): ("exchange_info", False),
    ("GET", f"{V2}/spot/public/coins"): ("exchange_info", False),
    ("GET", f"{V2}/margin/currencies"): ("exchange_info", False),
    ("GET", f"{V2}/mix/market/tickers"): ("ticker", False),
    ("GET", f"{V2}/mix/market/ticker"): ("ticker", False),
    ("GET", f"{V2}/mix/market/merge-depth"): ("depth", False),
    ("GET", f"{V2}/mix/account/accounts"): ("account", True),
    ("GET", f"{V2}/mix/account/account"): ("position_mode", True),
    ("GET", f"{V2}/mix/position/all-position"): ("positions", True),
    ("GET", f"{V2}/mix/order/orders-pending"): ("open_orders", True),
    ("GET", f"{V2}/mix/order/orders-plan-pending"): ("open_algo_orders", True),
    ("GET", f"{V2}/mix/order/detail"): ("get_order", True),
    ("POST", f"{V2}/mix/order/place-order"): ("place_order", True),
    ("POST", f"{V2}/mix/order/cancel-order"): ("cancel_order", True),
    ("POST", f"{V2}/mix/order/batch-cancel-orders"): ("cancel_order", True),
    ("POST", f"{V2}/mix/order/cancel-plan-order"): ("cancel_algo_order", True),
}

PRODUCT = "USDT-FUTURES"
PAGE = 100
TIMESTAMP_WINDOW_MS = 30_000
CLIENT_OID_RE = re.compile(r"^[A-Za-z0-9\-]{1,36}$")
PLAN_TYPES = ("normal_plan", "track_plan", "profit_plan", "loss_plan", "pos_profit", "pos_loss", "moving_plan")
PROFIT_LOSS = ("profit_plan", "loss_plan", "pos_profit", "pos_loss", "moving_plan")
CLOSING_PLANS = PROFIT_LOSS

NO_POSITION = ("40757", "Not enough position is available.")
UNILATERAL = ("40774", "The order type for unilateral position must also be the unilateral position type.")
NOT_FOUND = ("40109", "The data of the order cannot be found, please confirm the order number")
CANCEL_NOT_FOUND = ("40768", "Order does not exist")

# the engine's (Binance) codes → Bitget's
_CODES: dict[int, tuple[str, str]] = {
    DUPLICATE_CLIENT_ID: ("40786", "Duplicate clientOid"),
    MARGIN_INSUFFICIENT: ("40762", "The order amount exceeds the balance"),
    INSUFFICIENT_BALANCE: ("40762", "The order amount exceeds the balance"),
    INVALID_SYMBOL: ("40034", "Parameter symbol does not exist"),
    NOTIONAL_TOO_SMALL: ("45110", "less than the minimum amount 5 USDT"),
    -1013: ("45110", "less than the minimum amount 5 USDT"),
    PRECISION: ("40808", "Parameter verification exception size checkBDScale error"),
    REDUCE_ONLY_REJECTED: NO_POSITION,
    -4061: UNILATERAL,
}


def _f(x: float, d: int) -> str:
    s = "%.*f" % (d, x)
    return "0" if float(s) == 0 else s


def _money(x: float) -> str:
    return "%.8f" % money(x)


def _px(m: MarketSpec, x: float) -> str:
    return _f(x, decimals(m.price_tick)) if x else ""


def _sz(m: MarketSpec, x: float) -> str:
    return _f(x, decimals(m.amount_step))


def symbol_id(m: MarketSpec) -> str:
    """Bitget's id of a USDT-M perpetual is the engine's: BTCUSDT."""
    return m.symbol


class BitgetFace(RestFace):
    """One request's view of the engine in Bitget's terms.

    Size: about 440 lines, one handler per Bitget v2 endpoint ccxt and the dialect call; the
    request pipeline is the shared face's and the venue itself is the engine."""

    ROUTES = ROUTES
    KEY_HEADER = "ACCESS-KEY"
    TIME_FIELDS = ("requestTime", "cTime", "uTime", "serverTime", "ts")
    VENUE = "bitget"

    # --- the envelope and the shared hooks -------------------------------------------------------------

    def ok(self, data: Any) -> dict:
        return {"code": "00000", "msg": "success", "requestTime": self.engine.now(), "data": data}

    def fail(self, code: str, msg: str, status: int = 400) -> VenueFail:
        return VenueFail(status, {"code": code, "msg": msg, "requestTime": self.engine.now(), "data": None})

    def bad(self, name: str) -> VenueFail:
        return self.fail("40017", f"Parameter verification failed: {name}")

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"code": "40404", "msg": "Request URL NOT FOUND", "requestTime": self.engine.now(), "data": None}

    def status_fault(self, code: int) -> tuple[int, Any]:
        if code in (429, 418):  # Bitget answers every rate limit 429; it has no 418 ban
            return 429, {"code": "429", "msg": "Too Many Requests", "requestTime": self.engine.now(), "data": None}
        return super().status_fault(code)

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        h = request.headers
        sign, stamp, phrase = h.get("ACCESS-SIGN", ""), h.get("ACCESS-TIMESTAMP", ""), h.get("ACCESS-PASSPHRASE", "")
        if not key:
            raise self.fail("40001", "ACCESS_KEY cannot be empty")
        if not sign:
            raise self.fail("40003", "Signature cannot be empty")
        if not phrase:
            raise self.fail("40011", "ACCESS_PASSPHRASE cannot be empty")
        if not stamp.isdigit():
            raise self.fail("40005", "Invalid ACCESS_TIMESTAMP")
        if account is None:
            raise self.fail("40006", "Invalid ACCESS_KEY")
        srv = self.server
        if srv.check_timestamp and abs(int(srv.auth_clock()) - int(stamp)) > TIMESTAMP_WINDOW_MS:
            raise self.fail("40008", "Request timestamp expired")
        creds = self.engine.permissions.credentials(key)
        secret, passphrase = creds if creds is not None else (self.engine.secret(account),
                                                              self.engine.accounts[account].spec.passphrase)
        if not hmac.compare_digest(phrase, passphrase):
            raise self.fail("40012", "apikey/password is incorrect")
        # the query as signed: its values as written, not percent-encoded
        prehash = stamp + request.method + request.path + (f"?{unquote(raw_query)}" if raw_query else "") + raw_body
        expected = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, sign):
            raise self.fail("40009", "sign signature error")
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail("40014", "Incorrect permissions")

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return self.fail(*NO_POSITION)

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        if method == "GET":
            return dict(parse_qsl(raw_query, keep_blank_values=True))
        if not raw_body:
            return {}
        try:
            got = json.loads(raw_body)
        except ValueError:
            raise self.fail("40017", "Parameter verification failed: body") from None
        if not isinstance(got, dict):
            raise self.fail("40017", "Parameter verification failed: body")
        return got

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        if e.code in (TOO_MANY_REQUESTS, TOO_MANY_ORDERS):
            return 429, {"code": "429", "msg": "Too Many Requests", "requestTime": self.engine.now(), "data": None}
        if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
            code, msg = CANCEL_NOT_FOUND if op.startswith("cancel") else NOT_FOUND
        else:
            code, msg = _CODES.get(e.code, ("40017", f"Parameter verification failed: {e.msg}"))
        return 400, {"code": code, "msg": msg, "requestTime": self.engine.now(), "data": None}

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        if op == "place_order" and isinstance(body, dict) and isinstance(body.get("data"), dict):
            return [int(body["data"]["orderId"])]
        return []

    # --- parameters ---------------------------------------------------------------------------------

    def market(self, p: dict, required: bool = True) -> Optional[MarketSpec]:
        sid = str(p.get("symbol") or "").upper()
        if not sid:
            if required:
                raise self.fail("40019", "Parameter symbol cannot be empty")
            return None
        m = self.engine.markets.get(sid)
        if m is None:
            raise self.fail("40034", "Parameter symbol does not exist")
        return m

    def product(self, p: dict) -> None:
        if str(p.get("productType") or "").upper() != PRODUCT:
            raise self.fail("40019", "Parameter productType cannot be empty") if not p.get("productType") \
                else self.bad("productType")

    def number(self, p: dict, name: str, required: bool = False) -> Optional[float]:
        v = p.get(name)
        if v is None or v == "":
            if required:
                raise self.fail("40019", f"Parameter {name} cannot be empty")
            return None
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise self.bad(name) from None
        if x != x or x in (float("inf"), float("-inf")):
            raise self.bad(name)
        return x

    # --- operations -----------------------------------------------------------------------------------

    def dispatch(self, op: str, path: str, p: Any, account: Optional[str], at: Optional[int]) -> Any:
        eng = self.engine
        now = eng.now() if at is None else at
        if op == "time":
            return self.ok({"serverTime": str(now)})
        if op == "exchange_info":
            if not path.endswith("/mix/market/contracts") or str(p.get("productType") or "").upper() != PRODUCT:
                return self.ok([])  # the simulated venue lists USDT-M perpetuals only
            return self.ok([self.contract(m) for m in eng.markets.values()])
        if op == "ticker":
            return self.tickers(p, now)
        if op == "depth":
            return self.depth(p)
        assert account is not None
        if op == "account":
            self.product(p)
            return self.ok([self.account_row(account, at)])
        if op == "position_mode":
            self.product(p)
            self.market(p)
            return self.ok(self.account_row(account, at))
        if op == "positions":
            self.product(p)
            return self.ok(self.positions(account, at))
        if op == "open_orders":
            self.product(p)
            m = self.market(p, required=False)
            rows = [self.order(o) for o in eng.open_orders(account, m.symbol if m else None, weight=1)]
            return self.page(rows, p)
        if op == "open_algo_orders":
            return self.plans(account, p)
        if op == "get_order":
            self.product(p)
            m = self.market(p)
            assert m is not None
            oid, cid = p.get("orderId"), p.get("clientOid")
            if not oid and not cid:
                raise self.fail("40019", "Parameter orderId cannot be empty")
            if oid and not str(oid).isdigit():
                raise self.fail(*NOT_FOUND)
            o = eng.get_order(account, m.symbol, int(oid) if oid else None, None if oid else cid)
            return self.ok(self.order(o, detail=True))
        if op == "place_order":
            return self.place(account, p)
        if op == "cancel_order":
            return self.cancel(account, path, p)
        if op == "cancel_algo_order":
            return self.cancel_plans(account, p)
        raise self.fail("40404", "Request URL NOT FOUND", 404)

    # --- reads ----------------------------------------------------------------------------------------

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

    def _sides(self, side: str, leg: str, closes: bool) -> tuple[str, str, str]:
        """(side, posSide, tradeSide) as Bitget writes an order of the engine's ``side`` on ``leg``."""
        if leg == "BOTH":
            return side.lower(), "net", ("reduce_" if closes else "") + side.lower() + "_single"
        return ("buy" if leg == "LONG" else "sell"), leg.lower(), "close" if closes else "open"

    def order(self, o: SimOrder, detail: bool = False) -> dict:
        m = self.engine.markets[o.symbol]
        closes = o.reduce_only or (o.position_side == "LONG") == (o.side == "SELL") and o.position_side != "BOTH"
        side, pos_side, trade_side = self._sides(o.side, o.position_side, closes)
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
        side, pos_side, trade_side = self._sides(o.side, o.position_side, closes)
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

    def page(self, rows: list[dict], p: dict) -> dict:
        """A page as Bitget gives it: newest first, at most ``limit`` rows older than ``idLessThan``."""
        limit = p.get("limit")
        n = PAGE if limit in (None, "") else (int(limit) if str(limit).isdigit() else -1)
        if not 1 <= n <= PAGE:
            raise self.bad("limit")
        before = p.get("idLessThan")
        if before not in (None, "") and not str(before).isdigit():
            raise self.bad("idLessThan")
        rows = sorted(rows, key=lambda r: int(r["orderId"]), reverse=True)
        if before:
            rows = [r for r in rows if int(r["orderId"]) < int(before)]
        rows = rows[:n]
        return self.ok({"entrustedList": rows, "endId": rows[-1]["orderId"] if rows else None})

    def plans(self, account: str, p: dict) -> dict:
        self.product(p)
        asked = p.get("planType")
        if asked not in ("normal_plan", "track_plan", "profit_loss"):
            raise self.fail("40019", "Parameter planType cannot be empty") if not asked else self.bad("planType")
        wanted = PROFIT_LOSS if asked == "profit_loss" else (asked,)
        m = self.market(p, required=False)
        rows = [self.plan(o) for o in self.engine.open_algo_orders(account, m.symbol if m else None, weight=1)]
        return self.page([r for r in rows if r["planType"] in wanted], p)

    # --- orders ------------------------------------------------------------------------------------------

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
        oid, cid = ref.get("orderId"), ref.get("clientOid")
        if not oid and not cid:
            raise self.fail("40019", "Parameter orderId cannot be empty")
        if oid and not str(oid).isdigit():
            raise self.fail(*CANCEL_NOT_FOUND)
        return self.engine.cancel_order(account, m.symbol, int(oid) if oid else None, None if oid else cid)

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
            done = eng.cancel_algo_order(account, o.algo_id)
            ok.append({"orderId": str(done.algo_id), "clientOid": done.client_algo_id})
        return self.ok({"successList": ok, "failureList": failed})


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    """Answer one request under ``/api/v2/`` as Bitget (see the module docstring)."""
    return await BitgetFace(server).handle(request)


# --- clients -----------------------------------------------------------------------------------------------


def bitget_account(server: Any, account: str, *, hedge_mode: Optional[bool] = None,
                   env: Optional[MutableMapping[str, str]] = None, **fields: Any) -> Any:
    """A killswitch Account on venue ``bitget`` for the engine's ``account`` (see
    :func:`adapters.simulated.faces.shared.passphrase_account`)."""
    return passphrase_account(server, account, "bitget", hedge_mode=hedge_mode, env=env, **fields)


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """:func:`bitget_account` (:func:`adapters.simulated.venues.sim_account`)."""
    return bitget_account(server, account, **fields)


__all__ = ["BitgetFace", "PREFIXES", "ROUTES", "bitget_account", "handle", "sim_account", "symbol_id"]
