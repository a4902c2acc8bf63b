"""What the runner's HTTP API accepts in a request: bounded bodies, strict JSON, checked fields.

What it owns: reading a body within its byte bound (``BODY_TOO_LARGE``), parsing it as one JSON
object with no duplicate keys and no ``NaN``/``Infinity``, refusing characters that would hide
or reorder text in a log or a terminal (control characters, surrogates, bidirectional
overrides), checking the fields a route takes (required, optional, nothing else), and the
typed readers of a field: a name (one line, no spaces around it — never trimmed into something
the caller did not type), free text, a source, positive seconds under a limit. A refusal is an
:class:`ApiError` with its status and reason code, rendered by the API's middleware.

Must not: accept a value by repairing it (trimming, case folding), or let a refusal's text
quote more than a short prefix of what was sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Optional, TypeGuard

from aiohttp import web

MAX_NAME = 256  # longest policy, scope or approver name
MAX_REASON = 500  # longest operator reason
MAX_LOCK_TTL_S = 30 * 86_400
LOCK_MODES = ("halted", "reducing")
SOURCE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


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


def bad(detail: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", detail)


def show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def known_query(request: web.Request, *known: str) -> None:
    """Refuse a query parameter not among ``known``."""
    unknown = sorted(set(request.query) - set(known))
    if unknown:
        raise bad(f"unknown query parameter(s) {', '.join(show(k) for k in unknown[:5])}; known: {', '.join(known)}")


def query_choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str:
    """A query parameter given at most once and one of ``choices`` (left out: the first)."""
    given = request.query.getall(name, [choices[0]])
    if len(given) > 1 or given[0] not in choices:
        raise bad(f'"{name}" is {" or ".join(choices)}, not {show(given if len(given) > 1 else given[0])}')
    return given[0]


# --- bodies -------------------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {show(k)}")
        out[k] = v
    return out


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes")
    try:
        data = await request.read()  # the app's client_max_size stops a chunked body that runs over
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes") from None
    except Exception as e:  # a broken chunked encoding, a connection cut mid-body: bad input
        raise bad(f"the body could not be read ({type(e).__name__})") from None
    if len(data) > max_bytes:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body may be at most {max_bytes} bytes")
    return data


def parse_object(request: web.Request, data: bytes) -> dict:
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
        raise bad(f"the body must be a JSON object, not {_json_type(doc)}")
    _clean(doc)
    return doc


# Characters no field may hold: lone surrogates (not text: they break every encoder downstream),
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates
# that make a reason or a scope read differently from what it is.
_FORBIDDEN = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# and no name may hold these either (a name is one line, with nothing invisible around it)
_NAME_FORBIDDEN = re.compile("[\t\n\r\u200b-\u200f\u2028\u2029\ufeff]")


def _bad_char(text: str, where: str) -> Optional[str]:
    m = _FORBIDDEN.search(text)
    if m is None:
        return None
    c = m.group()
    what = "a lone surrogate" if 0xD800 <= ord(c) <= 0xDFFF else "a control character"
    return f"{where} holds {what} (U+{ord(c):04X} at {m.start()}); send plain text"


def _clean(doc: Any, where: str = "the body", depth: int = 0) -> None:
    """Refuse (400 ``BAD_REQUEST``) any string, key or value, that holds a forbidden character,
    before anything reads the body, so nothing of it is stored, audited or echoed."""
    if depth > 32:
        raise bad("the body is nested too deeply")
    if isinstance(doc, str):
        why = _bad_char(doc, where)
        if why:
            raise bad(why)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            why = _bad_char(k, "a field name")
            if why:
                raise bad(why)
            _clean(v, f'"{k}"', depth + 1)
    elif isinstance(doc, list):
        for v in doc:
            _clean(v, where, depth + 1)


def _json_type(doc: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(doc), "a number")


def fields(body: dict, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """The body holds its ``required`` keys, maybe ``optional`` ones, and none else."""
    allowed = required + optional
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(show(k) for k in unknown[:5])}; known: {', '.join(allowed) or 'none'}")
    missing = [k for k in required if k not in body]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")


def _positive_seconds(v: Any, limit: float) -> TypeGuard[float]:
    """A JSON number (not a boolean), finite, above 0 and at most ``limit``."""
    try:
        return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= limit
    except OverflowError:  # an integer too large for a float
        return False


def seconds(body: dict, key: str, limit: float) -> float:
    v = body.get(key)
    if not _positive_seconds(v, limit):
        raise bad(f'"{key}" must be a number of seconds above 0 and at most {limit:.0f}, not {show(v)}')
    return float(v)


def optional_seconds(body: dict, key: str, limit: float) -> Optional[float]:
    """Like :func:`seconds`; left out or null: None."""
    return None if body.get(key) is None else seconds(body, key, limit)


def source_name(v: Any, where: str = "a source") -> str:
    """A heartbeat or dead man's switch source, as it arrived (a path segment after URL
    decoding, or a body field): 1 to 64 of ``A-Z a-z 0-9 . _ -``, and not only dots (``.`` and
    ``..`` name no bot: they are a path's, and a source is also a scope a lock can name).
    Anything else is a 400 ``BAD_SOURCE``, never repaired."""
    if not isinstance(v, str) or not SOURCE_RE.fullmatch(v) or not v.strip("."):
        raise ApiError(400, "BAD_SOURCE", f"{where} is 1 to 64 of A-Z a-z 0-9 . _ - and not only dots, not {show(v)}")
    return v


def path_name(v: str, key: str, limit: int = 2 * MAX_NAME) -> str:
    """An id taken from the path (a close's, an incident's), after URL decoding: a name as
    :func:`string_field` reads one, and each of its ``/``-separated parts non-empty and not only
    dots, as the scopes it is made of are (``manual/binanceusdm/sim-main/m1``). Else a 400
    ``BAD_NAME``."""
    try:
        string_field({key: v}, key, limit)
    except ApiError as e:
        raise ApiError(400, "BAD_NAME", e.detail) from None
    if any(not part.strip(".") for part in v.split("/")):
        raise ApiError(400, "BAD_NAME", f'"{key}" has an empty part or one of only dots: {show(v)}')
    return v


def string_field(body: dict, key: str, limit: int = MAX_NAME, *, free_text: bool = False) -> str:
    """A string field: non-empty, at most ``limit`` characters, no forbidden character; a name
    (not ``free_text``) is also one line with no space around it: ``" binanceusdm/sim-main"``
    is refused, not trimmed into something the caller did not type."""
    v = body[key]
    if not isinstance(v, str) or not v.strip():
        raise bad(f'"{key}" must be a non-empty string, not {show(v)}')
    if len(v) > limit:
        raise bad(f'"{key}" is longer than {limit} characters')
    why = _bad_char(v, f'"{key}"')
    if why:
        raise bad(why)
    if not free_text:
        if _NAME_FORBIDDEN.search(v):
            raise bad(f'"{key}" must be one line of visible characters')
        if v != v.strip():
            raise bad(f'"{key}" has spaces around it: {show(v)}')
    return v


def lock_fields(body: dict) -> tuple[str, str, str, Optional[float], Optional[dict]]:
    """The fields of an operator's lock (``POST /v1/lock`` and its preview): scope, mode (default
    ``halted``), reason, ttl in seconds, and what the lock makes hold at the venue (``enforce``:
    ``{"cancel": bool, "revert_growth": bool}``, either optional; None: the mode's defaults)."""
    fields(body, ("scope", "reason"), ("mode", "ttl_s", "enforce"))
    scope = string_field(body, "scope")
    reason = string_field(body, "reason", MAX_REASON, free_text=True)
    mode = body.get("mode", "halted")
    if mode not in LOCK_MODES or not isinstance(mode, str):
        raise bad(f'"mode" must be "halted" or "reducing", not {show(mode)}')
    enforce = body.get("enforce")
    if enforce is not None:
        if not isinstance(enforce, dict):
            raise bad(f'"enforce" must be an object {{"cancel": bool, "revert_growth": bool}}, not {show(enforce)}')
        fields(enforce, (), ("cancel", "revert_growth"))
        if any(not isinstance(v, bool) for v in enforce.values()):
            raise bad('"enforce.cancel" and "enforce.revert_growth" must be true or false')
    return scope, mode, reason, optional_seconds(body, "ttl_s", MAX_LOCK_TTL_S), enforce


def close_fields(body: dict, live: bool) -> dict:
    """A close's fields (``live``: ``POST /v1/close``, with ``dry_run`` and the preview it applies;
    else its preview): the scope, the reason, and optionally one ``symbol`` (and its hedge
    ``leg``), a ``preview_id`` and a ``max_notional`` at or above 0."""
    fields(body, ("scope", "reason") + (("dry_run",) if live else ()),
           ("symbol", "leg") + (("preview_id", "max_notional") if live else ()))
    out: dict = {"scope": string_field(body, "scope"),
                 "reason": string_field(body, "reason", MAX_REASON, free_text=True),
                 "symbol": None if body.get("symbol") is None else string_field(body, "symbol"),
                 "leg": None if body.get("leg") is None else string_field(body, "leg")}
    if live:
        if not isinstance(body["dry_run"], bool):
            raise bad(f'"dry_run" must be true or false, not {show(body["dry_run"])}')
        out["dry_run"] = body["dry_run"]
        out["preview_id"] = None if body.get("preview_id") is None else string_field(body, "preview_id")
        cap = body.get("max_notional")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))
                                or not math.isfinite(cap) or cap < 0):
            raise bad(f'"max_notional" must be a number at or above 0, not {show(cap)}')
        out["max_notional"] = None if cap is None else float(cap)
    return out
