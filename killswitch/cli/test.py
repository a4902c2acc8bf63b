"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, compile_or_exit


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def test(paths: tuple[str, ...]) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..policytest import run_tests

    result = compile_or_exit(paths, "test")
    report = run_tests(result)
    for f in report.failures:
        where = f"{f.file}:{f.pos.line}:{f.pos.col}" if f.pos else f.file
        click.echo(f"{where}: FAIL {f.test}: {f.message}")
    passed = report.checks - len(report.failures)
    click.echo(f"{report.files} file(s), {report.cases} test(s), {report.checks} check(s): "
               f"{passed} passed, {len(report.failures)} failed")
    if report.files == 0:
        click.echo("ksctl test: no PolicyTest documents found", err=True)
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_FINDINGS if report.failures else EXIT_OK)
