"""What a reset runs into: a trigger that still fires enters its stage again at the next tick.

What it owns: the warning a reset approval (and its preview) carries when a trigger that enters a
stage of the policy fires now (the stored trigger state, saved every tick, so a standby says the
leader's), with the values that make it fire as the last evaluation read them: ``hard is still
firing (dd = 5.2% >= 4%): stage 3 flatten will be entered again at the next tick``. The stage
machine enters the highest stage whose triggers fire (:func:`~killswitch.engine.stages.step`), so
that is the stage named.

An approval taken while such a trigger fires is refused (``RELATCH_UNCONFIRMED``) unless the
approver confirms it (``confirm_relatch``): a reset while the market still moves may be the
operator's call, but never one made without seeing the warning.

Pure: no I/O, no clock. Must not: recompute what the triggers' status says.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..view import ThresholdCheck, TriggerStatus


def _check(c: ThresholdCheck) -> str:
    return f"{c.signal} = {c.value_text} {c.op} {c.threshold}"


def _values(t: TriggerStatus) -> str:
    if t.as_of_ms is None:
        return "its values are not evaluated by this runner"
    breached = [c for c in t.checks if c.breached]
    return ", ".join(_check(c) for c in (breached or t.checks)) or t.when


def still_firing(node: Any, scope: str, triggers: Sequence[TriggerStatus]) -> tuple[str, ...]:
    """The warning of a reset of ``node`` (a compiled policy) on ``scope`` while a trigger that
    enters one of its stages fires (``triggers``: every trigger's status); () when none fires."""
    firing = {t.name: t for t in triggers if t.firing and t.policy == node.name and t.scope == scope}
    entered = [s for s in node.stages if any(name in firing for name in s.on)]
    if not entered:
        return ()
    top = max(entered, key=lambda s: s.level)
    said = "; ".join(f"{name} is still firing ({_values(firing[name])})" for name in top.on if name in firing)
    return (f"{said}: stage {top.level} {top.name} will be entered again at the next tick after the reset",)


def taken(transition: Optional[Any], why: str) -> bool:
    """Whether a trial approval is taken: the stage released (``transition``), or the approval
    recorded and waiting for the next approver."""
    return transition is not None or why.startswith("APPROVAL_RECORDED")


def relatch_unconfirmed(policy: str, scope: str) -> str:
    """The refusal of an approval taken while a trigger still fires, sent without confirming."""
    return (f"RELATCH_UNCONFIRMED: a trigger of {policy} still fires on {scope}: its stage would be entered again "
            "at the next tick after the reset; nothing was recorded: approve again confirming it "
            "(confirm_relatch: true; ksctl reset --yes) to reset anyway")
