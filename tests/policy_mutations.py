"""Mutated policy files for fuzzing the loader and the compiler, and what every case must satisfy.

Shared by the hypothesis test (tests/unit/policy/test_fuzz_policies.py, a few hundred cases in every test
run) and the bench (bench/fuzz.py, tens of thousands): both draw their choices through a
:class:`Chooser`, so the same mutations run under hypothesis (which shrinks a failure to its
smallest form) and under a seeded ``random.Random`` (fast, reproducible by seed).

A case takes one file of ``policies/`` (a policy, its test, the accounts or the routes), applies
1-3 mutations — a key deleted or misspelled, a value replaced by one of another type or by random
text, a condition (``when:``, ``where:``) or a route's pattern (``match_re:``) nested or chained
many times over, a number made 16 to 5,000 digits long, a condition generated from the
language's grammar (mixed ``(`` and ``!`` nesting, long operands), a ``where:`` clause added, a
label pattern set or a route with one added (tests/policy_generators.py), the text truncated,
YAML punctuation inserted, a line deleted or duplicated — and compiles it with the files it goes
with (a policy with the routes, the accounts and its test file). Then :func:`check` asserts:

- nothing but diagnostics leaves the loader and the compiler (no exception);
- every diagnostic has a known code, a message, a hint, and a position inside its file;
- when the mutations only touched settings of a policy (cooldown, fraction, window, ...), the
  policy's test file reports nothing but one note (KS130): that the policy has errors, or, when
  its file was refused as a whole (an alias), that it cannot be checked because that file could
  not be read. Never "unknown policy", never a missing stage or trigger: no cascade.

The time of a case is measured around loading and compiling the mutated file.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

from killswitch.compile.compiler import CompileResult, compile_documents
from killswitch.policy.diagnostics import CODES
from killswitch.policy.load import LoadResult, load_text
from tests.policy_generators import condition, long_number, long_operand, mixed_nesting, pattern, quoted

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int:
        """A whole number from lo to hi, both included."""

    def choice(self, options: Sequence[Any]) -> Any:
        """One of ``options`` (not empty)."""


class RandomChooser:
    def __init__(self, rng: Any):
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.randint(lo, hi))

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]


class HypothesisChooser:
    def __init__(self, data: Any):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo: int, hi: int) -> int:
        return int(self.data.draw(self.st.integers(lo, hi)))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))


# --- the corpus ------------------------------------------------------------------------------------


@dataclass
class Seed:
    name: str  # path relative to policies/
    text: str
    company: list[str]  # the other files it is compiled with
    test_file: str | None  # for a policy: its test file, which must not cascade


def seeds() -> list[Seed]:
    files = {str(p.relative_to(POLICIES)): p.read_text() for p in sorted(POLICIES.rglob("*.yaml"))}
    out = []
    for name, text in files.items():
        if "kind: Policy" in text:
            test = f"tests/{Path(name).stem}.test.yaml"
            test = test if test in files else None
            out.append(Seed(name, text, ["routes.yaml", "accounts.yaml"] + ([test] if test else []), test))
        elif "kind: PolicyTest" in text:
            policy = name.removeprefix("tests/").replace(".test.yaml", ".yaml")
            out.append(Seed(name, text, [policy, "routes.yaml"], None))
        else:
            out.append(Seed(name, text, [n for n in files if "kind: Policy\n" in files[n]][:1], None))
    return out


class Corpus:
    """The seed files, and the loaded form of the files they are compiled with (loaded once)."""

    def __init__(self) -> None:
        self.seeds = seeds()
        self.texts = {s.name: s.text for s in self.seeds}
        self._loaded: dict[str, LoadResult] = {}

    def loaded(self, name: str) -> LoadResult:
        if name not in self._loaded:
            self._loaded[name] = load_text(self.texts[name], name)
        return self._loaded[name]


# --- mutations -------------------------------------------------------------------------------------

# ``key: value`` in block or flow style; the value runs to the end of the line or to , } ] #
_PAIR = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_-]*)(?P<sep>:[ \t]+|:$)(?P<value>[^\n,{}\[\]#]*)", re.MULTILINE)

# Settings of a policy: changing one must never make its test file report anything but the note.
SETTINGS = frozenset({
    "cooldown", "reset", "reset_after", "approvals", "fraction", "count", "side", "close_within_liquidation",
    "window", "min_coverage", "for", "on_missing_data", "when", "keep_firing_for", "interval", "mode", "ttl",
    "after", "severity", "threshold", "max_slippage", "chunk_notional", "orders_per_second", "start", "step",
    "every", "max_positions", "max_gross_exposure", "on", "source_threshold", "reference_window",
    "missing_reference", "pnl_delta", "current_loss", "confidence", "against", "of", "aggregate", "by",
})

WRONG_TYPES = [
    "[a, b]", "{x: 1}", "3", "-1", "0", "1e9", "true", "null", "~", '"text"', "'quoted'", "30", "150%", "0.5",
    "15", "x1.5", "3 ticks", '""', "[]", "{}", "-5%", "1.5M", "50,000", "2026-01-01", "0x1F", ".inf", "4,5%",
    "manul", "loosing", "close_everything", "hrad", "10m10", "1h 30m", "5 ticks ago",
]
PUNCTUATION = ["{", "}", "[", "]", ": ", "- ", "'", '"', "\t", "#", "&a ", "*a", "!tag ", "? ", "|\n", ">-\n",
               "---\n", "...\n", ",", "%", "@", "`", "\\", "\n", "  ", "<<: "]
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 _-.:%,/[]{}'\"#&*!|>@`?\\\t\u00e9\u00df\u4e2d\u2028\x00\x1b"


@dataclass
class Mutated:
    text: str
    steps: list[str] = field(default_factory=list)  # what was done, readable
    ops: list[str] = field(default_factory=list)  # the kind of each step
    settings_only: bool = True  # every step changed a setting (a key of SETTINGS, or its value)


KEY_OPS = ("delete_key", "typo_key", "wrong_type", "random_scalar", "grow_condition", "long_operand", "condition")
OPS = KEY_OPS + ("truncate", "punctuation", "delete_line", "dup_line", "where_clause", "pattern")

# Conditions are parsed by a recursive-descent parser and walked by recursive functions; a
# condition grown past what any person writes (hundreds of parentheses or "!", thousands of
# terms) is how a document reaches Python's recursion limit. A route's match_re is RE2's (no
# recursion, no backtracking), grown the same way. Counts around the bounds
# (killswitch.policy.expr's MAX_DEPTH and MAX_OPERANDS) and far past them.
CONDITION_KEYS = frozenset({"when", "where"})
GROW_COUNTS = (1, 2, 8, 31, 32, 33, 127, 128, 129, 200, 1_200, 5_000)
# A chain stops growing when the file would pass this many characters: a tenth of the 1 MiB that
# ksctl reads at all (killswitch.sources.MAX_FILE_BYTES; a bigger file is KS010, unread), so that
# a case's time is the time of the conditions, not of reading a big file (a file with a YAML
# error is read by ruamel, in Python, at about 2 µs a character).
GROW_BUDGET = 100_000
GROW_SHAPES = ("parentheses", "bangs", "negated groups", "not words", "or chain", "and chain",
               "compared conditions", "mixed nesting")
# the labels a route's generated pattern is on (severity: the compiler matches it against "critical")
PATTERN_LABELS = ("severity", "venue", "stage", "policy", "scope")


def mutate(seed: Seed, c: Chooser) -> Mutated:
    """1-3 mutations of any kind anywhere; or, for a third of the policies, 1-3 mutations of
    settings only (so that the no-cascade promise is checked often, not by chance)."""
    m = Mutated(seed.text)
    settings = seed.test_file is not None and c.integer(0, 2) == 0
    first_pattern = "match_re:" in seed.text and c.integer(0, 1) == 0  # the routes: half their cases
    for k in range(c.integer(1, 3)):
        ops = [op for op in (KEY_OPS if settings else OPS) if _applies(op, m.text)]
        _apply(m, "pattern" if first_pattern and k == 0 else c.choice(ops), c, settings)
    return m


def _applies(op: str, text: str) -> bool:
    """A condition's mutation needs a condition; an addition its place: a policy's signals, a
    routes document's child routes."""
    if op in ("grow_condition", "condition"):
        keys = "when|where|match_re" if op == "grow_condition" else "when|where"
        return re.search(rf"\b(?:{keys}):", text) is not None
    if op == "where_clause":
        return "\n  signals:\n" in text
    if op == "pattern":
        return "\n    routes:\n" in text
    return True


