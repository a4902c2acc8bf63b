"""Evaluating a condition, and the comparisons it makes, each with its threshold at a tick.

What it owns: :func:`compile_predicate`, which turns a checked AST (:mod:`..expr`) into a closure
``values -> True | False | None``, and :func:`numeric`, the value of a side of a comparison
(a signal, a literal, or a threshold computed from them: ``max(4.5%, 3 * vol_1h)``).

Evaluation is three-valued (Kleene): a signal without a value (missing or stale data) makes
the comparisons that read it *unknown*; ``true || unknown`` is true, ``false && unknown`` is
false. Arithmetic that has no value — a division whose divisor is 0 at this tick, a result past
a float (an overflow) — is unknown too, never an error and never false: the trigger's
``on_missing_data`` rule decides what an unknown result means.

:func:`comparisons` lists every ``signal op threshold`` of a condition, the threshold a literal,
another signal, or computed; :meth:`Comparison.threshold_at` is that threshold at a tick, which
the engine records beside the signals (:class:`killswitch.engine.triggers.TriggerResult`) so
that every view shows the number the signal was compared with then, not the expression.

Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Callable, Mapping, Optional

from ...records import record
from .. import expr

Values = Mapping[str, "float | bool | None"]
Predicate = Callable[[Values], "bool | None"]
Number = Callable[[Values], "float | None"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def compile_predicate(node: expr.Node) -> Predicate:
    """Turn an AST into a closure ``values -> True | False | None`` (None: unknown).

    Thresholds are inclusive exactly as written: ``>=`` fires at equality. Ratio and duration
    literals are compared in fractions and seconds, which is how signals report them.
    """
    if isinstance(node, expr.Ref):
        return _ref(node.name)
    if isinstance(node, expr.Literal):
        const = bool(node.value) if node.type is expr.ValueType.BOOL else node.value
        return lambda v: const  # type: ignore[return-value]
    if isinstance(node, expr.Compare):
        return _compare(node)
    if isinstance(node, expr.Not):
        return _negation(compile_predicate(node.item))
    if isinstance(node, expr.And):
        return _junction(tuple(compile_predicate(x) for x in node.items), False)
    if isinstance(node, expr.Or):
        return _junction(tuple(compile_predicate(x) for x in node.items), True)
    raise AssertionError(node)  # pragma: no cover


def _ref(name: str) -> Predicate:
    def ref(v: Values) -> bool | None:
        x = v.get(name)
        return None if x is None else bool(x)

    return ref


def _compare(node: expr.Compare) -> Predicate:
    """A comparison; a signal against a literal (most thresholds) reads the signal alone."""
    op = _OPS[node.op]
    left, right = node.left, node.right
    if isinstance(left, expr.Ref) and isinstance(right, expr.Literal):
        name, const = left.name, right.value

        def cmp_rl(v: Values) -> bool | None:
            x = v.get(name)
            return None if x is None else op(x, const)

        return cmp_rl
    lf, rf = _operand(left), _operand(right)

    def cmp(v: Values) -> bool | None:
        a, b = lf(v), rf(v)
        return None if a is None or b is None else op(a, b)

    return cmp


def _negation(inner: Predicate) -> Predicate:
    def neg(v: Values) -> bool | None:
        x = inner(v)
        return None if x is None else not x

    return neg


def _junction(parts: tuple[Predicate, ...], decisive: bool) -> Predicate:
    """``&&`` (``decisive`` False) or ``||`` (True): ``decisive`` when a part is, else unknown
    when a part is unknown, else the other value."""
    def junction(v: Values) -> bool | None:
        unknown = False
        for p in parts:
            x = p(v)
            if x is decisive:
                return decisive
            if x is None:
                unknown = True
        return None if unknown else not decisive

    return junction


def _operand(node: expr.Node) -> Number:
    if isinstance(node, (expr.Ref, expr.Literal)) or expr.computed(node):
        return numeric(node)
    pred = compile_predicate(node)
    return lambda v: (None if (x := pred(v)) is None else float(x))


def _finite(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None


def numeric(node: expr.Node) -> Number:
    """The value of a number-valued node at a tick (a fraction for a ratio, seconds for a
    duration); None when a signal it reads has none, a divisor is 0 or a result overflows."""
    if isinstance(node, expr.Ref):
        name = node.name
        return lambda v: v.get(name)
    if isinstance(node, expr.Literal):
        const = node.value
        return lambda v: const
    if isinstance(node, expr.Neg):
        item = numeric(node.item)
        return lambda v: None if (x := item(v)) is None else -x
    if isinstance(node, (expr.Sum, expr.Product)):
        first = numeric(node.first)
        rest = tuple((op, numeric(x)) for op, x, _ in node.rest)

        def fold(v: Values) -> float | None:
            acc = first(v)
            for op, f in rest:
                x = f(v)
                if acc is None or x is None:
                    return None
                if op == "/" and x == 0:
                    return None  # no value at this tick: the comparison is unknown
                acc = _finite(acc + x if op == "+" else acc - x if op == "-" else acc * x if op == "*" else acc / x)
            return acc

        return fold
    if isinstance(node, expr.Call):
        args = tuple(numeric(x) for x in node.args)
        name = node.name

        least, most = expr.FUNCTIONS.get(name, (1, 0))  # (a name it does not know: no arity fits)
        fits = len(args) >= least and (most is None or len(args) <= most)

        def call(v: Values) -> float | None:
            # a call the type check refuses (an unknown name, a wrong count) has no value: the
            # check's own constant folding (a divisor of 0?) asks for it before it says why
            if not fits:
                return None
            xs = [f(v) for f in args]
            known = [x for x in xs if x is not None]
            if len(known) < len(xs):
                return None
            return abs(known[0]) if name == "abs" else min(known) if name == "min" else max(known)

        return call
    raise AssertionError(node)  # pragma: no cover


@record
class Comparison:
    """One comparison anywhere in a condition, the signal on the left: ``signal op threshold``
    (``threshold`` the literal's value, ``text`` as written), ``signal op other`` between two
    signals (``threshold`` None, ``text`` the other signal's name), or ``signal op expression``
    (``threshold`` None, ``text`` the expression's canonical text, ``compute`` its value at a
    tick, ``reads`` the signals it reads)."""

    signal: str
    op: str
    threshold: Optional[float]
    text: str
    compute: Optional[Number] = field(default=None, compare=False, repr=False)
    reads: tuple[str, ...] = ()

    @property
    def computed(self) -> bool:
        """Whether the threshold is computed at every tick from signals and literals."""
        return self.compute is not None

    @property
    def other(self) -> Optional[str]:
        """The other signal of a comparison between two signals; None otherwise."""
        return self.text if self.threshold is None and self.compute is None else None

    def threshold_at(self, values: Values) -> Optional[float]:
        """The threshold at a tick whose signals have ``values``: the literal, the other
        signal's value, or the expression's value (None: unknown at that tick)."""
        if self.threshold is not None:
            return self.threshold
        if self.compute is not None:
            return self.compute(values)
        x = values.get(self.text)
        return None if x is None else float(x)

    def holds(self, value: Optional[float], threshold: Optional[float] = None) -> Optional[bool]:
        """Whether ``value op threshold`` holds (the literal when it has one, else the
        ``threshold`` given: the other signal's value, or the computed one); None when a side is
        unknown."""
        right = self.threshold if self.threshold is not None else threshold
        return None if value is None or right is None else _OPS[self.op](value, right)


def comparisons(node: expr.Node) -> list[Comparison]:
    """Every ``signal op literal``, ``signal op signal`` and ``signal op expression`` of a
    condition, in the order written (mirrored where the signal comes second), under ``!``,
    ``&&`` and ``||`` alike: what a person compares a signal's value with to see why a trigger
    fired or did not. A comparison with no bare signal on either side is left out."""
    out: list[Comparison] = []
    for signal, op, right in expr.signal_comparisons(node):
        if isinstance(right, expr.Literal):
            out.append(Comparison(signal, op, right.value, right.text))
        elif isinstance(right, expr.Ref):
            out.append(Comparison(signal, op, None, right.name))
        elif expr.computed(right):
            out.append(Comparison(signal, op, None, expr.canonical(right), numeric(right),
                                  tuple(dict.fromkeys(r.name for r in expr.refs(right)))))
    return out


def constant(node: expr.Node) -> Optional[float]:
    """The value of a node that reads no signal (``3 * 1.5%``); None when it reads one or has
    no value (a division by 0)."""
    if expr.refs(node):
        return None
    return numeric(node)({})
