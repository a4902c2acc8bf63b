"""The ``close_all`` action: close every position of the scope in full (on spot, sell its holdings).

Every position whole, and on a spot account every holding but the stablecoins and the quote
currency sold (only for a scope instance that owns whole accounts). The planner knows the
holdings: the kind asks (``close_all``); a stage whose first closing action it is may leave as
its first leg before the rest is planned (``closes_all``), and a firm-wide policy's shards each
close their own accounts.

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the planning and its catalogue entry. Its place in the language's order is where
it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from typing import Any

from ..registry import ActionKind, ActionPlanning, Strict, no_parameters


class CloseAll(Strict):
    """Close every position of the scope in full (and, on spot, sell its holdings outside the stablecoins)."""


def plan(params: Any, planning: ActionPlanning) -> None:
    planning.close_all()


KIND = ActionKind("close_all", CloseAll, closes=True, firm=True, closes_all=True, build=no_parameters, plan=plan)
