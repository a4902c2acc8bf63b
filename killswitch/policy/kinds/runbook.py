"""The ``runbook`` action: the template the stage's runbook is rendered from, by the sink (pure)."""

from typing import Annotated

from pydantic import Field, field_validator

from ..fields import template_name
from ..registry import ActionKind, ActionPlanning, Strict


class RunbookAction(Strict):
    """Render the runbook ``template`` (a name under runbooks/) for the on-call engineer."""

    template: Annotated[str, Field(min_length=1)]

    @field_validator("template")
    @classmethod
    def _relative(cls, v: str) -> str:
        return template_name(v)


def build(p: RunbookAction) -> str:
    return p.template


def plan(template: str, planning: ActionPlanning) -> None:
    planning.runbook(template)


KIND = ActionKind("runbook", RunbookAction, short="template", firm=True, build=build, plan=plan)