def _rng(c: Chooser) -> random.Random:
    """The randomness of a generated text: one draw of the chooser."""
    return random.Random(c.integer(0, 2**32 - 1))


def _line_of(text: str, at: int) -> str:
    return text[text.rfind("\n", 0, at) + 1:at]


def _pairs(text: str, settings: bool = False) -> list[re.Match[str]]:
    return [p for p in _PAIR.finditer(text) if not settings or p.group("key") in SETTINGS]


def _apply(m: Mutated, op: str, c: Chooser, settings: bool = False) -> None:
    text = m.text
    pairs = _targets(op, text, _pairs(text, settings))
    if op in KEY_OPS and not pairs:
        op = "dup_line"
    if not _applies(op, text):
        op = "dup_line"
    m.ops.append(op)
    if op == "grow_condition":
        _grow(m, pairs, c)
    elif op in ("condition", "long_operand"):
        _rewrite_value(m, op, pairs, c)
    elif op in ("where_clause", "pattern"):
        m.settings_only = False
        _insert(m, op, c)
    elif op in ("delete_key", "typo_key", "wrong_type", "random_scalar"):
        _break_key(m, op, pairs, c)
    else:
        m.settings_only = False
        _edit_text(m, op, c)


def _targets(op: str, text: str, pairs: list[re.Match[str]]) -> list[re.Match[str]]:
    """The key/value pairs ``op`` may change."""
    if op == "grow_condition":
        return [p for p in pairs if p.group("key") in CONDITION_KEYS
                or "match_re:" in _line_of(text, p.start())]  # a label's pattern
    if op == "condition":
        return [p for p in pairs if p.group("key") in CONDITION_KEYS]
    if op == "long_operand":
        return [p for p in pairs if re.search(r"[0-9]", p.group("value"))]
    return pairs


