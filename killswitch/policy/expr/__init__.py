"""The condition language of triggers: a small, safe, typed expression language.

Syntax is the comparison-and-logic core of CEL (``||``, ``&&``, ``!``, ``<``, ``<=``, ``>``,
``>=``, ``==``, ``!=``, parentheses, ``true``/``false``) and its arithmetic (``+``, ``-``,
``*``, ``/``, unary ``-``, and the functions ``min``, ``max``, ``abs``), in CEL's precedence,
plus unit literals a risk team writes naturally: ``4.5%`` (a ratio), ``60s`` / ``15m`` / ``1h``
(a duration), ``3`` (a number)::

    dd_15m >= 4.5% || dd_1h >= 7%
    stale > 60s || bots > 300s
    !(leverage < 3) && day_change <= -8%
    dd_15m >= max(4.5%, 3 * vol_1h)

This module holds the language: its value types, its bounds, the AST, what a condition's AST
reads and the canonical text; :mod:`.parse` reads a condition into the AST,
:mod:`.check` checks its types and units, :mod:`.eval` evaluates it.

Why not CEL itself: a CEL runtime has no unit literals, so thresholds would be written as
``0.045`` and a forgotten ``%`` would silently disarm a trigger; and the maintained pure-Python
runtime costs ~180 µs per evaluation, which a tick over many scopes cannot afford. Here a
condition is parsed once into an AST whose every node knows its offset in the source (so
errors point at the exact column), every variable it reads is known to the compiler, and
evaluation is a walk over a few frozen nodes. There is no ``eval``, no attribute access, and
no call but of the three functions above, named in a fixed table: nothing a policy can write
reaches Python.

Every condition is read under bounds that no condition a person writes comes near
(:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of ``(``, ``!`` and unary ``-``,
:data:`MAX_OPERANDS` operands; a sum or a product of many terms is flat, as ``||`` and ``&&``
are): parsing, type checking, the canonical text and the compiled predicate all recurse once per
level, so a condition past them is refused (``kind="limit"``, the compiler's KS123) at
the character that crosses one, before anything recurses deeper than the bound.

Evaluation is three-valued (Kleene: a signal without a value makes what reads it *unknown*),
as :mod:`.eval` says.

Pure: no I/O.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional, Union

from ...records import record


class ValueType(str, Enum):
    BOOL = "bool"
    RATIO = "ratio"  # written as a percentage
    DURATION = "duration"
    NUMBER = "number"  # plain numbers: counts, leverage, amounts

    def literal_example(self) -> str:
        return {"bool": "true", "ratio": "4.5%", "duration": "60s", "number": "3"}[self.value]


def value_text(value: Optional[float], kind: Optional[ValueType]) -> str:
    """A signal's value in the unit its policy writes it in: 5.2%, 75s, 3, true, unknown (the
    console and the decision spans show values this way)."""
    if value is None:
        return "unknown"
    if kind is ValueType.RATIO:
        return f"{value * 100:.4g}%"
    if kind is ValueType.DURATION:
        return f"{value:.4g}s"
    if kind is ValueType.BOOL:
        return "true" if value else "false"
    return f"{value:.6g}"


class ExprError(Exception):
    """A syntax or type error at ``offset`` (0-based, in characters) of the condition text."""

    def __init__(self, message: str, offset: int, hint: str | None = None, kind: str = "syntax",
                 related: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint
        # "syntax" | "limit" (the parser); "type" | "unknown" | "unit" | "zero" | "function" | "arity"
        # (the type check, killswitch.policy.expr.check)
        self.kind = kind
        self.related = related  # offset of a second place the message is about (an open parenthesis)


# --- bounds ----------------------------------------------------------------------------------
#
# The example policies' longest condition is 38 characters, 4 operands, no level deep; a
# condition a person can still read fits in a line or two, a few levels, a dozen comparisons.
# The bounds are far past that and far below what hurts:
# - depth: the parser spends 5 Python frames on each "(" (none on a "!": a run of them is read in
#   a loop), and the type check, the canonical text, the compiled predicate and its evaluation a
#   few frames on each level; 32 levels keep all of them several hundred frames under Python's
#   limit of 1,000 wherever the compiler is called from (a reload on the runner's worker thread,
#   a pydantic validator for a position condition, a test). Unbounded, 200 "(" or 1,200 "!" was
#   a RecursionError.
# - length: 4 KiB, a hundred times the longest example, parsed in a few milliseconds; the length
#   is checked before anything is lexed.
# - operands: every comparison is walked for every decision span, readout and runbook, and
#   evaluated every tick for every scope; 256 operands (128 comparisons) is more than a reader
#   can check, and a flat chain of them is evaluated in tens of microseconds.

MAX_DEPTH = 32  # levels: every "(" and every "!" opens one
MAX_LENGTH = 4096  # characters of the condition as read from YAML
MAX_OPERANDS = 256  # signal names, numbers and true/false


# --- AST -------------------------------------------------------------------------------------


@record
class Ref:
    """A signal (or a position's fact) read by name."""

    name: str
    offset: int


@record
class Literal:
    """A number, ratio or duration as written, with its value and its canonical text."""

    value: float  # ratio as a fraction, duration in seconds
    type: ValueType
    text: str  # canonical text
    offset: int


@record
class Compare:
    """``left op right``: a comparison of two operands."""

    op: str
    left: "Node"
    right: "Node"
    offset: int


@record
class Not:
    """``!x``: the negation of a condition."""

    item: "Node"
    offset: int


@record
class And:
    """``a && b && ...``: every item holds."""

    items: tuple["Node", ...]
    offset: int


@record
class Or:
    """``a || b || ...``: some item holds."""

    items: tuple["Node", ...]
    offset: int


@record
class Neg:
    """``-x``: a number's opposite (a literal's minus is folded into the literal)."""

    item: "Node"
    offset: int


@record
class Sum:
    """``first + x - y ...``: flat (left to right), so a long sum costs no recursion."""

    first: "Node"
    rest: tuple[tuple[str, "Node", int], ...]  # (operator, term, the operator's offset)
    offset: int


@record
class Product:
    """``first * x / y ...``: flat, as :class:`Sum`."""

    first: "Node"
    rest: tuple[tuple[str, "Node", int], ...]
    offset: int


@record
class Call:
    """``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(a)``: ``offset`` is the name's."""

    name: str
    args: tuple["Node", ...]
    offset: int


Node = Union[Ref, Literal, Compare, Not, And, Or, Neg, Sum, Product, Call]
ARITHMETIC = (Neg, Sum, Product, Call)  # the nodes that compute a number

# every function a condition may call: its smallest and largest count of arguments (None: any)
FUNCTIONS: dict[str, tuple[int, Optional[int]]] = {"min": (2, None), "max": (2, None), "abs": (1, 1)}

COMPARISONS = (">=", "<=", "==", "!=", ">", "<")
_MIRROR = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}


