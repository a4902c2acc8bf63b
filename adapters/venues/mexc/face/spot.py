"""The simulated exchange's MEXC spot face: the spot API v3 subset that ``ccxt.async_support.mexc``
and the MEXC spot dialect (:mod:`adapters.venues.mexc.dialect.spot`) ask, over the one engine's
spot desk, in the shared face shape (:class:`adapters.simulated.faces.shared.RestFace`). The MEXC
face (:mod:`..face`) hands it every request under ``/api/v3/``.

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).
``/api/v3/userDataStream`` (``POST``, ``PUT``, ``DELETE``) is the spot websocket's listen key:
its face's, :mod:`.spot_stream`.

What it answers, as MEXC documents it
    * rows as the documentation prints them, a refusal ``{"code": -2011, "msg": "Unknown order
      sent."}`` (HTTP 400; a rate limit HTTP 429 with code 429);
    * signed requests: ``X-MEXC-APIKEY`` (10072 invalid access key), ``timestamp`` in
      milliseconds within ``recvWindow`` (default 5000, 700003), ``signature`` = hex HMAC-SHA256
      of the query string before it (700002); a key without trade permission refused an order
      (700007);
    * the engine's markets as spot pairs (``BTCUSDT``), the account's spot balances (``free``,
      and ``locked``: what its resting orders hold), the marks as price tickers; an order is the
      engine's spot order (:mod:`adapters.simulated.spot`), found again by ``origClientOrderId``
      or ``orderId``: ``MARKET`` and ``IMMEDIATE_OR_CANCEL`` at once, at the mark, a ``LIMIT``
      order (GTC) filling what crosses and resting the rest, listed by ``GET
      /api/v3/openOrders`` (one symbol's, or every symbol's when none is named), cancelled by
      ``DELETE /api/v3/order`` (the order's row, ``status`` ``CANCELED``) or a symbol's by
      ``DELETE /api/v3/openOrders`` (a row each);
    * the account's trades of a pair, ``GET /api/v3/myTrades`` (``symbol``, ``startTime``,
      ``limit`` at most 100, the newest, oldest first): each of the spot desk's fills a row as
      ccxt's mexc quotes MEXC's (``id`` the engine's trade number, ``orderId``, ``price``,
      ``qty``, ``quoteQty``, ``commission``, ``isBuyer``, ``time``), which names no client order
      id (the adapter looks the order up); the spot websocket face pushes each as a deal with it.

    ``LIMIT_MAKER`` and ``FILL_OR_KILL`` are refused (30041: the engine has no post-only or
    all-or-nothing order); the spot API documents no stop order, so nothing conditional rests
    here (Kraken's face serves the spot desk's triggers). The rows of the types this face does
    not place are proven on the documented answers instead
    (tests/unit/adapters/venues/mexc/test_spot.py). The spot API has no cancel-all-after.

What it must not do
    keep exchange state, or reach beyond the server it is handed.
"""

from __future__ import annotations

from typing import Any, Callable, Optional
from urllib.parse import parse_qsl

from aiohttp import web

from ....simulated.engine import NO_SUCH_ORDER, UNKNOWN_ORDER, SimError
from ....simulated.faces.shared import RestFace, VenueFail, engine_codes, routes, signs, venue_account
from ....simulated.numbers import log_places
from ....simulated.rules import MarketSpec, SimOrder
from ....simulated.stream import ListenKeyError

V3 = "/api/v3"

# the spot API's error codes (its "Error Code" table) the face answers with
UNKNOWN = (-2011, "Unknown order sent.")
INVALID_KEY = (10072, "invalid access key")
SIGNATURE = (700002, "Signature for this request is not valid.")
STALE = (700003, "Timestamp for this request is outside of the recvWindow.")
NO_PERMISSION = (700007, "No permission to access the endpoint.")
PARAM = (33333, "param is error")
BAD_SYMBOL = (10007, "bad symbol")
TOO_MANY = (429, "Too Many Requests")
# the engine's (Binance) codes → MEXC spot's
CODES = engine_codes(duplicate_id=(PARAM[0], "duplicate newClientOrderId"), no_margin=(30004, "Insufficient position"),
                     no_balance=(10101, "Insufficient balance"), unknown_symbol=BAD_SYMBOL,
                     too_small=(30002, "The minimum transaction volume cannot be less than :"),
                     precision=(PARAM[0], "quantity scale is invalid"))
