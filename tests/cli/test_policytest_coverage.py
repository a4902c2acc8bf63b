"""``ksctl test --coverage``: the rules no test reached, per policy, with --threshold, -o json,
-o markdown and --changed; the repository's own policies."""

from __future__ import annotations

import json
import re
import textwrap

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.conftest import POLICIES
from tests.unit.preview.test_rule_coverage import FAILING, HEAD, POLICY, STALE


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def repo(tmp_path, *cases: str):
    (tmp_path / "cov.yaml").write_text(POLICY)
    (tmp_path / "cov.test.yaml").write_text(HEAD + "".join(textwrap.indent(c, "  ") for c in cases))
    return tmp_path


def test_text_lists_the_uncovered_rules_with_file_line_col_and_a_total(tmp_path):
    d = repo(tmp_path, STALE)
    r = run("test", d, "--coverage")
    assert r.exit_code == 0, r.output
    f = d / "cov.yaml"
    assert f"coverage: cov ({f}:1:1): 4/9 rules, 44.4%" in r.output
    assert f"  {f}:14:5: trigger failing: evaluated, never fired" in r.output
    assert f"  {f}:25:7: stage 2 flatten: never entered" in r.output
    assert f"  {f}:23:11: action cancel_orders (stage 1 lock): stage entered, never sent" in r.output
    assert f"  {f}:31:5: limit max_order_notional: not testable by PolicyTest" in r.output
    assert r.output.rstrip().endswith("coverage: total 4/9 rules, 44.4%")


def test_without_coverage_the_output_is_the_tests_alone(tmp_path):
    d = repo(tmp_path, STALE)
    r = run("test", d)
    assert r.exit_code == 0 and "coverage" not in r.output
    assert r.output == "1 test file(s) of 2 file(s) read, 1 test(s), 2 check(s): 2 passed, 0 failed\n"
    assert "coverage" not in json.loads(run("test", d, "-o", "json").output)


def test_threshold_met_exits_0_and_below_exits_1_saying_so(tmp_path):
    d = repo(tmp_path, STALE, FAILING)  # 7/9: 77.7 %
    ok = run("test", d, "--coverage", "--threshold", "77.7")
    assert ok.exit_code == 0, ok.output
    assert "coverage: total 7/9 rules, 77.7% (threshold 77.7%: met)" in ok.output
    low = run("test", d, "--coverage", "--threshold", "80")
    assert low.exit_code == 1
    assert "ksctl test: rule coverage 77.7% (7/9 rules) is below the threshold 80%" in low.output


def test_threshold_and_changed_need_coverage_and_a_threshold_past_100_is_refused(tmp_path):
    d = repo(tmp_path, STALE)
    assert run("test", d, "--threshold", "50").exit_code == 2
    assert "--threshold needs --coverage" in run("test", d, "--threshold", "50").output
    assert run("test", d, "--changed", d / "cov.yaml").exit_code == 2
    assert run("test", d, "--coverage", "--threshold", "101").exit_code == 2


def test_failing_tests_fail_the_run_whatever_the_coverage(tmp_path):
    d = repo(tmp_path, STALE.replace("{at: 1m, stage: 0}", "{at: 1m, stage: 1}"))
    r = run("test", d, "--coverage", "--threshold", "0")
    assert r.exit_code == 1 and "FAIL stale data locks" in r.output


def test_json_shape(tmp_path):
    d = repo(tmp_path, STALE)
    r = run("test", d, "--coverage", "--threshold", "50", "-o", "json")
    assert r.exit_code == 1 and "below the threshold 50%" in r.stderr
    doc = json.loads(r.stdout)
    cov = doc["coverage"]
    assert doc["ok"] is True and doc["passed"] == 2
    assert {k: cov[k] for k in ("format_version", "covered", "total", "percent", "threshold", "below_threshold")} \
        == {"format_version": 1, "covered": 4, "total": 9, "percent": 44.4, "threshold": 50.0,
            "below_threshold": True}
    (p,) = cov["policies"]
    assert (p["name"], p["tested"], p["covered"], p["total"], p["percent"]) == ("cov", True, 4, 9, 44.4)
    assert p["rules"][0] == {"kind": "trigger", "name": "stale", "file": str(d / "cov.yaml"), "line": 11, "col": 5,
                             "covered": True, "what": "fired"}
    assert {r["kind"] for r in p["rules"]} == {"trigger", "branch", "stage", "action", "limit"}
    assert [r["covered"] for r in p["rules"] if r["kind"] == "limit"] == [None, None]


