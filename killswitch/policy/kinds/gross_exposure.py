"""The ``gross_exposure`` signal: the scope's notionals summed, over its equity.

``{when: "gross >= 400%"}`` on ``gross: gross_exposure`` fires when the positions' notionals,
longs and shorts alike, add up to four times the scope's equity (``leverage`` reads the same
figure as a plain number).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

Its parameters' model, :class:`~._aggregates.Exposure`, is the one it shares with
``net_exposure``, and it keeps none (``build`` gives None).
"""

from ..registry import GROSS, SignalKind, no_parameters
from ._aggregates import Exposure, over_equity


def aggregates(params: None) -> tuple[str, ...]:
    return (GROSS,)


evaluate = over_equity(lambda agg: agg.gross)  # the notionals summed, over the equity


KIND = SignalKind("gross_exposure", Exposure, position_aggregate=True, build=no_parameters, evaluate=evaluate,
                  aggregates=aggregates)
