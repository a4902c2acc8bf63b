"""The ``close_all`` action: every position whole, on spot the holdings sold; it leaves first (pure)."""

from typing import Any

from ..registry import ActionKind, ActionPlanning, Strict, no_parameters


class CloseAll(Strict):
    """Close every position of the scope in full (and, on spot, sell its holdings outside the stablecoins)."""


def plan(params: Any, planning: ActionPlanning) -> None:
    planning.close_all()


KIND = ActionKind("close_all", CloseAll, closes=True, firm=True, closes_all=True, build=no_parameters, plan=plan)
