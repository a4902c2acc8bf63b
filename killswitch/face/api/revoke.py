"""The API's revoke of trading at the venue (:mod:`killswitch.runner.operator.revoke_commands`
does it; the operations' table lists the routes, :mod:`killswitch.runner.view.operations`):

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
