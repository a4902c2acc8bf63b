"""The simulated exchange's Bybit v5 face: the unified account's linear (USDT) perpetuals.

What it owns
    the Bybit v5 REST subset that ``ccxt.async_support.bybit`` and the ccxt adapter's Bybit
    dialect ask, in Bybit's envelope (``retCode``, ``retMsg``, ``result``, ``retExtInfo``,
    ``time``) and with Bybit's error codes, over the one engine every face shares:

    public  GET  /v5/market/time, /v5/market/instruments-info, /v5/market/tickers
    signed  GET  /v5/user/query-api, /v5/account/info, /v5/account/wallet-balance,
                 /v5/position/list, /v5/order/realtime, /v5/order/history
            POST /v5/order/create, /v5/order/cancel, /v5/order/cancel-all,
                 /v5/position/switch-mode, /v5/position/set-leverage,
                 /v5/order/disconnected-cancel-all

    The engine's markets are category ``linear`` (symbol = the engine's id, BTCUSDT; settle coin
    = its quote, USDT); every other category answers an empty list. Positions and open orders
    are listed one settle coin (or symbol) a call and one page a call, ``nextPageCursor`` naming
    the next (``position/list`` at most 200 a page, ``order/realtime`` and ``order/history`` 50;
    20 when ``limit`` is not sent); a settle coin with no market answers an empty list.
    ``position/list`` by settle coin lists the open positions only; by symbol it lists every leg
    of the symbol's mode, a flat one with ``size`` 0 and ``side`` "".

    Orders: market and limit (GTC, IOC, FOK, PostOnly), ``reduceOnly``, ``positionIdx`` 0 in
    one-way mode and 1 / 2 (the long / short leg) in hedge mode, ``orderLinkId`` (the client
    id). An order with a ``triggerPrice`` is conditional (``stopOrderType`` "Stop", status
    ``Untriggered``) and lives in the engine's conditional book: ``triggerDirection`` 1 (rises
    to it) or 2 (falls to it) and the side make it a stop or a take-profit of the engine's, a
    ``closeOnTrigger`` order closes. The engine's trailing stops list as ``TrailingStop`` and
    its close-position orders as ``closeOnTrigger`` with ``qty`` 0. ``order/realtime`` lists
    every kind unless ``orderFilter`` (Order, StopOrder, tpslOrder) says one; ``order/cancel``
    takes any order's ``orderId`` or ``orderLinkId``; ``order/cancel-all`` of a symbol or a
    settle coin cancels every kind unless ``orderFilter`` says one. In hedge mode Bybit keeps
    ``reduceOnly`` (the engine's Binance rules refuse it there): a reduce-only order on the
    leg it would grow is refused (110017), else it is sent to the engine as the closing side of
    that leg.

    Authentication as Bybit's: ``X-BAPI-API-KEY`` (10003 for a missing or unknown key),
    ``X-BAPI-TIMESTAMP`` within ``X-BAPI-RECV-WINDOW`` (default 5000) of the server time
    (10002), ``X-BAPI-SIGN`` the hex HMAC-SHA256 of timestamp + key + recv window + the query
    string (GET) or the raw JSON body (POST) (10004). Engine errors carry Bybit's codes
    (:data:`RET_CODES`): reduce-only refused 110017, order not found 110001, a duplicate
    ``orderLinkId`` 110072, margin 110007, bad parameters 10001; the engine's rate limits (its
    weight a minute and orders a second) answer HTTP 200 with retCode 10006 "Too many visits!"
    and the ``X-Bapi-Limit*`` headers, as Bybit's per-UID limit does, and its ban answers HTTP
    403 "access too frequent", as Bybit's IP limit does.

    Faults are the server's plan, keyed on the Binance face's operation names (``place_order``,
    ``positions``, ``account``, ``open_orders``, ...: one script runs over every face) or on
    ``"METHOD /v5/..."``: latency, TIMEOUT, a 429 (retCode 10006), a 418 (HTTP 403), 500/503,
    truncated JSON, a refused reduce-only order (110017), a dropped connection after the order
    executed, an order hidden from the next query, and a frozen feed on reads (STALE).

    The DCP endpoint (``order/disconnected-cancel-all``) is checked (``timeWindow`` 3-300 s) and
    acknowledged; it never fires: the private websocket face (:mod:`.face_stream`) has no
    ``dcp`` topic.

What it must not do
    keep exchange state (the engine's; the bodies a STALE rule repeats are the server's),
    listen anywhere (the server does), or hold secrets beyond the engine's test keys.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
from typing import Any, Optional, cast
from urllib.parse import parse_qsl

from aiohttp import web

from ...simulated.conditional import LIMIT_TYPES, SimAlgoOrder
from ...simulated.engine import MarketSpec, SimError, SimOrder, decimals
from ...simulated.faults import HTTP_STATUS, FaultKind, first, restamp, stale, total_latency_ms
from ...simulated.permissions import TRADE_OPS
from ...simulated.views import money

PREFIXES = ("/v5/",)

# (method, path) → (operation name, signed); the names are the Binance face's where the
# operation is the same, so that one fault plan runs over every face
ROUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", "/v5/market/time"): ("time", False),
    ("GET", "/v5/market/instruments-info"): ("exchange_info", False),
    ("GET", "/v5/market/tickers"): ("ticker", False),
    ("GET", "/v5/user/query-api"): ("api_key_info", True),
    ("GET", "/v5/account/info"): ("account_info", True),
    ("GET", "/v5/account/wallet-balance"): ("account", True),
    ("GET", "/v5/position/list"): ("positions", True),
    ("GET", "/v5/order/realtime"): ("open_orders", True),
    ("GET", "/v5/order/history"): ("get_order", True),
    ("POST", "/v5/order/create"): ("place_order", True),
    ("POST", "/v5/order/cancel"): ("cancel_order", True),
    ("POST", "/v5/order/cancel-all"): ("cancel_all", True),
    ("POST", "/v5/position/switch-mode"): ("set_position_mode", True),
    ("POST", "/v5/position/set-leverage"): ("set_leverage", True),
    ("POST", "/v5/order/disconnected-cancel-all"): ("countdown", True),
}

# the most a page holds, and what it holds when ``limit`` is not sent
PAGE_LIMITS = {"positions": 200, "open_orders": 50, "get_order": 50}
DEFAULT_PAGE = 20

# Bybit's codes
OK = 0
PARAMS = 10001
TIMESTAMP = 10002
BAD_KEY = 10003
BAD_SIGN = 10004
# a read-only key (update-sub-api readOnly 1) on a trade endpoint; a frozen sub-member's orders
PERMISSION_DENIED = (10005, "Permission denied, please check your API key permissions.")
TRADING_BANNED = (10027, "Transactions are banned.")
TOO_MANY_VISITS = 10006
ORDER_NOT_FOUND = 110001
NOT_ENOUGH_MARGIN = 110007
REDUCE_ONLY = 110017
POSITION_MODE_UNCHANGED = 110025
DUPLICATE_LINK_ID = 110072
NOTIONAL_TOO_SMALL = 110094
TOO_MANY_STOPS = 110009
RISING_TRIGGER = 110092  # a rising trigger at or below the price: it would trigger at once
FALLING_TRIGGER = 110093

# the engine's (Binance) code → Bybit's code and message; any other is 10001 with the engine's message
RET_CODES: dict[int, tuple[int, Optional[str]]] = {
    -2022: (REDUCE_ONLY, "Reduce-only rule not satisfied"),
    -2011: (ORDER_NOT_FOUND, "order not exists or too late to cancel"),
    -2013: (ORDER_NOT_FOUND, "order not exists or too late to cancel"),
    -2019: (NOT_ENOUGH_MARGIN, "ab not enough for new order"),
    -2010: (NOT_ENOUGH_MARGIN, "ab not enough for new order"),
    -4116: (DUPLICATE_LINK_ID, "OrderLinkedID is duplicate"),
    -4164: (NOTIONAL_TOO_SMALL, "Order does not meet minimum order value"),
    -4045: (TOO_MANY_STOPS, "The number of stop orders exceeds maximum limit allowed"),
    -4059: (POSITION_MODE_UNCHANGED, "Position mode is not modified"),
    -4061: (PARAMS, "position idx not match position mode"),
    -1121: (PARAMS, "params error: symbol invalid"),
    -2015: (BAD_KEY, "API key is invalid."),
}

ORDER_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled"}
ALGO_STATUS = {"NEW": "Untriggered", "TRIGGERED": "Triggered", "CANCELED": "Deactivated",
               "EXPIRED": "Deactivated", "REJECTED": "Rejected"}
TIF_IN = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "POSTONLY": "GTX"}
TIF_OUT = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "GTX": "PostOnly"}
LEG_OF_IDX = {0: "BOTH", 1: "LONG", 2: "SHORT"}
IDX_OF_LEG = {v: k for k, v in LEG_OF_IDX.items()}
ORDER_FILTERS = ("Order", "StopOrder", "tpslOrder")
LOOPBACK_URL = ("http://127.0.0.1", "http://localhost", "http://[::1]")

# What one list request costs against the engine's minute budget (its 2,400): the venue limits
# requests per endpoint, not a shared weight, so a list of every symbol is one request here,
# not Binance's 40.
REQUEST_WEIGHT = 1


class BybitFail(Exception):
    """A Bybit answer other than success: its HTTP status, retCode and message."""

    def __init__(self, code: int, msg: str, status: int = 200, headers: Optional[dict] = None):
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status, self.headers = code, msg, status, headers or {}


def _params(msg: str) -> BybitFail:
    return BybitFail(PARAMS, msg)


def _f(x: float, d: int) -> str:
    s = "%.*f" % (d, x)
    return "0" if float(s) == 0 else s


def _money(x: float) -> str:
    return "%.8f" % money(x)


def _digits(m: MarketSpec) -> tuple[int, int]:
    return decimals(m.price_tick), decimals(m.amount_step)


def envelope(result: Any, now: int, code: int = OK, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now}


# --- the handler -----------------------------------------------------------------------------------------


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    """Answer one request under ``/v5/`` as Bybit v5 (see the module docstring)."""
    return await _Face(server).handle(request)


class _Face:
    """One request's handling (the server holds everything that outlives it).

    Size: about 630 lines, one handler per Bybit v5 endpoint the real ccxt client calls, the
    venue's signature check and the fault hooks every request passes through; the venue itself is
    the engine."""

    def __init__(self, server: Any):
        self.server = server
        self.engine = server.engine

    async def handle(self, request: web.Request) -> web.StreamResponse:
        srv, eng = self.server, self.engine
        method, path = request.method, request.path
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        route = ROUTES.get((method, path))
        if route is None:
            return self._respond(method, path, 404, "404 page not found")
        op, signed = route
        endpoint = f"{method} {path}"
        api_key = request.headers.get("X-BAPI-API-KEY", "")
        account = eng.account_for_key(api_key) if api_key else None
        faults = srv.faults.match(op, eng.now(), account=account, endpoint=endpoint)
        lat = total_latency_ms(faults)
        if lat:
            await asyncio.sleep(lat / 1000 * srv.time_scale)
        status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
        if status_fault is not None:
            return self._status_fault(method, path, status_fault, account)
        timeout = first(faults, FaultKind.TIMEOUT)
        if timeout is not None and not timeout.applied:
            await asyncio.sleep(srv.hang_s)
            return self._respond(method, path, 504, "")
        try:
            params = self._parse(method, raw_query, raw_body)
            if signed:
                account = self._authenticate(request, api_key, account, raw_query if method == "GET" else raw_body)
                if op in TRADE_OPS and not eng.permissions.may_trade(api_key):  # a revoked key, a frozen sub
                    raise BybitFail(*(TRADING_BANNED if account in eng.permissions.frozen else PERMISSION_DENIED))
            if op == "place_order" and first(faults, FaultKind.REJECT_REDUCE_ONLY):
                raise BybitFail(*cast(tuple, RET_CODES[-2022]))
            st = stale(faults) if method == "GET" else None
            if st is None:
                result = self._dispatch(op, params, account, None)
            else:
                result = self._frozen(st, op, endpoint, params, account)
        except BybitFail as f:
            return self._respond(method, path, f.status, envelope({}, eng.now(), f.code, f.msg), f.headers, account)
        except SimError as e:
            v = self._venue_error(e, account)
            return self._respond(method, path, v.status, envelope({}, eng.now(), v.code, v.msg) if v.status == 200
                                 else v.msg, v.headers, account)
        if op == "place_order" and first(faults, FaultKind.HIDE_FROM_NEXT_QUERY) and result.get("_regular"):
            eng.hide_from_next_query(cast(str, account), int(result["orderId"]))
        if isinstance(result, dict):
            result.pop("_regular", None)
        if timeout is not None:  # applied: executed, then never answered
            await asyncio.sleep(srv.hang_s)
            return self._respond(method, path, 504, "")
        if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
            srv.requests.append((method, path, 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        body = envelope(result, eng.now())
        if first(faults, FaultKind.MALFORMED_JSON):
            text = json.dumps(body, separators=(",", ":"))
            return self._respond(method, path, 200, text[: max(1, len(text) // 2)], account=account, raw=True)
        return self._respond(method, path, 200, body, account=account)

    # --- plumbing ----------------------------------------------------------------------------------------

    @staticmethod
    def _parse(method: str, raw_query: str, raw_body: str) -> dict:
        if method == "GET":
            return dict(parse_qsl(raw_query, keep_blank_values=True))
        if not raw_body.strip():
            return {}
        try:
            body = json.loads(raw_body)
        except ValueError:
            raise _params("params error: request body is not JSON") from None
        if not isinstance(body, dict):
            raise _params("params error: request body is not a JSON object")
        return body

    def _authenticate(self, request: web.Request, api_key: str, account: Optional[str], payload: str) -> str:
        if not api_key or account is None:
            raise BybitFail(BAD_KEY, "API key is invalid.")
        h = request.headers
        ts_s, recv_s = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        sign = h.get("X-BAPI-SIGN", "")
        if not ts_s.isdigit() or not recv_s.isdigit():
            raise _params("params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW is not a number")
        origin = ts_s + api_key + recv_s + payload
        expected = hmac.new(self.engine.key_secret(api_key, account).encode(), origin.encode(),
                            hashlib.sha256).hexdigest()
        if not sign or not hmac.compare_digest(expected, sign.lower()):
            raise BybitFail(BAD_SIGN, f"error sign! origin_string[{origin}]")
        if self.server.check_timestamp:
            server_ms, ts, recv = int(self.server.auth_clock()), int(ts_s), int(recv_s)
            if not server_ms - recv <= ts < server_ms + 1000:
                raise BybitFail(TIMESTAMP, "invalid request, please check your server timestamp or recv_window "
                                f"param. req_timestamp[{ts}],server_timestamp[{server_ms}],recv_window[{recv}]")
        return account

    def _venue_error(self, e: SimError, account: Optional[str]) -> BybitFail:
        now = self.engine.now()
        reset = now + int(1000 * (e.retry_after_s or 1.0))
        if e.http_status == 418:  # the engine's ban: Bybit's IP limit
            return BybitFail(TOO_MANY_VISITS, "403, access too frequent", 403)
        if e.http_status == 429:  # the engine's weight or order limit: Bybit's per-UID limit
            return BybitFail(TOO_MANY_VISITS, "Too many visits!", 200, self._limit_headers(account, 0, reset))
        code, msg = RET_CODES.get(e.code, (PARAMS, None))
        return BybitFail(code, msg or f"params error: {e.msg}")

    def _limit_headers(self, account: Optional[str], left: Optional[int], reset: Optional[int]) -> dict:
        eng = self.engine
        limit = eng.rate_limits.weight_per_minute
        if left is None:
            left = max(0, limit - eng.used_weight(account)) if account in eng.accounts else limit
        return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(left),
                "X-Bapi-Limit-Reset-Timestamp": str(reset if reset is not None else eng.now())}

    def _respond(self, method: str, path: str, status: int, body: Any, headers: Optional[dict] = None,
                 account: Optional[str] = None, raw: bool = False) -> web.Response:
        self.server.requests.append((method, path, status))
        h = dict(headers or {})
        if account is not None and account in self.engine.accounts and "X-Bapi-Limit" not in h:
            h.update(self._limit_headers(account, None, None))
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="application/json" if raw else "text/plain",
                                headers=h)
        return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                            content_type="application/json", headers=h)

    def _status_fault(self, method: str, path: str, fault: Any, account: Optional[str]) -> web.Response:
        code = HTTP_STATUS[fault.kind]
        retry = fault.retry_after_s if fault.retry_after_s is not None else 1.0
        now = self.engine.now()
        if fault.body is not None:
            return self._respond(method, path, 200 if code == 429 else code, fault.body, raw=True)
        if code == 429:
            return self._respond(method, path, 200, envelope({}, now, TOO_MANY_VISITS, "Too many visits!"),
                                 self._limit_headers(account, 0, now + int(retry * 1000)))
        if code == 418:
            return self._respond(method, path, 403, "403, access too frequent")
        reason = "Internal Server Error" if code == 500 else "Service Unavailable"
        return self._respond(method, path, code, f"<html><body><h1>{code} {reason}</h1></body></html>")

    def _frozen(self, st: Any, op: str, endpoint: str, params: dict, account: Optional[str]) -> Any:
        """A frozen feed: the result as of ``stale_ms`` before the rule first fired here, repeated."""
        key = (st.rule, endpoint, account, params.get("symbol"), params.get("settleCoin"), params.get("cursor"))
        frozen = self.server._frozen
        result = frozen.get(key)
        if result is None:
            result = frozen[key] = self._dispatch(op, params, account, self.engine.now() - st.stale_ms)
        result = copy.deepcopy(result)
        return _restamp(result, self.engine.now()) if st.stamp == "now" else result

    # --- operations ----------------------------------------------------------------------------------------

    def _dispatch(self, op: str, p: dict, account: Optional[str], at: Optional[int]) -> Any:
        eng = self.engine
        now = eng.now()
        if op == "time":
            return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
        if op == "exchange_info":
            return self._instruments(p)
        if op == "ticker":
            return self._tickers(p, now if at is None else at)
        assert account is not None
        if op == "api_key_info":
            return {"id": "1", "note": "simulated", "apiKey": eng.accounts[account].spec.api_key, "readOnly": 0,
                    "secret": "", "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [],
                                                  "Wallet": [], "Options": [], "Derivatives": [],
                                                  "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
                    "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "",
                    "unified": 0, "uta": 1, "userID": 1, "inviterID": 0, "vipLevel": "No VIP",
                    "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "", "isMaster": True}
        if op == "account_info":
            return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(eng.t0), "unifiedMarginStatus": 6,
                    "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
                    "spotHedgingStatus": "OFF"}
        if op == "account":
            return self._wallet(account, p, at)
        if op == "positions":
            return self._positions(account, p, at)
        if op == "open_orders":
            return self._orders(account, p, open_only=True)
        if op == "get_order":
            return self._orders(account, p, open_only=False)
        if op == "place_order":
            return self._place(account, p)
        if op == "cancel_order":
            return self._cancel(account, p)
        if op == "cancel_all":
            return self._cancel_all(account, p)
        if op == "set_position_mode":
            mode = str(p.get("mode", ""))
            if mode not in ("0", "3"):
                raise _params("params error: mode must be 0 (one-way) or 3 (hedge)")
            self._linear(p)
            eng.set_position_mode(account, mode == "3")
            return {}
        if op == "set_leverage":
            self._linear(p)
            m = self._market(p.get("symbol"))
            buy, sell = str(p.get("buyLeverage", "")), str(p.get("sellLeverage", ""))
            if not buy or buy != sell:
                raise _params("params error: buyLeverage must equal sellLeverage in this account")
            try:
                lev = float(buy)
            except ValueError:
                raise _params("params error: buyLeverage") from None
            if lev != int(lev):
                raise _params("params error: leverage must be whole here")
            if int(lev) == eng.leverage(account, m.symbol):
                raise BybitFail(110043, "Set leverage not modified")
            eng.set_leverage(account, m.symbol, int(lev))
            return {}
        if op == "countdown":
            window = str(p.get("timeWindow", ""))
            if not window.isdigit() or not 3 <= int(window) <= 300:
                raise _params("params error: timeWindow must be 3 to 300 seconds")
            if p.get("product", "OPTIONS") not in ("OPTIONS", "DERIVATIVES", "SPOT"):
                raise _params("params error: product")
            return {}
        raise _params(f"params error: {op}")

    # --- reads ------------------------------------------------------------------------------------------------

    @staticmethod
    def _linear(p: dict) -> None:
        category = p.get("category")
        if not category:
            raise _params("params error: category is required")
        if category not in ("linear", "inverse", "spot", "option"):
            raise _params(f"params error: category {category} is invalid")

    def _market(self, symbol: Optional[str]) -> MarketSpec:
        if not symbol:
            raise _params("params error: symbol is required")
        m = self.engine.markets.get(symbol)
        if m is None:
            raise _params("params error: symbol invalid")
        return m

    def _scope(self, p: dict, need: bool = True) -> Optional[list[MarketSpec]]:
        """The linear markets a list request names (its symbol, else its settle coin); None for
        another category (an empty list: the engine has only linear perpetuals)."""
        self._linear(p)
        if p["category"] != "linear":
            return None
        symbol = p.get("symbol")
        if symbol:
            return [self._market(symbol)]
        coin = p.get("settleCoin") or p.get("baseCoin")
        if not coin:
            if need:
                raise _params("Missing some parameters that must be filled in, symbol or settleCoin or baseCoin")
            return list(self.engine.markets.values())
        key = "quote" if p.get("settleCoin") else "base"
        return [m for m in self.engine.markets.values() if getattr(m, key) == coin]

    @staticmethod
    def _page(rows: list, p: dict, op: str, category: str) -> dict:
        limit_s = str(p.get("limit", "") or "")
        most = PAGE_LIMITS[op]
        if limit_s and (not limit_s.isdigit() or not 1 <= int(limit_s) <= most):
            raise _params(f"params error: limit must be 1 to {most}")
        limit = int(limit_s) if limit_s else DEFAULT_PAGE
        cursor = str(p.get("cursor", "") or "")
        if cursor and not (cursor.startswith("page") and cursor[4:].isdigit()):
            raise _params("params error: cursor is invalid")
        start = int(cursor[4:]) if cursor else 0
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return {"category": category, "list": page, "nextPageCursor": f"page{start + limit}" if more else ""}

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

    def _orders(self, account: str, p: dict, open_only: bool) -> dict:
        """``order/realtime`` (open orders) or ``order/history`` (ended ones), newest first."""
        markets = self._scope(p, need=open_only and not (p.get("orderId") or p.get("orderLinkId")))
        op = "open_orders" if open_only else "get_order"
        if markets is None:
            return self._page([], p, op, p["category"])
        eng = self.engine
        symbols = {m.symbol for m in markets}
        flt = p.get("orderFilter") or None
        if flt is not None and flt not in ORDER_FILTERS:
            raise _params(f"params error: orderFilter {flt} is invalid")
        symbol = p.get("symbol") or None
        regular: list[SimOrder] = []
        algos: list[SimAlgoOrder] = []
        a = eng.accounts[account]
        if open_only:
            if flt in (None, "Order"):
                regular = eng.open_orders(account, symbol, weight=REQUEST_WEIGHT)
            if flt in (None, "StopOrder", "tpslOrder") and (eng.has_algo_orders(account) or flt is not None):
                algos = eng.open_algo_orders(account, symbol, weight=REQUEST_WEIGHT)
        else:
            eng.tick()  # (the engine's due timers first, as each of its reads does)
            eng.charge(account, 1)
            hidden = a.hidden
            regular = [o.copy() for o in a.orders.values() if not o.is_open and not o.spot] if flt in (None, "Order") \
                else []
            for o in list(regular):
                if o.order_id in hidden:  # hidden from this query, once
                    hidden.discard(o.order_id)
                    regular.remove(o)
            algos = [o.copy() for o in a.algos.values() if not o.is_open] if flt in (None, "StopOrder", "tpslOrder") \
                else []
        if flt == "StopOrder":
            algos = [o for o in algos if o.order_type != "TRAILING_STOP_MARKET"]
        elif flt == "tpslOrder":
            algos = [o for o in algos if o.order_type == "TRAILING_STOP_MARKET"]
        rows = [(o.order_id, self._order(o)) for o in regular if o.symbol in symbols]
        rows += [(o.algo_id, self._algo(o, account)) for o in algos if o.symbol in symbols]
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if oid:
            rows = [r for r in rows if r[1]["orderId"] == str(oid)]
        if link:
            rows = [r for r in rows if r[1]["orderLinkId"] == link]
        status = p.get("orderStatus")
        if status:
            wanted = set(str(status).split(","))
            rows = [r for r in rows if r[1]["orderStatus"] in wanted]
        rows.sort(key=lambda r: -r[0])
        return self._page([r for _, r in rows], p, op, "linear")

    def _order(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        pd, ad = _digits(m)
        if o.status in ORDER_STATUS:
            status = ORDER_STATUS[o.status]
        else:  # CANCELED, EXPIRED: a market or IOC remainder is cancelled too
            status = "PartiallyFilledCanceled" if o.executed_qty > 0 else "Cancelled"
        leaves = o.remaining if o.is_open else 0.0
        return {
            "orderId": str(o.order_id), "orderLinkId": o.client_order_id, "blockTradeId": "", "symbol": o.symbol,
            "price": _f(o.price, pd), "qty": _f(o.quantity, ad), "side": o.side.capitalize(), "isLeverage": "",
            "positionIdx": IDX_OF_LEG[o.position_side], "orderStatus": status,
            "cancelType": "CancelByUser" if o.status == "CANCELED" else "UNKNOWN", "rejectReason": "EC_NoError",
            "avgPrice": _f(o.avg_price, pd + 2) if o.executed_qty > 0 else "0", "leavesQty": _f(leaves, ad),
            "leavesValue": _money(leaves * o.price), "cumExecQty": _f(o.executed_qty, ad),
            "cumExecValue": _money(o.cum_quote), "cumExecFee": _money(o.fee),
            "timeInForce": TIF_OUT.get(o.time_in_force, o.time_in_force), "orderType": o.type.capitalize(),
            "stopOrderType": "", "orderIv": "", "triggerPrice": "0", "takeProfit": "", "stopLoss": "",
            "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "UNKNOWN",
            "lastPriceOnCreated": "", "reduceOnly": o.closes, "closeOnTrigger": False, "smpType": "None",
            "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "", "slLimitPrice": "",
            "placeType": "", "createdTime": str(o.time), "updatedTime": str(o.update_time),
        }

    def _algo(self, o: SimAlgoOrder, account: str) -> dict:
        eng = self.engine
        m = eng.markets[o.symbol]
        pd, ad = _digits(m)
        trailing = o.order_type == "TRAILING_STOP_MARKET"
        if trailing:  # the price it triggers at now: the best mark, the callback back from it
            best = o.best_mark or eng.mark(o.symbol)
            rate = o.callback_rate / 100.0
            trigger = best * (1 - rate) if o.side == "SELL" else best * (1 + rate)
            rising = o.side == "BUY"
        else:
            trigger = o.trigger_price
            rising = (o.side == "BUY") == o.order_type.startswith("STOP")
        limit = o.order_type in LIMIT_TYPES
        return {
            "orderId": str(o.algo_id), "orderLinkId": o.client_algo_id, "blockTradeId": "", "symbol": o.symbol,
            "price": _f(o.price, pd) if limit else "0", "qty": _f(o.quantity, ad), "side": o.side.capitalize(),
            "isLeverage": "", "positionIdx": IDX_OF_LEG[o.position_side], "orderStatus": ALGO_STATUS[o.status],
            "cancelType": "CancelByUser" if o.status == "CANCELED" else "UNKNOWN",
            "rejectReason": "EC_NoError", "avgPrice": "0", "leavesQty": _f(o.quantity if o.is_open else 0, ad),
            "leavesValue": "0", "cumExecQty": "0", "cumExecValue": "0", "cumExecFee": "0",
            "timeInForce": o.time_in_force if limit else "GTC", "orderType": "Limit" if limit else "Market",
            "stopOrderType": "TrailingStop" if trailing else "Stop", "orderIv": "",
            "triggerPrice": _f(trigger, pd), "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
            "slTriggerBy": "", "triggerDirection": 1 if rising else 2,
            "triggerBy": "MarkPrice" if o.working_type == "MARK_PRICE" else "LastPrice",
            "lastPriceOnCreated": "", "reduceOnly": o.closes, "closeOnTrigger": o.close_position,
            "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "", "tpLimitPrice": "",
            "slLimitPrice": "", "placeType": "", "createdTime": str(o.create_time), "updatedTime": str(o.update_time),
        }

    # --- writes -------------------------------------------------------------------------------------------------

    def _place(self, account: str, p: dict) -> dict:
        eng = self.engine
        self._linear(p)
        if p["category"] != "linear":
            raise _params(f"params error: category {p['category']} has no symbol here")
        m = self._market(p.get("symbol"))
        side = str(p.get("side", ""))
        if side not in ("Buy", "Sell"):
            raise _params("params error: side invalid")
        otype = str(p.get("orderType", ""))
        if otype not in ("Market", "Limit"):
            raise _params("params error: orderType invalid")
        qty = _num(p, "qty", required=True)
        price = _num(p, "price")
        tif_s = str(p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC"))
        tif = TIF_IN.get(tif_s.upper())
        if tif is None:
            raise _params("params error: timeInForce invalid")
        reduce_only = _flag(p, "reduceOnly")
        close_on_trigger = _flag(p, "closeOnTrigger")
        idx_s = str(p.get("positionIdx", 0))
        if idx_s not in ("0", "1", "2"):
            raise _params("params error: positionIdx invalid")
        leg = LEG_OF_IDX[int(idx_s)]
        hedge = eng.hedge_mode(account)
        if hedge != (leg != "BOTH"):
            raise _params("position idx not match position mode")
        link = p.get("orderLinkId") or None
        if link is not None and (len(link) > 36 or not all(c.isalnum() or c in "-_" for c in link)):
            raise _params("params error: orderLinkId invalid")
        engine_side = side.upper()
        if hedge:
            closing = (leg == "LONG") == (engine_side == "SELL")
            if (reduce_only or close_on_trigger) and not closing:
                raise BybitFail(*cast(tuple, RET_CODES[-2022]))
            ro: Optional[bool] = None  # the engine's hedge mode: the leg's closing side reduces
        else:
            ro = True if (reduce_only or close_on_trigger) else None
        trigger = _num(p, "triggerPrice")
        if trigger:
            direction = str(p.get("triggerDirection", ""))
            if direction not in ("1", "2"):
                raise _params("params error: triggerDirection must be 1 or 2 for a conditional order")
            if p.get("orderFilter") not in (None, "", "StopOrder", "Order"):
                raise _params("params error: orderFilter invalid")
            rising = direction == "1"
            kind = "STOP" if rising == (engine_side == "BUY") else "TAKE_PROFIT"
            mark = eng.mark(m.symbol)
            if (rising and trigger <= mark) or (not rising and trigger >= mark):
                code = RISING_TRIGGER if rising else FALLING_TRIGGER
                word, cmp = ("Rising", "<=") if rising else ("Falling", ">=")
                raise BybitFail(code, f"expect {word}, but trigger_price[{trigger:g}] {cmp} current[{mark:g}]")
            wt = {"MarkPrice": "MARK_PRICE", "IndexPrice": "MARK_PRICE"}.get(str(p.get("triggerBy")), "CONTRACT_PRICE")
            a = eng.place_algo_order(account, m.symbol, engine_side, kind if otype == "Limit" else kind + "_MARKET",
                                     quantity=qty, trigger_price=trigger, price=price if otype == "Limit" else None,
                                     time_in_force=None if tif == "GTX" else tif, reduce_only=ro,
                                     position_side=None if leg == "BOTH" else leg, client_algo_id=link,
                                     working_type=wt)
            return {"orderId": str(a.algo_id), "orderLinkId": a.client_algo_id}
        if otype == "Market":
            price, tif = None, None
        o = eng.place_order(account, m.symbol, engine_side, otype.upper(), qty, price,
                            time_in_force=tif, reduce_only=ro,
                            position_side=None if leg == "BOTH" else leg, client_order_id=link)
        return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id, "_regular": True}

    def _find(self, account: str, p: dict) -> tuple[Optional[SimOrder], Optional[SimAlgoOrder]]:
        """The order a cancel names, by ``orderId`` or ``orderLinkId``: regular or conditional."""
        a = self.engine.accounts[account]
        oid, link = p.get("orderId") or None, p.get("orderLinkId") or None
        if oid is None and link is None:
            raise _params("params error: orderId or orderLinkId is required")
        if oid is not None:
            if not str(oid).isdigit():
                return None, None
            return a.orders.get(int(oid)), a.algos.get(int(oid))
        rid, aid = a.by_client.get(link), a.algo_by_client.get(link)
        regular = a.orders.get(rid) if rid is not None else None
        algo = a.algos.get(aid) if aid is not None else None
        if regular is not None and algo is not None:  # the client id of both: the open one
            return (regular, None) if regular.is_open else (None, algo)
        return regular, algo

    def _cancel(self, account: str, p: dict) -> dict:
        self._linear(p)
        m = self._market(p.get("symbol"))
        regular, algo = self._find(account, p)
        eng = self.engine
        if algo is not None and algo.symbol == m.symbol:
            c = eng.cancel_algo_order(account, algo.algo_id)
            return {"orderId": str(c.algo_id), "orderLinkId": c.client_algo_id}
        if regular is not None:
            o = eng.cancel_order(account, m.symbol, regular.order_id)
            return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id}
        eng.charge(account, 1)
        raise BybitFail(*cast(tuple, RET_CODES[-2011]))

    def _cancel_all(self, account: str, p: dict) -> dict:
        markets = self._scope(p)
        if markets is None:
            return {"list": [], "success": "1"}
        flt = p.get("orderFilter") or None
        if flt is not None and flt not in ORDER_FILTERS:
            raise _params(f"params error: orderFilter {flt} is invalid")
        eng = self.engine
        a = eng.accounts[account]
        held = {o.symbol for o in a.live.values() if o.is_open} | {o.symbol for o in a.algo_live.values() if o.is_open}
        done: list[dict] = []
        for m in markets:
            if m.symbol not in held and not p.get("symbol"):
                continue  # by settle coin: only the symbols with an open order are visited
            if flt in (None, "Order"):
                done += [{"orderId": str(o.order_id), "orderLinkId": o.client_order_id}
                         for o in eng.cancel_all(account, m.symbol)]
            if flt is None or flt in ("StopOrder", "tpslOrder"):
                trailing = [o for o in eng.conditional.live(a) if o.symbol == m.symbol]
                if flt == "StopOrder":
                    trailing = [o for o in trailing if o.order_type != "TRAILING_STOP_MARKET"]
                elif flt == "tpslOrder":
                    trailing = [o for o in trailing if o.order_type == "TRAILING_STOP_MARKET"]
                if flt is None and trailing:
                    done += [{"orderId": str(o.algo_id), "orderLinkId": o.client_algo_id}
                             for o in eng.cancel_all_algo(account, m.symbol)]
                else:
                    for o in trailing:
                        c = eng.cancel_algo_order(account, o.algo_id)
                        done.append({"orderId": str(c.algo_id), "orderLinkId": c.client_algo_id})
        return {"list": done, "success": "1"}


# --- parameters -------------------------------------------------------------------------------------------------


def _num(p: dict, name: str, required: bool = False) -> Optional[float]:
    v = p.get(name)
    if v is None or v == "":
        if required:
            raise _params(f"params error: {name} is required")
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise _params(f"params error: {name} invalid") from None
    if x != x or x in (float("inf"), float("-inf")) or x < 0:
        raise _params(f"params error: {name} invalid")
    return x


def _flag(p: dict, name: str) -> bool:
    v = p.get(name, False)
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("true", "false"):
        return str(v).lower() == "true"
    raise _params(f"params error: {name} must be true or false")


# the fields a stale answer stamped "now" carries the time in (updatedTime as digits, seq as a number)
_TIME_FIELDS = ("updatedTime", "seq")



def _restamp(body: Any, now: int) -> Any:
    return restamp(body, now, _TIME_FIELDS)


# --- ccxt helpers ------------------------------------------------------------------------------------------------

# ccxt bybit options that keep it on the endpoints above: linear markets only, a unified account
CCXT_OPTIONS = {
    "defaultType": "swap",
    "defaultSubType": "linear",
    "fetchMarkets": {"types": ["linear"]},  # only GET /v5/market/instruments-info?category=linear
    "fetchCurrencies": False,  # no GET /v5/asset/coin/query-info
    "adjustForTimeDifference": False,
    "recvWindow": 10_000,
}


def point_ccxt(exchange: Any, base_url: str) -> Any:
    """Point every ``urls['api']`` entry of a ccxt Bybit instance at ``base_url`` (Bybit's v5
    paths are under one host, so each family keeps its path: none)."""
    if not base_url.startswith(LOOPBACK_URL):
        raise ValueError("the simulated exchange is on loopback")
    api = exchange.urls.setdefault("api", {})
    for key in list(api):
        api[key] = base_url.rstrip("/")
    for key in ("public", "private", "spot", "futures", "v2"):
        api[key] = base_url.rstrip("/")
    return exchange


def ccxt_config(server: Any, account: str, **options: Any) -> dict:
    """Constructor config for ``ccxt.async_support.bybit`` pointed at ``server`` as ``account``."""
    a = server.engine.accounts[account]
    base = server.base_url
    return {"apiKey": a.spec.api_key, "secret": a.spec.secret, "enableRateLimit": False,
            "options": {**CCXT_OPTIONS, **options},
            "urls": {"api": {k: base for k in ("public", "private", "spot", "futures", "v2")}}}


def bybit_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.bybit`` bound to ``server`` as ``account`` (close it after use):
    every API family on the server, so nothing reaches the internet; ``strict``: a cut-off body
    is an error (:func:`adapters.ccxt_exchange.strict_json`)."""
    import ccxt.async_support as ccxt_async

    cfg = ccxt_config(server, account)
    options = {**cfg["options"], **config.pop("options", {})}
    ex = ccxt_async.bybit({**cfg, **config, "options": options})
    ex.has = {**ex.has, "fetchCurrencies": False}
    point_ccxt(ex, server.base_url)
    if strict:
        from ...ccxt_exchange import strict_json

        strict_json(ex)
    return ex


