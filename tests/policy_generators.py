"""Generated text for the fuzzer (tests/policy_mutations.py): conditions, long operands and label
patterns, deeper than a mutation of what the example files hold.

- :func:`condition`: a condition from the language's grammar — comparisons, ``||``, ``&&``,
  ``!`` and parentheses mixed at random, nested from none to past the parser's bounds, over the
  names the document reads, names it does not, numbers with every unit, ``true``/``false`` and
  long operands, each side of a comparison possibly arithmetic (:func:`arithmetic`); for a
  ``when:`` (signals) or a ``where:`` (a position's facts).
- :func:`arithmetic`: a value computed from operands — ``+ - * /`` (a divisor of 0 among them),
  unary minus, ``min``/``max``/``abs`` with the right count of values or not, functions that do
  not exist (``maxx``, ``pow``), sums of hundreds of terms, runs of ``-`` and calls nested past
  the parser's bounds.
- :func:`mixed_nesting`: ``cond`` under a random run of ``(``, ``!``, ``!(`` and ``(!`` of a
  given depth, closed as it opened.
- :func:`long_number`, :func:`long_operand`: numbers of 16 to 5,000 digits (past a float, past
  Python's 4,300-digit conversion limit), as integers, decimals or tiny fractions, signed or not,
  with a unit or none; names of thousands of characters.
- :func:`pattern`: a label pattern: valid RE2, what RE2 refuses (lookarounds, backreferences,
  repeats over 1000 or past 10^8, malformed syntax, a program too large), what makes a
  backtracking engine take exponential time (``(.*.*.*)*zz`` and kin), very long or deep ones,
  and random strings of RE2's pieces.

Each takes a ``random.Random`` seeded by one draw of the case's chooser, so a case stays one
small draw under hypothesis and the same text for a seed under bench/fuzz.py.
"""

from __future__ import annotations

import random
from typing import Callable, Sequence

from killswitch.policy.positions import POSITION_FIELDS

LONG_DIGITS = (16, 19, 20, 309, 400, 4_301, 5_000)
UNITS = ("", "", "s", "ms", "m", "h", "d", "w", "%", "k", "M", " ticks", "x9")
COMPARISONS = (">=", "<=", "==", "!=", ">", "<")
DEPTHS = (0, 1, 2, 4, 8, 16, 31, 32, 33, 64, 200, 1_200)
SHORT_NUMBERS = ("0", "1", "3", "4.5%", "-8%", "60s", "300s", "15m", "1h", "0.5", "100%", "2d", "150%", "1e9",
                 "3650d", "3651d", "999999999999999", "1000000000000000")


def long_number(rng: random.Random) -> str:
    n = rng.choice(LONG_DIGITS)
    digit = rng.choice("91")
    shape = rng.choice(("integer", "decimal", "fraction", "negative", "leading zeros"))
    if shape == "integer":
        text = digit * n
    elif shape == "decimal":
        text = digit * n + "." + digit * rng.choice((1, 20, 400))
    elif shape == "fraction":
        text = "0." + "0" * n + "1"
    elif shape == "negative":
        text = "-" + digit * n
    else:
        text = "0" * n + "3"
    return text + rng.choice(UNITS)


