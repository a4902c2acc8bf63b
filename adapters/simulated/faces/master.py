"""The way a request to a simulated venue's master-account endpoints (the switch of a
sub-account's keys' trading permission) takes.

What it owns
    :class:`MasterFace`, the pipeline every venue's master endpoints share, over the engine's
    :class:`~..permissions.SimPermissions`: the request read and what it does (``revoke_trading``,
    ``restore_trading`` or ``read_trading``, the name fault plans and planned refusals use), the
    server's faults (latency, TIMEOUT, 429, 500, 503), the signature of a master credential (an
    account's own key or an unknown one refused with the venue's code), the request recorded, a
    refusal a test planned, the venue's answer. A venue fills its tables and endpoints in its
    ``face/master.py``, named by its face's ``MASTER``.

What it must not do: keep state (the engine's permissions do), or change anything on a refusal.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from aiohttp import web

from ..faults import HTTP_STATUS, FaultKind, first, total_latency_ms
from ..permissions import SimKey, SimPermissions
from .shared import respond


class Refused(Exception):
    def __init__(self, code: str, msg: str, status: int = 400):
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status


class MasterFace:
    """One request to a venue's master endpoints (no state beyond the request)."""

    ROUTES: frozenset[tuple[str, str]] = frozenset()  # (METHOD, path) of the venue's master endpoints
    KEY_HEADER = ""  # the header carrying the master key
    BAD_KEY: tuple[str, str] = ("", "")  # a key nobody has
    BAD_SIGN: tuple[str, str] = ("", "")
    NOT_MASTER: tuple[str, str] = ("", "")  # an account's own key, not a master's
    NO_SUB: tuple[str, str] = ("", "")  # no such sub-account ("{name}": the one asked for)
    NO_KEY: tuple[str, str] = ("", "")  # a key not of the sub-account
    SUB_ACCOUNT = ""  # a sub-account as the venue names one (serve names its account's so)
    BAD_SIGN_STATUS = 401
    NOT_MASTER_STATUS = 200

    def __init__(self, server: Any):
        self.server = server
        self.engine = server.engine
        self.perms: SimPermissions = server.engine.permissions

    # --- what a venue fills -----------------------------------------------------------------------

    body: Callable[[str, str], Any]  # a refusal's body (code, message) in the venue's envelope
    ok: Callable[[Any], Any]  # an answer's body in the venue's envelope
    params: Callable[[str, str, str], dict]  # (method, query, body) → the request's parameters
    op: Callable[[str, dict], str]  # (path, parameters) → revoke_trading, restore_trading or read_trading
    # (request, key, secret, passphrase, query, body, parameters) → signed with the key's secret, or Refused
    signed: Callable[[web.Request, str, str, str, str, str, dict], bool]
    dispatch: Callable[[str, dict], Any]  # (path, parameters) → the result

    # --- what a venue's endpoints share --------------------------------------------------------

    def sub(self, name: Any) -> str:
        """The sub-account ``name`` names."""
        account = self.perms.sub_account(str(name)) if name not in (None, "") else None
        if account is None:
            raise Refused(self.NO_SUB[0], self.NO_SUB[1].format(name=name))
        return account

    def key(self, account: str, api_key: Any) -> SimKey:
        """The key ``api_key`` of the sub-account ``account``."""
        k = self.perms.key(str(api_key)) if api_key else None
        if k is None or k.account != account:
            raise Refused(*self.NO_KEY)
        return k

    # --- the pipeline ---------------------------------------------------------------------------

    @classmethod
    async def handle(cls, server: Any, request: web.Request) -> web.StreamResponse:
        return await cls(server).serve(request)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        server, eng = self.server, self.engine
        method, path = request.method, request.path
        if (method, path) not in self.ROUTES:
            said = f"Path {path}, Method {method} is invalid"
            return respond(server, method, path, 404, {"code": -5000, "msg": said})
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.text()) if request.can_read_body else ""
        try:
            params = self.params(method, raw_query, raw_body)
            op = self.op(path, params)
        except Refused as r:
            return respond(server, method, path, r.status, self.body(r.code, r.msg))
        faults = server.faults.match(op, eng.now(), account=None, endpoint=f"{method} {path}")
        lat = total_latency_ms(faults)
        if lat:
            await asyncio.sleep(lat / 1000 * server.time_scale)
        status_fault = first(faults, FaultKind.HTTP_429, FaultKind.HTTP_418, FaultKind.HTTP_500, FaultKind.HTTP_503)
        if status_fault is not None:
            code = HTTP_STATUS[status_fault.kind]
            return respond(server, method, path, code, f"<html><body><h1>{code}</h1></body></html>")
        if first(faults, FaultKind.TIMEOUT) is not None:
            await asyncio.sleep(server.hang_s)
            return respond(server, method, path, 504, "")
        try:
            self._authenticate(request, raw_query, raw_body, params)
            self.perms.requests.append((method, path, {k: v for k, v in params.items() if k != "signature"}))
            planned = self.perms.refusal(op)
            if planned is not None:
                raise Refused(*planned)
            result = self.dispatch(path, params)
        except Refused as r:
            return respond(server, method, path, r.status, self.body(r.code, r.msg))
        return respond(server, method, path, 200, self.ok(result))

    def _authenticate(self, request: web.Request, raw_query: str, raw_body: str, p: dict) -> None:
        key = request.headers.get(self.KEY_HEADER, "")
        creds = self.perms.credentials(key) if key else None
        if creds is None:
            raise Refused(*self.BAD_KEY, 401)
        secret, passphrase = creds
        if not self.signed(request, key, secret, passphrase, raw_query, raw_body, p):
            raise Refused(*self.BAD_SIGN, self.BAD_SIGN_STATUS)
        if key not in self.perms.masters:
            raise Refused(*self.NOT_MASTER, self.NOT_MASTER_STATUS)


def json_params(method: str, raw_query: str, raw_body: str, bad_json: str) -> dict:
    """The query's parameters and a POST's JSON object (``bad_json``: the venue's code for one
    that is not)."""
    from urllib.parse import parse_qsl

    params: dict[str, Any] = dict(parse_qsl(raw_query, keep_blank_values=True))
    if method == "POST" and raw_body.strip():
        try:
            body = json.loads(raw_body)
        except ValueError:
            raise Refused(bad_json, "request body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(bad_json, "request body is not a JSON object")
        params.update(body)
    return params


__all__ = ["MasterFace", "Refused", "json_params"]
