"""The type check of a condition: every name declared, every operator given values of one unit.

What it owns: :func:`type_errors`, every independent mistake of a condition in one pass, each
an :class:`~..expr.ExprError` at its character with a hint, and :func:`check_types`, the first
of them raised. A value's type is ``bool`` (a condition) or a unit (:class:`..units.Dimension`):
the unit of a signal or a literal (a ratio, a duration, a plain number), or what arithmetic
makes of them. The rules (the docs' unit table, *Conditions*):

- ``+``, ``-``, ``min``, ``max`` and the comparisons take values of one unit: a ratio and a
  duration do not add, and a bare number and a ratio do not either (``dd >= 0.045`` could mean
  4.5 % or 0.045 %, so ``%`` is written);
- ``*`` and ``/`` multiply and divide units: a ratio times a plain number is a ratio, a ratio
  over a ratio a plain number, a ratio times a ratio a ratio², which compares with no signal;
- ``-x`` and ``abs(x)`` keep ``x``'s unit; a division by a constant 0 is refused.

A mistake inside a value makes that value's type unknown, and an unknown type is accepted
wherever it goes, so one mistake is said once, not again by everything around it. A signal
whose type is None is declared but broken (its own error is reported elsewhere): it is unknown
in the same way.

Error kinds (the compiler's codes): ``unknown`` a signal not declared (KS122); ``type`` a
condition where a number is meant or the reverse, or a signal compared with a literal of
another type (KS121); ``unit`` units that do not combine (KS124); ``zero`` a division by a
constant 0 (KS125); ``function`` a function that does not exist (KS126); ``arity`` a function
given too few or too many values (KS127).

Pure: no I/O.
"""

from __future__ import annotations

from typing import Mapping, Optional, Union

from .. import expr
from ..diagnostics import suggestion_hint
from ..units import DIMENSIONS, Dimension
from .eval import constant

Types = Mapping[str, "expr.ValueType | None"]
Typed = Union[expr.ValueType, Dimension, None]  # BOOL, a unit, or unknown


def check_types(node: expr.Node, types: Types) -> None:
    """Check that every reference exists and every operator gets operands of one unit.

    The whole condition must be boolean. Raises the first :class:`~..expr.ExprError` of
    :func:`type_errors` (kind ``unknown``, ``type``, ``unit``, ``zero``, ``function`` or
    ``arity``)."""
    errors = type_errors(node, types)
    if errors:
        raise errors[0]


def type_errors(node: expr.Node, types: Types) -> list[expr.ExprError]:
    """Every independent mistake of the condition, in source order of the walk."""
    checker = _Checker(types)
    checker.top(node)
    return checker.errors


def _unit(vt: expr.ValueType) -> Typed:
    return expr.ValueType.BOOL if vt is expr.ValueType.BOOL else DIMENSIONS[vt.value]


def _name(t: Typed) -> str:
    return t.value if isinstance(t, expr.ValueType) else str(t)


