"""The API's firm-wide kill (:mod:`killswitch.runner.firm.kill` does it; :mod:`.api` lists the routes):

    ``POST /v1/preview/firm-kill``   200: what each shard will lock, cancel and revoke, its
                                     accounts, the shards not heard and the accounts they leave
                                     not reached; ``allowed`` false (``KILL_IN_FORCE``) while a
                                     kill is in force; the ``preview_id`` the kill must carry.
                                     Body ``reason`` (optional). Operator.
    ``POST /v1/firm/kill``           200 / 4xx ``{"done", "reason"}``; body ``reason``,
                                     ``preview_id``: the kill written once for every shard in the
                                     firm's tables. Operator.
    ``POST /v1/firm/kill/release``   200 / 4xx; body ``reason``: the caller's approval of the
                                     release of the kill in force; the second distinct approver's
                                     releases it. Approver.
    ``GET /v1/firm/kill``            200: the newest kill's progress per shard and account.

On a runner of no shard the same routes preview, carry out and release the kill on its own
accounts (:mod:`killswitch.runner.firm.local`); ``GET /v1/firm/kill`` is ``FIRM_NOT_SHARDED`` there.

Refusals: 400 ``BAD_REQUEST``, 503 ``NOT_LEADER`` and ``STATE_UNREACHABLE`` (the firm's tables did
not answer in time: the store, not the runner), 409 otherwise (``PREVIEW_REQUIRED``,
``PREVIEW_MISMATCH``, ``KILL_IN_FORCE``, ``NO_KILL``, ``DUPLICATE_APPROVER``,
``FIRM_NOT_SHARDED``, ``DEPOSED``).

What it owns: reading these bodies strictly and the status of each answer. Must not: decide
anything (the view does), or import :mod:`.api` (which imports it).
"""

from __future__ import annotations

from aiohttp import web

from ...runner.api_request import MAX_REASON, fields, string_field
from .access import caller
from .changes import ChangeHandlers


class FirmKillHandlers(ChangeHandlers):
    """The firm-wide kill, its preview, its release and its progress (see the module doc)."""

    UNAVAILABLE = frozenset({"NOT_LEADER", "STATE_UNREACHABLE"})

    async def preview(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, (), ("reason",))
        return self.reply(200, await self.call(self.view.firm_kill_preview))

    async def kill(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("reason", "preview_id"), ())
        result = await self.call(self.view.firm_kill, string_field(body, "reason", MAX_REASON, free_text=True),
                                 preview_id=string_field(body, "preview_id"), actor=caller(request).name)
        return self._result(result, "firm_kill")

    async def release(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        fields(body, ("reason",), ())
        result = await self.call(self.view.firm_kill_release, string_field(body, "reason", MAX_REASON, free_text=True),
                                 approver=caller(request).name)
        return self._result(result, "firm_kill_release")

    async def progress(self, request: web.Request) -> web.Response:
        return self.reply(200, await self.call(self.view.firm_kill_status))