def test_markdown_shape(tmp_path):
    d = repo(tmp_path, STALE)
    r = run("test", d, "--coverage", "--threshold", "50", "-o", "markdown")
    assert r.exit_code == 1
    out = r.output
    assert out.startswith("**Policy tests: passed**: 1 test file(s) of 2 file(s) read")
    assert "**Rule coverage: 44.4%** (4/9 rules), threshold 50%: **below**" in out
    assert "| policy | covered | rules | % |\n|---|---:|---:|---:|\n| cov | 4 | 9 | 44.4% |" in out
    assert f"- `{d / 'cov.yaml'}:14:5` trigger `failing`: evaluated, never fired" in out
    assert "Uncovered rules:" in out and "Not testable by PolicyTest" in out


def test_markdown_of_failures_keeps_them_verbatim(tmp_path):
    d = repo(tmp_path, STALE.replace("{at: 1m, stage: 0}", "{at: 1m, stage: 1}"))
    out = run("test", d, "-o", "markdown").output
    assert out.startswith("**Policy tests: failed**")
    assert re.search(r"~~~~text\n.*cov.test.yaml:\d+:\d+: FAIL stale data locks: at 1m: stage: expected 1, got 0",
                     out)


def test_changed_lists_only_the_changed_policies(tmp_path):
    (tmp_path / "other.yaml").write_text(POLICY.replace("name: cov", "name: other"))
    d = repo(tmp_path, STALE)
    both = json.loads(run("test", d, "--coverage", "-o", "json").output)["coverage"]
    assert [p["name"] for p in both["policies"]] == ["cov", "other"]
    assert both["policies"][1]["tested"] is False and both["policies"][1]["percent"] == 0.0
    # the test file names its policy; the total stays over both policies
    one = json.loads(run("test", d, "--coverage", "-o", "json", "--changed", d / "cov.test.yaml").output)["coverage"]
    assert [p["name"] for p in one["policies"]] == ["cov"] and one["total"] == both["total"] == 18
    md = run("test", d, "--coverage", "-o", "markdown", "--changed", d / "other.yaml").output
    assert "| other (no test) | 0 | 9 | 0.0% |" in md and "| cov |" not in md
    assert "Uncovered rules of the changed policies:" in md
    assert "no PolicyTest runs against this policy" in md
    gone = run("test", d, "--coverage", "-o", "markdown", "--changed", d / "deleted.yaml").output
    assert "No policy of the changed files." in gone


def test_the_repositorys_policies():
    r = run("test", POLICIES, "--coverage", "-o", "json")
    assert r.exit_code == 0, r.output
    cov = json.loads(r.output)["coverage"]
    by = {p["name"]: p for p in cov["policies"]}
    assert all(p["tested"] for p in by.values()) and len(by) == 8
    uncovered = sorted((p["name"], u["kind"], u["name"], u["what"]) for p in by.values()
                       for u in p["rules"] if u["covered"] is False)
    # what the example tests do not reach: two stages' cancels meet no open entry order
    assert uncovered == [
        ("position-watch", "action", "cancel_orders (stage 2 calm-down)", "stage entered, never sent"),
        ("volatility-drawdown", "action", "cancel_orders (stage 2 flatten)", "stage entered, never sent"),
    ]
    assert (cov["covered"], cov["total"]) == (81, 83)


def test_github_output_ends_with_the_coverage_lines_and_sarif_has_no_room_for_them(tmp_path):
    d = repo(tmp_path, STALE)
    r = run("test", d, "--coverage", "-o", "github")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("1 test file(s) of 2 file(s) read")
    assert f"  {d / 'cov.yaml'}:14:5: trigger failing: evaluated, never fired" in lines
    assert lines[-1] == "coverage: total 4/9 rules, 44.4%"
    sarif = run("test", d, "--coverage", "-o", "sarif")
    assert sarif.exit_code == 2 and "--coverage prints with -o text, json, markdown or github" in sarif.output
