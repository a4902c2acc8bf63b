"""The ``open_orders`` signal: how many orders rest open in the scope.

A bot looping on its order placement, or one that stopped cancelling, shows here before it
shows in the positions: ``{open_orders: {}}`` counts every open order the scope instance owns
(conditional ones included, as the snapshot holds them), ``{open_orders: {which: entries}}``
only those that can add exposure (not reduce-only: the orders ``cancel_orders: entries`` would
cancel). A strategy- or symbol-scoped instance counts the orders it owns, as it would cancel
them; an order of unknown strategy belongs to no strategy.

Unknown (``NO_DATA``) when an account of the scope was not fetched: a snapshot holds every open
order or it is incomplete, and counting what arrived could read a runaway book as a quiet one.
"""

from typing import ClassVar, Literal

from ...records import record
from ..expr import ValueType
from ..registry import Reading, SignalInputs, SignalKind, SignalParams


class OpenOrders(SignalParams):
    """Number of open orders the scope owns (``which: entries``: only those that are not reduce-only)."""

    which: Literal["entries", "all"] = "all"
    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)


@record
class OpenOrdersParams:
    """open_orders, compiled: whether only the orders that can add exposure count."""

    entries_only: bool  # count only the orders that can add exposure


def build(p: OpenOrders) -> OpenOrdersParams:
    return OpenOrdersParams(entries_only=p.which == "entries")


def evaluate(params: OpenOrdersParams, inputs: SignalInputs, now: int) -> Reading:
    if not inputs.snapshots:
        return None, "NO_DATA: no account in scope"
    if not inputs.positions_known:
        return None, "NO_DATA: open orders unknown (an account's fetch failed)"
    owns, entries_only = inputs.owns_order, params.entries_only
    count = sum(1 for s in inputs.snapshots for o in s.orders
                if owns(o) and not (entries_only and o.reduce_only))
    return float(count), None


KIND = SignalKind("open_orders", OpenOrders, build=build, evaluate=evaluate)
