"""The API's revoke of trading at the venue (:mod:`.revoke_commands` does it; :mod:`.api` lists the routes):

    ``POST /v1/preview/revoke``   200 ``ActionPreview``: the accounts the scope reaches, each one's
                                  permission now, and the ``preview_id`` the revoke must carry;
                                  body ``scope`` (``reason`` optional). Operator.
    ``POST /v1/revoke``           200 / 4xx ``{"done", "reason"}``; body ``scope``, ``reason``,
                                  ``preview_id`` (required), ``approvals`` (distinct approvers of its
                                  restore, 1 to 10, default 1). The revoke is owed, saved, and sent at
                                  once; the answer says what the venue confirmed. Operator.
    ``POST /v1/revoke/restore``   200 / 4xx ``{"done", "reason"}``; body ``scope``, ``reason``: the
                                  caller's approval of the restore of exactly that scope's operator
                                  revoke (a stage's is restored by its reset). Approver.

Refusals: 400 for a body to write differently (``BAD_REQUEST``), 404 for a name the runner does
not know (``UNKNOWN_SCOPE``), 409 otherwise (``PREVIEW_REQUIRED``, ``PREVIEW_MISMATCH``,
``NOT_REVOKED``, ``REVOKED_BY_STAGE``, ``DUPLICATE_APPROVER``, ``DEPOSED``), 503 from a standby
(``NOT_LEADER``).

What it owns: reading these bodies strictly and the status of each answer. Must not: decide
anything (the view does), or import :mod:`.api` (which imports it).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from ..api_request import MAX_REASON, bad, fields, show, string_field
from .access import caller

_UNKNOWN = ("UNKNOWN_SCOPE", "UNKNOWN_ACCOUNT")


def answer_status(done: bool, why: str) -> int:
    code = why.split(":", 1)[0]
    if done:
        return 200
    return 400 if code == "BAD_REQUEST" else 404 if code in _UNKNOWN else 503 if code == "NOT_LEADER" else 409


class RevokeHandlers:
    """``call`` runs a view call (the API's ``_call``), ``reply`` renders JSON (``_json``),
    ``body`` reads a request's strict JSON object."""

    def __init__(self, view: Any, call: Callable[..., Awaitable[Any]], reply: Callable[[int, Any], web.Response],
                 body: Callable[[web.Request], Awaitable[dict]]):
        self.view, self.call, self.reply, self.body = view, call, reply, body

    def _result(self, result: Any, what: str) -> web.Response:
        done, why = result.done, result.reason
        if not isinstance(done, bool) or not isinstance(why, str):
            raise TypeError(f"{what}() must return a ChangeResult")
        return self.reply(answer_status(done, why), {"done": done, "reason": why})

    async def preview(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope",), ("reason",))
        return self.reply(200, await self.call(self.view.preview_revoke, string_field(body, "scope")))

    async def revoke(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope", "reason", "preview_id"), ("approvals",))
        approvals = body.get("approvals", 1)
        if isinstance(approvals, bool) or not isinstance(approvals, int) or not 1 <= approvals <= 10:
            raise bad(f'"approvals" must be a whole number from 1 to 10, not {show(approvals)}')
        result = await self.call(self.view.revoke_trading, string_field(body, "scope"),
                                 string_field(body, "reason", MAX_REASON, free_text=True),
                                 preview_id=string_field(body, "preview_id"), approvals=approvals,
                                 actor=caller(request).name)
        return self._result(result, "revoke_trading")

    async def restore(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope", "reason"), ())
        result = await self.call(self.view.restore_trading, string_field(body, "scope"),
                                 string_field(body, "reason", MAX_REASON, free_text=True),
                                 approver=caller(request).name)
        return self._result(result, "restore_trading")
