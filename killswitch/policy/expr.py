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

This module reads a condition (the lexer, the parser, the AST, the canonical text);
:mod:`.expr_check` checks its types and units, :mod:`.expr_eval` evaluates it.

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

Evaluation is three-valued (Kleene): a signal without a value (missing or stale data) makes
the comparisons that read it *unknown*, as does arithmetic without a value (a divisor of 0 at
that tick); ``true || unknown`` is true, ``false && unknown`` is false. The trigger's
``on_missing_data`` rule decides what an unknown result means.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Optional, Union

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
        # "syntax" | "limit" (the parser); "type" | "unknown" | "unit" | "zero" | "function" | "arity"
        # (the type check, killswitch.policy.expr_check)
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


@dataclass(frozen=True)
class Neg:
    """``-x``: a number's opposite (a literal's minus is folded into the literal)."""

    item: "Node"
    offset: int


@dataclass(frozen=True)
class Sum:
    """``first + x - y ...``: flat (left to right), so a long sum costs no recursion."""

    first: "Node"
    rest: tuple[tuple[str, "Node", int], ...]  # (operator, term, the operator's offset)
    offset: int


@dataclass(frozen=True)
class Product:
    """``first * x / y ...``: flat, as :class:`Sum`."""

    first: "Node"
    rest: tuple[tuple[str, "Node", int], ...]
    offset: int


@dataclass(frozen=True)
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

