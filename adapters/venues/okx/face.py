"""The simulated exchange's OKX v5 face: the REST subset ``ccxt.async_support.okx`` and the OKX
dialect (:mod:`adapters.venues.okx.dialect`) ask, over the one engine.

public   GET  /api/v5/public/time, /api/v5/public/instruments (SWAP), /api/v5/public/mark-price,
              /api/v5/market/ticker, /api/v5/market/tickers, /api/v5/market/books
signed   GET  /api/v5/account/balance, /api/v5/account/positions, /api/v5/account/config,
              /api/v5/trade/order, /api/v5/trade/orders-pending, /api/v5/trade/order-algo,
              /api/v5/trade/orders-algo-pending
         POST /api/v5/trade/order, /api/v5/trade/batch-orders, /api/v5/trade/cancel-order,
              /api/v5/trade/cancel-batch-orders, /api/v5/trade/order-algo, /api/v5/trade/cancel-algos,
              /api/v5/trade/cancel-all-after, /api/v5/account/set-position-mode,
              /api/v5/account/set-leverage

What it answers, as OKX does
    * the envelope ``{"code": "0", "msg": "", "data": [...]}``; an order operation answers each
      order with its ``sCode`` / ``sMsg`` (``code`` "1" when every one failed, "2" when some did);
    * signed requests: ``OK-ACCESS-KEY`` (50103 missing, 50111 unknown), ``OK-ACCESS-PASSPHRASE``
      (50104 / 50105), ``OK-ACCESS-TIMESTAMP`` in ISO 8601 within 30 s of the server (50107,
      50112, 50102), ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 over timestamp + METHOD + path with
      its query + body (50106, 50113), all HTTP 401;
    * the engine's markets as SWAP instruments: ``BTCUSDT`` is ``BTC-USDT-SWAP`` with ``ctVal``
      1 (OKX's own BTC-USDT-SWAP is 0.01 BTC a contract: here a contract is one unit of the base,
      so an amount in contracts is the engine's amount, and positions, orders and fills match it
      number for number); ``lotSz`` / ``minSz`` / ``tickSz`` from the market;
    * positions in net mode (``posSide`` net, ``pos`` signed) or long/short mode (``posSide``
      long / short) from the engine's hedge mode; ``mgnMode`` cross: the engine keeps one cross
      margin, so an order's ``tdMode`` must be ``cross``: ``isolated`` on a close is refused as
      OKX refuses a close of a position it does not hold (51169), elsewhere 51000;
    * orders: ``market``, ``limit``, ``ioc``, ``fok``, ``post_only`` and ``optimal_limit_ioc``
      (a market IOC), ``reduceOnly`` (net mode only; long/short mode closes by ``posSide``),
      ``clOrdId`` (letters and digits, at most 32); ``state`` live / partially_filled / filled /
      canceled (an IOC or market remainder that expired is canceled, as OKX writes it);
    * algo orders in the engine's conditional book: ``conditional`` (one of ``slTriggerPx`` /
      ``tpTriggerPx``, ``slOrdPx`` / ``tpOrdPx`` -1 for market, ``closeFraction`` 1 closes the
      whole position), ``trigger`` (``triggerPx``, ``orderPx``), ``move_order_stop``
      (``callbackRatio``, ``activePx``); listed by ``orders-algo-pending`` per ``ordType`` (one,
      or ``conditional,oco``; missing is 51000), cancelled by ``cancel-algos``. A TP/SL with both
      triggers, an OCO and a ``callbackSpread`` trailing stop are refused (51000): the engine's
      conditional order has one trigger and a callback in percent;
    * both lists paged as OKX pages them: newest first, ``limit`` at most 100 (default 100),
      ``after`` an id gives the older rows, ``before`` the newer;
    * ``cancel-all-after``: account-wide, ``timeOut`` 0 (off) or 10-120 s: the engine's countdown
      armed (or disarmed) for every market at once;
    * errors: 50011 rate limit (HTTP 429), 51169 / 51170 reduce-only refused, 51603 order not
      found (51400 on a cancel), 51016 duplicate client id, 51008 margin, 51001 unknown
      instrument, 51000 bad parameter.

Faults apply as on the Binance face, keyed on the same operation names (``place_order``,
``positions``, ``account``, ...) or on ``"METHOD /api/v5/..."``: latency, TIMEOUT, 429 (and a
418, which OKX does not send, as a 429), 5xx, truncated JSON, a frozen feed (STALE), a refused
reduce-only order (51169), a dropped connection after the order executed, an order hidden from
the next query.

What it must not do
    keep exchange state (the bodies a STALE rule repeats are the fault's, kept on the server as
    the Binance face keeps them) or reach beyond the server it is handed.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import re
import zlib
from datetime import datetime, timezone
from typing import Any, MutableMapping, Optional

from aiohttp import web

from ...simulated.conditional import SimAlgoOrder
from ...simulated.engine import (DUPLICATE_CLIENT_ID, INSUFFICIENT_BALANCE, INVALID_SYMBOL, MARGIN_INSUFFICIENT,
                                 NO_SUCH_ORDER, NOTIONAL_TOO_SMALL, PRECISION, QTY_NOT_POSITIVE, QTY_TOO_LARGE,
                                 REDUCE_ONLY_REJECTED, TOO_MANY_ORDERS, TOO_MANY_REQUESTS, UNKNOWN_ORDER, MarketSpec,
                                 SimError, SimOrder, decimals)
from ...simulated.faults import HTTP_STATUS, FaultKind, first, restamp, stale, total_latency_ms
from ...simulated.permissions import TRADE_OPS
from ...simulated.views import money
from ...simulated.faces.shared import loopback, passphrase_account

PREFIXES = ("/api/v5/",)

# (method, path) → (operation name, signed): the Binance face's operation names, so a fault
# plan written for one venue fires on the other
ROUTES: dict[tuple[str, str], tuple[str, bool]] = {
    ("GET", "/api/v5/public/time"): ("time", False),
    ("GET", "/api/v5/public/instruments"): ("exchange_info", False),
    ("GET", "/api/v5/public/mark-price"): ("mark_price", False),
    ("GET", "/api/v5/market/ticker"): ("ticker", False),
    ("GET", "/api/v5/market/tickers"): ("ticker", False),
    ("GET", "/api/v5/market/books"): ("depth", False),
    ("GET", "/api/v5/account/balance"): ("account", True),
    ("GET", "/api/v5/account/positions"): ("positions", True),
    ("GET", "/api/v5/account/config"): ("position_mode", True),
    ("POST", "/api/v5/account/set-position-mode"): ("set_position_mode", True),
    ("POST", "/api/v5/account/set-leverage"): ("set_leverage", True),
    ("GET", "/api/v5/trade/order"): ("get_order", True),
    ("GET", "/api/v5/trade/orders-pending"): ("open_orders", True),
    ("GET", "/api/v5/trade/order-algo"): ("get_algo_order", True),
    ("GET", "/api/v5/trade/orders-algo-pending"): ("open_algo_orders", True),
    ("POST", "/api/v5/trade/order"): ("place_order", True),
    ("POST", "/api/v5/trade/batch-orders"): ("place_order", True),
    ("POST", "/api/v5/trade/order-algo"): ("place_algo_order", True),
    ("POST", "/api/v5/trade/cancel-order"): ("cancel_order", True),
    ("POST", "/api/v5/trade/cancel-batch-orders"): ("cancel_order", True),
    ("POST", "/api/v5/trade/cancel-algos"): ("cancel_algo_order", True),
    ("POST", "/api/v5/trade/cancel-all-after"): ("countdown", True),
}

PAGE = 100  # the most rows a page of orders-pending and orders-algo-pending gives
TIMESTAMP_WINDOW_MS = 30_000  # OKX refuses a request stamped further than this from its clock (50102)
CANCEL_ALL_AFTER_RANGE = (10, 120)
CLORDID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
ALGO_TYPES = ("conditional", "oco", "trigger", "move_order_stop")

RATE_LIMITED = ("50011", "Too Many Requests")
NO_POSITION_TO_REDUCE = ("51169", "Order failed because you don't have any positions in this direction for this "
                         "contract to reduce or close.")
SAME_DIRECTION = ("51170", "Failed to place order. A reduce-only order can't be the same direction as your existing "
                  "positions.")

# the engine's (Binance) codes → OKX's
_CODES: dict[int, tuple[str, str]] = {
    TOO_MANY_REQUESTS: RATE_LIMITED, TOO_MANY_ORDERS: RATE_LIMITED,
    DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId"),
    MARGIN_INSUFFICIENT: ("51008", "Order failed. Insufficient USDT margin in account"),
    INSUFFICIENT_BALANCE: ("51008", "Order failed. Insufficient USDT balance in account"),
    INVALID_SYMBOL: ("51001", "Instrument ID does not exist"),
    NOTIONAL_TOO_SMALL: ("51020", "Your order should meet or exceed the minimum order amount."),
    -1013: ("51020", "Your order should meet or exceed the minimum order amount."),
    PRECISION: ("51121", "Order quantity must be a multiple of the lot size."),
    QTY_NOT_POSITIVE: ("51000", "Parameter sz error"),
    QTY_TOO_LARGE: ("51202", "Market order amount exceeds the maximum amount."),
    -4014: ("51000", "Parameter px error"),  # price off the tick
    -2021: ("51000", "Parameter triggerPx error"),  # would trigger at once
    -4045: ("51174", "The number of pending algo orders reached the upper limit"),
    -2025: ("51174", "The number of pending orders reached the upper limit"),
    -4061: ("51000", "Parameter posSide error"),
    -5022: ("51019", "Order failed. The post-only order could not be executed as maker."),
    -4067: ("59000", "Settings failed. Cancel all open orders before switching the position mode."),
    -4068: ("59000", "Settings failed. Close all positions before switching the position mode."),
    -4028: ("51000", "Parameter lever error"),
}

# What one list request costs against the engine's minute budget (its 2,400): the venue limits
# requests per endpoint, not a shared weight, so a list of every symbol is one request here,
# not Binance's 40.
REQUEST_WEIGHT = 1


class _Fail(Exception):
    """An answer other than success: its HTTP status and OKX body."""

    def __init__(self, code: str, msg: str, status: int = 400, data: Optional[list] = None):
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status, self.data = code, msg, status, data or []

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg, "data": self.data}


# a read_only key (modify-apikey perm read_only) on a trade endpoint
NO_PERMISSION = ("50120", "API key doesn't have permission.")


def _bad(name: str) -> _Fail:
    return _Fail("51000", f"Parameter {name} error")


def _okx_error(e: SimError, *, cancel: bool = False) -> tuple[str, str]:
    if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
        if cancel:
            return "51400", "Order cancellation failed as the order has been filled, canceled or does not exist."
        return "51603", "Order does not exist"
    got = _CODES.get(e.code)
    return got if got is not None else ("51000", f"Parameter error: {e.msg}")


def _sim_status(e: SimError) -> int:
    return 429 if e.code in (TOO_MANY_REQUESTS, TOO_MANY_ORDERS) else 400


# --- numbers as OKX writes them: strings -----------------------------------------------------------------


def _f(x: float, d: int) -> str:
    s = "%.*f" % (d, x)
    return "0" if float(s) == 0 else s


def _money(x: float) -> str:
    return "%.8f" % money(x)


def _px(m: MarketSpec, x: float) -> str:
    return _f(x, decimals(m.price_tick)) if x else ""


def _sz(m: MarketSpec, x: float) -> str:
    return _f(x, decimals(m.amount_step))


def inst_id(m: MarketSpec) -> str:
    """The OKX instrument id of an engine market: BTCUSDT → BTC-USDT-SWAP."""
    return f"{m.base}-{m.quote}-SWAP"


# --- the face ------------------------------------------------------------------------------------------------


async def handle(server: Any, request: web.Request) -> web.StreamResponse:
    method, path = request.method, request.path
    raw_query = request.rel_url.raw_query_string
    raw_body = (await request.text()) if request.can_read_body else ""
    route = ROUTES.get((method, path))
    if route is None:
        return _respond(server, method, path, 404, {"code": "50115" if _known_path(path) else "404",
                                                     "msg": f"Path {path}, Method {method} is invalid", "data": []})
    op, signed = route
    endpoint = f"{method} {path}"
    eng = server.engine
    key = request.headers.get("OK-ACCESS-KEY", "")
    account = eng.account_for_key(key) if key else None
    faults = server.faults.match(op, eng.now(), account=account, endpoint=endpoint)
    lat = total_latency_ms(faults)
    if lat:
        await asyncio.sleep(lat / 1000 * server.time_scale)
    status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
    if status_fault is not None:
        return _status_fault(server, method, path, status_fault)
    timeout = first(faults, FaultKind.TIMEOUT)
    if timeout is not None and not timeout.applied:
        await asyncio.sleep(server.hang_s)
        return _respond(server, method, path, 504, "")
    face = _Okx(server)
    try:
        if signed:
            account = face.authenticate(request, key, account, raw_query, raw_body)
            if op in TRADE_OPS and not eng.permissions.may_trade(key):  # a read_only key
                raise _Fail(*NO_PERMISSION, 401)
        params = _params(method, raw_query, raw_body)
        if op == "place_order" and first(faults, FaultKind.REJECT_REDUCE_ONLY):
            rows = params if isinstance(params, list) else [params]
            raise _Fail("1", "All operations failed", 200, [
                {"clOrdId": r.get("clOrdId", "") if isinstance(r, dict) else "", "ordId": "", "tag": "",
                 "sCode": NO_POSITION_TO_REDUCE[0], "sMsg": NO_POSITION_TO_REDUCE[1]} for r in rows])
        st = stale(faults) if method == "GET" else None
        if st is None:
            body = face.dispatch(op, path, params, account, None)
        else:
            frozen_key = ("okx", st.rule, endpoint, account, raw_query)
            frozen = server._frozen.get(frozen_key)
            if frozen is None:
                frozen = server._frozen[frozen_key] = face.dispatch(op, path, params, account,
                                                                    eng.now() - st.stale_ms)
            body = copy.deepcopy(frozen)
            if st.stamp == "now":
                _restamp(body, eng.now())
    except _Fail as f:
        return _respond(server, method, path, f.status, f.body())
    except SimError as e:
        code, msg = _okx_error(e, cancel=op.startswith("cancel"))
        return _respond(server, method, path, _sim_status(e), {"code": code, "msg": msg, "data": []})
    if op == "place_order" and first(faults, FaultKind.HIDE_FROM_NEXT_QUERY):
        for row in body["data"]:
            if row.get("sCode") == "0":
                eng.hide_from_next_query(account, int(row["ordId"]))
    if timeout is not None:  # applied: executed, then never answered
        await asyncio.sleep(server.hang_s)
        return _respond(server, method, path, 504, "")
    if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
        server.requests.append((method, path, 0))
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError()
    if first(faults, FaultKind.MALFORMED_JSON):
        text = json.dumps(body, separators=(",", ":"))
        return _respond(server, method, path, 200, text[: max(1, len(text) // 2)], raw=True)
    return _respond(server, method, path, 200, body)


def _known_path(path: str) -> bool:
    return any(p == path for _, p in ROUTES)


def _params(method: str, raw_query: str, raw_body: str) -> Any:
    from urllib.parse import parse_qsl

    if method == "GET":
        return dict(parse_qsl(raw_query, keep_blank_values=True))
    if not raw_body:
        return {}
    try:
        got = json.loads(raw_body)
    except ValueError:
        raise _Fail("50002", "Json data format error") from None
    if not isinstance(got, (dict, list)) or (isinstance(got, list) and not all(isinstance(r, dict) for r in got)):
        raise _Fail("50002", "Json data format error")
    return got


def _respond(server: Any, method: str, path: str, status: int, body: Any, raw: bool = False) -> web.Response:
    server.requests.append((method, path, status))
    if isinstance(body, str) and (raw or not body.startswith(("{", "["))):
        return web.Response(status=status, text=body, content_type="application/json" if raw else "text/html")
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json")


def _status_fault(server: Any, method: str, path: str, fault: Any) -> web.Response:
    code = HTTP_STATUS[fault.kind]
    if fault.body is not None:
        return _respond(server, method, path, code, fault.body, raw=True)
    if code in (429, 418):  # OKX answers every rate limit 429 50011; it has no 418 ban
        return _respond(server, method, path, 429, {"code": RATE_LIMITED[0], "msg": RATE_LIMITED[1], "data": []})
    reason = "Internal Server Error" if code == 500 else "Service Unavailable"
    return _respond(server, method, path, code, f"<html><body><h1>{code} {reason}</h1></body></html>")


_TIME_FIELDS = ("ts", "uTime", "cTime", "pTime", "fillTime")


def _restamp(body: Any, now: int) -> Any:
    return restamp(body, now, _TIME_FIELDS)




def _ok(data: list) -> dict:
    return {"code": "0", "msg": "", "data": data}


def _batch(rows: list[dict]) -> dict:
    """An order operation's answer: code 0 when every row succeeded, 1 when none did, 2 between."""
    failed = sum(1 for r in rows if r.get("sCode") != "0")
    if not failed:
        return _ok(rows)
    if failed == len(rows):
        return {"code": "1", "msg": "All operations failed", "data": rows}
    return {"code": "2", "msg": "Batch operation partially succeeded", "data": rows}