def _grow(m: Mutated, pairs: list[re.Match[str]], c: Chooser) -> None:
    """A condition (or a label's pattern) grown to one of the shapes, up to the budget."""
    text = m.text
    p = c.choice(pairs)
    shape, n = c.choice(GROW_SHAPES), c.choice(GROW_COUNTS)
    cond = _unquoted(p.group("value"))
    value = _grown(cond, shape, n, budget=GROW_BUDGET - (len(text) - len(cond)), rng=_rng(c))
    m.settings_only &= p.group("key") in SETTINGS
    m.text = text[:p.start("value")] + value + text[p.end("value"):]
    m.steps.append(f"{p.group('key')}: {shape} x{n}")


def _rewrite_value(m: Mutated, op: str, pairs: list[re.Match[str]], c: Chooser) -> None:
    """A condition generated over the names it reads, or a number made a long operand."""
    text = m.text
    p, rng = c.choice(pairs), _rng(c)
    key, value = p.group("key"), p.group("value")
    m.settings_only &= key in SETTINGS
    if op == "condition":
        cond = _unquoted(value)
        names = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", cond)) - {"true", "false"})
        value = quoted(condition(rng, names, where=key == "where"))
    else:
        number = rng.choice(list(re.finditer(r"-?[0-9]+(?:\.[0-9]+)?", value)))
        longer = long_operand(rng) if key in CONDITION_KEYS else long_number(rng)
        value = value[:number.start()] + longer + value[number.end():]
    m.text = text[:p.start("value")] + value + text[p.end("value"):]
    m.steps.append(f"{key}: {op} {_short(value)}")


def _insert(m: Mutated, op: str, c: Chooser) -> None:
    """A signal with a generated position condition, or a generated label pattern (a route's
    own, or a new route's)."""
    text = m.text
    rng = _rng(c)
    if op == "where_clause":  # a position_count signal with a generated position condition
        where = quoted(condition(rng, [], where=True))
        at = text.index("\n  signals:\n") + len("\n  signals:\n")
        m.text = text[:at] + f"    fuzz_where: {{position_count: {{where: {where}}}}}\n" + text[at:]
        m.steps.append(f"signal with where: {_short(where)}")
        return
    written = quoted(pattern(rng))
    own = [p for p in _pairs(text) if "match_re:" in _line_of(text, p.start())]
    if own and rng.random() < 0.5:
        p = rng.choice(own)
        m.text = text[:p.start("value")] + written + text[p.end("value"):]
        m.steps.append(f"match_re {p.group('key')}: {_short(written)}")
    else:  # a route of its own, first among the root's children
        label = rng.choice(PATTERN_LABELS)
        at = text.index("\n    routes:\n") + len("\n    routes:\n")
        m.text = text[:at] + f"      - match_re: {{{label}: {written}}}\n        receiver: desk-chat\n" + text[at:]
        m.steps.append(f"route with match_re {label}: {_short(written)}")


