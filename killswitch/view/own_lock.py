"""Whether a stage still holds its own lock: a ttl'd lock can end while the stage holds on.

What it owns: the words status and the console's incident card say of a stage that leaves by
itself whose ``lock_trading`` has a ``ttl`` shorter than the stage's stay, once that ttl has run
out (the lock book dropped the hold): ``its own lock (reducing, ttl 10m) ended at 09:01:29 UTC:
the stage holds no lock now``, and what binds the scope instead when something does
(``…; halted by operator alice binds it``). A reader takes "stage 1 slow-down" for "reducing":
this says when that is no longer so.

Pure: no I/O, no clock (``now_ms`` is the caller's). Must not: say it of a manual-reset stage
(its hold stays until the reset, whatever its ttl) nor of a stage whose lock has no ttl.
"""

from __future__ import annotations

from typing import Any, Optional

from ..figures import duration_text, iso_ms
from ..holds import LockHold as HoldDoc, holder


def applied_ms(st: Any) -> Optional[int]:
    """When a stage's actions last ran (its lock applied): its entry, or a cooldown re-run since."""
    return st.last_entry_ms.get(st.level, st.entered_ms) if st.entered_ms is not None else None


def own_lock_ended(stage: Any, level: int, entered_ms: Optional[int], book: Any, policy: str, scope: str,
                   now_ms: int) -> Optional[str]:
    """The words for ``policy``'s stage ``level`` on ``scope`` (its compiled ``stage``, its actions
    last run at ``entered_ms``: :func:`applied_ms`) whose own ttl'd lock has ended by ``now_ms``;
    None while it holds one, or when its stage asks no lock, one without a ttl, or has not been
    entered."""
    asked = [lk for a in stage.actions for lk in a.asks.locks]
    if not asked or entered_ms is None or any(lk.ttl_ms is None for lk in asked):
        return None
    if any(h.scope == scope and h.policy == policy and h.stage in (None, level) for h in book.in_force(now_ms)):
        return None
    last = max(asked, key=lambda lk: lk.ttl_ms or 0)
    ended_ms = entered_ms + (last.ttl_ms or 0)
    if ended_ms > now_ms:  # (not applied yet: the entry's tick has not run)
        return None
    said = (f"its own lock ({last.mode}, ttl {duration_text((last.ttl_ms or 0) / 1000)}) ended at "
            f"{iso_ms(ended_ms)[11:19]} UTC: the stage holds no lock now")
    binds = book.for_scope(scope, now_ms)
    if not binds.locked:
        return said
    who = holder(HoldDoc(binds.mode, binds.policy, binds.stage, binds.reason, binds.manual, None, None,
                         dict(binds.details)))
    return f"{said}; {binds.mode} by {who} binds {scope}"


__all__ = ["applied_ms", "own_lock_ended"]
