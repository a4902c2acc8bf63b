"""``ksctl dms arm / disarm / status``: the runner's dead man's switch, through its API.

A source (a bot; its name is its strategy) armed with a timeout must send heartbeats
(``ksctl heartbeat SOURCE`` or ``POST /v1/heartbeat/SOURCE``) at least that often. When it goes
silent the runner cancels the source's open orders and halts trading for the scope named like
it, until the source is armed again or an operator runs ``ksctl unlock``. Thin: parse, call,
print; exit 0 done, 1 refused or unreachable, 2 usage.
"""

from __future__ import annotations

import json

import click

from .common import EXIT_FINDINGS, EXIT_OK, output_option
from .ops import _call, _change, _print_dms, api_option, duration_s, token_option

source_option = click.option("--source", required=True, help="The heartbeat source (a bot's strategy name).")


@click.group(epilog="""\b
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
def arm(api: str, token_env: str, source: str, timeout: str) -> None:
    """Watch SOURCE: if it sends no heartbeat for --timeout, cancel its orders and halt it.
    Arming again lifts the halt an earlier firing left."""
    seconds = duration_s(timeout, "--timeout")
    _change(api, "/v1/dms/arm", {"source": source, "timeout_s": seconds}, token_env)


@dms.command("disarm")
@api_option
@token_option
@source_option
def disarm(api: str, token_env: str, source: str) -> None:
    """Stop watching SOURCE (a halt its firing left stays until ksctl unlock)."""
    _change(api, "/v1/dms/disarm", {"source": source}, token_env)


@dms.command("status")
@api_option
@output_option
def status(api: str, output: str) -> None:
    """Armed sources: time since the last beat, time until it fires; venue countdowns."""
    code, body = _call(api, "GET", "/v1/dms")
    if output == "json":
        click.echo(json.dumps(body, indent=1))
        raise SystemExit(EXIT_OK if code == 200 else EXIT_FINDINGS)
    if code != 200 or not isinstance(body, dict):
        click.echo(f"ksctl dms status: {code} {body}", err=True)
        raise SystemExit(EXIT_FINDINGS)
    if not body.get("sources") and not body.get("native"):
        click.echo("no source armed, no venue countdown")
    _print_dms(body)
    raise SystemExit(EXIT_OK)