def _iso_ms(stamp: str) -> Optional[int]:
    try:
        dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(dt.timestamp() * 1000)


class _Okx:
    """One request's view of the engine in OKX's terms (no state beyond the request).

    Size: about 590 lines, one handler per OKX v5 endpoint the real ccxt client calls, the
    venue's signature check and the fault hooks every request passes through; the venue itself is
    the engine."""

    def __init__(self, server: Any):
        self.server = server
        self.engine = server.engine
        self.by_inst = {inst_id(m): m for m in self.engine.markets.values()}

    # --- authentication ------------------------------------------------------------------------------

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        h = request.headers
        if not key:
            raise _Fail("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
        sign, stamp, phrase = h.get("OK-ACCESS-SIGN", ""), h.get("OK-ACCESS-TIMESTAMP", ""), \
            h.get("OK-ACCESS-PASSPHRASE", "")
        if not phrase:
            raise _Fail("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
        if not sign:
            raise _Fail("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
        if not stamp:
            raise _Fail("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
        if account is None:
            raise _Fail("50111", "Invalid OK-ACCESS-KEY.", 401)
        ts = _iso_ms(stamp)
        if ts is None:
            raise _Fail("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
        if self.server.check_timestamp and abs(int(self.server.auth_clock()) - ts) > TIMESTAMP_WINDOW_MS:
            raise _Fail("50102", "Timestamp request expired.", 401)
        creds = self.engine.permissions.credentials(key)
        secret, passphrase = creds if creds is not None else (self.engine.secret(account), "")
        if not hmac.compare_digest(phrase, passphrase):
            raise _Fail("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        prehash = stamp + request.method + request.path + (f"?{raw_query}" if raw_query else "") + raw_body
        expected = base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, sign):
            raise _Fail("50113", "Invalid Sign.", 401)
        return account

    # --- parameters -------------------------------------------------------------------------------------

    def market(self, p: dict) -> MarketSpec:
        """The market ``instId`` names (it must)."""
        m = self.maybe_market(p)
        if m is None:
            raise _Fail("50014", "Parameter instId can not be empty.")
        return m

    def maybe_market(self, p: dict) -> Optional[MarketSpec]:
        """The market ``instId`` names, or None when it names none."""
        iid = p.get("instId")
        if not iid:
            return None
        m = self.by_inst.get(iid)
        if m is None:
            raise _Fail("51001", "Instrument ID does not exist.")
        return m

    @staticmethod
    def number(p: dict, name: str, required: bool = False) -> Optional[float]:
        v = p.get(name)
        if v is None or v == "":
            if required:
                raise _Fail("50014", f"Parameter {name} can not be empty.")
            return None
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise _bad(name) from None
        if x != x or x in (float("inf"), float("-inf")):
            raise _bad(name)
        return x

    def leg(self, account: str, p: dict) -> str:
        """The engine's position side of an order's ``posSide`` in the account's mode."""
        pos = str(p.get("posSide") or "").lower()
        if self.engine.hedge_mode(account):
            if pos not in ("long", "short"):
                raise _bad("posSide")
            return pos.upper()
        if pos not in ("", "net"):
            raise _bad("posSide")
        return "BOTH"

    @staticmethod
    def reduce_only(p: dict) -> bool:
        v = p.get("reduceOnly", False)
        if isinstance(v, bool):
            return v
        if str(v).lower() in ("true", "false"):
            return str(v).lower() == "true"
        raise _bad("reduceOnly")

    def check_td_mode(self, p: dict, closes: bool) -> None:
        td = p.get("tdMode")
        if not td:
            raise _Fail("50014", "Parameter tdMode can not be empty.")
        if td == "cross":
            return
        if td == "isolated" and closes:  # the engine's positions are all cross: none isolated to reduce
            raise _Fail(*NO_POSITION_TO_REDUCE)
        raise _bad("tdMode")

    def reduce_refusal(self, account: str, m: MarketSpec, side: str, leg: str) -> tuple[str, str]:
        """51170 for a reduce-only order on the side of the position, 51169 otherwise."""
        for pv in self.engine.positions(account, m.symbol):
            if pv.position_side == leg and pv.amount and (pv.amount > 0) == (side == "BUY"):
                return SAME_DIRECTION
        return NO_POSITION_TO_REDUCE

    # --- operations -------------------------------------------------------------------------------------

    def dispatch(self, op: str, path: str, p: Any, account: Optional[str], at: Optional[int]) -> dict:
        eng = self.engine
        now = eng.now()
        if op == "time":
            return _ok([{"ts": str(now)}])
        if op == "exchange_info":
            inst_type = p.get("instType")
            if not inst_type:
                raise _Fail("50014", "Parameter instType can not be empty.")
            if inst_type != "SWAP":
                return _ok([])  # the simulated venue lists perpetual swaps only
            rows = [self.instrument(m) for m in eng.markets.values()]
            if p.get("instId"):
                rows = [r for r in rows if r["instId"] == p["instId"]]
            return _ok(rows)
        if op in ("ticker", "mark_price"):
            return self.tickers(op, path, p, now if at is None else at)
        if op == "depth":
            return self.books(p)
        assert account is not None
        if op == "account":
            return self.balance(account, at)
        if op == "positions":
            return self.positions(account, p, at)
        if op == "position_mode":
            hedge = eng.position_mode(account)
            return _ok([{"uid": account, "mainUid": account, "acctLv": "2",
                         "posMode": "long_short_mode" if hedge else "net_mode", "autoLoan": False,
                         "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
                         "mgnIsoMode": "automatic", "roleType": "0", "traderInsts": [], "spotRoleType": "0",
                         "opAuth": "0", "kycLv": "2", "label": "sim", "ip": "127.0.0.1", "perm": "read_only,trade"}])
        if op == "set_position_mode":
            mode = p.get("posMode")
            if mode not in ("long_short_mode", "net_mode"):
                raise _bad("posMode")
            if eng.hedge_mode(account) != (mode == "long_short_mode"):
                eng.set_position_mode(account, mode == "long_short_mode")
            return _ok([{"posMode": mode}])
        if op == "set_leverage":
            m = self.market(p)
            lev = self.number(p, "lever", required=True)
            got = eng.set_leverage(account, m.symbol, int(lev or 0))
            return _ok([{"instId": inst_id(m), "lever": str(got), "mgnMode": p.get("mgnMode", "cross"),
                         "posSide": p.get("posSide", "net")}])
        if op == "open_orders":
            return self.pending(account, p)
        if op == "open_algo_orders":
            return self.algo_pending(account, p)
        if op == "get_order":
            m = self.market(p)
            oid = p.get("ordId")
            if not oid and not p.get("clOrdId"):
                raise _Fail("50014", "Parameter ordId can not be empty.")
            if oid and not str(oid).isdigit():
                raise _Fail("51603", "Order does not exist")
            try:
                o = eng.get_order(account, m.symbol, int(oid) if oid else None, None if oid else p["clOrdId"])
            except SimError as e:
                raise _Fail(*_okx_error(e)) from None
            return _ok([self.order(o)])
        if op == "get_algo_order":
            aid, cid = p.get("algoId"), p.get("algoClOrdId")
            if not aid and not cid:
                raise _Fail("50014", "Parameter algoId can not be empty.")
            if aid and not str(aid).isdigit():
                raise _Fail("51603", "Order does not exist")
            try:
                a = eng.get_algo_order(account, int(aid) if aid else None, None if aid else cid)
            except SimError as e:
                raise _Fail(*_okx_error(e)) from None
            return _ok([self.algo(a)])
        if op == "place_order":
            rows = p if isinstance(p, list) else [p]
            if path.endswith("batch-orders") and not 1 <= len(rows) <= 20:
                raise _bad("orders")
            return _batch([self.place(account, r) for r in rows])
        if op == "place_algo_order":
            if isinstance(p, list):
                raise _Fail("50002", "Json data format error")
            return _batch([self.place_algo(account, p)])
        if op == "cancel_order":
            rows = p if isinstance(p, list) else [p]
            if path.endswith("cancel-batch-orders") and not 1 <= len(rows) <= 20:
                raise _bad("orders")
            return _batch([self.cancel(account, r) for r in rows])
        if op == "cancel_algo_order":
            rows = p if isinstance(p, list) else [p]
            if not 1 <= len(rows) <= 10:
                raise _bad("algoId")
            return _batch([self.cancel_algo(account, r) for r in rows])
        if op == "countdown":
            return self.cancel_all_after(account, p)
        raise _Fail("50115", "Invalid request method.", 404)

    # --- reads --------------------------------------------------------------------------------------------

    def instrument(self, m: MarketSpec) -> dict:
        return {
            "instType": "SWAP", "instId": inst_id(m), "uly": f"{m.base}-{m.quote}",
            "instFamily": f"{m.base}-{m.quote}", "baseCcy": "", "quoteCcy": "", "settleCcy": m.quote,
            "ctVal": f"{m.contract_size:g}", "ctMult": "1", "ctValCcy": m.base, "ctType": "linear", "optType": "",
            "stk": "", "listTime": "1611916800000",
            "expTime": "", "lever": str(m.max_leverage), "tickSz": _f(m.price_tick, decimals(m.price_tick)),
            "lotSz": _sz(m, m.amount_step), "minSz": _sz(m, m.min_amount), "maxLmtSz": _sz(m, m.max_amount),
            "maxMktSz": _sz(m, m.max_amount), "maxTwapSz": _sz(m, m.max_amount), "maxIcebergSz": _sz(m, m.max_amount),
            "maxTriggerSz": _sz(m, m.max_amount), "maxStopSz": _sz(m, m.max_amount), "alias": "", "state": "live",
            "category": "1", "ruleType": "normal", "auctionEndTime": "", "openType": "", "groupId": "1",
        }

    def tickers(self, op: str, path: str, p: dict, at: int) -> dict:
        eng = self.engine
        if path.endswith("/ticker"):
            markets = [self.market(p)]
        else:
            if p.get("instType") != "SWAP":
                if not p.get("instType"):
                    raise _Fail("50014", "Parameter instType can not be empty.")
                return _ok([])
            m = self.maybe_market(p)
            markets = [m] if m else list(eng.markets.values())
        rows = []
        for m in markets:
            px = _px(m, eng.mark(m.symbol, at)) or "0"
            if op == "mark_price":
                rows.append({"instType": "SWAP", "instId": inst_id(m), "markPx": px, "ts": str(at)})
                continue
            open_px = _px(m, eng.mark(m.symbol, at - 86_400_000)) or "0"
            rows.append({"instType": "SWAP", "instId": inst_id(m), "last": px, "lastSz": "0", "askPx": px, "askSz": "0",
                         "bidPx": px, "bidSz": "0", "open24h": open_px, "high24h": max(px, open_px, key=float),
                         "low24h": min(px, open_px, key=float), "volCcy24h": "0", "vol24h": "0", "sodUtc0": open_px,
                         "sodUtc8": open_px, "ts": str(at)})
        return _ok(rows)

    def books(self, p: dict) -> dict:
        m = self.market(p)
        n = int(self.number(p, "sz") or 1)
        if not 1 <= n <= 400:
            raise _bad("sz")
        bids, asks, ts = self.engine.order_book(m.symbol, n)
        return _ok([{"asks": [[_px(m, px), _sz(m, q), "0", "1"] for px, q in asks],
                     "bids": [[_px(m, px), _sz(m, q), "0", "1"] for px, q in bids], "ts": str(ts)}])

    def balance(self, account: str, at: Optional[int]) -> dict:
        eng = self.engine
        at = eng.now() if at is None else at
        v = eng.account_state(account, at=at)
        frozen = v.initial_margin + v.open_order_margin
        detail = {"ccy": "USDT", "eq": _money(v.equity), "cashBal": _money(v.wallet), "availBal": _money(v.available),
                  "availEq": _money(v.available), "frozenBal": _money(frozen), "ordFrozen": _money(v.open_order_margin),
                  "upl": _money(v.unrealized_pnl), "imr": _money(v.initial_margin), "mmr": _money(v.maint_margin),
                  "eqUsd": _money(v.equity), "disEq": _money(v.equity), "isoEq": "0", "liab": "0",
                  "uTime": str(v.update_time)}
        return _ok([{"totalEq": _money(v.equity), "adjEq": _money(v.equity), "isoEq": "0",
                     "imr": _money(v.initial_margin + v.open_order_margin), "mmr": _money(v.maint_margin),
                     "ordFroz": _money(v.open_order_margin), "upl": _money(v.unrealized_pnl),
                     "notionalUsd": "", "mgnRatio": "", "uTime": str(v.update_time), "details": [detail]}])

    def positions(self, account: str, p: dict, at: Optional[int]) -> dict:
        eng = self.engine
        inst_type = p.get("instType")
        if inst_type not in (None, "", "SWAP"):
            return _ok([])
        wanted = None
        if p.get("instId"):
            wanted = set(str(p["instId"]).split(","))
            if len(wanted) > 10:
                raise _bad("instId")
            for iid in wanted:
                if iid not in self.by_inst:
                    raise _Fail("51001", "Instrument ID does not exist.")
        hedge = eng.hedge_mode(account)
        rows = []
        for pv in eng.positions(account, at=at):
            m = eng.markets[pv.symbol]
            if wanted is not None and inst_id(m) not in wanted:
                continue
            pd = decimals(m.price_tick)
            pos = abs(pv.amount) if hedge else pv.amount
            rows.append({
                "instType": "SWAP", "instId": inst_id(m), "mgnMode": "cross",
                "posId": str(zlib.crc32(f"{account}/{pv.symbol}/{pv.position_side}".encode())),
                "posSide": pv.position_side.lower() if hedge else "net", "pos": _sz(m, pos),
                "availPos": _sz(m, abs(pv.amount)), "posCcy": "", "ccy": m.quote,
                "avgPx": _f(pv.entry_price, pd + 2), "bePx": _f(pv.entry_price, pd + 2),
                "markPx": _f(pv.mark_price, pd), "last": _f(pv.mark_price, pd), "idxPx": _f(pv.mark_price, pd),
                "upl": _money(pv.unrealized_pnl), "uplLastPx": _money(pv.unrealized_pnl),
                "uplRatio": "", "lever": str(eng.leverage(account, m.symbol)),
                "liqPx": _f(pv.liquidation_price, pd) if pv.liquidation_price else "",
                "imr": _money(pv.initial_margin), "mmr": _money(pv.maint_margin), "margin": "",
                "mgnRatio": "", "notionalUsd": _money(abs(pv.notional)), "adl": "1", "interest": "0",
                "realizedPnl": "0", "pnl": "0", "fee": "0", "fundingFee": "0", "liqPenalty": "0",
                "cTime": str(pv.update_time), "uTime": str(pv.update_time), "pTime": str(at or eng.now()),
                "closeOrderAlgo": [],
            })
        return _ok(rows)

    def order(self, o: SimOrder) -> dict:
        m = self.engine.markets[o.symbol]
        hedge = o.position_side != "BOTH"
        if o.type == "MARKET":
            ord_type = "market"
        else:
            ord_type = {"GTC": "limit", "IOC": "ioc", "FOK": "fok", "GTX": "post_only"}.get(o.time_in_force, "limit")
        state = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled"}.get(o.status, "canceled")
        return {
            "instType": "SWAP", "instId": inst_id(m), "ordId": str(o.order_id), "clOrdId": o.client_order_id,
            "tag": "", "px": _px(m, o.price), "sz": _sz(m, o.quantity), "ordType": ord_type, "side": o.side.lower(),
            "posSide": o.position_side.lower() if hedge else "net", "tdMode": "cross",
            "accFillSz": _sz(m, o.executed_qty), "fillSz": _sz(m, o.executed_qty),
            "fillPx": _px(m, o.avg_price), "avgPx": _px(m, o.avg_price), "state": state,
            "lever": str(self.engine.leverage(o.account, o.symbol)), "reduceOnly": "true" if o.reduce_only else "false",
            "fee": _money(-o.fee), "feeCcy": m.quote, "pnl": _money(o.realized_pnl), "rebate": "0",
            "rebateCcy": m.quote, "category": "normal", "algoId": "", "algoClOrdId": "", "attachAlgoOrds": [],
            "tpTriggerPx": "", "slTriggerPx": "", "tpOrdPx": "", "slOrdPx": "", "cancelSource": "",
            "source": "", "stpMode": "cancel_maker", "cTime": str(o.time), "uTime": str(o.update_time),
            "fillTime": str(o.update_time) if o.executed_qty else "",
        }

    def algo_type(self, o: SimAlgoOrder) -> str:
        if o.label in ALGO_TYPES:
            return o.label
        return "move_order_stop" if o.order_type == "TRAILING_STOP_MARKET" else "conditional"

    def algo(self, o: SimAlgoOrder) -> dict:
        m = self.engine.markets[o.symbol]
        hedge = o.position_side != "BOTH"
        kind = self.algo_type(o)
        market = o.order_type.endswith("_MARKET")
        ord_px = "-1" if market else _px(m, o.price)
        row: dict[str, Any] = {
            "instType": "SWAP", "instId": inst_id(m), "algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id,
            "clOrdId": "", "ordId": str(o.actual_order_id) if o.actual_order_id else "", "ordIdList": [],
            "ordType": kind, "side": o.side.lower(), "posSide": o.position_side.lower() if hedge else "net",
            "tdMode": "cross", "sz": _sz(m, o.quantity) if o.quantity else "", "closeFraction": "1" if o.close_position
            else "", "reduceOnly": "true" if o.reduce_only else "false", "lever": str(self.engine.leverage(
                o.account, o.symbol)), "state": {"NEW": "live", "TRIGGERED": "effective"}.get(o.status, "canceled"),
            "triggerPx": "", "triggerPxType": "", "ordPx": "", "tpTriggerPx": "", "tpTriggerPxType": "",
            "tpOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "callbackRatio": "",
            "callbackSpread": "", "activePx": "", "moveTriggerPx": "", "actualSz": "0", "actualPx": "",
            "actualSide": "", "tag": "", "failCode": "0", "cTime": str(o.create_time), "uTime": str(o.update_time),
            "triggerTime": str(o.trigger_time) if o.trigger_time else "",
        }
        pxtype = "mark" if o.working_type == "MARK_PRICE" else "last"
        if kind == "trigger":
            row.update(triggerPx=_px(m, o.trigger_price), triggerPxType=pxtype, ordPx=ord_px)
        elif kind == "move_order_stop":
            row.update(callbackRatio=f"{o.callback_rate / 100:g}", activePx=_px(m, o.activate_price))
            if o.best_mark > 0:  # active: the mark it triggers at now
                rate = o.callback_rate / 100
                row["moveTriggerPx"] = _px(m, o.best_mark * (1 - rate if o.side == "SELL" else 1 + rate))
        elif o.order_type.startswith("TAKE_PROFIT"):
            row.update(tpTriggerPx=_px(m, o.trigger_price), tpTriggerPxType=pxtype, tpOrdPx=ord_px)
        else:
            row.update(slTriggerPx=_px(m, o.trigger_price), slTriggerPxType=pxtype, slOrdPx=ord_px)
        return row

    @staticmethod
    def page(rows: list[dict], id_field: str, p: dict) -> list[dict]:
        """A page as OKX gives it: newest (highest id) first, at most ``limit`` rows older than
        ``after`` / newer than ``before``."""
        limit = p.get("limit")
        n = PAGE if limit in (None, "") else (int(limit) if str(limit).isdigit() else -1)
        if not 1 <= n <= PAGE:
            raise _bad("limit")
        for name in ("after", "before"):
            if p.get(name) not in (None, "") and not str(p[name]).isdigit():
                raise _bad(name)
        rows = sorted(rows, key=lambda r: int(r[id_field]), reverse=True)
        if p.get("after"):
            rows = [r for r in rows if int(r[id_field]) < int(p["after"])]
        if p.get("before"):
            rows = [r for r in rows if int(r[id_field]) > int(p["before"])]
            return rows[-n:]
        return rows[:n]

    def pending(self, account: str, p: dict) -> dict:
        if p.get("instType") not in (None, "", "SWAP"):
            return _ok([])
        m = self.maybe_market(p)
        rows = [self.order(o) for o in self.engine.open_orders(account, m.symbol if m else None, weight=REQUEST_WEIGHT)]
        if p.get("ordType"):
            wanted = set(str(p["ordType"]).split(","))
            rows = [r for r in rows if r["ordType"] in wanted]
        if p.get("state"):
            rows = [r for r in rows if r["state"] == p["state"]]
        return _ok(self.page(rows, "ordId", p))

    def algo_pending(self, account: str, p: dict) -> dict:
        ord_type = p.get("ordType")
        if not ord_type:
            raise _Fail("50014", "Parameter ordType can not be empty.")
        wanted = str(ord_type).split(",")
        if not (len(wanted) == 1 and wanted[0] in ALGO_TYPES + ("iceberg", "twap", "chase")) and \
                sorted(wanted) != ["conditional", "oco"]:
            raise _bad("ordType")
        if p.get("instType") not in (None, "", "SWAP"):
            return _ok([])
        m = self.maybe_market(p)
        algos = self.engine.open_algo_orders(account, m.symbol if m else None, weight=REQUEST_WEIGHT)
        rows = [self.algo(o) for o in algos]
        rows = [r for r in rows if r["ordType"] in wanted]
        if p.get("algoId"):
            rows = [r for r in rows if r["algoId"] == p["algoId"]]
        return _ok(self.page(rows, "algoId", p))

    # --- orders -------------------------------------------------------------------------------------------

    def place(self, account: str, p: dict) -> dict:
        """One order of trade/order or trade/batch-orders: its answer row, sCode "0" or OKX's refusal."""
        cid = p.get("clOrdId") or ""
        row = {"clOrdId": cid, "ordId": "", "tag": p.get("tag", ""), "ts": str(self.engine.now())}
        try:
            o = self._place(account, p, cid)
        except _Fail as f:
            if f.status == 429:
                raise
            return {**row, "sCode": f.code, "sMsg": f.msg}
        except SimError as e:
            if e.http_status == 429:
                raise
            if e.code == REDUCE_ONLY_REJECTED:
                m = self.by_inst[p["instId"]]
                code, msg = self.reduce_refusal(account, m, str(p.get("side", "")).upper(), self.leg(account, p))
            else:
                code, msg = _okx_error(e)
            return {**row, "sCode": code, "sMsg": msg}
        return {**row, "clOrdId": o.client_order_id, "ordId": str(o.order_id), "sCode": "0", "sMsg": "Order placed"}

    def _place(self, account: str, p: dict, cid: str) -> SimOrder:
        m = self.market(p)
        if cid and not CLORDID_RE.match(cid):
            raise _bad("clOrdId")
        side = str(p.get("side") or "").lower()
        if side not in ("buy", "sell"):
            raise _bad("side")
        ord_type = p.get("ordType")
        types = {"market": ("MARKET", None), "optimal_limit_ioc": ("MARKET", None), "limit": ("LIMIT", "GTC"),
                 "ioc": ("LIMIT", "IOC"), "fok": ("LIMIT", "FOK"), "post_only": ("LIMIT", "GTX")}
        if ord_type not in types:
            raise _bad("ordType")
        otype, tif = types[ord_type]
        sz = self.number(p, "sz", required=True)
        px = self.number(p, "px", required=otype == "LIMIT") if otype == "LIMIT" else None
        leg = self.leg(account, p)
        hedge = leg != "BOTH"
        ro = self.reduce_only(p)
        closes = ro if not hedge else (leg == "LONG") == (side == "sell")
        self.check_td_mode(p, closes)
        return self.engine.place_order(account, m.symbol, side.upper(), otype, sz, px, time_in_force=tif,
                                       reduce_only=(True if ro else None) if not hedge else None,
                                       position_side=leg, client_order_id=cid or None)

    def place_algo(self, account: str, p: dict) -> dict:
        cid = p.get("algoClOrdId") or ""
        row = {"algoId": "", "algoClOrdId": cid, "clOrdId": "", "tag": p.get("tag", "")}
        try:
            o = self._place_algo(account, p, cid)
        except _Fail as f:
            return {**row, "sCode": f.code, "sMsg": f.msg}
        except SimError as e:
            if e.http_status == 429:
                raise
            return {**row, "sCode": _okx_error(e)[0], "sMsg": _okx_error(e)[1]}
        return {**row, "algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id, "sCode": "0", "sMsg": "Order placed"}

    def _place_algo(self, account: str, p: dict, cid: str) -> SimAlgoOrder:
        eng = self.engine
        m = self.market(p)
        if cid and not CLORDID_RE.match(cid):
            raise _bad("algoClOrdId")
        side = str(p.get("side") or "").lower()
        if side not in ("buy", "sell"):
            raise _bad("side")
        kind = p.get("ordType")
        if kind not in ("conditional", "trigger", "move_order_stop"):
            raise _bad("ordType")  # oco, iceberg, twap, chase: not in the simulated venue
        leg = self.leg(account, p)
        hedge = leg != "BOTH"
        ro = self.reduce_only(p)
        close_all = str(p.get("closeFraction") or "") == "1"
        if p.get("closeFraction") not in (None, "", "1"):
            raise _bad("closeFraction")
        closes = (ro or close_all) if not hedge else (leg == "LONG") == (side == "sell")
        self.check_td_mode(p, closes)
        qty = None if close_all else self.number(p, "sz", required=True)
        mark = eng.mark(m.symbol)
        kw: dict[str, Any] = {"position_side": leg, "client_algo_id": cid or None, "quantity": qty,
                              "reduce_only": (True if ro else None) if not (hedge or close_all) else None,
                              "close_position": close_all, "label": kind}
        if kind == "move_order_stop":
            if p.get("callbackSpread") not in (None, ""):
                raise _bad("callbackSpread")  # the engine trails by a ratio only
            ratio = self.number(p, "callbackRatio", required=True)
            kw.update(callback_rate=(ratio or 0) * 100, activate_price=self.number(p, "activePx"))
            return eng.place_algo_order(account, m.symbol, side.upper(), "TRAILING_STOP_MARKET", **kw)
        if kind == "trigger":
            trig = self.number(p, "triggerPx", required=True)
            ord_px = self.number(p, "orderPx", required=True)
            # OKX's trigger order wakes when the price reaches triggerPx, from below or above:
            # the engine's stop (a buy that rises, a sell that falls) or its take-profit
            rising = (trig or 0) >= mark
            stop = rising == (side == "buy")
            kw["working_type"] = "MARK_PRICE" if p.get("triggerPxType") == "mark" else None
        else:
            sl, tp = self.number(p, "slTriggerPx"), self.number(p, "tpTriggerPx")
            if (sl is None) == (tp is None):
                raise _bad("slTriggerPx" if sl is None else "tpTriggerPx")  # one trigger an order here
            stop = sl is not None
            trig = sl if stop else tp
            ord_px = self.number(p, "slOrdPx" if stop else "tpOrdPx", required=True)
            kw["working_type"] = "MARK_PRICE" if p.get("slTriggerPxType" if stop else "tpTriggerPxType") == "mark" \
                else None
        limit = ord_px is not None and ord_px != -1
        if close_all and limit:
            raise _bad("ordPx")  # a whole-position TP/SL is a market order
        otype = ("STOP" if stop else "TAKE_PROFIT") + ("" if limit else "_MARKET")
        return eng.place_algo_order(account, m.symbol, side.upper(), otype, trigger_price=trig,
                                    price=ord_px if limit else None, **kw)

    def cancel(self, account: str, p: dict) -> dict:
        oid, cid = p.get("ordId") or "", p.get("clOrdId") or ""
        row = {"ordId": oid, "clOrdId": cid, "ts": str(self.engine.now())}
        try:
            m = self.market(p)
            if not oid and not cid:
                raise _Fail("50014", "Parameter ordId can not be empty.")
            if oid and not str(oid).isdigit():
                raise _Fail("51400", "Order cancellation failed as the order has been filled, canceled or does "
                            "not exist.")
            o = self.engine.cancel_order(account, m.symbol, int(oid) if oid else None, None if oid else cid)
        except _Fail as f:
            return {**row, "sCode": f.code, "sMsg": f.msg}
        except SimError as e:
            if e.http_status == 429:
                raise
            code, msg = _okx_error(e, cancel=True)
            return {**row, "sCode": code, "sMsg": msg}
        return {**row, "ordId": str(o.order_id), "clOrdId": o.client_order_id, "sCode": "0", "sMsg": ""}

    def cancel_algo(self, account: str, p: dict) -> dict:
        aid, cid = p.get("algoId") or "", p.get("algoClOrdId") or ""
        row = {"algoId": aid, "algoClOrdId": cid, "clOrdId": "", "tag": ""}
        try:
            m = self.market(p)
            if not aid and not cid:
                raise _Fail("50014", "Parameter algoId can not be empty.")
            if aid and not str(aid).isdigit():
                raise _Fail("51603", "Order does not exist")
            eng = self.engine
            o = eng.get_algo_order(account, int(aid) if aid else None, None if aid else cid)
            if o.symbol != m.symbol:
                raise _Fail("51603", "Order does not exist")
            o = eng.cancel_algo_order(account, o.algo_id)
        except _Fail as f:
            return {**row, "sCode": f.code, "sMsg": f.msg}
        except SimError as e:
            if e.http_status == 429:
                raise
            code, msg = _okx_error(e, cancel=True)
            return {**row, "sCode": code, "sMsg": msg}
        return {**row, "algoId": str(o.algo_id), "algoClOrdId": o.client_algo_id, "sCode": "0", "sMsg": ""}

    def cancel_all_after(self, account: str, p: dict) -> dict:
        """``timeOut`` seconds (0: off, else 10-120) for the whole account: the engine's countdown
        of every market, armed or disarmed at once."""
        t = p.get("timeOut")
        if t in (None, ""):
            raise _Fail("50014", "Parameter timeOut can not be empty.")
        if not str(t).isdigit():
            raise _bad("timeOut")
        n = int(t)
        if n and not CANCEL_ALL_AFTER_RANGE[0] <= n <= CANCEL_ALL_AFTER_RANGE[1]:
            raise _bad("timeOut")
        eng = self.engine
        for symbol in sorted(eng.markets):
            eng.countdown_cancel_all(account, symbol, n * 1000)
        now = eng.now()
        return _ok([{"triggerTime": str(now + n * 1000) if n else "0", "tag": p.get("tag", ""), "ts": str(now)}])


# --- clients -----------------------------------------------------------------------------------------------

# ccxt okx options that keep it on the endpoints above: SWAP instruments only, no currencies
CCXT_OPTIONS = {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}, "fetchCurrencies": False,
                "adjustForTimeDifference": False}


def okx_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.okx`` bound to ``server`` as ``account`` (close it after use).
    ccxt's okx has one URL family (``urls['api']['rest']``, ``https://{hostname}``): every
    other entry of ``urls['api']`` goes to the server too, so nothing leaves 127.0.0.1."""
    import ccxt.async_support as ccxt_async

    base = loopback(server.base_url)
    spec = server.engine.accounts[account].spec
    options = {**CCXT_OPTIONS, **config.pop("options", {})}
    ex = ccxt_async.okx({"apiKey": spec.api_key, "secret": spec.secret, "password": spec.passphrase,
                         "enableRateLimit": False, **config, "options": options})
    ex.urls["api"] = {k: base for k in (ex.urls.get("api") or {})} or {"rest": base}
    ex.urls["api"]["rest"] = base
    ex.has = {**ex.has, "fetchCurrencies": False}
    if strict:
        from ...ccxt_exchange import strict_json

        strict_json(ex)
    return ex


def okx_account(server: Any, account: str, *, hedge_mode: Optional[bool] = None,
                env: Optional[MutableMapping[str, str]] = None, **fields: Any) -> Any:
    """A killswitch Account on venue ``okx`` for the engine's ``account`` (see
    :func:`adapters.simulated.faces.shared.passphrase_account`)."""
    return passphrase_account(server, account, "okx", hedge_mode=hedge_mode, env=env, **fields)


def sim_account(server: Any, account: str, **fields: Any) -> Any:
    """:func:`okx_account` (:func:`adapters.simulated.venues.sim_account`)."""
    return okx_account(server, account, **fields)


__all__ = ["PREFIXES", "ROUTES", "handle", "inst_id", "okx_client", "okx_account", "sim_account", "CCXT_OPTIONS"]
