"""The ``margin_ratio`` signal: the maintenance margin of the scope's positions over its equity.

``{when: "mr >= 80%"}`` on ``mr: margin_ratio`` fires when the margin the venues require to keep
the scope's positions open has reached 80 % of its equity; at 100 % a cross-margined account is
liquidated (the ratio Binance shows as the account's margin ratio and Bybit as its maintenance
margin rate).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read against the equity), and while any of its positions has no
maintenance margin (its venue does not report one: Bitget, Hyperliquid, a venue without a
dialect): a ratio over the rest would read calmer than the book is, so the trigger's
``on_missing_data`` decides. No positions: 0. On a streamed account the maintenance margins are
the last REST read's (the streams do not carry them; docs/exchanges.md).

It reads the scope's column of maintenance margins (``SignalInputs.position_column``) and
keeps no parameters (``build`` gives None).
"""

from typing import ClassVar

from ..registry import Reading, SignalInputs, SignalKind, SignalParams, no_parameters
from ._aggregates import UNKNOWN, equity_over

SHOWN = 3  # the symbols a reason names of the positions without a maintenance margin


class MarginRatio(SignalParams):
    """Maintenance margin of the positions summed, as a fraction of equity (unknown while a
    position's venue does not report its maintenance margin)."""

    bounds: ClassVar = (0.0, None)


def evaluate(params: None, inputs: SignalInputs, now: int) -> Reading:
    """The positions' maintenance margins summed, over the equity."""
    equity = equity_over(inputs)
    if equity is None:
        return None, UNKNOWN
    margins = inputs.position_column("maintenance_margin")
    if None in margins:
        symbols = inputs.position_column("symbol")
        missing = [s for s, m in zip(symbols, margins) if m is None]
        shown = ", ".join(dict.fromkeys(missing[:SHOWN]))
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        return None, (f"NO_DATA: maintenance margin unknown for {len(missing)} of {len(margins)} positions "
                      f"({shown}{more}): the venue does not report it")
    return sum(margins, 0.0) / equity, None


KIND = SignalKind("margin_ratio", MarginRatio, build=no_parameters, evaluate=evaluate)
