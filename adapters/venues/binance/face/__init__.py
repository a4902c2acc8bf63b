"""The simulated exchange's Binance USDⓈ-M face: the REST subset ``ccxt.async_support.binanceusdm``
relies on, over the one engine, in the shared face shape (:class:`adapters.simulated.faces.shared.RestFace`).

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

Its prefix is the empty one: the faces are tried longest prefix first, so every path no other
face claims is Binance's, and one it does not serve is its 404 with -5000 (where
:func:`point_ccxt` sends every API family the face does not serve, so a call nobody expected
fails loudly instead of reaching the internet).

Conditional orders (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET)
live in the algo service as on Binance since it moved them there
(:mod:`adapters.simulated.conditional`): placed with ``POST /fapi/v1/algoOrder``
(``algoType=CONDITIONAL``, ``triggerPrice``, ``quantity`` or ``closePosition=true``,
``clientAlgoId``), listed by ``GET /fapi/v1/openAlgoOrders``, read by ``GET /fapi/v1/algoOrder``
and cancelled by ``DELETE /fapi/v1/algoOrder`` (``algoId`` or ``clientAlgoId``) or
``DELETE /fapi/v1/algoOpenOrders`` (a symbol's), in the algo service's own row shape
(``algoId``, ``algoStatus``, ``orderType``, ...); ``POST /fapi/v1/order`` refuses their types
with -4120, and ``exchangeInfo`` lists them among the symbol's order types, as ccxt checks
before it sends one.

What it answers, as Binance does
    * signed requests: ``X-MBX-APIKEY`` (-2014 / -2015, HTTP 401), an HMAC-SHA256 ``signature``
      over the query string concatenated with the form body (-1022, HTTP 400), ``timestamp``
      within ``recvWindow`` (default 5000, at most 60000) of the server's time (-1021);
    * engine errors with their Binance code and status; rate limits 429 (or 418 when banned)
      with ``Retry-After``; every answer to an account's request carries its
      ``X-MBX-USED-WEIGHT-1M``;
    * the faults of the shared pipeline, a REJECT_REDUCE_ONLY as -2022, and a STALE rule's
      frozen feed kept per endpoint, account and symbol (the query itself changes with every
      signed request), restamped "now" in every time field when the rule says so.

The payload shapes are :mod:`.rows`'; :func:`binanceusdm_client` and
:func:`binanceusdm_pro_client` build ccxt clients pointed at this face (and, for ccxt.pro, at
the user data stream, :mod:`adapters.simulated.stream`).

What it must not do
    keep exchange state (the engine's), or reach beyond the server it is handed.
"""

from __future__ import annotations

from typing import Any, Callable, Optional
from urllib.parse import parse_qsl

from aiohttp import web

from ....simulated.engine import SimError
from ....simulated.faces.shared import RestFace, VenueFail, loopback, routes, signs, strict_client, venue_account
from ....simulated.faults import HTTP_STATUS, Fault
from ....simulated.numbers import money_text as _money
from .master import BinanceMaster, _without_signature
from .rows import BAD_SIGNATURE, INVALID_KEY, BinanceRows, err

PREFIXES = ("",)
MASTER = BinanceMaster  # the master account's endpoints that switch its sub-accounts' keys

# ccxt binanceusdm ``urls['api']`` entries served here, and the path prefix of each
CCXT_API_PATHS = {
    "fapiPublic": "/fapi/v1", "fapiPublicV2": "/fapi/v2", "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1", "fapiPrivateV2": "/fapi/v2", "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
}

# ccxt options that keep binanceusdm on the fapi endpoints above
CCXT_OPTIONS = {
    "defaultType": "swap",
    "defaultSubType": "linear",
    "fetchMarkets": {"types": ["linear"]},  # only GET /fapi/v1/exchangeInfo (no spot, no sapi)
    "fetchCurrencies": False,  # no GET /sapi/v1/capital/config/getall
    "fetchMargins": False,
    "adjustForTimeDifference": False,
    "warnOnFetchOpenOrdersWithoutSymbol": False,
}

