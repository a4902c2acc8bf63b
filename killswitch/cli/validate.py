"""``ksctl validate PATH...``: load and compile policies, check the runbook templates they use,
print every finding."""

from __future__ import annotations

from typing import Optional

import click

from ..sources import MAX_FILE_BYTES
from .common import EXIT_FINDINGS, EXIT_OK, ExistingPath, batch_collector, max_file_size_option
from .findings import check_sarif_root, echo_findings, findings_output_option, sarif_root_option


def compile_paths(paths: tuple[str, ...], runbooks: Optional[str] = None, allow_empty: bool = False,
                  max_file_bytes: int = MAX_FILE_BYTES):
    """:func:`~killswitch.cli.common.compile_paths` with the runbook templates checked against
    ``runbooks`` (default: the ``runbooks/`` directory found walking up from the paths)."""
    from pathlib import Path

    from ..runbooks.check import TemplateCheck
    from ..runbooks.templates import find_runbooks_dir
    from .common import compile_paths as compile_common

    root = Path(runbooks) if runbooks is not None else find_runbooks_dir(paths)
    return compile_common(paths, TemplateCheck(root), allow_empty, max_file_bytes)


def _with(paths: tuple[str, ...], accounts: Optional[str]) -> tuple[str, ...]:
    """``paths`` and the ``--accounts`` file, unless a path already holds it (read once)."""
    from pathlib import Path

    if accounts is None:
        return paths
    target = Path(accounts).resolve()
    for p in map(Path, paths):
        r = p.resolve()
        if r == target or (r.is_dir() and r in target.parents):
            return paths
    return paths + (accounts,)


@click.command(epilog="""\b
Examples:
  ksctl validate policies/
  ksctl validate --strict policies/futures-book.yaml policies/routes.yaml
  ksctl validate --runbooks deploy/runbooks policies/
  ksctl validate -o json policies/ | jq '.diagnostics[] | select(.severity=="error")'
  ksctl validate --max-file-size 4MiB policies/
  ksctl validate --accounts deploy/accounts.yaml policies/
  ksctl validate --strict -o github policies/      (annotations on a pull request's lines)
  ksctl validate -o sarif policies/ > ksctl.sarif  (SARIF 2.1.0, for code scanning)
Runbook templates are checked in the runbooks/ directory found walking up from the first path
(to the git root), unless --runbooks names one.
Exit codes: 0 ok, 1 findings (errors, or warnings with --strict), 2 usage (a path that does
not exist), 3 internal error.
The accounts of an Accounts document (among the paths, or --accounts) are checked against their
venues' REST weight budget at the policies' interval: KS230 when their polling cannot fit the
per-IP limit (with the arithmetic, and what streams would cost), KS231 (a warning) above 80 %.
An empty input (a directory without .yaml/.yml files, a file without a document) is an error
(KS007, exit 1), so that a job pointed at the wrong path fails; --allow-empty accepts it.
A file over --max-file-size (1MiB unless KS_MAX_FILE_SIZE says otherwise) is an error (KS010)
and is not read.
-o github prints a GitHub Actions workflow command a finding (::error file=F,line=L,col=C,
title=KSnnn::message; a warning is ::warning, with --strict too), then the verdict line; -o sarif
one SARIF 2.1.0 log, its files relative to the current directory or --sarif-root.
""")
@click.argument("paths", nargs=-1, required=True, type=ExistingPath())
@click.option("--accounts", "accounts", default=None, type=ExistingPath(dir_okay=False),
              help="An Accounts document to check with the policies (its accounts' REST weight budget "
                   "at the policies' interval, KS230), when it is not among the paths.")
@click.option("--strict", is_flag=True, help="Treat warnings as findings (exit 1).")
@click.option("--runbooks", "runbooks", default=None, type=click.Path(exists=True, file_okay=False),
              help="Directory of the runbook templates (default: runbooks/ next to the policies).")
@click.option("--allow-empty", is_flag=True,
              help="Accept an empty input (no YAML file, or no document) instead of failing with KS007.")
@max_file_size_option
@findings_output_option
@sarif_root_option
def validate(paths: tuple[str, ...], accounts: Optional[str], strict: bool, runbooks: Optional[str],
             allow_empty: bool, max_file_bytes: int, output: str, sarif_root: Optional[str]) -> None:
    """Check policy files and directories; report every problem as file:line:col."""
    check_sarif_root(output, sarif_root)
    with batch_collector():
        from ..render.diagnostics import summary_lines, validate_json, validate_text
        from .budget import weight_findings

        result, files = compile_paths(_with(paths, accounts), runbooks, allow_empty, max_file_bytes)
        result.diagnostics.extend(weight_findings(result))
        if output in ("text", "json"):
            render = validate_json if output == "json" else validate_text
            click.echo(render(result, files, strict))
        else:
            from ..render.findings import diagnostic_rules, from_diagnostic

            echo_findings([from_diagnostic(x) for x in result.diagnostics], diagnostic_rules(), output,
                          summary_lines(result, files, strict), sarif_root)
    failed = bool(result.errors) or (strict and bool(result.warnings))
    raise SystemExit(EXIT_FINDINGS if failed else EXIT_OK)
