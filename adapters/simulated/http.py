"""The HTTP face of the simulated exchange: a Binance USDⓈ-M REST subset on 127.0.0.1.

:class:`SimServer` serves one :class:`SimExchange` with the endpoints, parameters, response
shapes, error JSON and HTTP statuses that ``ccxt.async_support.binanceusdm`` relies on, so a
real ccxt client (and the ccxt adapter) can be pointed at it:

public   GET  /fapi/v1/ping, /fapi/v1/time, /fapi/v1/exchangeInfo, /fapi/v1/ticker/price,
              /fapi/v2/ticker/price, /fapi/v1/ticker/24hr, /fapi/v1/premiumIndex
signed   GET  /fapi/v2/account, /fapi/v3/account, /fapi/v2/balance, /fapi/v3/balance,
              /fapi/v2/positionRisk, /fapi/v3/positionRisk, /fapi/v1/leverageBracket,
              /fapi/v1/openOrders, /fapi/v1/positionSide/dual, /fapi/v1/order,
              /fapi/v1/openAlgoOrders, /fapi/v1/algoOrder
         POST /fapi/v1/order, /fapi/v1/algoOrder, /fapi/v1/countdownCancelAll,
              /fapi/v1/positionSide/dual, /fapi/v1/leverage
         DELETE /fapi/v1/order, /fapi/v1/allOpenOrders, /fapi/v1/algoOrder, /fapi/v1/algoOpenOrders

Conditional orders (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET)
live in the algo service as on Binance since it moved them there (:mod:`.conditional`): placed
with ``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``, ``triggerPrice``, ``quantity`` or
``closePosition=true``, ``clientAlgoId``), listed by ``GET /fapi/v1/openAlgoOrders``, read by
``GET /fapi/v1/algoOrder`` and cancelled by ``DELETE /fapi/v1/algoOrder`` (``algoId`` or
``clientAlgoId``) or ``DELETE /fapi/v1/algoOpenOrders`` (a symbol's), in the algo service's own
row shape (``algoId``, ``algoStatus``, ``orderType``, ...); ``POST /fapi/v1/order`` refuses
their types with -4120, and ``exchangeInfo`` lists them among the symbol's order types, as
ccxt checks before it sends one.

Signed requests are checked like Binance does: ``X-MBX-APIKEY`` (-2014 / -2015, HTTP 401),
an HMAC-SHA256 ``signature`` over the query string concatenated with the form body (-1022,
HTTP 400), ``timestamp`` within ``recvWindow`` (default 5000, at most 60000) of the server's
time (-1021). Engine errors keep their Binance code and status; rate limits answer 429 (or
418 when banned) with ``Retry-After``. An unknown path is 404 with -5000.

The engine's :class:`FaultPlan` is applied per request, keyed on the operation name (e.g.
``place_order``) or the endpoint (``"POST /fapi/v1/order"``): latency, a request that never
answers (TIMEOUT), 429/418/500/503, truncated JSON, a -2022 refusal, a dropped connection
after the order executed, an order hidden from the next query, and stale data: a frozen feed,
where every GET a STALE rule fires on repeats one old body (the one as of ``stale_ms`` before
the rule first fired, per endpoint, account and symbol), with its own times or, stamped "now",
with the current time in every time field (the worst case: only the content is old).

The websocket face (:mod:`.stream`: the user data stream with its listen keys, mark prices and
the stream faults) is served on the same app and port: ``POST/PUT/DELETE /fapi/v1/listenKey``,
``/ws``, ``/ws/<listenKey>`` and Binance's ``/private/ws``, ``/market/ws``, ``/public/ws``;
:func:`binanceusdm_pro_client` builds a ``ccxt.pro.binanceusdm`` pointed at both faces.
Every other venue's websocket face is served there too: each venue package's ``STREAM_FACE``
(``adapters/venues/<venue>/face_stream.py``, its ``stream_face``), found by
:mod:`adapters.registry` and kept as :attr:`SimServer.streams` by the venue's folder name and as
the attribute ``<venue>_stream`` (Bybit v5's ``/v5/private``, ``/v5/public/linear``: ``bybit_stream``;
OKX v5's ``/ws/v5/public``, ``/private``, ``/business``: ``okx_stream``; Bitget v2's
``/v2/ws/public``, ``/v2/ws/private``: ``bitget_stream``; Hyperliquid's bare
``/ws``, whose first request says whether it is Hyperliquid's or Binance's:
``hyperliquid_stream``). A face's keyword arguments are ``venue_streams[<venue>]``
(``hyperliquid_stream=`` is Hyperliquid's, as before).

Test harness endpoints (not part of the Binance API): ``POST /_sim/mark?symbol=&price=`` holds
a market's mark at a price from now on; ``GET /_sim/state`` answers the engine's
:meth:`SimExchange.dump_state` as JSON (positions, orders with their client ids, fill events),
read-only and unauthenticated, and only when the server is built with ``admin_state=True`` (as
``python -m adapters.simulated serve`` does) — so a test can check a separate runner process
against what the "exchange" really holds.

What it owns: HTTP parsing, authentication, rendering engine state as Binance JSON, and the
HTTP meaning of each fault. What it must not do: listen anywhere but loopback, keep exchange
state of its own (all state is the engine's; the bodies a STALE rule repeats are the fault's),
or hold secrets beyond the engine's test keys.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from typing import Any, Callable, Optional, cast
from urllib.parse import parse_qsl

from aiohttp import web

from .conditional import SimAlgoOrder
from .engine import MarketSpec, PositionView, SimError, SimExchange, SimOrder, floor_step
from ..registry import parts
from .faces import face_for
from .held_clock import ADMIN_GO_PATH, held_go
from .faults import HTTP_STATUS, FaultKind, FaultPlan, first, restamp, stale, total_latency_ms
from .numbers import digits as _digits, fixed as _f, money_text as _money
from .permissions import TRADE_OPS

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# (method, path) → (operation name, signed)
ROUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", "/fapi/v1/ping"): ("ping", False),
    ("GET", "/fapi/v1/time"): ("time", False),
    ("GET", "/fapi/v1/exchangeInfo"): ("exchange_info", False),
    ("GET", "/fapi/v1/ticker/price"): ("ticker", False),
    ("GET", "/fapi/v2/ticker/price"): ("ticker", False),
    ("GET", "/fapi/v1/ticker/24hr"): ("ticker_24hr", False),
    ("GET", "/fapi/v1/premiumIndex"): ("mark_price", False),
    ("GET", "/fapi/v1/depth"): ("depth", False),
    ("GET", "/fapi/v2/account"): ("account", True),
    ("GET", "/fapi/v3/account"): ("account", True),
    ("GET", "/fapi/v2/balance"): ("balance", True),
    ("GET", "/fapi/v3/balance"): ("balance", True),
    ("GET", "/fapi/v2/positionRisk"): ("positions", True),
    ("GET", "/fapi/v3/positionRisk"): ("positions", True),
    ("GET", "/fapi/v1/leverageBracket"): ("leverage_bracket", True),
    ("GET", "/fapi/v1/openOrders"): ("open_orders", True),
    ("GET", "/fapi/v1/openAlgoOrders"): ("open_algo_orders", True),
    ("GET", "/fapi/v1/algoOrder"): ("get_algo_order", True),
    ("POST", "/fapi/v1/algoOrder"): ("place_algo_order", True),
    ("DELETE", "/fapi/v1/algoOrder"): ("cancel_algo_order", True),
    ("DELETE", "/fapi/v1/algoOpenOrders"): ("cancel_all_algo", True),
    ("GET", "/fapi/v1/positionSide/dual"): ("position_mode", True),
    ("POST", "/fapi/v1/positionSide/dual"): ("set_position_mode", True),
    ("POST", "/fapi/v1/leverage"): ("set_leverage", True),
    ("GET", "/fapi/v1/order"): ("get_order", True),
    ("POST", "/fapi/v1/order"): ("place_order", True),
    ("DELETE", "/fapi/v1/order"): ("cancel_order", True),
    ("DELETE", "/fapi/v1/allOpenOrders"): ("cancel_all", True),
    ("POST", "/fapi/v1/countdownCancelAll"): ("countdown", True),
}

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)  # what GET /fapi/v1/depth accepts as ``limit``

# test harness only (see the module docstring): the engine's dump_state, read-only
ADMIN_STATE_PATH = "/_sim/state"
ADMIN_MARK_PATH = "/_sim/mark"  # POST ?symbol=BTCUSDT&price=50000: hold that mark from now on
# POST ?account=sim-0&wallet=1000000&legs=BTCUSDT:long:5:60000,...: the wallet set, those positions seeded
ADMIN_SEED_PATH = "/_sim/seed"

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


class _Fail(Exception):
    def __init__(self, status: int, body: Any, headers: Optional[dict] = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _err(code: int, msg: str, status: int = 400) -> _Fail:
    return _Fail(status, {"code": code, "msg": msg})


class SimServer:
    """A Binance USDⓈ-M REST face over ``engine``, on ``127.0.0.1`` (port 0: a free one).

    ``auth_clock`` is the server time the request ``timestamp`` is checked against (default:
    the engine clock); ``check_timestamp=False`` skips that check. A TIMEOUT fault holds the
    request for ``hang_s`` seconds (or until the client goes away or the server stops);
    injected latency sleeps ``latency_ms * time_scale``.

    Size: about 550 lines, one handler per Binance USDⓈ-M endpoint that ccxt calls, plus the
    signature check and the fault hooks they all pass through; the venue itself is the engine.
    """

    def __init__(self, engine: SimExchange, *, host: str = "127.0.0.1", port: int = 0,
                 faults: Optional[FaultPlan] = None, check_timestamp: bool = True,
                 auth_clock: Optional[Callable[[], int]] = None, hang_s: float = 3600.0, time_scale: float = 1.0,
                 admin_state: bool = False, stream: Optional[dict] = None,
                 hyperliquid_stream: Optional[dict] = None, venue_streams: Optional[dict[str, dict]] = None):
        if host not in LOOPBACK:
            raise ValueError("the simulated exchange listens on loopback only")
        self.engine = engine
        self.host = host
        self._port = port
        self.faults = faults if faults is not None else engine.faults
        self.check_timestamp = check_timestamp
        self.auth_clock = auth_clock or engine.now
        self.hang_s = hang_s
        self.time_scale = time_scale
        self.admin_state = admin_state  # serve GET /_sim/state (test harness, not Binance)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self._runner: Optional[web.AppRunner] = None
        self._frozen: dict[tuple, Any] = {}  # (stale rule, endpoint, account, symbol) → the body it repeats
        from .stream import StreamFace  # (it renders with this module's helpers)

        # the websocket face: keyword arguments of StreamFace (mark cadence, tick)
        self.stream = StreamFace(engine, self.faults, requests=self.requests, **(stream or {}))
        # every other venue's websocket face on the same port, in registry order
        options = {**({"hyperliquid": hyperliquid_stream} if hyperliquid_stream else {}), **(venue_streams or {})}
        unknown = set(options) - {p.venue for p in parts("STREAM_FACE")}
        if unknown:
            raise ValueError(f"no venue has a websocket face named {', '.join(sorted(unknown))}")
        self.streams: dict[str, Any] = {p.venue: p.module.stream_face(self, **options.get(p.venue, {}))
                                        for p in parts("STREAM_FACE")}

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        self.stream.add_routes(app)  # before the catch-all below
        for face in self.streams.values():
            face.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        await self.stream.start()
        for face in self.streams.values():
            await face.start()
        return self.base_url

    async def stop(self) -> None:
        await self.stream.stop()
        for face in self.streams.values():
            await face.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "SimServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def __getattr__(self, name: str) -> Any:
        """A venue's websocket face as ``<venue>_stream`` (``server.okx_stream``): :attr:`streams`."""
        streams = self.__dict__.get("streams", {})
        if name.endswith("_stream") and name[: -len("_stream")] in streams:
            return streams[name[: -len("_stream")]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The websocket base ccxt.pro's binanceusdm takes as ``urls['api']['ws']['linear']``."""
        return f"ws://{self.host}:{self._port}/ws"

    def api_urls(self, ws: bool = False) -> dict[str, Any]:
        """``urls['api']`` entries for ccxt's binanceusdm: the fapi ones, and with ``ws`` the
        ``ws`` entry ccxt.pro's reads (``{"linear": ws_url}``)."""
        urls: dict[str, Any] = {k: self.base_url + p for k, p in CCXT_API_PATHS.items()}
        if ws:
            urls["ws"] = {"linear": self.ws_url}
        return urls

    def ccxt_config(self, account: str, ws: bool = False, **options: Any) -> dict:
        """Constructor config for ``ccxt.async_support.binanceusdm`` pointed at this server with
        ``account``'s keys. Use :func:`point_ccxt` after construction too: it also sends every
        *other* API family to this server (where it gets 404), so nothing can reach the internet.
        ``ws``: with the websocket url, for ``ccxt.pro.binanceusdm``."""
        a = self.engine.accounts[account]
        return {"apiKey": a.spec.api_key, "secret": a.spec.secret, "enableRateLimit": False,
                "options": {**CCXT_OPTIONS, **options}, "urls": {"api": self.api_urls(ws)}}

    # --- request handling ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        if self.admin_state and path == ADMIN_STATE_PATH and method == "GET":
            text = json.dumps(self.engine.dump_state(), separators=(",", ":"), default=str)
            return web.Response(status=200, text=text, content_type="application/json")
        if self.admin_state and path == ADMIN_MARK_PATH and method == "POST":  # a test moves a market
            q = request.rel_url.query
            self.engine.set_mark(q["symbol"], float(q["price"]))
            return web.Response(status=200, text="{}", content_type="application/json")
        if self.admin_state and path == ADMIN_GO_PATH and method == "POST":  # a test starts a held scenario
            status, body = held_go(self.engine.clock, request.rel_url.query.get("at_ms"))
            return web.Response(status=status, text=json.dumps(body), content_type="application/json")
        if self.admin_state and path == ADMIN_SEED_PATH and method == "POST":  # a bench seeds a book again
            q = request.rel_url.query
            self.engine.set_wallet(q["account"], float(q["wallet"]))
            for leg in filter(None, q.get("legs", "").split(",")):
                symbol, side, amount, entry = leg.split(":")
                self.engine.open_position(q["account"], symbol, side, float(amount), float(entry))
            return web.Response(status=200, text="{}", content_type="application/json")
        face = face_for(path)
        if face is not None:  # another venue's dialect (faces/): Bybit, OKX, Hyperliquid
            return await face(self, request)
        route = ROUTES.get((method, path))
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        if route is None:
            return self._respond(method, path, 404, {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"})
        op, signed = route
        endpoint = f"{method} {path}"
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        api_key = request.headers.get("X-MBX-APIKEY", "")
        account = self.engine.account_for_key(api_key) if api_key else None
        eng = self.engine
        faults = self.faults.match(op, eng.now(), account=account, endpoint=endpoint)
        lat = total_latency_ms(faults)
        if lat:
            await asyncio.sleep(lat / 1000 * self.time_scale)
        status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
        if status_fault is not None:
            return self._status_fault(method, path, status_fault)
        timeout = first(faults, FaultKind.TIMEOUT)
        if timeout is not None and not timeout.applied:
            await asyncio.sleep(self.hang_s)
            return self._respond(method, path, 504, "")
        try:
            if signed:
                account = self._authenticate(api_key, account, raw_query, raw_body, params)
                if op in TRADE_OPS and not eng.permissions.may_trade(api_key):  # a revoked key
                    raise _err(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401)
            if op == "place_order" and first(faults, FaultKind.REJECT_REDUCE_ONLY):
                raise _err(-2022, "ReduceOnly Order is rejected.")
            st = stale(faults) if method == "GET" else None
            if st is None:
                body = self._dispatch(op, path, params, account, None)
            else:
                body = self._frozen_body(st, op, path, endpoint, params, account)
        except _Fail as f:
            return self._respond(method, path, f.status, f.body, f.headers, account)
        except SimError as e:
            headers = {"Retry-After": str(max(1, int(e.retry_after_s + 0.999)))} if e.retry_after_s is not None else {}
            return self._respond(method, path, e.http_status, e.to_json(), headers, account)
        if op == "place_order" and first(faults, FaultKind.HIDE_FROM_NEXT_QUERY):
            # place_order is signed, so _authenticate has named the account
            eng.hide_from_next_query(cast(str, account), body["orderId"])
        if timeout is not None:  # applied: executed, then never answered
            await asyncio.sleep(self.hang_s)
            return self._respond(method, path, 504, "")
        if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
            self.requests.append((method, path, 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        if first(faults, FaultKind.MALFORMED_JSON):
            text = json.dumps(body, separators=(",", ":"))
            return self._respond(method, path, 200, text[: max(1, len(text) // 2)], account=account, raw=True)
        return self._respond(method, path, 200, body, account=account)

    def _frozen_body(self, st, op: str, path: str, endpoint: str, params: dict, account: Optional[str]) -> Any:
        """A frozen feed: the body as of ``stale_ms`` before the rule first fired here, repeated."""
        key = (st.rule, endpoint, account, params.get("symbol"))
        body = self._frozen.get(key)
        if body is None:
            body = self._frozen[key] = self._dispatch(op, path, params, account, self.engine.now() - st.stale_ms)
        body = copy.deepcopy(body)
        return _restamp(body, self.engine.now()) if st.stamp == "now" else body

    def _respond(self, method: str, path: str, status: int, body: Any, headers: Optional[dict] = None,
                 account: Optional[str] = None, raw: bool = False) -> web.Response:
        self.requests.append((method, path, status))
        h = dict(headers or {})
        if account is not None and account in self.engine.accounts:
            h["X-MBX-USED-WEIGHT-1M"] = str(self.engine.used_weight(account))
        if isinstance(body, str) and (raw or not body.startswith(("{", "["))):
            ctype = "application/json" if raw else "text/html"
            return web.Response(status=status, text=body, content_type=ctype, headers=h)
        return web.Response(status=status, text=json.dumps(body, separators=(",", ":")),
                            content_type="application/json", headers=h)

    def _status_fault(self, method: str, path: str, fault) -> web.Response:
        code = HTTP_STATUS[fault.kind]
        retry = fault.retry_after_s if fault.retry_after_s is not None else 1.0
        if fault.body is not None:
            return self._respond(method, path, code, fault.body, raw=True)
        if code == 429:
            return self._respond(method, path, 429, {"code": -1003, "msg": "Too many requests; current limit of IP"
                                 "(127.0.0.1) is 2400 requests per minute. Please use the websocket for live updates "
                                 "to avoid polling the API."}, {"Retry-After": str(max(1, int(retry + 0.999)))})
        if code == 418:
            until = self.engine.now() + int(retry * 1000)
            return self._respond(method, path, 418, {"code": -1003, "msg": f"Way too many requests; IP(127.0.0.1) "
                                 f"banned until {until}. Please use the websocket for live updates to avoid bans."},
                                 {"Retry-After": str(max(1, int(retry + 0.999)))})
        reason = "Internal Server Error" if code == 500 else "Service Unavailable"
        return self._respond(method, path, code, f"<html><body><h1>{code} {reason}</h1></body></html>")

    def _authenticate(self, api_key: str, account: Optional[str], raw_query: str, raw_body: str,
                      params: dict) -> str:
        if not api_key:
            raise _err(-2014, "API-key format invalid.", 401)
        if account is None:
            raise _err(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401)
        signature = params.get("signature")
        if not signature:
            raise _err(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload = _without_signature(raw_query) + _without_signature(raw_body)
        expected = hmac.new(self.engine.key_secret(api_key, account).encode(), payload.encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _err(-1022, "Signature for this request is not valid.")
        if "timestamp" not in params:
            raise _err(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        ts = _int(params, "timestamp")
        recv = _int(params, "recvWindow") if "recvWindow" in params else 5000
        if recv <= 0 or recv > 60000:
            raise _err(-1130, "Data sent for parameter 'recvWindow' is not valid.")
        if self.check_timestamp:
            server = int(self.auth_clock())
            if ts >= server + 1000:
                raise _err(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            if server - ts > recv:
                raise _err(-1021, "Timestamp for this request is outside of the recvWindow.")
        return account

    # --- operations --------------------------------------------------------------------------------------

    def _dispatch(self, op: str, path: str, p: dict, account: Optional[str], at: Optional[int]) -> Any:
        eng = self.engine
        now = eng.now()
        if op == "ping":
            return {}
        if op == "time":
            return {"serverTime": now}
        if op == "exchange_info":
            return self._exchange_info(now)
        if op in ("ticker", "mark_price", "ticker_24hr"):
            return self._tickers(op, p.get("symbol"), now if at is None else at)
        if op == "depth":
            return self._depth(_req(p, "symbol"), p.get("limit"))
        assert account is not None
        if op == "account":
            return self._account(account, at, v3=path.startswith("/fapi/v3"))
        if op == "balance":
            v = eng.account_state(account, at=at)
            return [{"accountAlias": "SimAccount", "asset": "USDT", "balance": _money(v.wallet),
                     "crossWalletBalance": _money(v.wallet), "crossUnPnl": _money(v.unrealized_pnl),
                     "availableBalance": _money(v.available), "maxWithdrawAmount": _money(v.available),
                     "marginAvailable": True, "updateTime": v.update_time}]
        if op == "positions":
            return self._position_risk(account, p.get("symbol"), at, v3=path.startswith("/fapi/v3"))
        if op == "leverage_bracket":
            return self._brackets(p.get("symbol"))
        if op == "open_orders":
            return [self._order(o, with_time=True) for o in eng.open_orders(account, p.get("symbol"))]
        if op == "open_algo_orders":
            return [self._algo(o) for o in eng.open_algo_orders(account, p.get("symbol"))]
        if op == "get_algo_order":
            return self._algo(eng.get_algo_order(account, _opt_int(p, "algoId"), p.get("clientAlgoId")))
        if op == "cancel_algo_order":
            c = eng.cancel_algo_order(account, _opt_int(p, "algoId"), p.get("clientAlgoId"))
            return {"algoId": c.algo_id, "clientAlgoId": c.client_algo_id, "code": "200", "msg": "success"}
        if op == "cancel_all_algo":
            eng.cancel_all_algo(account, _req(p, "symbol"))
            return {"code": 200, "msg": "The operation of cancel all open order is done."}
        if op == "place_algo_order":
            placed = eng.place_algo_order(
                account, _req(p, "symbol"), _req(p, "side"), _req(p, "type"), algo_type=_req(p, "algoType"),
                quantity=_opt_float(p, "quantity"), trigger_price=_opt_float(p, "triggerPrice"),
                price=_opt_float(p, "price"), time_in_force=p.get("timeInForce"),
                reduce_only=_bool(p, "reduceOnly") if "reduceOnly" in p else None,
                close_position=_bool(p, "closePosition"), position_side=p.get("positionSide"),
                client_algo_id=p.get("clientAlgoId"), working_type=p.get("workingType"),
                price_protect=_bool(p, "priceProtect"), callback_rate=_opt_float(p, "callbackRate"),
                activate_price=_opt_float(p, "activatePrice"))
            return self._algo(placed)
        if op == "position_mode":
            return {"dualSidePosition": eng.position_mode(account)}
        if op == "set_position_mode":
            eng.set_position_mode(account, _bool(p, "dualSidePosition", required=True))
            return {"code": 200, "msg": "success"}
        if op == "set_leverage":
            sym = _req(p, "symbol")
            lev = eng.set_leverage(account, sym, _int(p, "leverage"))
            return {"leverage": lev, "maxNotionalValue": "1000000000", "symbol": sym}
        if op == "get_order":
            o = eng.get_order(account, _req(p, "symbol"), _opt_int(p, "orderId"), p.get("origClientOrderId"))
            return self._order(o, with_time=True)
        if op == "cancel_order":
            o = eng.cancel_order(account, _req(p, "symbol"), _opt_int(p, "orderId"), p.get("origClientOrderId"))
            return self._order(o, with_time=False)
        if op == "cancel_all":
            eng.cancel_all(account, _req(p, "symbol"))
            return {"code": 200, "msg": "The operation of cancel all open order is done."}
        if op == "countdown":
            return eng.countdown_cancel_all(account, _req(p, "symbol"), _int(p, "countdownTime"))
        if op == "place_order":
            o = eng.place_order(
                account, _req(p, "symbol"), _req(p, "side"), _req(p, "type"), _opt_float(p, "quantity"),
                _opt_float(p, "price"), time_in_force=p.get("timeInForce"),
                reduce_only=_bool(p, "reduceOnly") if "reduceOnly" in p else None,
                position_side=p.get("positionSide"), client_order_id=p.get("newClientOrderId"))
            return self._order(o, with_time=False)
        raise _err(-5000, f"Path {path} is invalid", 404)

    # --- rendering --------------------------------------------------------------------------------------

    def _exchange_info(self, now: int) -> dict:
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
            "symbols": [self._symbol_info(m) for m in self.engine.markets.values()],
        }

    def _symbol_info(self, m: MarketSpec) -> dict:
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

    def _tickers(self, op: str, symbol: Optional[str], at: int) -> Any:
        eng = self.engine
        if symbol is not None and symbol not in eng.markets:
            raise _err(-1121, "Invalid symbol.")
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

    def _depth(self, symbol: str, limit: Optional[str]) -> dict[str, Any]:
        """``GET /fapi/v1/depth``: the top ``limit`` levels a side (5, 10, 20, 50, 100, 500 or
        1000; default 500) as [price, quantity] strings, best first."""
        eng = self.engine
        if symbol not in eng.markets:
            raise _err(-1121, "Invalid symbol.")
        n = 500 if limit in (None, "") else (int(limit) if str(limit).isdigit() else -1)
        if n not in DEPTH_LIMITS:
            raise _err(-1130, "Data sent for parameter 'limit' is not valid.")
        bids, asks, ts = eng.order_book(symbol, n)
        m = eng.markets[symbol]
        pd, ad = _digits(m)

        def side(levels: list) -> list:  # amounts down to the step: a level never shows more than it holds
            return [[_f(px, pd), _f(q, ad)] for px, q in ((px, floor_step(q, m.amount_step)) for px, q in levels)
                    if q > 0]

        return {"lastUpdateId": ts, "E": ts, "T": ts, "bids": side(bids), "asks": side(asks)}

    def _account(self, account: str, at: Optional[int], v3: bool) -> dict[str, Any]:
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
                for ps in self._sides(account):
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

    def _sides(self, account: str) -> tuple[str, ...]:
        return ("LONG", "SHORT") if self.engine.hedge_mode(account) else ("BOTH",)

    def _position_risk(self, account: str, symbol: Optional[str], at: Optional[int], v3: bool) -> list:
        eng = self.engine
        positions = {(p.symbol, p.position_side): p for p in eng.positions(account, symbol, at=at)}
        rows = []
        markets = [eng.markets[symbol]] if symbol else list(eng.markets.values())
        if v3:  # v3 lists only positions that are open: no walk of every market
            open_symbols = {s for s, _ in positions}
            markets = [m for m in markets if m.symbol in open_symbols]
        sides = self._sides(account)
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

    def _brackets(self, symbol: Optional[str]) -> Any:
        eng = self.engine
        if symbol is not None and symbol not in eng.markets:
            raise _err(-1121, "Invalid symbol.")
        rows = [{"symbol": m.symbol, "notionalCoef": 1.0, "brackets": [
            {"bracket": 1, "initialLeverage": m.max_leverage, "notionalCap": 1_000_000_000, "notionalFloor": 0,
             "maintMarginRatio": m.maint_margin_rate, "cum": 0.0}]}
            for m in ([eng.markets[symbol]] if symbol else list(eng.markets.values()))]
        return rows[0] if symbol else rows

    def _order(self, o: SimOrder, with_time: bool) -> dict:
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

    def _algo(self, o: SimAlgoOrder) -> dict:
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


# --- parameter parsing ---------------------------------------------------------------------------------


def _without_signature(raw: str) -> str:
    if not raw:
        return ""
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


def _req(p: dict, name: str) -> str:
    v = p.get(name)
    if v is None or v == "":
        raise _err(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return v


def _int(p: dict, name: str) -> int:
    v = _req(p, name)
    try:
        return int(v)
    except ValueError:
        raise _err(-1100,
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
        raise _err(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                   "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise _err(-1100, f"Illegal characters found in parameter '{name}'.")
    return x


def _bool(p: dict, name: str, required: bool = False) -> bool:
    v = _req(p, name) if required else p.get(name, "false")
    if v.lower() not in ("true", "false"):
        raise _err(-1130, f"Data sent for parameter '{name}' is not valid.")
    return v.lower() == "true"


# --- ccxt helpers ----------------------------------------------------------------------------------------


def point_ccxt(exchange: Any, base_url: str) -> Any:
    """Point every ``urls['api']`` entry of a ccxt Binance instance at ``base_url``: the fapi
    families to their paths here, every other family to ``/unsupported/<name>`` (404 here), so
    a call nobody expected fails loudly instead of reaching the internet."""
    if not base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ValueError("the simulated exchange is on loopback")
    from .stream import point_ws

    api = exchange.urls.setdefault("api", {})
    for key in list(api):
        if key != "ws":
            api[key] = base_url + CCXT_API_PATHS.get(key, f"/unsupported/{key}")
    for key, p in CCXT_API_PATHS.items():
        api[key] = base_url + p
    if "ws" in api:  # a ccxt.pro client: every stream url too (``linear`` here, the others to nowhere)
        point_ws(exchange, base_url)
    return exchange


def strict_json(exchange: Any) -> Any:
    """See :func:`adapters.ccxt_exchange.strict_json` (one implementation for both)."""
    from ..ccxt_exchange import strict_json as strict

    return strict(exchange)


def binanceusdm_client(server: SimServer, account: str, *, strict: bool = True, **config: Any):
    """A ``ccxt.async_support.binanceusdm`` bound to ``server`` as ``account`` (close it after use);
    ``strict``: with :func:`strict_json`."""
    import ccxt.async_support as ccxt_async

    cfg = server.ccxt_config(account)
    options = {**cfg["options"], **config.pop("options", {})}
    ex = ccxt_async.binanceusdm({**cfg, **config, "options": options})
    point_ccxt(ex, server.base_url)
    return strict_json(ex) if strict else ex


def binanceusdm_pro_client(server: SimServer, account: str, *, strict: bool = True, **config: Any):
    """A ``ccxt.pro.binanceusdm`` bound to ``server`` as ``account``: REST at the fapi face, streams
    at ``ws://127.0.0.1:PORT/ws`` (ccxt opens ``/private/ws?listenKey=...`` and ``/market/ws/<n>``
    from it); close it after use."""
    import ccxt.pro as ccxt_pro

    cfg = server.ccxt_config(account, ws=True)
    options = {**cfg["options"], **config.pop("options", {})}
    ex = ccxt_pro.binanceusdm({**cfg, **config, "options": options})
    point_ccxt(ex, server.base_url)
    return strict_json(ex) if strict else ex


_TIME_FIELDS = ("updateTime", "time", "closeTime", "serverTime")


def _restamp(body: Any, now: int) -> Any:
    return restamp(body, now, _TIME_FIELDS)




def wall_clock() -> int:
    """UTC ms from the system clock: for ``serve`` only; the engine never calls it itself."""
    return int(time.time() * 1000)


class ScaledClock:
    """For ``serve --time-scale X``: UTC ms that run ``X`` times faster than the wall clock from
    the moment it is made (so a scenario's one-minute crash unfolds in 60/X seconds)."""

    def __init__(self, scale: float, wall: Callable[[], int] = wall_clock):
        if not scale > 0:
            raise ValueError("the time scale must be positive")
        self.scale = float(scale)
        self.wall = wall
        self.start = wall()

    def __call__(self) -> int:
        return self.start + int((self.wall() - self.start) * self.scale)


__all__ = ["SimServer", "ROUTES", "CCXT_API_PATHS", "CCXT_OPTIONS", "point_ccxt", "strict_json", "binanceusdm_client",
           "binanceusdm_pro_client",
           "wall_clock", "ScaledClock", "ADMIN_STATE_PATH"]
