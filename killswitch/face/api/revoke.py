"""The API's revoke of trading at the venue (:mod:`killswitch.runner.operator.revoke_commands`
does it; the operations' table lists the routes, :mod:`killswitch.view.operations`; their
bodies and answers are docs/openapi.yaml's).

Refusals: 400 for a body to write differently (``BAD_REQUEST``), 404 for a name the runner does
not know (``UNKNOWN_SCOPE``), 409 otherwise (``PREVIEW_REQUIRED``, ``PREVIEW_MISMATCH``,
``NOT_REVOKED``, ``REVOKED_BY_STAGE``, ``DUPLICATE_APPROVER``, ``DEPOSED``), 503 from a standby
(``NOT_LEADER``).

What it owns: the status of each answer (the bodies are read as the operations' table says).
Must not: decide anything (the view does), or import :mod:`.api` (which imports it).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .changes import ChangeHandlers


class RevokeHandlers(ChangeHandlers):
    """An operator's revoke and restore of the bots' keys (see :class:`.changes.ChangeHandlers`)."""

    UNKNOWN = frozenset({"UNKNOWN_SCOPE", "UNKNOWN_ACCOUNT"})
    UNAVAILABLE = frozenset({"NOT_LEADER"})

    def answer(self, result: Any, what: str, **extra: Any) -> web.Response:
        unreached = tuple(getattr(result, "out_of_reach", ()) or ())  # a revoke's accounts it could not reach
        return super().answer(result, what, **({"out_of_reach": list(unreached)} if unreached else {}), **extra)
