"""The stage machine of one policy in one scope instance.

Rules, each refusal with a reason code a person can grep:

- the highest triggered stage wins; escalation is always allowed (``ESCALATED``);
- the current stage is entered again only after its cooldown (``COOLDOWN_ACTIVE``); without a
  cooldown its actions run once per entry (``STAGE_ACTIVE``);
- never down: a lower stage firing while a higher one is active changes nothing
  (``NO_DEESCALATION``);
- an ``auto`` stage re-arms (back to level 0) once *no* stage of the policy has fired for its
  ``reset_after`` (default: its cooldown; none: the first quiet tick) — a quiet scope, so that
  a still-firing lower stage cannot turn a reset into a step down — and never before its
  cooldown since the last entry has run out (``AUTO_RESET``);
- a ``manual`` stage is latched until :func:`approve_reset` has heard its number of distinct
  approvers (``APPROVAL_RECORDED``, ``MANUAL_RESET``); a stage entered at the first step after
  that reset (a trigger still fired) continues the incident the reset ended: the reset marks the
  stage (:class:`~.state.ResetMark`), the entry carries the mark (``continues``) while it holds,
  and a step that enters nothing drops it;
- a stage with a window (``during:`` / ``outside:``) counts as triggered only while its window
  is open (``WINDOW_CLOSED`` names it otherwise); the window gates entry alone: a stage entered
  stays entered when its window closes, and resets by its own rule.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from ..compile.graph import PolicyNode, StageNode
from ..figures import iso
from .state import ResetMark, StageState


@dataclass(frozen=True)
class StageTransition:
    kind: str  # entered | reentered | reset
    from_level: int
    to_level: int
    stage: Optional[str]  # name of the stage entered (None for a reset)
    reason: str
    decision_id: Optional[str]  # for entries: names every order the entry plans
    # for a stage that reset itself: the incident it ends (the decision id of the entry left), so
    # that its re-arm page carries that incident's label and a silence made from it holds it back
    ended: Optional[str] = None
    # for an entry at the first step after a manual reset (a trigger still fired): that reset, and
    # the incident it ended, which this entry continues
    continues: Optional[ResetMark] = None


def decision_id(policy: str, scope: str, level: int, entry: int) -> str:
    return f"{policy}/{scope}/L{level}/e{entry}"


def incident_of(decision_id: str) -> str:
    """The incident a decision belongs to: itself, or its entry for a re-plan (``/r<n>``)."""
    return re.sub(r"/r\d+$", "", decision_id)


def _stage(policy: PolicyNode, level: int) -> Optional[StageNode]:
    for s in policy.stages:
        if s.level == level:
            return s
    return None


def step(policy: PolicyNode, scope: str, st: StageState, firing: set[str], now: int
         ) -> tuple[Optional[StageTransition], list[str]]:
    """Advance the machine by one tick given the firing triggers. Returns (transition, refusals)."""
    triggered = [s for s in policy.stages if any(t in firing for t in s.on)]
    refusals: list[str] = []
    # what fires keeps an entered stage active, whatever the windows: a window closing is no quiet
    fired = bool(triggered)
    if any(s.window is not None for s in triggered):
        triggered = [s for s in triggered if _open(s, now, refusals)]
    target = max((s.level for s in triggered), default=0)
    names = {s.level: ",".join(t for t in s.on if t in firing) for s in triggered}
    current = st.level
    # a manual reset just made (level 0): what a stage entered at this step continues, else dropped
    relatched = st.continues if current == 0 else None
    if fired and current > 0:
        st.last_active_ms = now
    if target > current:
        stage = _stage(policy, target)
        assert stage is not None
        st.entries += 1
        st.level = target
        st.entered_ms = now
        st.last_entry_ms[target] = now
        st.last_active_ms = now
        st.approvals = []
        st.deferred = False
        st.retries = st.held = 0
        st.latch(stage.manual, stage.approvals)
        st.continues = relatched
        reason = f"ESCALATED: stage={current}->{target} triggers={names[target]}"
        return StageTransition("entered", current, target, stage.name, reason,
                               decision_id(policy.name, scope, target, st.entries), continues=relatched), refusals
    if current == 0:
        st.continues = None
        return None, refusals
    cur = _stage(policy, current)
    if target == current and cur is not None:
        cooldown_ms = int((cur.cooldown_s or 0) * 1000)
        last = st.last_entry_ms.get(current, st.entered_ms or now)
        if cur.cooldown_s is not None and now - last >= cooldown_ms:
            st.entries += 1
            st.last_entry_ms[current] = now
            reason = f"COOLDOWN_ELAPSED: stage={current} triggers={names[target]}"
            return StageTransition("reentered", current, current, cur.name, reason,
                                   decision_id(policy.name, scope, current, st.entries)), refusals
        if cur.cooldown_s is not None:
            refusals.append(f"COOLDOWN_ACTIVE: stage={current} until={iso(last + cooldown_ms)}")
        else:
            refusals.append(f"STAGE_ACTIVE: stage={current} actions run once per entry (no cooldown)")
        return None, refusals
    if 0 < target < current:
        refusals.append(f"NO_DEESCALATION: stage={current} triggered={target}")
        return None, refusals
    if fired:  # only stages whose window is closed fire: nothing to enter, and no quiet either
        return None, refusals
    # nothing fires: an auto stage may re-arm after the quiet time; a manual one stays latched
    if cur is None or (cur.manual if st.manual is None else st.manual):
        if cur is not None:
            refusals.append(f"LATCHED: stage={current} needs a manual reset by {needs(cur, st)} approver(s)")
        return None, refusals
    quiet_ms = int((cur.reset_after_s or 0) * 1000)
    since = st.last_active_ms if st.last_active_ms is not None else (st.entered_ms or now)
    # Re-arming before the cooldown ran out would let the stage act again within it.
    cooled = cur.cooldown_s is None or now - st.last_entry_ms.get(current, since) >= cur.cooldown_s * 1000
    if now - since >= quiet_ms and (quiet_ms > 0 or now > since) and cooled:
        reason = f"AUTO_RESET: stage={current} quiet={(now - since) / 1000:g}s"
        _reset(st)
        return StageTransition("reset", current, 0, None, reason, None,
                               decision_id(policy.name, scope, current, st.entries)), refusals
    wait = f" cooldown until={iso(st.last_entry_ms.get(current, since) + int((cur.cooldown_s or 0) * 1000))}" \
        if not cooled else ""
    refusals.append(f"RESET_PENDING: stage={current} quiet={(now - since) / 1000:g}s of {quiet_ms / 1000:g}s{wait}")
    return None, refusals


def leaves_at(stage: Optional[StageNode], st: StageState) -> Optional[int]:
    """When ``st``'s auto stage re-arms if no trigger of its policy fires again: its quiet time
    (``reset_after``) after the last tick one fired, and not before its cooldown since its last
    entry has run out (the rule of :func:`step`; the first tick at or after it resets). None for a
    stage that resets by hand, or not known."""
    if stage is None or (stage.manual if st.manual is None else st.manual) or st.level <= 0:
        return None
    since = st.last_active_ms if st.last_active_ms is not None else st.entered_ms
    if since is None:
        return None
    at = since + int((stage.reset_after_s or 0) * 1000)
    if stage.cooldown_s is not None:
        at = max(at, st.last_entry_ms.get(st.level, since) + int(stage.cooldown_s * 1000))
    return at


def _open(stage: StageNode, now: int, refusals: list[str]) -> bool:
    """Whether a triggered stage's window lets it be entered at ``now`` (said when it does not)."""
    w = stage.window
    if w is None:
        return True
    open_, edge = w.at(now)
    if not open_:
        opens = f" opens={iso(edge)}" if edge is not None else ""
        refusals.append(f"WINDOW_CLOSED: stage={stage.level} {w.text}{opens}")
    return open_


