"""Triggers: a condition confirmed over time, with a declared meaning for missing data.

Per tick and scope, a trigger's condition is True, False or unknown (a signal it reads has no
value). ``on_missing_data`` turns unknown into a decision: ``fire`` (fail closed), ``ignore``
(counts as false), or ``hold`` (as if the tick did not happen: the previous result stands and
the confirmation count neither grows nor resets).

``for: N ticks`` needs N consecutive true ticks; ``for: 2m`` needs the condition true for two
minutes (measured from the first true tick); once firing, ``keep_firing_for`` keeps it firing
that long after the condition stops. Thresholds are inclusive, as written in the condition.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..compile.graph import TriggerNode
from ..policy.expr import Values
from .state import TriggerState


@dataclass(frozen=True)
class TriggerResult:
    name: str
    condition: Optional[bool]  # the raw condition: True, False, None (unknown)
    firing: bool
    pending: Optional[str]  # e.g. "2/3 ticks" or "45s/2m" while confirming
    reason: Optional[str]  # e.g. "MISSING_DATA: rule=hold"


def step(node: TriggerNode, st: TriggerState, values: Values, now: int) -> TriggerResult:

    raw = node.predicate(values)
    reason = None
    if raw is None:
        rule = node.on_missing_data
        reason = f"MISSING_DATA: rule={rule}"
        if rule == "fire":
            cond = True
        elif rule == "ignore":
            cond = False
        else:  # hold: nothing about this tick is known; keep everything as it was
            return TriggerResult(node.name, None, st.firing, _pending(node, st, now), reason)
    else:
        cond = raw
    st.last = cond
    if cond:
        if st.streak == 0:
            st.since_ms = now
        st.streak += 1
        confirmed = _confirmed(node, st, now)
    else:
        st.streak = 0
        st.since_ms = None
        confirmed = False
    if confirmed:
        st.last_fire_ms = now
    firing = confirmed or _kept(node, st, now)
    st.firing = firing
    return TriggerResult(node.name, raw, firing, None if firing or not cond else _pending(node, st, now), reason)


def _confirmed(node: TriggerNode, st: TriggerState, now: int) -> bool:
    if node.confirm_ticks is not None:
        return st.streak >= node.confirm_ticks
    if node.confirm_s is not None:
        return st.since_ms is not None and now - st.since_ms >= node.confirm_s * 1000
    return True


def _kept(node: TriggerNode, st: TriggerState, now: int) -> bool:
    """Still firing within keep_firing_for of the last tick the confirmed condition held."""
    k = node.keep_firing_for_s
    return k is not None and st.last_fire_ms is not None and now - st.last_fire_ms <= k * 1000


def _pending(node: TriggerNode, st: TriggerState, now: int) -> Optional[str]:
    if st.streak == 0:
        return None
    if node.confirm_ticks is not None:
        return f"{st.streak}/{node.confirm_ticks} ticks"
    if node.confirm_s is not None and st.since_ms is not None:
        return f"{(now - st.since_ms) / 1000:g}s/{node.confirm_s:g}s"
    return None
