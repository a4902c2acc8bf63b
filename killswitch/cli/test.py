"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, compile_or_exit_counted


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
A test whose policy is not among PATH is not run, and fails the run (exit 1).
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def test(paths: tuple[str, ...]) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..policytest import run_tests

    result, files = compile_or_exit_counted(paths, "test")
    report = run_tests(result)
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
