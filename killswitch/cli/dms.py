"""``ksctl dms arm / disarm / status``: the runner's dead man's switch, through its API.

A source (a bot; its name is its strategy) armed with a timeout must send heartbeats
(``ksctl heartbeat --source SOURCE`` or ``POST /v1/heartbeat/SOURCE``) at least that often. When it goes
silent the runner cancels the source's open orders and halts trading for the scope named like
it, until the source is armed again or an operator runs ``ksctl unlock``. Thin: parse, call
the runner through :class:`killswitch.client.RunnerClient`, render with
:mod:`killswitch.render.dms`; exit 0 done, 1 refused, 2 usage, 5 the runner unreachable.
"""

from __future__ import annotations

import click

from .apiopts import api_option, change, read, runner_client, token_option
from .common import EXIT_OK, SuggestingGroup, duration_s, output_option

source_option = click.option("--source", required=True, help="The heartbeat source (a bot's strategy name).")


@click.group(cls=SuggestingGroup, epilog="""\b
Examples:
  ksctl dms arm --source strategy-a --timeout 300s
  ksctl dms status
  ksctl dms disarm --source strategy-a
""")
def dms() -> None:
    """Dead man's switch: who must keep sending heartbeats, and the venues' own countdowns."""


@dms.command("arm")
@api_option
@token_option
@source_option
@click.option("--timeout", "timeout", required=True, help="Longest silence allowed, e.g. 300s or 5m.")
@output_option
def arm(api: str, token_env: str, source: str, timeout: str, output: str) -> None:
    """Watch SOURCE: if it sends no heartbeat for --timeout, cancel its orders and halt it.
    Arming again lifts the halt an earlier firing left."""
    seconds = duration_s(timeout, "--timeout")
    client = runner_client(api, token_env)
    change(lambda: client.dms_arm(source, seconds), output)


@dms.command("disarm")
@api_option
@token_option
@source_option
@output_option
def disarm(api: str, token_env: str, source: str, output: str) -> None:
    """Stop watching SOURCE (a halt its firing left stays until ksctl unlock)."""
    client = runner_client(api, token_env)
    change(lambda: client.dms_disarm(source), output)


@dms.command("status")
@api_option
@output_option
def status(api: str, output: str) -> None:
    """Armed sources: time since the last beat, time until it fires; venue countdowns."""
    from ..render.dms import dms_json, dms_text

    answer = read(runner_client(api).dms_status, "dms status", output)
    click.echo(dms_json(answer) if output == "json" else dms_text(answer))
    raise SystemExit(EXIT_OK)
