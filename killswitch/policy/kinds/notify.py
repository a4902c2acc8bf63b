"""The ``notify`` action: a notification through a route, at a severity.

``{notify: oncall}`` sends the stage's transition through the ``oncall`` route of the
NotificationRoutes documents at ``critical`` (``severity``: ``info``, ``warning``); the checks
refuse a route no document declares. The kind asks the sinks (``notify``); the plan shows it as
the action's directive.

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the frozen parameters the graph keeps, the planning and its catalogue entry. Its
place in the language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from typing import Annotated, Literal

from pydantic import Field

from ...records import record
from ..registry import ActionKind, ActionPlanning, Strict


class NotifyAction(Strict):
    """Send a notification through ``route`` (a NotificationRoutes route) at ``severity``."""

    route: Annotated[str, Field(min_length=1)]
    severity: Literal["info", "warning", "critical"] = "critical"


@record
class NotifyParams:
    """notify, compiled: the route and the severity."""

    route: str
    severity: str  # info | warning | critical


def build(p: NotifyAction) -> NotifyParams:
    return NotifyParams(p.route, p.severity)


def plan(params: NotifyParams, planning: ActionPlanning) -> None:
    planning.notify(params.route, params.severity)


KIND = ActionKind("notify", NotifyAction, short="route", firm=True, build=build, plan=plan)
