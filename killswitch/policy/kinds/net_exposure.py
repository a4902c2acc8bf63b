"""The ``net_exposure`` signal: the scope's signed notionals summed, over its equity.

``{when: "net >= 200%"}`` on ``net: net_exposure`` fires when the longs' notionals less the
shorts' come to twice the scope's equity, on either side (the figure is the sum's magnitude).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

Its parameters' model and its reading are those it shares with ``gross_exposure``
(:func:`~._aggregates.exposure_kind`).
"""

from ..registry import NET
from ._aggregates import exposure_kind

# the signed notionals summed, their magnitude, over the equity
KIND = exposure_kind("net_exposure", NET, lambda agg: abs(agg.net))
