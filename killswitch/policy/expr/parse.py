"""Reading a condition: the lexer and the parser of the condition language, into its AST.

What it owns: :func:`parse` (a condition as written, read under the bounds of :mod:`..expr`, or
:class:`~..expr.ExprError` with the offset of the first problem and a hint for a habit of another
language: ``and``, ``=``, a remainder) and :func:`parse_canonical` (the canonical text read
back), through the lexer and a recursive-descent parser in CEL's precedence. The language
itself (its value types, its bounds, the AST, the canonical text) is :mod:`..expr`'s.

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from ...records import record
from .. import expr
from ..units import UnitError, parse_quantity

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


@record
class _Tok:
    """A token of a condition: its kind, its text and its 0-based offset in the condition."""

    kind: str  # num | ident | op | end
    text: str
    offset: int


def _lex(text: str, bounded: bool = True) -> list[_Tok]:
    if bounded and len(text) > expr.MAX_LENGTH:
        raise expr.ExprError(f"condition is {len(text):,} characters long, over the limit of {expr.MAX_LENGTH:,}",
                             expr.MAX_LENGTH, "the example policies' conditions are under 40 characters",
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
                raise expr.ExprError(f'"{word}" is not a number with a unit', i,
                                     "a number takes one unit from %, ms, s, m, h, d, w, or none")
            raise expr.ExprError(f'unexpected character "{bad}"', i, _CEL_HINTS.get(bad, _CHAR_HINT))
        kind = m.lastgroup
        assert kind is not None  # holds: every alternative of _TOKEN is a named group
        if kind != "ws":
            if kind != "op" and bounded:
                operands += 1
                if operands > expr.MAX_OPERANDS:
                    raise expr.ExprError(f"condition has more than {expr.MAX_OPERANDS} operands", i,
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

# the operators that join operands into one node (a || b || c), and those that chain them with an
# operator each (a - b + c), by level, loosest first
_JOINS = (("||", expr.Or), ("&&", expr.And))
_CHAINS = ((("+", "-"), expr.Sum), (("*", "/"), expr.Product))


class _Parser:
    def __init__(self, text: str, canonical: bool = False):
        self.text = text
        self.toks = _lex(text, bounded=not canonical)
        self.i = 0
        self.depth = 0  # open "(", "!" and unary "-" around the token being read
        self.max_depth = 2 * expr.MAX_DEPTH if canonical else expr.MAX_DEPTH

    def enter(self, t: _Tok) -> None:
        """One more level, opened by ``t`` (a "(", a "!" or a unary "-"): refused past the bound, at ``t``."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise expr.ExprError(f"condition nested deeper than {self.max_depth} levels", t.offset,
                                 'every "(", "!" and unary "-" is one level (a readable condition needs a few): '
                                 "drop parentheses that group nothing", kind="limit")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> expr.Node:
        if self.peek().kind == "end":
            raise expr.ExprError("empty condition", 0, "write a comparison such as dd_15m >= 4.5%")
        node = self.parse_or()
        t = self.peek()
        if t.kind != "end":
            hint = _CEL_HINTS.get(t.text.lower())
            raise expr.ExprError(f'unexpected "{t.text}" after a complete condition', t.offset,
                                 hint or "join conditions with || or &&")
        return node

    def parse_or(self, level: int = 0) -> expr.Node:
        """Operands joined by the operator of ``level`` in :data:`_JOINS` (``||``, then ``&&``),
        each read at the next level: one node of them all, or the one alone. A frame a level (a
        helper called for each would double the stack a nesting takes)."""
        op, make = _JOINS[level]
        last = level + 1 == len(_JOINS)
        first = self.parse_not() if last else self.parse_or(level + 1)
        items = [first]
        while self.peek().text == op:
            self.take()
            items.append(self.parse_not() if last else self.parse_or(level + 1))
        return first if len(items) == 1 else make(tuple(items), first.offset)

    def parse_not(self) -> expr.Node:
        return self.under(self.run_of("!"), self.parse_cmp(), expr.Not)

    def run_of(self, op: str) -> list[_Tok]:
        """A run of the prefix ``op`` ("!", unary "-"), each a level: read in a loop, it costs no
        recursion."""
        run: list[_Tok] = []
        while self.peek().text == op:
            run.append(self.take())
            self.enter(run[-1])
        return run

    def under(self, run: list[_Tok], node: expr.Node, make: Callable[[expr.Node, int], expr.Node]) -> expr.Node:
        """``node`` under each prefix of ``run`` (the innermost last), whose levels end here."""
        for t in reversed(run):
            node = make(node, t.offset)
        self.depth -= len(run)
        return node

    def parse_cmp(self) -> expr.Node:
        left = self.parse_sum()
        t = self.peek()
        if t.text in expr.COMPARISONS:
            self.take()
            right = self.parse_sum()
            nxt = self.peek()
            if nxt.text in expr.COMPARISONS:
                raise expr.ExprError(
                    "comparisons cannot be chained", nxt.offset, "write a <= x && x <= b instead of a <= x <= b"
                )
            return expr.Compare(t.text, left, right, t.offset)
        return left

    def parse_sum(self, level: int = 0) -> expr.Node:
        """Operands each after an operator of ``level`` in :data:`_CHAINS` (``+ -``, then ``* /``),
        each read at the next level: the first and the rest with their operators, or the first
        alone. A frame a level, as :meth:`parse_or`."""
        ops, make = _CHAINS[level]
        last = level + 1 == len(_CHAINS)
        first = self.parse_unary() if last else self.parse_sum(level + 1)
        rest = []
        while self.peek().text in ops:
            op = self.take()
            rest.append((op.text, self.parse_unary() if last else self.parse_sum(level + 1), op.offset))
        return first if not rest else make(first, tuple(rest), first.offset)

    def parse_unary(self) -> expr.Node:
        minuses = self.run_of("-")
        if minuses and self.peek().kind == "num":  # "-8%": one negative literal, as written
            node: expr.Node = _literal(self.take(), minuses.pop())
            self.depth -= 1
        else:
            node = self.parse_primary()
        return self.under(minuses, node, expr.Neg)

    def parse_primary(self) -> expr.Node:
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
                return expr.Literal(1.0 if t.text == "true" else 0.0, expr.ValueType.BOOL, t.text, t.offset)
            if t.text.lower() in _CEL_HINTS:
                raise expr.ExprError(f'"{t.text}" is not an operator', t.offset, _CEL_HINTS[t.text.lower()])
            if self.peek().text == "(":
                return self.parse_call(t)
            return expr.Ref(t.text, t.offset)
        if t.kind == "end":
            raise expr.ExprError("condition ends too early", t.offset, "a comparison needs a value on both sides")
        raise expr.ExprError(f'unexpected "{t.text}"', t.offset, "expected a signal name, a number, a function or (")

    def parse_call(self, name: _Tok) -> expr.Node:
        """``name(a, b, ...)``: what it may call and with how many values is the type check's to say."""
        open_ = self.take()
        self.enter(open_)
        args: list[expr.Node] = []
        if self.peek().text != ")":
            args.append(self.parse_sum())
            while self.peek().text == ",":
                self.take()
                args.append(self.parse_sum())
        self.close(open_, f"{name.text}(...)")
        return expr.Call(name.text, tuple(args), name.offset)

    def close(self, open_: _Tok, what: str) -> None:
        close = self.take()
        if close.text != ")":
            if close.kind != "end" and what != "the condition":
                raise expr.ExprError(f'unexpected "{close.text}" in {what}', close.offset,
                                     "separate a function's values with commas; compare outside the call")
            raise expr.ExprError("missing closing parenthesis", close.offset,
                                 f'the "(" at character {open_.offset + 1} of the condition is not closed',
                                 related=open_.offset)
        self.depth -= 1