def long_operand(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return long_number(rng)
    return rng.choice("abxz_") * rng.choice((65, 256, 1_000, 5_000))


def mixed_nesting(rng: random.Random, cond: str, depth: int) -> str:
    opens = [rng.choice(("(", "!", "!(", "(!", "!!(")) for _ in range(depth)]
    text = "".join(opens)
    return text + cond + ")" * text.count("(")


ARITHMETIC_OPS = (" + ", " - ", " * ", " / ", "+", "*", "/")
FUNCTIONS = ("min", "max", "abs", "maxx", "pow", "MAX", "min_", "avg")
ARITY = (0, 1, 2, 3, 5)


def arithmetic(rng: random.Random, operand: Callable[[], str], depth: int = 3) -> str:
    """A number-valued expression over ``operand()``; see the module doc."""
    roll = rng.random()
    if depth <= 0 or roll < 0.25:
        return operand()
    if roll < 0.5:
        parts = [arithmetic(rng, operand, depth - 1) for _ in range(rng.randint(2, 4))]
        return "".join(p + rng.choice(ARITHMETIC_OPS) for p in parts[:-1]) + parts[-1]
    if roll < 0.6:
        return f"{arithmetic(rng, operand, depth - 1)} / {rng.choice(('0', '0%', '0s', '(1 - 1)', '-0'))}"
    if roll < 0.7:
        return "-" * rng.randint(1, 3) + arithmetic(rng, operand, depth - 1)
    if roll < 0.85:
        args = ", ".join(arithmetic(rng, operand, depth - 1) for _ in range(rng.choice(ARITY)))
        return f"{rng.choice(FUNCTIONS)}({args})"
    if roll < 0.9:
        return "(" + arithmetic(rng, operand, depth - 1) + ")"
    shape = rng.choice(("sum", "minus", "calls", "products"))
    n = rng.choice(DEPTHS)
    if shape == "sum":  # a flat chain: no recursion, but operands
        return " + ".join(operand() for _ in range(min(n, 400)))
    if shape == "minus":
        return "-" * n + operand()
    if shape == "calls":
        return "max(" * n + operand() + ", 1%)" * n
    return " * ".join(operand() for _ in range(min(n, 400)))


def condition(rng: random.Random, names: Sequence[str], where: bool = False, budget: int = 6_000) -> str:
    """A condition over ``names`` (and, for a ``where:``, the facts of a position)."""
    vocabulary = list(names) + (list(POSITION_FIELDS) if where else []) + ["nosuchsignal", "true", "false"]

    def operand() -> str:
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(vocabulary)
        if roll < 0.85:
            return rng.choice(SHORT_NUMBERS)
        return long_operand(rng)

    def node(depth: int) -> str:
        if depth <= 0 or rng.random() < 0.25:
            if rng.random() < 0.8:
                if rng.random() < 0.4:  # a side computed from others: a threshold that moves
                    left, right = operand(), arithmetic(rng, operand)
                    if rng.random() < 0.3:
                        left, right = right, left
                    return f"{left} {rng.choice(COMPARISONS)} {right}"
                return f"{operand()} {rng.choice(COMPARISONS)} {operand()}"
            return operand() if rng.random() < 0.8 else arithmetic(rng, operand)
        kind = rng.choice(("or", "and", "not", "group", "mixed"))
        if kind in ("or", "and"):
            sep = " || " if kind == "or" else " && "
            return sep.join(node(depth - 1) for _ in range(rng.randint(2, 4)))
        if kind == "not":
            return "!" * rng.randint(1, 3) + "(" + node(depth - 1) + ")"
        if kind == "group":
            return "(" + node(depth - 1) + ")"
        return mixed_nesting(rng, node(depth - 1), rng.randint(1, 4))

    text = node(rng.choice((0, 1, 2, 3, 5)))
    depth = rng.choice(DEPTHS)
    if depth:
        text = mixed_nesting(rng, text, depth)
    return text[:budget]


# Patterns that make a backtracking engine take exponential (or high polynomial) time
BACKTRACKING = ["(" + ".*" * k + ")*zz" for k in (8, 20, 40)] + [
    "(a+)+b", "(a|aa)*b", "(a*)*b", "(x+x+)+y", "(.*a){20}", "(a|a?)+b", "(\\w+\\s?)*!", "(.*)*$", "((a*)*)*c",
    "(a|b|ab)*c", "(.*,){30}x",
]
# What RE2 refuses, and what Go's regexp refuses that RE2 would read as text
REFUSED = [
    "a{99999999999}", "a{1001}", "x{2,1001}", "(a{1000}){1000}", "(?=a)b", "(?!warn).*", "(?<=a)b", "(?<!a)b",
    "(a)\\1", "[", "[a-z", "(", ")", "a)|(b", "(?i", "\\", "*", "a**", "+a", "\\Z", "\\pL{100}", "[z-a]",
    "(?P<n>a)(?P<n>b)", "(?#comment)", "\\8", "x{2}{3}",
]
VALID = [
    "(?i)crit.*", "binance.*|okx", "\\d+", "[[:alpha:]]+", "(?P<n>x)", "a{1000}", "", ".*", "(?s).", "\\pL+",
    "\\Qa{99999}\\E", "[{99999}]", "a{0999}", "critical|warning", "(?i)(?:binance|bybit)usdm?",
]
PIECES = ["a", "b", ".", ".*", ".+", "?", "*", "+", "|", "(", ")", "(?:", "(?i)", "(?i", "(?=", "(?P<n>", "[", "]",
          "[^", "[:alpha:]", "-", "^", "$", "{", "}", "{2}", "{2,}", "{1,3}", "{1001}", "{99999999999}", ",", "\\",
          "\\d", "\\1", "\\Q", "\\E", "\\pL", "\\b", "é", "中", " ", "'"]


def pattern(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(BACKTRACKING)
    if roll < 0.4:
        return rng.choice(REFUSED)
    if roll < 0.5:
        return rng.choice(VALID)
    if roll < 0.6:  # long or deep: past the length bound, thousands of groups
        n = rng.choice((100, 1_000, 2_047, 2_049, 4_096, 5_000))
        return rng.choice(("(" * (n // 2) + "a" + ")" * (n // 2), "a|" * (n // 2) + "b", "x" * n, "(a)" * (n // 3)))
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))


def quoted(text: str) -> str:
    """``text`` as a single-quoted YAML scalar (backslashes are plain there)."""
    return "'" + text.replace("'", "''") + "'"
