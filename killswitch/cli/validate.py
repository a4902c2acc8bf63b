"""``ksctl validate PATH...``: load and compile policies, print every finding."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, compile_paths, output_option


@click.command(epilog="""\b
Examples:
  ksctl validate policies/
  ksctl validate --strict policies/futures-book.yaml policies/routes.yaml
  ksctl validate -o json policies/ | jq '.diagnostics[] | select(.severity=="error")'
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="Treat warnings as findings (exit 1).")
@output_option
def validate(paths: tuple[str, ...], strict: bool, output: str) -> None:
    """Check policy files and directories; report every problem as file:line:col."""
    from ..render.diagnostics import validate_json, validate_text

    result, files = compile_paths(paths)
    render = validate_json if output == "json" else validate_text
    click.echo(render(result, files, strict))
    failed = bool(result.errors) or (strict and bool(result.warnings))
    raise SystemExit(EXIT_FINDINGS if failed else EXIT_OK)
