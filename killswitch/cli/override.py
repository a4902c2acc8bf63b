"""``ksctl override request``: a temporary, audited exception to one pre-trade limit (``approve``,
``end`` and ``list`` are made from their entries in the operations' table: :mod:`.verbs`).

Thin: they parse options and call the runner's API (:class:`killswitch.client.RunnerClient`),
which decides, audits and stores (:mod:`killswitch.runner.override.overrides`). Exit codes: 0
done, 1 refused (the reason is printed: ``UNKNOWN_LIMIT`` with close matches, ``SELF_APPROVAL``,
``EXPIRY_TOO_LONG``...), 2 usage, 5 the runner unreachable.
"""

from __future__ import annotations

from typing import Any, Optional

import click

from .apiopts import change, runner_client, runner_options
from .common import SuggestingGroup, duration_s, output_option
from .verbs import attach


@click.group(cls=SuggestingGroup, epilog="""\b
Examples:
  ksctl override request --scope binanceusdm/main --limit max_order_notional --raise-to 150k \\
      --reason-code CLIENT_BLOCK_TRADE --reason "block trade agreed with risk" --expires 30m
  ksctl override request --scope binanceusdm/main --strategy mm-btc --waive price_collar \\
      --reason-code VENUE_MARK_STALE --reason "venue mark frozen, ticket 4411" --expires 15m
  ksctl override request --scope binanceusdm/main --order bot7-000123 \\
      --reason-code MANUAL_RELEASE --reason "checked by risk" --expires 5m
  ksctl override approve --override ovr-3f2a9c1b7d     (another person, with the approver role)
  ksctl override list
  ksctl override end --override ovr-3f2a9c1b7d
An override is in force once it holds the approvals the policies ask (limits.override.approvals,
default 2: the requester and another person) until its expiry (required, at most
limits.override.max_duration, default 1h), its end, or a halt of its scope. It never lifts a
lock. check-order answers OVERRIDDEN with who and until when; every step is audited.
""")
def override() -> None:
    """Overrides of the pre-trade limits: raise or waive one, or release one refused order."""


def _amount(text: Optional[str]) -> Optional[float]:
    """``--raise-to`` read by the rule the API reads the console's ``raise_to`` by."""
    if text is None:
        return None
    from ..policy.units import UnitError, parse_limit_value

    try:
        return parse_limit_value(text)
    except UnitError as e:
        raise click.BadParameter(f"{text!r}: {e.short}", param_hint="--raise-to") from None


@override.command("request")
@runner_options
@click.option("--scope", required=True, help="The scope instance whose limit it is (as check-order names it).")
@click.option("--strategy", default=None, help="Only this strategy's orders (default: every strategy of the scope).")
@click.option("--limit", default=None, metavar="NAME", help="The limit raised (with --raise-to).")
@click.option("--raise-to", "raise_to", default=None, metavar="VALUE", help="Its value while in force: 150k, 7%, 20.")
@click.option("--waive", default=None, metavar="NAME", help="The limit not checked while in force.")
@click.option("--order", default=None, metavar="CLIENT_ID", help="Release one refused order, by its client order id.")
@click.option("--reason-code", "reason_code", required=True, help="A code such as CLIENT_BLOCK_TRADE.")
@click.option("--reason", required=True, help="Why, in words: kept in the audit trail.")
@click.option("--expires", required=True, help="How long it may stay in force, e.g. 30m (the policy bounds it).")
@output_option
def request(api, token_env, scope, strategy, limit, raise_to, waive, order, reason_code, reason, expires,
            output) -> None:
    """Ask for an override; your token's identity is its requester (and its first approval)."""
    named = [k for k, v in (("--limit", limit), ("--waive", waive), ("--order", order)) if v is not None]
    if len(named) != 1:
        raise click.UsageError("give one of --limit NAME --raise-to V, --waive NAME or --order CLIENT_ID")
    if (limit is not None) != (raise_to is not None):
        raise click.UsageError("--raise-to goes with --limit, and only with it")
    body: dict[str, Any] = {"scope": scope, "reason_code": reason_code, "reason": reason,
                            "expires_s": duration_s(expires, "--expires")}
    if strategy is not None:
        body["strategy"] = strategy
    if limit is not None:
        body["limit"], body["raise_to"] = limit, _amount(raise_to)
    elif waive is not None:
        body["waive"] = waive
    else:
        body["order"] = order
    client = runner_client(api, token_env)
    change(lambda: client.override("request", body), output, "override request", token_env)


attach(override)  # approve, end, list
