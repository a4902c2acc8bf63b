"""The ``gross_exposure`` signal: the scope's notionals summed, over its equity.

``{when: "gross >= 400%"}`` on ``gross: gross_exposure`` fires when the positions' notionals,
longs and shorts alike, add up to four times the scope's equity (``leverage`` reads the same
figure as a plain number).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

Its parameters' model and its reading are those it shares with ``net_exposure``
(:func:`~._aggregates.exposure_kind`).
"""

from ..registry import GROSS
from ._aggregates import exposure_kind

KIND = exposure_kind("gross_exposure", GROSS, lambda agg: agg.gross)  # the notionals summed, over the equity