class _Checker:
    def __init__(self, types: Types):
        self.types = types
        self.errors: list[expr.ExprError] = []

    def fail(self, message: str, offset: int, hint: Optional[str], kind: str) -> None:
        self.errors.append(expr.ExprError(message, offset, hint, kind=kind))

    def top(self, node: expr.Node) -> None:
        """``node`` where a condition is meant (the whole, a side of ``&&``/``||``, under ``!``)."""
        t = self.of(node)
        if t is None or t is expr.ValueType.BOOL:
            return
        if isinstance(node, expr.Ref):
            self.fail(f'signal "{node.name}" is a {_name(t)}, not a condition', node.offset,
                      f"compare it with a threshold, e.g. {node.name} >= {_example(t)}", "type")
        elif isinstance(node, expr.Literal):
            self.fail(f"{node.text} is not a condition", node.offset,
                      "compare a signal with it, e.g. dd_15m >= 4.5%", "type")
        else:
            self.fail(f"{expr.canonical(node)} is a {_name(t)}, not a condition", node.offset,
                      "compare a signal with it, e.g. dd_15m >= max(4.5%, 3 * vol_1h)", "type")

    def of(self, node: expr.Node) -> Typed:
        if isinstance(node, expr.Ref):
            if node.name not in self.types:
                self.fail(f'unknown signal "{node.name}"', node.offset, None, "unknown")
                return None
            vt = self.types[node.name]
            return None if vt is None else _unit(vt)
        if isinstance(node, expr.Literal):
            return _unit(node.type)
        if isinstance(node, expr.Compare):
            return self.compare(node)
        if isinstance(node, expr.Not):
            self.top(node.item)
            return expr.ValueType.BOOL
        if isinstance(node, (expr.And, expr.Or)):
            for item in node.items:
                self.top(item)
            return expr.ValueType.BOOL
        if isinstance(node, expr.Neg):
            return self.number(node.item, '"-"')
        if isinstance(node, (expr.Sum, expr.Product)):
            return self.arithmetic(node)
        if isinstance(node, expr.Call):
            return self.call(node)
        raise AssertionError(node)  # pragma: no cover

    def number(self, node: expr.Node, what: str) -> Typed:
        """The unit of ``node``, an operand of ``what`` (arithmetic takes numbers, not conditions)."""
        t = self.of(node)
        if t is expr.ValueType.BOOL:
            self.fail(f"{what} applies to numbers, not to a condition", node.offset,
                      "arithmetic combines signals and numbers: 3 * vol_1h, dd_15m - dd_1h", "type")
            return None
        return t

    def arithmetic(self, node: Union[expr.Sum, expr.Product]) -> Typed:
        acc = self.number(node.first, f'"{node.rest[0][0]}"')
        for op, item, at in node.rest:
            t = self.number(item, f'"{op}"')
            if op == "/" and constant(item) == 0:
                self.fail("division by zero", item.offset,
                          "a divisor of 0 has no value: divide by a signal or a number other than 0", "zero")
                acc = None
                continue
            if acc is None or t is None:
                acc = None
            elif isinstance(node, expr.Product):
                assert isinstance(acc, Dimension) and isinstance(t, Dimension)  # holds: number() refuses BOOL
                acc = acc.times(t) if op == "*" else acc.over(t)
            elif acc != t:
                verb = "add" if op == "+" else "subtract"
                self.fail(f"cannot {verb} a {_name(t)} {'to' if op == '+' else 'from'} a {_name(acc)}", at,
                          _combine_hint(node.first, item, acc, t), "unit")
                acc = None
        return acc

    def call(self, node: expr.Call) -> Typed:
        units = [self.number(x, f"{node.name}()") for x in node.args]
        if node.name not in expr.FUNCTIONS:
            self.fail(f'unknown function "{node.name}"', node.offset,
                      suggestion_hint(node.name, expr.FUNCTIONS, "a condition calls min(a, b, ...), max(a, b, ...) "
                                      "and abs(a)"), "function")
            return None
        least, most = expr.FUNCTIONS[node.name]
        if len(node.args) < least or (most is not None and len(node.args) > most):
            wants = f"exactly {least} value" if most == least else f"at least {least} values"
            self.fail(f"{node.name}() takes {wants}, got {len(node.args)}", node.offset,
                      "e.g. max(4.5%, 3 * vol_1h), min(10%, dd_1h), abs(day_change)", "arity")
            return None
        first: Typed = None
        for x, t in zip(node.args, units):
            if t is None:
                return None
            if first is None:
                first = t
            elif t != first:
                self.fail(f"{node.name}() of a {_name(first)} and a {_name(t)}", x.offset,
                          _combine_hint(node.args[0], x, first, t), "unit")
                return None
        return first

    def compare(self, node: expr.Compare) -> Typed:
        lt = self.of(node.left)
        rt = self.of(node.right)
        if lt is None or rt is None:
            return expr.ValueType.BOOL
        if not expr.refs(node):  # neither side reads a signal
            self.fail("a comparison of two constants is always the same", node.offset,
                      "compare a signal with a threshold", "type")
            return expr.ValueType.BOOL
        if lt is expr.ValueType.BOOL or rt is expr.ValueType.BOOL:
            if node.op not in ("==", "!="):
                self.fail(f'"{node.op}" does not apply to conditions', node.offset,
                          "conditions combine with || and &&, and compare only with == or !=", "type")
                return expr.ValueType.BOOL
        if lt == rt:
            return expr.ValueType.BOOL
        if expr.computed(node.left) or expr.computed(node.right):
            self.fail(f"cannot compare a {_name(lt)} with a {_name(rt)}", node.offset,
                      _combine_hint(node.left, node.right, lt, rt), "unit")
            return expr.ValueType.BOOL
        sig = node.left if isinstance(node.left, expr.Ref) else node.right
        sig_t, other = (lt, rt) if sig is node.left else (rt, lt)
        name = sig.name if isinstance(sig, expr.Ref) else "value"
        hint = f"{name} is a {_name(sig_t)}; compare it with a {_name(sig_t)} such as {_example(sig_t)}"
        # Point at the threshold when there is one: that is what needs changing.
        lits = [x for x in (node.left, node.right) if isinstance(x, expr.Literal)]
        if sig_t == DIMENSIONS["ratio"] and other == DIMENSIONS["number"] and lits:  # a bare number
            hint = bare_ratio_hint(name, lits[0])
        at = lits[0].offset if len(lits) == 1 else node.offset
        self.fail(f"cannot compare a {_name(lt)} with a {_name(rt)}", at, hint, "type")
        return expr.ValueType.BOOL


def _example(t: Typed) -> str:
    if isinstance(t, expr.ValueType):
        return t.literal_example()
    kind = t.kind if isinstance(t, Dimension) else None
    return expr.ValueType(kind).literal_example() if kind else "a value of that unit"


def _combine_hint(a: expr.Node, b: expr.Node, ta: Typed, tb: Typed) -> str:
    """What to write when values of units ``ta`` and ``tb`` meet where one unit is needed."""
    ratio, number = DIMENSIONS["ratio"], DIMENSIONS["number"]
    pair = {ta, tb}
    if pair == {ratio, number}:
        lit = (a if isinstance(a, expr.Literal) and ta == number
               else b if isinstance(b, expr.Literal) and tb == number else None)
        if lit is not None:
            return bare_ratio_hint("the other side", lit)
        return "a ratio meets a plain number: write a ratio's constant with % (4.5%), or scale by a number (3 * vol_1h)"
    if any(isinstance(t, Dimension) and t.ratio >= 2 for t in pair):
        return ("a ratio times a ratio is a ratio²: multiply a ratio by a plain number (3 * vol_1h), "
                "or divide one ratio by another for a plain number (dd_15m / vol_1h >= 3)")
    return (f"both sides need one unit: here a {_name(ta)} and a {_name(tb)} "
            "(ratios with ratios, durations with durations, numbers with numbers)")


def bare_ratio_hint(name: str, lit: expr.Literal) -> str:
    """A bare number compared with a ratio is refused: ``dd >= 0.5`` could mean 50% or 0.5%, and
    the wrong reading disarms a trigger (or fires it at once). The hint names both readings."""
    v = lit.value
    as_fraction = f"{v * 100:g}%"
    if 0 < abs(v) <= 1:
        return (f"{name} is a ratio: write its threshold as a percentage; {lit.text} read as a fraction is "
                f"{as_fraction}, read as a percentage {lit.text}%")
    return f"{name} is a ratio: write its threshold as a percentage, e.g. {lit.text}%"
