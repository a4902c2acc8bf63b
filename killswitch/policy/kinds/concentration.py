"""The ``concentration`` signal: the largest share of the scope's gross notional in one symbol or asset.

``{when: "conc >= 60%"}`` on ``conc: {concentration: {by: base_asset}}`` fires when one base
asset (``BTC`` of ``BTC/USDT:USDT`` and ``BTC/USD:BTC`` alike) holds 60 % of the positions'
notionals; ``by: symbol`` groups by symbol. A scope without exposure reads 0.

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive (as every kind read from the position aggregates).

The notionals per symbol and per base asset are summed only when a concentration is
read (the engine's one pass over the positions, shared by the scope's signals).
"""

from typing import Literal

from ...records import record
from ..registry import GROSS, GROUPS, Reading, SignalInputs, SignalKind, SignalParams
from ._aggregates import UNKNOWN, equity_over


class Concentration(SignalParams):
    """Largest share of gross notional held in one symbol or one base asset."""

    by: Literal["symbol", "base_asset"] = "base_asset"


@record
class ConcentrationParams:
    """concentration, compiled: what the notional is grouped by."""

    by: str  # symbol | base_asset


def build(p: Concentration) -> ConcentrationParams:
    return ConcentrationParams(by=p.by)


def aggregates(params: ConcentrationParams) -> tuple[str, ...]:
    return (GROSS, GROUPS)


def evaluate(params: ConcentrationParams, inputs: SignalInputs, now: int) -> Reading:
    """The largest group's notional over the gross notional (0 without any)."""
    if equity_over(inputs) is None:
        return None, UNKNOWN
    agg = inputs.position_aggregates()
    if agg.gross <= 0:
        return 0.0, None
    groups = agg.by_symbol if params.by == "symbol" else agg.by_base
    assert groups is not None  # computed with the gross: the kind reads both
    return max(groups.values()) / agg.gross, None


KIND = SignalKind("concentration", Concentration, position_aggregate=True, build=build, evaluate=evaluate,
                  aggregates=aggregates)
