"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there;
``--coverage``: which rules of each policy the tests reached (:mod:`killswitch.preview.rule_coverage`)."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import click

from .common import (
    EXIT_FINDINGS,
    EXIT_OK,
    ExistingPath,
    accounts_of,
    compile_or_exit_counted,
    max_file_size_option,
    output_formats,
)
from .findings import check_sarif_root, echo_findings, sarif_root_option


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
  ksctl test policies/ -o json | jq .failures
  ksctl test -o github policies/      (each failure an annotation on its line)
  ksctl test policies/ --coverage --threshold 90
  ksctl test policies/ --coverage -o markdown --changed policies/futures-book.yaml
  ksctl test --accounts deploy/accounts.yaml policies/
A test whose policy is not among PATH is not run, and fails the run (exit 1).
With --accounts, the policies are compiled with the accounts of that Accounts document, as
ksctl run and ksctl plan --accounts compile them: a scope that selects none of them (KS218), or
names an account they do not hold (KS104), is an error and no test runs (exit 1).
-o github prints a GitHub Actions workflow command a failure (::error file=F,line=L,col=C,
title=FAIL <test>::message, or title=NOT RUN), then the tally line; -o sarif one SARIF 2.1.0
log (rules policytest/failed, policytest/not-run).
With --threshold, a total rule coverage below N percent fails the run too (exit 1).
""")
@click.argument("paths", nargs=-1, required=True, type=ExistingPath())
@click.option("--accounts", "accounts", default=None, type=ExistingPath(dir_okay=False),
              help="The Accounts document the runner runs with: the policies' scopes are checked on its accounts "
                   "(KS218), beside any Accounts document among the paths, as ksctl run and plan do.")
@max_file_size_option
@output_formats("text", "json", "markdown", "github", "sarif")
@sarif_root_option
@click.option("--coverage", is_flag=True,
              help="Also list, per policy, the triggers, condition branches, stages and actions no test reached "
                   "(not with -o sarif).")
@click.option("--threshold", type=click.FloatRange(0, 100), metavar="N",
              help="With --coverage: exit 1 when the total rule coverage is below N percent.")
@click.option("--changed", "changed", multiple=True, type=click.Path(), metavar="FILE",
              help="With --coverage: list only the policies of these files (a policy's file or its test's); "
                   "the total stays over every policy. Repeatable.")
def test(paths: tuple[str, ...], accounts: Optional[str], max_file_bytes: int, output: str,
         sarif_root: Optional[str], coverage: bool, threshold: Optional[float], changed: tuple[str, ...]) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..preview.policytest import run_tests

    check_sarif_root(output, sarif_root)
    if (threshold is not None or changed) and not coverage:
        raise click.UsageError(f"{'--threshold' if threshold is not None else '--changed'} needs --coverage")
    if coverage and output == "sarif":
        raise click.UsageError("--coverage prints with -o text, json, markdown or github, not -o sarif")
    spec, _ = accounts_of(accounts, max_file_bytes)  # the accounts run with: the scopes are checked on them
    given = spec.accounts if spec is not None else None
    if output in ("github", "sarif"):
        result, files = _compiled(paths, max_file_bytes, output, sarif_root, given)
    else:
        result, files = compile_or_exit_counted(paths, "test", max_file_bytes, given)
    rules = None
    if coverage:
        from ..preview.rule_coverage import RuleCoverage

        rules = RuleCoverage(result)
    report = run_tests(result, rules)
    cov = rules.report() if rules is not None else None
    shown = _changed_policies(result, changed) if changed else None
    tally = _tally(report, files)
    if output in ("github", "sarif"):
        from ..render.findings import from_test_failure

        summary = [tally]
        if cov is not None:
            from ..render.rule_coverage import coverage_text

            summary += coverage_text(cov, threshold, shown)
        echo_findings([from_test_failure(f) for f in report.failures], test_rules(), output, summary, sarif_root)
    elif output == "json":
        doc: dict[str, Any] = {
            "format_version": 1, "ok": report.files > 0 and not report.failures,
            "files": report.files, "files_read": files, "cases": report.cases,
            "checks": report.checks, "passed": report.passed, "failed": report.failed,
            "not_run": report.not_run,
            "failures": [{"file": f.file, "line": f.pos.line if f.pos else None,
                          "col": f.pos.col if f.pos else None, "test": f.test, "ran": f.ran,
                          "message": f.message} for f in report.failures]}
        if cov is not None:
            from ..render.rule_coverage import coverage_json

            doc["coverage"] = coverage_json(cov, threshold, shown)
        click.echo(json.dumps(doc, indent=1))
    elif output == "markdown":
        click.echo("\n".join(_markdown(report, tally)))
        if cov is not None:
            from ..render.rule_coverage import coverage_markdown

            click.echo("\n".join(coverage_markdown(cov, threshold, shown)))
    else:
        for f in report.failures:
            click.echo(f"{_where(f)}: {'FAIL ' + f.test if f.ran else 'NOT RUN'}: {f.message}")
        click.echo(tally)
        if cov is not None:
            from ..render.rule_coverage import coverage_text

            click.echo("\n".join(coverage_text(cov, threshold, shown)))
    if report.files == 0:
        click.echo("ksctl test: no PolicyTest documents found", err=True)
        raise SystemExit(EXIT_FINDINGS)
    if cov is not None and threshold is not None and cov.percent < threshold:
        click.echo(f"ksctl test: rule coverage {cov.percent:.1f}% ({cov.covered}/{cov.total} rules) is below "
                   f"the threshold {threshold:g}%", err=True)
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_FINDINGS if report.failures else EXIT_OK)


def test_rules():
    """The rules ``ksctl test``'s findings can name: its own two, then the diagnostic codes."""
    from ..render.findings import TEST_RULES, diagnostic_rules

    return (*TEST_RULES, *diagnostic_rules())


