"""The simulated exchange's Bitget face: the classic account's v2 USDT-M futures subset that
``ccxt.async_support.bitget`` and the Bitget dialect (:mod:`adapters.venues.bitget.dialect`)
ask, over the one engine, in the shared face shape (:class:`adapters.simulated.faces.shared.RestFace`).

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).
The spot and margin lists ccxt loads with its markets (``/api/v2/spot/public/symbols``,
``/coins``, ``/api/v2/margin/currencies``) answer empty: the face is the futures account's.

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
      pos_loss, moving_plan), cancelled by ``cancel-plan-order`` naming their own planType (one
      whose cancel the engine refuses, a fault: ``engine.refuse_cancel``, is a ``failureList``
      row, 40725, in an HTTP 200 code 00000 answer); placed in tests through the engine
      (``label`` the planType);
    * lists newest first, ``limit`` at most 100, ``idLessThan`` the older rows, ``endId`` the
      page's oldest id;
    * errors: 40757 reduce-only without the position, 40786 duplicate clientOid, 40762 balance,
      45110 below the minimum, 40808 size precision, 40109 / 40768 order not found, 40774 the
      position mode's order type, 40017 a bad parameter, 40014 a key without trade permission.

    Bitget's classic account has no countdown-cancel-all: the face has none.

Where it lives
    here the routes, the shared face's hooks and the clients; the request view in
    :mod:`.params` (envelope, parameters), :mod:`.reads`, :mod:`.orders` and
    :mod:`.plans`; the codes and numbers in :mod:`.wire`.

What it must not do
    keep exchange state, or reach beyond the server it is handed.
"""

from __future__ import annotations

import hmac
from typing import Any, Callable, Optional
from urllib.parse import unquote

from aiohttp import web

from ....simulated.engine import NO_SUCH_ORDER, UNKNOWN_ORDER, SimError
from ....simulated.faces.shared import VenueFail, ccxt_client, loopback, read_json, routes, strict_client, venue_account
from .orders import BitgetOrders
from .plans import BitgetPlans
from .reads import BitgetReads
from .wire import _CODES, CANCEL_NOT_FOUND, NO_ORDER_ID, NO_POSITION, NOT_FOUND, PRODUCT

PREFIXES = ("/api/v2/",)
V2 = "/api/v2"

TIMESTAMP_WINDOW_MS = 30_000


