"""The API's firm-wide kill (:mod:`killswitch.runner.firm.kill` does it; the operations' table
lists the routes, :mod:`killswitch.runner.view.operations`):

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

What it owns: the status of each answer (the bodies are read as the operations' table says,
:mod:`killswitch.runner.view.operations`). Must not: decide anything (the view does), or import
:mod:`.api` (which imports it).
"""

from __future__ import annotations

from .changes import ChangeHandlers


class FirmKillHandlers(ChangeHandlers):
    """The statuses of the firm-wide kill's answers (see the module doc)."""

    UNAVAILABLE = frozenset({"NOT_LEADER", "STATE_UNREACHABLE"})
