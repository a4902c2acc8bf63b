"""The simulated exchange's Kraken Futures face: the derivatives API v3 subset that
``ccxt.async_support.krakenfutures`` and the Kraken Futures dialect
(:mod:`adapters.venues.krakenfutures.dialect`) ask, over the one engine, in the shared face shape
(:class:`adapters.simulated.faces.shared.RestFace`).

Its endpoints are its ``ROUTES`` below, each signed unless its operation is public
(:data:`~adapters.simulated.faces.shared.PUBLIC_OPS`).

What it answers, as Kraken Futures does
    * the envelope ``{"result": "success", <key>: ..., "serverTime": ...}``; an error
      ``{"result": "error", "error": "<code>", "serverTime": ...}`` (HTTP 400; 429
      ``apiLimitExceeded``; 401 ``authenticationError``);
    * signed requests: ``APIKey`` and ``Authent`` = base64 HMAC-SHA512, keyed by the base64
      decoded secret, of SHA-256 of the request's parameters as sent (its query, or a batch's
      body) + ``/api/`` + the path after ``/derivatives/api/``;
    * the engine's markets as multi-collateral perpetuals (``PF_XBTUSD``: quoted and settled in
      USD, ``flexible_futures``), the account as its ``flex`` multi-collateral account
      (``portfolioValue`` its equity), positions without a mark (as the venue: the mark is the
      ticker's);
    * a refused order as HTTP 200 ``result: success`` with ``sendStatus.status``
      (``wouldNotReducePosition``, ``insufficientAvailableFunds``, ``iocWouldNotExecute``,
      ``clientOrderIdAlreadyExist``, ...), a cancel of an order not open as ``cancelStatus``
      ``notFound``, a batch of cancels answered row by row (``batchStatus``), a cancel of a
      symbol naming what it cancelled (``cancelledOrders``);
    * ``cancelallordersafter``: one switch for the account (the engine's countdown of every
      market); no hedge mode (the engine's one-way account).

Where it lives
    here the routes, the shared face's hooks and the clients; the request view in
    :mod:`.reads` and :mod:`.orders`; ids, statuses and times in :mod:`.wire`.

What it must not do
    keep exchange state, or reach beyond the server it is handed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Callable, Optional
from urllib.parse import unquote_plus

from aiohttp import web

from ....simulated.engine import SimError
from ....simulated.faces.shared import VenueFail, b64_secret, read_json, rehosted_client, routes, venue_account
from .orders import KrakenOrders
from .wire import engine_id, error

PREFIXES = ("/derivatives/",)
V3 = "/derivatives/api/v3"


def signature(secret: str, post_data: str, path: str) -> str:
    """Kraken Futures' ``Authent``: base64(HMAC-SHA512(base64-decoded secret, SHA-256(post_data +
    the endpoint path from ``/api/``)))."""
    digest = hashlib.sha256((post_data + path).encode()).digest()
    return base64.b64encode(hmac.new(base64.b64decode(secret), digest, hashlib.sha512).digest()).decode()


class KrakenFace(KrakenOrders):
    """One request's view of the engine in Kraken Futures' terms: the shared face's hooks and the
    dispatch of each operation over the reads and orders it is built from."""

    ROUTES = routes({
        f"GET {V3}/instruments": "exchange_info",
        f"GET {V3}/tickers": "ticker",
        f"GET {V3}/orderbook": "depth",
        f"GET {V3}/accounts": "account",
        f"GET {V3}/openpositions": "positions",
        f"GET {V3}/openorders": "open_orders",
        f"GET {V3}/orders/status": "get_order",
        f"POST {V3}/sendorder": "place_order",
        f"POST {V3}/cancelorder": "cancel_order",
        f"POST {V3}/batchorder": "cancel_order",  # (cancel instructions only: the Binance face's name of a cancel)
        f"POST {V3}/cancelallorders": "cancel_all",
        f"POST {V3}/cancelallordersafter": "countdown",
    })
    KEY_HEADER = "APIKey"
    TIME_FIELDS = ("serverTime", "receivedTime", "lastUpdateTime", "fillTime", "lastTime")
    VENUE = "krakenfutures"

    # --- the shared hooks --------------------------------------------------------------------------

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, error("notFound", self.engine.now())

    def rate_limited(self) -> tuple[int, Any]:  # Kraken answers a spent budget apiLimitExceeded; it has no 418 ban
        return 429, error("apiLimitExceeded", self.engine.now())

    def authenticate(self, request: web.Request, key: str, account: Optional[str], raw_query: str,
                     raw_body: str) -> str:
        sign = request.headers.get("Authent", "")
        if not key or not sign or account is None:
            raise self.fail("authenticationError", 401)
        secret = base64.b64encode(self.engine.key_secret(key, account).encode()).decode()
        path = request.path[len("/derivatives"):]
        post_data = raw_body if request.path.endswith("/batchorder") else raw_query
        if not hmac.compare_digest(signature(secret, post_data, path), sign):
            raise self.fail("authenticationError", 401)
        return account

    def no_permission(self, key: str, account: str) -> VenueFail:
        return self.fail("authenticationError", 401)  # a read-only key on a write

    def reduce_only_refusal(self, params: Any) -> VenueFail:
        return VenueFail(200, self.refused("wouldNotReducePosition"))

    def params(self, method: str, raw_query: str, raw_body: str) -> Any:
        # every parameter travels in the query, POST included; a batch's in its body, json=<object>
        if raw_body.startswith("json="):
            try:
                got = json.loads(unquote_plus(raw_body[5:]) if raw_body[5:6] == "%" else raw_body[5:])
            except ValueError:
                raise self.fail("invalidArgument") from None
            if not isinstance(got, dict):
                raise self.fail("invalidArgument")
            return got
        return read_json("GET", raw_query, raw_body, lambda parsed: self.fail("invalidArgument"))

    def sim_error(self, e: SimError, op: str) -> tuple[int, Any]:
        return 400, error("invalidArgument", self.engine.now())

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        st = body.get("sendStatus") if op == "place_order" and isinstance(body, dict) else None
        kind, oid = engine_id(st.get("order_id")) if isinstance(st, dict) else (None, None)
        return [oid] if kind == "order" and oid is not None else []

    # --- operations --------------------------------------------------------------------------------

    OPERATIONS: dict[str, Callable[..., Any]] = {
        "exchange_info": lambda f, p, account, at, path: f.instruments(),
        "ticker": lambda f, p, account, at, path: f.tickers(f.engine.now() if at is None else at),
        "depth": lambda f, p, account, at, path: f.orderbook(p),
        "account": lambda f, p, account, at, path: f.accounts(account, at),
        "positions": lambda f, p, account, at, path: f.positions(account, at),
        "open_orders": lambda f, p, account, at, path: f.open_orders(account),
        "get_order": lambda f, p, account, at, path: f.status(account, p),
        "place_order": lambda f, p, account, at, path: f.send(account, p),
        "cancel_order": lambda f, p, account, at, path: (
            f.cancel_batch(account, p) if path.endswith("/batchorder") else f.cancel(account, p)),
        "cancel_all": lambda f, p, account, at, path: f.cancel_all(account, p),
        "countdown": lambda f, p, account, at, path: f.cancel_all_after(account, p),
    }


handle = KrakenFace.serve  # one request under PREFIXES, as the module docstring says


# --- clients -----------------------------------------------------------------------------------------


# no hedge mode; settled in USD
sim_account = venue_account("krakenfutures", b64=True, hedge_mode=False, quote_currency="USD")


def krakenfutures_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.async_support.krakenfutures`` bound to ``server`` as ``account`` (close it after use)."""
    import ccxt.async_support as ccxt_async

    return rehosted_client(ccxt_async.krakenfutures, server, account, config, strict=strict,
                           secret=b64_secret(server, account))


sim_client = krakenfutures_client  # the ccxt client of an account (a bot's, with its own key)


__all__ = ["PREFIXES", "KrakenFace", "handle", "krakenfutures_client", "sim_account", "sim_client",
           "signature"]