class BinanceFace(RestFace):
    """One request's view of the engine in Binance USDⓈ-M's terms."""

    ROUTES = routes({
        "GET /fapi/v1/ping": "ping",
        "GET /fapi/v1/time": "time",
        "GET /fapi/v1/exchangeInfo": "exchange_info",
        "GET /fapi/v1/ticker/price": "ticker",
        "GET /fapi/v2/ticker/price": "ticker",
        "GET /fapi/v1/ticker/24hr": "ticker_24hr",
        "GET /fapi/v1/premiumIndex": "mark_price",
        "GET /fapi/v1/depth": "depth",
        "GET /fapi/v2/account": "account",
        "GET /fapi/v3/account": "account",
        "GET /fapi/v2/balance": "balance",
        "GET /fapi/v3/balance": "balance",
        "GET /fapi/v2/positionRisk": "positions",
        "GET /fapi/v3/positionRisk": "positions",
        "GET /fapi/v1/leverageBracket": "leverage_bracket",
        "GET /fapi/v1/openOrders": "open_orders",
        "GET /fapi/v1/openAlgoOrders": "open_algo_orders",
        "GET /fapi/v1/algoOrder": "get_algo_order",
        "POST /fapi/v1/algoOrder": "place_algo_order",
        "DELETE /fapi/v1/algoOrder": "cancel_algo_order",
        "DELETE /fapi/v1/algoOpenOrders": "cancel_all_algo",
        "GET /fapi/v1/positionSide/dual": "position_mode",
        "POST /fapi/v1/positionSide/dual": "set_position_mode",
        "POST /fapi/v1/leverage": "set_leverage",
        "GET /fapi/v1/order": "get_order",
        "GET /fapi/v1/userTrades": "user_trades",
        "POST /fapi/v1/order": "place_order",
        "DELETE /fapi/v1/order": "cancel_order",
        "DELETE /fapi/v1/allOpenOrders": "cancel_all",
        "POST /fapi/v1/countdownCancelAll": "countdown",
    })
    KEY_HEADER = "X-MBX-APIKEY"
    WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
    TIME_FIELDS = ("updateTime", "time", "closeTime", "serverTime")
    VENUE = "binanceusdm"

    def __init__(self, server: Any):
        super().__init__(server)
        self.rows = BinanceRows(self.engine)

    # --- the shared hooks -----------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}

    def status_refusal(self, fault: Fault) -> VenueFail:
        code = HTTP_STATUS[fault.kind]
        retry = fault.retry_after_s if fault.retry_after_s is not None else 1.0
        after = {"Retry-After": str(max(1, int(retry + 0.999)))}
        if code == 429:
            return VenueFail(429, {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) is 2400 "
                                   "requests per minute. Please use the websocket for live updates to avoid polling "
                                   "the API."}, after)
        if code == 418:
            until = self.engine.now() + int(retry * 1000)
            return VenueFail(418, {"code": -1003, "msg": f"Way too many requests; IP(127.0.0.1) banned until {until}. "
                                   "Please use the websocket for live updates to avoid bans."}, after)
        return super().status_refusal(fault)

    def sim_refusal(self, e: SimError, op: str) -> VenueFail:
        headers = {"Retry-After": str(max(1, int(e.retry_after_s + 0.999)))} if e.retry_after_s is not None else {}
        return VenueFail(e.http_status, e.to_json(), headers)

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        if not key:
            raise err(-2014, "API-key format invalid.", 401)
        if account is None:
            raise err(-2015, INVALID_KEY, 401)
        params = self.params(request.method, raw_query, raw_body)
        signature = params.get("signature")
        if not signature:
            raise err(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        if not signs(self.engine.key_secret(key, account), payload, signature):
            raise err(-1022, BAD_SIGNATURE)
        if "timestamp" not in params:
            raise err(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        ts = _int(params, "timestamp")
        recv = _int(params, "recvWindow") if "recvWindow" in params else 5000
        if recv <= 0 or recv > 60000:
            raise err(-1130, "Data sent for parameter 'recvWindow' is not valid.")
        if self.server.check_timestamp:
            server = int(self.server.auth_clock())
            if ts >= server + 1000:
                raise err(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            if server - ts > recv:
                raise err(-1021, "Timestamp for this request is outside of the recvWindow.")
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return err(-2015, INVALID_KEY, 401)  # a revoked key

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return err(-2022, "ReduceOnly Order is rejected.")

    def params(self, method: str, raw_query: str, raw_body: str) -> dict[str, str]:
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        return params

    def stale_key(self, params: Any, raw_query: str) -> Any:
        return params.get("symbol")

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        return [body["orderId"]] if op == "place_order" else []

    # --- operations --------------------------------------------------------------------------------------

    def tickers(self, op: str, p: dict, at: Optional[int]) -> Any:
        return self.rows.tickers(op, p.get("symbol"), self.engine.now() if at is None else at)

    def op_balance(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        v = self.engine.account_state(account, at=at)
        return [{"accountAlias": "SimAccount", "asset": "USDT", "balance": _money(v.wallet),
                 "crossWalletBalance": _money(v.wallet), "crossUnPnl": _money(v.unrealized_pnl),
                 "availableBalance": _money(v.available), "maxWithdrawAmount": _money(v.available),
                 "marginAvailable": True, "updateTime": v.update_time}]

    def op_cancel_algo(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        c = self.engine.cancel_algo_order(account, _opt_int(p, "algoId"), p.get("clientAlgoId"))
        return {"algoId": c.algo_id, "clientAlgoId": c.client_algo_id, "code": "200", "msg": "success"}

    def op_cancel_all_algo(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        self.engine.cancel_all_algo(account, _req(p, "symbol"))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def op_place_algo(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        placed = self.engine.place_algo_order(
            account, _req(p, "symbol"), _req(p, "side"), _req(p, "type"), algo_type=_req(p, "algoType"),
            quantity=_opt_float(p, "quantity"), trigger_price=_opt_float(p, "triggerPrice"),
            price=_opt_float(p, "price"), time_in_force=p.get("timeInForce"),
            reduce_only=_bool(p, "reduceOnly") if "reduceOnly" in p else None,
            close_position=_bool(p, "closePosition"), position_side=p.get("positionSide"),
            client_algo_id=p.get("clientAlgoId"), working_type=p.get("workingType"),
            price_protect=_bool(p, "priceProtect"), callback_rate=_opt_float(p, "callbackRate"),
            activate_price=_opt_float(p, "activatePrice"))
        return self.rows.algo(placed)

    def op_set_position_mode(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        self.engine.set_position_mode(account, _bool(p, "dualSidePosition", required=True))
        return {"code": 200, "msg": "success"}

    def op_set_leverage(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        sym = _req(p, "symbol")
        lev = self.engine.set_leverage(account, sym, _int(p, "leverage"))
        return {"leverage": lev, "maxNotionalValue": "1000000000", "symbol": sym}

    def op_cancel_all(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        self.engine.cancel_all(account, _req(p, "symbol"))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def op_place(self, p: dict, account: str, at: Optional[int], path: str) -> Any:
        o = self.engine.place_order(
            account, _req(p, "symbol"), _req(p, "side"), _req(p, "type"), _opt_float(p, "quantity"),
            _opt_float(p, "price"), time_in_force=p.get("timeInForce"),
            reduce_only=_bool(p, "reduceOnly") if "reduceOnly" in p else None,
            position_side=p.get("positionSide"), client_order_id=p.get("newClientOrderId"))
        return self.rows.order(o, with_time=False)

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "ping": lambda f, p, account, at, path: {},
        "time": lambda f, p, account, at, path: {"serverTime": f.engine.now()},
        "exchange_info": lambda f, p, account, at, path: f.rows.exchange_info(f.engine.now()),
        "ticker": lambda f, p, account, at, path: f.tickers("ticker", p, at),
        "mark_price": lambda f, p, account, at, path: f.tickers("mark_price", p, at),
        "ticker_24hr": lambda f, p, account, at, path: f.tickers("ticker_24hr", p, at),
        "depth": lambda f, p, account, at, path: f.rows.depth(_req(p, "symbol"), p.get("limit")),
        "account": lambda f, p, account, at, path: f.rows.account(account, at, v3=path.startswith("/fapi/v3")),
        "balance": op_balance,
        "positions": lambda f, p, account, at, path: f.rows.position_risk(account, p.get("symbol"), at,
                                                                          v3=path.startswith("/fapi/v3")),
        "leverage_bracket": lambda f, p, account, at, path: f.rows.brackets(p.get("symbol")),
        "open_orders": lambda f, p, account, at, path: [
            f.rows.order(o, with_time=True) for o in f.engine.open_orders(account, p.get("symbol"))],
        "open_algo_orders": lambda f, p, account, at, path: [
            f.rows.algo(o) for o in f.engine.open_algo_orders(account, p.get("symbol"))],
        "get_algo_order": lambda f, p, account, at, path: f.rows.algo(
            f.engine.get_algo_order(account, _opt_int(p, "algoId"), p.get("clientAlgoId"))),
        "cancel_algo_order": op_cancel_algo, "cancel_all_algo": op_cancel_all_algo, "place_algo_order": op_place_algo,
        "position_mode": lambda f, p, account, at, path: {"dualSidePosition": f.engine.position_mode(account)},
        "set_position_mode": op_set_position_mode, "set_leverage": op_set_leverage,
        "get_order": lambda f, p, account, at, path: f.rows.order(f.engine.get_order(
            account, _req(p, "symbol"), _opt_int(p, "orderId"), p.get("origClientOrderId")), with_time=True),
        "cancel_order": lambda f, p, account, at, path: f.rows.order(f.engine.cancel_order(
            account, _req(p, "symbol"), _opt_int(p, "orderId"), p.get("origClientOrderId")), with_time=False),
        "cancel_all": op_cancel_all,
        "user_trades": lambda f, p, account, at, path: f.rows.trades(f.engine.trades(
            account, _req(p, "symbol"), _opt_int(p, "startTime"), _opt_int(p, "limit") or 500)),
        "countdown": lambda f, p, account, at, path: f.engine.countdown_cancel_all(
            account, _req(p, "symbol"), _int(p, "countdownTime")),
        "place_order": op_place,
    }


# --- parameter parsing ---------------------------------------------------------------------------------


def _req(p: dict, name: str) -> str:
    v = p.get(name)
    if v is None or v == "":
        raise err(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return v


def _int(p: dict, name: str) -> int:
    v = _req(p, name)
    try:
        return int(v)
    except ValueError:
        raise err(-1100,
                  f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.") from None


def _opt_int(p: dict, name: str) -> Optional[int]:
    return _int(p, name) if p.get(name) not in (None, "") else None


def _opt_float(p: dict, name: str) -> Optional[float]:
    v = p.get(name)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        raise err(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                  "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise err(-1100, f"Illegal characters found in parameter '{name}'.")
    return x


def _bool(p: dict, name: str, required: bool = False) -> bool:
    v = _req(p, name) if required else p.get(name, "false")
    if v.lower() not in ("true", "false"):
        raise err(-1130, f"Data sent for parameter '{name}' is not valid.")
    return v.lower() == "true"


handle = BinanceFace.serve  # one request under PREFIXES, as the module docstring says


# --- clients -----------------------------------------------------------------------------------------------


def point_ccxt(exchange: Any, base_url: str) -> Any:
    """Point every ``urls['api']`` entry of a ccxt Binance instance at ``base_url``: the fapi
    families to their paths here, every other family to ``/unsupported/<name>`` (404 here), so
    a call nobody expected fails loudly instead of reaching the internet."""
    loopback(base_url)
    from ....simulated.stream import point_ws

    api = exchange.urls.setdefault("api", {})
    for key in list(api):
        if key != "ws":
            api[key] = base_url + CCXT_API_PATHS.get(key, f"/unsupported/{key}")
    for key, p in CCXT_API_PATHS.items():
        api[key] = base_url + p
    if "ws" in api:  # a ccxt.pro client: every stream url too (``linear`` here, the others to nowhere)
        point_ws(exchange, base_url)
    return exchange


def api_urls(server: Any, ws: bool = False) -> dict[str, Any]:
    """``urls['api']`` entries for ccxt's binanceusdm: the fapi ones, and with ``ws`` the
    ``ws`` entry ccxt.pro's reads (``{"linear": server.ws_url}``)."""
    urls: dict[str, Any] = {k: server.base_url + p for k, p in CCXT_API_PATHS.items()}
    if ws:
        urls["ws"] = {"linear": server.ws_url}
    return urls


def ccxt_config(server: Any, account: str, ws: bool = False, **options: Any) -> dict:
    """Constructor config for ``ccxt.async_support.binanceusdm`` pointed at ``server`` with
    ``account``'s keys. Use :func:`point_ccxt` after construction too: it also sends every
    *other* API family to the server (where it gets 404), so nothing can reach the internet.
    ``ws``: with the websocket url, for ``ccxt.pro.binanceusdm``."""
    a = server.engine.accounts[account]
    return {"apiKey": a.spec.api_key, "secret": a.spec.secret, "enableRateLimit": False,
            "options": {**CCXT_OPTIONS, **options}, "urls": {"api": api_urls(server, ws)}}


def binanceusdm_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.binanceusdm`` bound to ``server`` as ``account`` (close it after use);
    ``strict``: with :func:`adapters.ccxt_exchange.strict_json`."""
    import ccxt.async_support as ccxt_async

    return _bound(ccxt_async.binanceusdm, server, account, config, strict, ws=False)


def binanceusdm_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.binanceusdm`` bound to ``server`` as ``account``: REST at the fapi face, streams
    at ``ws://127.0.0.1:PORT/ws`` (ccxt opens ``/private/ws?listenKey=...`` and ``/market/ws/<n>``
    from it); close it after use."""
    import ccxt.pro as ccxt_pro

    return _bound(ccxt_pro.binanceusdm, server, account, config, strict, ws=True)


def _bound(make: Any, server: Any, account: str, config: dict, strict: bool, *, ws: bool) -> Any:
    cfg = ccxt_config(server, account, ws=ws)
    options = {**cfg["options"], **config.pop("options", {})}
    ex = make({**cfg, **config, "options": options})
    point_ccxt(ex, server.base_url)
    return strict_client(ex, strict)


sim_account = venue_account("binanceusdm", name="BINANCE")  # an account's Accounts entry


sim_client = binanceusdm_client  # the ccxt client of an account (a bot's, with its own key)


__all__ = ["MASTER", "sim_client", "BinanceFace", "CCXT_API_PATHS", "CCXT_OPTIONS", "PREFIXES", "api_urls",
           "binanceusdm_client", "binanceusdm_pro_client", "ccxt_config", "handle", "point_ccxt", "sim_account"]
