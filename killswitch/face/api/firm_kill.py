"""The API's firm-wide kill (:mod:`killswitch.firmlink.kill` does it; the operations' table
lists the routes, :mod:`killswitch.view.operations`; their bodies and answers are
docs/openapi.yaml's).

On a runner of no shard the same routes preview, carry out and release the kill on its own
accounts (:mod:`killswitch.firmlink.local`); ``GET /v1/firm/kill`` is ``FIRM_NOT_SHARDED`` there.

Refusals: 400 ``BAD_REQUEST``, 503 ``NOT_LEADER`` and ``STATE_UNREACHABLE`` (the firm's tables did
not answer in time: the store, not the runner), 409 otherwise (``PREVIEW_REQUIRED``,
``PREVIEW_MISMATCH``, ``KILL_IN_FORCE``, ``NO_KILL``, ``DUPLICATE_APPROVER``,
``FIRM_NOT_SHARDED``, ``DEPOSED``).

What it owns: the status of each answer (the bodies are read as the operations' table says,
:mod:`killswitch.view.operations`). Must not: decide anything (the view does), or import
:mod:`.api` (which imports it).
"""

from __future__ import annotations

from .changes import ChangeHandlers


class FirmKillHandlers(ChangeHandlers):
    """The statuses of the firm-wide kill's answers (see the module doc)."""

    UNAVAILABLE = frozenset({"NOT_LEADER", "STATE_UNREACHABLE"})
