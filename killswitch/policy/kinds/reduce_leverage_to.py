"""The ``reduce_leverage_to`` action: cut the scope's positions until its leverage is the target.

A margin call, a venue raising its requirements, a desk told to halve its risk: the book must come
down to a leverage, not by a guessed share. ``{reduce_leverage_to: 3}`` (or ``{reduce_leverage_to:
{leverage: 3}}``) reads the scope's leverage as the ``leverage`` signal does (gross notional over
equity) and, when it is above 3, cuts every position the scope instance owns by the one fraction
that brings the gross notional to 3 × equity: reduce-only closes of ``1 − 3 / leverage`` of each.
``{reduce_leverage_to: {leverage: 3, side: long}}`` cuts the longs alone, by the share of their
notional the excess is (all of them when that is not enough: the plan says the leverage is still
above the target, ``LEVERAGE_ABOVE_TARGET``).

What it never does: act on a leverage it cannot tell. Without a known, positive equity it plans
nothing and says so (``EQUITY_UNKNOWN``); while the positions are unknown the planner plans the
entry's closes once they are known, as for every close. At or below the target it plans nothing
and says so (``LEVERAGE_WITHIN``). The closes take the path of every close of the planner: the
amount rounded down to the market's step (so the leverage left may be above the target by less
than a step of each position), never above the position, a part below the venue's minimum
skipped, the entry orders of the symbols being cut cancelled first, chunks and order rates as the
policy's ``unwind`` says.
"""

from typing import Literal, Optional

from pydantic import Field

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict


class ReduceLeverageTo(Strict):
    """Cut the scope's positions (of ``side``) by one fraction, reduce-only, down to ``leverage`` (gross / equity)."""

    leverage: float = Field(gt=0, description="The leverage to come down to: gross notional over equity (3 means 3x).")
    side: Literal["long", "short", "any"] = "any"


@record
class ReduceLeverageToParams:
    """reduce_leverage_to, compiled: the leverage aimed at, on which side."""

    leverage: float  # gross notional over equity, above 0
    side: Optional[str]  # long | short; None: both


def build(p: ReduceLeverageTo) -> ReduceLeverageToParams:
    return ReduceLeverageToParams(leverage=p.leverage, side=None if p.side == "any" else p.side)


def plan(params: ReduceLeverageToParams, planning: ActionPlanning) -> None:
    if not planning.positions_known:
        return  # the planner says so, and plans the entry's closes once they are known
    target, side = params.leverage, params.side
    equity = planning.equity
    if equity is None or not equity > 0:
        shown = "unknown" if equity is None else f"{equity:g}"
        planning.skip(f"EQUITY_UNKNOWN: reduce_leverage_to skipped; the scope's equity is {shown}, so its "
                      "leverage cannot be told")
        return
    held = list(planning.positions())
    gross = sum(p.notional for _, p in held)
    leverage = gross / equity
    if not leverage > target:
        planning.skip(f"LEVERAGE_WITHIN: reduce_leverage_to cut nothing; leverage={leverage:.2f} target={target:g}")
        return
    cut = [(s, p) for s, p in held if side is None or p.side == side]
    cuttable = sum(p.notional for _, p in cut)
    excess = gross - target * equity
    fraction = 1.0 if excess >= cuttable else excess / cuttable
    if fraction >= 1.0:
        left = (gross - cuttable) / equity
        planning.skip(f"LEVERAGE_ABOVE_TARGET: closing every {side or 'position'} leaves leverage={left:.2f} "
                      f"above target={target:g}")
    reason = f"REDUCE_LEVERAGE_TO: leverage={leverage:.2f} target={target:g} fraction={fraction:.2%}"
    for snapshot, position in cut:
        planning.close(snapshot, position, fraction, reason)


KIND = ActionKind("reduce_leverage_to", ReduceLeverageTo, short="leverage", closes=True, build=build, plan=plan)
