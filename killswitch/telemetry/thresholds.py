"""The comparisons a policy's trigger conditions make, and a tick's signal values against them.

A decision span says *why*: for every comparison of every trigger of the policy
(``dd_15m >= 4.5%``), the signal's value this tick, the threshold as written, and whether it
was breached. The comparisons come from the compiled condition's AST (every ``Compare`` node
whose sides are a signal and a literal, or two signals), so a condition such as
``(dd >= 4% && lev > 3) || stale > 60s`` yields three.

Pure: no I/O, no clock, no OpenTelemetry.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Mapping, Optional

from ..compile.graph import PolicyNode
from ..policy.expr import ValueType, value_text
from ..policy.expr_eval import comparisons as condition_comparisons

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}


@dataclass(frozen=True)
class Comparison:
    """``signal op threshold`` with the signal on the left (mirrored when written the other way)."""

    trigger: str
    signal: str
    op: str
    threshold: Optional[float]  # the literal, in fractions / seconds; None when compared to a signal
    threshold_text: str  # "4.5%", "60s", or the other signal's name
    other: Optional[str] = None  # the other signal of a signal-to-signal comparison
    type: Optional[ValueType] = None


@dataclass(frozen=True)
class Checked:
    comparison: Comparison
    value: Optional[float]
    threshold: Optional[float]
    breached: Optional[bool]  # None: a side has no value this tick
    reason: Optional[str]  # why the signal has no value


def comparisons(policy: PolicyNode) -> tuple[Comparison, ...]:
    """Every comparison of every trigger of ``policy`` (:func:`killswitch.policy.expr.comparisons`),
    with its trigger and the signal's value type."""
    types = {s.name: s.type for s in policy.signals}
    return tuple(Comparison(t.name, c.signal, c.op, c.threshold, c.text, c.text if c.threshold is None else None,
                            types.get(c.signal))
                 for t in policy.triggers for c in condition_comparisons(t.ast))


def check(comps: tuple[Comparison, ...], values: Mapping[str, Optional[float]],
          reasons: Mapping[str, Optional[str]]) -> list[Checked]:
    out = []
    for c in comps:
        v = values.get(c.signal)
        thr = c.threshold if c.other is None else values.get(c.other)
        breached = None if v is None or thr is None else bool(_OPS[c.op](v, thr))
        reason = reasons.get(c.signal) if v is None else reasons.get(c.other) if c.other and thr is None else None
        out.append(Checked(c, v, thr, breached, reason))
    return out


def describe(c: Checked) -> str:
    """``hard: dd=4.12% >= 4% breached`` — one line a person can read in a trace view."""
    k = c.comparison
    verdict = ("breached" if c.breached else "not breached") if c.breached is not None else \
        f"unknown ({c.reason})" if c.reason else "unknown"
    rhs = k.threshold_text if k.other is None else f"{k.other}={value_text(c.threshold, k.type)}"
    return f"{k.trigger}: {k.signal}={value_text(c.value, k.type)} {k.op} {rhs} {verdict}"
