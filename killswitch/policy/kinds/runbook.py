"""The ``runbook`` action: the template the stage's runbook is rendered from, by the sink (pure)."""

from typing import Annotated

from pydantic import AfterValidator, Field

from ..fields import template_name
from ..registry import ActionKind, ActionPlanning, Strict


class RunbookAction(Strict):
    """Render the runbook ``template`` (a name under runbooks/) for the on-call engineer."""

    template: Annotated[str, Field(min_length=1), AfterValidator(template_name)]


def build(p: RunbookAction) -> str:
    return p.template


def plan(template: str, planning: ActionPlanning) -> None:
    planning.runbook(template)


KIND = ActionKind("runbook", RunbookAction, short="template", firm=True, build=build, plan=plan)
