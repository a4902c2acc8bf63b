"""The ``close_side`` action: close in full every position of one side of the scope.

A book whose longs bleed while its shorts hold (or the other way round) cuts the bleeding side:
``{close_side: losing}`` (or ``{close_side: {side: losing}}``) closes every position of the side
the planner's attribution names as losing — the side whose unrealized PnL declined over the
policy's reference window, when its share of the decline reaches the policy's threshold.
``{close_side: long}`` and ``{close_side: short}`` name the side outright. The closes take the
path of every close of the planner: reduce-only, the whole position, a position below the venue's
minimum a residual, the entry orders of its symbol cancelled first, chunks and order rates as the
policy's ``unwind`` says.

When attribution cannot name one side (both declined, ``MIXED``; or nothing declined over the
window, ``UNKNOWN``), ``losing`` closes nothing and says so in the plan
(``ATTRIBUTION_MIXED``, ``ATTRIBUTION_UNKNOWN``), unless ``on_unknown_side: both`` closes both
sides then: a profitable position is never cut on a guess unless the policy says so.
"""

from typing import Literal

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict


class CloseSide(Strict):
    """Close in full every position of ``side`` (``losing``: the side attribution names)."""

    side: Literal["losing", "long", "short"]
    on_unknown_side: Literal["skip", "both"] = "skip"


@record
class CloseSideParams:
    """close_side, compiled: the side closed, and what an unknown losing side does."""

    side: str  # losing | long | short
    on_unknown_side: str  # skip | both


def build(p: CloseSide) -> CloseSideParams:
    return CloseSideParams(side=p.side, on_unknown_side=p.on_unknown_side)


def plan(params: CloseSideParams, planning: ActionPlanning) -> None:
    attribution = planning.attribution
    side: str = params.side
    if side == "losing":
        if attribution in ("LONG", "SHORT"):
            side = attribution.lower()
        elif params.on_unknown_side == "both":
            side = "any"
        elif attribution == "MIXED":
            planning.skip("ATTRIBUTION_MIXED: close_side skipped; no single losing side")
            return
        else:
            planning.skip("ATTRIBUTION_UNKNOWN: close_side skipped; nothing declined over the reference window")
            return
    for snapshot, position in planning.positions():
        if side == "any" or position.side == side:
            planning.close(snapshot, position, 1.0,
                           f"CLOSE_SIDE: side={position.side} attribution={attribution}")


KIND = ActionKind("close_side", CloseSide, short="side", closes=True, build=build, plan=plan)
