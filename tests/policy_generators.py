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
from typing import Any, Callable, Sequence

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


# --- whole documents ----------------------------------------------------------------------------

# Values a setting of each type may take: ordinary ones, the edges (0, negative, tiny, huge) and
# forms of another type, so that a kind's own checks (not only the schema's) meet every edge. A
# tame document draws from the first few of each (what a valid policy writes), so that some
# compile whole and reach the checks that run only on a policy without errors.
DURATIONS = ("15s", "5m", "15m", "1h", "0s", "0", "-1s", "1ms", "99ms", "100ms", "1s", "60s", "1d", "7d", "3651d",
             "1.5h", "999999999999d")
RATIOS = ("4.5%", "50%", "80%", "100%", "0%", "0.001%", "100.1%", "150%", "-5%", "0", "1", "0.5", "1.5", "-0")
AMOUNTS = ("25k", "2M", "1", "0", "-5k", "1e9", "0.0001", "99999999999999999999999")
INTEGERS = ("1", "3", "2", "0", "-1", "1000000", "99999999999999999999")
FLOATS = ("0.5", "3", "1", "0", "-2", "1e308", "1e309", ".nan")
TAME = 4  # how many of each tuple above a tame document draws from
OTHERS = ("[a, b]", "{x: 1}", "true", "null", "''", "x1.5", "3 ticks", "manul", "15", "[]", "{}")
SCOPE_LEVELS = ("global", "venue", "account", "strategy", "symbol", "firm", "")
VENUES = ("binance", "bybit", "okx", "nosuchvenue")
INTERVALS = ("5s", "15s", "1m", "1s", "0s", "50ms", "2h")


def _literals(annotation: object) -> list[str]:
    """The strings a ``Literal`` (inside ``Optional``, a union, an ``Annotated``) allows."""
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return [x for a in typing.get_args(annotation) for x in _literals(a)]


class _Draw:
    """A document's draws, each from the ordinary values, or with the document's ``wildness``
    (0 to 1) from all: a document with a few wild draws compiles as far as its checks that
    read the settings whole (a kind's build, the ladder's checks), one with many meets more
    edges at once, one with none may compile clean."""

    def __init__(self, rng: random.Random, wildness: float):
        self.rng, self.wildness = rng, wildness

    @property
    def wild(self) -> bool:
        """This draw is a wild one."""
        return self.rng.random() < self.wildness

    def pick(self, values: Sequence[str], tame: int = TAME) -> str:
        """One of the first ``tame`` values, or on a wild draw one of the others (the edges)."""
        return self.rng.choice(values[tame:] if self.wild and values[tame:] else values[:tame])

    def chance(self, p: float) -> bool:
        """True with probability ``p`` on a wild draw; never on a tame one."""
        return self.wild and self.rng.random() < p


def setting(draw: _Draw, name: str, annotation: object) -> str:
    """A value for the setting ``name`` of type ``annotation``: of its type, at times (wild) not."""
    rng = draw.rng
    if draw.chance(0.1):
        return rng.choice(OTHERS)
    kind = repr(annotation)
    literals = _literals(annotation)
    if literals:
        return rng.choice(literals) + ("x" if draw.chance(0.1) else "")
    if name in ("where", "when"):
        return quoted(condition(rng, [], where=True, budget=400) if draw.wild else "loss_on_notional >= 10%")
    for marker, values in (("Duration", DURATIONS), ("Ratio", RATIOS), ("Amount", AMOUNTS), ("bool", ("true", "false")),
                           ("int", INTEGERS), ("float", FLOATS)):
        if marker in kind:
            return draw.pick(values)
    if "list" in kind:
        return "[" + ", ".join(rng.choice(("BTC/USDT:USDT", "ETH/USDT:USDT", "LOCK_VIOLATION", "a", "''"))
                               for _ in range(rng.randint(0, 3))) + "]"
    if draw.wild:
        return rng.choice(("desk", "bot-1", "flatten.md.j2", "default.md.j2", "nosuch", "x" * 300))
    return {"route": "desk", "template": "flatten.md.j2"}.get(name, "bot-1")


# what a tame document leaves out: the settings it cannot write right without knowing the
# accounts (a list of codes or symbols), and what acts on keys not every account holds
TAME_TYPES = ("Duration", "Ratio", "Amount", "bool", "Literal", "int", "float")
WILD_ACTIONS = ("revoke_trading",)


