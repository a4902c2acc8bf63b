"""Who may call the runner's API: authentication, the access table's middleware, admission.

What it owns: the bearer token of a request checked against the identities (:mod:`.identity`),
or, when it sends none, the client certificate its TLS connection was verified with (mutual TLS:
``ksctl run --web-config-file`` with a client CA), or else the console's session cookie of a
person signed in through the identity provider (``ksctl run --oidc-config``: :mod:`.signin`,
which also checks that a write it authenticates comes from the console's own origin); with
``--trusted-proxy``, the person an authenticating proxy in front names by its headers, taken
from that proxy alone (:mod:`.proxy`: the same headers from anywhere else are refused first, on
every route); a credential in the URL (``?access_token=``, ``?token=``, ``?id_token=``) refused
on every route (400 ``TOKEN_IN_URL``), never used;
the one middleware that authenticates and authorises every request from one table of routes
(the operations' table, :mod:`killswitch.view.operations`, and the routes that call no
view) before any handler runs (a route the table does not list is refused), and, for a write, its
admission by rate and queue (:mod:`.admission`), decided before the body is read; with
``--audit-sink-required``, an operator's write that adds risk (``LOOSENS``: an unlock, a reset, an
override, a restore, a silence ...) refused (503 ``AUDIT_SINK_DOWN``) while no audit sink takes
rows. Fail-closed never refuses what reduces risk (``TIGHTENS``: a halt, a lock, a cancel, a
close, a kill, a revoke) nor a note (``NOTES``: an acknowledgement): it is applied, its row kept
in the local chain and shipped when a sink answers; the handler reads why the sink gate is shut
(:func:`sink_down`), so that a lock which would loosen the operator's lock in force waits too.
Heartbeats never wait (they are the bots', and the tick's own actions pass no API).
The handlers read the caller from the request (:func:`caller`).

Must not: log or echo a token, compare one other than with :func:`hmac.compare_digest` (the
identities do), or let a request through that it cannot authenticate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from aiohttp import web

from ...view.operations import LOOSENS, OPERATOR_WRITES, PUBLIC, TIGHTENS
from ..request import ApiError
from .admission import HEARTBEAT, WRITE, Admission, Shed
from .identity import Identity, LiveTokens, Tokens
from .proxy import TrustedProxy
from .proxy.headers import peer_address, verified_cert
from .refused_writes import RefusedWrites, typed_target

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .signin import Signin

log = logging.getLogger("killswitch.face.api")
# query parameters that would carry a credential in a URL (logs, history, Referer): refused
TOKEN_PARAMS = ("access_token", "token", "id_token")


# --- authentication -----------------------------------------------------------------------------------


def shared_token(token: Any) -> Optional[str]:
    """The single shared token's value (a Secret or a string), checked; None or empty: none."""
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
    return value


def authenticate(request: web.Request, tokens: Tokens, signin: "Optional[Signin]" = None) -> Identity:
    if not len(tokens):
        if request.method in ("GET", "HEAD"):  # a read the console's setting keeps to token holders
            raise ApiError(403, "CONSOLE_CLOSED", "the API was started without tokens and without --console-public: "
                                                  "the console's views, the status, the runbooks and the closes' "
                                                  "progress are shown to no one")
        raise ApiError(403, "MUTATIONS_DISABLED", "the API was started without tokens; mutations are refused")
    challenge = {"WWW-Authenticate": 'Bearer realm="killswitch"'}
    values = request.headers.getall("Authorization", [])
    if not values:
        peercert = verified_cert(request)
        if peercert:
            identity = tokens.identify_cert(peercert)
            if identity is None:
                raise ApiError(401, "AUTH_INVALID", "the client certificate names no identity of the tokens "
                                                    "document, or more than one", challenge)
            return identity
        person = signin.identify(request, tokens) if signin is not None else None
        if person is not None:
            return person
        raise ApiError(401, "AUTH_REQUIRED", "send Authorization: Bearer <token>" + (
            ", or sign in (/v1/auth/login)" if signin is not None else ""), challenge)
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
    identity = tokens.identify(presented)
    if identity is None:
        raise ApiError(401, "AUTH_INVALID", "the token is not valid", challenge)
    return identity


# --- who may call what: listed once (view/operations.py), denied by default -------------------------

# where the middleware leaves the caller for the handler, and why the sink gate is shut
_IDENTITY: Any = web.RequestKey("identity", Identity) if hasattr(web, "RequestKey") else "identity"
_SINK_DOWN: Any = web.RequestKey("sink_down", str) if hasattr(web, "RequestKey") else "sink_down"


def admitted_as(kind: str) -> str:
    """The admission class of a route's write (:mod:`.admission`): a bot's heartbeat, or an
    operator's write whatever it does to risk (one rate, one queue)."""
    return HEARTBEAT if kind == HEARTBEAT else WRITE


