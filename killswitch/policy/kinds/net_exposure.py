"""The ``net_exposure`` signal: the scope's signed notionals summed, over its equity.

``{when: "net >= 200%"}`` on ``net: net_exposure`` fires when the longs' notionals less the
shorts' come to twice the scope's equity, on either side (the figure is the sum's magnitude).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

Its parameters' model, :class:`~._aggregates.Exposure`, is the one it shares with
``gross_exposure``, and it keeps none (``build`` gives None).
"""

from ..registry import NET, SignalKind, no_parameters
from ._aggregates import Exposure, over_equity


def aggregates(params: None) -> tuple[str, ...]:
    return (NET,)


evaluate = over_equity(lambda agg: abs(agg.net))  # the signed notionals summed, their magnitude, over the equity


KIND = SignalKind("net_exposure", Exposure, position_aggregate=True, build=no_parameters, evaluate=evaluate,
                  aggregates=aggregates)
