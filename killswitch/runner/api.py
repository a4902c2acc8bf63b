"""The runner's HTTP API: an aiohttp application over a :class:`~.view.RunnerView`.

Endpoints (every response carries ``Cache-Control: no-store``; every body but ``/metrics``
and the 204 is JSON; an error is ``{"error": CODE, "reason": "CODE: detail"}``):

read, unauthenticated
    ``GET /healthz``            200 ``{"ok": true}`` — the process answers; no I/O, no view call.
    ``GET /readyz``             200 / 503 ``{"ready", "reason"}`` from ``view.ready()``.
    ``GET /metrics``            200 Prometheus text (``text/plain; version=0.0.4``).
    ``GET /v1/status``          200 ``view.status()`` as JSON.
    ``GET /v1/lock[?scope=S]``  200 ``view.lock_document(scope)`` (with the resumed limits in force).
    ``GET /v1/dms``             200 ``view.dms_status()``: armed sources, time since their last beat
                                and until they fire; the venues' native countdowns.
    ``GET /v1/close/{id}``      200 ``view.close_progress(id)`` (``state`` queued, working, settled,
                                dry_run, unplanned); 404 ``UNKNOWN_CLOSE``.
    ``GET /v1/runbooks/{incident}[?format=md|html]``  200 the incident's stored runbook
                                (``text/markdown`` or ``text/html``) from ``view.runbook(incident)``;
                                404 ``UNKNOWN_INCIDENT``. The incident is its decision id, URL-quoted.
    ``POST /v1/check-order``    200 ``{"allow", "reason"}`` from ``view.check_order(body)``; a
                                deny is still 200. It only reads, and bots call it before every
                                order, so it needs no token. Its error bodies also say
                                ``"allow": false``, so a bot reading only ``allow`` fails closed.

mutating, ``Authorization: Bearer <token>``
    ``POST /v1/heartbeat/{source}``  204; ``source`` is ``[A-Za-z0-9._-]{1,64}``; the body is
                                     empty or ``{}``. Any replica takes it (a standby stores it
                                     for the leader); 503 ``STATE_UNREACHABLE`` + ``Retry-After``
                                     when a standby cannot store it.
    ``POST /v1/reset``               200 ``{"done", "reason"}``; body ``policy``, ``scope``,
                                     ``approver``, ``reason`` (all required).
    ``POST /v1/close``               202 accepted / 409 refused, ``{"accepted", "reason",
                                     "orders", "id"}``; body ``scope``, ``reason``, ``dry_run`` (all
                                     required: a live close is never the default).
    ``POST /v1/lock``                200 done / 409 refused, ``{"done", "reason"}``; body ``scope``,
                                     ``reason`` (required), ``mode`` (halted | reducing, default
                                     halted), ``ttl_s`` (seconds, default null: until unlocked).
    ``POST /v1/unlock``              200 / 409 ``{"done", "reason"}``; body ``scope``, ``reason``. A
                                     scope a policy's stage holds is refused (409
                                     ``MANUAL_RESET_REQUIRED`` / ``POLICY_LOCK``).
    ``POST /v1/dms/arm``             200 / 409 ``{"done", "reason"}``; body ``source`` (as a heartbeat
                                     source), ``timeout_s`` (above 0, at most 7 days).
    ``POST /v1/dms/disarm``          200 / 409 ``{"done", "reason"}``; body ``source``.

Statuses for what goes wrong: 400 (``BAD_CONTENT_TYPE``, ``BAD_JSON``, ``BAD_REQUEST``: not
``application/json`` in UTF-8, not strict JSON — NaN, duplicate keys —, not an object,
unknown fields, wrong types), 401 (``AUTH_REQUIRED`` / ``AUTH_INVALID``, with
``WWW-Authenticate: Bearer``), 403 ``MUTATIONS_DISABLED`` (the app was built without a token:
mutations are refused, never open), 404 ``NOT_FOUND``, 405 ``METHOD_NOT_ALLOWED`` (with
``Allow``), 413 ``BODY_TOO_LARGE`` (by ``Content-Length`` before reading, or while reading a
chunked body), 500 ``INTERNAL`` (the view raised or answered something unserialisable; the
body says only ``INTERNAL``, the traceback goes to the log). Authentication comes before the
body is read, so an unauthenticated client learns nothing about validation.

What it owns: HTTP parsing, strict body validation, authentication, and rendering the view's
answers. What it must not do: hold runner state or decide anything itself (the view does),
block on I/O, log or echo the token (not in logs, not in any body, not in a repr), compare the
token other than with :func:`hmac.compare_digest`, answer 500 to bad input, or let a request
through when it cannot authenticate it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import inspect
import json
import logging
import math
import re
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Union

from aiohttp import web

from .gate import parse_request
from .view import RunnerView

if TYPE_CHECKING:  # only for the annotation: importing the adapters package is not needed at run time
    from adapters.base import Secret

log = logging.getLogger("killswitch.runner.api")

DEFAULT_MAX_BODY_BYTES = 16_384
MAX_NAME = 256  # longest policy, scope or approver name
MAX_REASON = 500  # longest operator reason
SOURCE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_DMS_TIMEOUT_S = 7 * 86_400
MAX_LOCK_TTL_S = 30 * 86_400
LOCK_MODES = ("halted", "reducing")
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CHECK_ORDER_PATH = "/v1/check-order"

_STATUS_CODES = {400: "BAD_REQUEST", 401: "AUTH_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE", 500: "INTERNAL"}


# --- errors -------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A refusal with its HTTP status and reason code; rendered by the middleware."""

    def __init__(self, status: int, code: str, detail: str = "", headers: Optional[dict] = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


def _bad(detail: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", detail)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


# --- rendering ----------------------------------------------------------------------------------------


def _plain(obj: Any, depth: int = 0) -> Any:
    """``obj`` as plain JSON values: dataclasses → objects, tuples → lists, non-finite floats →
    null. Raises ``TypeError`` on anything JSON cannot hold."""
    if depth > 64:
        raise TypeError("nested too deeply")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"a key of type {type(k).__name__}")
            out[k] = _plain(v, depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1) for v in obj]
    raise TypeError(f"cannot render a {type(obj).__name__}")


