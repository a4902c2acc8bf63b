"""``ksctl check-order``: ask a running runner's pre-trade gate (``POST /v1/check-order``, public:
no token) whether an order may be sent now, as a bot would, and print the answer: the lock's or
the limit's reason, and of a position or gross limit what the positions, the resting orders and
the order bring. Thin: it parses options, calls :meth:`killswitch.client.RunnerClient.check_order`
and prints through :func:`killswitch.render.locks.decision_lines`.

Exit codes: 0 allowed, 1 denied (the reason printed), 2 usage, 5 the runner unreachable.
"""

from __future__ import annotations

import json
from typing import Optional

import click

from .apiopts import api_option, read, runner_client
from .common import EXIT_FINDINGS, EXIT_OK, output_option


@click.command(epilog="""\b
Exit codes: 0 allowed, 1 denied, 2 usage, 5 the runner unreachable.
""")
@api_option
@click.option("--account", default=None, help="The account the order goes to (venue/name).")
@click.option("--scope", default=None, help="What the bot names instead of an account: global, a venue, a strategy…; "
              "an account (venue/name) is answered as --account.")
@click.option("--symbol", required=True, help="The market, as the venue's ccxt symbol (BTC/USDT:USDT).")
@click.option("--side", required=True, type=click.Choice(["buy", "sell"]))
@click.option("--amount", required=True, type=float, help="In contracts.")
@click.option("--price", default=None, type=float, help="The limit price (none: a market order).")
@click.option("--strategy", default=None, help="The bot's strategy (its message bucket, a strategy-level scope).")
@click.option("--reduce-only", is_flag=True, help="The order can only reduce its position.")
@click.option("--position-side", default=None, type=click.Choice(["LONG", "SHORT"]),
              help="The hedge leg, on an account in hedge mode.")
@output_option
def check_order(api: str, account: Optional[str], scope: Optional[str], symbol: str, side: str, amount: float,
                price: Optional[float], strategy: Optional[str], reduce_only: bool, position_side: Optional[str],
                output: str) -> None:
    """May this order be sent now? The runner's gate answers it as it answers a bot: the lock
    first, then the policies' pre-trade limits (the position and gross limits counting the
    orders resting at the venue). Nothing is sent, and no message of the strategy's bucket is
    spent on a denied order (an allowed one takes one, as a bot's would). A refusal is not
    counted for ``gate_refusals`` nor in status's VIOLATIONS: it is a question, not a bot's order."""
    from ..client.calls import given
    from ..render.locks import decision_lines

    if (account is None) == (scope is None):
        raise click.UsageError("name one of --account or --scope")
    request = {"symbol": symbol, "side": side, "amount": amount,
               **given(account=account, scope=scope, price=price, strategy=strategy, position_side=position_side,
                       reduce_only=reduce_only or None)}
    client = runner_client(api)
    decision = read(lambda: client.check_order(request, probe=True), "check-order", output)
    if output == "json":
        click.echo(json.dumps(decision.to_json(), indent=2))
    else:
        click.echo("\n".join(decision_lines(decision)))
    raise SystemExit(EXIT_OK if decision.allow else EXIT_FINDINGS)
