"""The ``close_all`` action: every position whole, and on spot the holdings sold.

The kind asks the planner (``close_all``); a stage whose first closing action it is may leave as
its first leg alone (``closes_all``). Pure: no I/O, no clock.
"""

from typing import Any

from ..registry import ActionKind, ActionPlanning, Strict, no_parameters


class CloseAll(Strict):
    """Close every position of the scope in full (and, on spot, sell its holdings outside the stablecoins)."""


def plan(params: Any, planning: ActionPlanning) -> None:
    planning.close_all()


KIND = ActionKind("close_all", CloseAll, closes=True, firm=True, closes_all=True, build=no_parameters, plan=plan)
