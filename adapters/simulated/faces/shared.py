"""The one shape every REST face of the simulated exchange has: a request through the fault plan,
the venue's authentication and its envelope, the engine, and the faults that act after it.

What it owns
    :class:`RestFace`, a face as a table of routes and a few hooks (the venue's signature, its
    envelope, its error codes, the engine call of each operation), and :meth:`RestFace.handle`,
    the pipeline a request takes:

    1. its route (``ROUTES``: (METHOD, path) → (operation, signed)); none: the venue's 404;
    2. the fault plan, matched on the operation name (the Binance face's names, so one plan
       fires on every venue) and on ``"METHOD /path"``: latency, a status fault (429, 418, 5xx
       in the venue's body), a TIMEOUT not yet applied (the request hangs and nothing runs);
    3. the venue's authentication of a signed route and the key's trade permission;
    4. a REJECT_REDUCE_ONLY fault on an order: the venue's refusal, nothing runs;
    5. the engine, or a STALE fault's frozen answer (kept on the server per venue, rule,
       endpoint, account and what the read asks, :meth:`RestFace.stale_key`; restamped "now"
       when the rule says so);
    6. after the engine: HIDE_FROM_NEXT_QUERY (the orders placed, as the face names them), a
       TIMEOUT applied (executed, then never answered), DISCONNECT_AFTER_SEND (the connection
       dropped), MALFORMED_JSON (the answer cut short).

    Every answer goes out through :meth:`RestFace.respond`, told whose request it answers once
    known (Binance writes the account's used weight in a header), with the headers a refusal
    carries (``Retry-After``). A new face subclasses it, fills ``ROUTES`` (:func:`routes` of
    its ``"METHOD /path"`` → operation table), ``OPERATIONS`` and the hooks, serves a request
    through :meth:`RestFace.serve` (its module's ``handle``), and is registered in
    :mod:`adapters.simulated.faces` with its path prefixes.

    What the faces read alike: the order a request names (:meth:`RestFace.order_ref`), a number
    (:func:`finite_number`), a count (:func:`whole`), a page of a list given newest first
    (:func:`newest_first`), and a signature (:func:`signs`; OKX's and Bitget's :func:`prehash`).

    What the faces' clients share: an account's ccxt client (:func:`ccxt_client`,
    :func:`strict_client`: its keys, ccxt's own rate limit off, the venue's options under the
    caller's, a cut-off body an error) and its Accounts-document entry (:func:`key_account`).

What it must not do
    keep exchange state (the engine's), or know any venue's fields (its subclass's).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import math
import os
import re
from typing import Any, Callable, Mapping, MutableMapping, Optional, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from ..faults import HTTP_STATUS, Fault, FaultKind, first, restamp, stale, total_latency_ms
from ..permissions import TRADE_OPS
from ..rules import (
    DUPLICATE_CLIENT_ID,
    INSUFFICIENT_BALANCE,
    INVALID_SYMBOL,
    MARGIN_INSUFFICIENT,
    NOTIONAL_TOO_SMALL,
    POSITION_SIDE_MISMATCH,
    PRECISION,
    REDUCE_ONLY_REJECTED,
    TOO_MANY_ORDERS,
    TOO_MANY_REQUESTS,
    SimError,
)


class VenueFail(Exception):
    """An answer other than success, as the venue writes it: its HTTP status, body and any
    headers of its own (``Retry-After``); ``raw``: a text body sent as the venue's JSON."""

    def __init__(self, status: int, body: Any, headers: Optional[Mapping[str, str]] = None, raw: bool = False):
        super().__init__(f"{status}: {body}")
        self.status, self.body, self.headers, self.raw = status, body, dict(headers or {}), raw


Answer = TypeVar("Answer")

# the engine's refusal of an order that fails a filter's floor (LOT_SIZE, NOTIONAL), beside its
# refusal for the notional floor (NOTIONAL_TOO_SMALL)
FILTER_FAILURE = -1013


