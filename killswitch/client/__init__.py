"""A typed client of a running runner's HTTP API (:mod:`killswitch.face.api.api`).

What it owns: one method per endpoint an operator or a bot calls, the request each sends (the
bearer token, when it has one, on the endpoints that may need one: the changes, and the reads that
show the book — status, runbooks, a close's progress, the console's reads — which a runner without
``--console-public`` keeps to the viewer, operator and approver roles; never on the lock, the dead
man's switch or check-order, which are public), and reading each answer back into the value
the API serialised: the dataclasses of :mod:`killswitch.view` (and the gate's
:class:`~killswitch.runner.gate.request.Decision`), and the typed form of the documents the API serves
as plain objects (the trading lock, the dead man's switch, a close's progress). Any answer but the endpoint's
success status is one exception, :class:`RunnerError`, carrying the API's reason code
(``UNKNOWN_SCOPE``, ``NOT_LEADER``, ``ROLE_REQUIRED``, ...); a runner that cannot be reached is
a :class:`RunnerUnreachable` that names the URL.

What it must not do: import aiohttp, click or anything the runner needs to run (stdlib urllib
only); print or decide exit codes (the commands do); retry a change (sending one twice is an
operator's decision); put the token anywhere but the Authorization header — not in a message,
an exception, a repr or a log.

The room, by responsibility: the calls, one per endpoint (:mod:`.calls`: most made from the
operations' table, :mod:`killswitch.view.operations`), over the transport
(:mod:`.transport`: the request, the token, TLS, the answer read back), the errors and the
reason codes (:mod:`.errors`), and the documents the API serves as plain objects, typed
(:mod:`.documents`). This face re-exports what callers use.
"""

from __future__ import annotations

from ..holds import (
    DEAD_MANS_SWITCH as DEAD_MANS_SWITCH,
    OPERATOR as OPERATOR,
    ORIGIN_DMS as ORIGIN_DMS,
    ORIGIN_OPERATOR as ORIGIN_OPERATOR,
    ORIGIN_POLICY as ORIGIN_POLICY,
    LockHold as LockHold,
)
from ..view import DecodeError as DecodeError, decode as decode
from .calls import RunnerClient
from .documents import (
    CLOSE_FINAL_STATES,
    CloseProgress,
    DmsSource,
    DmsStatus,
    DmsSummary,
    LimitUsage as LimitUsage,
    LockDocument,
    PolicyLimits as PolicyLimits,
    RefusedSource as RefusedSource,
    ResumeLimits,
    ScopeLock,
    VenueCountdown,
    dms_of,
)
from .errors import RunnerError, RunnerUnreachable
from .transport import DEFAULT_TIMEOUT_S as DEFAULT_TIMEOUT_S

__all__ = ["CLOSE_FINAL_STATES", "CloseProgress", "DecodeError", "DmsSource", "DmsStatus", "DmsSummary",
           "LockDocument", "LockHold", "ORIGIN_DMS", "ORIGIN_OPERATOR", "ORIGIN_POLICY", "ResumeLimits",
           "RunnerClient", "RunnerError", "RunnerUnreachable", "ScopeLock", "VenueCountdown", "dms_of"]
