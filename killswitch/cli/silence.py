"""``ksctl silence add|extend|edit`` and ``ksctl ack``: the on-call engineer's "I have it"
(``list`` and ``expire`` are made from their entries in the operations' table: :mod:`.verbs`).

Thin: they parse options and call the runner's API (:class:`killswitch.client.RunnerClient`),
which decides, audits and stores (:mod:`killswitch.runner.silence.silences`); output is rendered by
:mod:`killswitch.render.silences` and :mod:`killswitch.render.ops`. Exit codes: 0 done, 1 refused
(the reason is printed: ``UNKNOWN_LABEL`` with close matches, ...), 2 usage, 5 the runner unreachable.
"""

from __future__ import annotations

import click

from .apiopts import change, runner_client, runner_options
from .common import EXIT_OK, SuggestingGroup, deprecated_option, duration_s, output_option, spelled
from .verbs import attach


@click.group(cls=SuggestingGroup, epilog="""\b
Examples:
  ksctl silence add --match policy=futures-book --match scope=binanceusdm/main \\
      --duration 2h --reason "flatten done, checking residuals"
  ksctl silence add --match 'severity=~"warning|info"' --duration 30m --reason "feed maintenance" --every-scope
  ksctl silence add --match '{policy="futures-book", venue!~"okx|bybit"}' --duration 1h --reason "..."
  ksctl silence add --incident futures-book/binanceusdm/main/L3/e1 --duration 2h --reason "flatten done"
  ksctl silence add --match policy=futures-book --duration 1h --reason "..." --dry-run
  ksctl silence list
  ksctl silence extend --silence 3f2a9c1b7d40 --duration 4h
  ksctl silence edit --silence 3f2a9c1b7d40 --reason "handed to bob"
  ksctl silence expire --silence 3f2a9c1b7d40
Matchers: name=value, name!=value, name=~regex, name!~regex (regular expressions anchored), in
Alertmanager's text: a value may be quoted ("a \\"b\\""), several go in one --match as
{a="b", c=~"d"} (a comma outside quotes parts them), a label a page lacks is "". On the
labels of a page: event, severity, policy, scope, stage, level, venue, account, strategy,
symbol, incident, owner, receiver and the policies' own labels. A value of policy, scope, venue,
account or incident must be one the runner knows (did you mean ...?). add prints what the
silence would hold back now ("affects 2 open incidents, 0 pages") and what its matchers match
of the last day's pages (by event kind, from the audit trail's notification receipts) before it
sends; --dry-run stops there. A silence whose matchers name no policy, scope, venue, account,
strategy, symbol or incident spans every scope: the preview says so, and it is refused
(SILENCE_TOO_BROAD) unless --every-scope confirms it. A silence made from an incident
(--incident) matches that incident alone and ends with it unless extended. A silenced page is
recorded (audit row notification_silenced, killswitch_notifications_total{result="silenced"}),
never sent; it pages again when the silence ends while the stage still holds.
""")
def silence() -> None:
    """Silences: hold back the pages that match, for a while, with who and why."""


@silence.command("add")
@runner_options
@click.option("--match", "matchers", multiple=True, metavar="NAME=VALUE",
              help="A matcher on a page's labels (repeat: every one must match).")
@click.option("--incident", default=None, metavar="ID",
              help="Made from this open incident: matches its pages alone, ends with it unless extended.")
@click.option("--duration", required=True, help="How long, e.g. 2h (at most 30 days).")
@click.option("--reason", "comment", default=None, help="Who handles what, and why: shown with the silence.")
@deprecated_option("--comment", "--reason", "comment_old")
@click.option("--every-scope", is_flag=True,
              help="Confirm a silence whose matchers name no scope: it holds back what it matches on every scope.")
@click.option("--dry-run", is_flag=True, help="Print what it would hold back now, and add nothing.")
@output_option
def add(api, token_env, matchers, incident, duration, comment, comment_old, every_scope, dry_run, output) -> None:
    """Silence the pages every --match matches; the author is your token's identity."""
    from ..render.silences import preview_json, preview_text

    comment = spelled("silence add", "--reason", comment, "--comment", comment_old)
    if not matchers and incident is None:
        raise click.UsageError("give --match NAME=VALUE (repeat) or --incident ID")
    seconds = duration_s(duration, "--duration")
    client = runner_client(api, token_env)
    seen = sent_preview(lambda: client.silence_preview(list(matchers), incident), output, dry_run)
    if seen is not None and (dry_run or output != "json"):
        click.echo(preview_json(seen) if output == "json" else preview_text(seen))
    if dry_run:
        raise SystemExit(EXIT_OK)
    # a refused preview is sent all the same: the runner refuses the silence itself, and audits it
    change(lambda: client.silence_add(list(matchers), seconds, comment, incident, every_scope), output)


@silence.command("extend")
@runner_options
@click.option("--silence", "silence_id", required=True, metavar="ID", help="The silence's id (ksctl silence list).")
@click.option("--duration", required=True, help="It then ends this long from now, e.g. 4h (at most 30 days).")
@output_option
def extend(api, token_env, silence_id, duration, output) -> None:
    """Extend a silence: it ends --duration from now (one made from an incident no longer ends with it)."""
    seconds = duration_s(duration, "--duration")
    client = runner_client(api, token_env)
    change(lambda: client.silence_change(silence_id, duration_s=seconds), output)


@silence.command("edit")
@runner_options
@click.option("--silence", "silence_id", required=True, metavar="ID", help="The silence's id (ksctl silence list).")
@click.option("--reason", "comment", required=True, help="The new comment (who handles what, and why).")
@output_option
def edit(api, token_env, silence_id, comment, output) -> None:
    """Change a silence's comment (audited, with the one it replaces)."""
    client = runner_client(api, token_env)
    change(lambda: client.silence_change(silence_id, comment=comment), output)


def sent_preview(ask, output, dry_run):
    """The runner's preview, or None when it refused the matchers (a dry run prints the refusal
    as ``silence add`` prints one, and exits 1)."""
    from ..render.ops import answer_json, refusal_text
    from .apiopts import answered, refused

    def refusal(e) -> None:
        if dry_run or e.status not in (400, 404, 409):
            refused(e, answer_json(e) if output == "json" else refusal_text(e), role="operator")  # a 401: usage (2)

    return answered(ask, refusal)


attach(silence)  # list, expire


@click.command(epilog="""\b
Examples:
  ksctl ack --policy futures-book --scope binanceusdm/main --reason "on it, flatten done"
  ksctl ack --incident futures-book/binanceusdm/main/L3/e1
Shown in ksctl status, the console and the incident's runbook. It does not stop the pages: to
hold back the repeats of a latched halt, add a silence (ksctl silence add).
""")
@runner_options
@click.option("--incident", default=None, help="The incident's id (its decision id).")
@click.option("--policy", default=None, help="With --scope: the incident that scope is in now.")
@click.option("--scope", default=None)
@click.option("--reason", "comment", default=None, help="A note shown with the acknowledgement.")
@deprecated_option("--comment", "--reason", "comment_old")
@output_option
def ack(api, token_env, incident, policy, scope, comment, comment_old, output) -> None:
    """Acknowledge an open incident: you have it (your token's identity, now)."""
    comment = spelled("ack", "--reason", comment, "--comment", comment_old, required=False) or ""
    if (incident is None) == (policy is None or scope is None) or (incident is not None and (policy or scope)):
        raise click.UsageError("give --incident ID, or --policy and --scope (not both)")
    client = runner_client(api, token_env)
    change(lambda: client.ack(incident, policy, scope, comment), output)
