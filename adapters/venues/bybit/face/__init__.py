"""The simulated exchange's Bybit v5 face: the unified account's linear (USDT) perpetuals.

What it owns
    the Bybit v5 REST subset that ``ccxt.async_support.bybit`` and the ccxt adapter's Bybit
    dialect ask, in Bybit's envelope (``retCode``, ``retMsg``, ``result``, ``retExtInfo``,
    ``time``) and with Bybit's error codes, over the one engine every face shares: its
    ``ROUTES`` below, each signed unless its operation is public
    (:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

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

    Faults are the shared pipeline's (:class:`adapters.simulated.faces.shared.RestFace`), in
    Bybit's words: a 429 as retCode 10006, a 418 as HTTP 403, a refused reduce-only order 110017.

    The DCP endpoint (``order/disconnected-cancel-all``) is checked (``timeWindow`` 3-300 s) and
    acknowledged; it never fires: the private websocket face (:mod:`.stream`) has no
    ``dcp`` topic.

Where it lives
    here the routes, the shared face's hooks and the clients; the request view in
    :mod:`.params`, :mod:`.reads` and :mod:`.orders` (regular and conditional);
    the envelope, codes and the tables between the engine's words and Bybit's in :mod:`.wire`.

What it must not do
    keep exchange state (the engine's; the bodies a STALE rule repeats are the server's),
    listen anywhere (the server does), or hold secrets beyond the engine's test keys.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Optional, cast

from aiohttp import web

from ....simulated.engine import SimError
from ....simulated.faces.shared import VenueFail, loopback, read_json, routes, signs, strict_client, venue_account
from ....simulated.faults import HTTP_STATUS, Fault
from .master import BybitMaster
from .orders import BybitOrders
from .reads import BybitReads
from .wire import (
    BAD_KEY,
    BAD_SIGN,
    PARAMS,
    PERMISSION_DENIED,
    RET_CODES,
    TIMESTAMP,
    TOO_MANY_VISITS,
    TRADING_BANNED,
    BybitFail,
    _params,
    envelope,
)

PREFIXES = ("/v5/",)
MASTER = BybitMaster  # the master account's endpoints that switch its sub-accounts' keys

API_KEY_INFO = {"id": "1", "note": "simulated", "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [], "Wallet": [], "Options": [],
                                "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
                "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "", "unified": 0, "uta": 1,
                "userID": 1, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0,
                "rsaPublicKey": "", "isMaster": True}

ACCOUNT_INFO = {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 6, "dcpStatus": "OFF", "timeWindow": 10,
                "smpGroup": 0, "isMasterTrader": False, "spotHedgingStatus": "OFF"}


class _Face(BybitReads, BybitOrders):
    """One request's handling: the shared face's hooks and each operation over its reads and
    orders (the server holds everything that outlives the request)."""

    ROUTES = routes({
        "GET /v5/market/time": "time",
        "GET /v5/market/instruments-info": "exchange_info",
        "GET /v5/market/tickers": "ticker",
        "GET /v5/user/query-api": "api_key_info",
        "GET /v5/account/info": "account_info",
        "GET /v5/account/wallet-balance": "account",
        "GET /v5/position/list": "positions",
        "GET /v5/order/realtime": "open_orders",
        "GET /v5/order/history": "get_order",
        "POST /v5/order/create": "place_order",
        "POST /v5/order/cancel": "cancel_order",
        "POST /v5/order/cancel-all": "cancel_all",
        "POST /v5/position/switch-mode": "set_position_mode",
        "POST /v5/position/set-leverage": "set_leverage",
        "POST /v5/order/disconnected-cancel-all": "countdown",
    })
    KEY_HEADER = "X-BAPI-API-KEY"
    TIME_FIELDS = ("updatedTime", "seq")  # updatedTime as digits, seq as a number
    VENUE = "bybit"
    PARAMS_FIRST = True  # Bybit reads the request before its signature
    FAULT_BODY_STATUS = {429: 200}  # Bybit's rate limit answers HTTP 200

    # --- the shared hooks ------------------------------------------------------------------------------

    def params(self, method: str, raw_query: str, raw_body: str) -> dict:
        return read_json(method, raw_query, raw_body, blank_is_empty=True, refuse=lambda parsed: _params(
            "params error: request body is not a JSON object" if parsed else "params error: request body is not JSON"))

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        if not key or account is None:
            raise BybitFail(BAD_KEY, "API key is invalid.")
        h = request.headers
        ts_s, recv_s = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        sign = h.get("X-BAPI-SIGN", "")
        if not ts_s.isdigit() or not recv_s.isdigit():
            raise _params("params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW is not a number")
        origin = ts_s + key + recv_s + (raw_query if request.method == "GET" else raw_body)
        if not signs(self.engine.key_secret(key, account), origin, sign):
            raise BybitFail(BAD_SIGN, f"error sign! origin_string[{origin}]")
        if self.server.check_timestamp:
            server_ms, ts, recv = int(self.server.auth_clock()), int(ts_s), int(recv_s)
            if not server_ms - recv <= ts < server_ms + 1000:
                raise BybitFail(TIMESTAMP, "invalid request, please check your server timestamp or recv_window "
                                f"param. req_timestamp[{ts}],server_timestamp[{server_ms}],recv_window[{recv}]")
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        # a revoked key, a frozen sub-member
        return BybitFail(*(TRADING_BANNED if account in self.engine.permissions.frozen else PERMISSION_DENIED))

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return BybitFail(*cast(tuple, RET_CODES[-2022]))

    def status_refusal(self, fault: Fault) -> VenueFail:
        code = HTTP_STATUS[fault.kind]
        now = self.engine.now()
        if code == 429:
            retry = fault.retry_after_s if fault.retry_after_s is not None else 1.0
            return VenueFail(200, envelope({}, now, TOO_MANY_VISITS, "Too many visits!"),
                             self._limit_headers(None, 0, now + int(retry * 1000)))
        if code == 418:
            return VenueFail(403, "403, access too frequent")
        return super().status_refusal(fault)

    def sim_refusal(self, e: SimError, op: str) -> VenueFail:
        reset = self.engine.now() + int(1000 * (e.retry_after_s or 1.0))
        if e.http_status == 418:  # the engine's ban: Bybit's IP limit
            return VenueFail(403, "403, access too frequent")
        if e.http_status == 429:  # the engine's weight or order limit: Bybit's per-UID limit
            return BybitFail(TOO_MANY_VISITS, "Too many visits!", 200, self._limit_headers(self.account, 0, reset))
        code, msg = RET_CODES.get(e.code, (PARAMS, None))
        return BybitFail(code, msg or f"params error: {e.msg}")

    def refusal_body(self, fail: VenueFail) -> Any:
        if isinstance(fail, BybitFail):
            return envelope({}, self.engine.now(), fail.code, fail.msg)
        return fail.body

    def stale_key(self, params: Any, raw_query: str) -> Any:
        return params.get("symbol"), params.get("settleCoin"), params.get("cursor")

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        return [int(body["orderId"])] if op == "place_order" and body.get("_regular") else []

    def finish(self, op: str, body: Any) -> Any:
        if isinstance(body, dict):
            body.pop("_regular", None)
        return envelope(body, self.engine.now())

    def _limit_headers(self, account: Optional[str], left: Optional[int], reset: Optional[int]) -> dict:
        eng = self.engine
        limit = eng.rate_limits.weight_per_minute
        if left is None:
            left = max(0, limit - eng.used_weight(account)) if account in eng.accounts else limit
        return {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(left),
                "X-Bapi-Limit-Reset-Timestamp": str(reset if reset is not None else eng.now())}

    def respond(self, method: str, path: str, status: int, body: Any, *, account: Optional[str] = None,
                headers: Optional[Mapping[str, str]] = None, raw: bool = False) -> web.Response:
        self.server.requests.append((method, path, status))
        h = dict(headers or {})
        if account is not None and account in self.engine.accounts and "X-Bapi-Limit" not in h:
            h.update(self._limit_headers(account, None, None))
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="application/json" if raw else "text/plain",
                                headers=h)
        return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                            content_type="application/json", headers=h)

    # --- operations ----------------------------------------------------------------------------------------

    def op_time(self, p: dict, account: Any, at: Optional[int], path: str) -> Any:
        now = self.engine.now()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def op_switch_mode(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        mode = str(p.get("mode", ""))
        if mode not in ("0", "3"):
            raise _params("params error: mode must be 0 (one-way) or 3 (hedge)")
        self._linear(p)
        self.engine.set_position_mode(account, mode == "3")
        return {}

    def op_set_leverage(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
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
        if int(lev) == self.engine.leverage(account, m.symbol):
            raise BybitFail(110043, "Set leverage not modified")
        self.engine.set_leverage(account, m.symbol, int(lev))
        return {}

    def op_countdown(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        window = str(p.get("timeWindow", ""))
        if not window.isdigit() or not 3 <= int(window) <= 300:
            raise _params("params error: timeWindow must be 3 to 300 seconds")
        if p.get("product", "OPTIONS") not in ("OPTIONS", "DERIVATIVES", "SPOT"):
            raise _params("params error: product")
        return {}

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "time": op_time, "exchange_info": lambda f, p, account, at, path: f._instruments(p),
        "ticker": lambda f, p, account, at, path: f._tickers(p, f.engine.now() if at is None else at),
        "api_key_info": lambda f, p, account, at, path: {**API_KEY_INFO,
                                                         "apiKey": f.engine.accounts[account].spec.api_key},
        "account_info": lambda f, p, account, at, path: {**ACCOUNT_INFO, "updatedTime": str(f.engine.t0)},
        "account": lambda f, p, account, at, path: f._wallet(account, p, at),
        "positions": lambda f, p, account, at, path: f._positions(account, p, at),
        "open_orders": lambda f, p, account, at, path: f._orders(account, p, open_only=True),
        "get_order": lambda f, p, account, at, path: f._orders(account, p, open_only=False),
        "place_order": lambda f, p, account, at, path: f._place(account, p),
        "cancel_order": lambda f, p, account, at, path: f._cancel(account, p),
        "cancel_all": lambda f, p, account, at, path: f._cancel_all(account, p),
        "set_position_mode": op_switch_mode, "set_leverage": op_set_leverage, "countdown": op_countdown,
    }


handle = _Face.serve  # one request under PREFIXES, as the module docstring says


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

    return strict_client(bound_client(ccxt_async.bybit, server, account, config), strict)


def bound_client(make: Any, server: Any, account: str, config: dict) -> Any:
    """A client of the ccxt class ``make`` (bybit's, async or pro) on ``server`` as ``account``
    (:func:`ccxt_config`, ``config`` over it), the currencies off, every ``urls['api']`` entry on
    the server (Bybit's v5 paths are under one host, so each family keeps its path: none)."""
    cfg = ccxt_config(server, account)
    options = {**cfg["options"], **config.pop("options", {})}
    ex = make({**cfg, **config, "options": options})
    ex.has = {**ex.has, "fetchCurrencies": False}
    base = loopback(server.base_url).rstrip("/")
    api = ex.urls.setdefault("api", {})
    for key in (*api, "public", "private", "spot", "futures", "v2"):
        api[key] = base
    return ex


sim_account = venue_account("bybit")  # an account's Accounts entry


sim_client = bybit_client  # the ccxt client of an account (a bot's, with its own key)


__all__ = ["MASTER", "sim_client", "PREFIXES", "RET_CODES", "CCXT_OPTIONS", "handle", "envelope",
           "ccxt_config", "bybit_client", "sim_account"]
