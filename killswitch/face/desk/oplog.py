"""The log line of an operator's change: one INFO line per lock, unlock, close, reset approval and
dead man's switch change, with who sent it (the caller's identity) and what the runner answered.

What it owns: the words of that line (``OPERATOR lock by alice: scope=... mode=halted: LOCKED: ...``),
so that ``kubectl logs`` tells who did what without reading the audit trail. The audit trail
stays the record; this line is what an on-call engineer reads while it happens.

Must not: decide anything, or log a token (the caller's identity is a name; the reason an
operator typed goes through the log's scrubber like every line).
"""

from __future__ import annotations

import logging
from typing import Any, Optional, TypeVar

log = logging.getLogger("killswitch.runner.operator")

R = TypeVar("R")


def said(action: str, actor: Optional[str], result: R, **what: Any) -> R:
    """Log ``action`` by ``actor`` and the runner's answer (``result``: a ChangeResult,
    ResetResult or CloseResult, read by its ``reason`` and whether it was done); ``what``: the
    names it acted on (scope, policy, mode, source...), in order. Returns ``result``."""
    reason = getattr(result, "reason", "")
    done = getattr(result, "done", None)
    if done is None:
        done = getattr(result, "accepted", False)
    if action == "reset":
        done = bool(getattr(result, "taken", done))
    if action == "reset withdraw":  # a withdrawal taken is done, though nothing was released
        done = str(reason).startswith("APPROVAL_WITHDRAWN")
    names = " ".join(f"{k}={v}" for k, v in what.items() if v is not None)
    log.info("OPERATOR %s by %s%s: %s%s", action, actor or "an unknown caller", f" ({names})" if names else "",
             "" if done or getattr(result, "stored", None) else "REFUSED: ", reason)
    return result
