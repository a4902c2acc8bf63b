"""Coverage of a policy's rules by its PolicyTests (killswitch/preview/rule_coverage.py): what
the engine did at the tests' ticks marks a trigger fired, a branch seen true and false, a stage
entered, an action sent or refused; the rest is listed with its file:line:col."""

from __future__ import annotations

import textwrap

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.preview.policytest import run_tests
from killswitch.preview.rule_coverage import CoverageReport, RuleCoverage, percent

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: cov}
    spec:
      scope: {level: account}
      interval: 1m
      signals:
        data_age: data_age
        api_errors: {api_error_rate: {window: 1m}}
      triggers:
        stale:
          when: data_age >= 60s || api_errors >= 90%
          on_missing_data: fire
        failing:
          when: api_errors >= 50%
          on_missing_data: ignore
      stages:
        - level: 1
          name: lock
          on: [stale]
          reset_after: 10m
          actions:
            - cancel_orders: entries
            - lock_trading: {mode: reducing}
        - level: 2
          name: flatten
          on: [failing]
          actions:
            - close_side: {side: losing}
      limits:
        max_order_notional: 100k
        symbols:
          BTC/USDT:USDT: {price_collar: 2%}
    """
)

HEAD = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: PolicyTest
    metadata: {name: cov-tests}
    spec:
      policy: cov
      interval: 1m
      tests:
    """
)

STALE = """\
    - name: stale data locks
      input:
        equity: "100000x2 stalex3"
      expect:
        - {at: 1m, stage: 0}
        - {at: 3m, stage: 1, actions: [lock_trading], firing: [stale]}
"""

FAILING = """\
    - name: failing calls enter the flatten, whose close_side is refused
      input:
        equity: "100000x5"
        api_errors: "0x2 0.6x3"
        positions:
          - {symbol: BTC/USDT:USDT, side: long, contracts: 1, mark: "60000+1x5"}
        open_orders:
          - {symbol: BTC/USDT:USDT, side: buy, amount: 0.5, price: 59000}
      expect:
        - {at: 4m, stage: 2, actions: [], firing: [failing]}
"""

CALM = """\
    - name: a calm minute
      input:
        equity: "100000x3"
        positions:
          - {symbol: BTC/USDT:USDT, side: long, contracts: 1, mark: "60000+1x3"}
      expect:
        - at: 2m
"""


def cover(*cases: str, policy: str = POLICY) -> CoverageReport:
    docs = [("cov.yaml", policy)]
    if cases:
        docs.append(("cov.test.yaml", HEAD + "".join(textwrap.indent(c, "  ") for c in cases)))
    result = compile_documents(load_sources(docs))
    assert result.errors == [], [f"{e.pos.line}:{e.pos.col} {e.message}" for e in result.errors]
    rules = RuleCoverage(result)
    report = run_tests(result, rules)
    assert report.failures == [], [f.message for f in report.failures]
    return rules.report()


def table(report: CoverageReport) -> dict[tuple[str, str], tuple[str, bool | None, str]]:
    (p,) = report.policies
    return {(r.kind, r.name): (f"{r.line}:{r.col}", r.covered, r.what) for r in p.rules}


def test_a_trigger_never_fired_is_listed_with_its_line_and_col():
    rules = table(cover(STALE))
    assert rules[("trigger", "stale")] == ("11:5", True, "fired")
    assert rules[("trigger", "failing")] == ("14:5", False, "evaluated, never fired")


def test_a_stage_never_entered_and_its_actions_are_listed():
    rules = table(cover(STALE))
    assert rules[("stage", "1 lock")] == ("18:7", True, "entered")
    assert rules[("stage", "2 flatten")] == ("25:7", False, "never entered")
    assert rules[("action", "close_side (stage 2 flatten)")] == ("29:11", False, "stage never entered")


def test_an_action_of_an_entered_stage_that_sent_nothing_is_uncovered():
    rules = table(cover(STALE))
    assert rules[("action", "lock_trading (stage 1 lock)")] == ("24:11", True, "sent")
    # no open order to cancel: the stage was entered, the cancel never sent
    assert rules[("action", "cancel_orders (stage 1 lock)")] == ("23:11", False, "stage entered, never sent")


def test_an_action_the_planner_refused_is_reached_with_its_reason_code():
    rules = table(cover(STALE, FAILING))
    assert rules[("stage", "2 flatten")][1] is True
    assert rules[("action", "close_side (stage 2 flatten)")] == ("29:11", True, "refused: ATTRIBUTION_UNKNOWN")