def engine_codes(*, duplicate_id: Answer, no_margin: Answer, too_small: Optional[Answer] = None,
                 precision: Optional[Answer] = None, no_balance: Optional[Answer] = None,
                 unknown_symbol: Optional[Answer] = None, no_position: Optional[Answer] = None,
                 wrong_mode: Optional[Answer] = None,
                 more: Optional[Mapping[int, Answer]] = None) -> dict[int, Answer]:
    """A venue's answer to each of the engine's (Binance) refusals of an order, by what the
    refusal means: a client order id sent twice; too little margin (the balance's refusal read
    the same unless ``no_balance`` words it apart); an order too small (the notional floor and a
    filter's, :data:`FILTER_FAILURE`, alike); a size or a price past the market's precision; an
    unknown symbol; a reduce-only order without the position; an order's leg against the
    account's position mode. ``more``: the venue's answers to other codes. A meaning given None
    is left out, for the face's own default answer."""
    codes: dict[int, Optional[Answer]] = {
        DUPLICATE_CLIENT_ID: duplicate_id,
        MARGIN_INSUFFICIENT: no_margin,
        INSUFFICIENT_BALANCE: no_margin if no_balance is None else no_balance,
        INVALID_SYMBOL: unknown_symbol,
        NOTIONAL_TOO_SMALL: too_small,
        FILTER_FAILURE: too_small,
        PRECISION: precision,
        REDUCE_ONLY_REJECTED: no_position,
        POSITION_SIDE_MISMATCH: wrong_mode,
    }
    table = {code: answer for code, answer in codes.items() if answer is not None}
    table.update(more or {})
    return table


def respond(server: Any, method: str, path: str, status: int, body: Any, raw: bool = False,
            headers: Optional[Mapping[str, str]] = None) -> web.Response:
    """The HTTP answer (JSON unless ``body`` is text that is not JSON), recorded on the server."""
    server.requests.append((method, path, status))
    if isinstance(body, str) and (raw or not body.startswith(("{", "["))):
        return web.Response(status=status, text=body, content_type="application/json" if raw else "text/html",
                            headers=headers)
    return web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json",
                        headers=headers)


def read_json(method: str, raw_query: str, raw_body: str, refuse: Callable[[bool], Exception], *,
              lists: bool = False, blank_is_empty: bool = False) -> Any:
    """A request's parameters as a JSON venue reads them: a GET's query; a POST's JSON object
    (``lists``: or a list of objects), none for an empty body (``blank_is_empty``: or one of white
    space); ``refuse(parsed)``: the venue's refusal of a body that is not JSON (``parsed`` False)
    or not of that shape."""
    if method == "GET":
        return dict(parse_qsl(raw_query, keep_blank_values=True))
    if not (raw_body.strip() if blank_is_empty else raw_body):
        return {}
    try:
        got = json.loads(raw_body)
    except ValueError:
        raise refuse(False) from None
    rows = got if lists and isinstance(got, list) else [got]
    if not all(isinstance(r, dict) for r in rows):
        raise refuse(True)
    return got


def finite_number(p: Mapping[str, Any], name: str, missing: Optional[Exception], bad: Exception) -> Optional[float]:
    """The parameter ``name`` as a finite number: None where it is absent or empty (``missing``
    raised instead where it is required), ``bad`` raised where it is not a finite number."""
    v = p.get(name)
    if v is None or v == "":
        if missing is not None:
            raise missing
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise bad from None
    if not math.isfinite(x):
        raise bad
    return x


def flag(v: Any, bad: Exception) -> bool:
    """A true/false parameter as JSON or text gives it (text in any case); ``bad`` raised otherwise."""
    if not isinstance(v, bool) and str(v).lower() not in ("true", "false"):
        raise bad
    return v if isinstance(v, bool) else str(v).lower() == "true"


def whole(value: Any, default: int) -> int:
    """A count a request gives as digits (``limit``): ``default`` where it gives none, -1 (out of
    any range) where it is not a whole number."""
    return default if value in (None, "") else (int(value) if str(value).isdigit() else -1)