def _reset(st: StageState) -> None:
    st.level = 0
    st.entered_ms = None
    st.last_active_ms = None
    st.approvals = []
    st.manual = st.needs = None
    st.continues = None


def needs(stage: Optional[StageNode], st: StageState) -> int:
    """The distinct approvers the reset of ``st``'s stage needs: those fixed when it was entered
    (a reload since does not change them), else ``stage``'s (the running graph's; one when not
    manual or not known)."""
    if st.needs is not None:
        return st.needs
    return stage.approvals if stage is not None and stage.manual else 1


def _person(name: str) -> str:
    """One approver, however the name is spelled (case, width, composed or not): two approvals
    need two people, and ``alice`` and ``Alice`` are one."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def withdraw_approval(st: StageState, approver: str) -> Optional[str]:
    """Take ``approver``'s pending approval of the reset of ``st`` back (the person, however the
    name is spelled); the approval as it was recorded, None when ``approver`` had none pending."""
    given = next((a for a in st.approvals if _person(a) == _person(approver)), None)
    if given is not None:
        st.approvals.remove(given)
    return given


def approve_reset(policy: Optional[PolicyNode], scope: str, st: StageState, approver: str, now: int,
                  need: Optional[int] = None, *, orders: Optional[int] = None, acked_by: tuple[str, ...] = ()
                  ) -> tuple[Optional[StageTransition], str]:
    """Record one approver's reset; reset when the stage's number of distinct approvers is
    reached (``need``, when given: an instance the graph no longer runs, engine/removed.py). A
    reset marks the stage with what it released (:class:`~.state.ResetMark`: the incident with
    ``orders`` and ``acked_by``, as the caller found them): a stage the next step enters again
    continues that incident."""
    if st.level == 0:
        return None, "NOT_ENGAGED: nothing to reset"
    if need is None:
        need = needs(_stage(policy, st.level) if policy is not None else None, st)
    if _person(approver) in {_person(a) for a in st.approvals}:
        return None, f"DUPLICATE_APPROVER: {approver} already approved ({len(st.approvals)}/{need})"
    st.approvals.append(approver)
    if len(st.approvals) < need:
        return None, f"APPROVAL_RECORDED: {len(st.approvals)}/{need} approvers={','.join(st.approvals)}"
    level, who, entry = st.level, ",".join(st.approvals), st.entries
    approvers = tuple(st.approvals)
    _reset(st)
    if policy is not None:  # (an instance the graph no longer runs is never entered again)
        st.continues = ResetMark(decision_id(policy.name, scope, level, entry), now, approvers, orders, acked_by)
    return StageTransition("reset", level, 0, None, f"MANUAL_RESET: stage={level} approvers={who}", None), \
        f"MANUAL_RESET: stage={level} approvers={who}"
