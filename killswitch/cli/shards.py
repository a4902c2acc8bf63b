"""``ksctl shards ACCOUNTS [POLICIES...]``: which runner holds which accounts and which policies.

Thin: the assignment and the split are :mod:`killswitch.compile.shards`, the output
:mod:`killswitch.render.shards`."""

from __future__ import annotations

import click

from .common import EXIT_FINDINGS, EXIT_OK, ExistingPath, max_file_size_option, output_option


@click.command(epilog="""\b
Examples:
  ksctl shards deploy/accounts.yaml policies/
  ksctl shards -o json deploy/accounts.yaml policies/ | jq '.shards[] | {name, accounts}'
Prints each shard of the accounts document (spec.shards): its schema, its accounts and their
digest, the interval its runner ticks and publishes its facts at (the shortest of its own
policies' and the firm-wide ones'), the policies its runner evaluates (ksctl run --shard NAME),
then the firm-wide policies, whose scopes select accounts of more than one shard.
Exit codes: 0 ok, 1 findings (an account in two shards KS240 or in none KS241, a shard name
given twice KS242, a firm-wide policy the facts cannot serve KS243 or with an interval under the
firm's floor KS244, or any policy error), 2 usage.
""")
@click.argument("accounts", type=ExistingPath(dir_okay=False))
@click.argument("policies", nargs=-1, type=ExistingPath())
@max_file_size_option
@output_option
def shards(accounts: str, policies: tuple[str, ...], max_file_bytes: int, output: str) -> None:
    """Print each shard's accounts and policies, and the firm-wide policies."""
    from ..compile.graph import DecisionGraph
    from ..compile.shards import assign, pace_s, split
    from ..policy.accounts_doc import Accounts
    from ..render.diagnostics import diagnostic_text
    from ..render.shards import shards_doc, shards_json, shards_text
    from ..state.firm import shard_schema
    from .common import compile_paths

    result, _ = compile_paths((accounts, *policies), max_file_bytes=max_file_bytes)
    if result.errors:
        for x in result.errors:
            click.echo(diagnostic_text(x), err=True)
        raise SystemExit(EXIT_FINDINGS)
    docs = [d.model for d in result.docs if isinstance(d.model, Accounts)]
    if len(docs) != 1:
        click.echo(f"ksctl shards: {accounts} and the policies must hold exactly one Accounts document "
                   f"(found {len(docs)})", err=True)
        raise SystemExit(EXIT_FINDINGS)
    spec = docs[0].spec
    if not spec.shards:  # (as data too: a script reads an empty list, not a sentence)
        click.echo(shards_json({"shards": [], "firm": [], "unmatched": []}) if output == "json" else
                   "no shards declared (spec.shards): one runner and its standby hold every account")
        raise SystemExit(EXIT_OK)
    assignment = assign(spec.accounts, spec.shards)
    graph = result.graph or DecisionGraph.build([], None)
    got = split(graph, spec.accounts, assignment)
    doc = shards_doc(spec.accounts, assignment, got, {s.name: shard_schema(s.name) for s in spec.shards},
                     {name: pace_s(graph, got.local.get(name, []), got.firm) for name in assignment})
    click.echo(shards_json(doc) if output == "json" else shards_text(doc))
    raise SystemExit(EXIT_OK)