def bybit_account(server: Any, account: str, *, key_env: str = "KS_SIM_BYBIT_KEY",
                  secret_env: str = "KS_SIM_BYBIT_SECRET", **fields: Any) -> Any:
    """An Accounts-document :class:`~killswitch.policy.accounts_doc.Account` of venue ``bybit`` whose
    ``api_url`` is ``server``'s base URL (the ccxt adapter sends every Bybit request there), its
    credentials the environment variables ``key_env`` / ``secret_env``, set here to the
    engine's test keys of ``account``."""
    import os

    from killswitch.policy.accounts_doc import Account

    a = server.engine.accounts[account]
    os.environ[key_env], os.environ[secret_env] = a.spec.api_key, a.spec.secret
    doc = {"name": account, "venue": "bybit", "market_type": "futures", "hedge_mode": a.hedge_mode,
           "api_url": server.base_url,
           "credentials": {"api_key": {"env": key_env}, "secret": {"env": secret_env}}, **fields}
    return Account.model_validate(doc)


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """:func:`bybit_account` with the account's own environment variables
    (:func:`adapters.simulated.venues.sim_account`)."""
    import re

    prefix = "KS_SIM_BYBIT_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    return bybit_account(server, account, key_env=f"{prefix}_KEY", secret_env=f"{prefix}_SECRET", **fields)


__all__ = ["PREFIXES", "ROUTES", "RET_CODES", "CCXT_OPTIONS", "handle", "envelope", "point_ccxt", "ccxt_config",
           "bybit_client", "bybit_account", "sim_account"]