def newest_first(rows: list[dict], id_field: str, p: Mapping[str, Any], *, most: int, older: str,
                 refuse: Callable[[str], Exception], newer: Optional[str] = None) -> list[dict]:
    """A page of a list a venue gives newest (highest id) first: at most ``limit`` rows (``most``
    by default and at the most), older than the id ``p[older]``, or the ones just newer than the
    id ``p[newer]`` where the venue takes that; ``refuse(name)``: its refusal of a parameter."""
    n = whole(p.get("limit"), most)
    if not 1 <= n <= most:
        raise refuse("limit")
    for name in (older, newer):
        if name and p.get(name) not in (None, "") and not str(p[name]).isdigit():
            raise refuse(name)
    rows = sorted(rows, key=lambda r: int(r[id_field]), reverse=True)
    if p.get(older):
        rows = [r for r in rows if int(r[id_field]) < int(p[older])]
    if newer and p.get(newer):
        rows = [r for r in rows if int(r[id_field]) > int(p[newer])]
        return rows[-n:]
    return rows[:n]


# What one list request costs against the engine's minute budget (its 2,400) on a venue that limits
# requests per endpoint, not a shared weight (Bybit, OKX, Bitget, MEXC): a list of every symbol is
# one request there, not Binance's 40.
REQUEST_WEIGHT = 1

# the operations a face answers without a key: every other operation a route names is signed
PUBLIC_OPS = frozenset({"assets", "depth", "exchange_info", "mark_price", "ping", "ticker", "ticker_24hr", "time"})


def routes(table: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, bool]]:
    """A face's ``ROUTES`` from its table of ``"METHOD /path"`` → operation name (the Binance
    face's name where the operation is the same, so that one fault plan fires on every face):
    signed unless the operation is one of :data:`PUBLIC_OPS`."""
    return {(method, path): (op, op not in PUBLIC_OPS)
            for (method, path), op in ((endpoint.split(" ", 1), op) for endpoint, op in table.items())}


STATUS_FAULTS = (FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)


