"""The ``cancel_losing_entries`` action: cancel the entry orders resting on the positions in loss.

A bot that averages down keeps adding to a position while it loses: its resting bids under a
losing long (its offers over a losing short) are how a bad trade grows. ``cancel_losing_entries``
cancels the open orders the scope instance owns that could add to a position (not reduce-only)
on every symbol where it holds a losing position (unrealized PnL below zero);
``{cancel_losing_entries: long}`` (or ``{cancel_losing_entries: {side: long}}``) those of its
losing longs alone. The orders on symbols in profit, flat or not held stay, and reduce-only
orders (take-profits, stops) always stay: the orders of a symbol are one book, so a hedge-mode
account's entries of both legs of a losing symbol go. The cancels take the path of every cancel
of the planner: one per account, sent before any close, with the entries the stage's closes cancel.

What it never does: cancel on a guess. While the scope's positions are unknown it asks for
nothing (the planner plans the entry's cancels again once they are known); with no losing
position it cancels nothing and says so in the plan (``NO_LOSING_POSITION``): a cancel of no
symbol named would be a cancel of every one.
"""

from typing import Literal, Optional

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict


class CancelLosingEntries(Strict):
    """Cancel the entry orders (not reduce-only) on the symbols of the scope's losing positions (of ``side``)."""

    side: Literal["long", "short", "any"] = "any"


@record
class CancelLosingEntriesParams:
    """cancel_losing_entries, compiled: the side whose entries are cancelled."""

    side: Optional[str]  # long | short; None: both


def build(p: CancelLosingEntries) -> CancelLosingEntriesParams:
    return CancelLosingEntriesParams(side=None if p.side == "any" else p.side)


def plan(params: CancelLosingEntriesParams, planning: ActionPlanning) -> None:
    if not planning.positions_known:
        return
    side = params.side
    losing = sorted({position.symbol for _, position in planning.positions()
                     if position.unrealized_pnl < 0 and (side is None or position.side == side)})
    if not losing:
        planning.skip(f"NO_LOSING_POSITION: cancel_losing_entries cancelled nothing (side={side or 'any'})")
        return
    planning.cancel("entries", losing)


KIND = ActionKind("cancel_losing_entries", CancelLosingEntries, short="side", build=build, plan=plan)
