"""The checks of a policy's stages, and their nodes.

What it owns: :func:`check_stages`, which builds each stage's node and finds what is wrong with
the stages: two at one level (KS201), listed out of order (KS202), a manual-reset stage that can
be left without a reset (KS203), a stage no trigger can reach (KS204), a name used twice
(KS105), an unknown trigger (KS104), approvals on a stage that resets by itself (KS213), a
revoke_trading on one (KS250) or whose scope reaches an account the venue's switch cannot
(KS261, :func:`.revoke_check.revoke_findings`), or an arm_exchange_dms whose scope reaches an account
whose venue keeps no countdown (KS262, :func:`.dms_check.dms_findings`).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic
from ..policy.units import Duration
from .dms_check import dms_findings
from .graph import StageNode
from .node_build import action_node
from .policy_pass import PolicyPass
from .revoke_check import revoke_findings
from .scope_check import ActionUse


def check_stages(pc: PolicyPass, good_triggers: set[str]) -> dict[int, StageNode]:
    out: dict[int, StageNode] = {}
    by_level: dict[int, int] = {}
    by_name: dict[str, int] = {}
    prev_level = None
    declared = set(pc.spec.triggers)
    for i, st in enumerate(pc.spec.stages):
        sp = pc.doc.stage_path(i)
        actions = tuple(action_node(a) for a in st.actions)
        pc.stage_actions.append(actions)  # (what the later checks read of them)
        if st.level in by_level:
            other = pc.spec.stages[by_level[st.level]]
            opos = pc.sm.value(pc.doc.stage_path(by_level[st.level]) + ("level",))
            pc.add(d.KS201, pc.sm.value(sp + ("level",)),
                   f'stage "{st.name}" repeats level {st.level} of stage "{other.name}" (line {opos.line})',
                   "each stage needs its own level; higher levels act harder")
        elif prev_level is not None and st.level < prev_level:
            pc.add(d.KS202, pc.sm.value(sp + ("level",)),
                   f'stage "{st.name}" (level {st.level}) is listed after level {prev_level}',
                   "list stages from the lowest level up, so the file reads in order of escalation")
        by_level.setdefault(st.level, i)
        prev_level = st.level if prev_level is None else max(prev_level, st.level)
        unsure = pc.doc.stage_uncertain  # a field salvage dropped: its default is not the author's
        if unsure(i, "name"):
            pass  # its name is reported already, and is not one
        elif st.name in by_name:
            pc.add(d.KS105, pc.sm.value(sp + ("name",)), f'stage name "{st.name}" is used twice',
                   "stage names appear in status, reset and runbooks; make them unique")
        else:
            by_name[st.name] = i
        for j, tname in enumerate(st.on):
            if tname not in declared and tname not in pc.bad_triggers:
                pc.add(d.KS104, pc.sm.value(sp + ("on", j)),
                       f'stage "{st.name}" uses unknown trigger "{tname}"',
                       d.suggestion_hint(tname, declared, "triggers are declared under spec.triggers"))
        if not st.on and not unsure(i, "on"):
            pc.add(d.KS204, pc.sm.key(sp + ("on",)) if "on" in pc.raw_stage(i) else pc.sm.value(sp),
                   f'stage "{st.name}" has no trigger, so nothing can reach it',
                   "list the triggers that enter it under on:")
        if st.reset == "manual" and st.reset_after is not None and not unsure(i, "reset", "reset_after"):
            pc.add(d.KS203, pc.sm.key(sp + ("reset_after",)),
                   f'manual-reset stage "{st.name}" has reset_after, which would leave it without a reset',
                   "remove reset_after, or make the stage reset: auto")
        # the kind of an action that revokes the bots' keys (revoke_trading): it asks the runner to
        revoking = next((a.kind for a in actions if a.asks.revokes), None)
        if revoking is not None and st.reset == "auto" and not unsure(i, "reset"):
            pc.add(d.KS250, _action_pos(pc, i, sp, revoking),
                   f'stage "{st.name}" revokes trading at the venue but resets by itself; the keys would '
                   "stay read-only with no reset to restore them",
                   "set reset: manual (with approvals: 2 for a second approver of the restore)")
        if revoking is not None:
            _reach(pc, revoke_findings, _action_pos(pc, i, sp, revoking))
        arming = next((a.kind for a in actions if a.asks.countdowns), None)  # arm_exchange_dms
        if arming is not None:
            _reach(pc, dms_findings, _action_pos(pc, i, sp, arming))
        if st.reset == "auto" and st.approvals > 1 and not unsure(i, "reset", "approvals"):
            pc.add(d.KS213, pc.sm.key(sp + ("approvals",)),
                   f'stage "{st.name}" resets by itself, so its {st.approvals} approvals would never be asked',
                   "set reset: manual to require approvals")
        out.setdefault(st.level, StageNode(
            level=st.level,
            name=st.name,
            on=tuple(t for t in st.on if t in good_triggers or t in declared),
            cooldown_s=st.cooldown.seconds if st.cooldown else None,
            reset=st.reset,
            reset_after_s=_seconds(st.reset_after or st.cooldown) if st.reset == "auto" else None,
            approvals=st.approvals,
            actions=actions,
        ))
    _latch_and_reach(pc, out)
    return out


def _latch_and_reach(pc: PolicyPass, stages: dict[int, StageNode]) -> None:
    ordered = sorted(stages.values(), key=lambda s: s.level)
    unsure_reset, unsure_on = pc.unsure_levels("reset"), pc.unsure_levels("on")
    latch = None
    for st in ordered:
        if latch is not None and not st.manual and st.level not in unsure_reset:
            pc.add(d.KS203, pc.stage_pos(st.level, "reset"),
                   f'stage "{st.name}" (level {st.level}) resets automatically above manual-reset stage '
                   f'"{latch.name}" (level {latch.level}); its reset would release the latched stage',
                   f'make "{st.name}" reset: manual too')
        if st.manual and latch is None:
            latch = st
    for k, low in enumerate(ordered):
        mine = set(low.on) - pc.bad_triggers
        if not mine or set(low.on) & pc.bad_triggers or low.level in unsure_on:
            continue
        for high in ordered[k + 1:]:
            if mine <= set(high.on):
                pc.add(d.KS204, pc.stage_pos(low.level, "on"),
                       f'stage "{low.name}" (level {low.level}) can never be entered: every trigger of it also '
                       f'enters "{high.name}" (level {high.level}), and the highest triggered stage wins',
                       f'give "{low.name}" a trigger of its own')
                break


def _action_pos(pc: PolicyPass, i: int, sp: tuple[Any, ...], kind: str) -> Any:
    """Where stage ``i`` (at ``sp``) writes its first action of ``kind`` (the stage, when it cannot be told)."""
    raw = pc.raw_stage(i).get("actions")
    at = next((j for j, a in enumerate(raw) if a == kind or (
        isinstance(a, dict) and kind in a)), None) if isinstance(raw, list) else None
    return pc.sm.value(sp + ("actions", at)) if at is not None else pc.sm.value(sp)


def _reach(pc: PolicyPass, findings: Callable[[Sequence[Account], list[ActionUse]], list[Diagnostic]],
           pos: Any) -> None:
    """KS261 or KS262 (``findings``): a stage's revoke_trading or arm_exchange_dms whose scope
    selects an account it cannot reach, checked against the declared accounts when they are known
    whole."""
    accounts = pc.ctx.declared_accounts()
    if accounts is not None:
        pc.diags.extend(findings(accounts, [ActionUse(pc.doc.file, pos, pc.spec.scope, pc.policy.metadata.name)]))


def _seconds(duration: Optional[Duration]) -> Optional[float]:
    return duration.seconds if duration else None
