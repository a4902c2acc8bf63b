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
from ..policy.expr import And, Compare, Literal, Node, Not, Or, Ref, ValueType, value_text

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
        "!=": operator.ne}
_MIRROR = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


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
    types = {s.name: s.type for s in policy.signals}
    out: list[Comparison] = []
    for t in policy.triggers:
        for c in _compares(t.ast):
            left, right, op = c.left, c.right, c.op
            if isinstance(left, Literal) and isinstance(right, Ref):
                left, right, op = right, left, _MIRROR[op]
            if not isinstance(left, Ref):
                continue
            if isinstance(right, Literal):
                out.append(Comparison(t.name, left.name, op, right.value, right.text, None,
                                      types.get(left.name) or right.type))
            elif isinstance(right, Ref):
                out.append(Comparison(t.name, left.name, op, None, right.name, right.name, types.get(left.name)))
    return tuple(out)


def _compares(node: Node) -> list[Compare]:
    if isinstance(node, Compare):
        return [node]
    if isinstance(node, Not):
        return _compares(node.item)
    if isinstance(node, (And, Or)):
        return [c for item in node.items for c in _compares(item)]
    return []


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
