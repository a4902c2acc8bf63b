"""The ``notify`` action: a notification through a route, at a severity, which the sinks send (pure)."""

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