RECV_WINDOW_MS = 5000
# the spot API's order types this face places → the engine's time in force; its rows' type back
PLACES = {"MARKET": "IOC", "IMMEDIATE_OR_CANCEL": "IOC", "LIMIT": "GTC"}
PLACED_AS = {("LIMIT", "GTC"): "LIMIT", ("LIMIT", "IOC"): "IMMEDIATE_OR_CANCEL"}
TRADES_LIMIT, TRADES_WEIGHT = 100, 10  # myTrades: at most 100 rows (MEXC's default and most), weight 10


def amount_text(x: float) -> str:
    """An amount as the spot API writes one: plain decimals, every digit the engine holds (``%g``
    kept six, and a balance of 49,399.3989 read 49,399.4)."""
    out = f"{float(x):.10f}".rstrip("0").rstrip(".")
    return "0" if out in ("", "-0") else out


def spot_symbol(m: MarketSpec) -> dict:
    """A row of ``exchangeInfo``'s ``symbols`` (the documented fields ccxt reads: precisions are
    decimals, the minimums numbers)."""
    return {"symbol": m.symbol, "status": "1", "baseAsset": m.base, "baseAssetPrecision": log_places(m.amount_step),
            "quoteAsset": m.quote, "quotePrecision": log_places(m.price_tick),
            "quoteAssetPrecision": log_places(m.price_tick), "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8, "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "quoteAmountPrecision": f"{m.min_notional:g}", "baseSizePrecision": f"{m.min_amount:g}",
            "permissions": ["SPOT"], "maxQuoteAmount": "2000000",
            "makerCommission": "0", "takerCommission": "0.0005"}


def order_row(o: SimOrder) -> dict:
    """A spot order as ``GET /api/v3/order`` and ``openOrders`` print it."""
    return {"symbol": o.symbol, "orderId": str(o.order_id), "orderListId": -1, "clientOrderId": o.client_order_id,
            "price": f"{o.price:g}", "origQty": f"{o.quantity:g}", "executedQty": f"{o.executed_qty:g}",
            "cummulativeQuoteQty": f"{o.cum_quote:g}", "status": o.status, "timeInForce": o.time_in_force,
            "type": PLACED_AS.get((o.type, o.time_in_force), "MARKET"), "side": o.side, "stopPrice": "0.0",
            "icebergQty": "0.0", "time": o.time, "updateTime": o.update_time, "isWorking": True,
            "origQuoteOrderQty": "0.000000"}


def trade_row(t: dict, quote: str) -> dict:
    """A spot fill (the engine's ``spot_fill`` event, its trade number ``id``) as ``GET
    /api/v3/myTrades`` lists it (ccxt's mexc quotes the row: no client order id)."""
    return {"symbol": t["symbol"], "id": str(t["id"]), "orderId": str(t["order"]), "orderListId": "-1",
            "price": amount_text(t["price"]), "qty": amount_text(t["qty"]),
            "quoteQty": amount_text(t["qty"] * t["price"]), "commission": amount_text(t["fee"]),
            "commissionAsset": quote, "time": str(t["ts"]), "isBuyer": t["side"] == "BUY", "isMaker": False,
            "isBestMatch": True}


def cancelled_row(o: SimOrder) -> dict:
    """A cancelled order as ``DELETE /api/v3/order`` and ``DELETE /api/v3/openOrders`` answer it."""
    row = order_row(o)
    return {"symbol": o.symbol, "origClientOrderId": o.client_order_id, "orderId": row["orderId"],
            "clientOrderId": o.client_order_id, **{k: row[k] for k in ("price", "origQty", "executedQty",
                                                                         "cummulativeQuoteQty", "status",
                                                                         "timeInForce", "type", "side")}}