def test_branches_are_covered_when_seen_true_and_false():
    rules = table(cover(STALE))
    assert rules[("branch", "stale: data_age >= 60s")] == ("12:13", True, "true and false")
    assert rules[("branch", "stale: api_errors >= 90%")] == ("12:32", False, "never true")


def test_nested_branches_keep_their_text_and_column():
    policy = POLICY.replace("when: data_age >= 60s || api_errors >= 90%",
                            "when: data_age >= 60s || !(api_errors >= 90% && (data_age > 5s || api_errors > 95%))")
    always = STALE.replace("{at: 1m, stage: 0}", "{at: 0m, stage: 1, actions: [lock_trading], firing: [stale]}")
    always = always.replace("- {at: 3m, stage: 1, actions: [lock_trading], firing: [stale]}", "- {at: 3m, stage: 1}")
    rules = table(cover(always, policy=policy))
    branches = {k[1]: v for k, v in rules.items() if k[0] == "branch"}
    assert list(branches) == [
        "stale: data_age >= 60s",
        "stale: !(api_errors >= 90% && (data_age > 5s || api_errors > 95%))",
        "stale: api_errors >= 90%",
        "stale: data_age > 5s || api_errors > 95%",
        "stale: data_age > 5s",
        "stale: api_errors > 95%",
    ]
    assert branches["stale: api_errors >= 90%"] == ("12:34", False, "never true")
    assert branches["stale: data_age > 5s"][0] == "12:56"


def test_limits_are_listed_as_not_testable_and_in_no_total():
    report = cover(STALE)
    rules = table(report)
    assert rules[("limit", "max_order_notional")][:2] == ("31:5", None)
    assert rules[("limit", "symbols.BTC/USDT:USDT.price_collar")][:2] == ("33:23", None)
    assert "not testable by PolicyTest" in rules[("limit", "max_order_notional")][2]
    # 2 triggers, 2 branches, 2 stages, 3 actions; the limits are in no total
    assert (report.covered, report.total) == (4, 9)


def test_an_override_of_the_limits_is_listed_apart_from_the_limits_and_their_settings_are_none():
    """Issue 81: coverage listed ``limit override`` (and would list ``limit mark_max_age``'s
    siblings ``during`` / ``outside``) as if it were a limit."""
    from killswitch.render.rule_coverage import coverage_markdown, coverage_text

    policy = POLICY.replace("    max_order_notional: 100k\n", "    max_order_notional: 100k\n    mark_max_age: 20s\n"
                            "    override: {max_duration: 30m, approvals: 2}\n")
    assert "override:" in policy
    report = cover(STALE, policy=policy)
    rules = table(report)
    assert [name for kind, name in rules if kind == "limit"] == [
        "max_order_notional", "symbols.BTC/USDT:USDT.price_collar"], rules
    assert rules[("override", "spec.limits.override")] == (
        "33:5", None, "not testable by PolicyTest: people ask for an override of the limits and approve it "
        "(ksctl override), not a tick"), rules
    assert (report.covered, report.total) == (4, 9)  # in no total either
    text = coverage_text(report, None)
    assert "  cov.yaml:33:5: override spec.limits.override: not testable by PolicyTest: people ask" in "\n".join(
        text), text
    assert not [line for line in text if " limit override" in line or " limit mark_max_age" in line], text
    md = coverage_markdown(report, None)
    gate = md.index("Not testable by PolicyTest (the pre-trade gate answers them):")
    apart = md.index("Overrides of the limits, not testable by PolicyTest (people ask for and approve them):")
    assert gate < apart and "- `cov.yaml:33:5` `spec.limits.override` of cov" in md[apart:], md
    assert not any("override" in line for line in md[gate:apart]), md


def test_a_test_that_passes_reaching_no_rule_is_zero_percent():
    report = cover(CALM)
    (p,) = report.policies
    assert p.tested and (p.covered, p.total, p.percent) == (0, 9, 0.0)
    assert table(report)[("branch", "stale: data_age >= 60s")][2] == "never true"


def test_a_policy_without_tests_is_zero_percent_and_says_so():
    report = cover()
    (p,) = report.policies
    assert not p.tested and (p.covered, p.total, p.percent) == (0, 9, 0.0)
    assert {r.what for r in p.uncovered} == {"no PolicyTest runs against this policy"}


def test_everything_reached_is_every_testable_rule():
    both = cover(STALE, FAILING)
    assert (both.covered, both.total) == (7, 9)
    assert [r.name for r in both.policies[0].uncovered] == ["stale: api_errors >= 90%",
                                                            "cancel_orders (stage 1 lock)"]


def test_percent_is_rounded_down():
    assert percent(2, 3) == 66.6 and percent(1999, 2000) == 99.9 and percent(0, 0) == 0.0