class BitgetFace(BitgetReads, BitgetOrders, BitgetPlans):
    """One request's view of the engine in Bitget's terms: the shared face's hooks and the
    dispatch of each operation over the reads, orders and plan orders it is built from."""

    ROUTES = routes({
        f"GET {V2}/public/time": "time",
        f"GET {V2}/mix/market/contracts": "exchange_info",
        f"GET {V2}/spot/public/symbols": "exchange_info",
        f"GET {V2}/spot/public/coins": "exchange_info",
        f"GET {V2}/margin/currencies": "exchange_info",
        f"GET {V2}/mix/market/tickers": "ticker",
        f"GET {V2}/mix/market/ticker": "ticker",
        f"GET {V2}/mix/market/merge-depth": "depth",
        f"GET {V2}/mix/account/accounts": "account",
        f"GET {V2}/mix/account/account": "position_mode",
        f"GET {V2}/mix/position/all-position": "positions",
        f"GET {V2}/mix/order/orders-pending": "open_orders",
        f"GET {V2}/mix/order/orders-plan-pending": "open_algo_orders",
        f"GET {V2}/mix/order/detail": "get_order",
        f"POST {V2}/mix/order/place-order": "place_order",
        f"POST {V2}/mix/order/cancel-order": "cancel_order",
        f"POST {V2}/mix/order/batch-cancel-orders": "cancel_order",
        f"POST {V2}/mix/order/cancel-plan-order": "cancel_algo_order",
    })
    KEY_HEADER = "ACCESS-KEY"
    TIME_FIELDS = ("requestTime", "cTime", "uTime", "serverTime", "ts")
    VENUE = "bitget"

    # --- the shared hooks ------------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"code": "40404", "msg": "Request URL NOT FOUND", "requestTime": self.engine.now(), "data": None}

    def rate_limited(self) -> tuple[int, Any]:  # Bitget answers every rate limit 429; it has no 418 ban
        return 429, {"code": "429", "msg": "Too Many Requests", "requestTime": self.engine.now(), "data": None}

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
        if self.out_of_window(int(stamp), TIMESTAMP_WINDOW_MS):
            raise self.fail("40008", "Request timestamp expired")
        creds = self.engine.permissions.credentials(key)
        secret, passphrase = creds if creds is not None else (self.engine.secret(account),
                                                              self.engine.accounts[account].spec.passphrase)
        if not hmac.compare_digest(phrase, passphrase):
            raise self.fail("40012", "apikey/password is incorrect")
        # the query as signed: its values as written, not percent-encoded
        if not self.prehash_signed(secret, stamp, request, unquote(raw_query), raw_body, sign):
            raise self.fail("40009", "sign signature error")
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail("40014", "Incorrect permissions")

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return self.fail(*NO_POSITION)

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        return read_json(method, raw_query, raw_body,
                         lambda parsed: self.fail("40017", "Parameter verification failed: body"))

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
            code, msg = CANCEL_NOT_FOUND if op.startswith("cancel") else NOT_FOUND
        else:
            code, msg = _CODES.get(e.code, ("40017", f"Parameter verification failed: {e.msg}"))
        return 400, {"code": code, "msg": msg, "requestTime": self.engine.now(), "data": None}

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        if op == "place_order" and isinstance(body, dict) and isinstance(body.get("data"), dict):
            return [int(body["data"]["orderId"])]
        return []

    # --- operations -----------------------------------------------------------------------------------

    def op_contracts(self, p: Any, account: Any, at: Optional[int], path: str) -> Any:
        if not path.endswith("/mix/market/contracts") or str(p.get("productType") or "").upper() != PRODUCT:
            return self.ok([])  # the simulated venue lists USDT-M perpetuals only
        return self.ok([self.contract(m) for m in self.engine.markets.values()])

    def op_account(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        self.product(p)
        return self.ok([self.account_row(account, at)])

    def op_position_mode(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        self.product(p)
        self.market(p)
        return self.ok(self.account_row(account, at))

    def op_positions(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        self.product(p)
        return self.ok(self.positions(account, at))

    def op_open_orders(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        self.product(p)
        m = self.market(p, required=False)
        return self.page([self.order(o) for o in self.engine.open_orders(account, m.symbol if m else None, weight=1)],
                         p)

    def op_get_order(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        self.product(p)
        m = self.market(p)
        assert m is not None
        ref = self.order_ref(p.get("orderId"), p.get("clientOid"), self.fail(*NO_ORDER_ID), self.fail(*NOT_FOUND))
        o = self.engine.get_order(account, m.symbol, *ref)
        return self.ok(self.order(o, detail=True))

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "time": lambda f, p, account, at, path: f.ok({"serverTime": str(f.engine.now() if at is None else at)}),
        "exchange_info": op_contracts,
        "ticker": lambda f, p, account, at, path: f.tickers(p, f.engine.now() if at is None else at),
        "depth": lambda f, p, account, at, path: f.depth(p),
        "account": op_account, "position_mode": op_position_mode, "positions": op_positions,
        "open_orders": op_open_orders,
        "open_algo_orders": lambda f, p, account, at, path: f.plans(account, p),
        "get_order": op_get_order,
        "place_order": lambda f, p, account, at, path: f.place(account, p),
        "cancel_order": lambda f, p, account, at, path: f.cancel(account, path, p),
        "cancel_algo_order": lambda f, p, account, at, path: f.cancel_plans(account, p),
    }


handle = BitgetFace.serve  # one request under PREFIXES, as the module docstring says


# --- clients -----------------------------------------------------------------------------------------------


sim_account = venue_account("bitget", passphrase=True)  # an account's Accounts entry


# ccxt's bitget options that keep it on the classic account's endpoints the faces serve
CCXT_OPTIONS = {"defaultType": "swap", "uta": False}


def ws_urls(base_url: str) -> dict[str, str]:
    """``urls['api']['ws']`` of ccxt.pro's bitget for a server at ``base_url`` (UTA's onto paths
    the face does not serve: the handshake fails, nothing reaches the internet)."""
    ws = "ws" + loopback(base_url)[len("http"):]
    return {"public": f"{ws}/v2/ws/public", "private": f"{ws}/v2/ws/private",
            "utaPublic": f"{ws}/unsupported/uta-public", "utaPrivate": f"{ws}/unsupported/uta-private"}


def bitget_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.bitget`` bound to ``server`` as ``account``: REST over the face's ``/api/v2``,
    streams at the server's ``/v2/ws/{public,private}`` (close it after use)."""
    import ccxt.pro as ccxt_pro

    base = loopback(server.base_url)
    ex = ccxt_client(ccxt_pro.bitget, server, account, config, CCXT_OPTIONS, password=True)
    api = ex.urls.get("api") or {}
    ex.urls["api"] = {k: base for k in api if k not in ("ws", "demo")}
    ex.urls["api"]["ws"] = ws_urls(base)
    return strict_client(ex, strict)


sim_client = bitget_pro_client  # the ccxt client of an account (a bot's, with its own key)


__all__ = ["sim_client", "BitgetFace", "CCXT_OPTIONS", "PREFIXES",
           "bitget_pro_client", "handle", "sim_account", "ws_urls"]
