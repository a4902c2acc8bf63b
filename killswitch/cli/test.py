"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there."""

from __future__ import annotations

import json
from typing import Optional

import click

from .common import EXIT_FINDINGS, EXIT_OK, ExistingPath, compile_or_exit_counted, max_file_size_option
from .findings import check_sarif_root, echo_findings, findings_output_option, sarif_root_option


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
  ksctl test policies/ -o json | jq .failures
  ksctl test -o github policies/      (each failure an annotation on its line)
A test whose policy is not among PATH is not run, and fails the run (exit 1).
-o github prints a GitHub Actions workflow command a failure (::error file=F,line=L,col=C,
title=FAIL <test>::message, or title=NOT RUN), then the tally line; -o sarif one SARIF 2.1.0
log (rules policytest/failed, policytest/not-run).
""")
@click.argument("paths", nargs=-1, required=True, type=ExistingPath())
@max_file_size_option
@findings_output_option
@sarif_root_option
def test(paths: tuple[str, ...], max_file_bytes: int, output: str, sarif_root: Optional[str]) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..preview.policytest import run_tests

    check_sarif_root(output, sarif_root)
    if output in ("github", "sarif"):
        result, files = _compiled(paths, max_file_bytes, output, sarif_root)
    else:
        result, files = compile_or_exit_counted(paths, "test", max_file_bytes)
    report = run_tests(result)
    tally = f"{report.passed} passed, {report.failed} failed"
    if report.not_run:
        tally += f", {report.not_run} not run"
    tally = (f"{report.files} test file(s) of {files} file(s) read, {report.cases} test(s), "
             f"{report.checks} check(s): {tally}")
    if output in ("github", "sarif"):
        from ..render.findings import from_test_failure

        echo_findings([from_test_failure(f) for f in report.failures], test_rules(), output, [tally], sarif_root)
    elif output == "json":
        click.echo(json.dumps({"format_version": 1, "ok": report.files > 0 and not report.failures,
                               "files": report.files, "files_read": files, "cases": report.cases,
                               "checks": report.checks, "passed": report.passed, "failed": report.failed,
                               "not_run": report.not_run,
                               "failures": [{"file": f.file, "line": f.pos.line if f.pos else None,
                                             "col": f.pos.col if f.pos else None, "test": f.test, "ran": f.ran,
                                             "message": f.message} for f in report.failures]}, indent=1))
    else:
        for f in report.failures:
            where = f"{f.file}:{f.pos.line}:{f.pos.col}" if f.pos else f.file
            click.echo(f"{where}: {'FAIL ' + f.test if f.ran else 'NOT RUN'}: {f.message}")
        click.echo(tally)
    if report.files == 0:
        click.echo("ksctl test: no PolicyTest documents found", err=True)
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_FINDINGS if report.failures else EXIT_OK)


def test_rules():
    """The rules ``ksctl test``'s findings can name: its own two, then the diagnostic codes."""
    from ..render.findings import TEST_RULES, diagnostic_rules

    return (*TEST_RULES, *diagnostic_rules())


def _compiled(paths: tuple[str, ...], max_file_bytes: int, output: str, sarif_root: Optional[str]):
    """:func:`~killswitch.cli.common.compile_or_exit_counted` for -o github|sarif: policies that
    do not compile have their errors printed in that format (no test can run), and exit 1."""
    from ..render.findings import from_diagnostic
    from .common import compile_paths

    result, files = compile_paths(paths, max_file_bytes=max_file_bytes)
    if result.graph is None:
        echo_findings([from_diagnostic(x) for x in result.errors], test_rules(), output,
                      ["ksctl test: the policies have errors; run ksctl validate"], sarif_root)
        raise SystemExit(EXIT_FINDINGS)
    return result, files