def _break_key(m: Mutated, op: str, pairs: list[re.Match[str]], c: Chooser) -> None:
    """A key deleted or misspelled, or its value of a wrong type or random text."""
    text = m.text
    p = c.choice(pairs)
    key = p.group("key")
    m.settings_only &= key in SETTINGS
    if op == "delete_key":
        end = p.end()
        m.text = text[:p.start()] + text[end:]
        m.steps.append(f"delete {key}")
    elif op == "typo_key":
        typo = _typo(key, c)
        m.text = text[:p.start("key")] + typo + text[p.end("key"):]
        m.steps.append(f"typo {key} -> {typo}")
    else:
        value = c.choice(WRONG_TYPES) if op == "wrong_type" else _random_text(c)
        if op == "random_scalar" and key in SETTINGS:
            value = value.replace("\n", " ").replace("\u2028", " ")
        m.text = text[:p.start("value")] + value + text[p.end("value"):]
        m.steps.append(f"{key}: {value!r}")


def _edit_text(m: Mutated, op: str, c: Chooser) -> None:
    """The text cut, a punctuation mark inserted, or a line deleted or duplicated."""
    text = m.text
    if op == "truncate" and text:
        at = c.integer(0, len(text) - 1)
        m.text = text[:at]
        m.steps.append(f"truncate at {at}")
    elif op == "punctuation":
        at = c.integer(0, len(text))
        token = c.choice(PUNCTUATION)
        m.text = text[:at] + token + text[at:]
        m.steps.append(f"insert {token!r} at {at}")
    else:
        lines = text.split("\n")
        i = c.integer(0, len(lines) - 1)
        if op == "delete_line":
            m.steps.append(f"delete line {i + 1}")
            del lines[i]
        else:
            m.steps.append(f"duplicate line {i + 1}")
            lines.insert(i, lines[i])
        m.text = "\n".join(lines)


def _unquoted(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]
    return v or "x"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:40]}...{text[-12:]} ({len(text):,} characters)"


