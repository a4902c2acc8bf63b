"""The ``close_positions`` action: in full, the positions the planner selects by every selector (pure)."""

from typing import Annotated, Literal, Optional, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ...records import record
from ..positions import PositionCondition, PositionConditionField, compile_condition
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import RatioField

# the order close_positions takes them in, worst first
RankBy = Literal["risk_score", "loss_on_equity", "loss_on_margin", "loss_on_notional", "liquidation_distance"]


class ClosePositions(Strict):
    """Close in full the positions that pass every selector given; with ``count``, only the
    ``count`` worst of them by ``rank_by`` (default: the risk score)."""

    symbols: list[str] = []
    side: Literal["long", "short", "any"] = "any"
    min_loss: Optional[RatioField] = None
    correlation_group: Optional[str] = None
    where: Optional[PositionConditionField] = None
    count: Optional[Annotated[int, Field(ge=1, le=10_000)]] = None
    rank_by: Optional[RankBy] = None

    @model_validator(mode="after")
    def _some_selector(self) -> Self:
        if (not self.symbols and self.min_loss is None and self.correlation_group is None and self.side == "any"
                and self.where is None and self.count is None):
            raise PydanticCustomError(
                "ks_value", "close_positions selects nothing; give symbols, side, min_loss, correlation_group, "
                "where or count (use close_all to close everything)"
            )
        if self.rank_by is not None and self.count is None:
            raise PydanticCustomError("ks_value", "rank_by orders the positions count picks; give count too")
        return self


@record
class ClosePositionsParams:
    """close_positions, compiled."""

    symbols: tuple[str, ...]
    side: str  # long | short | any
    min_loss: Optional[float]  # a fraction of equity
    correlation_group: Optional[str]
    where: Optional[PositionCondition]
    count: Optional[int]
    rank_by: Optional[str]  # set with count


def build(p: ClosePositions) -> ClosePositionsParams:
    return ClosePositionsParams(symbols=tuple(p.symbols), side=p.side,
                                min_loss=p.min_loss.fraction if p.min_loss is not None else None,
                                correlation_group=p.correlation_group,
                                where=compile_condition(p.where) if p.where is not None else None,
                                count=p.count, rank_by=(p.rank_by or "risk_score") if p.count is not None else None)


def plan(params: ClosePositionsParams, planning: ActionPlanning) -> None:
    planning.close_selected(params.symbols, params.side, params.min_loss, params.correlation_group, params.where,
                            params.count, params.rank_by)


KIND = ActionKind("close_positions", ClosePositions, closes=True, build=build, plan=plan)
