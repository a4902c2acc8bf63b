"""The API's revoke of trading at the venue (:mod:`killswitch.runner.operator.revoke_commands`
does it; :mod:`.api` lists the routes):

    ``POST /v1/preview/revoke``   200 ``ActionPreview``: the accounts the scope reaches, each one's
                                  permission now, and the ``preview_id`` the revoke must carry;
                                  body ``scope`` (``reason`` optional). Operator.
    ``POST /v1/preview/restore``  200 ``ActionPreview``: what the caller's approval of the restore
                                  of the scope's operator revoke would do now (k of N, or the last:
                                  which accounts are restored); body ``scope``. Approver.
    ``POST /v1/revoke``           200 / 4xx ``{"done", "reason"}``; body ``scope``, ``reason``,
                                  ``preview_id``, ``approvals`` (distinct approvers of its restore, 1
                                  to 10, default 1). The revoke is owed, saved, and sent at once; the
                                  answer says what the venue confirmed. Operator. Without
                                  ``preview_id`` (its preview was refused) it is refused, and audited
                                  (``PREVIEW_REQUIRED``, or the scope's own refusal first).
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

from aiohttp import web

from ...runner.api_request import MAX_REASON, bad, fields, show, string_field
from .access import caller
from .changes import ChangeHandlers


class RevokeHandlers(ChangeHandlers):
    """An operator's revoke and restore of the bots' keys (see :class:`.changes.ChangeHandlers`)."""

    UNKNOWN = frozenset({"UNKNOWN_SCOPE", "UNKNOWN_ACCOUNT"})
    UNAVAILABLE = frozenset({"NOT_LEADER"})

    async def preview(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope",), ("reason",))
        return self.reply(200, await self.call(self.view.preview_revoke, string_field(body, "scope")))

    async def preview_restore(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope",), ("reason",))
        return self.reply(200, await self.call(self.view.preview_restore, string_field(body, "scope"),
                                               caller(request).name))

    async def revoke(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope", "reason"), ("preview_id", "approvals"))
        approvals = body.get("approvals", 1)
        if isinstance(approvals, bool) or not isinstance(approvals, int) or not 1 <= approvals <= 10:
            raise bad(f'"approvals" must be a whole number from 1 to 10, not {show(approvals)}')
        result = await self.call(self.view.revoke_trading, string_field(body, "scope"),
                                 string_field(body, "reason", MAX_REASON, free_text=True),
                                 preview_id=string_field(body, "preview_id") if "preview_id" in body else None,
                                 approvals=approvals,
                                 actor=caller(request).name)
        unreached = tuple(getattr(result, "out_of_reach", ()) or ())
        return self._result(result, "revoke_trading", **({"out_of_reach": list(unreached)} if unreached else {}))

    async def restore(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("scope", "reason"), ())
        result = await self.call(self.view.restore_trading, string_field(body, "scope"),
                                 string_field(body, "reason", MAX_REASON, free_text=True),
                                 approver=caller(request).name)
        return self._result(result, "restore_trading")