def _kind_block(draw: _Draw, kind: object) -> str:
    """``{name: {setting: value, ...}}`` for a signal or action kind of the registry: each
    required setting almost always, each optional one half the time, now and then one it does
    not have."""
    fields = kind.model.model_fields  # type: ignore[attr-defined]
    pairs = [f"{n}: {setting(draw, n, f.annotation)}" for n, f in fields.items()
             if (f.is_required() and not draw.chance(0.05)) or (
                 draw.rng.random() < 0.5 and (draw.wild or any(t in repr(f.annotation) for t in TAME_TYPES)))]
    if draw.chance(0.05):
        pairs.append(f"nosuchsetting: {draw.pick(DURATIONS)}")
    return f"{kind.name}: {{{', '.join(pairs)}}}"  # type: ignore[attr-defined]


def policy(rng: random.Random, name: str = "fuzz") -> str:
    """A Policy document drawn from the language: signals and actions of every registered kind
    with settings of their types — on a wild draw at their edges (a window or a sample of 0s,
    a fraction over 100 %) or of another type —, triggers on comparisons or
    generated conditions over those signals, a ladder of stages each on its own trigger."""
    from killswitch.policy.kinds import ACTIONS, SIGNALS

    draw = _Draw(rng, rng.choice((0.0, 0.05, 0.1, 0.3, 0.6)))
    signals = {f"s{i}": rng.choice(SIGNALS) for i in range(rng.randint(1, 4))}
    names = list(signals) + (["nosuchsignal"] if draw.chance(0.1) else [])
    lines = ["apiVersion: killswitch/v1", "kind: Policy", "metadata:", f"  name: {name}", "  owner: risk-desk",
             "spec:", "  scope:", f"    level: {draw.pick(SCOPE_LEVELS, 3)}"]
    if rng.random() < 0.5:
        lines.append(f"    venues: [{draw.pick(VENUES, 2)}]")
    if rng.random() < 0.7:
        lines.append(f"  interval: {draw.pick(INTERVALS, 3)}")
    lines.append("  signals:")
    lines += [f"    {s}: {{{_kind_block(draw, kind)}}}" for s, kind in signals.items()]
    levels = rng.randint(1, 4)
    triggers = [f"t{i}" for i in range(1, levels + 1)]
    lines.append("  triggers:")
    for t in triggers:
        read = rng.choice(names)
        if draw.chance(0.4):
            when = condition(rng, names, budget=400)
        elif draw.wild or read not in signals:
            when = f"{read} {rng.choice(COMPARISONS)} {rng.choice(SHORT_NUMBERS)}"
        else:  # a threshold of the signal's type (4.5%, 60s, 3)
            when = f"{read} >= {signals[read].model.value_type.literal_example()}"
        lines += [f"    {t}:", f"      when: {quoted(when)}"]
        if rng.random() < 0.5:
            lines.append(f"      for: {draw.pick(('1 tick', '3 ticks', '2m', '0 ticks', '0s', '-1 tick'), 3)}")
        if not draw.chance(0.1):
            lines.append(f"      on_missing_data: {draw.pick(('hold', 'fire', 'skip', 'resolve', 'nosuch'), 1)}")
    lines.append("  stages:")
    for level in range(1, levels + 1):
        on = rng.sample(triggers, rng.randint(1, levels)) if draw.wild else [f"t{level}"]
        lines += [f"    - level: {rng.choice(INTEGERS[3:]) if draw.chance(0.05) else level}",
                  f"      name: stage-{level}", f"      on: [{', '.join(on)}]"]
        if rng.random() < 0.5:
            lines.append(f"      cooldown: {draw.pick(DURATIONS)}")
        if level == levels and rng.random() < 0.5:
            lines += ["      reset: manual", f"      approvals: {draw.pick(INTEGERS, 2)}"]
        lines.append("      actions:")
        wild = draw.wild
        actions = [a for a in ACTIONS if wild or a.name not in WILD_ACTIONS]
        lines += [f"        - {_kind_block(draw, rng.choice(actions))}" for _ in range(rng.randint(1, 4))]
    if not draw.chance(0.2):
        lines.append("  notify: {route: desk}")
    if rng.random() < 0.5:
        lines.append(f"  while_blind: {{lock_trading: {draw.pick(('reducing', 'halted', 'open'), 2)}}}")
    return "\n".join(lines) + "\n"


