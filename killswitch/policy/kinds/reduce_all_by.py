"""The ``reduce_all_by`` action: cut every position of the scope by the same fraction.

A desk that wants its book smaller without picking winners and losers — gross exposure over its
limit, a volatility spike, a venue it no longer trusts — cuts everything by a share:
``{reduce_all_by: 25%}`` (or ``{reduce_all_by: {fraction: 25%}}``) sends a reduce-only close of
a quarter of every open position the scope instance owns, ``{reduce_all_by: {fraction: 50%,
side: long}}`` halves the longs alone. The closes take the path of every close of the planner:
the amount rounded down to the market's step, never above the position, a part below the venue's
minimum skipped (said in the plan), the entry orders of the symbols being cut cancelled first,
chunks and order rates as the policy's ``unwind`` says. Spot holdings are not sold (that is
``close_all``'s), and 100% closes each position in full.
"""

from typing import Literal, Optional

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict
from ..units import CloseFraction


class ReduceAllBy(Strict):
    """Cut every position of the scope (of ``side``) by ``fraction``: reduce-only, rounded down to the step."""

    fraction: CloseFraction
    side: Literal["long", "short", "any"] = "any"


@record
class ReduceAllByParams:
    """reduce_all_by, compiled: the fraction of each position closed, on which side."""

    fraction: float  # of each position, in (0, 1]
    side: Optional[str]  # long | short; None: both


def build(p: ReduceAllBy) -> ReduceAllByParams:
    return ReduceAllByParams(fraction=p.fraction.fraction, side=None if p.side == "any" else p.side)


def plan(params: ReduceAllByParams, planning: ActionPlanning) -> None:
    fraction, side = params.fraction, params.side
    reason = f"REDUCE_ALL_BY: fraction={fraction * 100:g}%"
    for snapshot, position in planning.positions():
        if side is None or position.side == side:
            planning.close(snapshot, position, fraction, reason)


KIND = ActionKind("reduce_all_by", ReduceAllBy, short="fraction", closes=True, build=build, plan=plan)
