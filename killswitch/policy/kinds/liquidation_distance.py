"""The ``liquidation_distance`` signal: how near the scope's nearest position is to liquidation.

``{when: "liq <= 5%"}`` on ``liq: liquidation_distance`` fires when a position's mark is within
5 % of its liquidation price: the smallest ``|mark - liquidation| / mark`` over the positions
that report a liquidation price.

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates), and when no position reports a
liquidation price.

It keeps no parameters (``build`` gives None).
"""

from ..registry import LIQUIDATION, Reading, SignalInputs, SignalKind, SignalParams, no_parameters
from ._aggregates import UNKNOWN, equity_over


class LiquidationDistance(SignalParams):
    """Smallest distance from mark to liquidation price over the positions, as a fraction of the mark."""


def aggregates(params: None) -> tuple[str, ...]:
    return (LIQUIDATION,)


def evaluate(params: None, inputs: SignalInputs, now: int) -> Reading:
    """The nearest liquidation over the positions, as a fraction of the mark."""
    if equity_over(inputs) is None:
        return None, UNKNOWN
    nearest = inputs.position_aggregates().min_liq
    if nearest is None:
        return None, "NO_DATA: no position reports a liquidation price"
    return nearest, None


KIND = SignalKind("liquidation_distance", LiquidationDistance, position_aggregate=True, build=no_parameters,
                  evaluate=evaluate, aggregates=aggregates)
