"""Every trigger's status as the views show it: firing as the stored trigger state says, and each
comparison against the values of the last evaluation (``GET /v1/triggers``, the console's cards,
a reset's warning of a trigger that still fires, :mod:`.relatch`). The runner's own, and the firm
lease holder's over the firm-wide policies.

Pure: no I/O, no clock. Must not: recompute a signal or a trigger (it reads what the evaluation
recorded).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ..engine.triggers import TriggerResult, recorded
from ..policy.expr import ValueType, value_text
from ..policy.expr.eval import Comparison
from ..policy.kinds.heartbeat_age import never_heard
from .incidents import ThresholdCheck, TriggerStatus


def trigger_statuses(node_of: Callable[[str], Any], state: Any, ev: Any) -> tuple[TriggerStatus, ...]:
    """Every trigger of every policy instance ``state`` holds (``node_of``: a policy's compiled
    node, None for one no longer run), firing as the state says, compared against the values of
    the evaluation ``ev`` (None: none yet). The runner's own, and the firm lease holder's over the
    firm-wide policies."""
    evaluated = {(s.policy, s.scope): s for s in ev.scopes} if ev is not None else {}
    out = []
    for key, ss in sorted(state.scopes.items()):
        policy, _, scope = key.partition("|")
        node = node_of(policy)
        if node is None:
            continue
        types = {s.name: s.type for s in node.signals}
        se = evaluated.get((policy, scope))
        values = {v.name: v.value for v in se.signals} if se is not None else {}
        reasons = {v.name: v.reason for v in se.signals} if se is not None else {}
        results = {t.name: t for t in se.triggers} if se is not None else {}
        for t in node.triggers:
            st, r = ss.triggers.get(t.name), results.get(t.name)
            checks = tuple(_check(c, values, reasons, types, se is not None, r, t.on_missing_data)
                           for c in t.comparisons)
            out.append(TriggerStatus(policy, scope, t.name, t.when, bool(st and st.firing),
                                     st.since_ms if st else None, st.last_fire_ms if st else None,
                                     r.pending if r else None, r.reason if r else None, checks,
                                     ev.now_ms if ev is not None and se is not None else None))
    return tuple(out)


def _check(c: Comparison, values: Mapping[str, Optional[float]], reasons: Mapping[str, Optional[str]],
           types: Mapping[str, ValueType], evaluated: bool, result: Optional[TriggerResult] = None,
           on_missing_data: Optional[str] = None) -> ThresholdCheck:
    """``c`` against the values of an evaluation (``evaluated`` False: this runner has none); a
    computed threshold as ``result`` (the trigger's at that evaluation) recorded it. A source never
    heard within its grace reads "never heard", with when its silence counts from and when the
    trigger (``on_missing_data``) fires, not as the 0s it is compared as."""
    if not evaluated:
        return ThresholdCheck(c.signal, c.op, c.text, None, "unknown", None, "NOT_EVALUATED")
    v = values.get(c.signal)
    unit = types.get(c.signal)
    text = c.text
    if c.computed:
        at = recorded(result, c.signal, c.op, c.text)
        threshold = at.value if at is not None else None
        text = f"{value_text(threshold, unit)} = {c.text}"
    else:
        threshold = c.threshold_at(values)
    breached = c.holds(v, threshold)
    reason = reasons.get(c.signal) if v is None else None
    if reason is None and breached is None and threshold is None:
        reason = _unknown_threshold(c, values, reasons)
    unheard = never_heard(reasons.get(c.signal), on_missing_data) if v is not None else None
    if unheard is not None:
        return ThresholdCheck(c.signal, c.op, text, v, "never heard", breached, unheard, threshold)
    return ThresholdCheck(c.signal, c.op, text, v, value_text(v, unit), breached, reason, threshold)


def _unknown_threshold(c: Comparison, values: Mapping[str, Optional[float]],
                       reasons: Mapping[str, Optional[str]]) -> Optional[str]:
    """Why a comparison's threshold had no value: the reason of a signal it reads that had none,
    or, when every one had a value, a division by 0 (or an overflow) at that tick."""
    reads = c.reads if c.computed else (c.text,) if c.other else ()
    missing = next((name for name in reads if values.get(name) is None), None)
    if missing is not None:
        return reasons.get(missing)
    return "THRESHOLD_UNDEFINED: a divisor was 0 (or a result overflowed) at this tick" if c.computed else None


