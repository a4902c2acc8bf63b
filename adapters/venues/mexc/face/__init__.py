"""The simulated exchange's MEXC face: the contract API's USDT-M perpetuals that
``ccxt.async_support.mexc`` and the MEXC dialect (:mod:`adapters.venues.mexc.dialect`) ask, over
the one engine, in the shared face shape (:class:`adapters.simulated.faces.shared.RestFace`).

Its endpoints are its ``ROUTES`` below and :data:`PATH_ROUTES` (the contract or the order in the
path), each signed unless its operation is public (:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

What it answers, as MEXC documents it
    * the envelope ``{"success": true, "code": 0, "data": ...}`` and the refusal ``{"success":
      false, "code": 2009, "message": ...}`` (HTTP 200; a rate limit HTTP 429 with code 510);
    * signed requests: ``ApiKey`` (401 unknown), ``Request-Time`` in milliseconds within 10 s
      (513), ``Signature`` = hex HMAC-SHA256 of the key + the time + the sorted query (GET) or
      the JSON body (POST) (602); a key without trade permission refused an order (704);
    * the rows of :mod:`.rows` and the writes of :mod:`.orders`; an order looked up by
      ``externalOid`` or id that the account has not: 2040 "order not exist" (the code of
      ``order/cancel``'s documented row; the lookup's own not-found answer is not documented);
    * lists paged by ``page_num`` / ``page_size`` (at most 100).

    MEXC's contract API has no cancel-all-after: the face has none. Every request under
    ``/api/v3/`` (the spot markets ccxt loads beside the contracts, and a spot account's reads
    and orders) is the spot face's (:mod:`.spot`).

What it must not do
    keep exchange state, or reach beyond the server it is handed.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

from aiohttp import web

from ....simulated.engine import NO_SUCH_ORDER, UNKNOWN_ORDER, SimError
from ....simulated.faces.shared import VenueFail, ccxt_client, loopback, routes, signs, strict_client, venue_account
from . import spot as face_spot
from .orders import MexcOrders
from .rows import is_plan, is_stop
from .wire import (
    CODES,
    NO_POSITION,
    NO_TRADE,
    NOT_FOUND,
    PARAMS,
    SIGNATURE,
    STALE_REQUEST,
    TOO_FREQUENT,
    UNAUTHORIZED,
    contract_id,
)

PREFIXES = ("/api/v1/contract/", "/api/v1/private/", "/api/v3/")
PRIVATE = "/api/v1/private"

# the routes with the contract or the order in the path: (METHOD, pattern) → (operation, signed)
PATH_ROUTES: tuple[tuple[str, re.Pattern[str], tuple[str, bool]], ...] = (
    ("GET", re.compile(r"^/api/v1/contract/depth/(?P<symbol>[A-Z0-9_]+)$"), ("depth", False)),
    ("GET", re.compile(r"^/api/v1/private/order/list/open_orders/(?P<symbol>[A-Z0-9_]+)$"), ("open_orders", True)),
    ("GET", re.compile(r"^/api/v1/private/order/get/(?P<order_id>[^/]+)$"), ("get_order", True)),
    ("GET", re.compile(r"^/api/v1/private/order/external/(?P<symbol>[A-Z0-9_]+)/(?P<external_oid>[^/]+)$"),
     ("get_order", True)),
)

TIMESTAMP_WINDOW_MS = 10_000


class MexcFace(MexcOrders):
    """One request's view of the engine in MEXC's terms: the shared face's hooks and the dispatch
    of each operation over the rows and the writes it is built from."""

    ROUTES = routes({
        "GET /api/v1/contract/ping": "time",
        "GET /api/v1/contract/detail": "exchange_info",
        "GET /api/v1/contract/ticker": "ticker",
        f"GET {PRIVATE}/account/assets": "account",
        f"GET {PRIVATE}/position/open_positions": "positions",
        f"GET {PRIVATE}/position/position_mode": "position_mode",
        f"GET {PRIVATE}/order/list/open_orders": "open_orders",
        f"GET {PRIVATE}/planorder/list/orders": "open_algo_orders",
        f"GET {PRIVATE}/stoporder/list/orders": "open_algo_orders",
        f"POST {PRIVATE}/order/create": "place_order",
        f"POST {PRIVATE}/order/cancel": "cancel_order",
        f"POST {PRIVATE}/order/cancel_all": "cancel_order",
        f"POST {PRIVATE}/planorder/cancel": "cancel_algo_order",
        f"POST {PRIVATE}/planorder/cancel_all": "cancel_algo_order",
        f"POST {PRIVATE}/stoporder/cancel": "cancel_algo_order",
        f"POST {PRIVATE}/stoporder/cancel_all": "cancel_algo_order",
    })
    KEY_HEADER = "ApiKey"
    TIME_FIELDS = ("timestamp", "createTime", "updateTime", "ts")
    VENUE = "mexc"

    @classmethod
    async def serve(cls, server: Any, request: web.Request) -> web.StreamResponse:
        """One request under PREFIXES: the spot face's under ``/api/v3/``, the contract API's else."""
        if request.path.startswith(face_spot.V3 + "/"):
            return await face_spot.handle(server, request)
        return await super().serve(server, request)

    # --- the shared hooks ------------------------------------------------------------------------------

    def route(self, request: web.Request, raw_body: str) -> tuple[str, bool]:
        self.path_params: dict[str, str] = {}
        found = self.ROUTES.get((request.method, request.path))
        if found is not None:
            return found
        for method, pattern, route in PATH_ROUTES:
            hit = pattern.match(request.path) if method == request.method else None
            if hit is not None:
                self.path_params = hit.groupdict()
                return route
        raise VenueFail(*self.not_found(request.method, request.path))

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, {"success": False, "code": 404, "message": "Not Found"}

    def rate_limited(self) -> tuple[int, Any]:  # MEXC answers a rate limit 429 (code 510); it has no 418 ban
        return 429, {"success": False, "code": TOO_FREQUENT[0], "message": TOO_FREQUENT[1]}

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        h = request.headers
        stamp, sign = h.get("Request-Time", ""), h.get("Signature", "")
        if not key or account is None:
            raise self.fail(*UNAUTHORIZED)
        if not stamp.isdigit() or self.out_of_window(int(stamp), TIMESTAMP_WINDOW_MS):
            raise self.fail(*STALE_REQUEST)
        signed = key + stamp + (raw_query if request.method == "GET" else raw_body)
        if not signs(self.engine.key_secret(key, account), signed, sign):
            raise self.fail(*SIGNATURE)
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail(*NO_TRADE)

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return self.fail(*NO_POSITION)

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        from urllib.parse import parse_qsl

        if method == "GET":
            return {**dict(parse_qsl(raw_query, keep_blank_values=True)), **getattr(self, "path_params", {})}
        if not raw_body.strip():
            return {}
        try:
            got = json.loads(raw_body)
        except ValueError:
            raise self.fail(*PARAMS) from None
        if not isinstance(got, (dict, list)):
            raise self.fail(*PARAMS)
        return got

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        code, msg = NOT_FOUND if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER) else CODES.get(e.code, (PARAMS[0],
                                                                                                    f"{e.msg}"))
        return 200, {"success": False, "code": code, "message": msg}

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        data = body.get("data") if isinstance(body, dict) else None
        if op == "place_order" and isinstance(data, dict) and str(data.get("orderId", "")).isdigit():
            return [int(data["orderId"])]
        return []

    # --- operations -----------------------------------------------------------------------------------

    def op_exchange_info(self, p: Any, account: Any, at: Optional[int], path: str) -> Any:
        return self.ok([self.detail(m) for m in self.engine.markets.values()])

    def op_ticker(self, p: Any, account: Any, at: Optional[int], path: str) -> Any:
        at = self.engine.now() if at is None else at
        m = self.contract(p.get("symbol"), required=False)
        if m is not None:
            return self.ok(self.ticker(m, at))
        return self.ok([self.ticker(mk, at) for mk in self.engine.markets.values()])

    def op_depth(self, p: Any, account: Any, at: Optional[int], path: str) -> Any:
        m = self.contract(p.get("symbol"))
        assert m is not None
        bids, asks, ts = self.engine.order_book(m.symbol, int(self.number(p, "limit") or 100))
        return self.ok({"asks": [[px, q, 1] for px, q in asks], "bids": [[px, q, 1] for px, q in bids],
                        "version": ts, "timestamp": ts})

    def op_open_orders(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        m = self.contract(p.get("symbol"), required=False)
        rows = [self.order_row(o) for o in self.engine.open_orders(account, m.symbol if m else None, weight=1)]
        return self.ok(self.page(sorted(rows, key=lambda r: -int(r["orderId"])), p))

    def op_algo_orders(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        m = self.contract(p.get("symbol"), required=False)
        algos = self.engine.open_algo_orders(account, m.symbol if m else None, weight=1)
        if "/planorder/" in path:
            if str(p.get("states") or "1") not in ("1",) and "1" not in str(p.get("states")).split(","):
                return self.ok([])  # only untriggered ones are open
            rows = [self.plan_row(o) for o in algos if is_plan(o)]
        else:
            if str(p.get("is_finished", "0")) != "0":
                return self.ok([])
            rows = [self.stop_row(o) for o in algos if is_stop(o)]
        return self.ok(self.page(sorted(rows, key=lambda r: -int(r["id"])), p))

    def op_get_order(self, p: Any, account: str, at: Optional[int], path: str) -> Any:
        oid, cid = p.get("order_id"), p.get("external_oid")
        if oid is not None:
            o, _ = self._find(account, oid)
            if o is None:
                raise self.fail(*NOT_FOUND)
            return self.ok(self.order_row(o))
        m = self.contract(p.get("symbol"))
        assert m is not None
        return self.ok(self.order_row(self.engine.get_order(account, m.symbol, None, cid)))

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "time": lambda f, p, account, at, path: f.ok(f.engine.now() if at is None else at),
        "exchange_info": op_exchange_info, "ticker": op_ticker, "depth": op_depth,
        "account": lambda f, p, account, at, path: f.ok(f.assets(account, at)),
        "positions": lambda f, p, account, at, path: f.ok(f.positions(account, at)),
        "position_mode": lambda f, p, account, at, path: f.ok(f.mode_code(account)),
        "open_orders": op_open_orders, "open_algo_orders": op_algo_orders, "get_order": op_get_order,
        "place_order": lambda f, p, account, at, path: f.place(account, p),
        "cancel_order": lambda f, p, account, at, path: f.cancel_all(account, p) if path.endswith("/cancel_all")
        else f.cancel(account, p),
        "cancel_algo_order": lambda f, p, account, at, path: f.cancel_algos(account, path, p),
    }


handle = MexcFace.serve  # one request under PREFIXES, as the module docstring says
ROUTES = MexcFace.ROUTES  # the contract API's (every path under /api/v3/ is the spot face's)


# --- clients -----------------------------------------------------------------------------------------------


sim_account = venue_account("mexc")  # an account's Accounts entry


def mexc_client(server: Any, account: str, **config: Any) -> Any:
    """A ``ccxt.async_support.mexc`` bound to ``server`` as ``account`` (its contract API and
    its spot's market list on the server; close it after use)."""
    import ccxt.async_support as ccxt_async

    return strict_client(on_server(ccxt_async.mexc, server, account, config))


def on_server(make: Any, server: Any, account: str, config: dict) -> Any:
    """A client of the ccxt class ``make`` (mexc's, async or pro) of ``account`` whose
    ``urls['api']`` are on ``server``: its contract API and its spot's market list."""
    base = loopback(server.base_url)
    ex = ccxt_client(make, server, account, config, {"defaultType": "swap"})
    ex.has = {**ex.has, "fetchCurrencies": False}  # no signed spot wallet read (as the adapter's client)
    ex.urls["api"]["spot"] = {"public": base, "private": base}
    ex.urls["api"]["contract"] = {"public": f"{base}/api/v1/contract", "private": f"{base}/api/v1/private"}
    return ex


sim_client = mexc_client  # the ccxt client of an account (a bot's, with its own key)

__all__ = ["MexcFace", "PREFIXES", "ROUTES", "contract_id", "handle", "mexc_client", "on_server", "sim_account",
           "sim_client"]
