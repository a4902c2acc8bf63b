"""The API's handlers of the runner's own routes (:mod:`.api` makes a route of every entry of the
operations' table, :mod:`killswitch.view.operations`): each reads and checks its request
(:mod:`killswitch.face.request`), calls the view (:func:`call_view`: on the view's loop,
whether the call answers at once or waits) and renders the answer (:mod:`.render`; a change's
refusal with its status, :func:`error_response` for an error). An entry whose body is fields of
the table's kinds is answered by :meth:`ApiHandlers.operation`, from the entry alone; one that
needs more has a handler of its own, named as the entry is, here or in its group's module (the
silences', revokes', overrides', drift's and charts').

What it must not do: hold runner state or decide anything itself (the view does), block on I/O,
or see the token (authentication is :mod:`.access`'s middleware, before any handler).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Mapping, Optional, ParamSpec, TypeVar, overload

from aiohttp import web

from ...holds import lock_change_text
from ...metrics import CONTENT_TYPE
from ...runner.gate.request import parse_request
from ...view import ActionPreview, Caller
from ...view.operations import COUNT, ITEMS, JSON, NAME, PREVIEW, READ, SECONDS, SOURCE, TEXT, Arg, Operation
from ..request import (
    MAX_NAME,
    MAX_REASON,
    ApiError,
    bad,
    close_fields,
    fields,
    known_query,
    lock_fields,
    parse_object,
    path_name,
    query_choice,
    read_body,
    seconds,
    show,
    source_name,
    string_field,
)
from ..runbooks import DEFAULT_LIMIT, MAX_LIMIT, runbook_row, stored_runbook
from ..runner_view import RunnerView
from .access import caller as _caller, sink_down  # (handlers name their local ``caller``)
from .beats import IDENTITY_SOURCES_FULL, HeartbeatBatches, IdentitySources
from .identity import ROLES, Identity, normalise_identity
from .render import SharedReads, json_body, json_response as _json, plain

log = logging.getLogger("killswitch.face.api")

P = ParamSpec("P")
R = TypeVar("R")

METRICS_CONTENT_TYPE = CONTENT_TYPE  # what prometheus_client writes: the text format 0.0.4
CHECK_ORDER_PATH = "/v1/check-order"


def _whole(request: web.Request, name: str, low: int, high: Optional[int]) -> Optional[int]:
    """A query parameter that is a whole number in [low, high], or None when not given."""
    given = request.query.getall(name, [])
    if not given:
        return None
    if len(given) > 1 or not given[0].isdigit() or int(given[0]) < low or (high is not None and int(given[0]) > high):
        bound = f"{low} to {high}" if high is not None else f"{low} or more"
        raise bad(f'"{name}" is one whole number, {bound}, not {show(given if len(given) > 1 else given[0])}')
    return int(given[0])


# --- rendering (api_render.py) -----------------------------------------------------------------------


def error_response(request: web.Request, status: int, code: str, reason: str,
                   headers: Optional[dict] = None) -> web.Response:
    payload: dict = {"error": code, "reason": reason}
    if request.path == CHECK_ORDER_PATH:
        payload = {"allow": False, **payload}
    return _json(status, payload, headers)


# refusals of a name the runner does not know: the named thing is not found (404), the caller
# must fix what it typed (a 409 says the thing exists but is in the way)
# (not PREVIEW_UNKNOWN: a 409)
_UNKNOWN = ("UNKNOWN_SCOPE", "UNKNOWN_POLICY", "UNKNOWN_ACCOUNT", "UNKNOWN_SYMBOL", "UNKNOWN_REJECTION")


def _refusal_status(why: str, otherwise: int) -> int:
    return 404 if why.split(":", 1)[0] in _UNKNOWN else otherwise


def change_response(result: Any, what: str) -> web.Response:
    """A change's answer: 200 done, 202 a lock stored for the next leader, 404 a name the runner
    does not know, else 409."""
    done, why = result.done, result.reason
    if not isinstance(done, bool) or not isinstance(why, str):
        raise TypeError(f"{what}() must return a ChangeResult")
    stored = getattr(result, "stored", None)
    if stored is not None:  # a lock stored for the next leader: accepted, not applied yet
        return _json(202, {"done": False, "stored": stored, "reason": why})
    return _json(200 if done else _refusal_status(why, 409), {"done": done, "reason": why})


def _arg(body: dict, arg: Arg) -> Any:
    """A body's field read as the operations' table says of it (its kind and its bound)."""
    if arg.kind == SOURCE:
        return source_name(body[arg.name], f'"{arg.name}"')
    if arg.kind == SECONDS:
        return seconds(body, arg.name, arg.limit)
    if arg.kind == TEXT:
        return string_field(body, arg.name, MAX_REASON, free_text=True)
    if arg.kind == COUNT:
        v = body[arg.name]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= arg.limit:
            raise bad(f'"{arg.name}" must be a whole number from 1 to {arg.limit:g}, not {show(v)}')
        return v
    assert arg.kind == NAME, arg.kind
    return string_field(body, arg.name, int(arg.limit) or MAX_NAME)


def operation_args(body: dict, op: Operation) -> tuple[list, dict]:
    """The view call's arguments from ``body``: the entry's fields (those required, those it may
    hold, nothing else), each read by its kind; an optional one only when given (and handed on
    by name), a field the call does not take only checked, when required."""
    fields(body, tuple(a.name for a in op.args if a.required), tuple(a.name for a in op.args if not a.required))
    args: list = []
    kwargs: dict = {}
    for a in op.args:
        if a.required or (a.passed and body.get(a.name) is not None):
            value = _arg(body, a)
            if not a.passed:
                continue
            if a.keyword or not a.required:
                kwargs[a.name] = value
            else:
                args.append(value)
    return args, kwargs


# --- the handlers -------------------------------------------------------------------------------------


@overload
async def call_view(fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R: ...


@overload
async def call_view(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R: ...


async def call_view(fn: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
    """Call a view method and await what it returns if it is awaitable (the view's coroutines;
    a fake may answer any call at once). A view that runs its calls on a loop of its own (the
    runner: its state lives on its tick loop while this server may run on another thread) takes
    them through its ``run_view_call``, and this loop only waits."""
    run = getattr(getattr(fn, "__self__", None), "run_view_call", None)
    if callable(run):
        return await run(fn, *args, **kwargs)
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _preview(p: ActionPreview) -> dict[str, Any]:
    """A preview as the API answers it: its fields and, in ``lock_text``, what it does to the
    lock binding its scope in the words ``ksctl`` says it (:func:`killswitch.holds.lock_change_text`),
    which the console shows as given."""
    return {**plain(p), "lock_text": lock_change_text(p.scope, p.lock_before, p.lock_after, bool(p.relatch))}


class ApiHandlers:
    def __init__(self, view: RunnerView, max_body_bytes: int):
        self.view = view
        self.max_body_bytes = max_body_bytes
        self.beats = HeartbeatBatches(lambda sources: call_view(self.view.heartbeats, sources))
        self.identity_sources = IdentitySources()  # (the admission's, once make_app has it)
        self.shared = SharedReads(call_view)  # reads shared while in flight, JSON encoded once off the loop

    async def _read_json(self, request: web.Request, fn: Callable[[], Any]) -> web.Response:
        """``fn``'s answer as JSON, shared and encoded once while in flight, sent in one of the
        reads' slots (:mod:`.render`)."""
        body = await self.shared.body(fn)
        async with self.shared.slot():
            response = json_body(200, body)
            await response.prepare(request)
            await response.write_eof()
        return response

    async def object_body(self, request: web.Request) -> dict:
        """The request's body as a JSON object, bounded and strictly read (the silences' and
        revokes' handlers read theirs through it too)."""
        return parse_object(request, await read_body(request, self.max_body_bytes))

    def operation(self, op: Operation, answers: Mapping[str, Callable[[Any, str], web.Response]]
                  ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The handler of an entry of the operations' table with none of its own: its body read as
        the entry says (:func:`operation_args`), the caller's identity handed on where the view
        call takes it, the view called and its answer rendered as the entry says (a change by
        ``answers``, its group's statuses)."""
        async def handle(request: web.Request) -> web.Response:
            if op.answer == READ:
                return await self._read_json(request, getattr(self.view, op.name))
            if op.answer == ITEMS:
                return _json(200, {op.path.rsplit("/", 1)[1]: await self.shared.value(getattr(self.view, op.name))})
            args, kwargs = operation_args(await self.object_body(request), op) if op.method == "POST" else ([], {})
            fn = getattr(self.view, op.name)  # (after the body: a bad one is a 400 whatever the view)
            if op.caller == "position":
                args.append(_caller(request).name)
            elif op.caller:
                kwargs[op.caller] = _caller(request).name
            result = await call_view(fn, *args, **kwargs)
            if op.answer == JSON:
                return _json(200, result)
            if op.answer == PREVIEW:
                return _json(200, _preview(result))
            return answers[op.answer](result, op.name)

        handle.__name__ = op.name
        return handle

    # read

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"ok": True})

    async def ready(self, request: web.Request) -> web.Response:
        answer = await self.shared.value(self.view.ready)
        ready, why = answer  # anything else is the view's bug: 500
        ok = ready is True  # fail closed: only a real True is ready
        return _json(200 if ok else 503, {"ready": ok, "reason": str(why)})

    async def metrics_text(self, request: web.Request) -> web.Response:
        page = getattr(self.view, "metrics_page", None)
        if callable(page):  # the values read on the runner's loop, the text written on a worker thread
            text = await asyncio.to_thread((await self.shared.value(page)).render)
        else:
            text = await self.shared.value(self.view.metrics_text)
        if not isinstance(text, str):
            raise TypeError("metrics_text() must return a string")
        return web.Response(status=200, body=text.encode("utf-8", "backslashreplace"),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def status(self, request: web.Request) -> web.Response:
        """The status, its dead man's switch summarised; ``?dms=all``: with every source (a read
        shared and encoded apart from the summary's)."""
        known_query(request, "dms")
        dms = request.query.getall("dms", [])
        if len(dms) > 1 or (dms and dms[0] != "all"):
            raise bad(f'"dms" is all (every dead man\'s switch source), not {show(dms if len(dms) > 1 else dms[0])}')
        whole = getattr(self.view, "status_all", None) if dms else None  # (a view without it has no summary)
        return await self._read_json(request, whole if callable(whole) else self.view.status)

    async def firm_shards(self, request: web.Request) -> web.Response:
        doc = await call_view(self.view.firm_shards)
        if doc.get("error") == "FIRM_STATE_UNREACHABLE":  # the firm's tables unread: not an empty firm
            raise ApiError(503, doc["error"], doc["reason"].removeprefix(f"{doc['error']}: "))
        return _json(200, doc)

    async def lock_document(self, request: web.Request) -> web.Response:
        query = request.query
        known_query(request, "scope")
        scopes = query.getall("scope", [])
        if len(scopes) > 1:
            raise bad("give scope at most once")
        scope = None
        if scopes:
            scope = string_field({"scope": scopes[0]}, "scope")
        doc = await call_view(self.view.lock_document, scope)
        if not isinstance(doc, dict):
            raise TypeError("lock_document() must return a dict")
        return _json(200, doc)

    async def close_progress(self, request: web.Request) -> web.Response:
        close_id = path_name(request.match_info.get("id", ""), "id")
        doc = await call_view(self.view.close_progress, close_id)
        if doc is None:
            raise ApiError(404, "UNKNOWN_CLOSE", "this runner queued no close by that id (or forgot it)")
        if not isinstance(doc, dict):
            raise TypeError("close_progress() must return a dict or None")
        return _json(200, doc)

    async def runbook(self, request: web.Request) -> web.Response:
        incident = path_name(request.match_info.get("incident", ""), "incident")
        known_query(request, "format")
        fmt = query_choice(request, "format", ("md", "html"))
        record = await stored_runbook(self.view, call_view, incident)
        if fmt == "html":
            return web.Response(status=200, text=record.html, content_type="text/html", charset="utf-8",
                                headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
        return web.Response(status=200, text=record.markdown, content_type="text/markdown", charset="utf-8")

    async def runbooks(self, request: web.Request) -> web.Response:
        """The latest stored runbooks, oldest first (:mod:`killswitch.face.runbooks`)."""
        known_query(request, "since_ms", "limit")
        since_ms = _whole(request, "since_ms", 0, None)
        limit = _whole(request, "limit", 1, MAX_LIMIT)
        lookup = getattr(self.view, "runbooks", None)  # a runner without the runbook sink has none
        records = await call_view(lookup, since_ms, DEFAULT_LIMIT if limit is None else limit) \
            if callable(lookup) else []
        return _json(200, {"format_version": 1, "runbooks": [runbook_row(r) for r in records or ()]})

    async def check_order(self, request: web.Request) -> web.Response:
        body = await self.object_body(request)
        try:
            parse_request(body)
        except ValueError as e:
            raise bad(str(e)) from None
        # an operator's question (ksctl check-order), not an order about to go: its refusal is not
        # counted for gate_refusals
        probe = request.query.get("probe") == "true"
        opts = {"counted": False} if probe else {}
        # answered here, from the view the runner published, when it offers that: no hop to its loop
        now = getattr(self.view, "check_order_now", None)
        decision = now(body, **opts) if callable(now) else await call_view(self.view.check_order, body, **opts)
        allow, reason = decision.allow, decision.reason
        if not isinstance(allow, bool) or not isinstance(reason, str):
            raise TypeError("check_order() must return a Decision")
        limit = getattr(decision, "limit", None)  # a pre-trade limit broken: its value and usage
        # an account no policy's scope selects: said beside the answer (UNGUARDED), not in its reason
        unguarded = {"unguarded": True, "warnings": list(decision.warnings)} if getattr(decision, "unguarded", False) \
            else {}
        return _json(200, {"allow": allow, "reason": reason} | ({"limit": dict(limit)} if limit is not None else {})
                     | unguarded)

    # mutating

    async def heartbeat(self, request: web.Request) -> web.Response:
        source = source_name(request.match_info.get("source", ""))  # URL-decoded: %2e%2e is ..
        data = await read_body(request, self.max_body_bytes)
        if data:  # an empty body is fine; a body, if sent, is an empty JSON object
            fields(parse_object(request, data), ())
        from ...state.store import StoreError

        who = _caller(request).name
        too_many = self.identity_sources.take(who, source)
        if too_many is not None:
            raise ApiError(403, IDENTITY_SOURCES_FULL, too_many.split(": ", 1)[1])
        try:
            refused = await self.beats.beat(source)  # coalesced per source with the beats arriving meanwhile
        except StoreError as e:  # a standby could not store it for the leader: the client beats again
            self.identity_sources.drop(who, source)
            log.warning("heartbeat of %s not stored for the leader: %s", source, e)
            raise ApiError(503, "STATE_UNREACHABLE", "this standby could not store the heartbeat for the leader; "
                           "send it again", {"Retry-After": "1"}) from None
        if refused is not None:
            self.identity_sources.drop(who, source)
            code, _, detail = refused.partition(": ")
            raise ApiError(404 if code == "UNKNOWN_SOURCE" else 409, code, detail)
        return web.Response(status=204)

    async def _reset_body(self, request: web.Request) -> tuple[str, str, str, Identity, bool, bool]:
        caller = _caller(request)
        body = await self.object_body(request)
        fields(body, ("policy", "scope", "reason"), ("approver", "confirm_relatch", "withdraw"))
        confirm, withdraw = body.get("confirm_relatch", False), body.get("withdraw", False)
        for name, value in (("confirm_relatch", confirm), ("withdraw", withdraw)):
            if not isinstance(value, bool):
                raise bad(f'"{name}" must be true or false, not {show(value)}')
        policy, scope = string_field(body, "policy"), string_field(body, "scope")
        reason = string_field(body, "reason", MAX_REASON, free_text=True)
        if "approver" in body:  # older clients name the approver: it must be the caller
            named = string_field(body, "approver")
            if normalise_identity(named) != caller.name:
                raise ApiError(403, "APPROVER_NOT_CALLER", f"the approver of a reset is the caller ({caller.name}), "
                                                           f"not {show(named)}; each approver sends their own token")
        return policy, scope, reason, caller, confirm, withdraw

    async def reset(self, request: web.Request) -> web.Response:
        policy, scope, reason, caller, confirm, withdraw = await self._reset_body(request)
        if withdraw:  # the caller's own pending approval taken back (APPROVAL_WITHDRAWN, or NO_APPROVAL)
            result = await call_view(self.view.withdraw_reset, policy, scope, caller.name, reason)
        else:
            result = await call_view(self.view.reset, policy, scope, caller.name, reason, confirm_relatch=confirm)
        done, why = result.done, result.reason
        if not isinstance(done, bool) or not isinstance(why, str):
            raise TypeError("reset() must return a ResetResult")
        status = 503 if why.startswith("NOT_LEADER") else _refusal_status(why, 200)
        return _json(status, {"done": done, "reason": why, "warnings": list(getattr(result, "warnings", ())),
                              "silences": list(getattr(result, "silences", ()))})

    async def close(self, request: web.Request) -> web.Response:
        b = close_fields(await self.object_body(request), live=True)
        extra = {k: b[k] for k in ("symbol", "leg", "preview_id", "max_notional") if b[k] is not None}
        result = await call_view(self.view.close, b["scope"], b["reason"], b["dry_run"], actor=_caller(request).name,
                             **extra)
        accepted, why = result.accepted, result.reason
        if not isinstance(accepted, bool) or not isinstance(why, str):
            raise TypeError("close() must return a CloseResult")
        return _json(202 if accepted else _refusal_status(why, 409), result)

    async def lock_scope(self, request: web.Request) -> web.Response:
        scope, mode, reason, ttl_s, enforce = lock_fields(await self.object_body(request))
        extra: dict[str, Any] = {"enforce": enforce} if enforce is not None else {}
        if (shut := sink_down(request)) is not None:  # a lock goes on without a sink, unless it loosens
            extra["sink_down"] = shut
        result = await call_view(self.view.lock_scope, scope, mode, reason, ttl_s, actor=_caller(request).name,
                                 **extra)
        code, _, detail = str(getattr(result, "reason", "")).partition(": ")
        if result.done is False and code == "AUDIT_SINK_DOWN":  # refused as the middleware refuses a loosening
            raise ApiError(503, code, detail, {"Retry-After": "5"})
        return change_response(result, "lock_scope")

    # the console's reads, and the previews of the changes (each takes the body of its change)

    async def whoami(self, request: web.Request) -> web.Response:
        ident = _caller(request)
        return _json(200, Caller(ident.name, tuple(r for r in ROLES if ident.may(r))))

    async def preview_lock(self, request: web.Request) -> web.Response:
        scope, mode, reason, ttl_s, _ = lock_fields(await self.object_body(request))
        return _json(200, _preview(await call_view(self.view.preview_lock, scope, mode, reason, ttl_s)))

    async def preview_reset(self, request: web.Request) -> web.Response:
        policy, scope, _, caller, _, withdraw = await self._reset_body(request)
        if withdraw:
            raise bad('a withdrawal has no preview: POST /v1/reset with "withdraw": true takes back only your own '
                      "pending approval")
        return _json(200, _preview(await call_view(self.view.preview_reset, policy, scope, caller.name)))

    async def preview_close(self, request: web.Request) -> web.Response:
        b = close_fields(await self.object_body(request), live=False)
        extra = {k: b[k] for k in ("symbol", "leg") if b[k] is not None}
        return _json(200, _preview(await call_view(self.view.preview_close, b["scope"], **extra)))