# Pieces of YAML's syntax, for texts of a few short lines: what a person types by mistake, a
# comment where a reader does not expect one, a block scalar's header, a document marker.
YAML_PIECES = ("#", "# a", ">", "|", ">-", "|+", "|2", "- ", ": ", "a", "a:", "'", '"', "&a ", "*a", "!t ", "? ",
               "---", "...", "%YAML 1.2", "[", "]", "{", "}", ",", "\t", "  ", " ", "kind: Policy", "spec:",
               "apiVersion: killswitch/v1", "1", "~", "é", "\ufeff", "\x85")


def yaml_line(rng: random.Random) -> str:
    """A comment, a block scalar's header (with a comment after it, or text), a key with a
    value, or pieces at random; indented or not."""
    indent = rng.choice(("", "", "  ", "    ", " "))
    shape = rng.randint(0, 3)
    if shape == 0:
        return indent + rng.choice(("#", "# a", "#:", "##"))
    if shape == 1:
        return (indent + rng.choice(("", "a: ", "- ", "? ", "a: - ")) + rng.choice(">|")
                + rng.choice(("", "-", "+", "2", "-2", "9")) + rng.choice(("", " #", "  # x", " x", "#", "\t#")))
    if shape == 2:
        return indent + rng.choice(("a", "- a", "spec", "'a'", "- ")) + ":" + rng.choice(("", " ", " 1", " [", " #"))
    return indent + "".join(rng.choice(YAML_PIECES) for _ in range(rng.randint(0, 4)))


def yaml_text(rng: random.Random) -> str:
    """One to six lines of :func:`yaml_line` (``# a`` then ``> #`` is one text)."""
    return "\n".join(yaml_line(rng) for _ in range(rng.randint(1, 6))) + rng.choice(("", "\n"))


def edge_policies() -> list[tuple[str, str]]:
    """(what, policy text) for every setting of a number's type (a duration, a ratio, an amount,
    a count) of every signal and action kind at four edges (0, negative, tiny or past its
    type's range), the kind's other settings all written, tame, booleans true: the settings a
    kind's build combines (an annualized volatility over a sample of 0s) meet each edge."""
    from killswitch.policy.kinds import ACTIONS, SIGNALS

    types = (("Duration", DURATIONS), ("Ratio", RATIOS), ("Amount", AMOUNTS), ("int", INTEGERS), ("float", FLOATS))
    out = []
    for kind in SIGNALS + ACTIONS:
        fields = kind.model.model_fields
        for name, f in fields.items():
            edges = next((values[TAME:TAME + 4] for marker, values in types if marker in repr(f.annotation)), ())
            for edge in edges:
                draw = _Draw(random.Random(f"{kind.name}:{name}:{edge}"), 0.0)
                def value(n: str, g: Any) -> str:
                    if n == name:
                        return edge
                    return "true" if "bool" in repr(g.annotation) else setting(draw, n, g.annotation)

                written = ", ".join(f"{n}: {value(n, g)}" for n, g in fields.items()
                                    if n == name or g.is_required() or any(t in repr(g.annotation) for t in TAME_TYPES))
                block = f"{kind.name}: {{{written}}}"
                signal = block if kind in SIGNALS else "equity_drawdown: {window: 15m}"
                value_type = kind.model.value_type if kind in SIGNALS else SIGNALS[0].model.value_type
                action = block if kind in ACTIONS else "close_all"
                out.append((f"{kind.name}.{name}: {edge}", "\n".join([
                    "apiVersion: killswitch/v1", "kind: Policy", "metadata: {name: edge, owner: risk-desk}", "spec:",
                    "  scope: {level: account}", "  interval: 5s", f"  signals:\n    s0: {{{signal}}}",
                    f"  triggers:\n    t1: {{when: 's0 >= {value_type.literal_example()}', on_missing_data: hold}}",
                    "  stages:", "    - level: 1", "      name: cut", "      on: [t1]", "      reset: manual",
                    f"      actions:\n        - {action}", "  notify: {route: desk}",
                    "  while_blind: {lock_trading: reducing}"]) + "\n"))
    return out