def _json(status: int, payload: Any, headers: Optional[dict] = None) -> web.Response:
    # ensure_ascii (the default) keeps lone surrogates a client sent from breaking the encoder
    text = json.dumps(_plain(payload), allow_nan=False, separators=(",", ":"))
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


def _error(request: web.Request, status: int, code: str, reason: str,
           headers: Optional[dict] = None) -> web.Response:
    payload: dict = {"error": code, "reason": reason}
    if request.path == CHECK_ORDER_PATH:
        payload = {"allow": False, **payload}
    return _json(status, payload, headers)


# --- authentication -----------------------------------------------------------------------------------


class _Token:
    """The expected bearer token, kept as a SHA-256 digest so that comparing it takes the same
    time whatever was presented (length included). Prints as a mask."""

    __slots__ = ("_digest",)

    def __init__(self, value: str):
        self._digest = hashlib.sha256(value.encode("utf-8")).digest()

    def matches(self, presented: bytes) -> bool:
        return hmac.compare_digest(hashlib.sha256(presented).digest(), self._digest)

    def __repr__(self) -> str:
        return "_Token('****')"

    __str__ = __repr__


def _token_from(token: Any) -> Optional[_Token]:
    if token is None:
        return None
    reveal = getattr(token, "reveal", None)
    value = reveal() if callable(reveal) else token
    if not isinstance(value, str):
        raise TypeError("the API token must be a string or a Secret")
    if not value:
        return None  # an empty token disables mutations; it never opens them
    if value != value.strip() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ValueError("the API token must not contain spaces or control characters")
    return _Token(value)


def _authenticate(request: web.Request, token: Optional[_Token]) -> None:
    if token is None:
        raise ApiError(403, "MUTATIONS_DISABLED", "the API was started without a token; mutations are refused")
    challenge = {"WWW-Authenticate": 'Bearer realm="killswitch"'}
    values = request.headers.getall("Authorization", [])
    if not values:
        raise ApiError(401, "AUTH_REQUIRED", "send Authorization: Bearer <token>", challenge)
    if len(values) > 1:
        raise ApiError(401, "AUTH_INVALID", "more than one Authorization header", challenge)
    scheme, _, credentials = values[0].strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise ApiError(401, "AUTH_INVALID", "expected Authorization: Bearer <token>", challenge)
    try:  # aiohttp decodes header bytes with surrogateescape; this gives the bytes back
        presented = credentials.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        presented = b""
    if not token.matches(presented):
        raise ApiError(401, "AUTH_INVALID", "the token is not valid", challenge)


