"""The ``cancel_orders`` action: cancel the scope's open orders.

A stage about to close positions, or one that only wants the bots' resting orders gone, cancels
them: ``{cancel_orders: entries}`` (the default, also ``cancel_orders`` alone) cancels the open
orders the scope instance owns that could add to a position — an order that can only reduce one
(a reduce-only take-profit or stop) is kept —, ``{cancel_orders: all}`` every one, the
conditional orders too, and ``{cancel_orders: {which: all, symbols: [BTC/USDT:USDT]}}`` those
of the symbols named. The cancels take the path of every cancel of the planner: one per account,
sent before any close, with the entry orders the stage's closes cancel; only the orders the
scope instance owns are touched (those of other strategies are left, and the plan says how many).
"""

from typing import Literal

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict


class CancelOrders(Strict):
    """Cancel the scope's open orders: ``entries`` those that could add to a position (an order that
    can only reduce one is kept), ``all`` every one; ``symbols``: of these symbols only."""

    which: Literal["entries", "all"] = "entries"
    symbols: list[str] = []


@record
class CancelOrdersParams:
    """cancel_orders, compiled: which orders, of which symbols."""

    which: str  # entries | all
    symbols: tuple[str, ...]  # empty: every symbol


def build(p: CancelOrders) -> CancelOrdersParams:
    return CancelOrdersParams(which=p.which, symbols=tuple(p.symbols))


def plan(params: CancelOrdersParams, planning: ActionPlanning) -> None:
    planning.cancel(params.which, params.symbols)


KIND = ActionKind("cancel_orders", CancelOrders, short="which", firm=True, build=build, plan=plan)