class MexcSpotFace(RestFace):
    """One request's view of the engine in MEXC spot's terms."""

    ROUTES = routes({
        f"GET {V3}/exchangeInfo": "exchange_info",
        f"GET {V3}/ticker/price": "ticker",
        f"GET {V3}/time": "time",
        f"GET {V3}/account": "account",
        f"GET {V3}/openOrders": "open_orders",
        f"GET {V3}/order": "get_order",
        f"GET {V3}/myTrades": "my_trades",
        f"POST {V3}/order": "place_order",
        f"DELETE {V3}/order": "cancel_order",
        f"DELETE {V3}/openOrders": "cancel_order",
        f"POST {V3}/userDataStream": "listen_key_new",
        f"PUT {V3}/userDataStream": "listen_key_keep",
        f"DELETE {V3}/userDataStream": "listen_key_close",
    })
    KEY_HEADER = "X-MEXC-APIKEY"
    TIME_FIELDS = ("serverTime", "time", "updateTime", "transactTime")
    VENUE = "mexc"

    @staticmethod
    def fail(code: int, msg: str, status: int = 400) -> VenueFail:
        return VenueFail(status, {"code": code, "msg": msg})

    # --- the shared hooks ------------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"code": 404, "msg": "Not Found"}

    def rate_limited(self) -> tuple[int, Any]:  # MEXC's rate limit: 429
        return 429, {"code": TOO_MANY[0], "msg": TOO_MANY[1]}

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        if not key or account is None:
            raise self.fail(*INVALID_KEY)
        # the signature is of the query string before it (totalParams: the query, then the body)
        signed, _, sign = (raw_query + raw_body).rpartition("&signature=")
        p = dict(parse_qsl(signed))
        stamp, window = str(p.get("timestamp", "")), str(p.get("recvWindow", RECV_WINDOW_MS))
        if not (stamp.isdigit() and window.isdigit()) or self.out_of_window(int(stamp), int(window)):
            raise self.fail(*STALE)
        if not sign or not signs(self.engine.key_secret(key, account), signed, sign):
            raise self.fail(*SIGNATURE)
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail(*NO_PERMISSION)

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        return {k: v for k, v in parse_qsl(raw_query + raw_body, keep_blank_values=True) if k != "signature"}

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
            return 400, {"code": UNKNOWN[0], "msg": UNKNOWN[1]}
        code, msg = CODES.get(e.code, (PARAM[0], e.msg))
        return 400, {"code": code, "msg": msg}

    # --- operations -----------------------------------------------------------------------------------

    def market(self, symbol: Any) -> MarketSpec:
        m = self.engine.markets.get(str(symbol)) if symbol else None
        if m is None:
            raise self.fail(*BAD_SYMBOL)
        return m

    def op_ticker(self, p: dict, account: Any, at: Optional[int], path: str) -> Any:
        at = self.engine.now() if at is None else at
        if p.get("symbol"):
            m = self.market(p["symbol"])
            return {"symbol": m.symbol, "price": f"{self.engine.mark(m.symbol, at):g}"}
        return [{"symbol": m.symbol, "price": f"{self.engine.mark(m.symbol, at):g}"}
                for m in self.engine.markets.values()]

    def op_account(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        spot = self.engine.account_state(account, at).spot
        held = self.engine.spot_locked(account)
        return {"canTrade": True, "canWithdraw": False, "canDeposit": False, "updateTime": None,
                "accountType": "SPOT", "permissions": ["SPOT"],
                "balances": [{"asset": a, "free": amount_text(max(0.0, q - held.get(a, 0.0))),
                              "locked": amount_text(held.get(a, 0.0))} for a, q in sorted(spot.items()) if q]}

    def op_open_orders(self, p: dict, account: str, at: Optional[int], path: str) -> list:
        symbol = self.market(p["symbol"]).symbol if p.get("symbol") else None
        return [order_row(o) for o in self.engine.open_spot_orders(account, symbol)]

    def op_get_order(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        cid, oid = p.get("origClientOrderId") or None, p.get("orderId")
        if cid is None and not str(oid or "").isdigit():
            raise self.fail(700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null")
        o = self.engine.get_spot_order(account, cid, None if cid else int(str(oid)))
        if oid is not None and str(o.order_id) != str(oid):
            raise SimError(UNKNOWN_ORDER, f"no spot order {cid or oid}")
        return order_row(o)

    def op_trades(self, p: dict, account: str, at: Optional[int], path: str) -> list:
        m = self.market(p.get("symbol"))  # (mandatory, as MEXC's)
        try:
            since = int(p["startTime"]) if p.get("startTime") else None
            limit = min(int(p.get("limit") or TRADES_LIMIT), TRADES_LIMIT)
        except ValueError:
            raise self.fail(*PARAM) from None
        fills = self.engine.trades(account, m.symbol, since, limit, weight=TRADES_WEIGHT, event="spot_fill")
        return [trade_row(t, m.quote) for t in fills]

    def op_place(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        m = self.market(p.get("symbol"))
        side, kind = p.get("side"), p.get("type")
        if side not in ("BUY", "SELL") or kind not in PLACES:
            raise self.fail(30041, "current order type can not place order")
        try:
            qty = float(p.get("quantity", ""))
            price = float(p["price"]) if kind != "MARKET" else None
        except (KeyError, ValueError):
            raise self.fail(*PARAM) from None
        o = self.engine.place_spot_order(account, m.symbol, side, qty, price, time_in_force=PLACES[kind],
                                         client_order_id=p.get("newClientOrderId") or None)
        return {"symbol": m.symbol, "orderId": str(o.order_id), "orderListId": -1, "price": f"{o.price:g}",
                "origQty": f"{o.quantity:g}", "type": kind, "side": side, "transactTime": o.time}

    def op_cancel(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        m = self.market(p.get("symbol"))  # (the engine finds an order by its id alone)
        if path.endswith("/openOrders"):
            return [cancelled_row(o) for o in self.engine.cancel_all_spot(account, m.symbol)]
        cid, oid = p.get("origClientOrderId") or None, p.get("orderId")
        if cid is None and not oid:
            raise self.fail(700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null")
        if cid is None and not str(oid).isdigit():
            raise SimError(UNKNOWN_ORDER, f"no open order {oid}")
        return cancelled_row(self.engine.cancel_spot_order(account, int(str(oid)) if cid is None else None, cid))

    def listen_key(self, method: str, p: dict, account: str) -> dict:
        """The spot websocket's listen key of ``account`` (:meth:`.spot_stream.MexcSpotStreamFace.listen_key`)."""
        try:
            return dict(self.server.mexc_stream.spot.listen_key(method, account, p.get("listenKey")))
        except ListenKeyError as e:
            raise self.fail(e.code, e.msg) from None

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "time": lambda f, p, account, at, path: {"serverTime": f.engine.now() if at is None else at},
        "exchange_info": lambda f, p, account, at, path: {
            "timezone": "CST", "serverTime": f.engine.now(), "rateLimits": [], "exchangeFilters": [],
            "symbols": [spot_symbol(m) for m in f.engine.markets.values()]},
        "ticker": op_ticker, "account": op_account, "open_orders": op_open_orders,
        "get_order": op_get_order, "my_trades": op_trades, "place_order": op_place, "cancel_order": op_cancel,
        "listen_key_new": lambda f, p, account, at, path: f.listen_key("POST", p, account),
        "listen_key_keep": lambda f, p, account, at, path: f.listen_key("PUT", p, account),
        "listen_key_close": lambda f, p, account, at, path: f.listen_key("DELETE", p, account),
    }


handle = MexcSpotFace.serve  # one request under /api/v3/, as the module docstring says
ROUTES = MexcSpotFace.ROUTES


sim_account = venue_account("mexc", hedge_mode=False, market_type="spot")  # a spot account, quoted in USDT


__all__ = ["MexcSpotFace", "ROUTES", "amount_text", "cancelled_row", "handle", "order_row", "sim_account",
           "spot_symbol", "trade_row"]
