"""The ``reduce_top_risk`` action: cut part of the positions the risk score ranks first.

``{reduce_top_risk: {count: 3, fraction: 50%}}`` halves the three positions of the side
attribution names as losing (``side: losing``; or ``long``, ``short``, ``any``) with the highest
risk score, closing in full first every position within ``close_within_liquidation`` of its
liquidation price. When attribution names no side (nothing declined over its reference window)
it cuts nothing, unless ``on_unknown_side: any`` ranks every position.

The ranking reads what the planner alone holds (the risk scores of the policy's weights, the
attribution's declines): the kind asks for it (``close_top_risk``), and the closes take the path
of every close (reduce-only, rounded down, never above the position).

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the frozen parameters the graph keeps, the planning and its catalogue entry. Its
place in the language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from typing import Annotated, Literal, Optional

from pydantic import Field, field_validator

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import Ratio, RatioField, fraction_in_range


class ReduceTopRisk(Strict):
    """Cut ``fraction`` of each of the ``count`` positions of ``side`` with the highest risk score
    (``losing``: the side attribution names); close in full one within ``close_within_liquidation``."""

    count: Annotated[int, Field(ge=1, le=10_000)]
    fraction: RatioField
    side: Literal["losing", "long", "short", "any"] = "losing"
    close_within_liquidation: Optional[RatioField] = None
    # When attribution is UNKNOWN (nothing declined): skip (cut nothing), or any (rank every
    # position, profitable ones included: the policy's explicit permission).
    on_unknown_side: Literal["skip", "any"] = "skip"

    @field_validator("fraction")
    @classmethod
    def _fraction_range(cls, v: Ratio) -> Ratio:
        return fraction_in_range(v)


@record
class ReduceTopRiskParams:
    """reduce_top_risk, compiled."""

    count: int
    fraction: float  # of each chosen position, in (0, 1]
    side: str  # losing | long | short | any
    close_within_liquidation: Optional[float]  # close in full a position this close to liquidation
    on_unknown_side: str  # skip | any


def build(p: ReduceTopRisk) -> ReduceTopRiskParams:
    within = p.close_within_liquidation
    return ReduceTopRiskParams(count=p.count, fraction=p.fraction.fraction, side=p.side,
                               close_within_liquidation=within.fraction if within is not None else None,
                               on_unknown_side=p.on_unknown_side)


def plan(params: ReduceTopRiskParams, planning: ActionPlanning) -> None:
    planning.close_top_risk(params.count, params.fraction, params.side, params.close_within_liquidation,
                            params.on_unknown_side)


KIND = ActionKind("reduce_top_risk", ReduceTopRisk, closes=True, build=build, plan=plan)