# --- lexer -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d+)?(?:(?:ms|s|m|h|d|w)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))*|\s*%)?(?![A-Za-z_0-9.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|>=|<=|==|!=|>|<|!|\(|\)|\+|-|\*|/|,)
    """,
    re.VERBOSE,
)

_CHAR_HINT = ("a condition has signal names, numbers with units (4.5%, 60s, 3; a decimal point, not a comma), "
              "|| && ! < <= > >= == != + - * / min() max() abs() and parentheses")

_CEL_HINTS = {
    "and": "use && for and",
    "or": "use || for or",
    "not": "use ! for not",
    "=": "use == to compare",
    "&": "use && for and",
    "|": "use || for or",
    "%": "% follows a number (4.5%): there is no remainder operator",
    "^": "there is no power operator: multiply (vol_1h * vol_1h)",
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
            if bad.isdigit():
                number = re.match(r"[\w.%]+", text[i:])
                assert number is not None  # holds: text[i] is a digit
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
                                    "an operand is a signal name, a function's name, a number or true/false",
                                    kind="limit")
            toks.append(_Tok(kind, m.group(), i))
        i = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


# --- parser --------------------------------------------------------------------------------------
#
# CEL's precedence, loosest first: ||, &&, ! (here over a whole comparison, as before arithmetic),
# the comparisons (not chained), + and -, * and /, unary -, then a name, a number, a call or (...).


class _Parser:
    def __init__(self, text: str, canonical: bool = False):
        self.text = text
        self.toks = _lex(text, bounded=not canonical)
        self.i = 0
        self.depth = 0  # open "(", "!" and unary "-" around the token being read
        self.max_depth = 2 * MAX_DEPTH if canonical else MAX_DEPTH

    def enter(self, t: _Tok) -> None:
        """One more level, opened by ``t`` (a "(", a "!" or a unary "-"): refused past the bound, at ``t``."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise ExprError(f"condition nested deeper than {self.max_depth} levels", t.offset,
                            'every "(", "!" and unary "-" is one level (a readable condition needs a few): '
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
        left = self.parse_sum()
        t = self.peek()
        if t.text in COMPARISONS:
            self.take()
            right = self.parse_sum()
            nxt = self.peek()
            if nxt.text in COMPARISONS:
                raise ExprError(
                    "comparisons cannot be chained", nxt.offset, "write a <= x && x <= b instead of a <= x <= b"
                )
            return Compare(t.text, left, right, t.offset)
        return left

    def parse_sum(self) -> Node:
        first = self.parse_product()
        rest = []
        while self.peek().text in ("+", "-"):
            op = self.take()
            rest.append((op.text, self.parse_product(), op.offset))
        return first if not rest else Sum(first, tuple(rest), _offset(first))

    def parse_product(self) -> Node:
        first = self.parse_unary()
        rest = []
        while self.peek().text in ("*", "/"):
            op = self.take()
            rest.append((op.text, self.parse_unary(), op.offset))
        return first if not rest else Product(first, tuple(rest), _offset(first))

    def parse_unary(self) -> Node:
        minuses: list[_Tok] = []  # read in a loop, as a run of "!"
        while self.peek().text == "-":
            minuses.append(self.take())
            self.enter(minuses[-1])
        if minuses and self.peek().kind == "num":  # "-8%": one negative literal, as written
            node: Node = _literal(self.take(), minuses.pop())
            self.depth -= 1
        else:
            node = self.parse_primary()
        for t in reversed(minuses):
            node = Neg(node, t.offset)
        self.depth -= len(minuses)
        return node

    def parse_primary(self) -> Node:
        t = self.take()
        if t.text == "(":
            self.enter(t)
            node = self.parse_or()
            self.close(t, "the condition")
            return node
        if t.kind == "num":
            return _literal(t)
        if t.kind == "ident":
            if t.text in ("true", "false"):
                return Literal(1.0 if t.text == "true" else 0.0, ValueType.BOOL, t.text, t.offset)
            if t.text.lower() in _CEL_HINTS:
                raise ExprError(f'"{t.text}" is not an operator', t.offset, _CEL_HINTS[t.text.lower()])
            if self.peek().text == "(":
                return self.parse_call(t)
            return Ref(t.text, t.offset)
        if t.kind == "end":
            raise ExprError("condition ends too early", t.offset, "a comparison needs a value on both sides")
        raise ExprError(f'unexpected "{t.text}"', t.offset, "expected a signal name, a number, a function or (")

    def parse_call(self, name: _Tok) -> Node:
        """``name(a, b, ...)``: what it may call and with how many values is the type check's to say."""
        open_ = self.take()
        self.enter(open_)
        args: list[Node] = []
        if self.peek().text != ")":
            args.append(self.parse_sum())
            while self.peek().text == ",":
                self.take()
                args.append(self.parse_sum())
        self.close(open_, f"{name.text}(...)")
        return Call(name.text, tuple(args), name.offset)

    def close(self, open_: _Tok, what: str) -> None:
        close = self.take()
        if close.text != ")":
            if close.kind != "end" and what != "the condition":
                raise ExprError(f'unexpected "{close.text}" in {what}', close.offset,
                                "separate a function's values with commas; compare outside the call")
            raise ExprError("missing closing parenthesis", close.offset,
                            f'the "(" at character {open_.offset + 1} of the condition is not closed',
                            related=open_.offset)
        self.depth -= 1


def _literal(t: _Tok, minus: Optional[_Tok] = None) -> Literal:
    text = ("-" if minus is not None else "") + t.text.replace(" ", "")
    at = minus.offset if minus is not None else t.offset
    if text.startswith("-") and text[-1].isalpha():
        raise ExprError("a duration cannot be negative", at,
                        "ages and latencies count up from 0: compare with a positive duration, e.g. stale > 60s")
    try:
        kind, value, canon = parse_quantity(text)
    except UnitError as e:  # past the units' bounds: a duration over ten years, a number of 16 digits
        raise ExprError(e.short, at, e.hint) from None
    return Literal(value, ValueType(kind), canon, at)


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
    disjuncts that are a single ``signal op literal`` comparison count: anything else (a
    threshold computed from other signals among them) is too rich to order safely, so it is
    left out rather than guessed at.
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


def mirrored(op: str) -> str:
    """``op`` with its sides swapped: ``>=`` for ``<=``."""
    return _MIRROR[op]


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
