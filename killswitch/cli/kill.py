"""``ksctl kill --firm``: one kill for the whole firm, previewed, confirmed, then written once
in the firm's tables for every shard; ``--release``: one approval of its release.

``ksctl kill --firm --reason R`` asks a shard's runner (any: ``--api``) for the kill's preview
— what each shard will lock (``halted``), cancel (its accounts' resting non-reduce-only orders)
and revoke (the bots' keys where the Accounts document has a ``revoke:`` block; the others named
OUT OF REACH), the accounts per shard, the shards not heard and the accounts they leave not
reached — prints it, and sends the kill with the preview's id only with ``--yes`` or ``KILL``
typed at the prompt on a terminal; with neither it sends nothing (exit 2). The runner writes
one durable directive that every shard's runner takes up at its next tick or on the firm
channel's notification (a shard that is down takes it up when it starts); ``ksctl status
--firm`` shows the progress per shard and account.

``ksctl kill --firm --release --reason R`` is one approval of the release (the approver role,
each approver with their own token); the second distinct approver's releases it: every shard
lifts its lock and restores its bots' keys. The same person twice is refused
(``DUPLICATE_APPROVER``).

On a runner of no shard (no ``--shard``) the same command previews and carries out the kill on
that runner's own accounts, and ``--release`` is one approval of its release there
(:mod:`killswitch.firmlink.local`).

Thin: parse, call :class:`killswitch.client.RunnerClient`, print. Exit codes: 0 sent (or an
approval taken); 1 refused or not confirmed; 2 usage (no ``--firm``, no ``--yes`` and no
terminal to confirm on, a token the runner does not know); 5 the runner unreachable.
"""

from __future__ import annotations

import json

import click

from .apiopts import change, read, runner_client, runner_options
from .common import EXIT_FINDINGS, output_option
from .confirm import confirm


@click.command(epilog="""\b
Examples:
  ksctl kill --firm --reason "runaway bots"            # the preview, then type KILL
  ksctl kill --firm --reason "runaway bots" --yes      # the preview, then sent
  ksctl kill --firm --release --reason "bots fixed"    # each of two approvers, own token
Exit codes: 0 sent or approval taken, 1 refused or not confirmed, 2 usage.
""")
@runner_options
@click.option("--firm", is_flag=True,
              help="Every shard of the firm (required: a runner's own scopes are ksctl lock's).")
@click.option("--reason", required=True)
@click.option("--release", is_flag=True, help="Approve the release of the kill in force (the approver role).")
@click.option("--yes", is_flag=True, help="Send the kill after printing its preview, without asking.")
@output_option
def kill(api, token_env, firm, reason, release, yes, output) -> None:
    """Kill trading across the whole firm: every shard locks halted every scope it runs, cancels
    every non-reduce-only order and revokes its bots' keys where the Accounts document allows —
    previewed first; or with --release approve lifting it (two distinct approvers)."""
    if not firm:
        raise click.UsageError("ksctl kill needs --firm (the whole firm); one runner's scope is ksctl lock's")
    client = runner_client(api, token_env)
    if release:
        change(lambda: client.firm_kill_release(reason), output, role="approver")
    preview = read(client.firm_kill_preview, "kill", output, token_env, role="operator")
    if output == "json":
        click.echo(json.dumps(preview, indent=2, sort_keys=True))
    else:
        from ..render.firm_kill import preview_text

        click.echo(preview_text(preview))
    if not preview.get("allowed") or not preview.get("preview_id"):
        raise SystemExit(EXIT_FINDINGS)
    confirm("kill", "a firm-wide kill", yes=yes, prompt="type KILL to kill trading across the firm", word="KILL",
            word_name="KILL", code="KILL_UNCONFIRMED")
    preview_id = str(preview["preview_id"])
    change(lambda: client.firm_kill(reason, preview_id), output)