# --- bodies -------------------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {_show(k)}")
        out[k] = v
    return out


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes")
    try:
        data = await request.read()  # the app's client_max_size stops a chunked body that runs over
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes") from None
    except Exception as e:  # a broken chunked encoding, a connection cut mid-body: bad input
        raise _bad(f"the body could not be read ({type(e).__name__})") from None
    if len(data) > max_bytes:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes")
    return data


def _parse_object(request: web.Request, data: bytes) -> dict:
    if request.content_type != "application/json":
        raise ApiError(400, "BAD_CONTENT_TYPE", "send Content-Type: application/json")
    charset = request.charset
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ApiError(400, "BAD_CONTENT_TYPE", "the body must be UTF-8")
    if not data:
        raise ApiError(400, "BAD_JSON", "the body is empty; send a JSON object")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "BAD_JSON", "the body is not UTF-8") from None
    try:
        doc = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ApiError(400, "BAD_JSON", "the body is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, NaN/Infinity, duplicate keys, an integer too long
        raise ApiError(400, "BAD_JSON", str(e)[:200]) from None
    if not isinstance(doc, dict):
        raise _bad(f"the body must be a JSON object, not {_json_type(doc)}")
    return doc


def _json_type(doc: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(doc), "a number")


def _only(body: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(_show(k) for k in unknown[:5])}; "
                   f"known: {', '.join(allowed) or 'none'}")
    missing = [k for k in allowed if k not in body]
    if missing:
        raise _bad(f"missing field(s) {', '.join(missing)}")


