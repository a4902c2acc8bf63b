"""``ksctl silence add|list|expire`` and ``ksctl ack``: the on-call engineer's "I have it".

Thin: they parse options and call the runner's API (:class:`killswitch.client.RunnerClient`),
which decides, audits and stores (:mod:`killswitch.runner.silences`); output is rendered by
:mod:`killswitch.render.silences` and :mod:`killswitch.render.ops`. Exit codes: 0 done, 1 refused
(the reason is printed: ``UNKNOWN_LABEL`` with close matches, ...), 2 usage, 5 the runner unreachable.
"""

from __future__ import annotations

import click

from .apiopts import api_option, change, read, runner_client, token_option
from .common import EXIT_OK, SuggestingGroup, deprecated_argument, deprecated_option, duration_s, output_option, spelled


@click.group(cls=SuggestingGroup, epilog="""\b
Examples:
  ksctl silence add --match policy=futures-book --match scope=binanceusdm/main \\
      --duration 2h --reason "alice: flatten done, checking residuals"
  ksctl silence add --match 'severity=~"warning|info"' --duration 30m --reason "feed maintenance"
  ksctl silence add --match '{policy="futures-book", venue!~"okx|bybit"}' --duration 1h --reason "..."
  ksctl silence list
  ksctl silence expire --silence 3f2a9c1b7d40
Matchers: name=value, name!=value, name=~regex, name!~regex (regular expressions anchored), in
Alertmanager's text: a value may be quoted ("a \\"b\\""), several go in one --match as
{a="b", c=~"d"} (a comma outside quotes parts them), a label a page lacks is "". On the
labels of a page: event, severity, policy, scope, stage, level, venue, account, owner, receiver
and the policies' own labels. A silenced page is recorded (audit row notification_silenced,
killswitch_notifications_total{result="silenced"}), never sent; it pages again when the silence
ends while the stage still holds.
""")
def silence() -> None:
    """Silences: hold back the pages that match, for a while, with who and why."""


@silence.command("add")
@api_option
@token_option
@click.option("--match", "matchers", multiple=True, required=True, metavar="NAME=VALUE",
              help="A matcher on a page's labels (repeat: every one must match).")
@click.option("--duration", required=True, help="How long, e.g. 2h (at most 30 days).")
@click.option("--reason", "comment", default=None, help="Who handles what, and why: shown with the silence.")
@deprecated_option("--comment", "--reason", "comment_old")
@output_option
def add(api, token_env, matchers, duration, comment, comment_old, output) -> None:
    """Silence the pages every --match matches; the author is your token's identity."""
    comment = spelled("silence add", "--reason", comment, "--comment", comment_old)
    seconds = duration_s(duration, "--duration")
    client = runner_client(api, token_env)
    change(lambda: client.silence_add(list(matchers), seconds, comment), output)


@silence.command("list")
@api_option
@token_option
@output_option
def list_(api, token_env, output) -> None:
    """The silences in force (author, comment, ends in) and those ended in the last day."""
    from ..render.silences import silences_json, silences_text

    client = runner_client(api, token_env, required=False)
    got = read(client.silences, "silence list", output, token_env)
    click.echo(silences_json(got) if output == "json" else silences_text(got))
    raise SystemExit(EXIT_OK)


@silence.command("expire")
@api_option
@token_option
@click.option("--silence", "silence_id", default=None, metavar="ID", help="The silence's id (ksctl silence list).")
@deprecated_argument("id_arg", "[ID]")
@output_option
def expire(api, token_env, silence_id, id_arg, output) -> None:
    """End a silence now: what it held back pages again if it still fires. The id as a
    positional (ksctl silence expire ID) is deprecated: use --silence ID."""
    silence_id = spelled("silence expire", "--silence", silence_id, "ID (a positional)", id_arg)
    client = runner_client(api, token_env)
    change(lambda: client.silence_expire(silence_id), output)


@click.command(epilog="""\b
Examples:
  ksctl ack --policy futures-book --scope binanceusdm/main --reason "on it, flatten done"
  ksctl ack --incident futures-book/binanceusdm/main/L3/e1
Shown in ksctl status, the console and the incident's runbook. It does not stop the pages: to
hold back the repeats of a latched halt, add a silence (ksctl silence add).
""")
@api_option
@token_option
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
