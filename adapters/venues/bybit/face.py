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

Where it lives
    this module holds the routes, the request's path through authentication, faults and the
    dispatch of each operation, and the clients; a request's view of the engine is built from
    what it names (:mod:`.face_params`), its reads of markets and the account
    (:mod:`.face_reads`) and its orders, regular and conditional (:mod:`.face_orders`); the
    envelope, codes and the tables between the engine's words and Bybit's are
    :mod:`.face_wire`'s.

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

from ...simulated.engine import SimError
from ...simulated.faults import HTTP_STATUS, FaultKind, first, restamp, stale, total_latency_ms
from ...simulated.permissions import TRADE_OPS
from .face_orders import BybitOrders
from .face_reads import BybitReads
from .face_wire import (BAD_KEY, BAD_SIGN, PARAMS, PERMISSION_DENIED, RET_CODES, TIMESTAMP, TOO_MANY_VISITS,
                        TRADING_BANNED, BybitFail, _params, envelope)

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

# --- the handler -----------------------------------------------------------------------------------------


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    """Answer one request under ``/v5/`` as Bybit v5 (see the module docstring)."""
    return await _Face(server).handle(request)


class _Face(BybitReads, BybitOrders):
    """One request's handling (the server holds everything that outlives it): the venue's
    signature check, the fault hooks every request passes through and the dispatch of each
    operation to its reads (:class:`.face_reads.BybitReads`) or orders
    (:class:`.face_orders.BybitOrders`), each reading what the request names as
    :class:`.face_params.BybitParams` does."""

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
LOOPBACK_URL = ("http://127.0.0.1", "http://localhost", "http://[::1]")


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
