"""Triggers: a condition confirmed over time, with a declared meaning for missing data.

Per tick and scope, a trigger's condition is True, False or unknown (a signal it reads has no
value). ``on_missing_data`` turns unknown into a decision: ``fire`` (fail closed), ``ignore``
(counts as false), or ``hold`` (as if the tick did not happen: the previous result stands and
the confirmation count neither grows nor resets).

``for: N ticks`` needs N consecutive true ticks; ``for: 2m`` needs the condition true for two
minutes (measured from the first true tick); once firing, ``keep_firing_for`` keeps it firing
that long after the condition stops. Thresholds are inclusive, as written in the condition.
A threshold computed from signals (``dd_15m >= max(4.5%, 3 * vol_1h)``) is recorded with the
result, as it was at the tick (:class:`ThresholdAt`): every view shows that number.

A tick is the policy's ``interval``: a runner woken by a private stream ticks sooner (an event
that may change a trigger), and such a tick must not confirm ``for: 3 ticks`` three times
faster than the policy was written for. So a true tick is counted in the streak only when it
comes at least :data:`COUNTED_SHARE` of an interval after the last one counted; one sooner
keeps the streak as it is (a false one still resets it: the condition did not hold). The first
true tick always counts: a wake still starts the confirmation at once.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..compile.graph import TriggerNode
from ..policy.expr import ValueType, value_text
from ..policy.expr.eval import Values
from .state import TriggerState


@dataclass(frozen=True)
class ThresholdAt:
    """A computed threshold as it was at a tick: ``signal op expression`` (the expression's
    canonical text), and its value then (in the signal's unit; None: it had none, a signal it
    reads was unknown or a divisor was 0)."""

    signal: str
    op: str
    expression: str
    value: Optional[float]

    @property
    def key(self) -> tuple[str, str, str]:
        """What names the comparison in the condition: (signal, operator, expression)."""
        return (self.signal, self.op, self.expression)

    def shown(self, unit: Optional[ValueType]) -> str:
        """``dd_15m >= 5.127% = max(4.5%, 3 * vol_1h)``: the number first, in the signal's
        ``unit``, then what it was computed from."""
        return f"{self.signal} {self.op} {value_text(self.value, unit)} = {self.expression}"


@dataclass(frozen=True)
class TriggerResult:
    name: str
    condition: Optional[bool]  # the raw condition: True, False, None (unknown)
    firing: bool
    pending: Optional[str]  # e.g. "2/3 ticks" or "45s/2m" while confirming
    reason: Optional[str]  # e.g. "MISSING_DATA: rule=hold"
    # every computed threshold of the condition (``max(4.5%, 3 * vol_1h)``) at this tick, in the
    # order written; () when every threshold is a literal or a signal's value
    thresholds: tuple[ThresholdAt, ...] = ()


# the share of an interval after the last counted tick from which a true tick counts again: under
# an interval, not at it, so that a tick that comes a little early (a clock's jitter) still counts
COUNTED_SHARE = 0.9


def step(node: TriggerNode, st: TriggerState, values: Values, now: int,
         interval_ms: Optional[int] = None) -> TriggerResult:
    """The trigger at the tick ``now``; ``interval_ms``: the policy's interval (None: every true
    tick counts in ``for: N ticks``, as in a state machine driven tick by tick)."""

    raw = node.predicate(values)
    computed = node.computed
    thresholds = tuple(ThresholdAt(c.signal, c.op, c.text, c.threshold_at(values)) for c in computed) \
        if computed else ()
    reason = None
    if raw is None:
        rule = node.on_missing_data
        reason = f"MISSING_DATA: rule={rule}"
        if rule == "fire":
            cond = True
        elif rule == "ignore":
            cond = False
        else:  # hold: nothing about this tick is known; keep everything as it was
            return TriggerResult(node.name, None, st.firing, _pending(node, st, now), reason, thresholds)
    else:
        cond = raw
    st.last = cond
    if cond:
        if st.streak == 0:
            st.since_ms = now
        if st.streak == 0 or not _sooner_than_a_tick(st, now, interval_ms):
            st.streak += 1
            st.counted_ms = now
        confirmed = _confirmed(node, st, now)
    else:
        st.streak = 0
        st.counted_ms = None
        st.since_ms = None
        confirmed = False
    if confirmed:
        st.last_fire_ms = now
    firing = confirmed or _kept(node, st, now)
    st.firing = firing
    return TriggerResult(node.name, raw, firing, None if firing or not cond else _pending(node, st, now), reason,
                         thresholds)


def recorded(result: Optional[TriggerResult], signal: str, op: str, expression: str) -> Optional[ThresholdAt]:
    """The threshold ``signal op expression`` as ``result`` recorded it; None when it did not."""
    if result is None:
        return None
    return next((t for t in result.thresholds if t.key == (signal, op, expression)), None)


def _sooner_than_a_tick(st: TriggerState, now: int, interval_ms: Optional[int]) -> bool:
    """A true tick too soon after the last one counted to count as another tick (see the module doc)."""
    return bool(interval_ms) and st.counted_ms is not None and \
        now - st.counted_ms < COUNTED_SHARE * (interval_ms or 0)


def _confirmed(node: TriggerNode, st: TriggerState, now: int) -> bool:
    if node.confirm_ticks is not None:
        return st.streak >= node.confirm_ticks
    if node.confirm_s is not None:
        return st.since_ms is not None and now - st.since_ms >= node.confirm_s * 1000
    return True


def _kept(node: TriggerNode, st: TriggerState, now: int) -> bool:
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
