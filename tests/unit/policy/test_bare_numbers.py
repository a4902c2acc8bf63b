"""Bare numbers where a percentage belongs: the rule the units and Conditions sections of
docs/policy-language.md state, tested on both sides.

- In a condition, a ratio's threshold carries ``%``. ``dd >= 0.045`` is refused (KS121): a bare
  number there could mean 4.5% or 0.045%, and the wrong reading either disarms the trigger or
  fires it at once. The hint gives both readings. Numbers stay bare for plain-number signals.
- In a setting (min_coverage, fraction, start, max_slippage, ...), a bare number from 0 to 1 is
  read as a fraction (0.8 = 80%); above 1 it is refused (KS111) as ambiguous.
"""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text

POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: p}
    spec:
      signals:
        dd: {equity_drawdown: {window: 15m, min_coverage: COVERAGE}}
        lev: leverage
      triggers:
        t: {when: "WHEN", on_missing_data: hold}
      stages:
        - {level: 1, name: cut, on: [t], actions: [{reduce_top_risk: {count: 1, fraction: FRACTION}}]}
    """)


def compile_policy(when: str = "dd >= 4.5% || lev >= 3", coverage: str = "80%", fraction: str = "50%"):
    text = POLICY.replace("WHEN", when).replace("COVERAGE", coverage).replace("FRACTION", fraction)
    return compile_documents(load_text(text, "p.yaml"))


def test_the_base_policy_compiles():
    result = compile_policy()
    assert [x for x in result.diagnostics if x.is_error] == []


@pytest.mark.parametrize("when,col", [("dd >= 0.045", 22), ("0.045 <= dd", 16)],
                         ids=["threshold-right", "threshold-left"])
def test_a_bare_fraction_compared_with_a_ratio_is_refused_with_both_readings(when, col):
    result = compile_policy(when)
    [x] = result.errors
    assert (x.code, x.pos.line, x.pos.col) == ("KS121", 9, col)
    assert x.hint == "dd is a ratio: write its threshold as a percentage; 0.045 read as a fraction is 4.5%, " \
                     "read as a percentage 0.045%"
    assert result.graph is None


def test_a_bare_number_above_one_compared_with_a_ratio_is_refused():
    [x] = compile_policy("dd >= 4.5").errors
    assert x.code == "KS121" and x.hint == "dd is a ratio: write its threshold as a percentage, e.g. 4.5%"


@pytest.mark.parametrize("when,fraction", [("dd >= 4.5%", 0.045), ("4.5% <= dd", 0.045), ("dd >= 0.045%", 0.00045)])
def test_a_percentage_threshold_is_read_as_written(when, fraction):
    result = compile_policy(when)
    assert result.errors == [] and result.graph is not None
    [th] = [x.value for x in _literals(result.graph.policy("p").trigger("t").ast)]
    assert th == pytest.approx(fraction)


def test_a_plain_number_signal_takes_a_bare_number_and_refuses_a_percentage():
    assert compile_policy("lev >= 3").errors == []
    [x] = compile_policy("lev >= 3%").errors
    assert x.code == "KS121"


@pytest.mark.parametrize("written,fraction", [("0.8", 0.8), ("1", 1.0), ("0", 0.0), ("80%", 0.8)])
def test_a_setting_reads_a_bare_number_from_0_to_1_as_a_fraction(written, fraction):
    result = compile_policy(coverage=written)
    assert result.errors == []
    assert result.graph.policy("p").signal("dd").params.min_coverage == pytest.approx(fraction)


@pytest.mark.parametrize("written", ["80", "1.5", "-0.2"])
def test_a_setting_refuses_a_bare_number_outside_0_to_1(written):
    [x] = compile_policy(coverage=written).errors
    assert x.code == "KS111" and x.message.endswith(f"{written} is ambiguous")
    assert x.hint == f"write {written}% for a percentage (a bare number is read as a fraction only between 0 and 1)"


def test_a_bare_fraction_of_a_position_is_read_as_a_fraction():
    result = compile_policy(fraction="0.5")
    assert result.errors == []
    [action] = result.graph.policy("p").stage(1).actions
    assert action.params.fraction == 0.5


def _literals(node):
    from killswitch.policy import expr as ex

    if isinstance(node, ex.Literal):
        yield node
    for child in (getattr(node, "left", None), getattr(node, "right", None), getattr(node, "item", None),
                  *getattr(node, "items", ())):
        if child is not None:
            yield from _literals(child)