def _compiled(paths: tuple[str, ...], max_file_bytes: int, output: str, sarif_root: Optional[str], accounts=None):
    """:func:`~killswitch.cli.common.compile_or_exit_counted` for -o github|sarif: policies that
    do not compile have their errors printed in that format (no test can run), and exit 1."""
    from ..render.findings import from_diagnostic
    from .common import compile_paths

    result, files = compile_paths(paths, max_file_bytes=max_file_bytes, accounts=accounts)
    if result.graph is None:
        echo_findings([from_diagnostic(x) for x in result.errors], test_rules(), output,
                      ["ksctl test: the policies have errors; run ksctl validate"], sarif_root)
        raise SystemExit(EXIT_FINDINGS)
    return result, files


def _where(f) -> str:
    return f"{f.file}:{f.pos.line}:{f.pos.col}" if f.pos else f.file


def _tally(report, files: int) -> str:
    tally = f"{report.passed} passed, {report.failed} failed"
    if report.not_run:
        tally += f", {report.not_run} not run"
    return (f"{report.files} test file(s) of {files} file(s) read, {report.cases} test(s), "
            f"{report.checks} check(s): {tally}")


def _markdown(report, tally: str) -> list[str]:
    """The tests' result for a pull-request comment: the tally, and each failure as text verbatim."""
    lines = [f"**Policy tests: {'passed' if report.files and not report.failures else 'failed'}**: " + tally, ""]
    if report.failures:
        lines.append("~~~~text")
        for f in report.failures:
            lines.append(f"{_where(f)}: {'FAIL ' + f.test if f.ran else 'NOT RUN'}: {f.message}")
        lines += ["~~~~", ""]
    return lines


def _changed_policies(result, changed: tuple[str, ...]) -> set[str]:
    """The names of the policies declared in, or tested by, the files ``changed`` (a path that no
    longer exists, a deleted file's, names nothing)."""
    from ..policy.policy_doc import Policy
    from ..policy.policytest_doc import PolicyTest

    wanted = {os.path.realpath(c) for c in changed}
    names: set[str] = set()
    for doc in result.docs:
        if os.path.realpath(doc.file) not in wanted:
            continue
        if isinstance(doc.model, Policy) and doc.name:
            names.add(doc.name)
        elif isinstance(doc.model, PolicyTest):
            names.add(doc.model.spec.policy)
    return names
