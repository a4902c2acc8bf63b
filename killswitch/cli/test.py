"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there."""

from __future__ import annotations

import json

import click

from .common import EXIT_FINDINGS, EXIT_OK, ExistingPath, compile_or_exit_counted, max_file_size_option, output_option


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
  ksctl test policies/ -o json | jq .failures
A test whose policy is not among PATH is not run, and fails the run (exit 1).
""")
@click.argument("paths", nargs=-1, required=True, type=ExistingPath())
@max_file_size_option
@output_option
def test(paths: tuple[str, ...], max_file_bytes: int, output: str) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..preview.policytest import run_tests

    result, files = compile_or_exit_counted(paths, "test", max_file_bytes)
    report = run_tests(result)
    if output == "json":
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
        tally = f"{report.passed} passed, {report.failed} failed"
        if report.not_run:
            tally += f", {report.not_run} not run"
        click.echo(f"{report.files} test file(s) of {files} file(s) read, {report.cases} test(s), "
                   f"{report.checks} check(s): {tally}")
    if report.files == 0:
        click.echo("ksctl test: no PolicyTest documents found", err=True)
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_FINDINGS if report.failures else EXIT_OK)
