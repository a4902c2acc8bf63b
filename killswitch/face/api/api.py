"""The runner's HTTP API: an aiohttp application over a :class:`~killswitch.face.runner_view.RunnerView`.

The routes, who may call each, their bodies and their answers are docs/api.md's (the schema:
docs/openapi.yaml, which alone lists the revoke's and the firm-wide kill's); the console's page,
view and static files (``/console/static/{name}``) are :mod:`..console`'s. Every response carries
the security headers (:data:`.http.SECURITY_HEADERS`) from one response hook; every body but
``/metrics``, the HTML pages and the 204 is JSON; an error is ``{"error": CODE, "reason": "CODE:
detail"}``; ``GET /v1/close/{id}`` answers 404 ``UNKNOWN_CLOSE`` for a close the runner does not
know.

Statuses for what goes wrong: 400 (``BAD_CONTENT_TYPE``, ``BAD_JSON``, ``BAD_REQUEST``: not
``application/json`` in UTF-8, not strict JSON — NaN, duplicate keys —, not an object, unknown
fields, wrong types), 401 (``AUTH_REQUIRED`` / ``AUTH_INVALID``, with ``WWW-Authenticate:
Bearer``; with a trusted proxy, ``PROXY_HEADER_UNTRUSTED``, ``PROXY_HEADER_INVALID``,
``PROXY_USER_INVALID``, ``PROXY_GROUPS_UNMAPPED``: :mod:`.proxy`), 403 ``MUTATIONS_DISABLED``
(the app was built without a token: mutations are refused, never open; ``CONSOLE_CLOSED`` for
the console's reads), 404 ``NOT_FOUND``, 405
``METHOD_NOT_ALLOWED`` (with ``Allow``), 413 ``BODY_TOO_LARGE`` (by ``Content-Length`` before
reading, or while reading a chunked body), 429 with ``Retry-After`` (``RATE_LIMITED``: the
caller's identity sends writes faster than its rate; ``WRITE_QUEUE_FULL``: every caller together
has queued as many changes as the runner takes; nothing was done — see :mod:`.admission`;
decided after authentication and before the body is read), 500 ``INTERNAL`` (the view raised or answered
something unserialisable; the body says only ``INTERNAL``, the traceback goes to the log).
Authentication comes before the body is read, so an unauthenticated client learns nothing about
validation.

Names from the path are read after URL decoding (``%2e%2e`` is ``..``) by the rules of names in
a body (:mod:`killswitch.face.request`): a source as above, also the dead man's switch's ``source``
(``BAD_SOURCE``); a close's or an incident's id with an empty or all-dots part, a control
character or a space around it, 400 ``BAD_NAME``. A request aiohttp's parser refuses is a 400
``BAD_HTTP_REQUEST: <parser error>`` that quotes nothing of it, in the answer or the log
(:mod:`.http`).

What it owns: the routes, one per entry of the operations' table
(:mod:`killswitch.view.operations`: who may call each, and which are writes) and those
that call no view, the middleware that renders every refusal, and serving the app. The handlers
(HTTP parsing, strict body validation, answering with the view's answers) are
:mod:`.handlers`'s; the answers rendered, and the polled reads shared and encoded once off the
loop, by :mod:`.render`; authentication and the admission of writes are :mod:`.access`'s
middleware. What it must not do: hold runner state or decide anything itself (the view does),
block on I/O, log or echo the token (not in logs, not in any body, not in a repr), compare the
token other than with :func:`hmac.compare_digest`, answer 500 to bad input, or let a request
through when it cannot authenticate it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Awaitable, Callable, Optional, Union

from aiohttp import web

from ...runner.lease.turn import TurnBusy
from ...view.operations import CHANGE, FIRM, OPERATIONS, OVERRIDE, PUBLIC, READER, REVOKE, SILENCE, roles_of
from ..console import ConsoleHandlers
from ..console.charts_http import ChartHandlers
from ..request import ApiError
from ..runner_view import RunnerView
from .access import access_middleware, shared_token
from .admission import Admission
from .drift import DriftHandlers
from .firm_kill import FirmKillHandlers
from .handlers import ApiHandlers, call_view, change_response, error_response
from .http import SECURITY_HEADERS, QuietAppRunner
from .identity import ROLES, LiveTokens, Tokens
from .overrides import OverrideHandlers
from .proxy import TrustedProxy
from .refused_writes import RefusedWrites
from .render import json_response as _json
from .revoke import RevokeHandlers
from .silences import SilenceHandlers

if TYPE_CHECKING:  # only for the annotation: importing the adapters package is not needed at run time
    from adapters.credentials import Secret

    from .signin import Signin

log = logging.getLogger("killswitch.face.api")

DEFAULT_MAX_BODY_BYTES = 16_384

_STATUS_CODES = {400: "BAD_REQUEST", 401: "AUTH_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL"}


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """Render every refusal as JSON (a change that did not have the runner's state in time:
    503 ``TURN_BUSY``); turn anything unexpected into a bare 500 INTERNAL."""
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(request, e.status, e.code, e.reason, e.headers)
    except TurnBusy as e:  # a change that waited too long for the runner's state: not done
        return error_response(request, 503, "TURN_BUSY", str(e), {"Retry-After": "1"})
    except web.HTTPException as e:  # the router's 404/405, aiohttp's own 413
        if e.status < 400:
            raise
        code = _STATUS_CODES.get(e.status, f"HTTP_{e.status}")
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        return error_response(request, e.status, code, code, headers)
    except Exception:
        # The traceback is for the operator's log; the body says nothing. Handlers never see
        # the token, so neither can the traceback.
        log.exception("API %s %s failed", request.method, request.path)
        return error_response(request, 500, "INTERNAL", "INTERNAL")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, set here once so that a new route (an HTML page above all) cannot forget
    them: :data:`~.http.SECURITY_HEADERS`; a page's own Content-Security-Policy is kept,
    with ``frame-ancestors 'none'`` added when it does not say who may frame it."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":
            headers[name] = value
    csp = headers.get("Content-Security-Policy")
    if not csp:
        headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"]
    elif "frame-ancestors" not in csp:
        headers["Content-Security-Policy"] = csp.rstrip("; ") + "; frame-ancestors 'none'"


def make_app(view: RunnerView, *, token: Union["Secret", str, None] = None,
             tokens: Union[Tokens, LiveTokens, None] = None,
             max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, console_public: bool = False,
             admission: Optional[Admission] = None,
             refusal: Optional[Callable[[], Optional[str]]] = None,
             proxy: Optional[TrustedProxy] = None,
             signin: "Optional[Signin]" = None) -> web.Application:
    """The API over ``view``. ``tokens``: the identities that may call the mutating endpoints
    (:mod:`.identity`); ``token`` (a :class:`~adapters.credentials.Secret` or a string): the single shared
    token, one more identity (``shared-token``, every role). Neither: mutations are refused
    (403 ``MUTATIONS_DISABLED``). ``console_public``: the reads that show the book (the console's
    page data, ``/console/view``, ``/console/runbook/{incident}``, ``/v1/triggers``, ``/v1/incidents``, ``/v1/status``,
    ``/v1/runbooks/{incident}``, ``/v1/close/{id}``) are shown without a token; by default they need
    one with the viewer, operator or approver role (the console's actions always need one).
    ``admission``: the rates and queue that writes are admitted by (:mod:`.admission`; default
    limits when None). ``refusal``: why operator writes that add risk are refused now
    (``--audit-sink-required`` with no audit sink taking rows: 503 ``AUDIT_SINK_DOWN``), or None;
    those that reduce risk go on. ``tokens`` may be a
    :class:`~.identity.LiveTokens` its caller keeps: a
    reload of the tokens document swaps the identities in force without a restart (its shared
    token is then the one it holds, and ``token`` must be None). ``proxy``: the trusted-proxy mode
    (:mod:`.proxy`), the person an authenticating proxy in front names by its headers; None: those
    headers are never read. ``signin``: single sign-on for the console (:mod:`.signin`): its
    endpoints, and its session cookie as a way in."""
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes <= 0:
        raise ValueError("max_body_bytes must be a whole number above 0")
    if isinstance(tokens, LiveTokens):
        if token is not None:
            raise ValueError("give the shared token to the LiveTokens, not beside it")
        known = tokens
    else:
        known = LiveTokens(tokens or Tokens(), shared_token(token))
    handlers = ApiHandlers(view, max_body_bytes)
    h = handlers
    console = ConsoleHandlers(view, call_view, public=console_public, signin=signin is not None,
                              proxied=proxy is not None)
    quiet = SilenceHandlers(view, call_view, _json, h.object_body)
    revoking = RevokeHandlers(view, call_view, _json, h.object_body)
    killing = FirmKillHandlers(view, call_view, _json, h.object_body)
    overriding = OverrideHandlers(view, call_view, _json, h.object_body)
    reader = roles_of((READER,), console_public)
    # an operation with a handler of its own has it under its name in one of these; any other is
    # answered from its table entry (handlers.operation), its change by its group's statuses
    own = (h, ChartHandlers(view, call_view), quiet, revoking, overriding,
           DriftHandlers(view, call_view, _json, h.object_body))
    answers = {CHANGE: change_response, SILENCE: quiet.answer, OVERRIDE: overriding.answer,
               REVOKE: revoking.answer, FIRM: killing.answer}
    # each route: method, path, handler, who may call it, and what kind of write it is (admitted
    # by rate and queue before its handler runs; None: a read): the operations' table
    # (view/operations.py), and the routes that call no view: the probe of the process, who
    # a token is, the console's page, its refresh, its files and its runbook dialog, single sign-on
    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]],
                       Optional[tuple[str, ...]], Optional[str]]] = [
        ("GET", "/healthz", h.healthz, PUBLIC, None),
        ("GET", "/v1/whoami", h.whoami, ROLES, None),
        ("GET", "/", console.page, PUBLIC, None),
        ("GET", "/console/view", console.fragment, reader, None),
        ("GET", "/console/runbook/{incident:.+}", console.runbook, reader, None),
        ("GET", "/console/static/{name}", console.asset, PUBLIC, None),
    ]
    for op in OPERATIONS:
        handler = next((getattr(g, op.name) for g in own if op.name in vars(type(g))), None)
        routes.append((op.method, op.path, handler or h.operation(op, answers), roles_of(op.roles, console_public),
                       op.write))
    if signin is not None:  # single sign-on (signin/flow.py): each endpoint checks what it is sent itself
        signin.tokens = known
        if callable(getattr(view, "audit_signin", None)):  # sign-ins and sign-outs in the audit trail
            signin.audit = lambda kind, row: call_view(view.audit_signin, kind, row)
        routes += [("GET", "/v1/auth/login", signin.login, PUBLIC, None),
                   ("GET", "/v1/auth/callback", signin.callback, PUBLIC, None),
                   ("POST", "/v1/auth/logout", signin.logout, PUBLIC, None)]
    app = web.Application(middlewares=[_errors], client_max_size=max_body_bytes)
    access: dict[tuple[str, str], Optional[tuple[str, ...]]] = {}
    writes: dict[tuple[str, str], str] = {}
    for method, path, handler, roles, kind in routes:
        resource = app.router.add_resource(path)
        resource.add_route(method, handler)
        if method == "GET":
            resource.add_route("HEAD", handler)
        access[(method, resource.canonical)] = roles
        if kind is not None:
            writes[(method, resource.canonical)] = kind
    admission = admission or Admission()
    handlers.identity_sources = admission.sources  # the sources each identity beats, counted on /metrics with it
    audit = getattr(view, "audit_write_refusal", None)
    refused = RefusedWrites((lambda row: call_view(audit, row)) if callable(audit) else None)
    app.middlewares.append(access_middleware(known, access, writes, admission, refusal, proxy, signin, refused))
    app.on_response_prepare.append(_security_headers)
    return app


async def start_api(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (port 0: any free one); returns the runner and the base URL.
    No access log: the runner logs what it does itself. A request that does not parse is
    answered and logged without quoting it (:mod:`.http`)."""
    runner = QuietAppRunner(app, access_log=None, shutdown_timeout=1.0)
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
