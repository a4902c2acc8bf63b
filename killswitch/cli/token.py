"""``ksctl token``: make API tokens for the tokens document, and check a tokens document.

``ksctl token new --identity alice --roles operator,approver`` draws a token (256 bits from the
operating system), prints it once on stdout for the person it belongs to, and prints on stderr the
entry to add to the tokens document (its SHA-256, never the token). ``ksctl token check FILE``
reads a tokens document as the runner would and lists its identities and roles.
"""

from __future__ import annotations

import json
import secrets

import click

from .common import EXIT_FINDINGS, EXIT_OK, SuggestingGroup, output_option


@click.group(cls=SuggestingGroup)
def token() -> None:
    """API tokens: one per person, with roles (viewer, bot, operator, approver)."""


@token.command("new", epilog="""\b
Example:
  ksctl token new --identity alice --roles operator,approver > alice.token
The token goes to stdout (give it to alice, e.g. as her KS_API_TOKEN); the entry for the tokens
document goes to stderr. The runner reads the document with --api-tokens (the chart: a Secret).
""")
@click.option("--identity", required=True, help="Who the token belongs to (a-z 0-9 . _ @ + -).")
@click.option("--roles", required=True, help="Comma-separated: viewer, bot, operator, approver.")
@output_option
def new(identity: str, roles: str, output: str) -> None:
    """Make a token for one identity. -o json prints the token and its entry as one document on
    stdout (keep it as secret as the token)."""
    from ..face.api.identity import TokensError, normalise_identity, parse_tokens, token_digest

    value = secrets.token_urlsafe(32)
    entry = {"identity": normalise_identity(identity), "roles": [r.strip() for r in roles.split(",") if r.strip()],
             "sha256": token_digest(value)}
    try:  # the same checks the runner makes when it reads the document
        parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [entry]}, "--identity/--roles")
    except TokensError as e:
        raise click.UsageError(str(e).split(": ", 2)[-1]) from None
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "token": value, "entry": entry}, indent=1))
        return
    click.echo(value)
    click.echo(f"  - {{identity: {entry['identity']}, roles: [{', '.join(entry['roles'])}], "
               f"sha256: {entry['sha256']}}}", err=True)


@token.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@output_option
def check(path: str, output: str) -> None:
    """Read a tokens document as the runner would; list its identities and roles."""
    from ..face.api.identity import TokensError, load_tokens

    try:
        tokens = load_tokens(path)
    except TokensError as e:
        click.echo(f"ksctl token check: {e}", err=True)
        raise SystemExit(EXIT_FINDINGS)
    if output == "json":
        click.echo(json.dumps({"format_version": 1, "identities": [
            {"identity": ident.name, "roles": sorted(ident.roles)} for ident in tokens.identities]}, indent=1))
        raise SystemExit(EXIT_OK)
    for ident in tokens.identities:
        click.echo(f"{ident.name}: {', '.join(sorted(ident.roles))}")
    raise SystemExit(EXIT_OK)
