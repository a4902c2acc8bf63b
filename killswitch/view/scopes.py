"""The engaged scopes as the views show them: each instance's stage (its name, whether it resets
by hand, the approvers its reset needs), who has its incident, whether a reload removed it, and,
for a stage that leaves by itself, when (the engine's own rule), whether a trigger still fires and
whether its own lock ran out (:mod:`.own_lock`). Shared by the status and the incidents."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..engine.removed import removed_text, reset_needs
from ..engine.stages import decision_id, leaves_at
from .own_lock import applied_ms, own_lock_ended
from .status import AckStatus, RelatchStatus, ScopeStatus


def ack_fields(have: Optional[Sequence[Any]]) -> tuple[Optional[AckStatus], tuple[AckStatus, ...]]:
    """A status's ``ack`` (the latest) and ``acks`` (everyone who has the incident, oldest first),
    from its acknowledgements (:class:`killswitch.silences.Acknowledgement`)."""
    shown = tuple(AckStatus(a.incident, a.author, a.ts_ms, a.comment) for a in have or ())
    latest = max(shown, key=lambda a: a.ts_ms, default=None)
    return latest, shown


def scope_rows(book: Any, now: int) -> list[ScopeStatus]:
    """Every instance of the book, engaged or armed, as ``GET /v1/status`` lists it."""
    scopes = []
    for key, ss in sorted(book.state.scopes.items()):
        policy, _, scope = key.partition("|")
        name, manual, needed = stage_facts(book.node(policy), ss)
        incident = decision_id(policy, scope, ss.stage.level, ss.stage.entries) if ss.stage.level else None
        leaves = leave_facts(book, policy, scope, ss, manual, now) if ss.stage.level > 0 else {}
        if leaves:  # a trigger fired at the last tick: its quiet has not begun (the card reads the triggers)
            last = book.state.last_tick_ms
            leaves["firing"] = last is not None and ss.stage.last_active_ms is not None \
                and ss.stage.last_active_ms >= last
        scopes.append(ScopeStatus(policy, scope, ss.stage.level, name, manual, tuple(ss.stage.approvals),
                                  needed, ss.stage.entered_ms, *ack_fields(book.acks.get(incident or "")),
                                  removed=removed_text(policy, scope, ss.stage.level, ss.removed)
                                  if ss.removed is not None else None,
                                  removed_ms=ss.removed.since_ms if ss.removed is not None else None,
                                  continues=relatch_status(ss), **leaves))
    return scopes


def relatch_status(ss: Any) -> Optional[RelatchStatus]:
    """What an engaged stage entry made at the first tick after a manual reset continues (the
    engine's mark, kept with the stage while it holds: saved, so a restart says it too)."""
    m = ss.stage.continues if ss.stage.level > 0 else None
    return None if m is None else RelatchStatus(m.incident, m.reset_ms, m.approvers, m.orders, m.acked_by)


def leave_facts(book: Any, policy: str, scope: str, ss: Any, manual: bool, now: int) -> dict[str, Any]:
    """For an engaged stage that leaves by itself: when (``leaves_ms``, if its triggers stay
    quiet), the quiet it needs, and when its own lock ran out (None while it holds). Empty for
    a stage reset by hand, and for an instance the graph no longer runs (never reset by its
    triggers: only by hand)."""
    if manual or ss.removed is not None:
        return {}
    node = book.node(policy)
    level = ss.stage.level
    stage = next((s for s in node.stages if s.level == level), None) if node else None
    if stage is None:
        return {}
    return {"leaves_ms": leaves_at(stage, ss.stage), "quiet_s": stage.reset_after_s,
            "own_lock_ended": own_lock_ended(stage, level, applied_ms(ss.stage), book.lock_book, policy, scope, now)}


def stage_facts(node: Any, ss: Any) -> tuple[Optional[str], bool, int]:
    """An instance's stage as the views show it: its name, whether it resets by hand, and the
    approvers its reset needs — for an instance the graph no longer runs, what was kept with it
    (engine/removed.py: the reset asks that)."""
    level, r = ss.stage.level, ss.removed
    stage = next((st for st in node.stages if st.level == level), None) if node else None
    if r is not None and level > 0:
        return stage.name if stage else r.stage_name, r.manual, reset_needs(r)
    if level > 0 and ss.stage.manual is not None and ss.stage.needs is not None:
        # fixed when the stage was entered: a reload since changes only stages entered after it
        return stage.name if stage else None, ss.stage.manual, ss.stage.needs if ss.stage.manual else 1
    return (stage.name if stage else None, bool(stage and stage.manual),
            stage.approvals if stage and stage.manual else (1 if stage else 0))
