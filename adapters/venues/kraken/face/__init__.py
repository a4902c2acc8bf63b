"""The simulated exchange's Kraken spot face: the spot REST API subset that
``ccxt.async_support.kraken`` and the Kraken spot dialect (:mod:`adapters.venues.kraken.dialect`)
ask, over the one engine's spot desk, in the shared face shape
(:class:`adapters.simulated.faces.shared.RestFace`).

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

What it answers, as Kraken documents it
    * the envelope ``{"error": [], "result": ...}``; a refusal ``{"error": ["EOrder:Unknown
      order"], "result": {}}`` with HTTP 200 (a rate limit ``EAPI:Rate limit exceeded``);
    * signed requests: ``API-Key`` and ``API-Sign`` = base64 HMAC-SHA512, keyed by the base64
      decoded secret, of the path and SHA-256 of the nonce and the POST body; the nonce must grow
      for each key (``EAPI:Invalid nonce``);
    * each key's call counter (an Intermediate key's: 20 at most, decaying 0.5 a second on the
      engine's clock; trade history 2, the trading endpoints nothing, every other signed call
      1): a call that would take it past 20 is ``EAPI:Rate limit exceeded``, not counted;
    * the engine's markets as spot pairs (``XBTUSDT``), the account's spot balances (what its
      resting orders hold in ``hold_trade``), the marks as tickers;
    * an order is the engine's spot order (:mod:`adapters.simulated.spot`): a market order or
      a limit IOC fills at once; a limit GTC (the venue's default) rests what does not cross;
      a ``stop-loss`` / ``take-profit`` (``price`` its trigger) and their ``-limit`` forms
      (``price2`` the limit) rest until the mark reaches the trigger. ``OpenOrders`` lists the
      resting ones (``descr.ordertype``, ``cl_ord_id``; one ``cl_ord_id`` or ``txid`` asked:
      that one), ``ClosedOrders`` an ended one by its ``cl_ord_id``, ``QueryOrders`` each
      ``txid`` named; ``TradesHistory`` the account's spot fills since ``start`` (seconds), the
      newest 50, each under its trade id with its order's ``ordertxid`` (no client id: the venue's
      trade rows carry none); a sell above the free
      balance, or a buy above the free quote, is ``EOrder:Insufficient funds``;
    * ``CancelOrder`` of a ``txid`` or ``cl_ord_id``: ``count`` 1 and the order gone,
      ``EOrder:Unknown order`` for one not open; ``CancelAll``: every resting order, its count;
    * ``GetWebSocketsToken``: a token (``token``, ``expires`` 900) the websocket face
      (:mod:`.stream`) takes as the account's on a private subscription (:data:`TOKENS`);
    * ``CancelAllOrdersAfter``: one switch for the account (the engine's countdown of every
      market, which takes the resting spot orders), ``triggerTime`` "0" when off.

    No trailing stop (``trailing-stop`` is refused): trailing rows are proven on the recordings
    (tests/unit/adapters/venues/kraken_spot/).

What it must not do
    keep exchange state beyond each key's last nonce and call counter, or reach beyond the server
    it is handed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import weakref
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl

from aiohttp import web

from ....simulated.engine import NO_SUCH_ORDER, UNKNOWN_ORDER, SimError
from ....simulated.faces.shared import (
    RestFace,
    VenueFail,
    b64_secret,
    finite_number,
    rehosted_client,
    routes,
    venue_account,
)
from .rows import (
    COUNTER_DECAY,
    COUNTER_MAX,
    COUNTER_TIER,
    INVALID_ARGUMENTS,
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SIGNATURE,
    ORDER_TYPES,
    PERMISSION_DENIED,
    RATE_LIMIT,
    UNKNOWN_METHOD,
    asset_id,
    asset_pair,
    asset_row,
    counter_cost,
    describe,
    engine_id,
    error_text,
    order_row,
    order_type,
    pair_id,
    ticker_row,
    trade_row,
    trade_txid,
    txid,
)

PREFIXES = ("/0/",)
MARKET_TYPE = "spot"  # the account it serves (adapters.simulated.venues.spot_venues)
CONDITIONAL_ORDERS = True  # its stop-loss and take-profit orders rest (the demo's bot rests one)

# each engine's keys → the last nonce each signed with (a weak map: gone with the engine)
NONCES: "weakref.WeakKeyDictionary[Any, dict[str, int]]" = weakref.WeakKeyDictionary()
# each engine's keys → their call counter: (its level, the engine ms it was last decayed at)
COUNTERS: "weakref.WeakKeyDictionary[Any, dict[str, tuple[float, int]]]" = weakref.WeakKeyDictionary()
# each engine's websocket tokens → the account each was given to (GetWebSocketsToken)
TOKENS: "weakref.WeakKeyDictionary[Any, dict[str, str]]" = weakref.WeakKeyDictionary()
TOKEN_EXPIRES_S = 900  # what Kraken says of a token: used to subscribe within 15 minutes


def signature(secret_b64: str, path: str, nonce: str, post_data: str) -> str:
    """Kraken's API-Sign: base64 HMAC-SHA512 (the decoded secret) of the path and SHA-256 of
    the nonce and the POST data."""
    digest = hashlib.sha256((nonce + post_data).encode()).digest()
    mac = hmac.new(base64.b64decode(secret_b64), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class KrakenSpotFace(RestFace):
    """One request's view of the engine in Kraken spot's terms."""

    ROUTES = routes({
        "GET /0/public/AssetPairs": "exchange_info",
        "GET /0/public/Assets": "assets",
        "GET /0/public/Ticker": "ticker",
        "GET /0/public/Time": "time",
        "POST /0/private/Balance": "account",
        "POST /0/private/BalanceEx": "account",
        "POST /0/private/OpenOrders": "open_orders",
        "POST /0/private/ClosedOrders": "get_order",
        "POST /0/private/QueryOrders": "query_orders",
        "POST /0/private/TradesHistory": "user_trades",
        "POST /0/private/AddOrder": "place_order",
        "POST /0/private/CancelOrder": "cancel_order",
        "POST /0/private/CancelAll": "cancel_order",
        "POST /0/private/CancelAllOrdersAfter": "countdown",
        "POST /0/private/GetWebSocketsToken": "ws_token",
    })
    KEY_HEADER = "API-Key"
    VENUE = "kraken"

    @staticmethod
    def ok(result: Any) -> dict:
        return {"error": [], "result": result}

    @staticmethod
    def fail(error: str, status: int = 200) -> VenueFail:
        return VenueFail(status, {"error": [error], "result": {}})

    # --- the shared hooks ------------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"error": [UNKNOWN_METHOD], "result": {}}

    def rate_limited(self) -> tuple[int, Any]:  # Kraken says a rate limit in its envelope
        return 200, {"error": [RATE_LIMIT], "result": {}}

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        sign = request.headers.get("API-Sign", "")
        if not key or account is None:
            raise self.fail(INVALID_KEY)
        nonce = dict(parse_qsl(raw_body)).get("nonce", "")
        secret = base64.b64encode(self.engine.key_secret(key, account).encode()).decode()
        if not sign or not hmac.compare_digest(signature(secret, request.path, nonce, raw_body), sign):
            raise self.fail(INVALID_SIGNATURE)
        seen = NONCES.setdefault(self.engine, {})
        if not nonce.isdigit() or int(nonce) <= seen.get(key, -1):
            raise self.fail(INVALID_NONCE)
        seen[key] = int(nonce)
        self.count_call(key, request.path)
        return account

    def count_call(self, key: str, path: str) -> None:
        """The key's counter decayed to now and charged ``path``'s call, or ``EAPI:Rate limit
        exceeded`` where that would take it past its maximum (the call not counted)."""
        counters, now = COUNTERS.setdefault(self.engine, {}), self.engine.now()
        level, at = counters.get(key, (0.0, now))
        level = max(0.0, level - (now - at) / 1000 * COUNTER_DECAY) + counter_cost(path)
        if level > COUNTER_MAX:
            raise self.fail(RATE_LIMIT)
        counters[key] = (level, now)

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail(PERMISSION_DENIED)

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        return dict(parse_qsl(raw_query if method == "GET" else raw_body, keep_blank_values=True))

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
            return 200, {"error": ["EOrder:Unknown order"], "result": {}}
        return 200, {"error": [error_text(e.code, e.msg)], "result": {}}

    def is_read(self, method: str, path: str) -> bool:
        return path.startswith("/0/public/") or path in (
            "/0/private/Balance", "/0/private/BalanceEx", "/0/private/OpenOrders", "/0/private/ClosedOrders",
            "/0/private/QueryOrders", "/0/private/TradesHistory")

    # --- operations -----------------------------------------------------------------------------------

    def market(self, pair: Any) -> Any:
        for m in self.engine.markets.values():
            if pair in (pair_id(m), m.symbol):
                return m
        raise self.fail("EQuery:Unknown asset pair")

    def op_ticker(self, p: dict, account: Any, at: Optional[int], path: str) -> dict:
        at = self.engine.now() if at is None else at
        pairs = [x for x in str(p.get("pair") or "").split(",") if x]
        markets = [self.market(x) for x in pairs] if pairs else list(self.engine.markets.values())
        return self.ok({pair_id(m): ticker_row(self.engine.mark(m.symbol, at)) for m in markets})

    def op_account(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        spot = self.engine.account_state(account, at).spot
        held = self.engine.spot_locked(account)
        if path.endswith("/BalanceEx"):
            return self.ok({asset_id(a): {"balance": f"{q:.10f}", "hold_trade": f"{held.get(a, 0.0):.10f}"}
                            for a, q in sorted(spot.items())})
        return self.ok({asset_id(a): f"{q:.10f}" for a, q in sorted(spot.items())})

    def _named(self, p: dict) -> tuple[Optional[int], Optional[str]]:
        """The order a request names: (engine id of its ``txid``, its ``cl_ord_id``)."""
        tx, cid = p.get("txid"), p.get("cl_ord_id") or None
        oid = engine_id(tx) if tx else None
        if tx and oid is None:
            oid = -1  # a txid the face never gave: no order
        return oid, cid

    def op_open_orders(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        oid, cid = self._named(p)
        rows = {}
        for o in self.engine.open_spot_orders(account):
            if (oid is None or o.order_id == oid) and (cid is None or o.client_order_id == cid):
                rows[txid(o.order_id)] = order_row(o, self.market(o.symbol))
        return self.ok({"open": rows})

    def op_get_order(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        cid = p.get("cl_ord_id")
        if not cid:
            return self.ok({"closed": {}, "count": 0})  # listed by cl_ord_id only (see the module)
        try:
            o = self.engine.get_spot_order(account, cid)
        except SimError:
            return self.ok({"closed": {}, "count": 0})
        if o.is_open:
            return self.ok({"closed": {}, "count": 0})
        m = self.market(o.symbol)
        return self.ok({"closed": {txid(o.order_id): order_row(o, m)}, "count": 1})

    def op_query_orders(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        rows = {}
        for tx in str(p.get("txid") or "").split(","):
            o = self.engine.get_spot_order(account, order_id=engine_id(tx) or -1)
            rows[txid(o.order_id)] = order_row(o, self.market(o.symbol))
        return self.ok(rows)

    def op_trades(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        start = finite_number(p, "start", None, self.fail(f"{INVALID_ARGUMENTS}:start"))
        fills = self.engine.trades(account, None, int(start * 1000) if start is not None else None, 50, weight=2,
                                   event="spot_fill")
        orders = {o.order_id: o for o in self.engine.accounts[account].spot_live.values()}
        rows = {trade_txid(t["id"]): trade_row(t, order_type(orders[t["order"]]) if t["order"] in orders else "market",
                                               self.market(t["symbol"]))
                for t in reversed(fills)}  # (newest first, as the venue lists them)
        return self.ok({"trades": rows, "count": len(rows)})

    def op_place(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        m = self.market(p.get("pair"))
        side, kind = p.get("type"), p.get("ordertype")
        if side not in ("buy", "sell") or kind not in ORDER_TYPES:
            raise self.fail(f"{INVALID_ARGUMENTS}:ordertype")
        trigger, limited = ORDER_TYPES[kind]
        tif = str(p.get("timeinforce") or "GTC").upper()
        if tif not in ("GTC", "IOC") or (tif == "IOC" and kind != "limit"):
            raise self.fail(f"{INVALID_ARGUMENTS}:timeinforce")
        try:
            qty = float(p.get("volume", ""))
            first = float(p["price"]) if kind != "market" else None
            price = (float(p["price2"]) if trigger else first) if limited else None
        except (KeyError, ValueError):
            raise self.fail(f"{INVALID_ARGUMENTS}:price") from None
        o = self.engine.place_spot_order(account, m.symbol, side.upper(), qty, price,
                                         client_order_id=p.get("cl_ord_id") or None,
                                         time_in_force="IOC" if kind == "market" else tif,
                                         trigger=trigger, trigger_price=first if trigger else None)
        return self.ok({"descr": {"order": describe(o, m)}, "txid": [txid(o.order_id)]})

    def op_cancel(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        if path.endswith("/CancelAll"):
            return self.ok({"count": len(self.engine.cancel_all_spot(account))})
        oid, cid = self._named(p)
        if oid is None and cid is None:
            raise self.fail(f"{INVALID_ARGUMENTS}:txid")
        self.engine.cancel_spot_order(account, oid, cid if oid is None else None)
        return self.ok({"count": 1})

    def op_countdown(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        t = str(p.get("timeout", ""))
        if not t.isdigit() or int(t) >= 86_400:
            raise self.fail(f"{INVALID_ARGUMENTS}:timeout")
        n, eng = int(t), self.engine
        for symbol in sorted(eng.markets):
            eng.countdown_cancel_all(account, symbol, n * 1000)
        now = eng.now()
        return self.ok({"currentTime": iso(now), "triggerTime": iso(now + n * 1000) if n else "0"})

    def op_ws_token(self, p: dict, account: str, at: Optional[int], path: str) -> dict:
        token = secrets.token_urlsafe(32)
        TOKENS.setdefault(self.engine, {})[token] = account
        return self.ok({"token": token, "expires": TOKEN_EXPIRES_S})

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "time": lambda f, p, account, at, path: f.ok({"unixtime": f.engine.now() // 1000,
                                                      "rfc1123": iso(f.engine.now())}),
        "exchange_info": lambda f, p, account, at, path: f.ok({pair_id(m): asset_pair(m)
                                                               for m in f.engine.markets.values()}),
        "assets": lambda f, p, account, at, path: f.ok(
            {asset_id(a): asset_row(a) for m in f.engine.markets.values() for a in (m.base, m.quote)}),
        "ticker": op_ticker, "account": op_account, "open_orders": op_open_orders,
        "get_order": op_get_order, "place_order": op_place, "cancel_order": op_cancel, "countdown": op_countdown,
        "ws_token": op_ws_token, "query_orders": op_query_orders, "user_trades": op_trades,
    }


def iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


handle = KrakenSpotFace.serve  # one request under PREFIXES, as the module docstring says


# --- clients -----------------------------------------------------------------------------------------------


# a spot account quoted in the engine's USDT, its rate_tier the face's call counter's (an Intermediate key's)
sim_account = venue_account("kraken", b64=True, hedge_mode=False, market_type="spot", quote_currency="USDT",
                            rate_tier=COUNTER_TIER)


def kraken_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.kraken`` bound to ``server`` as ``account`` (close it after use)."""
    import ccxt.async_support as ccxt_async

    return rehosted_client(ccxt_async.kraken, server, account, config, strict=strict,
                           secret=b64_secret(server, account))


sim_client = kraken_client  # the ccxt client of an account (a bot's, with its own key)

__all__ = ["CONDITIONAL_ORDERS", "KrakenSpotFace", "MARKET_TYPE", "PREFIXES", "TOKENS", "handle", "kraken_client",
           "signature", "sim_account", "sim_client"]
