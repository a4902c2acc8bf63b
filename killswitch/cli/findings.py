"""``-o github`` and ``-o sarif`` of the commands that report findings on policy files
(``ksctl validate``, ``ksctl test``): the options, and the printing."""

from __future__ import annotations

import json
from typing import Optional, Sequence

import click

from .common import output_formats

# text and json first, as every command; then the two a code host reads
findings_output_option = output_formats("text", "json", "github", "sarif")

sarif_root_option = click.option(
    "--sarif-root", "sarif_root", default=None, type=click.Path(exists=True, file_okay=False),
    help="With -o sarif: the directory the files' URIs are relative to (%SRCROOT%; default: the current "
         "directory, as a checkout's root is in CI).")


def check_sarif_root(output: str, sarif_root: Optional[str]) -> None:
    if sarif_root is not None and output != "sarif":
        raise click.UsageError(f"--sarif-root is for -o sarif, not -o {output}")


def echo_findings(findings: Sequence, rules: Sequence, output: str, summary: Sequence[str],
                  sarif_root: Optional[str]) -> None:
    """Print ``findings`` as GitHub workflow commands then ``summary`` (plain lines, no command),
    or as one SARIF log."""
    from .. import DISTRIBUTION
    from ..render.findings.github import workflow_commands
    from ..render.findings.sarif import sarif_log

    if output == "github":
        for line in [*workflow_commands(findings), *summary]:
            click.echo(line)
        return
    from importlib.metadata import version

    click.echo(json.dumps(sarif_log(findings, rules, version(DISTRIBUTION), sarif_root), indent=2,
                          ensure_ascii=False))