def caller(request: web.Request) -> Identity:
    """The authenticated identity the middleware put on the request (a mutating handler only)."""
    ident = request.get(_IDENTITY)
    if not isinstance(ident, Identity):  # a handler reached without the middleware: never
        raise ApiError(403, "FORBIDDEN", "no authenticated caller")
    return ident


def sink_down(request: web.Request) -> Optional[str]:
    """Why the audit sink gate is shut for a write that reduces risk and was let through
    (``--audit-sink-required``, no sink takes rows), or None: a handler whose change could
    still loosen (a lock in place of a stricter one) refuses that case with it."""
    why = request.get(_SINK_DOWN)
    return why if isinstance(why, str) else None


def access_middleware(tokens: LiveTokens, access: dict[tuple[str, str], Optional[tuple[str, ...]]],
                       writes: dict[tuple[str, str], str], admission: Admission,
                       refusal: Optional[Callable[[], Optional[str]]] = None, proxy: Optional[TrustedProxy] = None,
                       signin: "Optional[Signin]" = None, refused: Optional[RefusedWrites] = None):
    @web.middleware
    async def _access(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
        """``_checked``; an operator's write it (or its handler, before any command) refuses
        is audited, bounded (:mod:`.refused_writes`)."""
        try:
            return await _checked(request, handler)
        except ApiError as e:
            key = (request.method, _canonical(request) or "")
            if refused is not None and writes.get(key) in OPERATOR_WRITES:
                who = request.get(_IDENTITY)
                addr = peer_address(request)
                target = await typed_target(request, lambda v: _is_token(request, tokens.current, v))
                refused.refused(by=who.name if who is not None else None,
                                source=str(addr) if addr is not None else "unknown", method=request.method,
                                path=key[1], code=e.code, reason=e.detail, target=target)
            raise

    async def _checked(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
        """Authenticate and authorise before any handler runs, then admit a write (its
        identity's rate, the queue). A route the table does not list is refused: a new endpoint
        cannot forget authentication, nor a new write its admission."""
        if proxy is not None:  # the proxy's headers from elsewhere: refused whatever the route
            proxy.screen(request)
        if any(p in request.query for p in TOKEN_PARAMS):
            log.warning("TOKEN_IN_URL: %s %s refused (a credential in the query)", request.method, request.path)
            raise ApiError(400, "TOKEN_IN_URL", "a credential in the URL is never used: send Authorization: Bearer "
                                                "<token> (it would be kept in logs, history and Referer)")
        info = request.match_info
        route = info.route
        resource = route.resource
        if info.http_exception is not None or resource is None:
            return await handler(request)  # the router's own 404 / 405
        method = "GET" if request.method == "HEAD" else request.method
        key = (method, resource.canonical)
        if key not in access:
            log.error("API route %s %s is not in the access table: refused", method, resource.canonical)
            raise ApiError(403, "FORBIDDEN", "this endpoint is not open to anyone")
        roles = access[key]
        if roles is PUBLIC:
            return await handler(request)
        current = tokens.current  # what is in force now (a reload swaps it whole)
        person = proxy.person(request, current) if proxy is not None else None
        identity = person or authenticate(request, current, signin)
        request[_IDENTITY] = identity  # (who was refused, too: a refused write is audited with its author)
        if not any(identity.may(r) for r in roles):
            raise ApiError(403, "ROLE_REQUIRED", f"{identity.name} may not do this; it needs the role "
                                                 f"{' or '.join(roles)}")
        kind = writes.get(key)
        if kind is None:
            return await handler(request)
        why = refusal() if refusal is not None and kind in OPERATOR_WRITES else None  # never a heartbeat
        if why is not None and kind == LOOSENS:
            log.warning("AUDIT_SINK_DOWN: %s %s by %s refused: %s", method, resource.canonical, identity.name, why)
            raise ApiError(503, "AUDIT_SINK_DOWN", why, {"Retry-After": "5"})
        if why is not None:  # what reduces risk goes on; its row waits in the local chain
            request[_SINK_DOWN] = why
            log.warning("AUDIT_SINK_DOWN: %s %s by %s let through (it %s risk); its audit row waits in the "
                        "local chain for a sink", method, resource.canonical, identity.name,
                        "reduces" if kind == TIGHTENS else "adds no")
        try:
            ticket = admission.admit(identity.name, admitted_as(kind))
        except Shed as e:
            raise ApiError(429, e.code, e.reason, {"Retry-After": str(e.retry_after_s)}) from None
        try:
            return await handler(request)
        finally:
            ticket.done()

    return _access


def _is_token(request: web.Request, tokens: Tokens, value: str) -> bool:
    """Whether ``value`` is a credential: one this runner knows, or the one the request presented."""
    presented = [v.strip().partition(" ")[2].strip() for v in request.headers.getall("Authorization", [])]
    if value in presented:
        return True
    try:
        return tokens.identify(value.encode("utf-8", "surrogateescape")) is not None
    except UnicodeEncodeError:
        return False


def _canonical(request: web.Request) -> Optional[str]:
    resource = request.match_info.route.resource
    return resource.canonical if request.match_info.http_exception is None and resource is not None else None
