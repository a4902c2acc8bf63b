"""What a reset runs into: a trigger that still fires enters its stage again at the next tick.

What it owns: the warning a reset approval (and its preview) carries when a trigger that enters a
stage of the policy fires now (the stored trigger state, saved every tick, so a standby says the
leader's), with the time and values of the last evaluation that read it firing: ``hard was
firing at the last tick (13:00:00 UTC: dd = 5.2% >= 4%): stage 3 flatten will be entered again at
the next tick after the reset if still firing then`` (what has changed since, a heartbeat that
came, is not known to it). The stage
machine enters the highest stage whose triggers fire (:func:`~killswitch.engine.stages.step`), so
that is the stage named.

An approval taken while such a trigger fires is refused (``RELATCH_UNCONFIRMED``) unless the
approver confirms it (``confirm_relatch``): a reset while the market still moves may be the
operator's call, but never one made without seeing the warning.

Pure: no I/O, no clock. Must not: recompute what the triggers' status says.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..engine.guarded import within
from ..figures import iso_ms
from ..policy.kinds.heartbeat_age import unheard
from .incidents import ThresholdCheck, TriggerStatus


def _check(c: ThresholdCheck) -> str:
    """A check as read: ``dd = 5.2% >= 4%``; a heartbeat never heard past its grace as such."""
    return unheard(c.reason) or f"{c.signal} = {c.value_text} {c.op} {c.threshold}"


def _values(t: TriggerStatus) -> str:
    """When the last tick read the trigger and with what values (``13:00:00 UTC: dd = 5.2% >=
    4%``): the warning is as of that tick, not now (a heartbeat may have come since)."""
    if t.as_of_ms is None:
        return "its values are not evaluated by this runner"
    breached = [c for c in t.checks if c.breached]
    return f"{iso_ms(t.as_of_ms)[11:19]} UTC: " + (", ".join(_check(c) for c in (breached or t.checks)) or t.when)


def _firing(node: Any, scope: str, triggers: Sequence[TriggerStatus]) -> dict[str, TriggerStatus]:
    return {t.name: t for t in triggers if t.firing and t.policy == node.name and t.scope == scope}


def entered_again(node: Any, scope: str, triggers: Sequence[TriggerStatus]) -> Optional[Any]:
    """The stage of ``node`` a reset on ``scope`` leads back into at the next tick (the highest
    whose triggers fire now), or None."""
    firing = _firing(node, scope, triggers)
    entered = [s for s in node.stages if any(name in firing for name in s.on)]
    return max(entered, key=lambda s: s.level) if entered else None


def still_firing(node: Any, scope: str, triggers: Sequence[TriggerStatus]) -> tuple[str, ...]:
    """The warning of a reset of ``node`` (a compiled policy) on ``scope`` while a trigger that
    enters one of its stages fires (``triggers``: every trigger's status); () when none fires."""
    top = entered_again(node, scope, triggers)
    if top is None:
        return ()
    firing = _firing(node, scope, triggers)
    said = "; ".join(f"{name} was firing at the last tick ({_values(firing[name])})" for name in top.on
                     if name in firing)
    return (f"{said}: stage {top.level} {top.name} will be entered again at the next tick after the reset "
            "if still firing then",)


def refused_again(stage: Optional[Any], scope: str, refused: Sequence[tuple[str, str, str, bool]],
                  shown: int = 3) -> tuple[str, ...]:
    """What the ``stage`` entered again after a reset on ``scope`` sends that the venue refused
    before: ``refused`` holds each leg whose close the ledger keeps a refusal of (any incident:
    account, symbol, leg, whether a person accepted it). A new stage entry is a new incident: its
    closes try every leg anew, within their own bound, accepted ones too. () when the stage does
    not close or no such leg is on an account ``scope`` covers."""
    if stage is None or not any(a.closes for a in stage.actions):
        return ()
    legs = [r for r in refused if within(scope, (r[0],))]
    if not legs:
        return ()
    accepted = sum(1 for r in legs if r[3])
    named = ", ".join(f"{symbol} {leg} on {account}" for account, symbol, leg, _ in legs[:shown])
    more = f" and {len(legs) - shown} more" if len(legs) > shown else ""
    whole = any(getattr(a, "closes_all", False) for a in stage.actions)
    return (f"{len(legs)} leg(s) whose close the venue refused {'will' if whole else 'may'} be sent again when stage "
            f"{stage.level} {stage.name} is entered again (a new incident tries anew"
            + (f"; {accepted} of them accepted by a person" if accepted else "") + f"): {named}{more}",)


def taken(transition: Optional[Any], why: str) -> bool:
    """Whether a trial approval is taken: the stage released (``transition``), or the approval
    recorded and waiting for the next approver."""
    return transition is not None or why.startswith("APPROVAL_RECORDED")


def relatch_unconfirmed(policy: str, scope: str) -> str:
    """The refusal of an approval taken while a trigger still fires, sent without confirming."""
    return (f"RELATCH_UNCONFIRMED: a trigger of {policy} still fires on {scope}: its stage would be entered again "
            "at the next tick after the reset; nothing was recorded: approve again confirming it "
            "(confirm_relatch: true; ksctl reset --yes) to reset anyway")