# --- analysis -------------------------------------------------------------------------------------


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly under ``node``, in source order."""
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, (Not, Neg)):
        return (node.item,)
    if isinstance(node, (And, Or)):
        return node.items
    if isinstance(node, (Sum, Product)):
        return (node.first,) + tuple(x for _, x, _ in node.rest)
    if isinstance(node, Call):
        return node.args
    return ()


def refs(node: Node) -> list[Ref]:
    """Every signal reference in source order."""
    out: list[Ref] = []

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            out.append(n)
        for x in children(n):
            walk(x)

    walk(node)
    return out


def computed(node: Node) -> bool:
    """Whether ``node`` computes a number (arithmetic or a call), rather than naming one."""
    return isinstance(node, ARITHMETIC)


@record
class Threshold:
    """``signal op value`` with the signal on the left, as the firing edge of a disjunct."""

    signal: str
    op: str
    value: float
    text: str


def disjunct_thresholds(node: Node) -> list[Threshold]:
    """The simple comparisons any one of which fires the condition on its own.

    Used for static checks (a higher stage firing before a lower one). Only top-level
    disjuncts that are a single ``signal op literal`` comparison count: anything else (a
    threshold computed from other signals among them) is too rich to order safely, so it is
    left out rather than guessed at.
    """
    items = node.items if isinstance(node, Or) else (node,)
    found = [signal_first(n) for n in items if isinstance(n, Compare)]
    return [Threshold(sig, op, x.value, x.text) for sig, op, x in filter(None, found) if isinstance(x, Literal)]


def signal_first(node: Compare) -> Optional[tuple[str, str, Node]]:
    """``node`` as ``(signal, op, other side)``, mirrored where the signal comes second (``>=``
    for ``<=``); None when neither side is a signal."""
    if isinstance(node.left, Ref):
        return node.left.name, node.op, node.right
    if isinstance(node.right, Ref):
        return node.right.name, _MIRROR[node.op], node.left
    return None


def signal_comparisons(node: Node) -> list[tuple[str, str, Node]]:
    """Every comparison of a signal in the condition as :func:`signal_first` says it, in the
    order written, under ``!``, ``&&`` and ``||`` alike."""
    if isinstance(node, Compare):
        found = signal_first(node)
        return [found] if found else []
    if isinstance(node, Not):
        return signal_comparisons(node.item)
    if isinstance(node, (And, Or)):
        return [c for item in node.items for c in signal_comparisons(item)]
    return []


def canonical(node: Node) -> str:
    """A canonical text of the condition: same meaning, same text (used by the digest)."""
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, Literal):
        return node.text
    if isinstance(node, Compare):
        return f"{_operand_text(node.left)} {node.op} {_operand_text(node.right)}"
    if isinstance(node, Not):
        inner = canonical(node.item)
        return f"!{inner}" if isinstance(node.item, (Ref, Literal, Not)) else f"!({inner})"
    if isinstance(node, And):
        return " && ".join(f"({canonical(x)})" if isinstance(x, Or) else canonical(x) for x in node.items)
    if isinstance(node, Or):
        return " || ".join(canonical(x) for x in node.items)
    if isinstance(node, Neg):
        item = node.item  # a literal keeps its parentheses: "-8%" would read back as one literal
        return f"-{canonical(item)}" if isinstance(item, (Ref, Call, Neg)) else f"-({canonical(item)})"
    if isinstance(node, (Sum, Product)):
        bare = (Ref, Literal, Call, Neg, Product) if isinstance(node, Sum) else (Ref, Literal, Call, Neg)
        parts = [_term_text(node.first, bare)]
        for op, x, _ in node.rest:
            parts += [op, _term_text(x, bare)]
        return " ".join(parts)
    if isinstance(node, Call):
        return f"{node.name}({', '.join(canonical(x) for x in node.args)})"
    raise AssertionError(node)  # pragma: no cover


def _term_text(node: Node, bare: tuple[type, ...]) -> str:
    """A term of a sum (a product too) or a factor of a product: what binds tighter as is,
    anything else in its parentheses (so the text reads back as the same tree)."""
    return canonical(node) if isinstance(node, bare) else f"({canonical(node)})"


def _operand_text(node: Node) -> str:
    """A side of a comparison: anything but a name, a literal or arithmetic keeps its
    parentheses, or ``(a && b) == c`` would read back as ``a && (b == c)``, and
    ``(a >= 1%) == (b >= 2%)`` as a chained comparison, which does not parse."""
    return canonical(node) if isinstance(node, (Ref, Literal) + ARITHMETIC) else f"({canonical(node)})"
