"""The API's policy drift verdict (:class:`~killswitch.face.desk.desk.Desk` stores it;
the operations' table lists the route, :mod:`killswitch.view.operations`; its body and answer
are docs/api.md's and docs/openapi.yaml's).

Refusals: 400 ``BAD_REQUEST`` naming the field missing, unknown or wrong; 503
``STATE_UNREACHABLE`` when the verdict cannot be stored.

What it owns: reading the body strictly (:func:`~killswitch.view.policy_sync.verdict_of`) and
the status of the answer. Must not: decide anything (the desk does), or import :mod:`.api`.
"""

from __future__ import annotations

from aiohttp import web

from ...view.policy_sync import VerdictError, verdict_of
from ..request import bad
from .access import caller
from .changes import ChangeHandlers


class DriftHandlers(ChangeHandlers):
    """A checker's verdict posted (see :class:`.changes.ChangeHandlers`)."""

    UNAVAILABLE = frozenset({"STATE_UNREACHABLE"})

    async def record_drift(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        try:
            verdict = verdict_of(body, caller(request).name)
        except VerdictError as e:
            raise bad(str(e)) from None
        return self.answer(await self.call(self.view.record_drift, verdict), "record_drift")