class RestFace:
    """One request's view of the engine in a venue's terms (no state beyond the request)."""

    # (METHOD, path) → (operation name, signed)
    ROUTES: Mapping[tuple[str, str], tuple[str, bool]] = {}
    KEY_HEADER = ""  # the header carrying the API key
    TIME_FIELDS: tuple[str, ...] = ()  # the fields a STALE "now" answer is restamped in
    VENUE = ""  # the name a frozen answer is kept under
    PARAMS_FIRST = False  # the request read before its signature is checked (a malformed one refused first)
    FAULT_BODY_STATUS: Mapping[int, int] = {}  # a status fault with a body of its own: the status it goes out with
    WEIGHT_HEADER = ""  # the header an answer carries its account's used request weight in (Binance's)
    # operation → what answers it: (face, params, account, at, path) → the answer's body (at: the
    # time a STALE read is of); every operation ``ROUTES`` names has one (a face's test says so)
    OPERATIONS: Mapping[str, Callable[..., Any]] = {}

    def __init__(self, server: Any):
        self.server = server
        self.engine = server.engine
        self.account: Optional[str] = None  # whose request this is, once known

    @classmethod
    async def serve(cls, server: Any, request: web.Request) -> web.StreamResponse:
        """Answer one request with a view of its own: a face module's ``handle``."""
        return await cls(server).handle(request)

    # --- the hooks a venue fills ---------------------------------------------------------------

    def route(self, request: web.Request, raw_body: str) -> tuple[str, bool]:
        """(operation, signed) of a request, or the venue's :meth:`not_found` as a :class:`VenueFail`
        (a face whose operation is in the body reads it here)."""
        route = self.ROUTES.get((request.method, request.path))
        if route is None:
            raise VenueFail(*self.not_found(request.method, request.path))
        return route

    def identify(self, request: web.Request, key: str) -> Optional[str]:
        """The account a request names before its signature is checked (the faults are matched on it)."""
        return self.engine.account_for_key(key) if key else None

    def not_found(self, method: str, path: str) -> tuple[int, Any]:
        return 404, "404 page not found"

    def reduce_only_refusal(self, params: Any) -> Optional[VenueFail]:
        """The venue's refusal of a reduce-only order (the REJECT_REDUCE_ONLY fault); None: the
        face refuses it itself, per order (:attr:`faults`), or has no reduce-only order (spot)."""
        return None

    def rate_limited(self) -> Optional[tuple[int, Any]]:
        """The venue's one answer to a spent budget where it has no ban of its own: to a 429 or
        418 status fault and to the engine's TOO_MANY_REQUESTS or TOO_MANY_ORDERS alike (None:
        each its own, :meth:`status_fault`'s and :meth:`sim_error`'s)."""
        return None

    def status_fault(self, code: int) -> tuple[int, Any]:
        """The venue's answer to a status fault of HTTP ``code`` (429, 418, 500, 503)."""
        limited = self.rate_limited() if code in (429, 418) else None
        if limited is not None:
            return limited
        reason = "Internal Server Error" if code == 500 else "Service Unavailable"
        return code, f"<html><body><h1>{code} {reason}</h1></body></html>"

    # (request, key, account, query, body) → the account a signed request is from, or VenueFail
    authenticate: Callable[[web.Request, str, Optional[str], str, str], str]
    no_permission: Callable[[str, str], VenueFail]  # (key, account): a key that may not trade on a trade operation
    params: Callable[[str, str, str], Any]  # (method, query, body) → the request's parameters
    sim_error: Callable[[SimError, str], tuple[int, Any]]  # (refusal, op) → the venue's answer to an engine refusal

    @staticmethod
    def order_ref(oid: Any, cid: Any, missing: VenueFail, unknown: VenueFail) -> tuple[Optional[int], Optional[str]]:
        """(engine id, client id) of the order a request names: by the venue's id where it gives
        one (digits, else ``unknown``: the venue's answer to an id it never gave), else by its
        client id; ``missing`` where it names neither."""
        if not oid and not cid:
            raise missing
        if oid and not str(oid).isdigit():
            raise unknown
        return (int(oid), None) if oid else (None, cid)

    @staticmethod
    def prehash_signed(secret: str, stamp: str, request: web.Request, query: str, body: str, sign: str) -> bool:
        """Whether ``sign`` is OKX's or Bitget's signature of the request: base64 HMAC-SHA256 of
        its :func:`prehash`."""
        return signs(secret, prehash(stamp, request.method, request.path, query, body), sign, b64=True)

    def out_of_window(self, stamp_ms: int, window_ms: int) -> bool:
        """Whether a signed request's time is more than ``window_ms`` off the server's clock (never
        where the server does not check times)."""
        return bool(self.server.check_timestamp) and abs(int(self.server.auth_clock()) - stamp_ms) > window_ms

    def dispatch(self, op: str, path: str, params: Any, account: Optional[str], at: Optional[int]) -> Any:
        """The answer's body of one operation: its :attr:`OPERATIONS` entry's (a face whose
        operation is in the body answers it its own way)."""
        return self.OPERATIONS[op](self, params, account, at, path)

    def placed_order_ids(self, op: str, body: Any) -> list[int]:
        """The engine ids of the orders an answer placed (for HIDE_FROM_NEXT_QUERY)."""
        return []

    def finish(self, op: str, body: Any) -> Any:
        """The answer as it goes out (a venue whose envelope carries the time wraps it here)."""
        return body

    def refusal_body(self, fail: VenueFail) -> Any:
        """The body of a refusal as it goes out."""
        return fail.body

    def is_read(self, method: str, path: str) -> bool:
        """Whether a STALE rule may freeze the request's answer."""
        return method == "GET"

    def status_refusal(self, fault: Fault) -> VenueFail:
        """The venue's answer to a status fault without a body of its own (:meth:`status_fault`
        by default; a venue that tells when to come back overrides this)."""
        return VenueFail(*self.status_fault(HTTP_STATUS[fault.kind]))

    def sim_refusal(self, e: SimError, op: str) -> VenueFail:
        """The venue's answer to an engine refusal (:meth:`rate_limited` for a spent budget where
        the venue has that answer, else :meth:`sim_error`)."""
        limited = self.rate_limited() if e.code in (TOO_MANY_REQUESTS, TOO_MANY_ORDERS) else None
        return VenueFail(*(self.sim_error(e, op) if limited is None else limited))

    def stale_key(self, params: Any, raw_query: str) -> Any:
        """What of a read a STALE rule keeps one frozen answer per, beside the endpoint and the
        account: the query (a venue that signs in the query keys on what the query asks)."""
        return raw_query

    def respond(self, method: str, path: str, status: int, body: Any, *, account: Optional[str] = None,
                headers: Optional[Mapping[str, str]] = None, raw: bool = False) -> web.Response:
        """The HTTP answer, with the used weight of ``account`` (whose request it answers, once
        known) in :attr:`WEIGHT_HEADER` where the venue writes one."""
        h = dict(headers or {})
        if self.WEIGHT_HEADER and account is not None and account in self.engine.accounts:
            h[self.WEIGHT_HEADER] = str(self.engine.used_weight(account))
        return respond(self.server, method, path, status, body, raw=raw, headers=h)

    # --- the pipeline ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        srv, eng = self.server, self.engine
        method, path = request.method, request.path
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        key = request.headers.get(self.KEY_HEADER, "") if self.KEY_HEADER else ""
        try:
            op, signed = self.route(request, raw_body)
            account = self.account = self.identify(request, key)
        except VenueFail as f:
            return self.respond(method, path, f.status, f.body, headers=f.headers, raw=f.raw)
        endpoint = f"{method} {path}"
        faults = self.faults = srv.faults.match(op, eng.now(), account=account, endpoint=endpoint)
        lat = total_latency_ms(faults)
        if lat:
            await asyncio.sleep(lat / 1000 * srv.time_scale)
        status_fault = first(faults, *STATUS_FAULTS)
        if status_fault is not None:
            return self._status_answer(method, path, status_fault)
        timeout = first(faults, FaultKind.TIMEOUT)
        if timeout is not None and not timeout.applied:
            await asyncio.sleep(srv.hang_s)
            return self.respond(method, path, 504, "")
        try:
            body = self._run(request, op, signed, key, raw_query, raw_body)
        except VenueFail as f:
            return self.respond(method, path, f.status, self.refusal_body(f), account=self.account,
                                headers=f.headers, raw=f.raw)
        except SimError as e:
            refused = self.sim_refusal(e, op)
            return self.respond(method, path, refused.status, self.refusal_body(refused), account=self.account,
                                headers=refused.headers, raw=refused.raw)
        return await self._deliver(request, op, body)

    def _status_answer(self, method: str, path: str, fault: Fault) -> web.Response:
        if fault.body is not None:
            code = HTTP_STATUS[fault.kind]
            return self.respond(method, path, self.FAULT_BODY_STATUS.get(code, code), fault.body, raw=True)
        refusal = self.status_refusal(fault)
        return self.respond(method, path, refusal.status, refusal.body, headers=refusal.headers, raw=refusal.raw)

    def _run(self, request: web.Request, op: str, signed: bool, key: str, raw_query: str, raw_body: str) -> Any:
        """The request read, its signature and permission checked, the engine's (or a frozen) answer."""
        method, eng = request.method, self.engine
        params = self.params(method, raw_query, raw_body) if self.PARAMS_FIRST else None
        if signed:
            self.account = self.authenticate(request, key, self.account, raw_query, raw_body)
            if op in TRADE_OPS and not eng.permissions.may_trade(key):
                raise self.no_permission(key, self.account)
        if not self.PARAMS_FIRST:
            params = self.params(method, raw_query, raw_body)
        if op == "place_order" and first(self.faults, FaultKind.REJECT_REDUCE_ONLY):
            refusal = self.reduce_only_refusal(params)
            if refusal is not None:
                raise refusal
        return self._answer(op, request.path, f"{method} {request.path}", params, raw_query)

    async def _deliver(self, request: web.Request, op: str, body: Any) -> web.StreamResponse:
        """The answer after the engine ran: the faults that act then, or the venue's envelope."""
        srv, faults, account = self.server, self.faults, self.account
        method, path = request.method, request.path
        if first(faults, FaultKind.HIDE_FROM_NEXT_QUERY):
            for oid in self.placed_order_ids(op, body):
                self.engine.hide_from_next_query(account, oid)
        body = self.finish(op, body)
        if first(faults, FaultKind.TIMEOUT) is not None:  # applied: executed, then never answered
            await asyncio.sleep(srv.hang_s)
            return self.respond(method, path, 504, "")
        if first(faults, FaultKind.DISCONNECT_AFTER_SEND):
            srv.requests.append((method, path, 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        if first(faults, FaultKind.MALFORMED_JSON):
            text = json.dumps(body, separators=(",", ":"))
            return self.respond(method, path, 200, text[: max(1, len(text) // 2)], account=account, raw=True)
        if isinstance(body, str):  # an answer that is a JSON string
            return self.respond(method, path, 200, json.dumps(body), account=account, raw=True)
        return self.respond(method, path, 200, body, account=account)

    def _answer(self, op: str, path: str, endpoint: str, params: Any, raw_query: str) -> Any:
        """The engine's answer, or a STALE rule's frozen one (a read only)."""
        account = self.account
        st = stale(self.faults) if self.is_read(*endpoint.split(" ", 1)) else None
        if st is None:
            return self.dispatch(op, path, params, account, None)
        eng = self.engine
        frozen_key = (self.VENUE, st.rule, endpoint, account, self.stale_key(params, raw_query))
        frozen = self.server._frozen.get(frozen_key)
        if frozen is None:
            frozen = self.server._frozen[frozen_key] = self.dispatch(op, path, params, account,
                                                                     eng.now() - st.stale_ms)
        body = copy.deepcopy(frozen)
        if st.stamp == "now":
            restamp(body, eng.now(), self.TIME_FIELDS)
        return body


def prehash(stamp: str, method: str, path: str, query: str, body: str) -> str:
    """What OKX and Bitget sign: the timestamp, the METHOD, the path (``?`` and the query after
    it, where there is one) and the body."""
    return stamp + method + path + (f"?{query}" if query else "") + body


def signs(secret: str, text: str, sign: str, *, b64: bool = False) -> bool:
    """Whether ``sign`` is the HMAC-SHA256 of ``text`` keyed by ``secret``: in hex, of either case
    (Binance, Bybit, MEXC), or in base64 (OKX, Bitget)."""
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256)
    if b64:
        return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign)
    return hmac.compare_digest(mac.hexdigest(), sign.lower())


def loopback(base_url: str) -> str:
    """``base_url`` if it is on loopback: the simulated exchange is never served elsewhere."""
    if not base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ValueError("the simulated exchange is on loopback")
    return base_url


def ccxt_client(make: Callable[[dict], Any], server: Any, account: str, config: dict,
                options: Mapping[str, Any], *, password: bool = False, secret: Optional[str] = None) -> Any:
    """A ccxt client (``make``: a ccxt exchange class) of the engine's ``account``: its key and
    secret (``secret``: as the venue hands it, where that is not the engine's; and its
    passphrase, ``password``), ccxt's own rate limit off, ``config`` over them and the venue's
    ``options`` under ``config``'s own. Its URLs are the caller's to point (:func:`rehosted`)."""
    spec = server.engine.accounts[account].spec
    keys = {"apiKey": spec.api_key, "secret": spec.secret if secret is None else secret,
            **({"password": spec.passphrase} if password else {})}
    options = {**options, **config.pop("options", {})}
    return make({**keys, "enableRateLimit": False, **config, "options": options})


def b64_secret(server: Any, account: str) -> str:
    """The engine's secret of ``account`` in base64, as Kraken hands a secret."""
    return base64.b64encode(server.engine.accounts[account].spec.secret.encode()).decode()


def rehosted(api: Mapping[str, Any], base: str) -> dict[str, Any]:
    """A ccxt client's ``urls['api']`` with the host of each URL in it (``https://host``) the
    server's ``base`` (on loopback, :func:`loopback`)."""
    return {k: re.sub(r"^https://[^/]+", loopback(base), v) if isinstance(v, str) else v for k, v in api.items()}


def rehosted_client(make: Callable[[dict], Any], server: Any, account: str, config: dict, *, strict: bool = True,
                    secret: Optional[str] = None) -> Any:
    """A ccxt client of the engine's ``account`` (:func:`ccxt_client`, no options of the venue's)
    whose every URL is on the server (:func:`rehosted`), strict unless told (:func:`strict_client`)."""
    ex = ccxt_client(make, server, account, config, {}, secret=secret)
    ex.urls["api"] = rehosted(ex.urls["api"], server.base_url)
    return strict_client(ex, strict)


def strict_client(ex: Any, on: bool = True) -> Any:
    """``ex``, a cut-off body an error where ``on`` (:func:`adapters.ccxt_exchange.strict_json`)."""
    if on:
        from ...ccxt_exchange import strict_json

        strict_json(ex)
    return ex


def key_account(server: Any, account: str, venue: str, *, name: Optional[str] = None, secret: Optional[str] = None,
                passphrase: bool = False, hedge_mode: Optional[bool] = None,
                env: Optional[MutableMapping[str, str]] = None, **fields: Any) -> Any:
    """A killswitch :class:`~killswitch.policy.accounts_doc.Account` on ``venue`` for the engine's
    ``account``, ``api_url`` the server's base URL, of the account's position mode unless
    ``hedge_mode`` says one; its key, its secret (``secret``: as the venue hands it, where that is
    not the engine's) and, for a venue that signs with one (OKX, Bitget), its ``passphrase`` are
    written to ``env`` (default ``os.environ``) as ``KS_SIM_<NAME>_<ACCOUNT>_{KEY,SECRET,PASS}``
    (``name``: the venue's by default) and referenced there."""
    from killswitch.policy.accounts_doc import Account

    target = os.environ if env is None else env
    spec = server.engine.accounts[account].spec
    prefix = f"KS_SIM_{(name or venue).upper()}_" + re.sub(r"[^A-Z0-9]", "_", account.upper())
    values = {"api_key": (spec.api_key, "KEY"), "secret": (spec.secret if secret is None else secret, "SECRET"),
              **({"password": (spec.passphrase, "PASS")} if passphrase else {})}
    for value, suffix in values.values():
        target[f"{prefix}_{suffix}"] = value
    hedge = server.engine.hedge_mode(account) if hedge_mode is None else hedge_mode
    return Account.model_validate({
        "name": account, "venue": venue, "market_type": "futures", "hedge_mode": hedge,
        "api_url": loopback(server.base_url),
        "credentials": {k: {"env": f"{prefix}_{suffix}"} for k, (_, suffix) in values.items()}, **fields})


def venue_account(venue: str, *, b64: bool = False, **fixed: Any) -> Callable[..., Any]:
    """A face module's ``sim_account(server, account, **fields)``: :func:`key_account` on ``venue``
    with ``fixed`` (``fields`` over them); ``b64``: its secret in base64, as Kraken hands one."""

    def sim_account(server: Any, account: str, **fields: Any) -> Any:
        secret = b64_secret(server, account) if b64 else None
        return key_account(server, account, venue, secret=secret, **{**fixed, **fields})

    return sim_account


__all__ = ["REQUEST_WEIGHT", "RestFace", "VenueFail", "b64_secret", "ccxt_client", "finite_number", "flag", "loopback",
           "key_account", "newest_first", "prehash", "read_json", "rehosted", "rehosted_client", "respond", "routes",
           "signs", "strict_client", "venue_account", "whole"]
