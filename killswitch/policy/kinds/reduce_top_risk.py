"""The ``reduce_top_risk`` action: part of the positions the planner ranks first by risk (pure)."""

from typing import Annotated, Literal, Optional

from pydantic import Field

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import CloseFraction, RatioField


class ReduceTopRisk(Strict):
    """Cut ``fraction`` of each of the ``count`` positions of ``side`` with the highest risk score
    (``losing``: the side attribution names); close in full one within ``close_within_liquidation``."""

    count: Annotated[int, Field(ge=1, le=10_000)]
    fraction: CloseFraction
    side: Literal["losing", "long", "short", "any"] = "losing"
    close_within_liquidation: Optional[RatioField] = None
    # When attribution is UNKNOWN (nothing declined): skip (cut nothing), or any (rank every
    # position, profitable ones included: the policy's explicit permission).
    on_unknown_side: Literal["skip", "any"] = "skip"


@record
class ReduceTopRiskParams:
    """reduce_top_risk, compiled."""

    count: int
    fraction: float
    side: str
    close_within_liquidation: Optional[float]
    on_unknown_side: str


def build(p: ReduceTopRisk) -> ReduceTopRiskParams:
    within = p.close_within_liquidation
    return ReduceTopRiskParams(count=p.count, fraction=p.fraction.fraction, side=p.side,
                               close_within_liquidation=within.fraction if within is not None else None,
                               on_unknown_side=p.on_unknown_side)


def plan(params: ReduceTopRiskParams, planning: ActionPlanning) -> None:
    planning.close_top_risk(params.count, params.fraction, params.side, params.close_within_liquidation,
                            params.on_unknown_side)


KIND = ActionKind("reduce_top_risk", ReduceTopRisk, closes=True, build=build, plan=plan)
