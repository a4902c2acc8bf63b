"""``ksctl revoke``: the bots' keys made read-only at the venue, through a preview; ``--restore`` lifts it.

``ksctl revoke --scope S --reason R`` asks the runner for the revoke's preview (the accounts the scope
reaches, exactly as typed: a typo is refused with close matches, and each account's permission
now), prints it, and sends the revoke with the preview's id only with ``--yes`` or the scope
typed at the prompt on a terminal; with neither it sends nothing (exit 2). The runner refuses a
revoke whose scope reaches other accounts than the preview showed (``PREVIEW_MISMATCH``). It
owes the revoke, saves it, sends it at once, and says what the venue confirmed; a venue that
refuses is retried by the runner (``REVOKE_FAILED``, paged once) and the revoke stays owed.
``--approvals N``: the distinct approvers its restore needs (1 by default).

``ksctl revoke --scope S --restore --reason R`` is one approval of the restore of that scope's
operator revoke (the approver role: each approver sends their own token); the last approval
owes the restore, which the runner sends at once. A stage's revoke is restored by the stage's
reset (``ksctl reset``), never here (``REVOKED_BY_STAGE``).

An account the scope reaches without the venue's switch (no ``revoke:`` block) is named ``OUT OF
REACH`` in the preview and the answer, and is never owed.

A preview the runner refuses (an unknown scope, no account with the switch, a caller without the
role, an approver who approved already) is not the last word: the revoke or the approval is sent
without one and answers that refusal itself, so that the runner audits it with its author (the
report's *Operator actions*), as a refused lock or reset is. A revoke sent without a preview id
is never done (``PREVIEW_REQUIRED``).

Thin: parse, call :class:`killswitch.client.RunnerClient`, print. Exit codes: 0 done (the revoke
owed and sent, or an approval recorded); 1 refused or not confirmed, or done but an account out of
reach (named); 2 usage (no ``--yes`` and
no terminal to confirm on, a token the runner does not know); 5 the runner unreachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import click

from ..render.ops import change_json
from .apiopts import change, previewed, runner_client, runner_options
from .common import output_option
from .confirm import confirm

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..view import ActionPreview


@click.command(epilog="""\b
Examples:
  ksctl revoke --scope binanceusdm/main --reason "bot ignores the halt"    # preview, then type the scope
  ksctl revoke --scope binanceusdm --reason "venue-wide stop" --approvals 2 --yes
  ksctl revoke --scope binanceusdm/main --restore --reason "bot fixed"     # each approver, own token
A stage's revoke_trading is restored by the stage's reset (ksctl reset), not here.
Exit codes: 0 done, 1 refused or not confirmed (or an account out of reach: no revoke: block),
2 usage.
""")
@runner_options
@click.option("--scope", required=True, help="The scope whose accounts' bots' keys are revoked (exact).")
@click.option("--reason", required=True)
@click.option("--restore", is_flag=True, help="Approve the restore of SCOPE's revoke (the approver role).")
@click.option("--approvals", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Distinct approvers the restore of this revoke needs.")
@click.option("--yes", is_flag=True, help="Send the revoke after printing its preview, without asking.")
@output_option
def revoke(api, token_env, scope, reason, restore, approvals, yes, output) -> None:
    """Revoke the trading permission of the bots' keys at the venue for every account SCOPE
    reaches (previewed first), or with --restore approve lifting it."""
    client = runner_client(api, token_env)
    if restore:
        _restore(client, scope, reason, output, token_env)
    preview = _previewed(lambda: client.preview_revoke(scope))
    if preview is None:  # the revoke answers the refusal itself, audited
        change(lambda: client.revoke(scope, reason, None, approvals), output)
    if output != "json":
        click.echo(preview.reason)
        for line in preview.effects:
            click.echo(f"  {line}")
        if preview.allowed:
            click.echo(f"  its restore will need {approvals} distinct approver(s) (--approvals), each with "
                       f"ksctl revoke --scope {scope} --restore")
    if not yes and output == "json":
        click.echo(change_json(preview))
    confirm("revoke", "a revoke", yes=yes, prompt=f"type the scope to confirm ({scope}) for a revoke of trading at "
            "the venue", word=scope)
    preview_id = preview.preview_id
    change(lambda: client.revoke(scope, reason, preview_id, approvals), output)


def _restore(client, scope: str, reason: str, output: str, token_env: str) -> None:
    """One approval of the restore: what it does (k of N, or the last and what it restores), then sent."""
    ahead = _previewed(lambda: client.preview_restore(scope))
    if ahead is not None and output != "json":  # refused: the approval answers it itself, audited
        click.echo(ahead.reason)
        for line in ahead.effects:
            click.echo(f"  {line}")
    change(lambda: client.restore(scope, reason), output, role="approver")


def _previewed(ask: "Callable[[], ActionPreview]") -> "Optional[ActionPreview]":
    """The runner's preview when it allows the change (:func:`~.apiopts.previewed`), else None."""
    p = previewed(ask)
    return p if p is not None and p.allowed and (p.action != "revoke" or p.preview_id is not None) else None