def _grown(cond: str, shape: str, n: int, budget: int = GROW_BUDGET, rng: random.Random | None = None) -> str:
    """``cond`` nested or chained ``n`` times (a chain up to ``budget`` characters), single-quoted
    (a plain scalar starting with ``!`` would be a YAML tag, and the parser would never see it)."""
    if shape in ("or chain", "and chain"):
        n = max(1, min(n, budget // (len(cond) + 6)))
    if shape == "parentheses":
        grown = "(" * n + cond + ")" * n
    elif shape == "bangs":
        grown = "!" * n + "(" + cond + ")"
    elif shape == "negated groups":
        grown = "!(" * n + cond + ")" * n
    elif shape == "not words":
        grown = "not " * n + "(" + cond + ")"
    elif shape == "mixed nesting":  # "(", "!", "!(", "(!" at random, n levels
        grown = mixed_nesting(rng or random.Random(n), cond, n)
    elif shape == "or chain":
        grown = " || ".join([cond] * n)
    elif shape == "and chain":
        grown = " && ".join([f"({cond})"] * n)
    else:  # a condition compared with itself, nested: ((c) == (c)) == ((c) == (c)) ...
        grown = cond
        for _ in range(min(n, 64)):
            if len(grown) + len(cond) > budget:
                break
            grown = f"({grown}) == ({grown})" if len(grown) < 2_000 else f"({grown}) == ({cond})"
    return "'" + grown.replace("'", "''") + "'"


def _typo(word: str, c: Chooser) -> str:
    i = c.integer(0, len(word) - 1)
    kind = c.choice(["swap", "drop", "double", "replace", "case"])
    if kind == "swap" and len(word) > 1:
        j = min(i + 1, len(word) - 1)
        i = j - 1
        return word[:i] + word[j] + word[i] + word[j + 1:]
    if kind == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "case":
        return word[:i] + word[i].swapcase() + word[i + 1:]
    return word[:i] + c.choice("aeioustxz") + word[i + 1:]


def _random_text(c: Chooser) -> str:
    return "".join(c.choice(_ALPHABET) for _ in range(c.integer(0, 12)))


# --- one case ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float  # wall time (what bench/fuzz.py reports)
    result: CompileResult | None
    crash: BaseException | None = None
    problems: list[str] = field(default_factory=list)  # broken promises (not findings of the policy)
    cpu_seconds: float = 0.0  # this thread's CPU time: what the case cost, whatever else the machine ran

    @property
    def kind(self) -> str:
        if self.crash is not None:
            return "crash"
        if self.problems:
            return "broken promise"
        assert self.result is not None
        if self.result.errors:
            return "errors"
        return "warnings only" if self.result.diagnostics else "clean"


def run_case(corpus: Corpus, seed: Seed, m: Mutated) -> Outcome:
    """Load and compile the mutated file with its company; check what came out."""
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        mine = load_text(m.text, seed.name)
        merged = LoadResult()
        merged.extend(mine)
        for other in seed.company:
            merged.extend(corpus.loaded(other))
        result = compile_documents(merged)
    except Exception as e:  # noqa: BLE001 - a crash is what this looks for
        return Outcome(time.perf_counter() - t0, None, crash=e, cpu_seconds=time.thread_time() - c0)
    out = Outcome(time.perf_counter() - t0, result, cpu_seconds=time.thread_time() - c0)
    out.problems = check(result, {seed.name: m.text, **{n: corpus.texts[n] for n in seed.company}},
                         seed.test_file if m.settings_only else None, seed.name)
    return out


# --- generated documents through ksctl validate's path -------------------------------------------

GENERATED = ("policy", "mutated policy", "yaml in a policy", "yaml text")


def generated_case(corpus: Corpus, rng: random.Random) -> tuple[str, dict[str, str]]:
    """A case of generated text (tests/policy_generators.py), as files to validate together: a
    policy drawn from the language, the same mutated, or with lines of YAML's pieces inserted
    (with the example routes and accounts, which it names), or a few lines of those pieces alone."""
    from tests.policy_generators import policy, yaml_text

    shape = rng.choice(GENERATED)
    company = {n: corpus.texts[n] for n in ("routes.yaml", "accounts.yaml")}
    if shape == "yaml text":
        return shape, {"fuzz.yaml": yaml_text(rng)}
    text = policy(rng)
    if shape == "mutated policy":
        text = mutate(Seed("fuzz.yaml", text, list(company), None), RandomChooser(rng)).text
    elif shape == "yaml in a policy":
        lines = text.split("\n")
        at = rng.randint(0, len(lines))
        text = "\n".join(lines[:at] + yaml_text(rng).split("\n") + lines[at:])
    return shape, {"fuzz.yaml": text, **company}


def run_validate(files: dict[str, str]) -> Outcome:
    """What ``ksctl validate --strict`` does with ``files``, in memory: load and compile them
    with the runbook templates of runbooks/ checked, the accounts' weight budget, the text and
    the JSON report; then :func:`check` on the findings."""
    from killswitch.cli.budget import weight_findings
    from killswitch.render.diagnostics import validate_json, validate_text
    from killswitch.runbooks.check import TemplateCheck
    from killswitch.sources import Sources, compile_read

    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        result = compile_read(Sources(list(files.items())), TemplateCheck(ROOT / "runbooks"))
        result.diagnostics.extend(weight_findings(result))
        validate_text(result, len(files), True)
        validate_json(result, len(files), True)
    except Exception as e:  # noqa: BLE001 - a crash (ksctl's exit 3) is what this looks for
        return Outcome(time.perf_counter() - t0, None, crash=e, cpu_seconds=time.thread_time() - c0)
    out = Outcome(time.perf_counter() - t0, result, cpu_seconds=time.thread_time() - c0)
    out.problems = check(result, files, None)
    return out


def check(result: CompileResult, texts: dict[str, str], test_file: str | None, mutated: str = "") -> list[str]:
    """What a compile result broke of the promises in the module doc (empty: nothing)."""
    problems = []
    for x in result.diagnostics:
        where = f"{x.code} {x.location()}: {x.message}"
        if x.code not in CODES:
            problems.append(f"unknown code: {where}")
        if not (x.message or "").strip():
            problems.append(f"no message: {where}")
        if not (x.hint or "").strip():
            problems.append(f"no hint: {where}")
        if x.pos is not None:
            lines = texts.get(x.file, "").count("\n") + 2
            if not (1 <= x.pos.line <= lines and x.pos.col >= 1):
                problems.append(f"position outside the file: {where}")
    if test_file is not None:
        notes = [x for x in result.diagnostics if x.file == test_file]
        for x in notes:
            has_errors = x.code == "KS130" and "has errors" in x.message
            unreadable = x.code == "KS130" and f"{mutated} could not be read" in (x.hint or "")
            if not (has_errors or unreadable):
                problems.append(f"cascade into the test file: {x.code} {x.location()}: {x.message}")
        if len(notes) > 1:
            problems.append(f"{len(notes)} notes on the test file, not one")
    return problems
