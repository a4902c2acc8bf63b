"""``ksctl test PATH...``: run the PolicyTest files found under PATH against the policies there."""

from __future__ import annotations

import json

import click

from .common import EXIT_FINDINGS, EXIT_OK, compile_or_exit, output_option


@click.command(epilog="""\b
Examples:
  ksctl test policies/
  ksctl test policies/futures-book.yaml policies/tests/futures-book.test.yaml
  ksctl test policies/ -o json | jq .failures
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@output_option
def test(paths: tuple[str, ...], output: str) -> None:
    """Run policy unit tests: input series in, expected stages and actions out."""
    from ..policytest import run_tests

    result = compile_or_exit(paths, "test")
    report = run_tests(result)
    passed = report.checks - len(report.failures)
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "ok": report.files > 0 and not report.failures,
                               "files": report.files, "cases": report.cases, "checks": report.checks,
                               "passed": passed, "failed": len(report.failures),
                               "failures": [{"file": f.file, "line": f.pos.line if f.pos else None,
                                             "col": f.pos.col if f.pos else None, "test": f.test,
                                             "message": f.message} for f in report.failures]}, indent=1))
    else:
        for f in report.failures:
            where = f"{f.file}:{f.pos.line}:{f.pos.col}" if f.pos else f.file
            click.echo(f"{where}: FAIL {f.test}: {f.message}")
        click.echo(f"{report.files} file(s), {report.cases} test(s), {report.checks} check(s): "
                   f"{passed} passed, {len(report.failures)} failed")
    if report.files == 0:
        click.echo("ksctl test: no PolicyTest documents found", err=True)
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_FINDINGS if report.failures else EXIT_OK)
