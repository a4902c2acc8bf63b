"""The ``position_loss`` signal: how much the scope's positions have lost, unrealized.

``{when: "loss >= 2%"}`` on ``loss: position_loss`` fires when the worst losing position has
lost 2 % of the scope's equity. ``of`` is what the loss is measured against: the scope's equity
(``equity``), each position's margin (``margin``), or its notional at the entry price
(``notional``); ``aggregate`` takes the worst position's (``max``) or sums them (``sum``: over
equity, the losses summed; over margin, the ratios summed; over notional, the losses summed over
the losing positions' entry notionals summed).

Unknown (``NO_DATA``) while the scope's positions or equity are unknown or the equity is not
positive; over margin, when losing positions report no margin (none losing: 0); over notional,
when a losing position reports no entry price (the one without it may be the worst).
"""

from typing import ClassVar, Literal

from ...records import record
from ..registry import LOSSES, MARGIN_LOSSES, NOTIONAL_LOSSES, Reading, SignalInputs, SignalKind, SignalParams
from ._aggregates import UNKNOWN, equity_over


class PositionLoss(SignalParams):
    """Unrealized loss of positions as a fraction of equity, of their margin, or of their entry
    notional (``max``: the worst position's; ``sum``: over equity, the losses summed; over margin,
    the ratios summed; over notional, the losses summed over the losing positions' notionals)."""

    of: Literal["equity", "margin", "notional"] = "equity"
    aggregate: Literal["max", "sum"] = "max"
    bounds: ClassVar = (0.0, None)


@record
class PositionLossParams:
    """position_loss, compiled: what the loss is over, and how positions are aggregated."""

    of: str  # equity | margin | notional (entry notional)
    aggregate: str  # max | sum


def build(p: PositionLoss) -> PositionLossParams:
    return PositionLossParams(of=p.of, aggregate=p.aggregate)


def aggregates(params: PositionLossParams) -> tuple[str, ...]:
    """Over margin, the losses too: none losing reads 0 where no margin is reported."""
    if params.of == "equity":
        return (LOSSES,)
    return (LOSSES, MARGIN_LOSSES) if params.of == "margin" else (NOTIONAL_LOSSES,)


def evaluate(params: PositionLossParams, inputs: SignalInputs, now: int) -> Reading:
    """The worst losing position's loss, or the losses summed, over the base ``of`` names."""
    equity = equity_over(inputs)
    if equity is None:
        return None, UNKNOWN
    agg = inputs.position_aggregates()
    worst = params.aggregate == "max"
    if params.of == "equity":
        return (agg.max_loss if worst else agg.sum_loss) / equity, None
    if params.of == "margin":
        if agg.max_margin_loss is None:
            return (0.0, None) if agg.max_loss == 0 else (None, "NO_DATA: losing positions report no margin")
        return (agg.max_margin_loss if worst else agg.sum_margin_loss), None
    missing = agg.no_entry_price
    if missing:
        return None, (f"NO_DATA: {len(missing)} losing position(s) report no entry price "
                      f"({', '.join(sorted(set(missing))[:3])})")
    if worst:
        return agg.max_notional_loss, None
    base = agg.sum_entry_notional
    return (agg.sum_notional_loss / base if base > 0 else 0.0), None


KIND = SignalKind("position_loss", PositionLoss, position_aggregate=True, build=build, evaluate=evaluate,
                  aggregates=aggregates)
