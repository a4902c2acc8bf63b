"""``ksctl validate`` and ``ksctl test`` with ``-o github`` (workflow commands: annotations on a
pull request's lines) and ``-o sarif`` (SARIF 2.1.0, checked against the OASIS schema kept in
tests/fixtures/sarif/)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from jsonschema import Draft4Validator

from killswitch.cli.main import cli
from killswitch.policy.diagnostics import CODES
from killswitch.render.findings import Finding
from killswitch.render.findings.github import escape_data, escape_property, workflow_command
from tests.conftest import POLICIES, ROOT

BAD = ROOT / "tests" / "fixtures" / "bad"
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
COMMAND = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")
# RFC 3986's relative-ref whose path has no scheme: unreserved, sub-delims, ":" "@" "/" and
# percent-encoded octets; no ":" in the first segment (it would read as a scheme)
URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*$")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def commands(output: str) -> list[tuple[str, dict[str, str], str]]:
    """Each workflow command of ``output``: its name, properties (unescaped) and message."""
    out = []
    for line in output.splitlines():
        m = COMMAND.match(line)
        if m:
            props = dict(p.split("=", 1) for p in m.group(2).split(","))
            out.append((m.group(1), {k: _unescape(v) for k, v in props.items()}, _unescape(m.group(3))))
    return out


def _unescape(text: str) -> str:
    return (text.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def sarif_valid(log: dict) -> dict:
    errors = sorted(Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for result in log["runs"][0]["results"]:
        for loc in result["locations"]:
            uri = loc["physicalLocation"]["artifactLocation"]["uri"]
            if not uri.startswith("file:///"):
                assert URI_CHARS.match(uri) and ":" not in uri.split("/")[0], f"not a relative URI: {uri!r}"
    return log


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# --- escaping, as GitHub's toolkit escapes -------------------------------------------------------


def test_data_and_properties_are_escaped_as_githubs_toolkit_does():
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    assert escape_data("%0A") == "%250A", "a literal %0A stays text, not a new line"


def test_a_command_escapes_every_property_and_its_message():
    f = Finding("dir, one/a:b.yaml", 3, 7, "warning", "KS205", "FAIL a, b: c", "line one\nline 2: 50%")
    line = workflow_command(f, "/nowhere")
    assert line == ("::warning file=dir%2C one/a%3Ab.yaml,line=3,col=7,title=FAIL a%2C b%3A c::"
                    "line one%0Aline 2: 50%25")
    assert "\n" not in line
    [(kind, props, message)] = commands(line)
    assert (kind, props["file"], props["title"], message) == ("warning", f.file, f.title, f.message)


# --- ksctl validate -o github --------------------------------------------------------------------


def test_validate_github_puts_each_finding_on_its_line_and_ends_with_the_verdict():
    r = run("validate", "-o", "github", str(BAD.relative_to(ROOT) / "017-unknown-signal-kind.bad.yaml"))
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert lines[0].startswith("::error file=tests/fixtures/bad/017-unknown-signal-kind.bad.yaml,line=10,col=14,"
                               "title=KS101::unknown signal kind \"equity_drawdwn\"")
    assert "%0Ahint: did you mean \"equity_drawdown\"?" in lines[0]
    assert lines[-1] == "FAILED: 1 error, 0 warnings in 1 file (1 Policy)"
    assert not lines[-1].startswith("::"), "the verdict is a plain line, no command"


def test_validate_github_names_files_relative_to_the_workspace_when_given_absolute():
    r = run("validate", "-o", "github", str(BAD / "017-unknown-signal-kind.bad.yaml"))
    [(_, props, _)] = commands(r.output)
    assert props["file"] == "tests/fixtures/bad/017-unknown-signal-kind.bad.yaml"


@pytest.mark.parametrize("strict, exits", [(False, 0), (True, 1)])
def test_validate_github_keeps_warnings_warnings_and_strict_fails_the_exit(strict, exits):
    args = ["validate", "-o", "github", "tests/fixtures/bad/066-unused-trigger.bad.yaml"] + (["--strict"] * strict)
    r = run(*args)
    assert r.exit_code == exits, r.output
    found = commands(r.output)
    assert {k for k, _, _ in found} == {"warning"}
    assert ("warning", "15", "5", "KS205") in {(k, p["line"], p["col"], p["title"]) for k, p, _ in found}
    verdict = [x for x in r.output.splitlines() if not x.startswith("::")]
    assert verdict[0].startswith("FAILED: 0 errors, 2 warnings" if strict else "ok: 1 file"), verdict
    assert len(verdict) == 1 if strict else verdict[1].startswith("graph sha256:")


def test_validate_github_gives_a_finding_without_a_position_its_file_alone():
    r = run("validate", "-o", "github", "tests/fixtures/bad/010-empty-file.bad.yaml")
    assert r.exit_code == 1
    assert r.output.splitlines()[0].startswith(
        "::error file=tests/fixtures/bad/010-empty-file.bad.yaml,title=KS007::")


def test_validate_github_of_good_policies_prints_the_verdict_alone():
    r = run("validate", "-o", "github", "--strict", "policies/")
    assert r.exit_code == 0, r.output
    assert commands(r.output) == [] and r.output.startswith("ok: 18 files")


# --- ksctl validate -o sarif ---------------------------------------------------------------------


def test_validate_sarif_is_valid_sarif_with_every_code_as_a_rule():
    r = run("validate", "-o", "sarif", "tests/fixtures/bad/017-unknown-signal-kind.bad.yaml",
            "tests/fixtures/bad/066-unused-trigger.bad.yaml", "tests/fixtures/bad/010-empty-file.bad.yaml")
    assert r.exit_code == 1
    log = sarif_valid(json.loads(r.stdout))
    [run_] = log["runs"]
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["informationUri"]) == ("ksctl", "https://github.com/trading-platform/killswitch")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", driver["version"])
    rules = {x["id"]: x for x in driver["rules"]}
    assert set(rules) == set(CODES)
    assert rules["KS205"]["shortDescription"]["text"] == "unused trigger"
    assert rules["KS205"]["defaultConfiguration"]["level"] == "warning"
    by_rule = {x["ruleId"]: x for x in run_["results"]}
    ks101 = by_rule["KS101"]
    assert driver["rules"][ks101["ruleIndex"]]["id"] == "KS101"
    assert ks101["level"] == "error" and ks101["message"]["text"].startswith('unknown signal kind "equity_drawdwn"')
    assert ks101["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "tests/fixtures/bad/017-unknown-signal-kind.bad.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 10, "startColumn": 14}}
    assert by_rule["KS205"]["level"] == "warning"
    assert "region" not in by_rule["KS007"]["locations"][0]["physicalLocation"]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"


def test_sarif_of_a_path_with_spaces_and_non_ascii_is_percent_encoded(tmp_path, monkeypatch):
    folder = tmp_path / "risk policies" / "Bücher"
    folder.mkdir(parents=True)
    shutil.copy(BAD / "017-unknown-signal-kind.bad.yaml", folder / "futures book é.yaml")
    monkeypatch.chdir(tmp_path)
    r = run("validate", "-o", "sarif", "risk policies")
    log = sarif_valid(json.loads(r.stdout))
    [result] = log["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "risk%20policies/B%C3%BCcher/futures%20book%20%C3%A9.yaml"
    assert unquote(uri) == "risk policies/Bücher/futures book é.yaml"
    # the same in a workflow command: the file as the checkout names it, unencoded
    r = run("validate", "-o", "github", "risk policies")
    [(_, props, _)] = commands(r.output)
    assert props["file"] == "risk policies/Bücher/futures book é.yaml"


def test_sarif_root_makes_uris_relative_to_it_and_a_file_outside_it_absolute(tmp_path):
    inside = tmp_path / "repo" / "policies"
    inside.mkdir(parents=True)
    shutil.copy(BAD / "017-unknown-signal-kind.bad.yaml", inside / "a.yaml")
    r = run("validate", "-o", "sarif", "--sarif-root", str(tmp_path / "repo"), str(inside / "a.yaml"))
    log = sarif_valid(json.loads(r.stdout))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "policies/a.yaml", "uriBaseId": "%SRCROOT%"}
    r = run("validate", "-o", "sarif", "--sarif-root", str(tmp_path / "repo" / "policies"),
            "tests/fixtures/bad/017-unknown-signal-kind.bad.yaml")
    log = sarif_valid(json.loads(r.stdout))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": (BAD / "017-unknown-signal-kind.bad.yaml").as_uri()}


def test_sarif_root_is_for_sarif_alone():
    r = run("validate", "-o", "github", "--sarif-root", ".", "policies/")
    assert r.exit_code == 2 and "--sarif-root is for -o sarif, not -o github" in r.output


def test_validate_sarif_of_good_policies_has_no_results():
    r = run("validate", "-o", "sarif", "policies/")
    assert r.exit_code == 0
    assert sarif_valid(json.loads(r.stdout))["runs"][0]["results"] == []


# --- ksctl test -o github|sarif ------------------------------------------------------------------


@pytest.fixture
def failing(tmp_path) -> Path:
    """The example policies with one test that fails (its name holds ":" "," "%") and its line."""
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    test = copy / "tests" / "futures-book.test.yaml"
    text = test.read_text()
    assert "name: a calm book fires nothing" in text and "- at: 40m" in text
    test.write_text(text.replace("name: a calm book fires nothing", 'name: "a calm, book: 100% flat"')
                        .replace("- at: 40m", "- {at: 40m, stage: 2}", 1))
    return copy


def test_test_github_puts_a_failing_case_on_its_line(failing, monkeypatch):
    monkeypatch.chdir(failing.parent)
    r = run("test", "-o", "github", "policies")
    assert r.exit_code == 1
    [(kind, props, message)] = commands(r.output)
    line = next(i for i, x in enumerate((failing / "tests" / "futures-book.test.yaml").read_text().splitlines(), 1)
                if "at: 40m, stage: 2" in x)
    assert (kind, props["file"], props["line"], props["col"]) == (
        "error", "policies/tests/futures-book.test.yaml", str(line), "11")
    assert props["title"] == "FAIL a calm, book: 100% flat"
    assert message.startswith("at 40m: stage: expected 2, got 0\n")
    assert r.output.splitlines()[-1].endswith("86 passed, 1 failed")


def test_test_github_says_not_run_where_the_test_names_its_policy(monkeypatch):
    r = run("test", "-o", "github", "policies/tests/futures-book.test.yaml")
    assert r.exit_code == 1
    [(kind, props, message)] = commands(r.output)
    assert (kind, props["title"], props["file"], props["line"]) == (
        "error", "NOT RUN", "policies/tests/futures-book.test.yaml", "11")
    assert message.startswith('policy "futures-book" is not loaded')


def test_test_sarif_is_valid_and_names_both_outcomes(failing, monkeypatch):
    monkeypatch.chdir(failing.parent)
    r = run("test", "-o", "sarif", "policies", "--sarif-root", ".")
    assert r.exit_code == 1
    log = sarif_valid(json.loads(r.stdout))
    rules = [x["id"] for x in log["runs"][0]["tool"]["driver"]["rules"]]
    assert rules[:2] == ["policytest/failed", "policytest/not-run"]
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["ruleIndex"], result["level"]) == ("policytest/failed", 0, "error")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "policies/tests/futures-book.test.yaml"
    r = run("test", "-o", "sarif", str(failing / "tests" / "futures-book.test.yaml"))
    [result] = sarif_valid(json.loads(r.stdout))["runs"][0]["results"]
    assert (result["ruleId"], result["ruleIndex"]) == ("policytest/not-run", 1)


def test_test_github_of_policies_that_do_not_compile_annotates_their_errors(tmp_path, monkeypatch):
    shutil.copy(BAD / "017-unknown-signal-kind.bad.yaml", tmp_path / "p.yaml")
    monkeypatch.chdir(tmp_path)
    r = run("test", "-o", "github", "p.yaml")
    assert r.exit_code == 1
    [(kind, props, _)] = commands(r.output)
    assert (kind, props["file"], props["line"], props["title"]) == ("error", "p.yaml", "10", "KS101")
    r = run("test", "-o", "sarif", "p.yaml")
    assert r.exit_code == 1
    assert sarif_valid(json.loads(r.stdout))["runs"][0]["results"][0]["ruleId"] == "KS101"


def test_test_github_of_passing_tests_prints_the_tally_alone():
    r = run("test", "-o", "github", "policies/")
    assert r.exit_code == 0 and commands(r.output) == []
    assert r.output.splitlines() == ["8 test file(s) of 18 file(s) read, 31 test(s), 87 check(s): 87 passed, 0 failed"]
