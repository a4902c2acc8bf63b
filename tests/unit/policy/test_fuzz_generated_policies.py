"""Fuzz: generated policy texts through ``ksctl validate``'s path (read, load, compile with the
runbook templates checked, the accounts' weight budget, the text and JSON reports) give
diagnostics only, each with a code, a message, a hint and a position in its file: the command
answers findings (exit 1) or none, never an internal error (exit 3).

The texts (tests/policy_generators.py, tests/policy_mutations.py): policies drawn from the
language's registry with settings at their edges, the same mutated, with lines of YAML's pieces
inserted, and those lines alone; and every number-typed setting of every kind at each edge.
Seeded, so a case is the same text on every machine; a few hundred cases here, and
``bench/fuzz.py --generated`` runs thousands.
"""

from __future__ import annotations

import random

import pytest

from tests.policy_generators import edge_policies
from tests.policy_mutations import Corpus, generated_case, run_validate

CORPUS = Corpus()
CASES = 160  # about three seconds; bench/fuzz.py runs 2 seeds x 3,000 of the same draws
CASE_CPU_LIMIT_S = 10.0  # a blowup guard, as tests/unit/policy/test_fuzz_policies.py's


def _assert_only_diagnostics(what: str, files: dict[str, str]) -> None:
    out = run_validate(files)
    assert out.crash is None, f"{what}: {type(out.crash).__name__}: {out.crash}\n{files['fuzz.yaml'][:400]}"
    assert not out.problems, f"{what}:\n  " + "\n  ".join(out.problems)
    assert out.cpu_seconds < CASE_CPU_LIMIT_S, f"{what}: {out.cpu_seconds:.2f} s of CPU"


@pytest.mark.parametrize("block", range(4))
def test_generated_policies_give_only_diagnostics(block):
    for n in range(block * CASES // 4, (block + 1) * CASES // 4):
        shape, files = generated_case(CORPUS, random.Random(f"generated:0:{n}"))
        _assert_only_diagnostics(f"case {n} (seed 0, {shape})", files)


def test_every_setting_of_every_kind_at_its_edges_gives_only_diagnostics():
    company = {n: CORPUS.texts[n] for n in ("routes.yaml", "accounts.yaml")}
    cases = edge_policies()
    assert len(cases) > 90  # every kind's durations, ratios, amounts and counts
    for what, text in cases:
        _assert_only_diagnostics(what, {"fuzz.yaml": text, **company})


VOLATILITY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: vol, owner: risk-desk}
spec:
  scope: {level: account}
  signals:
    vol_1h: {realized_volatility: {window: 1h, sample: 0s, annualize: true}}
  triggers:
    wild: {when: vol_1h >= 150%, on_missing_data: hold}
  stages:
    - {level: 1, name: cut, on: [wild], actions: [close_all]}
"""

# Cases the generated fuzz found (2 seeds x 3,000, and the edges), each an internal error before.
FOUND = {
    # ZeroDivisionError: an annualized volatility scaled by the periods of a year of 0s samples
    "annualized volatility over 0s samples": (VOLATILITY, (7, 56)),  # at "0s"
    # AssertionError in ruamel's comment handling: a comment, then a block scalar whose header has one
    "a comment after a block scalar's header": ("# a\n> #\n", (2, 1)),
    # NotImplementedError ("overlap in comment") in ruamel's comment handling, at a NEL line break
    "a comment before a NEL": ("spec: #\n  ---spec:!t \x85\n", (1, 7)),
}


@pytest.mark.parametrize("text,at", FOUND.values(), ids=FOUND.keys())
def test_cases_the_generated_fuzz_found(text, at):
    out = run_validate({"fuzz.yaml": text})
    assert out.crash is None and out.problems == [], (out.crash, out.problems)
    first = out.result.errors[0]
    assert first.code in ("KS002", "KS103") and (first.pos.line, first.pos.col) == at, first
