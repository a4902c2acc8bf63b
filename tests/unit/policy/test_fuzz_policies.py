"""Fuzz: mutated policy files (keys deleted or misspelled, values of the wrong type or random,
conditions nested or chained thousands of times over or generated from the grammar, numbers of
thousands of digits, where: clauses and label patterns added, text truncated, YAML punctuation
inserted, lines deleted or duplicated) give diagnostics only —
each with a code, a message, a hint and a position in its file —, never a cascade into the test
file of a policy whose settings were broken, and no case blows up (quadratic or worse in the
nesting): a guard on the case's own CPU time, ten times what bench/fuzz.py holds every case to
(a second of wall time, on a quiet machine), so that a loaded test machine never fails it.

The mutations and the promises are tests/policy_mutations.py; bench/fuzz.py runs the same over
tens of thousands of seeded cases and prints the figures.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.policy_mutations import Corpus, HypothesisChooser, mutate, run_case

CORPUS = Corpus()
# A blowup guard, not a performance figure: bench/fuzz.py measures and prints the cases' times.
CASE_CPU_LIMIT_S = 10.0


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_mutated_policies_give_only_diagnostics_with_hints_and_no_cascade(data):
    c = HypothesisChooser(data)
    seed = c.choice(CORPUS.seeds)
    m = mutate(seed, c)
    out = run_case(CORPUS, seed, m)
    where = f"{seed.name} after {m.steps}"
    assert out.crash is None, f"{where}: {type(out.crash).__name__}: {out.crash}"
    assert not out.problems, f"{where}:\n  " + "\n  ".join(out.problems)
    assert out.cpu_seconds < CASE_CPU_LIMIT_S, f"{where}: {out.cpu_seconds:.2f} s of CPU"


def test_the_corpus_holds_every_example_file_and_policies_come_with_their_tests():
    names = {s.name for s in CORPUS.seeds}
    assert {"futures-book.yaml", "routes.yaml", "accounts.yaml", "tests/futures-book.test.yaml"} <= names
    fb = next(s for s in CORPUS.seeds if s.name == "futures-book.yaml")
    assert fb.test_file == "tests/futures-book.test.yaml" and fb.test_file in fb.company


def test_the_checks_can_fail():
    """The promises are checked, not assumed: a diagnostic without a hint, and a cascade into the
    test file, are both caught."""
    from killswitch.compile.compiler import CompileResult
    from killswitch.policy import diagnostics as d
    from tests.policy_mutations import check

    bare = d.Diagnostic.make(d.KS101, "p.yaml", d.Position(1, 1), "unknown key")
    cascade = d.Diagnostic.make(d.KS104, "t.yaml", d.Position(3, 5), "no stage at level 1", "levels: 2")
    problems = check(CompileResult(None, [bare, cascade]), {"p.yaml": "a\n", "t.yaml": "a\nb\nc\n"}, "t.yaml")
    assert any(p.startswith("no hint") for p in problems)
    assert any(p.startswith("cascade into the test file") for p in problems)


# Cases bench/fuzz.py found (seed 0), kept as they were found.
FOUND = {
    # kind: [a, b] crashed the loader (TypeError: unhashable type: 'list'), also on main
    "kind-is-a-list": ("tests/portfolio-breaker.test.yaml", [("kind: PolicyTest", "kind: [a, b]")]),
    "kind-is-a-mapping": ("tests/dead-mans-switch.test.yaml", [("kind: PolicyTest", "kind: {}")]),
    # a tag in a setting refused the document, and its test file said "cannot be checked"
    "tag-in-a-setting": ("spot-book.yaml", [("reset: manual", "reset: ![gC")]),
    # a NUL in a setting: ruamel refused the file without a position, same consequence
    "nul-in-a-setting": ("futures-book.yaml", [("max_gross_exposure: 2M", "max_gross_exposure: 2M\x00")]),
    # seed 1, case 6069, once the fuzzer added where: clauses: a ratio compared with a number, no
    # threshold between them (StopIteration in the type check's hint)
    "ratio-against-a-number-field": ("exchange-faults.yaml", [(
        "  signals:\n",
        "  signals:\n    fuzz_where: {position_count: {where: '!(liquidation_distance < notional)'}}\n")]),
    # seed 1, case 6081, once policies/ held volatility-drawdown: a stage series' level of 400
    # digits was a float's infinity, and int() of it an OverflowError in the test file's model
    "stage-level-of-400-digits": ("tests/portfolio-breaker.test.yaml", [(
        'stages: "0 1x2 2x3"', 'stages: "' + "9" * 400 + ' 1x2 2x3"')]),
}


@pytest.mark.parametrize("name,edits", FOUND.values(), ids=FOUND.keys())
def test_cases_the_fuzzer_found(name, edits):
    from tests.policy_mutations import Mutated

    seed = next(s for s in CORPUS.seeds if s.name == name)
    text = seed.text
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    out = run_case(CORPUS, seed, Mutated(text, [str(edits)], ["wrong_type"], settings_only=True))
    assert out.crash is None and out.problems == [] and out.kind == "errors", (out.crash, out.problems)
    if seed.test_file:  # the policy keeps its name: its test says it has errors, not that it cannot be checked
        [note] = [x for x in out.result.diagnostics if x.file == seed.test_file]
        assert "has errors" in note.message, note.message


def _compared(cond: str, levels: int) -> str:
    """A condition compared with itself, level by level, as grow_condition wrote it when it found
    the cases below: (c) == (c), then ((c) == (c)) == ((c) == (c)), ..., past 2,000 characters
    one copy more on each level."""
    grown = cond
    for _ in range(levels):
        grown = f"({grown}) == ({grown})" if len(grown) < 2_000 else f"({grown}) == ({cond})"
    return grown


# Cases bench/fuzz.py found once it grew conditions (seed 0, before the parser had bounds), kept as
# they were found: each was an internal error (RecursionError, or a position condition whose
# canonical text did not parse again). Now each is a finding of the expected codes in the mutated
# file, or none.
GROWN = {
    "case 1056: 1,200 parentheses": (
        "spot-book.yaml", [("when: day <= -8%", "when: '" + "(" * 1_200 + "day <= -8%" + ")" * 1_200 + "'")],
        {"KS123"}),
    "case 3815: 200 parentheses": (
        "futures-book.yaml", [("when: dd_15m >= 4.5% || dd_1h >= 7%",
                               "when: '" + "(" * 200 + "dd_15m >= 4.5% || dd_1h >= 7%" + ")" * 200 + "'")],
        {"KS123"}),
    "case 1748: 1,200 !": (
        "portfolio-breaker.yaml", [("when: vs_capital <= -5%", "when: '" + "!" * 1_200 + "(vs_capital <= -5%)'")],
        {"KS123"}),
    "case 5376: 5,000 !": (
        "futures-book.yaml", [("when: dd_15m >= 10% || dd_1h >= 14%",
                               "when: '" + "!" * 5_000 + "(dd_15m >= 10% || dd_1h >= 14%)'")],
        {"KS123"}),
    "case 4348: 200 !(": (
        "portfolio-breaker.yaml", [("when: vs_capital <= -3%", "when: '" + "!(" * 200 + "vs_capital <= -3%" + ")" * 200
                                    + "'")],
        {"KS123"}),
    "case 2178: 5,000 !(": (
        "spot-book.yaml", [("when: day <= -8%", "when: '" + "!(" * 5_000 + "day <= -8%" + ")" * 5_000 + "'")],
        {"KS123"}),
    "case 2027: 200 not, then 1,200 !": (
        "position-watch.yaml", [
            ("when: losing_longs >= 4 || worst_loss >= 25%",
             "when: '" + "not " * 200 + "(losing_longs >= 4 || worst_loss >= 25%)'"),
            ("when: vol_1h >= 150%", "when: '" + "!" * 1_200 + "(vol_1h >= 150%)'")],
        {"KS120", "KS123"}),  # "not" is not an operator: a syntax error at the first one
    "case 8168: 5,000 !(, and a chain of 8": (
        "futures-book.yaml", [
            ("when: dd_15m >= 4.5% || dd_1h >= 7%",
             "when: '" + "!(" * 5_000 + "dd_15m >= 4.5% || dd_1h >= 7%" + ")" * 5_000 + "'"),
            ("when: dd_15m >= 7% || dd_1h >= 10%",
             "when: '" + " || ".join(["dd_15m >= 7% || dd_1h >= 10%"] * 8) + "'")],
        {"KS123"}),  # the chain of 32 operands compiles
    "case 8826: a position condition compared with itself": (
        "position-watch.yaml", [('where: "loss_on_notional >= 10%"}}',
                                 "where: '" + _compared("loss_on_notional >= 10%", 1) + "'}}")],
        set()),  # (a >= 10%) == (a >= 10%): its canonical text was a chained comparison
    # arithmetic: flat sums and products cost no recursion but operands; a run of unary "-" and
    # nested calls are levels, as "(" and "!" are
    "arithmetic: a sum of 300 terms": (
        "futures-book.yaml", [("when: dd_15m >= 4.5% || dd_1h >= 7%",
                               "when: 'dd_15m >= " + " + ".join(["1%"] * 300) + "'")],
        {"KS123"}),
    "arithmetic: 1,200 unary minus": (
        "futures-book.yaml", [("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: 'dd_15m >= " + "-" * 1_200 + "dd_1h'")],
        {"KS123"}),
    "arithmetic: 200 nested calls": (
        "futures-book.yaml", [("when: dd_15m >= 4.5% || dd_1h >= 7%",
                               "when: 'dd_15m >= " + "max(" * 200 + "dd_1h" + ", 1%)" * 200 + "'")],
        {"KS123"}),
    "arithmetic: an unknown function, a zero divisor, a ratio²": (
        "futures-book.yaml", [("when: dd_15m >= 4.5% || dd_1h >= 7%",
                               "when: 'dd_15m >= maxx(4.5%, dd_1h / 0) || dd_15m >= dd_1h * dd_1h'")],
        {"KS124", "KS125", "KS126"}),
    "case 3360: a position condition compared with itself, 64 levels": (
        "position-watch.yaml", [('close_positions: {where: "loss_on_notional >= 25%"}',
                                 "close_positions: {where: '" + _compared("loss_on_notional >= 25%", 64) + "'}")],
        {"KS123"}),
}


@pytest.mark.parametrize("name,edits,codes", GROWN.values(), ids=GROWN.keys())
def test_grown_conditions_the_fuzzer_found(name, edits, codes):
    from tests.policy_mutations import Mutated

    seed = next(s for s in CORPUS.seeds if s.name == name)
    text = seed.text
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    settings = all(old.lstrip().startswith("when:") for old, _ in edits)
    out = run_case(CORPUS, seed, Mutated(text, [str(edits)], ["grow_condition"], settings_only=settings))
    assert out.crash is None and out.problems == [], (out.crash, out.problems)
    assert {x.code for x in out.result.errors if x.file == name} == codes
    assert out.cpu_seconds < CASE_CPU_LIMIT_S