def _fields(body: dict, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Like :func:`_only`, with keys that may be left out."""
    allowed = required + optional
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(_show(k) for k in unknown[:5])}; known: {', '.join(allowed)}")
    missing = [k for k in required if k not in body]
    if missing:
        raise _bad(f"missing field(s) {', '.join(missing)}")


def _seconds(body: dict, key: str, limit: float, *, optional: bool = False) -> Optional[float]:
    v = body.get(key)
    if v is None and optional:
        return None
    try:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= limit
    except OverflowError:  # an integer too large for a float
        ok = False
    if not ok:
        raise _bad(f'"{key}" must be a number of seconds above 0 and at most {limit:.0f}, not {_show(v)}')
    return float(v)


def _source(body: dict) -> str:
    v = body["source"]
    if not isinstance(v, str) or not SOURCE_RE.fullmatch(v):
        raise _bad(f'"source" is 1 to 64 of A-Z a-z 0-9 . _ -, not {_show(v)}')
    return v


def _change(result: Any, what: str) -> web.Response:
    done, why = result.done, result.reason
    if not isinstance(done, bool) or not isinstance(why, str):
        raise TypeError(f"{what}() must return a ChangeResult")
    return _json(200 if done else 409, {"done": done, "reason": why})


def _name(body: dict, key: str, limit: int = MAX_NAME, *, free_text: bool = False) -> str:
    v = body[key]
    if not isinstance(v, str) or not v.strip():
        raise _bad(f'"{key}" must be a non-empty string, not {_show(v)}')
    if len(v) > limit:
        raise _bad(f'"{key}" is longer than {limit} characters')
    if not free_text and any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
        raise _bad(f'"{key}" must not contain control characters')
    return v


# --- the application ----------------------------------------------------------------------------------


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a view method; a runner may implement one as a coroutine."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class _Handlers:
    def __init__(self, view: RunnerView, token: Optional[_Token], max_body_bytes: int):
        self.view = view
        self.token = token
        self.max_body_bytes = max_body_bytes

    async def _body(self, request: web.Request) -> dict:
        return _parse_object(request, await _read_body(request, self.max_body_bytes))

    # read

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        answer = await _call(self.view.ready)
        ready, why = answer  # anything else is the view's bug: 500
        ok = ready is True  # fail closed: only a real True is ready
        return _json(200 if ok else 503, {"ready": ok, "reason": str(why)})

    async def metrics(self, request: web.Request) -> web.Response:
        text = await _call(self.view.metrics_text)
        if not isinstance(text, str):
            raise TypeError("metrics_text() must return a string")
        return web.Response(status=200, body=text.encode("utf-8", "backslashreplace"),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def status(self, request: web.Request) -> web.Response:
        return _json(200, await _call(self.view.status))

    async def lock(self, request: web.Request) -> web.Response:
        query = request.query
        unknown = sorted(set(query) - {"scope"})
        if unknown:
            raise _bad(f"unknown query parameter(s) {', '.join(_show(k) for k in unknown[:5])}; known: scope")
        scopes = query.getall("scope", [])
        if len(scopes) > 1:
            raise _bad("give scope at most once")
        scope = None
        if scopes:
            scope = _name({"scope": scopes[0]}, "scope")
        doc = await _call(self.view.lock_document, scope)
        if not isinstance(doc, dict):
            raise TypeError("lock_document() must return a dict")
        return _json(200, doc)

    async def dms_status(self, request: web.Request) -> web.Response:
        doc = await _call(self.view.dms_status)
        if not isinstance(doc, dict):
            raise TypeError("dms_status() must return a dict")
        return _json(200, doc)

    async def close_progress(self, request: web.Request) -> web.Response:
        close_id = _name({"id": request.match_info.get("id", "")}, "id", 2 * MAX_NAME)
        doc = await _call(self.view.close_progress, close_id)
        if doc is None:
            raise ApiError(404, "UNKNOWN_CLOSE", "this runner queued no close by that id (or forgot it)")
        if not isinstance(doc, dict):
            raise TypeError("close_progress() must return a dict or None")
        return _json(200, doc)

    async def runbook(self, request: web.Request) -> web.Response:
        incident = _name({"incident": request.match_info.get("incident", "")}, "incident", 2 * MAX_NAME)
        unknown = sorted(set(request.query) - {"format"})
        if unknown:
            raise _bad(f"unknown query parameter(s) {', '.join(_show(k) for k in unknown[:5])}; known: format")
        fmt = request.query.getall("format", ["md"])
        if len(fmt) > 1 or fmt[0] not in ("md", "html"):
            raise _bad(f'"format" is md or html, not {_show(fmt if len(fmt) > 1 else fmt[0])}')
        lookup = getattr(self.view, "runbook", None)  # a runner without the runbook sink has none
        record = await _call(lookup, incident) if callable(lookup) else None
        if record is None:
            raise ApiError(404, "UNKNOWN_INCIDENT", f"no runbook is stored for incident {_show(incident)}")
        if fmt[0] == "html":
            return web.Response(status=200, text=record.html, content_type="text/html", charset="utf-8",
                                headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
        return web.Response(status=200, text=record.markdown, content_type="text/markdown", charset="utf-8")

    async def check_order(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            parse_request(body)
        except ValueError as e:
            raise _bad(str(e)) from None
        decision = await _call(self.view.check_order, body)
        allow, reason = decision.allow, decision.reason
        if not isinstance(allow, bool) or not isinstance(reason, str):
            raise TypeError("check_order() must return a Decision")
        return _json(200, {"allow": allow, "reason": reason})

    # mutating

    async def heartbeat(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        source = request.match_info.get("source", "")
        if not SOURCE_RE.fullmatch(source):
            raise _bad(f"a source is 1 to 64 of A-Z a-z 0-9 . _ -, not {_show(source)}")
        data = await _read_body(request, self.max_body_bytes)
        if data:  # an empty body is fine; a body, if sent, is an empty JSON object
            _only(_parse_object(request, data), ())
        from ..state.store import StoreError

        try:
            await _call(self.view.heartbeat, source)
        except StoreError as e:  # a standby could not store it for the leader: the client beats again
            log.warning("heartbeat of %s not stored for the leader: %s", source, e)
            raise ApiError(503, "STATE_UNREACHABLE", "this standby could not store the heartbeat for the leader; "
                           "send it again", {"Retry-After": "1"}) from None
        return web.Response(status=204)

    async def reset(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _only(body, ("policy", "scope", "approver", "reason"))
        policy, scope, approver = _name(body, "policy"), _name(body, "scope"), _name(body, "approver")
        reason = _name(body, "reason", MAX_REASON, free_text=True)
        result = await _call(self.view.reset, policy, scope, approver, reason)
        done, why = result.done, result.reason
        if not isinstance(done, bool) or not isinstance(why, str):
            raise TypeError("reset() must return a ResetResult")
        return _json(503 if why.startswith("NOT_LEADER") else 200, {"done": done, "reason": why})

    async def close(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _only(body, ("scope", "reason", "dry_run"))
        scope = _name(body, "scope")
        reason = _name(body, "reason", MAX_REASON, free_text=True)
        dry_run = body["dry_run"]
        if not isinstance(dry_run, bool):
            raise _bad(f'"dry_run" must be true or false, not {_show(dry_run)}')
        result = await _call(self.view.close, scope, reason, dry_run)
        accepted, why, orders = result.accepted, result.reason, getattr(result, "orders", 0)
        if not isinstance(accepted, bool) or not isinstance(why, str):
            raise TypeError("close() must return a CloseResult")
        return _json(202 if accepted else 409, {"accepted": accepted, "reason": why, "orders": orders,
                                                "id": getattr(result, "id", None)})

    async def lock_scope(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _fields(body, ("scope", "reason"), ("mode", "ttl_s"))
        scope = _name(body, "scope")
        reason = _name(body, "reason", MAX_REASON, free_text=True)
        mode = body.get("mode", "halted")
        if mode not in LOCK_MODES or not isinstance(mode, str):
            raise _bad(f'"mode" must be "halted" or "reducing", not {_show(mode)}')
        ttl_s = _seconds(body, "ttl_s", MAX_LOCK_TTL_S, optional=True)
        return _change(await _call(self.view.lock_scope, scope, mode, reason, ttl_s), "lock_scope")

    async def unlock_scope(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _only(body, ("scope", "reason"))
        scope = _name(body, "scope")
        reason = _name(body, "reason", MAX_REASON, free_text=True)
        return _change(await _call(self.view.unlock_scope, scope, reason), "unlock_scope")

    async def dms_arm(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _only(body, ("source", "timeout_s"))
        source = _source(body)
        timeout_s = _seconds(body, "timeout_s", MAX_DMS_TIMEOUT_S)
        return _change(await _call(self.view.dms_arm, source, timeout_s), "dms_arm")

    async def dms_disarm(self, request: web.Request) -> web.Response:
        _authenticate(request, self.token)
        body = await self._body(request)
        _only(body, ("source",))
        return _change(await _call(self.view.dms_disarm, _source(body)), "dms_disarm")


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """Render every refusal as JSON; turn anything unexpected into a bare 500 INTERNAL."""
    try:
        return await handler(request)
    except ApiError as e:
        return _error(request, e.status, e.code, e.reason, e.headers)
    except web.HTTPException as e:  # the router's 404/405, aiohttp's own 413
        if e.status < 400:
            raise
        code = _STATUS_CODES.get(e.status, f"HTTP_{e.status}")
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        return _error(request, e.status, code, code, headers)
    except Exception:
        # The traceback is for the operator's log; the body says nothing. Handlers never see
        # the token, so neither can the traceback.
        log.exception("API %s %s failed", request.method, request.path)
        return _error(request, 500, "INTERNAL", "INTERNAL")


async def _no_store(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


def make_app(view: RunnerView, *, token: Union["Secret", str, None],
             max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> web.Application:
    """The API over ``view``. ``token`` (a :class:`~adapters.base.Secret` or a string) guards
    the mutating endpoints; None or empty refuses them all (403 ``MUTATIONS_DISABLED``)."""
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes <= 0:
        raise ValueError("max_body_bytes must be a whole number above 0")
    handlers = _Handlers(view, _token_from(token), max_body_bytes)
    app = web.Application(middlewares=[_errors], client_max_size=max_body_bytes)
    app.on_response_prepare.append(_no_store)
    r = app.router
    r.add_get("/healthz", handlers.healthz)
    r.add_get("/readyz", handlers.readyz)
    r.add_get("/metrics", handlers.metrics)
    r.add_get("/v1/status", handlers.status)
    r.add_get("/v1/lock", handlers.lock)
    r.add_post(CHECK_ORDER_PATH, handlers.check_order)
    # any tail, so that a bad source name is a 400 that says why rather than a bare 404
    r.add_post("/v1/heartbeat/{source:.*}", handlers.heartbeat)
    r.add_post("/v1/reset", handlers.reset)
    r.add_post("/v1/close", handlers.close)
    r.add_get("/v1/close/{id:.+}", handlers.close_progress)
    r.add_get("/v1/runbooks/{incident:.+}", handlers.runbook)
    r.add_post("/v1/lock", handlers.lock_scope)
    r.add_post("/v1/unlock", handlers.unlock_scope)
    r.add_get("/v1/dms", handlers.dms_status)
    r.add_post("/v1/dms/arm", handlers.dms_arm)
    r.add_post("/v1/dms/disarm", handlers.dms_disarm)
    return app


async def start_api(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (port 0: any free one); returns the runner and the base URL.
    No access log: the runner logs what it does itself."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
    except BaseException:
        await runner.cleanup()
        raise
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    return runner, f"http://{shown}:{bound_port}"


async def stop_api(runner: web.AppRunner) -> None:
    """Stop serving: close the listening socket and the open connections."""
    await runner.cleanup()


__all__ = ["ApiError", "DEFAULT_MAX_BODY_BYTES", "make_app", "start_api", "stop_api"]
