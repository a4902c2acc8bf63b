"""What still stands when a process first evaluates: said once in its log.

A restarted runner (or one taking over) carries on from the store: a stage entered before it
started still holds, a close the venue refused is still not sent again, the lock violations of
the last day are still recalled. Status and the console show them; one tailing the fresh log
must be told too, not only what is blind (:func:`..sinks.coverage.log_changes`). :func:`log_standing`
writes one WARNING line each: ``STAGE_HOLDS`` per engaged stage (latched: how many approvers its
reset needs, and who approved so far), ``CLOSE_REJECTED`` per refused leg not accepted
(``CLOSE_ACCEPTED`` at INFO for one a person accepted), ``LOCK_VIOLATIONS`` with the count,
``LOCK_HOLDS`` per lock of an operator or the dead man's switch in force (a stage's is its
``STAGE_HOLDS``), and ``TRADING`` per account whose bots' keys are revoked, owed or failing at
the venue, with who holds them so, and per account a revoke's scope reached but could not revoke
(in the words of its standing fact, :mod:`killswitch.facts.trading`).

Pure but for the log: no I/O, no clock.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Optional

from ...facts import trading
from ...facts.trading import hold_text
from ...holds import LockHold as HoldDoc, held_until, holder
from ..book.revoke_state import RevokeBook, permission_status
from ..lock.lock import NOT_A_POLICY, LockBook, iso_ms

log = logging.getLogger("killswitch.runner")


def _stage_words(graph: Any, policy: str, level: int) -> str:
    """``stage 5 halt (latched: its reset needs 2 approver(s))``, or ``stage 5`` when the graph
    running no longer has it."""
    try:
        stage = graph.policy(policy).stage(level)
    except (StopIteration, AttributeError):
        return f"stage {level}"
    latched = f" (latched: its reset needs {stage.approvals} approver(s))" if stage.manual else ""
    return f"stage {level} {stage.name}{latched}"


def log_standing(state: Any, graph: Any, refused: Iterable[tuple[str, str, str, bool]],
                 violations: Optional[Mapping[str, Any]], *, locks: Optional[LockBook] = None,
                 revokes: Optional[RevokeBook] = None, now: Optional[int] = None) -> int:
    """One line for each thing that still stands (see the module doc); how many lines."""
    n = _log_locks(locks, now) + _log_trading(revokes)
    for key, ss in sorted(state.scopes.items()):
        st = ss.stage
        if st.level <= 0:
            continue
        policy, _, scope = key.partition("|")
        since = f" since {iso_ms(st.entered_ms)}" if st.entered_ms is not None else ""
        approved = f"; approved by {', '.join(st.approvals)}" if st.approvals else ""
        removed = "; removed from the running policies, kept until reset" if ss.removed is not None else ""
        log.warning("STAGE_HOLDS: %s %s %s%s%s%s (ksctl status)", policy, scope,
                    _stage_words(graph, policy, st.level), since, approved, removed)
        n += 1
    for account, symbol, leg, accepted in refused:
        if accepted:
            log.info("CLOSE_ACCEPTED: %s %s on %s: the venue refused its close; a person accepted it left open",
                     symbol, leg, account)
        else:
            log.warning("CLOSE_REJECTED: %s %s on %s: the venue refused its close; not sent again "
                        "(ksctl close-accept, or close it by hand)", symbol, leg, account)
        n += 1
    total = int((violations or {}).get("total") or 0)
    if total:
        since_ms = (violations or {}).get("since_ms")
        log.warning("LOCK_VIOLATIONS: %d%s: orders that broke a lock at the venue (the latest in ksctl status)",
                    total, f" since {iso_ms(since_ms)}" if isinstance(since_ms, int) else "")
        n += 1
    return n


def _log_locks(locks: Optional[LockBook], now: Optional[int]) -> int:
    """``LOCK_HOLDS: binanceusdm/sim-main halted by operator alice until ksctl unlock (since …): why``."""
    mine = [h for h in (locks.in_force(now) if locks is not None else ()) if h.policy in NOT_A_POLICY]
    for h in sorted(mine, key=lambda h: (h.scope, h.created_ms)):
        doc = HoldDoc(**h.to_doc())
        why = h.details.get("reason") or h.reason  # an operator's: the words they typed
        log.warning("LOCK_HOLDS: %s %s by %s %s (since %s): %s (ksctl status)", h.scope, h.mode, holder(doc),
                    held_until(doc), iso_ms(h.created_ms), why)
    return len(mine)


def _log_trading(revokes: Optional[RevokeBook]) -> int:
    """``TRADING: binanceusdm/sim-main revoked (read back); held by alice's revoke of binanceusdm``,
    and each account a holding revoke's scope reached but could not revoke."""
    if not revokes:
        return 0
    status = permission_status(revokes)
    said = list(trading.facts(SimpleNamespace(trading=status)))  # the accounts out of reach: the fact's words
    for f in said:
        held = "; ".join(hold_text(h) for h in status[f.scope]["holds"]) if f.scope in status else ""
        log.warning("TRADING: %s (ksctl status)", f"{f.scope}: {f.data['shown']}" if f.data.get("out_of_reach")
                    else f"{f.scope} {f.data['shown']}; held by {held or 'nothing (restore owed)'}")
    return len(said)


__all__ = ["log_standing"]