def _literal(t: _Tok, minus: Optional[_Tok] = None) -> expr.Literal:
    text = ("-" if minus is not None else "") + t.text.replace(" ", "")
    at = minus.offset if minus is not None else t.offset
    if text.startswith("-") and text[-1].isalpha():
        raise expr.ExprError("a duration cannot be negative", at,
                             "ages and latencies count up from 0: compare with a positive duration, e.g. stale > 60s")
    try:
        kind, value, canon = parse_quantity(text)
    except UnitError as e:  # past the units' bounds: a duration over ten years, a number of 16 digits
        raise expr.ExprError(e.short, at, e.hint) from None
    return expr.Literal(value, expr.ValueType(kind), canon, at)


def parse(text: str) -> expr.Node:
    """Parse a condition. Raises :class:`~..expr.ExprError` with the offset of the first problem; a
    condition past the bounds above is refused with ``kind="limit"``."""
    return _Parser(text).parse()


def parse_canonical(text: str) -> expr.Node:
    """Parse the text :func:`~..expr.canonical` made of a condition that :func:`parse` accepted.

    The canonical text can be longer than what was written (spaces around every operator) and
    deeper (``!a >= 1%`` is written ``!(a >= 1%)``: one "(" more, under a "!" of its own, so at
    most twice as deep). The bounds were applied to what the author wrote; this reads the
    canonical text under twice the depth and no bound on length or operands (it has the same
    operands as the text it came from), so it cannot refuse what :func:`parse` accepted.
    """
    return _Parser(text, canonical=True).parse()
