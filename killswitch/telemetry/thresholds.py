"""The comparisons a policy's trigger conditions make, and a tick's signal values against them.

A decision span says *why*: for every comparison of every trigger of the policy
(``dd_15m >= 4.5%``), the signal's value this tick, the threshold as written, and whether it
was breached. The comparisons come from the compiled condition's AST (every ``Compare`` node
whose sides are a signal and a literal, two signals, or a signal and a threshold computed from
signals), so a condition such as ``(dd >= 4% && lev > 3) || stale > 60s`` yields three. A
computed threshold is the number the engine recorded at the tick
(:class:`killswitch.engine.triggers.ThresholdAt`), shown before its expression.

Pure: no I/O, no clock, no OpenTelemetry.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from ..compile.graph import PolicyNode
from ..engine.triggers import TriggerResult, recorded
from ..policy.expr import ValueType, value_text
from ..policy.expr.eval import comparisons as condition_comparisons

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}


@dataclass(frozen=True)
class Comparison:
    """``signal op threshold`` with the signal on the left (mirrored when written the other way)."""

    trigger: str
    signal: str
    op: str
    threshold: Optional[float]  # the literal, in fractions / seconds; None when compared to a signal
    threshold_text: str  # "4.5%", "60s", the other signal's name, or the expression computing it
    other: Optional[str] = None  # the other signal of a signal-to-signal comparison
    type: Optional[ValueType] = None
    computed: bool = False  # the threshold is computed at every tick (threshold_text its expression)


@dataclass(frozen=True)
class Checked:
    comparison: Comparison
    value: Optional[float]
    threshold: Optional[float]
    breached: Optional[bool]  # None: a side has no value this tick
    reason: Optional[str]  # why the signal has no value


def comparisons(policy: PolicyNode) -> tuple[Comparison, ...]:
    """Every comparison of every trigger of ``policy`` (:func:`killswitch.policy.expr.eval.comparisons`),
    with its trigger and the signal's value type."""
    types = {s.name: s.type for s in policy.signals}
    return tuple(Comparison(t.name, c.signal, c.op, c.threshold, c.text, c.other, types.get(c.signal), c.computed)
                 for t in policy.triggers for c in condition_comparisons(t.ast))


def check(comps: tuple[Comparison, ...], values: Mapping[str, Optional[float]],
          reasons: Mapping[str, Optional[str]], results: Iterable[TriggerResult] = ()) -> list[Checked]:
    """Every comparison against the tick's ``values``; a computed threshold as the trigger's
    result at that tick (``results``) recorded it."""
    by_name = {r.name: r for r in results}
    out = []
    for c in comps:
        v = values.get(c.signal)
        if c.computed:
            at = recorded(by_name.get(c.trigger), c.signal, c.op, c.threshold_text)
            thr = at.value if at is not None else None
        else:
            thr = c.threshold if c.other is None else values.get(c.other)
        breached = None if v is None or thr is None else bool(_OPS[c.op](v, thr))
        reason = reasons.get(c.signal) if v is None else reasons.get(c.other) if c.other and thr is None else \
            "THRESHOLD_UNDEFINED" if c.computed and thr is None else None
        out.append(Checked(c, v, thr, breached, reason))
    return out


def describe(c: Checked) -> str:
    """``hard: dd=4.12% >= 4% breached`` — one line a person can read in a trace view."""
    k = c.comparison
    verdict = ("breached" if c.breached else "not breached") if c.breached is not None else \
        f"unknown ({c.reason})" if c.reason else "unknown"
    rhs = f"{k.other}={value_text(c.threshold, k.type)}" if k.other is not None else \
        f"{value_text(c.threshold, k.type)} = {k.threshold_text}" if k.computed else k.threshold_text
    return f"{k.trigger}: {k.signal}={value_text(c.value, k.type)} {k.op} {rhs} {verdict}"
