"""The condition language of triggers: a small, safe, typed expression language.

Syntax is the comparison-and-logic core of CEL (``||``, ``&&``, ``!``, ``<``, ``<=``, ``>``,
``>=``, ``==``, ``!=``, parentheses, ``true``/``false``) plus unit literals a risk team writes
naturally: ``4.5%`` (a ratio), ``60s`` / ``15m`` / ``1h`` (a duration), ``3`` (a number)::

    dd_15m >= 4.5% || dd_1h >= 7%
    stale > 60s || bots > 300s
    !(leverage < 3) && day_change <= -8%

Why not CEL itself: a CEL runtime has no unit literals, so thresholds would be written as
``0.045`` and a forgotten ``%`` would silently disarm a trigger; and the maintained pure-Python
runtime costs ~180 µs per evaluation, which a tick over many scopes cannot afford. Here a
condition is parsed once into an AST whose every node knows its offset in the source (so
errors point at the exact column), every variable it reads is known to the compiler, and
evaluation is a walk over a few frozen nodes. There is no ``eval``, no attribute access, no
function call: nothing a policy can write reaches Python.

Every condition is read under bounds that no condition a person writes comes near
(:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of ``(`` and ``!``, :data:`MAX_OPERANDS`
operands): parsing, type checking, the canonical text and the compiled predicate all recurse
once per level, so a condition past them is refused (``kind="limit"``, the compiler's KS123) at
the character that crosses one, before anything recurses deeper than the bound.

Evaluation is three-valued (Kleene): a signal without a value (missing or stale data) makes
the comparisons that read it *unknown*; ``true || unknown`` is true, ``false && unknown``
is false. The trigger's ``on_missing_data`` rule decides what an unknown result means.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping, Optional, Union

from .units import UnitError, parse_quantity


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
        self.kind = kind  # "syntax" | "type" | "unknown" | "limit"
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


@dataclass(frozen=True)
class Ref:
    name: str
    offset: int


@dataclass(frozen=True)
class Literal:
    value: float  # ratio as a fraction, duration in seconds
    type: ValueType
    text: str  # canonical text
    offset: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Node"
    right: "Node"
    offset: int


@dataclass(frozen=True)
class Not:
    item: "Node"
    offset: int


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]
    offset: int


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]
    offset: int


Node = Union[Ref, Literal, Compare, Not, And, Or]

COMPARISONS = (">=", "<=", "==", "!=", ">", "<")
_MIRROR = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}

# --- lexer -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>-?\d+(?:\.\d+)?(?:(?:ms|s|m|h|d|w)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*|\s*%)?(?![A-Za-z_0-9.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|>=|<=|==|!=|>|<|!|\(|\))
    """,
    re.VERBOSE,
)

_CHAR_HINT = ("a condition has signal names, numbers with units (4.5%, 60s, 3; a decimal point, not a comma), "
              "|| && ! < <= > >= == != and parentheses")

_CEL_HINTS = {
    "and": "use && for and",
    "or": "use || for or",
    "not": "use ! for not",
    "=": "use == to compare",
    "&": "use && for and",
    "|": "use || for or",
}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | ident | op | end
    text: str
    offset: int


