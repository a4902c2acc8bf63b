"""Label patterns (killswitch/policy/patterns.py): RE2, anchored as Alertmanager anchors, refused
with what RE2 said and where; and every pattern a person writes goes through them."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.policy.patterns import (
    MAX_PATTERN_LENGTH,
    LabelPattern,
    PatternError,
    compile_label_pattern,
    pattern_problem,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("pattern, label, hit", [
    ("foo", "foo", True),
    ("foo", "foo\n", False),  # $ is the end of the text (Python's $ also matched before a final newline)
    ("foo", "xfoo", False),
    ("foo", "foox", False),
    ("a|ab", "ab", True),  # the whole label, whichever alternative comes first
    ("(?i)crit.*", "CRITICAL", True),  # a leading flag: refused by Python's re once wrapped in ^(?:...)$
    ("(?i)crit.*", "warning", False),
    ("(?m)foo$", "foo\nbar", False),  # a flag inside cannot loosen the anchors
    ("(?s)a.b", "a\nb", True),
    (r"\d+", "2026", True),
    ("[[:alpha:]]+", "binance", True),
    (r"\pL+", "bücher", True),
    ("binance.*|okx", "okx", True),
    ("a{0999}", "a{0999}", True),  # a leading zero is no count: literal text, to RE2 and Go alike
    ("", "", True),
    ("", "x", False),
])
def test_a_pattern_matches_the_whole_label_as_alertmanager_does(pattern, label, hit):
    assert compile_label_pattern(pattern).matches(label) is hit


@pytest.mark.parametrize("pattern, said, offset", [
    ("a{99999999999}", "the repeat {99999999999} is over 1000", 1),  # RE2 would read it as text; Go refuses
    ("a{1001}", "the repeat {1001} is over 1000", 1),
    ("x{2,1001}", "the repeat {2,1001} is over 1000", 1),
    ("(a{1000}){1000}", "invalid repetition size", 9),  # RE2 counts the product: at the outer repeat
    ("(?=a)b", "invalid perl operator: (?=", 0),
    ("x(?<!a)b", "invalid perl operator: (?<", 1),
    (r"(a)\1", r"invalid escape sequence: \1", 3),
    ("[a-z", "missing ]", 0),
    ("a)|(b", "unexpected )", 1),  # would reach out of ^(?:...)$
    ("(a(b)", "missing )", 0),
    ("a**", "bad repetition operator: **", 1),
    ("*a", "no argument for repetition operator: *", 0),
    (r"\pL{100}", "compiles to more than 1 MiB", None),
    ("\ud800", "not text (a lone surrogate)", 0),
    ("x" * (MAX_PATTERN_LENGTH + 1), "4,097 characters long, over the limit of 4,096", MAX_PATTERN_LENGTH),
])
def test_what_re2_refuses_is_a_problem_saying_what_and_where(pattern, said, offset):
    problem = pattern_problem(pattern)
    assert problem is not None and said in problem.message, problem
    assert problem.offset == offset and problem.hint
    with pytest.raises(PatternError) as e:
        compile_label_pattern(pattern)
    assert e.value.problem == problem


@pytest.mark.parametrize("pattern", [r"\{99999}", "[{99999}]", r"\Qa{99999}\E", "[]{99999}]", "[[:alpha:]{99999}]"])
def test_a_count_that_re2_reads_as_text_is_no_repeat(pattern):
    assert pattern_problem(pattern) is None


def test_refusals_write_nothing_to_stderr(capfd):
    for pattern in ("(?=a)", "a{1001}", "[", r"\pL{100}"):
        assert pattern_problem(pattern + "#stderr") is not None
    assert capfd.readouterr().err == ""  # RE2 logs each refusal unless told not to


def test_a_label_that_is_not_text_is_matched_not_raised():
    assert compile_label_pattern(".*").matches("a\ud800b") is True
    assert compile_label_pattern("ab").matches("a\ud800b") is False


def test_a_compiled_pattern_is_kept_and_compares_by_its_text():
    a = compile_label_pattern("binance.*")
    assert compile_label_pattern("binance.*") is a
    assert a == LabelPattern("binance.*", None) and str(a) == "binance.*"


@pytest.mark.parametrize("dots", [8, 20, 40])
def test_a_pattern_that_backtracks_exponentially_in_python_is_linear_here(dots):
    """(.*.*.*.*.*.*.*.*)*zz held Python's re 44 s on a short label, three times longer for each
    .* more; RE2 has no backtracking (a guard on CPU time, not a figure)."""
    pattern = compile_label_pattern("(" + ".*" * dots + ")*zz")
    t0 = time.thread_time()
    assert not pattern.matches("x" * 10_000) and pattern.matches("x" * 10_000 + "zz")
    assert time.thread_time() - t0 < 1.0


# RE2 syntax, its pieces and its usual mistakes, drawn together
PIECES = ["a", "b", ".", ".*", ".+", "?", "*", "+", "|", "(", ")", "(?:", "(?i)", "(?i", "(?=", "(?P<n>", "[", "]",
          "[^", "[:alpha:]", "-", "^", "$", "{", "}", "{2}", "{2,}", "{1,3}", "{1001}", "{99999999999}", ",", "\\",
          "\\d", "\\1", "\\Q", "\\E", "\\pL", "\\b", "é", "\x00", "\n", " "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.text(max_size=50))
def test_any_text_is_a_pattern_or_a_problem_and_matches_without_raising(pieces, label):
    text = "".join(pieces)
    problem = pattern_problem(text)
    if problem is not None:
        assert problem.message and problem.hint
        assert problem.offset is None or 0 <= problem.offset <= len(text)
        return
    assert compile_label_pattern(text).matches(label) in (True, False)


# --- every user-supplied pattern goes through them ------------------------------------------------------

RE_CALLS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}
# modules whose re calls build their pattern from fixed text of their own, no person's input
FIXED_PATTERNS = {
    "killswitch/logs.py": "the secret keys' names",
    "killswitch/notify/causes.py": "a table of delivery errors' words",
    "killswitch/process/pod_label.py": "a Kubernetes label key's grammar",
    "adapters/ccxt_exchange/dialects/base.py": "a venue's client id alphabet",
    "adapters/ccxt_exchange/errors.py": "the secret words and headers of the dialects",
    "adapters/ccxt_exchange/dialects/refusals.py": "the venues' refusal tables (their documented messages)",
}


def _handed_patterns(source: str, rel: str) -> list[str]:
    """The calls of re in ``source`` whose pattern is not a literal."""
    found = []
    for node in ast.walk(ast.parse(source, rel)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.func.attr in RE_CALLS):
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            found.append(f"{rel}:{node.lineno}: re.{node.func.attr}({ast.unparse(first) if first else ''})")
    return found


@pytest.mark.slow
def test_no_module_compiles_a_pattern_it_was_handed_with_pythons_re():
    """A pattern from a policy, a route, a silence, an option or a request is RE2's, through
    killswitch.policy.patterns: a call of re with anything but a literal pattern is named here,
    unless its module builds the pattern from fixed text (FIXED_PATTERNS, which says what)."""
    found = []
    for path in sorted((ROOT / "killswitch").rglob("*.py")) + sorted((ROOT / "adapters").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel not in FIXED_PATTERNS:
            found += _handed_patterns(path.read_text(), rel)
    assert not found, "a pattern that may come from a person, compiled by Python's re:\n" + "\n".join(found)


def test_the_check_names_a_pattern_handed_in_and_passes_a_literal():
    source = "import re\ndef f(user):\n    re.match(r'[a-z]+', user)\n    return re.fullmatch(f'^(?:{user})$', 'x')\n"
    assert _handed_patterns(source, "m.py") == ["m.py:4: re.fullmatch(f'^(?:{user})$')"]