def _lex(text: str, bounded: bool = True) -> list[_Tok]:
    if bounded and len(text) > MAX_LENGTH:
        raise ExprError(f"condition is {len(text):,} characters long, over the limit of {MAX_LENGTH:,}",
                        MAX_LENGTH, "the example policies' conditions are under 40 characters",
                        kind="limit")
    toks: list[_Tok] = []
    operands = 0
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            bad = text[i]
            if bad.isdigit() or (bad == "-" and i + 1 < len(text) and text[i + 1].isdigit()):
                number = re.match(r"-?[\w.%]+", text[i:])
                assert number is not None  # holds: text[i] is a digit, or a "-" before one
                word = number.group()
                raise ExprError(f'"{word}" is not a number with a unit', i,
                                "a number takes one unit from %, ms, s, m, h, d, w, or none")
            raise ExprError(f'unexpected character "{bad}"', i, _CEL_HINTS.get(bad, _CHAR_HINT))
        kind = m.lastgroup
        assert kind is not None  # holds: every alternative of _TOKEN is a named group
        if kind != "ws":
            if kind != "op" and bounded:
                operands += 1
                if operands > MAX_OPERANDS:
                    raise ExprError(f"condition has more than {MAX_OPERANDS} operands", i,
                                    "an operand is a signal name, a number or true/false",
                                    kind="limit")
            toks.append(_Tok(kind, m.group(), i))
        i = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, canonical: bool = False):
        self.text = text
        self.toks = _lex(text, bounded=not canonical)
        self.i = 0
        self.depth = 0  # open "(" and "!" around the token being read
        self.max_depth = 2 * MAX_DEPTH if canonical else MAX_DEPTH

    def enter(self, t: _Tok) -> None:
        """One more level, opened by ``t`` (a "(" or a "!"): refused past the bound, at ``t``."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise ExprError(f"condition nested deeper than {self.max_depth} levels", t.offset,
                            'every "(" and every "!" is one level (a readable condition needs a few): '
                            "drop parentheses that group nothing", kind="limit")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExprError("empty condition", 0, "write a comparison such as dd_15m >= 4.5%")
        node = self.parse_or()
        t = self.peek()
        if t.kind != "end":
            hint = _CEL_HINTS.get(t.text.lower())
            raise ExprError(f'unexpected "{t.text}" after a complete condition', t.offset,
                            hint or "join conditions with || or &&")
        return node

    def parse_or(self) -> Node:
        first = self.parse_and()
        items = [first]
        while self.peek().text == "||":
            self.take()
            items.append(self.parse_and())
        return first if len(items) == 1 else Or(tuple(items), _offset(first))

    def parse_and(self) -> Node:
        first = self.parse_not()
        items = [first]
        while self.peek().text == "&&":
            self.take()
            items.append(self.parse_not())
        return first if len(items) == 1 else And(tuple(items), _offset(first))

    def parse_not(self) -> Node:
        bangs: list[_Tok] = []  # read in a loop: a run of "!" costs no recursion, only levels
        while self.peek().text == "!":
            bangs.append(self.take())
            self.enter(bangs[-1])
        node = self.parse_cmp()
        for t in reversed(bangs):
            node = Not(node, t.offset)
        self.depth -= len(bangs)
        return node

    def parse_cmp(self) -> Node:
        left = self.parse_primary()
        t = self.peek()
        if t.text in COMPARISONS:
            self.take()
            right = self.parse_primary()
            nxt = self.peek()
            if nxt.text in COMPARISONS:
                raise ExprError(
                    "comparisons cannot be chained", nxt.offset, "write a <= x && x <= b instead of a <= x <= b"
                )
            return Compare(t.text, left, right, t.offset)
        return left

    def parse_primary(self) -> Node:
        t = self.take()
        if t.text == "(":
            self.enter(t)
            node = self.parse_or()
            close = self.take()
            if close.text != ")":
                raise ExprError("missing closing parenthesis", close.offset,
                                f'the "(" at character {t.offset + 1} of the condition is not closed', related=t.offset)
            self.depth -= 1
            return node
        if t.kind == "num":
            return _literal(t)
        if t.kind == "ident":
            if t.text in ("true", "false"):
                return Literal(1.0 if t.text == "true" else 0.0, ValueType.BOOL, t.text, t.offset)
            if t.text.lower() in _CEL_HINTS:
                raise ExprError(f'"{t.text}" is not an operator', t.offset, _CEL_HINTS[t.text.lower()])
            return Ref(t.text, t.offset)
        if t.kind == "end":
            raise ExprError("condition ends too early", t.offset, "a comparison needs a value on both sides")
        raise ExprError(f'unexpected "{t.text}"', t.offset, "expected a signal name, a number or (")


def _literal(t: _Tok) -> Literal:
    text = t.text.replace(" ", "")
    if text.startswith("-") and text[-1].isalpha():
        raise ExprError("a duration cannot be negative", t.offset,
                        "ages and latencies count up from 0: compare with a positive duration, e.g. stale > 60s")
    try:
        kind, value, canon = parse_quantity(text)
    except UnitError as e:  # past the units' bounds: a duration over ten years, a number of 16 digits
        raise ExprError(e.short, t.offset, e.hint) from None
    return Literal(value, ValueType(kind), canon, t.offset)


def _offset(node: Node) -> int:
    return node.offset


def parse(text: str) -> Node:
    """Parse a condition. Raises :class:`ExprError` with the offset of the first problem; a
    condition past the bounds above is refused with ``kind="limit"``."""
    return _Parser(text).parse()


def parse_canonical(text: str) -> Node:
    """Parse the text :func:`canonical` made of a condition that :func:`parse` accepted.

    The canonical text can be longer than what was written (spaces around every operator) and
    deeper (``!a >= 1%`` is written ``!(a >= 1%)``: one "(" more, under a "!" of its own, so at
    most twice as deep). The bounds were applied to what the author wrote; this reads the
    canonical text under twice the depth and no bound on length or operands (it has the same
    operands as the text it came from), so it cannot refuse what :func:`parse` accepted.
    """
    return _Parser(text, canonical=True).parse()


# --- analysis -------------------------------------------------------------------------------------


def refs(node: Node) -> list[Ref]:
    """Every signal reference in source order."""
    out: list[Ref] = []

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            out.append(n)
        elif isinstance(n, Compare):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Not):
            walk(n.item)
        elif isinstance(n, (And, Or)):
            for x in n.items:
                walk(x)

    walk(node)
    return out


def check_types(node: Node, types: Mapping[str, "ValueType | None"]) -> None:
    """Check that every reference exists and every operator gets operands of one type.

    The whole condition must be boolean. A signal whose type is None is declared but broken:
    reading it is fine and any comparison with it is accepted (its own error is reported
    elsewhere). Raises :class:`ExprError` (kind ``unknown`` or ``type``).
    """
    _type_of(node, types, top=True)


def _type_of(node: Node, types: Mapping[str, "ValueType | None"], top: bool = False) -> "ValueType | None":
    if isinstance(node, Ref):
        if node.name not in types:
            raise ExprError(f'unknown signal "{node.name}"', node.offset, kind="unknown")
        t = types[node.name]
        if t is None:
            return None
        if top and t is not ValueType.BOOL:
            raise ExprError(
                f'signal "{node.name}" is a {t.value}, not a condition',
                node.offset,
                f"compare it with a threshold, e.g. {node.name} >= {t.literal_example()}",
                kind="type",
            )
        return t
    if isinstance(node, Literal):
        if top and node.type is not ValueType.BOOL:
            raise ExprError(f"{node.text} is not a condition", node.offset,
                            "compare a signal with it, e.g. dd_15m >= 4.5%", kind="type")
        return node.type
    if isinstance(node, Compare):
        lt = _type_of(node.left, types)
        rt = _type_of(node.right, types)
        if lt is None or rt is None:
            return ValueType.BOOL
        if isinstance(node.left, Literal) and isinstance(node.right, Literal):
            raise ExprError("a comparison of two constants is always the same", node.offset,
                            "compare a signal with a threshold", kind="type")
        if lt is ValueType.BOOL or rt is ValueType.BOOL:
            if node.op not in ("==", "!="):
                raise ExprError(f'"{node.op}" does not apply to conditions', node.offset,
                                "conditions combine with || and &&, and compare only with == or !=", kind="type")
        if lt is not rt:
            sig, other = (node.left, rt) if isinstance(node.left, Ref) else (node.right, lt)
            name = sig.name if isinstance(sig, Ref) else "value"
            sig_t = lt if sig is node.left else rt
            hint = f"{name} is a {sig_t.value}; compare it with a {sig_t.value} such as {sig_t.literal_example()}"
            # Point at the threshold when there is one: that is what needs changing.
            lits = [x for x in (node.left, node.right) if isinstance(x, Literal)]
            if sig_t is ValueType.RATIO and other is ValueType.NUMBER and lits:  # not two signals: a bare number
                hint = _bare_ratio_hint(name, lits[0])
            at = lits[0].offset if len(lits) == 1 else node.offset
            raise ExprError(f"cannot compare a {lt.value} with a {rt.value}", at, hint, kind="type")
        return ValueType.BOOL
    if isinstance(node, Not):
        t = _type_of(node.item, types, top=True)
        return t
    if isinstance(node, (And, Or)):
        for item in node.items:
            _type_of(item, types, top=True)
        return ValueType.BOOL
    raise AssertionError(node)  # pragma: no cover


def _bare_ratio_hint(name: str, lit: "Literal") -> str:
    """A bare number compared with a ratio is refused: ``dd >= 0.5`` could mean 50% or 0.5%, and
    the wrong reading disarms a trigger (or fires it at once). The hint names both readings."""
    v = lit.value
    as_fraction = f"{v * 100:g}%"
    if 0 < abs(v) <= 1:
        return (f"{name} is a ratio: write its threshold as a percentage; {lit.text} read as a fraction is "
                f"{as_fraction}, read as a percentage {lit.text}%")
    return f"{name} is a ratio: write its threshold as a percentage, e.g. {lit.text}%"


@dataclass(frozen=True)
class Threshold:
    """``signal op value`` with the signal on the left, as the firing edge of a disjunct."""

    signal: str
    op: str
    value: float
    text: str


def disjunct_thresholds(node: Node) -> list[Threshold]:
    """The simple comparisons any one of which fires the condition on its own.

    Used for static checks (a higher stage firing before a lower one). Only top-level
    disjuncts that are a single ``signal op literal`` comparison count: anything else is
    too rich to order safely, so it is left out rather than guessed at.
    """
    items = node.items if isinstance(node, Or) else (node,)
    out = []
    for n in items:
        if isinstance(n, Compare):
            if isinstance(n.left, Ref) and isinstance(n.right, Literal):
                out.append(Threshold(n.left.name, n.op, n.right.value, n.right.text))
            elif isinstance(n.right, Ref) and isinstance(n.left, Literal):
                out.append(Threshold(n.right.name, _MIRROR[n.op], n.left.value, n.left.text))
    return out


@dataclass(frozen=True)
class Comparison:
    """One comparison anywhere in a condition, the signal on the left: ``signal op threshold``
    (``threshold`` the literal's value, ``text`` as written), or ``signal op other`` between two
    signals (``threshold`` None, ``text`` the other signal's name)."""

    signal: str
    op: str
    threshold: Optional[float]
    text: str

    def holds(self, value: Optional[float], other: Optional[float] = None) -> Optional[bool]:
        """Whether ``value op threshold`` (or ``value op other`` between two signals) holds;
        None when a side is unknown."""
        right = self.threshold if self.threshold is not None else other
        return None if value is None or right is None else _OPS[self.op](value, right)


def comparisons(node: Node) -> list[Comparison]:
    """Every ``signal op literal`` and ``signal op signal`` of a condition, in the order written
    (mirrored where the literal comes first), under ``!``, ``&&`` and ``||`` alike: what a person
    compares a signal's value with to see why a trigger fired or did not."""
    out: list[Comparison] = []

    def walk(n: Node) -> None:
        if isinstance(n, Compare):
            left, right, op = n.left, n.right, n.op
            if isinstance(left, Literal) and isinstance(right, Ref):
                left, right, op = right, left, _MIRROR[op]
            if isinstance(left, Ref) and isinstance(right, Literal):
                out.append(Comparison(left.name, op, right.value, right.text))
            elif isinstance(left, Ref) and isinstance(right, Ref):
                out.append(Comparison(left.name, op, None, right.name))
        elif isinstance(n, Not):
            walk(n.item)
        elif isinstance(n, (And, Or)):
            for item in n.items:
                walk(item)

    walk(node)
    return out


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
    raise AssertionError(node)  # pragma: no cover


def _operand_text(node: Node) -> str:
    """A side of a comparison: anything but a name or a literal keeps its parentheses, or
    ``(a && b) == c`` would read back as ``a && (b == c)``, and ``(a >= 1%) == (b >= 2%)`` as a
    chained comparison, which does not parse."""
    return canonical(node) if isinstance(node, (Ref, Literal)) else f"({canonical(node)})"


# --- evaluation ---------------------------------------------------------------------------------

Values = Mapping[str, "float | bool | None"]
Predicate = Callable[[Values], "bool | None"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def compile_predicate(node: Node) -> Predicate:
    """Turn an AST into a closure ``values -> True | False | None`` (None: unknown).

    Thresholds are inclusive exactly as written: ``>=`` fires at equality. Ratio and duration
    literals are compared in fractions and seconds, which is how signals report them.
    """
    if isinstance(node, Ref):
        name = node.name

        def ref(v: Values) -> bool | None:
            x = v.get(name)
            return None if x is None else bool(x)

        return ref
    if isinstance(node, Literal):
        const = bool(node.value) if node.type is ValueType.BOOL else node.value
        return lambda v: const  # type: ignore[return-value]
    if isinstance(node, Compare):
        op = _OPS[node.op]
        left, right = node.left, node.right
        if isinstance(left, Ref) and isinstance(right, Literal):
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
    if isinstance(node, Not):
        inner = compile_predicate(node.item)

        def neg(v: Values) -> bool | None:
            x = inner(v)
            return None if x is None else not x

        return neg
    if isinstance(node, And):
        parts = tuple(compile_predicate(x) for x in node.items)

        def conj(v: Values) -> bool | None:
            unknown = False
            for p in parts:
                x = p(v)
                if x is False:
                    return False
                if x is None:
                    unknown = True
            return None if unknown else True

        return conj
    if isinstance(node, Or):
        parts = tuple(compile_predicate(x) for x in node.items)

        def disj(v: Values) -> bool | None:
            unknown = False
            for p in parts:
                x = p(v)
                if x is True:
                    return True
                if x is None:
                    unknown = True
            return None if unknown else False

        return disj
    raise AssertionError(node)  # pragma: no cover


def _operand(node: Node) -> Callable[[Values], "float | None"]:
    if isinstance(node, Ref):
        name = node.name
        return lambda v: v.get(name)

    if isinstance(node, Literal):
        const = node.value
        return lambda v: const
    pred = compile_predicate(node)
    return lambda v: (None if (x := pred(v)) is None else float(x))
